//! The bubblewrap compiler: a pure function from a [`ResolvedPolicy`] (plus the deny-glob
//! matches found at launch and the probed bwrap features) to a [`BwrapPlan`] — the bwrap
//! arguments, the fds bwrap expects, and the host stubs the run may leave behind.
//!
//! The mount table is built so that it agrees with the oracle (`ResolvedPolicy::decide`):
//! every path where a rule, a protected path or a deny-glob match sits gets the mount the oracle
//! asks for there (`--bind` read+write, `--ro-bind` read-only, an empty read-only directory for a
//! protected name that does not exist yet, a mask for denied paths), unless its parent's mount
//! already gives the same answer. Mounts are emitted parents first, so the deepest mount covering
//! a path is the one that decides — the same "deepest rule wins" rule as the oracle, including
//! a writable root nested under a read-only or denied directory re-granting writes.
//! [`BwrapPlan::access`] interprets the mount table back, for tests.
//!
//! Known differences from the oracle, all stricter: a directory matched by a deny glob is masked
//! whole (the oracle denies only the directory itself), and a matched symlink masks its target.
//!
//! Limitations of the bwrap backend (what the plan cannot promise):
//! - Deny globs are expanded when the command starts; a file created, renamed or linked later
//!   to a matching name is not masked (on Linux only; Seatbelt matches at access time).
//! - A missing protected name (`WS/.agents`, `/tmp/.git`) can only be kept from being created by
//!   mounting an empty read-only directory there, and bwrap creates that mount point on the host.
//!   The stub is visible on the host while the command runs and removed afterwards
//!   ([`crate::placeholder`]); if `sandbox` is killed with SIGKILL it stays until a later run
//!   cleans it. Removing such a stub from outside (its owner, `rm -rf /tmp/.git`) detaches
//!   the protecting mount in the running sandbox, because Linux lets `rmdir` of a mount point
//!   in another mount namespace succeed; runs never do it to a stub another run holds.
//! - A masked file is an empty mode-000 file and a masked directory an empty mode-000 tmpfs
//!   (mode 111 when re-granted paths lie below it): the names stay visible, their contents do not.
//! - Every mount is placed at the canonical path; a symlink inside a writable root that points
//!   at a masked path resolves to the mask (stricter), while the link itself can be replaced.

use crate::deny_globs::{DenyMatch, MatchKind};
use crate::placeholder_rule::{self, MountOver};
use sandbox_core::index::prefixes;
use sandbox_core::{
    Capability, Degradation, NetworkPolicy, Op, PathKind, PolicyIndex, ResolvedPolicy,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::ops::Bound;
use std::path::{Path, PathBuf};

/// Flags of the installed bwrap that change the plan, from `bwrap --help` / `--version`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BwrapFeatures {
    /// `bubblewrap 0.8.0` → `0.8.0`; `None` when not probed.
    pub version: Option<String>,
    /// `--perms` (0.5.0+), needed for unreadable masks and read-only empty directories.
    pub perms: bool,
    /// `--cap-drop` (needed when running as root: bwrap keeps capabilities for uid 0).
    pub cap_drop: bool,
    /// `--seccomp FD`.
    pub seccomp: bool,
    /// `--ro-bind-data FD DEST`, used to mask files.
    pub ro_bind_data: bool,
    /// The host lets a user namespace mount a fresh `/proc` (false: the preflight failed).
    pub proc_mount: bool,
}

impl BwrapFeatures {
    /// What a current bwrap offers; used to print a profile without probing, and in tests.
    pub fn assumed() -> BwrapFeatures {
        BwrapFeatures {
            version: None,
            perms: true,
            cap_drop: true,
            seccomp: true,
            ro_bind_data: true,
            proc_mount: true,
        }
    }
}

/// What [`compile`] needs besides the policy.
pub struct BwrapInput<'a> {
    pub policy: &'a ResolvedPolicy,
    /// Deny-glob matches expanded at launch ([`crate::deny_globs::expand`]).
    pub deny_matches: &'a [DenyMatch],
    pub features: &'a BwrapFeatures,
    /// The compiled seccomp program (`struct sock_filter` array), when one is used.
    pub seccomp_program: Option<&'a [u8]>,
    /// What is at a host path (not following a final symlink). Injected so the compiler stays
    /// pure: tests pass a fake filesystem.
    pub kind_of: &'a dyn Fn(&Path) -> PathKind,
    /// Whether a host directory is empty. An empty directory at a protected name is treated
    /// like a missing one (an empty read-only tmpfs, no source needed), so a concurrent run that
    /// removes its own mount-point stub there cannot make this run's bind fail.
    pub is_empty_dir: &'a dyn Fn(&Path) -> bool,
    /// The target of a host symlink (`None`: not a symlink). Used to recreate the top-level
    /// links of merged-/usr systems (`/bin -> usr/bin`) in a restricted read view.
    pub read_link: &'a dyn Fn(&Path) -> Option<PathBuf>,
    /// Accept documented degradations instead of refusing.
    pub best_effort: bool,
}

