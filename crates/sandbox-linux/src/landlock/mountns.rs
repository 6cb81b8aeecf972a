//! The private mount namespace that covers what Landlock cannot express: protected subpaths
//! inside writable roots become read-only bind mounts, denied paths are masked, and the whole
//! base view outside the writable roots is remounted read-only, which also stops `chmod`,
//! `chown`, `utime`, `setxattr` and `truncate` there (Landlock does not restrict those).
//!
//! [`compile`] is pure; [`Prepared`] (Linux) holds the host facts read before `fork`, and
//! its `apply` step only makes raw syscalls.

use crate::deny_globs::{DenyMatch, MatchKind};
use crate::landlock::private_dev::{self, PrivateDev};
use sandbox_core::index::has_ancestor;
use sandbox_core::{Access, Capability, Degradation, Op, PathKind, ResolvedPolicy};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The POSIX shared-memory directory, replaced by a private tmpfs in the sandbox.
pub const PRIVATE_SHM: &str = "/dev/shm";

/// One step of the mount plan, in execution order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum MountStep {
    /// Bind the writable root onto itself, so it stays writable when the base view is
    /// remounted read-only.
    KeepWritable { path: PathBuf },
    /// Bind a directory on the way from a writable root to a protected path onto itself: a
    /// mount point cannot be renamed, so the protected path's mount cannot be carried away
    /// ([`ResolvedPolicy::rename_pins`]).
    Pin { path: PathBuf },
    /// Remount every mount of the host view read-only, except the writable roots.
    ReadOnlyBase,
    /// Cover `/dev` with the device set bubblewrap's `--dev` gives ([`crate::landlock::private_dev`]).
    PrivateDev(PrivateDev),
    /// Bind a protected path onto itself, read-only.
    Protect { path: PathBuf, reason: String },
    /// A protected path that does not exist: an empty directory is created for the run (the
    /// mount target), bound read-only, and removed afterwards if still empty and unused.
    Placeholder { path: PathBuf, reason: String },
    /// Cover a denied directory with an empty, read-only, mode-000 tmpfs.
    MaskDir { path: PathBuf },
    /// A path below the denied directory `mask` that a deeper rule allows again (`"private"
    /// = "deny"`, `"private/pub" = "write"`): the real path is bound back on top of the mask
    /// (read-only for a read rule, else with the access it had), and the mask becomes mode
    /// 0111 so the command can walk to it but not list the masked directory.
    Reexpose {
        path: PathBuf,
        mask: PathBuf,
        dir: bool,
        read_only: bool,
    },
    /// A symbolic link at a protected name, another user's in a sticky directory, met by root
    /// ([`sandbox_core::PathKind::Link`]): the link itself (not its target) is bound onto
    /// itself read-only, so it cannot be removed, renamed or replaced (`EBUSY`).
    HoldLink { path: PathBuf },
    /// A denied path that does not exist inside a writable root: an empty directory is made
    /// for the run (as for [`MountStep::Placeholder`]) and masked like a denied directory, so
    /// the command can neither create nor read it.
    MaskPlaceholder { path: PathBuf },
    /// A fresh writable tmpfs private to the sandbox (`/dev/shm`, for POSIX semaphores and
    /// shared memory as bubblewrap's `--dev` gives): nothing written there reaches the host.
    PrivateTmpfs { path: PathBuf },
    /// Cover a denied file with an empty, read-only, mode-000 file, so opening it fails with
    /// `EACCES` as under bwrap (with `/dev/null`, reads empty, on kernels before 5.12).
    MaskFile { path: PathBuf },
    /// Cover a host unix socket the policy closes with a read-only `/dev/null`, so a connect
    /// or send to that path finds no socket ([`crate::host::sockets`]). Placed after every
    /// other step.
    MaskSocket { path: PathBuf },
}

