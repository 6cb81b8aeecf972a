//! Finding bwrap (never one the sandbox could replace) and learning which flags it has,
//! from its `--help` and `--version`, cached per user ([`crate::host::cache`]).

use super::error::LaunchError;
use crate::bwrap::plan::BwrapFeatures;
use crate::host::cache;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The bwrap binary to use: `/usr/bin/bwrap` if it is there, else the first `bwrap` in `PATH`
/// whose directory is not inside any path the sandbox can write (a planted binary there would
/// run outside the sandbox with our privileges). Relative `PATH` entries are skipped, and so is
/// any candidate (`/usr/bin/bwrap` included) whose file, links followed, lies inside a path the
/// sandbox can write: the command could replace it and the next launch would run unsandboxed.
pub fn find_bwrap(path_var: Option<&OsStr>, writable: &[PathBuf]) -> Option<PathBuf> {
    let outside = |cand: &Path| {
        std::fs::canonicalize(cand).is_ok_and(|real| !writable.iter().any(|w| real.starts_with(w)))
    };
    let system = Path::new("/usr/bin/bwrap");
    if is_executable(system) && outside(system) {
        return Some(system.to_path_buf());
    }
    let path_var = path_var?;
    for dir in std::env::split_paths(path_var) {
        if !dir.is_absolute() {
            continue;
        }
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        if writable.iter().any(|w| dir.starts_with(w)) {
            continue;
        }
        let cand = dir.join("bwrap");
        if is_executable(&cand) && outside(&cand) {
            return Some(cand);
        }
    }
    None
}

/// A bwrap binary [`find_bwrap`] chose for a policy, with the flags [`cached_features`]
/// learned of it: `--backend auto` looks once while choosing and hands this to the bwrap
/// backend ([`crate::BwrapSandbox::with_found`]), which then looks up neither again.
#[derive(Clone, Debug)]
pub struct FoundBwrap {
    pub path: PathBuf,
    /// `None` when neither the cache nor bwrap itself answered (the backend asks again, and
    /// reports the error).
    pub features: Option<BwrapFeatures>,
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Reads bwrap's version and the flags the compiler cares about from `--version` and `--help`.
pub fn probe_features(bwrap: &Path) -> Result<BwrapFeatures, LaunchError> {
    let version = Command::new(bwrap)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LaunchError::io(format!("running {} --version", bwrap.display()), e))?;
    let help = Command::new(bwrap)
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LaunchError::io(format!("running {} --help", bwrap.display()), e))?;
    let help =
        String::from_utf8_lossy(&help.stdout).into_owned() + &String::from_utf8_lossy(&help.stderr);
    Ok(features_from(
        &String::from_utf8_lossy(&version.stdout),
        &help,
    ))
}

/// The features of `bwrap`: from the per-user cache ([`crate::host::cache`]) when it holds an
/// entry for this exact binary, else probed (two short bwrap runs) and stored for next time.
pub fn cached_features(bwrap: &Path) -> Result<BwrapFeatures, LaunchError> {
    let key = cache::identity(bwrap).ok();
    let dir = key.as_ref().and_then(|_| cache::cache_dir());
    if let (Some(dir), Some(key)) = (&dir, &key) {
        if let Some(f) = dir.load(key) {
            return Ok(f);
        }
    }
    fresh_features(bwrap)
}

/// The features of `bwrap` asked of the binary itself (two short bwrap runs), stored in the
/// per-user cache for next time. Also what to do when a cached answer makes a policy refused:
/// the cache can lie in `/tmp`, which a sandboxed command may write.
pub fn fresh_features(bwrap: &Path) -> Result<BwrapFeatures, LaunchError> {
    let key = cache::identity(bwrap).ok();
    let f = probe_features(bwrap)?;
    if let Some(key) = &key {
        // Only when the binary did not change while it was probed.
        if cache::identity(bwrap).ok().as_ref() == Some(key) {
            if let Some(dir) = cache::cache_dir() {
                dir.store(key, &f);
            }
        }
    }
    Ok(f)
}

/// Parses `bwrap --version` and `bwrap --help` output (pure, for tests).
pub fn features_from(version_out: &str, help: &str) -> BwrapFeatures {
    let has = |flag: &str| {
        help.lines()
            .any(|l| l.split_whitespace().next() == Some(flag))
    };
    BwrapFeatures {
        version: version_out.split_whitespace().nth(1).map(|v| v.to_string()),
        perms: has("--perms"),
        cap_drop: has("--cap-drop"),
        seccomp: has("--seccomp"),
        ro_bind_data: has("--ro-bind-data"),
        proc_mount: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_help_and_version() {
        let help = "usage: bwrap [OPTIONS...]\n    --perms OCTAL   Set permissions\n    --seccomp FD   Load\n    --cap-drop CAP  Drop\n";
        let f = features_from("bubblewrap 0.8.0\n", help);
        assert_eq!(f.version.as_deref(), Some("0.8.0"));
        assert!(f.perms && f.seccomp && f.cap_drop);
        assert!(!f.ro_bind_data);
    }

    #[test]
    fn path_search_skips_writable_dirs() {
        let d = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(d.path()).unwrap();
        let fake = dir.join("bwrap");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let found = find_bwrap(Some(dir.as_os_str()), std::slice::from_ref(&dir));
        assert_ne!(found.as_deref(), Some(fake.as_path()));
        if !Path::new("/usr/bin/bwrap").exists() {
            assert_eq!(find_bwrap(Some(dir.as_os_str()), &[]), Some(fake));
        }
    }

    #[test]
    fn a_bwrap_linked_into_a_writable_dir_is_skipped() {
        let d = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(d.path()).unwrap();
        let (bin, writable) = (base.join("bin"), base.join("w"));
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&writable).unwrap();
        let real = writable.join("bwrap");
        std::fs::write(&real, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink(&real, bin.join("bwrap")).unwrap();
        let found = find_bwrap(Some(bin.as_os_str()), std::slice::from_ref(&writable));
        assert_ne!(found.as_deref(), Some(bin.join("bwrap").as_path()));
        // /usr/bin/bwrap inside a writable root is skipped too.
        let found = find_bwrap(None, &[PathBuf::from("/usr")]);
        assert_eq!(found, None);
    }
}