/// Why a policy cannot be compiled for bwrap on this host.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum BwrapError {
    #[error("{feature} is not supported by the bwrap backend")]
    Unsupported { feature: String, hint: String },
    #[error("the installed bwrap lacks `{flag}`, which this policy needs ({why})")]
    MissingFlag { flag: String, why: String },
}

impl BwrapError {
    /// The way out, for the CLI's hint line.
    pub fn hint(&self) -> String {
        match self {
            BwrapError::Unsupported { hint, .. } => hint.clone(),
            BwrapError::MissingFlag { .. } => {
                "install bubblewrap 0.5 or newer, or use --backend landlock".into()
            }
        }
    }
}

/// One mount operation, in bwrap's terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum Mount {
    /// `--ro-bind P P`: the host path, read-only.
    RoBind { path: PathBuf },
    /// `--bind P P`: the host path, writable.
    Bind { path: PathBuf },
    /// `--tmpfs /` (+ `--remount-ro /` at the end): the empty base of a restricted read view.
    TmpfsRoot,
    /// `--perms MODE --tmpfs P` (+ `--remount-ro P` at the end): an empty read-only directory.
    /// Mode `0555` keeps a missing protected name from being created; `0000` masks a denied
    /// directory, `0111` one that has re-granted paths below it (traversable, not listable).
    EmptyDir { path: PathBuf, mode: u32 },
    /// `--perms 000 --ro-bind-data FD P`: an empty unreadable file over a denied file.
    MaskFile { path: PathBuf, fd: i32 },
    /// `--symlink TARGET P`: a top-level link such as `/lib64 -> usr/lib64` in a restricted view.
    Symlink { path: PathBuf, target: PathBuf },
    /// `--dev /dev`: a fresh minimal /dev (null, zero, full, random, urandom, tty).
    Dev,
    /// `--proc /proc`: a procfs of the new PID namespace.
    Proc,
    /// `--ro-bind /dev/null P`: covers a host unix socket the policy closes, so a connect or
    /// send to that path finds no socket ([`crate::host::sockets`]).
    MaskSocket { path: PathBuf },
}

impl Mount {
    /// The path this mount is placed at.
    pub fn path(&self) -> &Path {
        match self {
            Mount::RoBind { path }
            | Mount::Bind { path }
            | Mount::EmptyDir { path, .. }
            | Mount::MaskFile { path, .. }
            | Mount::Symlink { path, .. }
            | Mount::MaskSocket { path } => path,
            Mount::TmpfsRoot => Path::new("/"),
            Mount::Dev => Path::new("/dev"),
            Mount::Proc => Path::new("/proc"),
        }
    }

    /// What the mount allows at and below its path: `(read, write)`.
    fn grants(&self) -> (bool, bool) {
        match self {
            Mount::Bind { .. } => (true, true),
            Mount::RoBind { .. } => (true, false),
            Mount::EmptyDir { mode, .. } => (mode & 0o444 != 0, false),
            // Paths are canonical, so none lies under a link: the link grants nothing itself.
            Mount::TmpfsRoot
            | Mount::MaskFile { .. }
            | Mount::Symlink { .. }
            | Mount::MaskSocket { .. } => (false, false),
            Mount::Dev | Mount::Proc => (true, true),
        }
    }

    /// What the mount does to its target, for the hold rule ([`placeholder_rule::is_held`]).
    fn over(&self) -> MountOver {
        match self.grants() {
            (_, true) => MountOver::Writable,
            (true, false) => MountOver::ReadOnly,
            (false, false) => MountOver::Mask,
        }
    }

    /// Whether the mount shows host content (so missing paths below it are missing on the host).
    fn host_backed_writable(&self) -> bool {
        matches!(self, Mount::Bind { .. })
    }
}

/// One mount and why it is there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanMount {
    #[serde(flatten)]
    pub mount: Mount,
    pub why: String,
}

/// What an fd passed to bwrap must contain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "content")]
pub enum FdContent {
    /// Empty (read from `/dev/null`): the data of a masked file.
    Empty,
    /// The writable directory (or file) at `path`, opened `O_PATH` following no symbolic
    /// link, for `--bind-fd`: bwrap mounts the very inode the launcher opened, so a
    /// concurrent command that swaps `path` (or a directory on its way) for a link after the
    /// policy's checks cannot make the link's target writable. A link met is refused. Also a
    /// path bound read-only inside a writable bind (`--ro-bind-fd`: a protected `.git`, a
    /// read rule), so a link swapped in there cannot bind its target, such as a denied
    /// directory, over that target's mask.
    Dir { path: PathBuf },
    /// The seccomp BPF program.
    Seccomp {
        instructions: usize,
        #[serde(skip)]
        program: Vec<u8>,
    },
}

