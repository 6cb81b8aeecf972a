//! Which placeholders runs of this user made: one entry per placeholder in a per-user
//! directory the sandboxed command can never write, so that a run may remove a placeholder
//! another run of its user made (the last run out removes it), and never a directory the
//! command made and dressed up as one.
//!
//! The directory is `/tmp/sandbox-UID` (the per-user cache's fallback location, whatever
//! `$XDG_RUNTIME_DIR` says, so that every run of the user agrees on it): made mode 0700 and
//! refused when it is a symlink, not a directory, another user's, or writable by others
//! ([`crate::host::cache`]'s checks). Every run whose policy would let the command write it
//! keeps it read-only instead ([`protect`], a protected path of the policy like the launcher's
//! own executable: the oracle, `explain` and both backends' read-only mounts agree), so a
//! record is only ever written by a launcher, outside the sandbox. A policy with the directory
//! itself as a writable root is refused ([`RecordsError::WritableRoot`]).
//!
//! A record names its placeholder by what a new directory cannot take over, and where it is:
//! device, inode number and birth time ([`Identity`]; inode numbers are reused after a
//! removal, birth times are set by the kernel), then its path (a placeholder renamed elsewhere
//! is not one there), all in the record's name. A record is a hard link to one empty file of
//! the directory (`anchor`): making one allocates no inode (a new file cost about a
//! millisecond of ext4 inode allocation on the test host, a link about 20 µs), looking one up
//! is one `fstatat`, and the anchor's link count says how many there are. Records are removed
//! just before their placeholder (birth times are only as fine as the kernel's clock tick: a
//! directory made at the same path within the same tick, taking the freed inode number, would
//! match a record left behind, so only a directory made in that instant, never an older one
//! such as a user's, can ever match another's record); one left by a placeholder removed from outside names an identity no directory will have
//! again, and once there are more than [`SWEEP_ABOVE`] records the next run that removes a
//! placeholder sweeps those ([`Records::sweep`]). Where the file system reports no birth
//! time, or the name would be too long for one file name (a path of about 200 bytes or more),
//! no record is made: only the run that made such a placeholder removes it.

use std::borrow::Cow;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use sandbox_core::ResolvedPolicy;

/// Names of records start with this.
const PREFIX: &str = "placeholder.";

/// How many records may pile up before a release that removes a placeholder sweeps the
/// stale ones.
pub const SWEEP_ABOVE: u64 = 64;

/// The longest file name (`NAME_MAX`).
const NAME_MAX: usize = 255;

/// What `explain` names as the rule keeping the directory read-only.
pub const REASON: &str = "the sandbox's placeholder records";

/// The per-user directory holding the records (for this effective user).
pub fn dir_path() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    PathBuf::from(format!("/tmp/sandbox-{}", unsafe { libc::geteuid() }))
}

/// Why the records directory cannot be kept out of the command's reach.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// A writable root is the records directory itself.
    #[error("writable root {root} holds the sandbox's placeholder records: the command could forge records and get directories of its choosing removed by later runs")]
    WritableRoot { root: String },
    #[error(transparent)]
    Core(#[from] sandbox_core::CoreError),
}

impl RecordsError {
    /// The way out.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            RecordsError::WritableRoot { .. } => {
                Some("run from another directory (-C DIR) and leave the sandbox's own directory out of the writable roots")
            }
            RecordsError::Core(_) => None,
        }
    }
}

/// Makes the records directory read-only in `policy` when the policy would let the command
/// write it, creating the directory first (a missing one could be made by the command, with
/// records of its own). Nothing changes when it is not writable, or when no safe directory
/// exists (no records are then trusted or made by this user's runs). Refused when a writable
/// root is the directory itself (a root cannot be made read-only under itself).
pub fn protect(policy: &mut ResolvedPolicy) -> Result<(), RecordsError> {
    if policy.unrestricted || !writable(policy) {
        return Ok(());
    }
    let dir = dir_path();
    let canonical = sandbox_core::resolve::canonical(&dir, policy.target);
    if let Some(r) = policy.writable_roots.iter().find(|r| r.path == canonical) {
        return Err(RecordsError::WritableRoot {
            root: r.path.display().to_string(),
        });
    }
    match open_dir(true) {
        Some(_) => Ok(policy.protect_executable(&dir, REASON)?),
        None => Ok(()),
    }
}

