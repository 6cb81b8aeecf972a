//! Which placeholders runs of this user made: one small file per placeholder in a per-user
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
//! record is only ever written by a launcher, outside the sandbox.
//!
//! A record names its placeholder by what a new directory cannot take over: device, inode and
//! birth time ([`Identity`]; inode numbers are reused after a removal, birth times are set by
//! the kernel), in the file's name, and its path, in the file's content (a placeholder renamed
//! elsewhere is not one there). Records are made with `O_CREAT | O_EXCL` and removed with their
//! placeholder; one left by a placeholder removed from outside names an identity no directory
//! will have again, and is swept by the next run that removes a placeholder ([`Records::sweep`]).
//! Where the file system reports no birth time, no record is made: only the run that made such
//! a placeholder removes it.

use std::borrow::Cow;
use std::ffi::CString;
use std::io::Read as _;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use sandbox_core::ResolvedPolicy;

/// Names of record files start with this.
const PREFIX: &str = "placeholder.";

/// What `explain` names as the rule keeping the directory read-only.
pub const REASON: &str = "the sandbox's placeholder records";

/// The per-user directory holding the records (for this effective user).
pub fn dir_path() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    PathBuf::from(format!("/tmp/sandbox-{}", unsafe { libc::geteuid() }))
}

/// Makes the records directory read-only in `policy` when the policy would let the command
/// write it, creating the directory first (a missing one could be made by the command, with
/// records of its own). Nothing changes when it is not writable, or when no safe directory
/// exists (no records are then trusted or made by this user's runs).
pub fn protect(policy: &mut ResolvedPolicy) -> Result<(), sandbox_core::CoreError> {
    if policy.unrestricted || !writable(policy) {
        return Ok(());
    }
    match open_dir(true) {
        Some(_) => policy.protect_executable(&dir_path(), REASON),
        None => Ok(()),
    }
}

/// `policy` with the records directory protected ([`protect`]): borrowed when nothing changes
/// (the CLI protects it while resolving, so `explain` shows it too).
pub fn protected(
    policy: &ResolvedPolicy,
) -> Result<Cow<'_, ResolvedPolicy>, sandbox_core::CoreError> {
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

    /// The record file's name: `placeholder.DEV.INO`. Two live directories never share it;
    /// a new directory that takes a removed one's inode number takes its record's name too,
    /// and replaces that record.
    fn file_name(&self) -> String {
        format!("{PREFIX}{}.{}", self.dev, self.ino)
    }

    /// The record file's content: `SECONDS.NANOSECONDS` of the birth time, a newline, and the
    /// path.
    fn content(&self, path: &Path) -> Vec<u8> {
        let mut text = format!("{}.{}\n", self.btime.0, self.btime.1).into_bytes();
        text.extend_from_slice(path.as_os_str().as_bytes());
        text
    }

    /// The identity and path a record file (`name`, `content`) names.
    fn parse(name: &str, content: &[u8]) -> Option<(Identity, PathBuf)> {
        let mut f = name.strip_prefix(PREFIX)?.split('.');
        let (dev, ino) = (f.next()?.parse().ok()?, f.next()?.parse().ok()?);
        let nl = content.iter().position(|&b| b == b'\n')?;
        let (sec, nsec) = std::str::from_utf8(&content[..nl]).ok()?.split_once('.')?;
        let id = Identity {
            dev,
            ino,
            btime: (sec.parse().ok()?, nsec.parse().ok()?),
        };
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(&content[nl + 1..]));
        let canonical = f.next().is_none()
            && id.file_name() == name
            && id.content(&path) == content
            && path.is_absolute();
        canonical.then_some((id, path))
    }
}