/// An fd number bwrap's arguments refer to, and what must be open there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanFd {
    pub fd: i32,
    #[serde(flatten)]
    pub content: FdContent,
}

/// Everything bwrap will be asked to do, as a plain value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BwrapPlan {
    /// `danger-full-access`: bwrap is not used; the command runs as is.
    pub unrestricted: bool,
    /// The mount table, in order (later mounts shadow earlier ones below their path).
    pub mounts: Vec<PlanMount>,
    /// The bwrap arguments, without the program and without `-- CMD…`.
    pub args: Vec<String>,
    /// Fds the arguments refer to; the launcher must open them at exactly these numbers.
    pub fds: Vec<PlanFd>,
    /// Mount points inside a writable bind that may be placeholders: missing ones (bwrap
    /// would create them on the host), empty ones (maybe a concurrent run's) and protected
    /// directories. The launcher holds each for the whole run, making the missing ones, and
    /// removes what it made after the run unless another live run still uses it
    /// ([`crate::placeholder`]).
    pub host_stubs: Vec<PathBuf>,
    pub unshare_net: bool,
    pub proc_mounted: bool,
    /// Documented degradations accepted with `--best-effort`.
    pub degradations: Vec<Degradation>,
}

/// First fd number used for fds passed to bwrap.
pub const FIRST_FD: i32 = 3;