/// `policy` with the records directory protected ([`protect`]): borrowed when nothing changes
/// (the CLI protects it while resolving, so `explain` shows it too).
pub fn protected(policy: &ResolvedPolicy) -> Result<Cow<'_, ResolvedPolicy>, RecordsError> {
    if policy.unrestricted || !writable(policy) {
        return Ok(Cow::Borrowed(policy));
    }
    let mut p = policy.clone();
    protect(&mut p)?;
    Ok(Cow::Owned(p))
}

fn writable(policy: &ResolvedPolicy) -> bool {
    let dir = dir_path();
    policy.allows_canonical(&dir, sandbox_core::Op::Write)
        || policy.allows_canonical(&dir, sandbox_core::Op::Create)
}

fn open_dir(create: bool) -> Option<std::fs::File> {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    crate::host::cache::open_private(&dir_path(), uid, create)
}

/// A directory's identity: device, inode number and birth time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    dev: u64,
    ino: u64,
    btime: (i64, u32),
}

impl Identity {
    /// The identity of the file open at `fd`; `None` where no birth time is reported.
    pub fn of(fd: &impl AsRawFd) -> Option<Identity> {
        Identity::statx(fd.as_raw_fd(), c"", libc::AT_EMPTY_PATH)
    }

    /// The identity of what is at `path` now (a symlink itself, not its target).
    fn at(path: &Path) -> Option<Identity> {
        let c = CString::new(path.as_os_str().as_bytes()).ok()?;
        Identity::statx(libc::AT_FDCWD, &c, libc::AT_SYMLINK_NOFOLLOW)
    }

    fn statx(dirfd: libc::c_int, path: &std::ffi::CStr, flags: libc::c_int) -> Option<Identity> {
        // SAFETY: statx fills a zeroed stack struct; the path is NUL-terminated.
        let mut st: libc::statx = unsafe { std::mem::zeroed() };
        let mask = libc::STATX_INO | libc::STATX_BTIME;
        if unsafe { libc::statx(dirfd, path.as_ptr(), flags, mask, &mut st) } != 0
            || st.stx_mask & libc::STATX_BTIME == 0
        {
            return None;
        }
        Some(Identity {
            dev: libc::makedev(st.stx_dev_major, st.stx_dev_minor),
            ino: st.stx_ino,
            btime: (st.stx_btime.tv_sec, st.stx_btime.tv_nsec),
        })
    }

    /// The record's name: `placeholder.DEV.INO.SECONDS.NANOSECONDS.PATH`, the path with `%`
    /// and `/` written `%25` and `%2F`; `None` when that is longer than a file name may be.
    fn record_name(&self, path: &Path) -> Option<CString> {
        let mut name = format!(
            "{PREFIX}{}.{}.{}.{}.",
            self.dev, self.ino, self.btime.0, self.btime.1
        )
        .into_bytes();
        for &b in path.as_os_str().as_bytes() {
            match b {
                b'%' => name.extend_from_slice(b"%25"),
                b'/' => name.extend_from_slice(b"%2F"),
                b => name.push(b),
            }
        }
        if name.len() > NAME_MAX {
            return None;
        }
        CString::new(name).ok()
    }

    /// The identity and path a record's name gives.
    fn parse(name: &[u8]) -> Option<(Identity, PathBuf)> {
        let mut f = name
            .strip_prefix(PREFIX.as_bytes())?
            .splitn(5, |&b| b == b'.');
        let mut num = || std::str::from_utf8(f.next()?).ok();
        let id = Identity {
            dev: num()?.parse().ok()?,
            ino: num()?.parse().ok()?,
            btime: (num()?.parse().ok()?, num()?.parse().ok()?),
        };
        let encoded = f.next()?;
        let mut path = Vec::with_capacity(encoded.len());
        let mut i = 0;
        while i < encoded.len() {
            match (encoded[i], encoded.get(i + 1..i + 3)) {
                (b'%', Some(b"25")) => path.push(b'%'),
                (b'%', Some(b"2F")) => path.push(b'/'),
                (b'%', _) => return None,
                (b, _) => {
                    path.push(b);
                    i += 1;
                    continue;
                }
            }
            i += 3;
        }
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(&path));
        let canonical = id.record_name(&path).is_some_and(|n| n.as_bytes() == name);
        (path.is_absolute() && canonical).then_some((id, path))
    }
}

/// The records directory, held open: every record is made, looked up and removed relative
/// to it.
#[derive(Debug)]
pub struct Records {
    dir: std::fs::File,
}

