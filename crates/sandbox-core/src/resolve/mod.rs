//! Turns a [`Policy`] into a [`ResolvedPolicy`]: absolute canonical paths, specials expanded,
//! duplicates removed, protected subpaths found under every writable root.
//!
//! - `target.rs` names the OS resolved for ([`TargetOs`]), its `:minimal` roots and devices;
//! - `model.rs` holds the result ([`ResolvedPolicy`], [`Rule`], [`WritableRoot`], [`Protected`]);
//! - `paths.rs` spells paths: canonical, `~` expanded, the macOS aliases;
//! - `gitdir.rs` reads `.git` pointer files.

pub(crate) mod gitdir;
pub(crate) mod model;
pub(crate) mod paths;
pub(crate) mod target;

pub use gitdir::{gitdir_target, path_from_bytes};
pub use model::{PathKind, Protected, ResolveEnv, ResolvedPolicy, Rule, WritableRoot};
pub use paths::{canonical, normalize, platform_alias};
pub(crate) use paths::{expand_home, resolve_cwd};
pub use target::{TargetOs, STANDARD_DEVICES};

use crate::error::CoreError;
use crate::glob::DenyGlob;
use crate::policy::{Access, Policy, Special, Target, UnixSockets};
use paths::{anchor_glob, check_utf8, exists, host_spelling};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Resolves `policy` against `env`.
pub fn resolve(policy: &Policy, env: &ResolveEnv) -> Result<ResolvedPolicy, CoreError> {
    let cwd = resolve_cwd(&env.cwd, env.target)?;
    let mut out = ResolvedPolicy {
        description: policy.describe(),
        target: env.target,
        unrestricted: policy.unrestricted,
        cwd: cwd.clone(),
        rules: Vec::new(),
        deny_globs: Vec::new(),
        writable_roots: Vec::new(),
        minimal: false,
        network: policy.network.clone(),
        unix_sockets: UnixSockets::None,
        glob_scan_max_depth: policy.glob_scan_max_depth,
        git: crate::git::GitSettings {
            scan_roots: Vec::new(),
            audit_roots: Vec::new(),
            found: Vec::new(),
            ..policy.git.clone()
        },
        warnings: Vec::new(),
    };

    let mut missing_reads: Vec<(PathBuf, &str)> = Vec::new();
    for entry in &policy.entries {
        let origin = entry.origin.as_str();
        let path = match &entry.target {
            Target::Glob(pattern) => {
                if entry.access != Access::Deny {
                    return Err(CoreError::GlobNotDeny {
                        origin: origin.into(),
                        pattern: pattern.clone(),
                        access: entry.access.name().into(),
                    });
                }
                if pattern.trim().is_empty() {
                    return Err(CoreError::BadGlob {
                        origin: origin.into(),
                        pattern: pattern.clone(),
                        reason: "the pattern is empty".into(),
                    });
                }
                let abs = anchor_glob(pattern, &cwd, env, origin)?;
                out.deny_globs.push(DenyGlob::new(&abs, origin)?);
                continue;
            }
            Target::Special(Special::Minimal) => {
                out.minimal = true;
                for root in env.target.minimal_read_roots() {
                    let p = Path::new(root);
                    if p.exists() {
                        push_rule(
                            &mut out.rules,
                            canonical(p, env.target),
                            entry.access,
                            ":minimal",
                        );
                    }
                }
                continue;
            }
            Target::Special(Special::Root) => PathBuf::from("/"),
            Target::Special(Special::Cwd { subpath: None }) => cwd.clone(),
            Target::Special(Special::Cwd { subpath: Some(sub) }) => {
                if sub.is_absolute() {
                    return Err(CoreError::ConfigValue {
                        file: origin.into(),
                        key: sub.display().to_string(),
                        reason: "a path under `:project_roots` must be relative".into(),
                    });
                }
                // `../../etc` would name a path outside the project: refused, not resolved.
                if sub
                    .components()
                    .any(|c| c == std::path::Component::ParentDir)
                {
                    return Err(CoreError::ConfigValue {
                        file: origin.into(),
                        key: sub.display().to_string(),
                        reason: "a path under `:project_roots` must not contain `..`".into(),
                    });
                }
                canonical(&cwd.join(sub), env.target)
            }
            Target::Special(Special::Tmpdir) => match &env.tmpdir {
                Some(t) if !t.is_empty() => {
                    let p = PathBuf::from(t);
                    if !p.is_absolute() {
                        out.warnings.push(format!(
                            "$TMPDIR `{}` is not absolute; it is not a writable root",
                            p.display()
                        ));
                        continue;
                    }
                    check_utf8(&p, "$TMPDIR")?;
                    canonical(&p, env.target)
                }
                _ => continue,
            },
            Target::Special(Special::SlashTmp) => {
                if !Path::new("/tmp").is_dir() {
                    continue;
                }
                canonical(Path::new("/tmp"), env.target)
            }
            Target::Path(p) => {
                let p = expand_home(p, env, origin)?;
                canonical(&p, env.target)
            }
        };
        check_utf8(&path, origin)?;
        // A read rule on a missing path that the command could create: kept (backends keep
        // it uncreatable), decided once every rule is in.
        if entry.access == Access::Read && !exists(&path, env.target) {
            missing_reads.push((path, origin));
            continue;
        }
        if entry.access != Access::Deny && !exists(&path, env.target) {
            out.warnings.push(format!(
                "{origin}: `{}` does not exist; its {} rule is skipped",
                path.display(),
                entry.access.name()
            ));
            continue;
        }
        push_rule(&mut out.rules, path, entry.access, origin);
    }

    for (path, origin) in missing_reads {
        if out.allows_canonical(&path, crate::policy::Op::Create) {
            push_rule(&mut out.rules, path, Access::Read, origin);
        } else {
            out.warnings.push(format!(
                "{origin}: `{}` does not exist; its read rule is skipped",
                path.display()
            ));
        }
    }

    // Stable sort, then drop repeats: the first rule given for a (path, access) is kept.
    out.rules
        .sort_by(|a, b| a.path.cmp(&b.path).then(a.access.cmp(&b.access)));
    out.rules
        .dedup_by(|later, first| later.path == first.path && later.access == first.access);
    out.deny_globs.sort_by(|a, b| a.pattern.cmp(&b.pattern));
    out.deny_globs.dedup_by(|a, b| a.pattern == b.pattern);

    out.unix_sockets = match &policy.unix_sockets {
        UnixSockets::Paths(paths) => {
            let mut v = Vec::new();
            for p in paths {
                let p = expand_home(p, env, "unix_sockets")?;
                let c = canonical(&p, env.target);
                check_utf8(&c, "unix_sockets")?;
                v.push(c);
            }
            v.sort();
            v.dedup();
            if v.is_empty() {
                UnixSockets::None
            } else {
                UnixSockets::Paths(v)
            }
        }
        other => other.clone(),
    };
    out.warnings
        .extend(out.dangerous_socket_warnings(env.home.as_deref()));

    if !out.unrestricted {
        let mut warnings = Vec::new();
        let temp = temp_roots(env);
        let git = crate::git::prepare(&mut out, &policy.protected_names, &temp, &mut warnings);
        out.writable_roots =
            writable_roots(&out, &policy.protected_names, env.target, &mut warnings)?;
        if let Some(scan) = git {
            crate::git::protect(&mut out, &scan)?;
        }
        add_home_files(&mut out, policy, env)?;
        out.warnings.extend(warnings);
        #[cfg(test)]
        if SKIP_PLANTED.with(|s| s.get()) {
            return Ok(out);
        }
        crate::planted::check(&policy.entries, env, &out)?;
    }
    Ok(out)
}