/// Compiles the policy. Fails closed when it needs something this backend or bwrap lacks.
pub fn compile(input: &BwrapInput<'_>) -> Result<BwrapPlan, BwrapError> {
    let policy = input.policy;
    let mut degradations = Vec::new();
    if policy.unrestricted {
        return Ok(BwrapPlan {
            unrestricted: true,
            mounts: Vec::new(),
            args: Vec::new(),
            fds: Vec::new(),
            host_stubs: Vec::new(),
            unshare_net: false,
            proc_mounted: false,
            degradations,
        });
    }
    let unshare_net = match &policy.network {
        NetworkPolicy::Full => false,
        NetworkPolicy::Off | NetworkPolicy::Loopback => true,
        // The only way out is the listener the launcher's egress proxy makes inside the
        // namespace (see BwrapSandbox::run_gated).
        NetworkPolicy::Proxy { .. } => true,
    };
    // bwrap follows a symlink when it mounts, so it cannot hold a link as it is.
    if let Some(p) = held_link(policy) {
        return Err(BwrapError::Unsupported {
            feature: format!(
                "holding the symbolic link {} as it is (another user's link at a protected name in a sticky directory: root could replace it, and bwrap follows links when mounting)",
                p.display()
            ),
            hint: "use --backend landlock (or --backend auto, which chooses it for this policy)"
                .into(),
        });
    }
    // bwrap gives the command a fresh /dev and /proc; a deny rule there would be dropped.
    if let Some(r) = policy.rules.iter().find(|r| {
        r.access == sandbox_core::Access::Deny
            && (r.path.starts_with("/dev") || r.path.starts_with("/proc"))
    }) {
        return Err(BwrapError::Unsupported {
            feature: format!(
                "denying {} (bwrap mounts a fresh /dev and /proc, so the rule would not hold)",
                r.path.display()
            ),
            hint: "use --backend landlock, or drop the rule".into(),
        });
    }
    let f = input.features;
    if !f.perms {
        return Err(BwrapError::MissingFlag {
            flag: "--perms".into(),
            why: "masks and read-only empty directories".into(),
        });
    }
    if !f.cap_drop {
        return Err(BwrapError::MissingFlag {
            flag: "--cap-drop".into(),
            why: "as root, bwrap keeps every capability inside the sandbox, enough to unmount the masks".into(),
        });
    }
    if input.seccomp_program.is_some() && !f.seccomp {
        return Err(BwrapError::MissingFlag {
            flag: "--seccomp".into(),
            why: "the network and syscall filter".into(),
        });
    }

    let mut fds = Vec::new();
    let mut next_fd = FIRST_FD;
    if let Some(program) = input.seccomp_program {
        fds.push(PlanFd {
            fd: next_fd,
            content: FdContent::Seccomp {
                instructions: program.len() / 8,
                program: program.to_vec(),
            },
        });
        next_fd += 1;
    }

    let targets = targets(input);
    let index = policy.index();
    let mut mounts: Vec<PlanMount> = Vec::new();
    let mut covering_index = CoveringIndex::default();
    let mut host_stubs = Vec::new();
    // Read-only binds inside a writable bind, where a concurrent process (another user's, in
    // a sticky /tmp) could swap the path for a link before bwrap mounts it.
    let mut ro_by_fd = BTreeSet::new();
    for t in &targets {
        let covering = covering_index.find(&mounts, &t.path).map(|m| &m.mount);
        let Some(mount) = choose(t, &index, covering, &mut next_fd, input.features, &mut fds)?
        else {
            continue;
        };
        let in_writable = covering.is_some_and(|c| c.host_backed_writable());
        if in_writable {
            if let Mount::RoBind { path } = &mount {
                ro_by_fd.insert(path.clone());
            }
        }
        // Every mount point that may be a placeholder ([`placeholder_rule`]) is held from the
        // one look the target took, never a second: a concurrent run can make (or remove) it
        // between two looks.
        if placeholder_rule::is_held(mount.over(), in_writable, t.kind) {
            if let Some(parent) = t.path.parent().filter(|_| t.kind == PathKind::Missing) {
                host_stubs.extend(missing_components(parent, input.kind_of));
            }
            host_stubs.push(t.path.clone());
        }
        mounts.push(PlanMount {
            mount,
            why: t.why.clone(),
        });
        if t.path == Path::new("/") {
            if matches!(mounts.last().map(|m| &m.mount), Some(Mount::TmpfsRoot)) {
                mounts.extend(top_level_links(&index, input.read_link));
            }
            mounts.push(PlanMount {
                mount: Mount::Dev,
                why: "fresh /dev with the standard devices".into(),
            });
            mounts.push(if f.proc_mount {
                PlanMount {
                    mount: Mount::Proc,
                    why: "procfs of the new PID namespace".into(),
                }
            } else {
                // The base view would otherwise show the host's /proc (every host process).
                PlanMount {
                    mount: Mount::EmptyDir {
                        path: "/proc".into(),
                        mode: 0o555,
                    },
                    why: "hides the host's /proc (this host refuses a new procfs)".into(),
                }
            });
        }
    }
    if !f.proc_mount {
        if !input.best_effort {
            return Err(BwrapError::Unsupported {
                feature: "mounting /proc in the sandbox (this host refuses it, e.g. a container with a masked /proc)".into(),
                hint: "run with --best-effort to start without /proc, or use --backend landlock".into(),
            });
        }
        degradations.push(Degradation::new(
            Capability::PrivateProc,
            "this host refuses to mount /proc in a new namespace: the command runs without /proc",
        ));
    }
    keep_masks_traversable(&mut mounts);
    // bwrap's argv is built as text: a path that is not UTF-8 would name another file.
    let odd = mounts
        .iter()
        .flat_map(|m| match &m.mount {
            Mount::Symlink { path, target } => vec![path.as_path(), target.as_path()],
            other => vec![other.path()],
        })
        .chain(std::iter::once(policy.cwd.as_path()))
        .find(|p| p.to_str().is_none());
    if let Some(p) = odd {
        return Err(BwrapError::Unsupported {
            feature: format!("a path that is not valid UTF-8 ({})", p.to_string_lossy()),
            hint: "use --backend landlock, or rename the path".into(),
        });
    }
    host_stubs.sort();
    host_stubs.dedup();
    for m in &mounts {
        let by_fd = match &m.mount {
            Mount::Bind { path } => Some(path),
            Mount::RoBind { path } if ro_by_fd.contains(path) => Some(path),
            _ => None,
        };
        if let Some(path) = by_fd {
            fds.push(PlanFd {
                fd: next_fd,
                content: FdContent::Dir { path: path.clone() },
            });
            next_fd += 1;
        }
    }

    let args = render_args(&mounts, unshare_net, &policy.cwd, &fds);
    Ok(BwrapPlan {
        unrestricted: false,
        mounts,
        args,
        fds,
        host_stubs,
        unshare_net,
        proc_mounted: f.proc_mount,
        degradations,
    })
}

/// The first protected path that is a link to hold as it is ([`PathKind::Link`]), which only
/// the Landlock backend's mount namespace can do.
pub fn held_link(policy: &ResolvedPolicy) -> Option<&Path> {
    policy
        .protected_paths()
        .into_iter()
        .find(|p| p.kind == PathKind::Link)
        .map(|p| p.path.as_path())
}

