//! Symlinks a command run earlier could have planted on the way to a writable root or the
//! working directory. Run 1 (with `/tmp` writable) replaces `/tmp/demo` with a link to
//! `$HOME`; run 2 with `-C /tmp/demo` would canonicalize to `$HOME` and make it writable. A
//! path given by the user that passes through a symlink lying inside a writable root of the
//! same policy, and ends outside that root, is refused. Links elsewhere (`~/proj ->
//! /data/proj`, with `~` not writable) are followed as before.

use crate::error::CoreError;
use crate::policy::{Access, Special, Target};
use crate::resolve::{canonical, expand_home, normalize, ResolveEnv, ResolvedPolicy};
use std::path::{Path, PathBuf};

/// The path as the user spelled it (absolute, `~` expanded, not canonical) for the entries
/// that can name a writable root; `None` for the others.
fn given(target: &Target, env: &ResolveEnv, origin: &str) -> Option<PathBuf> {
    match target {
        Target::Path(p) => expand_home(p, env, origin).ok(),
        Target::Special(Special::Cwd { subpath: None }) => Some(env.cwd.clone()),
        Target::Special(Special::Cwd { subpath: Some(sub) }) => Some(env.cwd.join(sub)),
        Target::Special(Special::Tmpdir) => env
            .tmpdir
            .as_ref()
            .map(PathBuf::from)
            .filter(|p| p.is_absolute()),
        Target::Special(Special::SlashTmp) => Some(PathBuf::from("/tmp")),
        _ => None,
    }
}

/// Refuses the policy when the working directory or a writable root is reached through a
/// symlink planted inside a writable root (see the module doc).
pub(crate) fn check(
    entries: &[crate::policy::Entry],
    env: &ResolveEnv,
    out: &ResolvedPolicy,
) -> Result<(), CoreError> {
    if out.writable_roots.is_empty() {
        return Ok(());
    }
    let mut paths = vec![("working directory".to_string(), env.cwd.clone())];
    for e in entries.iter().filter(|e| e.access == Access::Write) {
        if let Some(p) = given(&e.target, env, &e.origin) {
            paths.push((e.origin.clone(), p));
        }
    }
    for (what, given) in paths {
        check_one(&what, &given, out)?;
    }
    Ok(())
}

fn check_one(what: &str, given: &Path, out: &ResolvedPolicy) -> Result<(), CoreError> {
    let given = normalize(given);
    let resolved = canonical(&given, out.target);
    let mut prefix = PathBuf::new();
    for c in given.components() {
        prefix.push(c);
        let Ok(meta) = std::fs::symlink_metadata(&prefix) else {
            return Ok(());
        };
        if !meta.file_type().is_symlink() {
            continue;
        }
        let (Some(parent), Some(name)) = (prefix.parent(), prefix.file_name()) else {
            continue;
        };
        let location = canonical(parent, out.target).join(name);
        let planted_in = out
            .writable_roots
            .iter()
            .map(|r| r.path.as_path())
            .find(|r| location.starts_with(r) && !resolved.starts_with(r));
        if let Some(root) = planted_in {
            let target = std::fs::read_link(&prefix)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            return Err(CoreError::PlantedLink {
                what: what.to_string(),
                given: given.display().to_string(),
                link: prefix.display().to_string(),
                target,
                root: root.display().to_string(),
            });
        }
    }
    Ok(())
}
