//! Placeholder directories for missing protected names (`WS/.agents`, `/tmp/.git`), shared by
//! both Linux backends. A mount needs an existing target, so a run that must keep a missing
//! name uncreatable makes an empty directory on the host and mounts a read-only view over it.
//!
//! Concurrent runs (of either backend, of every user: a placeholder is made mode 0755 whatever
//! the umask, so any user's run can open it) share these directories: each holds a shared
//! `flock` on the directory itself for the whole run ([`Holds`]), and the last one out removes
//! it, only if it is still empty and a run of its user made it (an empty directory a user, or
//! a sandboxed command, made is never removed). Removing a directory that is a mount point in
//! another mount namespace would silently detach that mount, which is what the lock prevents.
//! A run releases all its directories at once, with one look at the other mount namespaces for
//! all of them.
//!
//! Which run made a placeholder is known from a record the sandboxed command cannot write
//! ([`records`]: an entry per placeholder naming its device, inode number, birth time and
//! path, in a per-user directory every run keeps read-only). Nothing on the directory itself
//! is trusted: the command can set any extended attribute or mode on an empty directory it
//! may write, so a mark there (the `user.sandbox.placeholder` xattr of earlier versions) would let it get a
//! directory of its choosing removed by a later run that mounts over that path.
//!
//! Between users: a run removes only placeholders its own user owns (or that it made), never
//! another user's, even where it could (root, or a directory that is not sticky), so a record
//! cannot get a directory removed by someone else's run. In a sticky directory such as `/tmp`
//! nobody else could remove them anyway: a user's placeholder that another user's run still
//! held when this user's last run ended stays until this user's next run. A lock is waited
//! for a bounded time ([`LOCK_WAIT`]): only a run's short cleanup holds it exclusively, and a
//! process of another user holding it longer fails the run (closed) instead of hanging it.

pub mod records;

use records::{Identity, Records};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Test hook (read only in builds with the `testing` feature): when set to `1`, a run's
/// release takes no look at the other mount namespaces, so that tests can show what the
/// locks alone guarantee.
#[doc(hidden)]
pub const NO_MOUNT_LOOK_ENV: &str = "SANDBOX_TEST_NO_MOUNT_LOOK";

/// How long a run waits for the shared lock on a placeholder that another process holds
/// exclusively. A run's cleanup holds it for a moment (up to a quarter second while a
/// namespace goes away, [`stays_mounted_elsewhere`]); longer is no sandbox run's doing.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The protected directories one run depends on, each locked shared (`flock`) so that a
/// concurrent run never removes a placeholder still in use. Dropping the set removes, deepest
/// first, each placeholder (made by this run, or recorded as made by another run of this
/// user) that no other run holds and that is still empty; real directories are never removed.
#[derive(Debug, Default)]
pub struct Holds {
    held: Vec<Held>,
    records: LazyRecords,
}

impl Holds {
    /// Holds the protected directory at `path` ([`Held::acquire`]): `Ok(false)` when there is
    /// nothing to hold. A placeholder made here is recorded ([`records`]).
    pub fn acquire(&mut self, path: &Path) -> std::io::Result<bool> {
        let Some(mut held) = Held::acquire(path)? else {
            return Ok(false);
        };
        if held.created {
            held.identity = Identity::of(&held.dir);
            match (&held.identity, self.records.get(true)) {
                (Some(id), Some(r)) => r.record(id, path),
                _ => held.identity = None,
            }
        }
        self.held.push(held);
        Ok(true)
    }

    /// Moves every held directory's fd (and the records directory's) to a number at least
    /// `min` (the lock goes with the open file, not the number), so a launcher that then
    /// places other fds at fixed numbers below `min` (`dup2`) cannot close one and drop its
    /// lock.
    pub fn move_fds_above(&mut self, min: std::os::fd::RawFd) -> std::io::Result<()> {
        for h in &mut self.held {
            move_fd_above(&mut h.dir, min)?;
        }
        if let Some(Some(r)) = &mut self.records.0 {
            move_fd_above(r.dir_mut(), min)?;
        }
        Ok(())
    }

