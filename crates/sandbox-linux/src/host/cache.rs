//! A per-user cache of what `bwrap --version` and `bwrap --help` said, keyed by the identity of
//! the bwrap binary (path, device, inode, size, mtime, ctime), so that a launch starts no probe
//! subprocess: running bwrap twice to read its flags cost more than the sandboxed command.
//!
//! The cache lives in `$XDG_RUNTIME_DIR/sandbox/` (when that runtime directory belongs to this
//! user), else `/tmp/sandbox-UID/`. The directory is created with mode 0700 and refused (no
//! cache, the flags are probed every time) when it is a symlink, not a directory, not owned by
//! the effective user, or writable by group or others. `/tmp/sandbox-UID/` also holds the
//! placeholder records ([`crate::placeholder::records`]), so every run keeps it read-only for
//! the command; a cache under `$XDG_RUNTIME_DIR` is writable by a command only where the
//! policy makes it so.
//!
//! A poisoned entry cannot weaken enforcement: each cached flag only tells the compiler that a
//! bwrap option may be used. An entry reporting a needed option missing is checked against
//! bwrap itself before a policy is refused (and rewritten), so it cannot block later runs
//! either; an entry claiming an option this bwrap lacks makes bwrap stop with "Unknown option"
//! before anything runs. `proc_mount` is a fact about the host, not the binary, and is never
//! cached (it is always `true` here; a refusal is found by the launcher's diagnosis).

use crate::bwrap::plan::BwrapFeatures;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// First line of a cache file; bump when the format or the parsed flags change.
const MAGIC: &str = "sandbox bwrap-features v1";
const FILE: &str = "bwrap-features";

/// The identity line of a bwrap binary: any upgrade or replacement changes it.
pub fn identity(bwrap: &Path) -> std::io::Result<String> {
    let m = std::fs::metadata(bwrap)?;
    Ok(format!(
        "{:?} dev={} ino={} size={} mtime={}.{} ctime={}.{}",
        bwrap,
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec()
    ))
}

/// The per-user cache directory, held open: every file operation is made relative to this
/// descriptor, so swapping the path for a symlink after the checks (the sandboxed command may
/// be able to write `/tmp`) cannot redirect a write elsewhere.
#[derive(Debug)]
pub struct CacheDir {
    dir: std::fs::File,
}

/// The per-user cache directory, created if needed; `None` when no safe one exists.
pub fn cache_dir() -> Option<CacheDir> {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute() && open_private(d, uid, false).is_some());
    let dir = match runtime {
        Some(d) => d.join("sandbox"),
        None => PathBuf::from(format!("/tmp/sandbox-{uid}")),
    };
    open_private(&dir, uid, true).map(|dir| CacheDir { dir })
}

/// Opens `dir` if it is a real directory (not a symlink) owned by `uid` and not writable by
/// anyone else; with `create`, a missing one is made with mode 0700 first.
pub(crate) fn open_private(dir: &Path, uid: u32, create: bool) -> Option<std::fs::File> {
    let open = || {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(dir)
    };
    let file = match open() {
        Ok(f) => f,
        Err(e) if create && e.kind() == std::io::ErrorKind::NotFound => {
            // A concurrent run may create it first; the checks below decide either way.
            let _ = std::fs::DirBuilder::new().mode(0o700).create(dir);
            open().ok()?
        }
        Err(_) => return None,
    };
    let meta = file.metadata().ok()?;
    (meta.is_dir() && meta.uid() == uid && meta.mode() & 0o022 == 0).then_some(file)
}

impl CacheDir {
    fn cname(name: &str) -> std::ffi::CString {
        std::ffi::CString::new(name).expect("cache file names have no NUL")
    }