/// Covers each host socket in `sockets` (canonical paths, from [`crate::host::sockets::scan`])
/// that `policy` closes with `/dev/null`, after every other mount so nothing mounted later
/// uncovers it. Sockets under a fresh `/dev` or `/proc`, or hidden by the mount table
/// already (not readable in the sandbox), need no cover.
pub fn mask_host_sockets(
    plan: &mut BwrapPlan,
    policy: &ResolvedPolicy,
    sockets: &[PathBuf],
) -> Result<(), BwrapError> {
    if plan.unrestricted {
        return Ok(());
    }
    let before = plan.mounts.len();
    for path in crate::host::sockets::closed(policy, sockets) {
        if crate::host::sockets::under_fresh_mount(&path) || !plan.access(&path).0 {
            continue;
        }
        // bwrap's argv is text: a mangled name would leave the real socket uncovered.
        if path.to_str().is_none() {
            return Err(BwrapError::Unsupported {
                feature: format!(
                    "closing the host unix socket {} (its name is not valid UTF-8)",
                    path.to_string_lossy()
                ),
                hint: "use --backend landlock, or allow unix sockets with --allow-unix-socket"
                    .into(),
            });
        }
        plan.mounts.push(PlanMount {
            mount: Mount::MaskSocket { path },
            why: "host unix socket closed by unix_sockets".into(),
        });
    }
    if plan.mounts.len() != before {
        plan.args = render_args(&plan.mounts, plan.unshare_net, &policy.cwd, &plan.fds);
    }
    Ok(())
}

/// Top-level directories that merged-/usr systems make symlinks (`/bin -> usr/bin`); the
/// dynamic loader (`/lib64/ld-linux-x86-64.so.2`) and `#!/bin/sh` need them.
const TOP_LEVEL_LINKS: [&str; 6] = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/// A masked directory with mounts below it must stay traversable: mode 0 becomes 0111.
fn keep_masks_traversable(mounts: &mut [PlanMount]) {
    let paths: BTreeSet<PathBuf> = mounts.iter().map(|m| m.mount.path().into()).collect();
    for m in mounts.iter_mut() {
        if let Mount::EmptyDir { path, mode } = &mut m.mount {
            if *mode == 0 && has_path_below(&paths, path) {
                *mode = 0o111;
            }
        }
    }
}

/// Whether some path of `paths` lies strictly below `path`. `Path` orders by components, so
/// the paths below `path` come right after it: only its successor needs a look.
fn has_path_below(paths: &BTreeSet<PathBuf>, path: &Path) -> bool {
    paths
        .range::<Path, _>((Bound::Excluded(path), Bound::Unbounded))
        .next()
        .is_some_and(|p| p.starts_with(path))
}

/// `--symlink` entries recreating the host's top-level links whose target is readable.
fn top_level_links(
    policy: &PolicyIndex<'_>,
    read_link: &dyn Fn(&Path) -> Option<PathBuf>,
) -> Vec<PlanMount> {
    TOP_LEVEL_LINKS
        .iter()
        .filter_map(|p| {
            let path = Path::new(p);
            let target = read_link(path)?;
            let abs = sandbox_core::resolve::normalize(&Path::new("/").join(&target));
            policy.allows_canonical(&abs, Op::Read).then(|| PlanMount {
                mount: Mount::Symlink {
                    path: path.to_path_buf(),
                    target,
                },
                why: format!("host link {p} -> {}", abs.display()),
            })
        })
        .collect()
}

/// A path where the mount table must give a specific answer.
struct Target {
    path: PathBuf,
    kind: PathKind,
    /// A protected name that is an empty directory (maybe another run's stub).
    empty_protected: bool,
    /// Masked because a deny glob matched it (or a matched link's target).
    glob_masked: bool,
    /// On the way from a writable root to a protected path: must be a mount point of its
    /// own so it cannot be renamed ([`sandbox_core::ResolvedPolicy::rename_pins`]).
    pin: bool,
    why: String,
}

/// `/dev` and `/proc` get fresh mounts of their own; rules there are not bind-mounted.
fn special(p: &Path) -> bool {
    p == Path::new("/dev") || p.starts_with("/proc")
}

/// Every path where a rule, a protected path or a deny match sits, parents first.
fn targets(input: &BwrapInput<'_>) -> Vec<Target> {
    let policy = input.policy;
    let mut by_path: BTreeMap<PathBuf, Target> = BTreeMap::new();
    let mut add = |path: &Path, why: String, glob_masked: bool| {
        if special(path) && path != Path::new("/") {
            return;
        }
        let e = by_path.entry(path.to_path_buf()).or_insert_with(|| Target {
            path: path.to_path_buf(),
            kind: (input.kind_of)(path),
            empty_protected: false,
            glob_masked: false,
            pin: false,
            why: String::new(),
        });
        e.glob_masked |= glob_masked;
        if e.why.is_empty() || glob_masked {
            e.why = why;
        }
    };
    add(Path::new("/"), "base view".into(), false);
    for r in &policy.rules {
        add(
            &r.path,
            format!("{} rule ({})", r.access.name(), r.origin),
            false,
        );
    }
    // A protected path that is itself a writable root is re-granted whole: not among these
    // (the root's own write rule makes it a target).
    for p in policy.read_only_protected_paths() {
        add(&p.path, format!("protected: {}", p.reason), false);
    }
    for m in input.deny_matches {
        let why = format!("deny glob {}", m.pattern);
        match &m.kind {
            MatchKind::Symlink { target } => {
                if let Some(t) = target {
                    add(t, format!("target of {} ({why})", m.path.display()), true);
                }
            }
            _ => add(&m.path, why, true),
        }
    }
    let pins = policy.rename_pins_with(crate::deny_globs::pinned_paths(input.deny_matches));
    for p in &pins {
        add(
            p,
            "leads to a protected or denied path: pinned so it cannot be renamed".into(),
            false,
        );
    }
    for p in policy.read_only_protected_paths() {
        if let Some(t) = by_path.get_mut(&p.path) {
            t.empty_protected = t.kind == PathKind::Dir && (input.is_empty_dir)(&p.path);
        }
    }
    for p in &pins {
        if let Some(t) = by_path.get_mut(p) {
            t.pin = true;
        }
    }
    // Already in path order: a stable sort by depth gives (depth, path) order.
    let mut v: Vec<Target> = by_path.into_values().collect();
    v.sort_by_cached_key(|t| depth(&t.path));
    v
}