    /// How many directories are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether no directory is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

impl Drop for Holds {
    fn drop(&mut self) {
        release(std::mem::take(&mut self.held), &mut self.records);
    }
}

/// Moves `file`'s fd to a number at least `min` (nothing when it already is).
fn move_fd_above(file: &mut std::fs::File, min: std::os::fd::RawFd) -> std::io::Result<()> {
    use std::os::fd::FromRawFd;
    if file.as_raw_fd() >= min {
        return Ok(());
    }
    // SAFETY: F_DUPFD_CLOEXEC makes a new fd of an fd we own; it is owned from here on, and
    // the old one is closed when replaced (a lock stays with the file).
    let fd = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd, owned by nobody else.
    *file = unsafe { std::fs::File::from_raw_fd(fd) };
    Ok(())
}

/// The records directory, opened the first time a run needs it (a run that makes and finds
/// no placeholder never opens it).
#[derive(Debug, Default)]
struct LazyRecords(Option<Option<Records>>);

impl LazyRecords {
    /// The records, opened (and with `create`, the directory made) on first use; `None` when
    /// no safe directory exists.
    fn get(&mut self, create: bool) -> Option<&Records> {
        if self.0.as_ref().is_some_and(Option::is_none) && create {
            self.0 = None;
        }
        self.0.get_or_insert_with(|| Records::open(create)).as_ref()
    }
}

/// One protected directory, open and share-locked.
#[derive(Debug)]
struct Held {
    path: PathBuf,
    dir: std::fs::File,
    created: bool,
    /// Its identity, once known to be recorded (made by this run, or found in the records).
    identity: Option<Identity>,
}

impl Held {
    /// Opens and share-locks the protected directory at `path`, creating it as a
    /// placeholder when missing. Retries when a concurrent run removes it meanwhile.
    /// `Ok(None)`: nothing to hold. Either this user cannot create it, so neither can the
    /// command, or a directory there cannot be opened by this user: another user's, which no
    /// run of this code made (placeholders are mode 0755); the caller still mounts over it.
    fn acquire(path: &Path) -> std::io::Result<Option<Held>> {
        for _ in 0..10 {
            let mut created = false;
            match std::fs::DirBuilder::new().mode(0o755).create(path) {
                Ok(()) => created = true,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EACCES | libc::EPERM | libc::EROFS)
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
            // A directory only, and without waiting: a FIFO put at the path must not block.
            let dir = match std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(path)
            {
                Ok(d) => d,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) if e.raw_os_error() == Some(libc::EACCES) => return Ok(None),
                Err(e) => return Err(e),
            };
            if created {
                // Readable by every user whatever the umask, so their runs can lock it too
                // (an unreadable one would be mounted unlocked and could vanish under them).
                let _ = dir.set_permissions(std::fs::Permissions::from_mode(0o755));
            }
            lock_shared(&dir, path)?;
            let held = Held {
                path: path.to_path_buf(),
                dir,
                created,
                identity: None,
            };
            if held.still_at_path() {
                return Ok(Some(held));
            }
            // Removed (and maybe re-made) by another run while we waited: try again.
            drop(held);
        }
        Err(std::io::Error::other(format!(
            "{} keeps disappearing (concurrent sandbox runs?)",
            path.display()
        )))
    }