/// The mount namespace steps, plus what the namespace cannot enforce either.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MountPlan {
    pub steps: Vec<MountStep>,
    /// Policy features a mount namespace cannot enforce here: (capability key, what).
    #[serde(skip)]
    pub unenforceable: Vec<Degradation>,
}

/// Compiles the mount steps for `policy`; `deny_matches` are its deny globs expanded at launch
/// ([`crate::deny_globs`]), each masked like a deny rule.
pub fn compile(policy: &ResolvedPolicy, deny_matches: &[DenyMatch]) -> MountPlan {
    let mut steps = Vec::new();
    let mut unenforceable = Vec::new();
    for root in &policy.writable_roots {
        steps.push(MountStep::KeepWritable {
            path: root.path.clone(),
        });
    }
    // Writable roots are mount points already.
    let roots: BTreeSet<&Path> = policy
        .writable_roots
        .iter()
        .map(|r| r.path.as_path())
        .collect();
    for path in policy.rename_pins_with(crate::deny_globs::pinned_paths(deny_matches)) {
        if !roots.contains(path.as_path()) {
            steps.push(MountStep::Pin { path });
        }
    }
    steps.push(MountStep::ReadOnlyBase);
    let dev = private_dev::compile(policy);
    if let Some(d) = &dev {
        steps.push(MountStep::PrivateDev(d.clone()));
    }
    // Read-only layers inside writable roots (protected paths, read rules) and the writable
    // roots nested in them, applied shallowest first so the deepest rule decides.
    let mut layers: Vec<MountStep> = Vec::new();
    let protected = policy.protected_paths();
    let carved = carved_read_rules(policy);
    // A protected path that is itself a writable root (a gitdir with its own write rule) is
    // re-granted whole, as the oracle says: resolution leaves it out of the read-only ones, so
    // no read-only layer goes there. (A bind of a read-only mount would stay read-only, so a
    // re-bind on top could not undo it.)
    let read_only = policy
        .read_only_protected_paths()
        .into_iter()
        .map(|p| (p.path.as_path(), p.kind, p.reason.clone()))
        .chain(carved.iter().map(|r| {
            let kind = match std::fs::metadata(&r.path) {
                Ok(m) if m.is_dir() => PathKind::Dir,
                Ok(_) => PathKind::File,
                Err(_) => PathKind::Missing,
            };
            (r.path.as_path(), kind, format!("read rule ({})", r.origin))
        }));
    let read_only: Vec<_> = read_only.collect();
    for (path, kind, _) in &read_only {
        if *kind == PathKind::Link {
            layers.push(MountStep::HoldLink {
                path: path.to_path_buf(),
            });
        }
    }
    let read_only = read_only
        .into_iter()
        .filter(|(_, k, _)| *k != PathKind::Link);
    for (path, kind, reason) in read_only {
        match kind {
            PathKind::Dir | PathKind::File => layers.push(MountStep::Protect {
                path: path.to_path_buf(),
                reason,
            }),
            PathKind::Missing if path.parent().is_some_and(|d| d.is_dir()) => {
                layers.push(MountStep::Placeholder {
                    path: path.to_path_buf(),
                    reason,
                })
            }
            PathKind::Link => {}
            PathKind::Missing => unenforceable.push(Degradation::new(
                Capability::ProtectedCreate,
                format!(
                    "creating the missing protected path {} ({reason}) cannot be blocked: its parent directory does not exist",
                    path.display(),
                ),
            )),
        }
    }
    // Writable roots inside a read-only layer re-grant write there: bind them again on top.
    // (Every protected path counts here, a writable root's own too, which binds that root
    // once more on top of itself: redundant, and kept so the plan stays as it was.)
    let read_only_at: BTreeSet<&Path> = protected
        .iter()
        .map(|p| p.path.as_path())
        .chain(carved.iter().map(|r| r.path.as_path()))
        .collect();
    for root in &policy.writable_roots {
        if has_ancestor(&root.path, false, |p| read_only_at.contains(p)) {
            layers.push(MountStep::KeepWritable {
                path: root.path.clone(),
            });
        }
    }
    layers.sort_by_key(|s| step_path(s).map_or(0, |p| p.components().count()));
    steps.extend(layers);
    let granting: BTreeSet<&Path> = policy
        .rules
        .iter()
        .filter(|r| r.access != Access::Deny)
        .map(|r| r.path.as_path())
        .collect();
    for rule in policy.rules.iter().filter(|r| r.access == Access::Deny) {
        // A deny rule matters only where some shallower rule grants access.
        let granted = has_ancestor(&rule.path, true, |p| granting.contains(p));
        if !granted || hidden_by_mask(&steps, &rule.path) {
            continue;
        }
        match std::fs::metadata(&rule.path) {
            Ok(m) if m.is_dir() => {
                steps.push(MountStep::MaskDir {
                    path: rule.path.clone(),
                });
                steps.extend(reexposed(policy, &rule.path));
            }
            Ok(_) => steps.push(MountStep::MaskFile {
                path: rule.path.clone(),
            }),
            // Nothing to mask; where the path could be created, a placeholder is masked
            // (when its parent exists), else the deny cannot be enforced.
            Err(_) if !policy.allows_canonical(&rule.path, Op::Create) => {
                let parent_writable = rule.path.parent().is_some_and(|parent| {
                    policy
                        .writable_roots
                        .iter()
                        .any(|w| parent.starts_with(&w.path))
                });
                // Only where the command could create it: not below a read-only path.
                let creatable = rule
                    .path
                    .parent()
                    .is_some_and(|d| policy.allows_canonical(d, Op::Write));
                if !creatable {
                    continue;
                }
                if parent_writable && rule.path.parent().is_some_and(|d| d.is_dir()) {
                    steps.push(MountStep::MaskPlaceholder {
                        path: rule.path.clone(),
                    });
                } else if parent_writable {
                    unenforceable.push(Degradation::new(
                        Capability::DenyPaths,
                        format!(
                            "the denied path {} does not exist, and creating it inside a writable root cannot be blocked",
                            rule.path.display()
                        ),
                    ));
                }
            }
            Err(_) => {}
        }
    }
    // Deny-glob matches existing at launch are masked (later files are not: a snapshot).
    for m in deny_matches {
        let (path, is_dir) = match &m.kind {
            MatchKind::File => (m.path.clone(), false),
            MatchKind::Dir => (m.path.clone(), true),
            MatchKind::Symlink { target: Some(t) } => (t.clone(), t.is_dir()),
            MatchKind::Symlink { target: None } => continue,
        };
        if hidden_by_mask(&steps, &path) {
            continue;
        }
        steps.push(if is_dir {
            MountStep::MaskDir { path }
        } else {
            MountStep::MaskFile { path }
        });
    }
    // Masks for host devices the private /dev does not have are not needed (nor possible).
    if let Some(d) = &dev {
        steps.retain(|s| match s {
            MountStep::MaskDir { path }
            | MountStep::MaskFile { path }
            | MountStep::MaskPlaceholder { path } => private_dev::keeps(d, path),
            _ => true,
        });
    }
    if Path::new(PRIVATE_SHM).is_dir()
        && !policy.allows_canonical(Path::new(PRIVATE_SHM), Op::Write)
    {
        steps.push(MountStep::PrivateTmpfs {
            path: PRIVATE_SHM.into(),
        });
    }
    MountPlan {
        steps,
        unenforceable,
    }
}

