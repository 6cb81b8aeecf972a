//! Symlinks a command run earlier could have planted on the way to a writable root or the
//! working directory. Run 1 (with `/tmp` writable) replaces `/tmp/demo` with a link to
//! `$HOME`; run 2 with `-C /tmp/demo` would canonicalize to `$HOME` and make it writable. A
//! path given by the user that passes through a symlink lying inside a writable root of the
//! same policy, and ends outside that root, is refused. Links elsewhere (`~/proj ->
//! /data/proj`, with `~` not writable) are followed as before.

use crate::error::CoreError;
use crate::policy::{Access, Special, Target};
use crate::resolve::model::{ResolveEnv, ResolvedPolicy};
use crate::resolve::paths::{canonical, expand_home, normalize, resolve_cwd};
use crate::resolve::target::TargetOs;
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
    check_unchanged(entries, env, out)?;
    check_single_walk(entries, env, out)
}

/// The decisive check, made by one walk per path: [`check_one`] and [`check_unchanged`] each
/// look the path up again, so a concurrent command swapping a directory for a link and back
/// (`renameat2(RENAME_EXCHANGE)` in a shared `/tmp`) can show the link to resolution and to
/// the second check and a directory to the first. Here the path is resolved component by
/// component by [`walk`], which follows links itself and notes each one it follows, so the
/// place it arrives at and the links it used come from the same observations: a link that
/// lies in a writable root and leads out of it is refused, and the place must be the one the
/// policy was resolved to (else the path changed meanwhile). Only on a Linux host for a Linux
/// policy (macOS spellings such as `/private/tmp` are left to the checks above).
fn check_single_walk(
    entries: &[crate::policy::Entry],
    env: &ResolveEnv,
    out: &ResolvedPolicy,
) -> Result<(), CoreError> {
    if out.target != TargetOs::Linux || TargetOs::host() != TargetOs::Linux {
        return Ok(());
    }
    let roots: Vec<&Path> = out
        .writable_roots
        .iter()
        .map(|r| r.path.as_path())
        .collect();
    let walked = |what: &str, given: &Path| -> Result<PathBuf, CoreError> {
        let (arrived, links) = walk(&normalize(given));
        for (link, target) in links {
            if let Some(root) = roots
                .iter()
                .find(|r| link.starts_with(r) && !arrived.starts_with(r))
            {
                return Err(CoreError::PlantedLink {
                    what: what.to_string(),
                    given: given.display().to_string(),
                    link: link.display().to_string(),
                    target: target.display().to_string(),
                    root: root.display().to_string(),
                });
            }
        }
        Ok(arrived)
    };
    let cwd = walked("working directory", &env.cwd)?;
    if cwd != out.cwd {
        return Err(CoreError::PathChanged {
            what: "working directory".into(),
            given: env.cwd.display().to_string(),
            used: out.cwd.display().to_string(),
            now: cwd.display().to_string(),
        });
    }
    let writes: Vec<&crate::policy::Entry> = entries
        .iter()
        .filter(|e| e.access == Access::Write)
        .collect();
    for rule in out.rules.iter().filter(|r| r.access == Access::Write) {
        // As in check_unchanged: rules no entry gave name no user path.
        let mut ok = rule.origin == ":minimal" || !writes.iter().any(|e| e.origin == rule.origin);
        let mut first = None;
        for e in writes.iter().filter(|e| e.origin == rule.origin) {
            match given(&e.target, env, &e.origin) {
                None => ok = true,
                Some(g) => {
                    let now = walked(&e.origin, &g)?;
                    if now == rule.path {
                        ok = true;
                    } else {
                        first = first.or(Some((g, now)));
                    }
                }
            }
        }
        if !ok {
            let (given, now) = first.unwrap_or_default();
            return Err(CoreError::PathChanged {
                what: rule.origin.clone(),
                given: given.display().to_string(),
                used: rule.path.display().to_string(),
                now: now.display().to_string(),
            });
        }
    }
    Ok(())
}

/// Resolves the absolute path `p` as `realpath` does, one component at a time (a missing
/// rest is appended as it is). Returns where it arrived and each symbolic link it followed
/// (its location, with the directories before it resolved, and its content). The decision
/// rests only on what this walk saw: a link swapped in after a component was seen as a
/// directory changes the arrival, never the recorded links' meaning.
fn walk(p: &Path) -> (PathBuf, Vec<(PathBuf, PathBuf)>) {
    use std::collections::VecDeque;
    use std::path::Component;
    let mut todo: VecDeque<std::ffi::OsString> = VecDeque::new();
    let mut at = PathBuf::from("/");
    let mut links = Vec::new();
    let push_front = |todo: &mut VecDeque<std::ffi::OsString>, p: &Path, at: &mut PathBuf| {
        let mut parts = Vec::new();
        for c in p.components() {
            match c {
                Component::RootDir => {
                    *at = PathBuf::from("/");
                    parts.clear();
                }
                Component::Normal(n) => parts.push(n.to_os_string()),
                Component::ParentDir => parts.push("..".into()),
                Component::CurDir | Component::Prefix(_) => {}
            }
        }
        for x in parts.into_iter().rev() {
            todo.push_front(x);
        }
    };
    push_front(&mut todo, p, &mut at);
    let mut followed = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            at.pop();
            continue;
        }
        let next = at.join(&name);
        match std::fs::symlink_metadata(&next) {
            Ok(m) if m.file_type().is_symlink() && followed < 40 => {
                followed += 1;
                let Ok(target) = std::fs::read_link(&next) else {
                    at = next;
                    continue;
                };
                links.push((next, target.clone()));
                if target.is_absolute() {
                    at = PathBuf::from("/");
                }
                push_front(&mut todo, &target, &mut at);
            }
            Ok(_) => at = next,
            Err(_) => {
                at = next;
                for rest in todo.drain(..) {
                    at.push(rest);
                }
            }
        }
    }
    (normalize(&at), links)
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
    let cwd_now = resolve_cwd(&env.cwd, out.target).ok();
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

    /// The single walk alone refuses both states a swapping command can show after a
    /// resolution that followed its link: the link (planted, leading out of the writable
    /// root `/tmp`-like base) and the directory (the path changed). Either of the older
    /// checks alone misses one of them, which a swap between them exploits.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_single_walk_refuses_a_link_and_a_swapped_back_directory() {
        let t = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(t.path()).unwrap();
        let home = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(home.path()).unwrap();
        let ws = base.join("ws");
        std::os::unix::fs::symlink(&home, &ws).unwrap();
        let mut p = Policy::preset_with(Preset::WorkspaceWrite, true, true);
        p.add_writable_root(base.clone(), "--writable-root");
        // Resolved through the link (as if the planted-link check had raced).
        let mut e = env(&ws);
        e.cwd = ws.clone();
        let out = crate::resolve::resolve_unchecked_for_test(&p, &e).unwrap();
        assert_eq!(out.cwd, home);
        let err = check_single_walk(&p.entries, &e, &out).unwrap_err();
        assert!(matches!(err, CoreError::PlantedLink { .. }), "{err}");
        unswap(&ws);
        let err = check_single_walk(&p.entries, &e, &out).unwrap_err();
        assert!(matches!(err, CoreError::PathChanged { .. }), "{err}");
        let out = resolve(&p, &e).unwrap();
        check_single_walk(&p.entries, &e, &out).unwrap();
    }
}
