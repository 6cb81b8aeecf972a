//! Spelling paths: canonical (links followed, `.` and `..` removed), as the target OS's kernel
//! reports them (macOS `/tmp` is `/private/tmp`), with `~` expanded, and checked to be UTF-8.

use super::model::ResolveEnv;
use super::target::TargetOs;
use crate::error::CoreError;
use crate::glob::GLOB_META;
use std::path::{Component, Path, PathBuf};

/// Canonicalizes the working directory `cwd`, which must be an absolute directory.
pub(crate) fn resolve_cwd(cwd: &Path, target: TargetOs) -> Result<PathBuf, CoreError> {
    let shown = cwd.display().to_string();
    if !cwd.is_absolute() {
        return Err(CoreError::Cwd {
            path: shown,
            reason: "not an absolute path".into(),
        });
    }
    let c = std::fs::canonicalize(cwd).map_err(|e| CoreError::Cwd {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    if !c.is_dir() {
        return Err(CoreError::Cwd {
            path: shown,
            reason: "not a directory".into(),
        });
    }
    check_utf8(&c, "working directory")?;
    Ok(platform_alias(&c, target))
}

pub(crate) fn expand_home(p: &Path, env: &ResolveEnv, origin: &str) -> Result<PathBuf, CoreError> {
    let s = p.to_string_lossy();
    if s == "~" || s.starts_with("~/") {
        let home = env.home.as_ref().ok_or_else(|| CoreError::RelativePath {
            origin: origin.into(),
            value: format!("{s} (HOME is not set)"),
        })?;
        // An empty or relative HOME would make `~/x` relative to wherever `sandbox` runs.
        if !home.is_absolute() {
            return Err(CoreError::RelativePath {
                origin: origin.into(),
                value: format!("{s} (HOME is `{}`, not an absolute path)", home.display()),
            });
        }
        let rest = s.trim_start_matches('~').trim_start_matches('/');
        return Ok(if rest.is_empty() {
            home.clone()
        } else {
            home.join(rest)
        });
    }
    if !p.is_absolute() {
        return Err(CoreError::RelativePath {
            origin: origin.into(),
            value: s.into_owned(),
        });
    }
    Ok(p.to_path_buf())
}

pub(super) fn anchor_glob(
    pattern: &str,
    cwd: &Path,
    env: &ResolveEnv,
    origin: &str,
) -> Result<String, CoreError> {
    let abs = if pattern.starts_with('/') {
        pattern.to_string()
    } else if pattern == "~" || pattern.starts_with("~/") {
        expand_home(Path::new(pattern), env, origin)?
            .to_string_lossy()
            .into_owned()
    } else {
        let rel = pattern.trim_start_matches("./");
        format!("{}/{}", cwd.to_string_lossy().trim_end_matches('/'), rel)
    };
    // Canonicalize the literal directory part so links (e.g. `/tmp` on macOS) match.
    let comps: Vec<&str> = abs.split('/').filter(|c| !c.is_empty()).collect();
    let split = comps
        .iter()
        .position(|c| c.contains(GLOB_META) || c.contains('\\'));
    Ok(match split {
        Some(i) if i > 0 => {
            let prefix: PathBuf = std::iter::once("/")
                .chain(comps[..i].iter().copied())
                .collect();
            let prefix = canonical(&prefix, env.target);
            format!(
                "{}/{}",
                prefix.to_string_lossy().trim_end_matches('/'),
                comps[i..].join("/")
            )
        }
        Some(_) => format!("/{}", comps.join("/")),
        None => canonical(Path::new(&abs), env.target)
            .to_string_lossy()
            .into_owned(),
    })
}

pub(super) fn check_utf8(p: &Path, origin: &str) -> Result<(), CoreError> {
    if p.to_str().is_none() {
        return Err(CoreError::NonUtf8 {
            origin: origin.into(),
            value: p.to_string_lossy().into_owned(),
        });
    }
    Ok(())
}

/// Canonicalizes the longest existing prefix of `p` (following links) and appends the rest,
/// with `.` and `..` removed lexically; then spells it as `target` would.
pub fn canonical(p: &Path, target: TargetOs) -> PathBuf {
    let host = host_spelling(&normalize(p), target);
    let mut existing = host.clone();
    let mut tail: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(c) = std::fs::canonicalize(&existing) {
            let mut out = c;
            for t in tail.iter().rev() {
                out.push(t);
            }
            return platform_alias(&out, target);
        }
        match (
            existing.file_name().map(|s| s.to_os_string()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                tail.push(name);
                existing = parent.to_path_buf();
            }
            _ => return platform_alias(&host, target),
        }
    }
}

/// Removes `.` and resolves `..` lexically.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push("/");
    }
    out
}

/// The macOS top-level links, as `(link, target)`.
const MACOS_ALIASES: [(&str, &str); 3] = [
    ("/tmp", "/private/tmp"),
    ("/var", "/private/var"),
    ("/etc", "/private/etc"),
];

/// Spells `p` as `target`'s kernel reports it: on macOS `/tmp/x` is `/private/tmp/x`.
pub fn platform_alias(p: &Path, target: TargetOs) -> PathBuf {
    if target == TargetOs::Macos {
        for (link, real) in MACOS_ALIASES {
            if let Ok(rest) = p.strip_prefix(link) {
                // `join("")` would leave a trailing slash (`/private/tmp/`).
                if rest.as_os_str().is_empty() {
                    return PathBuf::from(real);
                }
                return Path::new(real).join(rest);
            }
        }
    }
    p.to_path_buf()
}

/// The inverse of [`platform_alias`] when resolving for macOS on another OS: where to look on
/// this host for a path spelled the macOS way.
pub(super) fn host_spelling(p: &Path, target: TargetOs) -> PathBuf {
    if target == TargetOs::Macos && TargetOs::host() != TargetOs::Macos {
        for (link, real) in MACOS_ALIASES {
            if let Ok(rest) = p.strip_prefix(real) {
                if !Path::new(real).exists() {
                    return Path::new(link).join(rest);
                }
            }
        }
    }
    p.to_path_buf()
}

pub(super) fn exists(p: &Path, target: TargetOs) -> bool {
    host_spelling(p, target).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macos_aliases_tmp_and_var() {
        assert_eq!(
            platform_alias(Path::new("/tmp/x"), TargetOs::Macos),
            PathBuf::from("/private/tmp/x")
        );
        assert_eq!(
            platform_alias(Path::new("/var/folders/a"), TargetOs::Macos),
            PathBuf::from("/private/var/folders/a")
        );
        assert_eq!(
            platform_alias(Path::new("/private/tmp/x"), TargetOs::Macos),
            PathBuf::from("/private/tmp/x")
        );
        assert_eq!(
            platform_alias(Path::new("/tmp/x"), TargetOs::Linux),
            PathBuf::from("/tmp/x")
        );
        assert_eq!(
            platform_alias(Path::new("/tmp"), TargetOs::Macos)
                .to_str()
                .unwrap(),
            "/private/tmp"
        );
        assert_eq!(
            platform_alias(Path::new("/tmpx"), TargetOs::Macos),
            PathBuf::from("/tmpx")
        );
    }

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/..")), PathBuf::from("/"));
    }
}
