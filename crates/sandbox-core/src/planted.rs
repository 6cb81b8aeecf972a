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
    check_unchanged(entries, env, out)
}

/// Refuses when a path now leads somewhere other than where the policy's resolution took
/// it. The walk in [`check_one`] sees each path as it is now, while the policy was resolved a
/// moment earlier: a concurrent command that can write the parent (a shared `/tmp`) could
/// swap a directory for a link to `$HOME` and back in between, and the link followed then
/// would be missed now. Every write rule must be where its entry leads now (rules of entries
/// that name no user path, `:root` and `:minimal`, cannot move), and so must the working
/// directory.
fn check_unchanged(
    entries: &[crate::policy::Entry],
    env: &ResolveEnv,
    out: &ResolvedPolicy,
) -> Result<(), CoreError> {
    let now = |p: &Path| canonical(&normalize(p), out.target);
    // Resolved as `resolve` does (it refuses a missing one).
    let cwd_now = crate::resolve::resolve_cwd(&env.cwd, out.target).ok();
    if cwd_now.as_deref() != Some(out.cwd.as_path()) {
        return Err(CoreError::PathChanged {
            what: "working directory".into(),
            given: env.cwd.display().to_string(),
            used: out.cwd.display().to_string(),
            now: cwd_now.map_or("nothing".into(), |p| p.display().to_string()),
        });
    }
    let writes: Vec<&crate::policy::Entry> = entries
        .iter()
        .filter(|e| e.access == Access::Write)
        .collect();
    for rule in out.rules.iter().filter(|r| r.access == Access::Write) {
        let mut givens = writes
            .iter()
            .filter(|e| e.origin == rule.origin)
            .map(|e| given(&e.target, env, &e.origin));
        let mut first = None;
        // Rules no entry gave (`:minimal`, git commit mode's gitdirs found under the roots)
        // name no user path that could have been swapped.
        let mut ok = rule.origin == ":minimal" || !writes.iter().any(|e| e.origin == rule.origin);
        for g in givens.by_ref() {
            match g {
                None => ok = true,
                Some(g) if now(&g) == rule.path => ok = true,
                Some(g) => first = first.or(Some(g)),
            }
        }
        if !ok {
            let given = first.unwrap_or_default();
            return Err(CoreError::PathChanged {
                what: rule.origin.clone(),
                given: given.display().to_string(),
                used: rule.path.display().to_string(),
                now: now(&given).display().to_string(),
            });
        }
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::policy::{Policy, Preset};
    use crate::resolve::resolve;
    use crate::TargetOs;

    fn env(cwd: &Path) -> ResolveEnv {
        ResolveEnv {
            cwd: cwd.to_path_buf(),
            tmpdir: None,
            home: None,
            target: TargetOs::Linux,
        }
    }

    /// Replaces the symlink at `at` with an empty real directory.
    fn unswap(at: &Path) {
        std::fs::remove_file(at).unwrap();
        std::fs::create_dir(at).unwrap();
    }

    /// The policy was resolved while a path was a link (to `home`, legitimately: its parent
    /// is not writable), and by the time of the check it is a real directory again, as a
    /// concurrent command swapping the two makes it. The walk sees no link, yet the policy
    /// made `home` writable: refused, for the working directory and for a writable root.
    #[test]
    fn a_path_swapped_between_resolution_and_check_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(t.path()).unwrap();
        let (ws, home) = (base.join("ws"), base.join("home"));
        std::fs::create_dir_all(&home).unwrap();
        std::os::unix::fs::symlink(&home, &ws).unwrap();
        let p = Policy::preset_with(Preset::WorkspaceWrite, true, true);
        let out = resolve(&p, &env(&ws)).unwrap();
        assert_eq!(out.cwd, home);
        unswap(&ws);
        let e = check(&p.entries, &env(&ws), &out).unwrap_err();
        assert!(matches!(e, CoreError::PathChanged { .. }), "{e}");
        assert!(e.to_string().contains(&*home.to_string_lossy()), "{e}");

        let (root, elsewhere) = (base.join("root"), base.join("elsewhere"));
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &root).unwrap();
        let mut p = Policy::preset_with(Preset::WorkspaceWrite, true, true);
        p.add_writable_root(root.clone(), "--writable-root");
        let out = resolve(&p, &env(&ws)).unwrap();
        unswap(&root);
        let e = check(&p.entries, &env(&ws), &out).unwrap_err();
        assert!(matches!(e, CoreError::PathChanged { .. }), "{e}");
        assert!(e.to_string().contains("--writable-root"), "{e}");
        // Unchanged paths pass.
        let out = resolve(&p, &env(&ws)).unwrap();
        check(&p.entries, &env(&ws), &out).unwrap();
    }
}