/// The records directory, held open: every record is made, read and removed relative to it.
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

    fn open_at(&self, name: &str, flags: libc::c_int) -> std::io::Result<std::fs::File> {
        let c = CString::new(name).expect("record names have no NUL");
        // SAFETY: openat with a live directory fd and a NUL-terminated name; the fd returned
        // is new and owned by the File below.
        let fd = unsafe {
            libc::openat(
                self.dir.as_raw_fd(),
                c.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
                0o600 as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a fresh fd, owned by nobody else.
        Ok(unsafe { std::fs::File::from_raw_fd(fd) })
    }

    /// Records that this run made the placeholder `id` at `path`. A record by that name can
    /// only be stale (a removed directory's whose inode number `id` took): it is replaced.
    /// A reader that comes upon a record half written takes it for none, which only keeps a
    /// placeholder (the run writing it still holds it, so no other run may remove it yet).
    /// Failure only means that no other run will remove the placeholder.
    pub fn record(&self, id: &Identity, path: &Path) {
        use std::io::Write as _;
        let name = id.file_name();
        let create = || self.open_at(&name, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL);
        let file = match create() {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                self.unlink(&name);
                create()
            }
            other => other,
        };
        if file.and_then(|mut f| f.write_all(&id.content(path))).is_err() {
            self.unlink(&name);
        }
    }

    /// Whether a run of this user recorded the placeholder `id` at `path`.
    pub fn recorded(&self, id: &Identity, path: &Path) -> bool {
        let name = id.file_name();
        self.read(&name)
            .and_then(|(_, text)| Identity::parse(&name, &text))
            .is_some_and(|(rid, rpath)| rid == *id && rpath == path)
    }

    /// A record file's content (a regular file of at most `PATH_MAX` + 32 bytes), and the
    /// inode number of the file read.
    fn read(&self, name: &str) -> Option<(u64, Vec<u8>)> {
        use std::os::unix::fs::MetadataExt;
        let f = self.open_at(name, libc::O_RDONLY).ok()?;
        let m = f.metadata().ok()?;
        if !m.is_file() {
            return None;
        }
        let limit = libc::PATH_MAX as u64 + 32;
        let mut text = Vec::new();
        f.take(limit + 1).read_to_end(&mut text).ok()?;
        (text.len() as u64 <= limit).then_some((m.ino(), text))
    }

    /// Forgets the placeholder `id`: called just before its removal (while the directory
    /// still holds its inode number, so the record under that name is its own; a directory
    /// made right after the removal may take the number, and its record the name).
    pub fn forget(&self, id: &Identity) {
        self.unlink(&id.file_name());
    }

    fn unlink(&self, name: &str) {
        let c = CString::new(name).expect("record names have no NUL");
        // SAFETY: unlinkat in a live directory fd with a NUL-terminated name.
        unsafe { libc::unlinkat(self.dir.as_raw_fd(), c.as_ptr(), 0) };
    }

    /// Removes the records whose placeholder is gone: its path holds no directory with that
    /// identity any more (removed from outside, or renamed away). Called
    /// after a release removed a placeholder, so stale records cannot pile up. A record is
    /// written after its directory exists, so one in the making is never swept; one that
    /// replaced the record read meanwhile (a new placeholder with the same inode number) is
    /// left, unless it is replaced in the instant between that check and the removal (the
    /// cost is a placeholder left for the user to remove, never a wrong removal).
    pub fn sweep(&self) {
        let Ok(dup) = self.dir.try_clone() else {
            return;
        };
        let Ok(entries) = read_dir_fd(dup) else {
            return;
        };
        for name in entries {
            let Some((file_ino, text)) = self.read(&name) else {
                continue;
            };
            // (One that does not parse may be half written: left alone.)
            let stale = Identity::parse(&name, &text)
                .is_some_and(|(id, path)| Identity::at(&path) != Some(id));
            if stale && self.ino_of(&name) == Some(file_ino) {
                self.unlink(&name);
            }
        }
    }

    /// The inode number of the file now at `name`.
    fn ino_of(&self, name: &str) -> Option<u64> {
        let c = CString::new(name).ok()?;
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
        ok.then_some(st.st_ino)
    }
}

/// The names in the directory open at `dir` (consumed).
fn read_dir_fd(dir: std::fs::File) -> std::io::Result<Vec<String>> {
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
        if let Ok(s) = name.to_str() {
            if s.starts_with(PREFIX) {
                names.push(s.to_string());
            }
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
    fn records_round_trip_and_odd_ones_are_refused() {
        let id = Identity {
            dev: 2049,
            ino: 42,
            btime: (1_700_000_000, 5),
        };
        let p = Path::new("/tmp/ws/.git");
        assert_eq!(id.file_name(), "placeholder.2049.42");
        assert_eq!(id.content(p), b"1700000000.5\n/tmp/ws/.git");
        let back = Identity::parse(&id.file_name(), &id.content(p));
        assert_eq!(back, Some((id, p.to_path_buf())));
        for (name, text) in [
            ("placeholder.2049.42.7", &b"1700000000.5\n/tmp/ws/.git"[..]),
            ("placeholder.2049.042", b"1700000000.5\n/tmp/ws/.git"),
            ("placeholder.2049.42", b"1700000000.05\n/tmp/ws/.git"),
            ("placeholder.2049.42", b"1700000000\n/tmp/ws/.git"),
            ("placeholder.2049.42", b"1700000000.5\nws/.git"),
            ("placeholder.2049.42", b"1700000000.5 /tmp/ws/.git"),
            ("bwrap-features", b"1700000000.5\n/tmp/ws/.git"),
        ] {
            assert_eq!(Identity::parse(name, text), None, "{name} {text:?}");
        }
    }

    /// A record matches only its directory at its path; a new directory at the same path
    /// (even one given the same inode number) and the same directory elsewhere do not.
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
        // Churn until the inode number comes back (ext4 reuses it at once), or give up.
        for _ in 0..50 {
            std::fs::create_dir(&p).unwrap();
            let new = Identity::at(&p).unwrap();
            assert_ne!(new, id, "a new directory took the old identity");
            if new.ino == id.ino {
                break;
            }
            std::fs::remove_dir(&p).unwrap();
        }
        // (A new directory with the old inode number replaces the record when recorded.)
        r.sweep();
        assert!(!d.path().join(id.file_name()).exists(), "the stale record");
    }

    /// A sweep keeps the records of placeholders still in place.
    #[test]
    fn a_sweep_keeps_live_records() {
        let d = tempfile::tempdir().unwrap();
        let r = records_in(d.path());
        let ws = tempfile::tempdir().unwrap();
        let p = ws.path().join(".agents");
        std::fs::create_dir(&p).unwrap();
        let Some(id) = Identity::at(&p) else {
            eprintln!("SKIP: no birth times on this file system");
            return;
        };
        r.record(&id, &p);
        r.sweep();
        assert!(r.recorded(&id, &p));
        r.forget(&id);
        assert!(!r.recorded(&id, &p));
    }
}