    /// Opens `name` inside the directory, never following a symlink there.
    fn open(&self, name: &str, flags: libc::c_int) -> std::io::Result<std::fs::File> {
        let c = Self::cname(name);
        // SAFETY: openat with a live directory fd and a NUL-terminated name; the returned fd
        // is new and owned by the File below.
        let fd = unsafe {
            libc::openat(
                self.dir.as_raw_fd(),
                c.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o600 as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by openat and is owned by nobody else.
        Ok(unsafe { std::fs::File::from_raw_fd(fd) })
    }

    fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        let (f, t) = (Self::cname(from), Self::cname(to));
        let d = self.dir.as_raw_fd();
        // SAFETY: renameat within one live directory fd, NUL-terminated names.
        if unsafe { libc::renameat(d, f.as_ptr(), d, t.as_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    fn unlink(&self, name: &str) {
        let c = Self::cname(name);
        // SAFETY: unlinkat in a live directory fd with a NUL-terminated name.
        unsafe { libc::unlinkat(self.dir.as_raw_fd(), c.as_ptr(), 0) };
    }

    /// The cached features of the binary with identity `key`, if the entry matches.
    pub fn load(&self, key: &str) -> Option<BwrapFeatures> {
        let file = self.open(FILE, libc::O_RDONLY).ok()?;
        let text = std::io::read_to_string(file).ok()?;
        parse(&text, key)
    }

    /// Stores the features for `key` (atomically: a temporary file renamed over the old
    /// entry). Failures are ignored: the cache only saves time.
    pub fn store(&self, key: &str, f: &BwrapFeatures) {
        let tmp = format!("{FILE}.{}.tmp", std::process::id());
        let written = self
            .open(&tmp, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL)
            .and_then(|mut file| file.write_all(render(key, f).as_bytes()));
        if written.is_err() || self.rename(&tmp, FILE).is_err() {
            self.unlink(&tmp);
        }
    }

    /// Whether `--backend auto` found last time that this user can create a user namespace.
    /// Only the positive answer is remembered, so a forged or stale marker can at worst make
    /// `auto` try bwrap, whose refusal is then diagnosed before anything runs (and clears the
    /// marker); it can never make `auto` pass over bwrap.
    pub fn userns_ok(&self) -> bool {
        self.open(USERNS_OK, libc::O_RDONLY)
            .and_then(|f| f.metadata())
            .is_ok_and(|m| m.is_file())
    }

    /// Whether the Landlock backend found, for `key` (user and boot), that a private mount
    /// namespace can be made; `Some(user_namespace)` when so. Only the positive answer is
    /// remembered; a wrong one is found by the launch before anything runs (see
    /// [`crate::host::probe::probe_for_launch`]).
    pub fn mountns_ok(&self, key: &str) -> Option<bool> {
        let file = self.open(MOUNTNS_OK, libc::O_RDONLY).ok()?;
        let mut text = String::with_capacity(256);
        file.take(512).read_to_string(&mut text).ok()?;
        let mut lines = text.lines();
        if lines.next()? != MOUNTNS_MAGIC || lines.next()?.strip_prefix("key ")? != key {
            return None;
        }
        let userns = match lines.next()? {
            "userns 1" => true,
            "userns 0" => false,
            _ => return None,
        };
        lines.next().is_none().then_some(userns)
    }

    /// Records (`Some(user_namespace)`) or forgets (`None`) the mount namespace answer for
    /// `key`. Failures are ignored.
    pub fn set_mountns_ok(&self, key: &str, ok: Option<bool>) {
        let Some(userns) = ok else {
            self.unlink(MOUNTNS_OK);
            return;
        };
        let text = format!("{MOUNTNS_MAGIC}\nkey {key}\nuserns {}\n", u8::from(userns));
        let tmp = format!("{MOUNTNS_OK}.{}.tmp", std::process::id());
        let written = self
            .open(&tmp, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL)
            .and_then(|mut file| file.write_all(text.as_bytes()));
        if written.is_err() || self.rename(&tmp, MOUNTNS_OK).is_err() {
            self.unlink(&tmp);
        }
    }

    /// Records (or forgets) that user namespaces work. Failures are ignored.
    pub fn set_userns_ok(&self, ok: bool) {
        if ok {
            let _ = self.open(USERNS_OK, libc::O_WRONLY | libc::O_CREAT);
        } else {
            self.unlink(USERNS_OK);
        }
    }
}

/// Marker: this user could make a private mount namespace (for the Landlock backend) when
/// last checked; holds the key it is valid for.
const MOUNTNS_OK: &str = "mountns-ok";
/// First line of the mount namespace marker.
const MOUNTNS_MAGIC: &str = "sandbox mountns-ok v1";

/// Marker: this user could create a user namespace when last checked.
const USERNS_OK: &str = "userns-ok";

/// Parses a cache file; `None` unless it is well formed and for `key`.
fn parse(text: &str, key: &str) -> Option<BwrapFeatures> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC || lines.next()?.strip_prefix("key ")? != key {
        return None;
    }
    let version = lines.next()?.strip_prefix("version")?.trim();
    // Printed with -v: only a plain version string is accepted (no control characters).
    let plain = |c: char| c.is_ascii_alphanumeric() || ".+~-_".contains(c);
    if version.len() > 64 || !version.chars().all(plain) {
        return None;
    }
    let flags: Vec<&str> = lines
        .next()?
        .strip_prefix("flags")?
        .split_whitespace()
        .collect();
    if lines.next().is_some() {
        return None;
    }
    let has = |f: &str| flags.contains(&f);
    Some(BwrapFeatures {
        version: (!version.is_empty()).then(|| version.to_string()),
        perms: has("perms"),
        cap_drop: has("cap_drop"),
        seccomp: has("seccomp"),
        ro_bind_data: has("ro_bind_data"),
        proc_mount: true,
    })
}

fn render(key: &str, f: &BwrapFeatures) -> String {
    let mut flags = Vec::new();
    for (on, name) in [
        (f.perms, "perms"),
        (f.cap_drop, "cap_drop"),
        (f.seccomp, "seccomp"),
        (f.ro_bind_data, "ro_bind_data"),
    ] {
        if on {
            flags.push(name);
        }
    }
    format!(
        "{MAGIC}\nkey {key}\nversion {}\nflags {}\n",
        f.version.as_deref().unwrap_or(""),
        flags.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn features() -> BwrapFeatures {
        BwrapFeatures {
            version: Some("0.8.0".into()),
            perms: true,
            cap_drop: true,
            seccomp: false,
            ro_bind_data: true,
            proc_mount: true,
        }
    }

    fn uid() -> u32 {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() }
    }

    fn dir_in(d: &Path) -> CacheDir {
        CacheDir {
            dir: open_private(d, uid(), false).unwrap(),
        }
    }

    #[test]
    fn round_trips_and_checks_the_key() {
        let d = tempfile::tempdir().unwrap();
        let c = dir_in(d.path());
        c.store("K1", &features());
        assert_eq!(c.load("K1"), Some(features()));
        assert_eq!(c.load("K2"), None, "another binary's entry");
        let text = std::fs::read_to_string(d.path().join(FILE)).unwrap();
        assert!(
            text.ends_with("flags perms cap_drop ro_bind_data\n"),
            "{text}"
        );
        let mode = std::fs::metadata(d.path().join(FILE)).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn userns_marker_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let c = dir_in(d.path());
        assert!(!c.userns_ok());
        c.set_userns_ok(true);
        assert!(c.userns_ok());
        c.set_userns_ok(false);
        assert!(!c.userns_ok());
    }

    #[test]
    fn mountns_marker_round_trips_and_checks_the_key() {
        let d = tempfile::tempdir().unwrap();
        let c = dir_in(d.path());
        assert_eq!(c.mountns_ok("uid=1 boot=a"), None);
        c.set_mountns_ok("uid=1 boot=a", Some(true));
        assert_eq!(c.mountns_ok("uid=1 boot=a"), Some(true));
        assert_eq!(c.mountns_ok("uid=1 boot=b"), None, "another boot");
        assert_eq!(c.mountns_ok("uid=2 boot=a"), None, "another user");
        c.set_mountns_ok("uid=0 boot=a", Some(false));
        assert_eq!(c.mountns_ok("uid=0 boot=a"), Some(false));
        let mode = std::fs::metadata(d.path().join(MOUNTNS_OK)).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600);
        c.set_mountns_ok("uid=0 boot=a", None);
        assert_eq!(c.mountns_ok("uid=0 boot=a"), None);
        assert!(!d.path().join(MOUNTNS_OK).exists());
        for bad in [
            "",
            "sandbox mountns-ok v0\nkey k\nuserns 1\n",
            "sandbox mountns-ok v1\nkey k\nuserns 2\n",
            "sandbox mountns-ok v1\nkey k\nuserns 1\nextra\n",
            "sandbox mountns-ok v1\nkey k\n",
        ] {
            std::fs::write(d.path().join(MOUNTNS_OK), bad).unwrap();
            assert_eq!(c.mountns_ok("k"), None, "{bad:?}");
        }
    }

    #[test]
    fn entries_behind_symlinks_are_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let target = elsewhere.path().join("victim");
        std::fs::write(&target, render("K", &features())).unwrap();
        std::os::unix::fs::symlink(&target, d.path().join(FILE)).unwrap();
        let c = dir_in(d.path());
        assert_eq!(c.load("K"), None, "a symlinked entry is not read");
        c.store("K", &features());
        assert!(
            std::fs::symlink_metadata(d.path().join(FILE))
                .unwrap()
                .file_type()
                .is_file(),
            "the link was replaced, not written through"
        );
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            render("K", &features())
        );
    }