/// Read rules that carve a read-only path out of a writable one (`"." = "write"`, `"docs" =
/// "read"`): the rule decides for its path, and without it the path would be writable.
/// Landlock cannot take rights away below a writable root; the mount namespace must.
pub fn carved_read_rules(policy: &ResolvedPolicy) -> Vec<&sandbox_core::Rule> {
    let protected: BTreeSet<&Path> = policy
        .protected_paths()
        .into_iter()
        .map(|p| p.path.as_path())
        .collect();
    policy
        .rules
        .iter()
        .filter(|r| {
            r.access == Access::Read
                && !protected.contains(r.path.as_path())
                && !policy.allows_canonical(&r.path, Op::Write)
                && policy
                    .deepest_rule(&r.path)
                    .is_some_and(|d| d.access == Access::Read && d.path == r.path)
                && r.path
                    .parent()
                    .is_some_and(|p| policy.allows_canonical(p, Op::Write))
        })
        .collect()
}

/// The allowed paths directly below the denied directory `denied` (no rule in between) that
/// exist: bound back on top of its mask, so the deepest rule decides as in the oracle.
fn reexposed(policy: &ResolvedPolicy, denied: &Path) -> Vec<MountStep> {
    let below = |p: &Path| p != denied && p.starts_with(denied);
    policy
        .rules
        .iter()
        .filter(|r| r.access != Access::Deny && below(&r.path))
        .filter(|r| {
            policy
                .deepest_rule(&r.path)
                .is_some_and(|d| d.access != Access::Deny)
        })
        .filter(|r| {
            !policy
                .rules
                .iter()
                .any(|o| below(&o.path) && o.path != r.path && r.path.starts_with(&o.path))
        })
        .map(|r| &r.path)
        .collect::<BTreeSet<&PathBuf>>()
        .into_iter()
        .filter_map(|path| {
            let m = std::fs::symlink_metadata(path).ok()?;
            (m.is_dir() || m.is_file()).then(|| MountStep::Reexpose {
                path: path.clone(),
                mask: denied.to_path_buf(),
                dir: m.is_dir(),
                read_only: !policy.allows_canonical(path, Op::Write),
            })
        })
        .collect()
}