    /// Whether this run may remove the placeholder: it made it, or it belongs to this run's
    /// user (another user's is theirs to remove) and the records say a run of this user made
    /// this very directory at this path. Only a directory without subdirectories, or whose
    /// only subdirectories are other placeholders of the run (`held`: the paths it holds),
    /// is looked up (a placeholder is empty; a real `.git` is not), so a run that finds only
    /// real directories opens no record.
    fn removable(&mut self, records: &mut LazyRecords, held: &[PathBuf]) -> bool {
        if self.created {
            return true;
        }
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        let Ok(m) = self.dir.metadata() else {
            return false;
        };
        // (File systems that count no subdirectory links report 1.)
        let leaf = m.nlink() <= 2
            || held
                .iter()
                .any(|p| p != &self.path && p.starts_with(&self.path));
        if m.uid() != me || !leaf {
            return false;
        }
        let Some(id) = Identity::of(&self.dir) else {
            return false;
        };
        let recorded = records
            .get(false)
            .is_some_and(|r| r.recorded(&id, &self.path));
        if recorded {
            self.identity = Some(id);
        }
        recorded
    }

    fn still_at_path(&self) -> bool {
        match (self.dir.metadata(), std::fs::symlink_metadata(&self.path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }

    /// Converts this run's shared lock to an exclusive one if no other run holds it. (On
    /// failure the shared lock is gone too: only for a directory being released.)
    fn lock_exclusive(&self) -> bool {
        // SAFETY: flock on an fd we own.
        unsafe { libc::flock(self.dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    }
}

/// Releases a run's directories: those this run may remove and no other run holds are locked
/// exclusively, looked for in the other mount namespaces all at once, and removed deepest
/// first (a parent made for a placeholder empties only once that is gone) if still empty and
/// at their path; the rest are just unlocked. Their records go with them, and the records of
/// placeholders removed from outside are swept then too ([`Records::sweep`]).
fn release(mut held: Vec<Held>, records: &mut LazyRecords) {
    held.sort_by_key(|h| std::cmp::Reverse(h.path.components().count()));
    let paths: Vec<PathBuf> = held.iter().map(|h| h.path.clone()).collect();
    let mine: Vec<Held> = held
        .into_iter()
        .filter_map(|mut h| (h.removable(records, &paths) && h.lock_exclusive()).then_some(h))
        .collect();
    if mine.is_empty() {
        return;
    }
    let paths: Vec<&Path> = mine.iter().map(|h| h.path.as_path()).collect();
    let kept = stay_mounted_elsewhere(&paths);
    let mut removed = false;
    for h in &mine {
        if kept.contains(&h.path.as_path()) {
            continue;
        }
        // Forgotten first: once removed, its inode number may go at once to a directory
        // another run makes, whose record then has this one's name.
        let recorded = h.identity.as_ref().zip(records.get(false));
        if let Some((id, r)) = recorded {
            r.forget(id, &h.path);
        }
        if h.remove() {
            removed = true;
        } else if let Some((id, r)) = recorded.filter(|_| h.still_at_path()) {
            // Still there (filled): a later run may remove it once empty.
            r.record(id, &h.path);
        }
    }
    if let Some(r) = records.get(false).filter(|_| removed) {
        r.sweep();
    }
}

impl Held {
    /// Removes the directory if it is still the one at its path and empty. Looked up and
    /// removed inside its parent directory, opened with no symbolic link on the way: a
    /// directory on the path that a concurrent process renames and replaces with a link
    /// (in a shared writable `/tmp`, `renameat2(RENAME_EXCHANGE)` in a loop) between the
    /// check and the removal must not redirect `rmdir` to another empty directory, such as
    /// a placeholder another live sandbox has its mount on. (`rmdir` fails on a directory
    /// that is not empty.) Whether it was removed.
    fn remove(&self) -> bool {
        use std::os::unix::ffi::OsStrExt;
        let (Some(parent), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return false;
        };
        let (Ok(parent), Ok(name)) = (
            std::ffi::CString::new(parent.as_os_str().as_bytes()),
            std::ffi::CString::new(name.as_bytes()),
        ) else {
            return false;
        };
        let fd = crate::sys::open_no_symlinks(&parent, true);
        if fd < 0 {
            return false;
        }
        // SAFETY: a fresh fd from openat2, owned from here on.
        let parent: std::os::fd::OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
        // SAFETY: fstatat fills a zeroed stack struct; the fd and name are live.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let found = unsafe {
            libc::fstatat(
                parent.as_raw_fd(),
                name.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        } == 0;
        let same = found
            && self
                .dir
                .metadata()
                .is_ok_and(|m| m.dev() == st.st_dev && m.ino() == st.st_ino);
        if !same {
            return false;
        }
        #[cfg(test)]
        release_tests::before_remove(&self.path);
        // SAFETY: unlinkat on a live directory fd and a NUL-terminated name.
        unsafe { libc::unlinkat(parent.as_raw_fd(), name.as_ptr(), libc::AT_REMOVEDIR) == 0 }
    }
}

/// Takes a shared `flock` on `dir`, waiting at most [`LOCK_WAIT`] for an exclusive holder.
fn lock_shared(dir: &std::fs::File, path: &Path) -> std::io::Result<()> {
    let start = std::time::Instant::now();
    loop {
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(e);
        }
        if start.elapsed() > LOCK_WAIT {
            return Err(std::io::Error::other(format!(
                "{} is locked by another process (for over {} s: no sandbox run's cleanup)",
                path.display(),
                LOCK_WAIT.as_secs()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// [`mounted_elsewhere`] for longer than a namespace takes to go away: the run's own
/// namespace (bwrap's, or a killed command's) can still be tearing down just after its
/// processes were waited for. Up to a quarter second, only while a mount is found; the
/// paths still mounted then are kept.
fn stay_mounted_elsewhere<'p>(paths: &[&'p Path]) -> Vec<&'p Path> {
    if crate::test_hooks::forced(NO_MOUNT_LOOK_ENV) {
        return Vec::new();
    }
    let mut found = mounted_elsewhere(paths);
    for _ in 0..25 {
        if found.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        found = mounted_elsewhere(&found);
    }
    found
}

/// Which of `paths` are mount points in another mount namespace. A command whose `sandbox`
/// was killed with SIGKILL keeps running, without anyone holding the placeholder's lock,
/// under the read-only mount over it; removing the directory would detach that mount there,
/// and the command could then create the protected name (a `.git` with `core.fsmonitor` that
/// the user's next `git status` runs). Such a placeholder is left for a later run to remove.
/// Another user's command counts too (root's, over a placeholder of `sbxtest` in a directory
/// they share): its `ns/mnt` link is not readable, but its `mountinfo` is, by anyone, so
/// those tables are read (once per distinct text). When `/proc` cannot be read, all are
/// kept. One pass over the processes, whatever the number of paths.
fn mounted_elsewhere<'p>(paths: &[&'p Path]) -> Vec<&'p Path> {
    use std::os::unix::ffi::OsStrExt;
    let own = std::fs::read_link("/proc/self/ns/mnt").ok();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return paths.to_vec();
    };
    let mut seen = std::collections::HashSet::new();
    let mut seen_texts = std::collections::HashSet::new();
    let mut found: Vec<&Path> = Vec::new();
    for e in procs.flatten() {
        if found.len() == paths.len() {
            break;
        }
        if !e.file_name().as_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        // Other users' processes answer EACCES: their mount table is read all the same.
        if let Ok(ns) = std::fs::read_link(e.path().join("ns/mnt")) {
            if Some(&ns) == own.as_ref() || !seen.insert(ns) {
                continue;
            }
        }
        if let Ok(text) = std::fs::read(e.path().join("mountinfo")) {
            if !seen_texts.insert(text.clone()) {
                continue;
            }
            for point in mount_points(&text) {
                if let Some(p) = paths.iter().find(|p| p.as_os_str().as_bytes() == point) {
                    if !found.contains(p) {
                        found.push(p);
                    }
                }
            }
        }
    }
    found
}

/// Whether `/proc/PID/mountinfo` text lists `path` as a mount point.
#[cfg(test)]
fn mount_point_listed(mountinfo: &[u8], path: &[u8]) -> bool {
    mount_points(mountinfo).any(|p| p == path)
}

/// The mount points `/proc/PID/mountinfo` text lists (field 5, octal escapes undone).
fn mount_points(mountinfo: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    mountinfo.split(|&b| b == b'\n').filter_map(|line| {
        let field = line.split(|&b| b == b' ').nth(4)?;
        let mut out = Vec::with_capacity(field.len());
        let mut i = 0;
        while i < field.len() {
            let octal = field
                .get(i + 1..i + 4)
                .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
            match (field[i], octal) {
                (b'\\', Some(d)) => {
                    out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                    i += 4;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        Some(out)
    })
}

#[cfg(test)]
mod release_tests {
    use super::Holds;
    use std::cell::RefCell;
    use std::path::Path;

    type Hook = Box<dyn FnMut(&Path)>;
    thread_local! {
        /// Runs between a release's last check of a placeholder and its removal.
        static BEFORE_REMOVE: RefCell<Option<Hook>> = RefCell::new(None);
    }

    pub(super) fn before_remove(path: &Path) {
        BEFORE_REMOVE.with(|h| {
            if let Some(f) = h.borrow_mut().as_mut() {
                f(path)
            }
        });
    }

    /// A directory on the placeholder's path swapped for a link (to a directory holding an
    /// empty directory of the same name: another live sandbox's placeholder) right after
    /// the release's checks: the release removes its own placeholder, not the link's.
    #[test]
    fn a_link_swapped_in_after_the_checks_does_not_redirect_the_removal() {
        let b = base("swap");
        let (ws, other, old) = (b.join("ws"), b.join("other"), b.join("ws.old"));
        std::fs::create_dir(&ws).unwrap();
        std::fs::create_dir_all(other.join(".git")).unwrap();
        let mut holds = Holds::default();
        assert!(holds.acquire(&ws.join(".git")).unwrap());
        let (ws2, other2, old2) = (ws.clone(), other.clone(), old.clone());
        BEFORE_REMOVE.with(|h| {
            *h.borrow_mut() = Some(Box::new(move |_| {
                std::fs::rename(&ws2, &old2).unwrap();
                std::os::unix::fs::symlink(&other2, &ws2).unwrap();
            }))
        });
        drop(holds);
        BEFORE_REMOVE.with(|h| *h.borrow_mut() = None);
        assert!(
            other.join(".git").is_dir(),
            "the link's directory was removed"
        );
        assert!(!old.join(".git").exists(), "the placeholder stayed");
        std::fs::remove_dir_all(&b).unwrap();
    }

    fn base(name: &str) -> std::path::PathBuf {
        let b = std::env::temp_dir().join(format!("sbx-holds-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&b);
        std::fs::create_dir(&b).unwrap();
        b
    }

    /// A run's placeholders go together when it ends, a missing parent made for one with it
    /// (in whatever order they were taken), while another run's hold keeps a shared one.
    #[test]
    fn placeholders_go_with_the_last_run_parents_after_children() {
        let b = base("release");
        let (parent, child, shared) = (b.join("a"), b.join("a/.git"), b.join(".codex"));
        let mut first = Holds::default();
        for p in [&parent, &child, &shared] {
            assert!(first.acquire(p).unwrap(), "{}", p.display());
        }
        let mut second = Holds::default();
        assert!(second.acquire(&shared).unwrap());
        drop(first);
        assert!(!parent.exists(), "the made parent stays");
        assert!(shared.is_dir(), "removed while another run holds it");
        drop(second);
        assert!(!shared.exists(), "the last run out leaves it");
        std::fs::remove_dir(&b).unwrap();
    }

    /// A placeholder and the parent made for it, both made by one run and held by another
    /// that ends last: that run finds both recorded and removes them, child first.
    #[test]
    fn another_runs_recorded_placeholders_go_with_the_last_run() {
        let b = base("recorded");
        let (parent, child) = (b.join("a"), b.join("a/.git"));
        let mut first = Holds::default();
        let mut second = Holds::default();
        for p in [&parent, &child] {
            assert!(first.acquire(p).unwrap());
            assert!(second.acquire(p).unwrap());
        }
        assert!(second.held.iter().all(|h| !h.created));
        drop(first);
        assert!(child.is_dir(), "removed while another run holds it");
        drop(second);
        assert!(
            !parent.exists(),
            "the last run left the recorded placeholders"
        );
        std::fs::remove_dir(&b).unwrap();
    }

    /// An empty directory carrying the mark of earlier versions (`user.sandbox.placeholder`,
    /// which the command can set) is not one: no run removes it.
    #[test]
    fn a_marked_directory_without_a_record_stays() {
        use std::os::fd::AsRawFd;
        let b = base("marked");
        let p = b.join(".agents");
        std::fs::create_dir(&p).unwrap();
        let f = std::fs::File::open(&p).unwrap();
        // SAFETY: sets a small xattr on an fd we own.
        let set = unsafe {
            libc::fsetxattr(
                f.as_raw_fd(),
                c"user.sandbox.placeholder".as_ptr(),
                b"1".as_ptr().cast(),
                1,
                0,
            )
        };
        assert_eq!(set, 0, "{}", std::io::Error::last_os_error());
        let mut holds = Holds::default();
        assert!(holds.acquire(&p).unwrap());
        drop(holds);
        assert!(p.is_dir(), "a marked directory was removed");
        std::fs::remove_dir_all(&b).unwrap();
    }

    /// Moving the held fds above a number keeps the locks (the bwrap launcher then places
    /// its own fds at fixed numbers below it).
    #[test]
    fn moved_fds_keep_their_locks() {
        use std::os::fd::AsRawFd;
        let b = base("move");
        let p = b.join(".git");
        let mut holds = Holds::default();
        assert!(holds.acquire(&p).unwrap());
        holds.move_fds_above(200).unwrap();
        assert!(holds.held.iter().all(|h| h.dir.as_raw_fd() >= 200));
        let other = std::fs::File::open(&p).unwrap();
        // SAFETY: flock on an fd we own.
        let ex = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_ne!(ex, 0, "the shared lock went with the old fd");
        drop(other);
        drop(holds);
        assert!(!p.exists());
        std::fs::remove_dir(&b).unwrap();
    }

    /// A directory that is no placeholder, or no longer empty, stays; a placeholder emptied
    /// again goes with a later run.
    #[test]
    fn real_and_filled_directories_stay() {
        let b = base("stay");
        let (real, filled) = (b.join(".git"), b.join(".agents"));
        std::fs::create_dir(&real).unwrap();
        let mut holds = Holds::default();
        assert!(holds.acquire(&real).unwrap());
        assert!(holds.acquire(&filled).unwrap());
        std::fs::write(filled.join("f"), "x").unwrap();
        drop(holds);
        assert!(real.is_dir() && filled.join("f").is_file());
        // Still recorded: once emptied, a later run removes the placeholder, not the real one.
        std::fs::remove_file(filled.join("f")).unwrap();
        let mut later = Holds::default();
        assert!(later.acquire(&real).unwrap() && later.acquire(&filled).unwrap());
        drop(later);
        assert!(real.is_dir() && !filled.exists());
        std::fs::remove_dir_all(&b).unwrap();
    }
}

#[cfg(test)]
mod mountinfo_tests {
    use super::mount_point_listed;

    #[test]
    fn mount_points_are_matched_whole_and_unescaped() {
        let text = b"36 25 0:32 / /tmp/a\\040b/.git ro,relatime - tmpfs tmpfs rw\n\
                     37 25 0:33 / /tmp/ws/.gitx rw - tmpfs tmpfs rw\n";
        assert!(mount_point_listed(text, b"/tmp/a b/.git"));
        assert!(!mount_point_listed(text, b"/tmp/ws/.git"));
        assert!(!mount_point_listed(b"", b"/tmp/ws/.git"));
    }
}