#[cfg(test)]
thread_local! {
    static SKIP_PLANTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// [`resolve`] without the planted-link checks: a resolution that followed a link the
/// checks then raced past, for their tests (Linux only).
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn resolve_unchecked_for_test(
    policy: &Policy,
    env: &ResolveEnv,
) -> Result<ResolvedPolicy, CoreError> {
    SKIP_PLANTED.with(|s| s.set(true));
    let out = resolve(policy, env);
    SKIP_PLANTED.with(|s| s.set(false));
    out
}

/// The shared temporary directories (`/tmp`, `$TMPDIR`), canonical: searched for git
/// repositories to a bounded depth only ([`crate::git::TEMP_SCAN_MAX_DEPTH`]).
fn temp_roots(env: &ResolveEnv) -> Vec<PathBuf> {
    let mut v = vec![canonical(Path::new("/tmp"), env.target)];
    if let Some(t) = env.tmpdir.as_ref().map(PathBuf::from) {
        if t.is_absolute() {
            v.push(canonical(&t, env.target));
        }
    }
    v
}

/// Adds the startup files of `policy.protected_home_files` ([`crate::home_files`]) under each
/// writable root that contains them.
fn add_home_files(
    out: &mut ResolvedPolicy,
    policy: &Policy,
    env: &ResolveEnv,
) -> Result<(), CoreError> {
    let Some(home) = env.home.as_ref().filter(|h| h.is_absolute()) else {
        return Ok(());
    };
    let granted: HashSet<&Path> = out
        .rules
        .iter()
        .filter(|r| r.access == Access::Write)
        .map(|r| r.path.as_path())
        .collect();
    let mut added = Vec::new();
    for (i, root) in out.writable_roots.iter().enumerate() {
        let extra = crate::home_files::protected_under(
            &root.path,
            home,
            &policy.protected_home_files,
            &|p| granted.contains(p),
            env.target,
        )?;
        added.push((i, extra));
    }
    for (i, extra) in added {
        let protected = &mut out.writable_roots[i].protected;
        for p in extra {
            if !protected.iter().any(|q| q.path == p.path) {
                protected.push(p);
            }
        }
        protected.sort_by(|a, b| a.path.cmp(&b.path));
    }
    Ok(())
}

/// Adds a rule; repeats of a (path, access) are dropped once all rules are in (see [`resolve`]).
fn push_rule(rules: &mut Vec<Rule>, path: PathBuf, access: Access, origin: &str) {
    rules.push(Rule {
        path,
        access,
        origin: origin.to_string(),
    });
}

/// Finds every writable root and what is protected under it.
fn writable_roots(
    p: &ResolvedPolicy,
    names: &[String],
    target: TargetOs,
    warnings: &mut Vec<String>,
) -> Result<Vec<WritableRoot>, CoreError> {
    // Looked up once per rule and per protected name: a set, not a scan of the rules.
    let has_rule: HashSet<(&Path, Access)> = p
        .rules
        .iter()
        .map(|r| (r.path.as_path(), r.access))
        .collect();
    let mut roots: Vec<PathBuf> = p
        .rules
        .iter()
        .filter(|r| r.access == Access::Write)
        .filter(|r| !has_rule.contains(&(r.path.as_path(), Access::Deny)))
        .map(|r| r.path.clone())
        .collect();
    roots.sort();
    roots.dedup();

    let mut out = Vec::new();
    for root in roots {
        let mut protected = Vec::new();
        // A writable root that is a file has nothing below it to protect (nothing can be
        // created under a file); naming protected paths there only made every launch refuse.
        let is_file = std::fs::metadata(host_spelling(&root, target)).is_ok_and(|m| !m.is_dir());
        for name in names.iter().filter(|_| !is_file) {
            let path = root.join(name);
            // An explicit write rule at the protected path is the user's choice to allow it.
            if has_rule.contains(&(path.as_path(), Access::Write)) {
                continue;
            }
            let host_path = host_spelling(&path, target);
            let meta = std::fs::symlink_metadata(&host_path);
            // Only a regular file can be a pointer (a FIFO or device is never opened).
            let regular = meta.as_ref().is_ok_and(|m| m.is_file());
            let kind = match meta {
                Ok(m) if m.file_type().is_symlink() => {
                    let hold = target == TargetOs::Linux && cfg!(target_os = "linux");
                    if let Some(owner) = crate::foreign_link::held(&host_path, &m).filter(|_| hold)
                    {
                        // Root could remove it and make a real `.codex`: the backend mounts
                        // over the link itself so it stays as it is.
                        warnings.push(format!(
                            "`{}` is a symbolic link owned by uid {owner} in a sticky directory; it is held as it is (not followed; a mount over the link keeps the command from removing or replacing it)",
                            path.display()
                        ));
                        protected.push(Protected {
                            path,
                            kind: PathKind::Link,
                            reason: format!("{name}: uid {owner}'s link, held as it is"),
                        });
                        continue;
                    }
                    if let Some(owner) = crate::foreign_link::owner(&host_path, &m) {
                        // Not followed, not a reason to refuse: the command cannot replace it.
                        warnings.push(format!(
                            "`{}` is a symbolic link owned by uid {owner} in a sticky directory; it is left alone (not followed, not protected): the command cannot remove or replace it",
                            path.display()
                        ));
                        continue;
                    }
                    let target = std::fs::read_link(&host_path)
                        .map(|t| t.display().to_string())
                        .unwrap_or_else(|_| "?".into());
                    return Err(CoreError::SymlinkedProtected {
                        path: path.display().to_string(),
                        target,
                        root: root.display().to_string(),
                    });
                }
                Ok(m) if m.is_dir() => PathKind::Dir,
                Ok(_) => PathKind::File,
                Err(_) => PathKind::Missing,
            };
            if name == ".git" && regular {
                match gitdir_target(&host_path) {
                    Some(t) if t.exists() => {
                        let t = canonical(&t, target);
                        let kind = if t.is_dir() { PathKind::Dir } else { PathKind::File };
                        protected.push(Protected {
                            reason: format!("gitdir of {}", path.display()),
                            path: t,
                            kind,
                        });
                    }
                    Some(t) => warnings.push(format!(
                        "`{}` points at `{}`, which does not exist; only the pointer file is protected",
                        path.display(),
                        t.display()
                    )),
                    None => {}
                }
            }
            protected.push(Protected {
                path,
                kind,
                reason: name.clone(),
            });
        }
        protected.sort_by(|a, b| a.path.cmp(&b.path));
        out.push(WritableRoot {
            path: root,
            protected,
        });
    }
    Ok(out)
}