/// Whether `path` lies below a directory masked by `steps` and is not bound back over that
/// mask: it is hidden already (and its mount point is gone from the view).
fn hidden_by_mask(steps: &[MountStep], path: &Path) -> bool {
    steps.iter().any(|s| match s {
        MountStep::MaskDir { path: m } if path != m && path.starts_with(m) => {
            !steps.iter().any(|r| {
                matches!(r, MountStep::Reexpose { path: p, mask, .. } if mask == m && path.starts_with(p))
            })
        }
        _ => false,
    })
}

/// The path a layer step is placed at.
fn step_path(s: &MountStep) -> Option<&Path> {
    match s {
        MountStep::KeepWritable { path }
        | MountStep::Pin { path }
        | MountStep::Protect { path, .. }
        | MountStep::Placeholder { path, .. }
        | MountStep::MaskDir { path }
        | MountStep::MaskPlaceholder { path }
        | MountStep::PrivateTmpfs { path }
        | MountStep::MaskFile { path }
        | MountStep::Reexpose { path, .. }
        | MountStep::HoldLink { path }
        | MountStep::MaskSocket { path } => Some(path),
        MountStep::ReadOnlyBase | MountStep::PrivateDev(_) => None,
    }
}

#[cfg(target_os = "linux")]
pub use imp::*;

#[cfg(target_os = "linux")]
mod imp {
    use super::*;
    use crate::sys;
    use std::ffi::{CStr, CString};
    use std::os::unix::ffi::OsStrExt;

    use crate::placeholder::Holds;
    use crate::placeholder_rule::{self, MountOver};
    use sandbox_core::PathKind;
    use std::path::Path;

    /// The uid and gid maps a new user namespace gets: the caller's own ids, nothing else.
    #[derive(Clone, Debug)]
    pub struct IdMaps {
        uid_map: Vec<u8>,
        gid_map: Vec<u8>,
    }

    impl IdMaps {
        /// Maps of the calling process's effective uid and gid onto themselves.
        pub fn current() -> IdMaps {
            // SAFETY: geteuid/getegid have no preconditions.
            let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
            IdMaps {
                uid_map: format!("{uid} {uid} 1\n").into_bytes(),
                gid_map: format!("{gid} {gid} 1\n").into_bytes(),
            }
        }
    }

