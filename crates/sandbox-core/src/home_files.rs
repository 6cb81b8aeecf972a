//! Startup files protected by default (`[sandbox] protected_home_files`): files in the home
//! directory that the user's next shell, login, git, ssh, cargo, npm, pip or desktop session
//! runs or obeys. When a writable root contains one (`-C ~`, `--writable-root ~/.config`), it
//! is kept read-only and uncreatable there, like `.git`, so a sandboxed command cannot plant
//! code that later runs outside the sandbox.
//!
//! Unlike `protected_names`, which apply under every writable root, these are paths relative
//! to `HOME`: they only matter where a writable root contains them. A missing one is protected
//! at its first missing component (`~/.config/systemd` when `~/.config` exists but
//! `systemd/` does not), the shallowest path whose creation leads to it.

use crate::error::CoreError;
use crate::resolve::model::{PathKind, Protected};
use crate::resolve::paths::canonical;
use crate::resolve::target::TargetOs;
use std::path::{Component, Path};

/// The default list (relative to `HOME`).
pub const DEFAULT_PROTECTED_HOME_FILES: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    ".config/fish",
    ".inputrc",
    ".ssh/authorized_keys",
    ".ssh/config",
    ".ssh/rc",
    ".gitconfig",
    ".config/git",
    ".local/bin",
    ".cargo/bin",
    ".cargo/config.toml",
    ".cargo/config",
    ".cargo/env",
    ".npmrc",
    ".pypirc",
    ".config/pip",
    ".config/systemd/user",
    ".config/autostart",
    ".config/environment.d",
    ".pam_environment",
    ".xprofile",
    ".xsessionrc",
];

/// The rule name shown by `explain` (the `reason` of a [`Protected`]).
pub fn reason(rel: &str) -> String {
    format!("protected_home_files ~/{rel}")
}

/// Checks one configured entry: a relative path below `HOME` without `..`.
pub fn check_entry(rel: &str) -> Result<(), String> {
    let p = Path::new(rel);
    if rel.is_empty() || p.is_absolute() {
        return Err(format!(
            "`{rel}` must be a path relative to the home directory"
        ));
    }
    if !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(format!("`{rel}` must not contain `.` or `..`"));
    }
    Ok(())
}

/// The protected paths `list` adds under writable root `root` (canonical) for home `home`.
/// `granted(p)` says whether an explicit write rule sits exactly at `p` (the user's choice to
/// allow it, as for `.git`). A symlink on the way inside the root cannot be protected (the
/// command could replace it): that is an error, as for a symlinked `.git`.
pub fn protected_under(
    root: &Path,
    home: &Path,
    list: &[String],
    granted: &dyn Fn(&Path) -> bool,
    target: TargetOs,
) -> Result<Vec<Protected>, CoreError> {
    let home = canonical(home, target);
    let mut out = Vec::new();
    for rel in list {
        let full = home.join(rel);
        // Only paths strictly inside this root; one at or above it is not this root's.
        if !full.starts_with(root) || full == root || granted(&full) {
            continue;
        }
        let mut p = root.to_path_buf();
        let mut kind = PathKind::Dir;
        for c in full.strip_prefix(root).expect("checked above").components() {
            p.push(c);
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(CoreError::SymlinkedProtected {
                        path: p.display().to_string(),
                        target: std::fs::read_link(&p)
                            .map(|t| t.display().to_string())
                            .unwrap_or_else(|_| "?".into()),
                        root: root.display().to_string(),
                    });
                }
                Ok(m) if m.is_dir() => kind = PathKind::Dir,
                Ok(_) => {
                    kind = PathKind::File;
                    if p != full {
                        // A file where a directory would be: nothing can be created below.
                        break;
                    }
                }
                Err(_) => {
                    kind = PathKind::Missing;
                    break;
                }
            }
        }
        if kind == PathKind::File && p != full {
            continue;
        }
        out.push(Protected {
            path: p,
            kind,
            reason: reason(rel),
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn existing_missing_and_outside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().canonicalize().unwrap();
        std::fs::write(home.join(".bashrc"), "").unwrap();
        std::fs::create_dir_all(home.join(".config")).unwrap();
        let l = list(&[
            ".bashrc",
            ".config/systemd/user",
            ".ssh/config",
            ".cargo/bin",
        ]);
        let got = protected_under(&home, &home, &l, &|_| false, TargetOs::Linux).unwrap();
        let got: Vec<(PathBuf, PathKind)> = got.into_iter().map(|p| (p.path, p.kind)).collect();
        assert_eq!(
            got,
            vec![
                (home.join(".bashrc"), PathKind::File),
                (home.join(".cargo"), PathKind::Missing),
                (home.join(".config/systemd"), PathKind::Missing),
                (home.join(".ssh"), PathKind::Missing),
            ]
        );
        // Under a root deeper in the home, only what is inside it.
        let cfg = home.join(".config");
        let got = protected_under(&cfg, &home, &l, &|_| false, TargetOs::Linux).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].path, home.join(".config/systemd"));
        assert_eq!(got[0].reason, "protected_home_files ~/.config/systemd/user");
        // An explicit write rule at the path is the user's choice.
        let got = protected_under(
            &home,
            &home,
            &list(&[".bashrc"]),
            &|p| p.ends_with(".bashrc"),
            TargetOs::Linux,
        )
        .unwrap();
        assert!(got.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_startup_file_inside_the_root_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().canonicalize().unwrap();
        std::os::unix::fs::symlink("dotfiles/bashrc", home.join(".bashrc")).unwrap();
        let e = protected_under(
            &home,
            &home,
            &list(&[".bashrc"]),
            &|_| false,
            TargetOs::Linux,
        )
        .unwrap_err();
        assert!(matches!(e, CoreError::SymlinkedProtected { .. }), "{e}");
    }

    #[test]
    fn entries_are_checked() {
        assert!(check_entry(".bashrc").is_ok());
        assert!(check_entry("/etc/profile").is_err());
        assert!(check_entry("../x").is_err());
        assert!(check_entry("").is_err());
    }
}