impl Records {
    /// Opens the records directory (creating it when `create`); `None` when no safe one exists.
    pub fn open(create: bool) -> Option<Records> {
        open_dir(create).map(|dir| Records { dir })
    }

    /// The open directory (for [`super::Holds::move_fds_above`]).
    pub(super) fn dir_mut(&mut self) -> &mut std::fs::File {
        &mut self.dir
    }

    /// Records that this run made the placeholder `id` at `path` (a link to the anchor,
    /// which is made first when missing). Failure only means that no other run will remove
    /// the placeholder.
    pub fn record(&self, id: &Identity, path: &Path) {
        let Some(name) = id.record_name(path) else {
            return;
        };
        let d = self.dir.as_raw_fd();
        let link = || {
            // SAFETY: linkat within one live directory fd, NUL-terminated names; the anchor
            // is not followed if it is a symlink (flags 0).
            unsafe { libc::linkat(d, c"anchor".as_ptr(), d, name.as_ptr(), 0) == 0 }
        };
        if link() || std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT) {
            return;
        }
        // SAFETY: openat with a live directory fd and a NUL-terminated name; the fd is
        // closed at once.
        let fd = unsafe {
            libc::openat(
                d,
                c"anchor".as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o600 as libc::c_uint,
            )
        };
        if fd >= 0 {
            // SAFETY: a fresh fd we own.
            drop(unsafe { std::fs::File::from_raw_fd(fd) });
        }
        link();
    }

    /// Whether a run of this user recorded the placeholder `id` at `path`.
    pub fn recorded(&self, id: &Identity, path: &Path) -> bool {
        id.record_name(path)
            .and_then(|n| self.stat(&n))
            .is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG)
    }

    fn stat(&self, c: &std::ffi::CStr) -> Option<libc::stat> {
        // SAFETY: fstatat fills a zeroed stack struct; the fd and name are live.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let ok = unsafe {
            libc::fstatat(
                self.dir.as_raw_fd(),
                c.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        } == 0;
        ok.then_some(st)
    }

    /// Forgets the placeholder `id` at `path`: called just before its removal (a directory
    /// made right after it may take its inode number, and within the same clock tick its
    /// birth time too).
    pub fn forget(&self, id: &Identity, path: &Path) {
        if let Some(name) = id.record_name(path) {
            self.unlink(&name);
        }
    }

    fn unlink(&self, name: &std::ffi::CStr) {
        // SAFETY: unlinkat in a live directory fd with a NUL-terminated name.
        unsafe { libc::unlinkat(self.dir.as_raw_fd(), name.as_ptr(), 0) };
    }

    /// With more than [`SWEEP_ABOVE`] records (the anchor's link count), removes those whose
    /// placeholder is gone: its path holds no directory with that identity any more (removed
    /// from outside, or renamed away). Called after a release removed a placeholder. A record
    /// is made after its directory exists, so one in the making is never swept.
    pub fn sweep(&self) {
        // (`nlink_t` is 32 bits on some architectures, 64 on x86_64.)
        #[allow(clippy::unnecessary_cast)]
        let few = |st: libc::stat| st.st_nlink as u64 <= SWEEP_ABOVE + 1;
        if self.stat(c"anchor").is_none_or(few) {
            return;
        }
        let Ok(dup) = self.dir.try_clone() else {
            return;
        };
        let Ok(entries) = read_dir_fd(dup) else {
            return;
        };
        for name in entries {
            let stale = Identity::parse(name.as_bytes())
                .is_some_and(|(id, path)| Identity::at(&path) != Some(id));
            if stale {
                self.unlink(&name);
            }
        }
    }
}