fn depth(p: &Path) -> usize {
    p.components().count()
}

/// The last mount whose path is the path or one of its ancestors: the one that decides.
fn covering<'m>(mounts: &'m [PlanMount], path: &Path) -> Option<&'m PlanMount> {
    mounts
        .iter()
        .rev()
        .find(|m| path.starts_with(m.mount.path()))
}

/// [`covering`] for a mount table that only grows, without a scan per question: the last
/// mount at each path, keyed by path; a question looks up the path's own prefixes.
#[derive(Default)]
struct CoveringIndex {
    last_at: HashMap<PathBuf, usize>,
    /// How many mounts of the table are in `last_at`.
    indexed: usize,
}

impl CoveringIndex {
    /// Same answer as `covering(mounts, path)`. `mounts` may have grown since the last call
    /// (the mounts already seen must not have moved or changed path).
    fn find<'m>(&mut self, mounts: &'m [PlanMount], path: &Path) -> Option<&'m PlanMount> {
        for (i, m) in mounts.iter().enumerate().skip(self.indexed) {
            self.last_at.insert(m.mount.path().to_path_buf(), i);
        }
        self.indexed = mounts.len();
        prefixes(path)
            .filter_map(|p| self.last_at.get(p).copied())
            .max()
            .map(|i| &mounts[i])
    }
}

/// The mount a target needs, or `None` when its parent's mount already answers the same.
fn choose(
    t: &Target,
    policy: &PolicyIndex<'_>,
    covering: Option<&Mount>,
    next_fd: &mut i32,
    f: &BwrapFeatures,
    fds: &mut Vec<PlanFd>,
) -> Result<Option<Mount>, BwrapError> {
    let (read, write) = if t.glob_masked {
        (false, false)
    } else {
        (
            policy.allows_canonical(&t.path, Op::Read),
            policy.allows_canonical(&t.path, Op::Write),
        )
    };
    let path = t.path.clone();
    let is_root = covering.is_none();
    if is_root {
        return Ok(Some(match (read, write) {
            (true, true) => Mount::Bind { path },
            (true, false) => Mount::RoBind { path },
            _ => Mount::TmpfsRoot,
        }));
    }
    let parent = covering.map(Mount::grants).unwrap_or((false, false));
    let parent_writable = covering.is_some_and(|c| c.host_backed_writable());
    if t.pin
        && read
        && write
        && parent_writable
        && matches!(t.kind, PathKind::Dir | PathKind::Missing)
    {
        // A mount point of its own even where the parent's bind gives the same access. A
        // missing one too (a rule's parent that does not exist, `"a/b" = "deny"` with no
        // `a`): the launcher makes it (it is one of the held placeholders) before bwrap
        // binds it, else the command could rename the directory bwrap makes for the mask
        // and create the denied path in its place.
        return Ok(Some(Mount::Bind { path }));
    }
    if (read, write) == parent && !matches!(covering, Some(Mount::Dev)) {
        return Ok(None);
    }
    let missing = t.kind == PathKind::Missing;
    // A missing path can only appear where the command could create it.
    if missing && !parent_writable {
        return Ok(None);
    }
    Ok(Some(match (read, write, t.kind) {
        (true, true, _) if !missing => Mount::Bind { path },
        (true, true, _) => return Ok(None),
        (true, false, PathKind::Missing) => Mount::EmptyDir { path, mode: 0o555 },
        (true, false, _) if t.empty_protected => Mount::EmptyDir { path, mode: 0o555 },
        (true, false, _) => Mount::RoBind { path },
        (false, _, PathKind::File) => {
            if !f.ro_bind_data {
                return Err(BwrapError::MissingFlag {
                    flag: "--ro-bind-data".into(),
                    why: "masking denied files".into(),
                });
            }
            let fd = *next_fd;
            *next_fd += 1;
            fds.push(PlanFd {
                fd,
                content: FdContent::Empty,
            });
            Mount::MaskFile { path, fd }
        }
        (false, _, _) => Mount::EmptyDir { path, mode: 0 },
    }))
}