    /// Unshares the mount namespace (inside a new user namespace when `userns`) and the IPC
    /// namespace, so System V shared memory, semaphores and message queues of host processes
    /// are out of reach. Raw syscalls only; the caller must be single-threaded (a forked child).
    pub(crate) fn enter_namespaces(userns: bool, maps: &IdMaps) -> Result<(), (&'static str, i32)> {
        let flags = if userns {
            libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWIPC
        } else {
            libc::CLONE_NEWNS | libc::CLONE_NEWIPC
        };
        // SAFETY: plain integer argument.
        if unsafe { libc::unshare(flags) } != 0 {
            return Err(("unshare", sys::errno()));
        }
        if userns {
            sys::write_file(c"/proc/self/setgroups", b"deny")
                .map_err(|e| ("write /proc/self/setgroups", e))?;
            sys::write_file(c"/proc/self/uid_map", &maps.uid_map)
                .map_err(|e| ("write /proc/self/uid_map", e))?;
            sys::write_file(c"/proc/self/gid_map", &maps.gid_map)
                .map_err(|e| ("write /proc/self/gid_map", e))?;
        }
        Ok(())
    }

    /// One mount operation with everything allocated up front (`MaskDir::back`: the paths
    /// bound back over the mask, [`MountStep::Reexpose`]).
    #[derive(Debug)]
    enum Op {
        Bind { path: CString },
        RemountRo { path: CString, flags: libc::c_ulong },
        ProtectRo { path: CString, flags: libc::c_ulong },
        MaskDir { path: CString, back: Vec<Reexpose> },
        HoldLink { path: CString },
        PrivateTmpfs { path: CString },
        MaskFile { path: CString },
        PrivateDev(crate::landlock::private_dev::Prepared),
        MaskSocket { path: CString },
    }

    /// A path bound back on top of a directory mask ([`MountStep::Reexpose`]).
    #[derive(Debug)]
    struct Reexpose {
        /// The real path, cloned (with its submounts) before the mask covers it.
        path: CString,
        /// Directories to make inside the mask on the way to `path`, shallowest first.
        dirs: Vec<CString>,
        dir: bool,
        read_only: bool,
        /// The cloned tree's fd between the clone and the attach (allocation-free storage
        /// for the forked child).
        tree: std::sync::atomic::AtomicI32,
    }

    /// A mount plan with host facts filled in (mount points and their locked flags).
    #[derive(Debug)]
    pub struct Prepared {
        userns: bool,
        maps: IdMaps,
        ops: Vec<Op>,
        /// Protected directories this run holds a shared lock on (placeholders among them),
        /// released when the launch is dropped.
        _held: Holds,
    }

    fn cstring(p: &Path) -> CString {
        CString::new(p.as_os_str().as_bytes()).unwrap_or_else(|_| c"/nonexistent".to_owned())
    }

    /// The per-mount flags of the mount holding `path` that a less privileged namespace may
    /// not change (nosuid, nodev, noexec, atime), as `MS_*` bits; `None` if it cannot be read.
    fn locked_flags(path: &CStr) -> Option<libc::c_ulong> {
        // SAFETY: statvfs fills a zeroed stack struct from a NUL-terminated path.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
            return None;
        }
        let f = st.f_flag;
        let mut out = 0;
        for (st_bit, ms_bit) in [
            (libc::ST_NOSUID, libc::MS_NOSUID),
            (libc::ST_NODEV, libc::MS_NODEV),
            (libc::ST_NOEXEC, libc::MS_NOEXEC),
            (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        ] {
            if f & st_bit != 0 {
                out |= ms_bit;
            }
        }
        out |= if f & libc::ST_NOATIME != 0 {
            libc::MS_NOATIME
        } else if f & libc::ST_RELATIME != 0 {
            libc::MS_RELATIME
        } else {
            libc::MS_STRICTATIME
        };
        Some(out)
    }