/// The names in the directory open at `dir` (consumed).
fn read_dir_fd(dir: std::fs::File) -> std::io::Result<Vec<CString>> {
    use std::os::fd::IntoRawFd;
    let fd = dir.into_raw_fd();
    // SAFETY: fdopendir takes ownership of a live directory fd; closedir below closes it.
    let d = unsafe { libc::fdopendir(fd) };
    if d.is_null() {
        let e = std::io::Error::last_os_error();
        // SAFETY: fdopendir failed, so the fd is still ours to close.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    // SAFETY: rewinds the stream of a shared open file description, read from the start.
    unsafe { libc::rewinddir(d) };
    let mut names = Vec::new();
    loop {
        // SAFETY: readdir on a live DIR*; the entry is read before the next call.
        let e = unsafe { libc::readdir(d) };
        if e.is_null() {
            break;
        }
        // SAFETY: d_name is NUL-terminated within the entry.
        let name = unsafe { std::ffi::CStr::from_ptr((*e).d_name.as_ptr()) };
        if name.to_bytes().starts_with(PREFIX.as_bytes()) {
            names.push(name.to_owned());
        }
    }
    // SAFETY: closes the DIR* (and its fd) opened above.
    unsafe { libc::closedir(d) };
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records_in(d: &Path) -> Records {
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        Records {
            dir: crate::host::cache::open_private(d, uid, false).unwrap(),
        }
    }

    #[test]
    fn names_round_trip_and_odd_ones_are_refused() {
        let id = Identity {
            dev: 2049,
            ino: 42,
            btime: (1_700_000_000, 5),
        };
        let p = Path::new("/tmp/w.s%/.git");
        let name = id.record_name(p).unwrap();
        assert_eq!(
            name.to_bytes(),
            b"placeholder.2049.42.1700000000.5.%2Ftmp%2Fw.s%25%2F.git"
        );
        assert_eq!(
            Identity::parse(name.to_bytes()),
            Some((id, p.to_path_buf()))
        );
        for bad in [
            &b"placeholder.2049.42.1700000000.%2Ftmp%2F.git"[..],
            b"placeholder.2049.042.1700000000.5.%2Ftmp%2F.git",
            b"placeholder.2049.42.1700000000.05.%2Ftmp%2F.git",
            b"placeholder.2049.42.1700000000.5.tmp%2F.git",
            b"placeholder.2049.42.1700000000.5.%2Ftmp%2f.git",
            b"placeholder.2049.42.1700000000.5.%2Ftmp%.git",
            b"anchor",
        ] {
            assert_eq!(
                Identity::parse(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = format!("/{}", "a".repeat(220));
        assert_eq!(id.record_name(Path::new(&long)), None, "too long a name");
    }

    /// A record matches only its directory at its path; a new directory at the same path
    /// (even one given the same inode number) and the same directory elsewhere do not. Stale
    /// records are swept once there are more than a few.
    #[test]
    fn a_record_matches_its_directory_at_its_path_only() {
        let d = tempfile::tempdir().unwrap();
        let r = records_in(d.path());
        let ws = tempfile::tempdir().unwrap();
        let p = ws.path().join(".git");
        std::fs::create_dir(&p).unwrap();
        let Some(id) = Identity::of(&std::fs::File::open(&p).unwrap()) else {
            eprintln!("SKIP: no birth times on this file system");
            return;
        };
        assert!(!r.recorded(&id, &p));
        r.record(&id, &p);
        assert!(r.recorded(&id, &p));
        assert!(!r.recorded(&id, &ws.path().join("other")), "another path");
        let moved = ws.path().join("moved");
        std::fs::rename(&p, &moved).unwrap();
        assert_eq!(Identity::at(&moved), Some(id));
        std::fs::remove_dir(&moved).unwrap();
        // Birth times are as fine as the clock tick: past one, a new directory differs.
        std::thread::sleep(std::time::Duration::from_millis(30));
        // Churn until the inode number comes back (ext4 reuses it at once), or give up.
        for _ in 0..50 {
            std::fs::create_dir(&p).unwrap();
            let new = Identity::at(&p).unwrap();
            assert_ne!(new, id, "a new directory took the old identity");
            assert!(!r.recorded(&new, &p));
            if new.ino == id.ino {
                break;
            }
            std::fs::remove_dir(&p).unwrap();
        }
        let name = d.path().join(std::ffi::OsStr::from_bytes(
            id.record_name(&p).unwrap().to_bytes(),
        ));
        r.sweep();
        assert!(name.exists(), "swept with few records");
        // Live records beyond the bound: the sweep leaves them and removes the stale one.
        let live = tempfile::tempdir().unwrap();
        for i in 0..SWEEP_ABOVE {
            let q = live.path().join(i.to_string());
            std::fs::create_dir(&q).unwrap();
            r.record(&Identity::at(&q).unwrap(), &q);
        }
        r.sweep();
        assert!(!name.exists(), "the stale record");
        let left = std::fs::read_dir(d.path()).unwrap().count() as u64;
        assert_eq!(left, SWEEP_ABOVE + 1, "the live records and the anchor");
    }
}