/// The components of `path` that do not exist on the host, outermost first.
fn missing_components(path: &Path, kind_of: &dyn Fn(&Path) -> PathKind) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut p = Some(path);
    while let Some(cur) = p {
        if kind_of(cur) != PathKind::Missing {
            break;
        }
        out.push(cur.to_path_buf());
        p = cur.parent();
    }
    out.reverse();
    out
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The fd the plan opens `path` at ([`FdContent::Dir`]), if any.
fn fd_of(fds: &[PlanFd], path: &Path) -> Option<i32> {
    fds.iter().find_map(|f| match &f.content {
        FdContent::Dir { path: p } if p == path => Some(f.fd),
        _ => None,
    })
}

fn render_args(mounts: &[PlanMount], unshare_net: bool, cwd: &Path, fds: &[PlanFd]) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(|x| x.to_string()));
    push(&["--new-session", "--die-with-parent"]);
    // A UTS namespace of its own: the host name the command sees (and could set) is not the
    // host's.
    push(&[
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
    ]);
    if unshare_net {
        push(&["--unshare-net"]);
    }
    push(&["--cap-drop", "ALL"]);
    let mut remount = Vec::new();
    for m in mounts {
        match &m.mount {
            // By fd where the plan opens it ([`FdContent::Dir`]): the source is the inode
            // the launcher opened, not whatever a link swapped in meanwhile points to (a
            // denied path bound over its own mask).
            Mount::RoBind { path } => match fd_of(fds, path) {
                Some(fd) => push(&["--ro-bind-fd", &fd.to_string(), &s(path)]),
                None => push(&["--ro-bind", &s(path), &s(path)]),
            },
            // By fd ([`FdContent::Dir`]): the source is the inode the launcher opened. The
            // destination is looked up by bwrap inside the new root, where a swapped link
            // could only move where the same directory appears, not which one is writable.
            Mount::Bind { path } => match fd_of(fds, path) {
                Some(fd) => push(&["--bind-fd", &fd.to_string(), &s(path)]),
                None => push(&["--bind", &s(path), &s(path)]),
            },
            Mount::TmpfsRoot => {
                push(&["--tmpfs", "/"]);
                remount.push("/".to_string());
            }
            Mount::EmptyDir { path, mode } => {
                push(&["--perms", &format!("{mode:04o}"), "--tmpfs", &s(path)]);
                remount.push(s(path));
            }
            Mount::MaskFile { path, fd } => push(&[
                "--perms",
                "0000",
                "--ro-bind-data",
                &fd.to_string(),
                &s(path),
            ]),
            Mount::Symlink { path, target } => push(&["--symlink", &s(target), &s(path)]),
            Mount::Dev => push(&["--dev", "/dev"]),
            Mount::Proc => {
                push(&["--proc", "/proc"]);
                // bwrap covers these itself only where its write probe succeeds, which
                // it never does for /proc/sys; as root (uid 0 mapped to 0) sysctl writes
                // check only the uid, so kernel.core_pattern would be writable.
                for p in PROC_READ_ONLY {
                    push(&["--ro-bind-try", p, p]);
                }
            }
            Mount::MaskSocket { path } => push(&["--ro-bind", "/dev/null", &s(path)]),
        }
    }
    for r in &remount {
        push(&["--remount-ro", r]);
    }
    push(&["--chdir", &s(cwd)]);
    for fd in fds {
        if let FdContent::Seccomp { .. } = fd.content {
            push(&["--seccomp", &fd.fd.to_string()]);
        }
    }
    a
}

/// Kernel interfaces under a fresh `/proc` that affect the whole host, bound read-only over
/// themselves right after `--proc` (sysctls read through any procfs mount answer for the
/// reader's own namespaces, so the host's `/proc/sys` shows the sandbox's values).
pub const PROC_READ_ONLY: [&str; 4] =
    ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"];

/// Quotes one argument for a POSIX shell; plain words are left as they are.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

impl BwrapPlan {
    /// The argv to start bwrap with now: [`BwrapPlan::args`] without the masks of host
    /// sockets that are gone since the plan was made. bwrap cannot make the mount point of a
    /// vanished socket in a read-only directory and would fail to start (any host process
    /// could make launches fail that way); with the socket gone there is nothing to cover,
    /// and one bound at that path later is the documented "bound after launch" limit.
    pub fn launch_args(&self) -> Vec<&str> {
        let gone: Vec<&Path> = self
            .mounts
            .iter()
            .filter_map(|m| match &m.mount {
                Mount::MaskSocket { path } if std::fs::symlink_metadata(path).is_err() => {
                    Some(path.as_path())
                }
                _ => None,
            })
            .collect();
        let mut out = Vec::with_capacity(self.args.len());
        let mut i = 0;
        while i < self.args.len() {
            let a = self.args[i].as_str();
            if a == "--ro-bind"
                && self.args.get(i + 1).map(String::as_str) == Some("/dev/null")
                && self
                    .args
                    .get(i + 2)
                    .is_some_and(|p| gone.contains(&Path::new(p)))
            {
                i += 3;
                continue;
            }
            out.push(a);
            i += 1;
        }
        out
    }