    /// Mount points of this process's view, from `/proc/self/mountinfo`, in order.
    fn mount_points() -> std::io::Result<Vec<PathBuf>> {
        let text = sys::read_proc("/proc/self/mountinfo", 16 * 1024)?;
        Ok(text
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .map(|m| PathBuf::from(unescape(m)))
            .collect())
    }

    /// Undoes mountinfo's octal escapes (`\040` is a space).
    fn unescape(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\'
                && i + 3 < b.len()
                && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
            {
                out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
                i += 4;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    impl Prepared {
        /// Reads the host facts the plan needs. Runs before `fork`.
        pub fn new(plan: &MountPlan, userns: bool) -> std::io::Result<Prepared> {
            let writable: Vec<&PathBuf> = plan
                .steps
                .iter()
                .filter_map(|s| match s {
                    MountStep::KeepWritable { path } => Some(path),
                    _ => None,
                })
                .collect();
            let mut ops = Vec::new();
            let mut held = Holds::default();
            // The hold rule ([`placeholder_rule::is_held`]) for a step mounting `over` at
            // `path`, given what the plan (or the look just taken) found there. Protected
            // paths and carved read rules belong to a writable root by resolution (a gitdir
            // pointed at from one too): the steps for them pass `in_root = true`; masks are
            // in one when their path lies under a writable root.
            let in_root = |path: &Path| writable.iter().any(|w| path.starts_with(w));
            let holds = placeholder_rule::is_held;
            for step in &plan.steps {
                match step {
                    MountStep::KeepWritable { path } | MountStep::Pin { path } => {
                        // Only an existing directory is bound (a missing one is not mounted
                        // over at all, so the rule is not asked).
                        if path.exists() {
                            if holds(MountOver::Writable, in_root(path), PathKind::Dir) {
                                held.acquire(path)?;
                            }
                            ops.push(Op::Bind {
                                path: cstring(path),
                            })
                        }
                    }
                    MountStep::ReadOnlyBase => {
                        let points = mount_points()?;
                        for (i, mp) in points.iter().enumerate() {
                            // A path mounted over twice is remounted once: a remount by path
                            // acts on the topmost mount there, so a second one does nothing.
                            if points[i + 1..].contains(mp)
                                || writable.iter().any(|w| mp.starts_with(w))
                            {
                                continue;
                            }
                            let path = cstring(mp);
                            // Unreachable mount points are unreachable from inside too.
                            if let Some(flags) = locked_flags(&path) {
                                ops.push(Op::RemountRo { path, flags });
                            }
                        }
                    }
                    MountStep::Placeholder { path, .. } => {
                        // Not held: another user's directory this user cannot open (made
                        // since the plan looked) is mounted over all the same, unlocked.
                        let acquired = holds(MountOver::ReadOnly, true, PathKind::Missing)
                            && held.acquire(path)?;
                        if !acquired && !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                            continue;
                        }
                        let c = cstring(path);
                        let flags = locked_flags(&c).ok_or_else(std::io::Error::last_os_error)?;
                        ops.push(Op::ProtectRo { path: c, flags });
                    }
                    MountStep::Protect { path, .. } => {
                        // A directory may be another run's placeholder: hold it (and make
                        // it again if that run just removed it). Best effort for the rest:
                        // what this user cannot open is no placeholder, nor is a file or FIFO.
                        let now = match std::fs::symlink_metadata(path) {
                            Ok(m) if m.is_dir() => PathKind::Dir,
                            Ok(_) => PathKind::File,
                            Err(_) => PathKind::Missing,
                        };
                        if holds(MountOver::ReadOnly, true, now) {
                            held.acquire(path)?;
                        }
                        let c = cstring(path);
                        let flags = locked_flags(&c).ok_or_else(std::io::Error::last_os_error)?;
                        ops.push(Op::ProtectRo { path: c, flags });
                    }
                    MountStep::PrivateDev(d) => ops.push(Op::PrivateDev(
                        crate::landlock::private_dev::Prepared::new(d)?,
                    )),
                    MountStep::PrivateTmpfs { path } => ops.push(Op::PrivateTmpfs {
                        path: cstring(path),
                    }),
                    MountStep::MaskDir { path } => {
                        // In a writable root it may be another run's placeholder for the same
                        // denied name: held, so that run cannot remove it under the mask.
                        if holds(MountOver::Mask, in_root(path), PathKind::Dir) {
                            held.acquire(path)?;
                        }
                        ops.push(Op::MaskDir {
                            path: cstring(path),
                            back: Vec::new(),
                        })
                    }
                    MountStep::Reexpose {
                        path,
                        mask,
                        dir,
                        read_only,
                    } => {
                        let mask_c = cstring(mask);
                        let Some(Op::MaskDir { back, .. }) = ops
                            .iter_mut()
                            .rev()
                            .find(|op| matches!(op, Op::MaskDir { path, .. } if *path == mask_c))
                        else {
                            continue;
                        };
                        let dirs = path
                            .ancestors()
                            .skip(1)
                            .take_while(|a| a.starts_with(mask) && *a != mask.as_path())
                            .map(cstring)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect();
                        back.push(Reexpose {
                            path: cstring(path),
                            dirs,
                            dir: *dir,
                            read_only: *read_only,
                            tree: std::sync::atomic::AtomicI32::new(-1),
                        });
                    }
                    MountStep::HoldLink { path } => ops.push(Op::HoldLink {
                        path: cstring(path),
                    }),
                    MountStep::MaskPlaceholder { path } => {
                        // Compiled only inside a writable root.
                        let acquired = holds(MountOver::Mask, in_root(path), PathKind::Missing)
                            && held.acquire(path)?;
                        if !acquired && !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                            continue;
                        }
                        ops.push(Op::MaskDir {
                            path: cstring(path),
                            back: Vec::new(),
                        });
                    }
                    MountStep::MaskFile { path } => ops.push(Op::MaskFile {
                        path: cstring(path),
                    }),
                    MountStep::MaskSocket { path } => ops.push(Op::MaskSocket {
                        path: cstring(path),
                    }),
                }
            }
            Ok(Prepared {
                userns,
                maps: IdMaps::current(),
                ops,
                _held: held,
            })
        }

        /// The private tmpfs mount points, which get their Landlock rule only once mounted
        /// (a rule names an inode, and the tmpfs root is a new one).
        pub(crate) fn private_tmpfs(&self) -> impl Iterator<Item = &CStr> {
            self.ops.iter().filter_map(|op| match op {
                Op::PrivateTmpfs { path } => Some(path.as_c_str()),
                _ => None,
            })
        }

        /// The new `devpts` instance, when the private `/dev` is made: its Landlock rule can
        /// only be added once it is mounted.
        pub(crate) fn private_devpts(&self) -> Option<&'static CStr> {
            self.ops
                .iter()
                .any(|op| matches!(op, Op::PrivateDev(_)))
                .then_some(c"/dev/pts")
        }