    #[test]
    fn malformed_entries_are_ignored() {
        let good = render("K", &features());
        assert!(parse(&good, "K").is_some());
        assert!(parse(&good.replace(MAGIC, "sandbox bwrap-features v0"), "K").is_none());
        assert!(parse(&(good.clone() + "extra\n"), "K").is_none());
        assert!(parse("", "K").is_none());
        assert!(parse(&good.replace("flags", "flag"), "K").is_none());
        assert!(
            parse(&good.replace("0.8.0", "0.8\u{1b}[2J"), "K").is_none(),
            "control characters in the version"
        );
    }

    #[test]
    fn never_caches_a_proc_refusal() {
        let mut f = features();
        f.proc_mount = false;
        let d = tempfile::tempdir().unwrap();
        let c = dir_in(d.path());
        c.store("K", &f);
        assert!(c.load("K").unwrap().proc_mount);
    }

    #[test]
    fn identity_changes_when_the_binary_changes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("bwrap");
        std::fs::write(&p, "a").unwrap();
        let before = identity(&p).unwrap();
        std::fs::write(&p, "ab").unwrap();
        assert_ne!(before, identity(&p).unwrap());
    }

    #[test]
    fn refuses_unsafe_directories() {
        let uid = uid();
        let d = tempfile::tempdir().unwrap();
        let made = d.path().join("made");
        assert!(open_private(&made, uid, true).is_some());
        assert_eq!(
            std::fs::symlink_metadata(&made).unwrap().mode() & 0o777,
            0o700
        );
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&made, &link).unwrap();
        assert!(
            open_private(&link, uid, true).is_none(),
            "a symlink is refused"
        );
        let open = d.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            open_private(&open, uid, true).is_none(),
            "a world-writable dir is refused"
        );
        assert!(
            open_private(&made, uid + 1, true).is_none(),
            "another owner is refused"
        );
        let file = d.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(
            open_private(&file, uid, true).is_none(),
            "a file is refused"
        );
    }
}