    /// The plan as text: `#` comments for fds, stubs and degradations, then one shell-quoted
    /// bwrap argument per line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if self.unrestricted {
            out.push_str("# danger-full-access: no sandbox; the command runs directly\n");
            return out;
        }
        for fd in &self.fds {
            let what = match &fd.content {
                FdContent::Empty => "empty data (mask)".to_string(),
                FdContent::Dir { path } => format!(
                    "{} opened O_PATH with no symbolic link on its way ({})",
                    path.display(),
                    match covering(&self.mounts, path).map(|m| &m.mount) {
                        Some(Mount::RoBind { .. }) => "--ro-bind-fd",
                        _ => "--bind-fd",
                    }
                ),
                FdContent::Seccomp { instructions, .. } => {
                    format!("seccomp program, {instructions} instructions")
                }
            };
            let _ = writeln!(out, "# fd {}: {what}", fd.fd);
        }
        for st in &self.host_stubs {
            let _ = writeln!(
                out,
                "# held mount point (if missing, a placeholder is made and removed after the run): {}",
                st.display()
            );
        }
        for d in &self.degradations {
            let _ = writeln!(out, "# degraded: {}: {}", d.capability, d.detail);
        }
        out.push_str("bwrap\n");
        for a in &self.args {
            out.push_str(&shell_quote(a));
            out.push('\n');
        }
        out.push_str("--\n");
        out
    }

    /// What the mount table allows for `path` (canonical, not under `/dev` or `/proc`):
    /// `(read, write)` of the deepest mount covering it. `create` of a missing path is the
    /// `write` answer of the mount covering it. Used to check the plan against the oracle.
    pub fn access(&self, path: &Path) -> (bool, bool) {
        if self.unrestricted {
            return (true, true);
        }
        covering(&self.mounts, path)
            .map(|m| m.mount.grants())
            .unwrap_or((false, false))
    }

    /// The bytes of the seccomp program, when the plan passes one.
    pub fn seccomp_program(&self) -> Option<&[u8]> {
        self.fds.iter().find_map(|f| match &f.content {
            FdContent::Seccomp { program, .. } => Some(program.as_slice()),
            FdContent::Empty | FdContent::Dir { .. } => None,
        })
    }
}

/// The host's answer for [`BwrapInput::kind_of`]: what is at `p`, without following a final
/// symlink.
pub fn host_kind_of(p: &Path) -> PathKind {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => PathKind::Dir,
        Ok(_) => PathKind::File,
        Err(_) => PathKind::Missing,
    }
}

/// The host's answer for [`BwrapInput::is_empty_dir`]. A directory gone since
/// [`host_kind_of`] saw it counts as empty: it was another run's placeholder, removed
/// meanwhile, and bound from its path it would fail the launch (`Can't find source path`);
/// as an empty one it is a placeholder the launcher holds (and makes again).
pub fn host_is_empty_dir(p: &Path) -> bool {
    match std::fs::read_dir(p) {
        Ok(mut d) => d.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use sandbox_core::testing::odd_path as path;

    fn mount(path: PathBuf) -> PlanMount {
        PlanMount {
            mount: Mount::RoBind { path },
            why: String::new(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        /// The index finds the very mount the linear scan finds, while the table grows.
        #[test]
        fn covering_index_matches_scan(
            steps in prop::collection::vec((prop::collection::vec(path(), 0..4), path()), 1..12),
        ) {
            let mut mounts = Vec::new();
            let mut index = CoveringIndex::default();
            for (added, query) in steps {
                mounts.extend(added.into_iter().map(mount));
                let want = covering(&mounts, &query).map(|m| m as *const PlanMount);
                let got = index.find(&mounts, &query).map(|m| m as *const PlanMount);
                prop_assert_eq!(got, want, "{:?} in {:?}", query, mounts);
            }
        }

        /// The successor test agrees with a scan for a path strictly below.
        #[test]
        fn has_path_below_matches_scan(
            paths in prop::collection::vec(path(), 0..10),
            query in path(),
        ) {
            let set: BTreeSet<PathBuf> = paths.iter().cloned().collect();
            let want = paths.iter().any(|p| p != &query && p.starts_with(&query));
            prop_assert_eq!(has_path_below(&set, &query), want);
        }
    }
}