        /// Enters the namespace and performs the mounts. Raw syscalls only.
        pub(crate) fn apply(&self) -> Result<(), (&'static str, i32)> {
            enter_namespaces(self.userns, &self.maps)?;
            sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE)
                .map_err(|e| ("make / private", e))?;
            let ro = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
            // Made at the first masked file; its fd is close-on-exec.
            let mut mask_mnt: Option<Result<i32, i32>> = None;
            for op in &self.ops {
                match op {
                    Op::Bind { path } => {
                        sys::mount(Some(path), path, None, libc::MS_BIND | libc::MS_REC)
                            .map_err(|e| ("bind writable root", e))?;
                    }
                    Op::RemountRo { path, flags } => {
                        match sys::mount(None, path, None, ro | flags) {
                            Ok(()) => {}
                            // Gone, or hidden from this user: nothing to protect there.
                            Err(libc::ENOENT) | Err(libc::EACCES) => {}
                            Err(e) => return Err(("remount read-only", e)),
                        }
                    }
                    Op::ProtectRo { path, flags } => {
                        sys::mount(Some(path), path, None, libc::MS_BIND | libc::MS_REC)
                            .map_err(|e| ("bind protected path", e))?;
                        sys::mount(None, path, None, ro | flags)
                            .map_err(|e| ("remount protected path read-only", e))?;
                    }
                    Op::PrivateDev(d) => d.apply().map_err(|e| ("mount private /dev", e))?,
                    Op::PrivateTmpfs { path } => {
                        sys::mount(
                            Some(c"tmpfs"),
                            path,
                            Some(c"tmpfs"),
                            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                        )
                        .map_err(|e| ("mount private tmpfs", e))?;
                    }
                    Op::MaskDir { path, back } if back.is_empty() => {
                        sys::mount_with_data(
                            c"tmpfs",
                            path,
                            c"tmpfs",
                            libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                            c"mode=0000",
                        )
                        .map_err(|e| ("mask denied directory", e))?;
                    }
                    Op::MaskDir { path, back } => mask_and_reexpose(path, back)?,
                    Op::HoldLink { path } => {
                        sys::hold_link(path).map_err(|e| ("hold symbolic link", e))?
                    }
                    Op::MaskFile { path } => {
                        let mnt = *mask_mnt.get_or_insert_with(sys::detached_mask_mount);
                        if mnt.and_then(|fd| sys::attach_mask_file(fd, path)).is_err() {
                            // No new mount API here (or a filter refuses it): `/dev/null`
                            // still hides the content; reads are empty instead of refused.
                            sys::mount(Some(c"/dev/null"), path, None, libc::MS_BIND)
                                .map_err(|e| ("mask denied file", e))?;
                        }
                    }
                    Op::MaskSocket { path } => {
                        match sys::mount(Some(c"/dev/null"), path, None, libc::MS_BIND) {
                            // Removed since the scan, or under a masked directory: nothing
                            // to reach there.
                            Ok(()) | Err(libc::ENOENT) => {}
                            Err(e) => return Err(("mask host unix socket", e)),
                        }
                    }
                }
            }
            Ok(())
        }
    }

    /// Masks the directory `path` with a tmpfs and binds each path of `reexpose` back on top:
    /// clones them first (the mask hides them), makes their mount points in the mask, attaches
    /// the clones, then makes the mask read-only. Mode 0111 lets the command walk through the
    /// mask without listing it. Raw syscalls only.
    fn mask_and_reexpose(path: &CStr, reexpose: &[Reexpose]) -> Result<(), (&'static str, i32)> {
        use std::sync::atomic::Ordering::Relaxed;
        for r in reexpose {
            let tree = sys::clone_tree(&r.path, r.read_only)
                .map_err(|e| ("clone a path allowed below a denied directory", e))?;
            r.tree.store(tree, Relaxed);
        }
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        sys::mount_with_data(c"tmpfs", path, c"tmpfs", flags, c"mode=0111")
            .map_err(|e| ("mask denied directory", e))?;
        for r in reexpose {
            for d in &r.dirs {
                sys::mkdir(d, 0o111).map_err(|e| ("make a mount point in a mask", e))?;
            }
            let made = if r.dir {
                sys::mkdir(&r.path, 0o111)
            } else {
                sys::make_file(&r.path)
            };
            made.map_err(|e| ("make a mount point in a mask", e))?;
            sys::attach_tree(r.tree.swap(-1, Relaxed), &r.path)
                .map_err(|e| ("bind an allowed path back over a mask", e))?;
        }
        sys::mount(
            None,
            path,
            None,
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | flags,
        )
        .map_err(|e| ("remount a mask read-only", e))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn unescape_octal() {
            assert_eq!(super::unescape(r"/mnt/a\040b"), "/mnt/a b");
            assert_eq!(super::unescape(r"/x\\"), r"/x\\");
        }
    }
}
