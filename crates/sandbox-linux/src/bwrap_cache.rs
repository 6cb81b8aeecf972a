//! A per-user cache of what `bwrap --version` and `bwrap --help` said, keyed by the identity of
//! the bwrap binary (path, device, inode, size, mtime, ctime), so that a launch starts no probe
//! subprocess: running bwrap twice to read its flags cost more than the sandboxed command.
//!
//! The cache lives in `$XDG_RUNTIME_DIR/sandbox/` (when that runtime directory belongs to this
//! user), else `/tmp/sandbox-UID/`. The directory is created with mode 0700 and refused (no
//! cache, the flags are probed every time) when it is a symlink, not a directory, not owned by
//! the effective user, or writable by group or others.
//!
//! A poisoned entry cannot weaken enforcement: each cached flag only tells the compiler that a
//! bwrap option may be used, and the compiler refuses a policy whose needed option is reported
//! missing; an entry claiming an option this bwrap lacks makes bwrap stop with "Unknown option"
//! before anything runs. `proc_mount` is a fact about the host, not the binary, and is never
//! cached (it is always `true` here; a refusal is found by the launcher's diagnosis).

use crate::bwrap::BwrapFeatures;
use std::io::Write as _;
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

/// The per-user cache directory, created if needed; `None` when no safe one exists.
pub fn cache_dir() -> Option<PathBuf> {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute() && private_dir(d, uid, false));
    let dir = match runtime {
        Some(d) => d.join("sandbox"),
        None => PathBuf::from(format!("/tmp/sandbox-{uid}")),
    };
    private_dir(&dir, uid, true).then_some(dir)
}

/// Whether `dir` is a real directory (not a symlink) owned by `uid` and not writable by
/// anyone else; with `create`, a missing one is made with mode 0700 first.
fn private_dir(dir: &Path, uid: u32, create: bool) -> bool {
    let meta = match std::fs::symlink_metadata(dir) {
        Err(e) if create && e.kind() == std::io::ErrorKind::NotFound => {
            // A concurrent run may create it first; the checks below decide either way.
            let _ = std::fs::DirBuilder::new().mode(0o700).create(dir);
            match std::fs::symlink_metadata(dir) {
                Ok(m) => m,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
        Ok(m) => m,
    };
    meta.file_type().is_dir() && meta.uid() == uid && meta.mode() & 0o022 == 0
}

/// The cached features of the binary with identity `key` in `dir`, if the entry matches.
pub fn load(dir: &Path, key: &str) -> Option<BwrapFeatures> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join(FILE))
        .ok()?;
    let text = std::io::read_to_string(file).ok()?;
    parse(&text, key)
}

/// Parses a cache file; `None` unless it is well formed and for `key`.
fn parse(text: &str, key: &str) -> Option<BwrapFeatures> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC || lines.next()?.strip_prefix("key ")? != key {
        return None;
    }
    let version = lines.next()?.strip_prefix("version")?.trim();
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

/// Stores the features for `key` (atomically: a temporary file renamed over the old entry).
/// Failures are ignored: the cache only saves time.
pub fn store(dir: &Path, key: &str, f: &BwrapFeatures) {
    let tmp = dir.join(format!("{FILE}.{}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut file| file.write_all(render(key, f).as_bytes()));
    if written.is_err() || std::fs::rename(&tmp, dir.join(FILE)).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Marker: this user could create a user namespace when last checked.
const USERNS_OK: &str = "userns-ok";

/// Whether `--backend auto` found last time that this user can create a user namespace. Only
/// the positive answer is remembered, so a forged or stale marker can at worst make `auto` try
/// bwrap, whose refusal is then diagnosed before anything runs (and clears the marker); it can
/// never make `auto` pass over bwrap.
pub fn userns_ok(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join(USERNS_OK)).is_ok_and(|m| m.file_type().is_file())
}

/// Records (or forgets) that user namespaces work. Failures are ignored.
pub fn set_userns_ok(dir: &Path, ok: bool) {
    let path = dir.join(USERNS_OK);
    if ok {
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path);
    } else {
        let _ = std::fs::remove_file(path);
    }
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

    #[test]
    fn round_trips_and_checks_the_key() {
        let d = tempfile::tempdir().unwrap();
        store(d.path(), "K1", &features());
        assert_eq!(load(d.path(), "K1"), Some(features()));
        assert_eq!(load(d.path(), "K2"), None, "another binary's entry");
        let text = std::fs::read_to_string(d.path().join(FILE)).unwrap();
        assert!(
            text.ends_with("flags perms cap_drop ro_bind_data\n"),
            "{text}"
        );
    }

    #[test]
    fn userns_marker_round_trips() {
        let d = tempfile::tempdir().unwrap();
        assert!(!userns_ok(d.path()));
        set_userns_ok(d.path(), true);
        assert!(userns_ok(d.path()));
        set_userns_ok(d.path(), false);
        assert!(!userns_ok(d.path()));
    }

    #[test]
    fn malformed_entries_are_ignored() {
        let good = render("K", &features());
        assert!(parse(&good, "K").is_some());
        assert!(parse(&good.replace(MAGIC, "sandbox bwrap-features v0"), "K").is_none());
        assert!(parse(&(good.clone() + "extra\n"), "K").is_none());
        assert!(parse("", "K").is_none());
        assert!(parse(&good.replace("flags", "flag"), "K").is_none());
    }

    #[test]
    fn never_caches_a_proc_refusal() {
        let mut f = features();
        f.proc_mount = false;
        let d = tempfile::tempdir().unwrap();
        store(d.path(), "K", &f);
        assert!(load(d.path(), "K").unwrap().proc_mount);
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
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        let d = tempfile::tempdir().unwrap();
        let made = d.path().join("made");
        assert!(private_dir(&made, uid, true));
        assert_eq!(
            std::fs::symlink_metadata(&made).unwrap().mode() & 0o777,
            0o700
        );
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&made, &link).unwrap();
        assert!(!private_dir(&link, uid, true), "a symlink is refused");
        let open = d.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            !private_dir(&open, uid, true),
            "a world-writable dir is refused"
        );
        assert!(
            !private_dir(&made, uid + 1, true),
            "another owner is refused"
        );
        let file = d.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(!private_dir(&file, uid, true), "a file is refused");
    }
}
