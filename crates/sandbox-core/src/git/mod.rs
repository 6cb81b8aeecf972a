//! Git repositories inside the writable roots: finding them, and what stays read-only in them.
//!
//! Git runs programs named in a repository's `config` (`core.fsmonitor`, filters, `!` aliases…)
//! and its `hooks/`. A command that can write those can run code on the host the next time
//! the user runs git there. Two modes ([`GitMode`]):
//! - `read-only` (default): every repository gitdir found in the writable roots at launch is
//!   read-only: the top-level `.git` (a protected name), nested `sub/.git` directories, `.git`
//!   pointer files and the gitdirs they point at; in bare repositories found below a root,
//!   `config`, `hooks`, `info`, `commondir` and `config.worktree`.
//! - `commit`: the same repositories' gitdirs (and their common dirs, wherever they are) are
//!   writable (objects, refs, logs, the index, `HEAD`, lock files, …) except `config`,
//!   `config.worktree`, `commondir`, `hooks/` and `info/` of every gitdir among them
//!   (submodules under `modules/`, linked worktrees under `worktrees/`), which stay read-only and
//!   (`hooks`, `info`) uncreatable.
//!
//! In both modes an existing `core.hooksPath` directory named by a repository's own config
//! (often `.githooks/` in the work tree) is read-only too.
//!
//! What cannot be prevented without breaking `git init` or `cargo new` (a new repository, a
//! root turning into a bare repository, a new `commondir`) is detected after the run by
//! [`crate::git_audit`]. The search is bounded: at most [`GIT_SCAN_MAX_DIRS`] directories per
//! root (and [`GitSettings::scan_max_depth`] levels below it, when set), breadth first; the
//! shared temporary roots (`/tmp`, `$TMPDIR`), full of other programs' files, to
//! [`TEMP_SCAN_MAX_DEPTH`] levels. A search cut short is warned (in the temporary roots, only
//! when the directory cap cut it: their depth limit is part of the design).

pub mod settings;

use crate::error::CoreError;
use crate::policy::Access;
use crate::resolve::model::{PathKind, Protected, ResolvedPolicy, Rule};
use crate::resolve::paths::{canonical, normalize};
use serde::Serialize;
pub use settings::{
    FoundRepo, GitMode, GitSettings, RepoKind, ScanRoot, COMMIT_RULE_ORIGIN, GIT_SCAN_MAX_DIRS,
    SENSITIVE, TEMP_SCAN_MAX_DEPTH,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What [`scan`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RepoScan {
    pub repos: Vec<FoundRepo>,
    /// Roots whose walk the depth limit or the directory cap cut short.
    pub depth_cut: Vec<PathBuf>,
    /// Roots whose walk the directory cap ([`GIT_SCAN_MAX_DIRS`]) cut short.
    pub cap_cut: Vec<PathBuf>,
}

impl RepoScan {
    /// One warning per root the depth limit cut short.
    pub fn warnings(&self, what: &str) -> Vec<String> {
        self.depth_cut
            .iter()
            .map(|r| {
                format!(
                    "git repositories below `{}` were looked for in part only (git_scan_max_depth, or more than {GIT_SCAN_MAX_DIRS} directories): {what}",
                    r.display()
                )
            })
            .collect()
    }
}

/// Whether `dir` is a gitdir: `HEAD` a file, `objects/` and `refs/` directories (what git
/// checks before using a directory as a repository).
pub fn is_gitdir(dir: &Path) -> bool {
    let file = |n: &str| std::fs::symlink_metadata(dir.join(n)).is_ok_and(|m| m.is_file());
    let is_dir = |n: &str| std::fs::metadata(dir.join(n)).is_ok_and(|m| m.is_dir());
    file("HEAD") && is_dir("objects") && is_dir("refs")
}

/// Walks each root breadth first, to its depth and at most [`GIT_SCAN_MAX_DIRS`] directories,
/// listing `.git` entries and bare repositories. Symlinks are not followed; `.git`
/// directories are not entered; unreadable directories are skipped.
pub fn scan(roots: &[ScanRoot]) -> RepoScan {
    let mut out = RepoScan::default();
    let mut seen = BTreeSet::new();
    for root in roots {
        let mut queue = std::collections::VecDeque::from([(root.path.clone(), 0usize)]);
        let mut cut = false;
        let mut visited = 0usize;
        while let Some((dir, depth)) = queue.pop_front() {
            visited += 1;
            if visited > GIT_SCAN_MAX_DIRS {
                cut = true;
                out.cap_cut.push(root.path.clone());
                break;
            }
            let deeper = root.max_depth.is_none_or(|m| depth < m);
            if !deeper {
                if let Some(subdirs) = look_at_limit(&dir, depth, &mut seen, &mut out.repos) {
                    cut |= subdirs;
                    continue;
                }
            }
            // An unreadable directory (another user's private one) is skipped at once.
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            // Whether the listing has `HEAD`: only then is it worth checking for a bare
            // repository (three more system calls per directory otherwise).
            let mut has_head = false;
            for e in entries.flatten() {
                if e.file_name() == "HEAD" {
                    has_head = true;
                    continue;
                }
                let Ok(ft) = e.file_type() else { continue };
                let path = e.path();
                if e.file_name() == ".git" {
                    let kind = if ft.is_file() {
                        RepoKind::Pointer
                    } else if ft.is_dir() {
                        RepoKind::Dir
                    } else {
                        continue;
                    };
                    if seen.insert(path.clone()) {
                        out.repos.push(FoundRepo {
                            at: path,
                            kind,
                            depth,
                        });
                    }
                } else if ft.is_dir() {
                    if deeper {
                        queue.push_back((path, depth + 1));
                    } else {
                        cut = true;
                    }
                }
            }
            if has_head && is_gitdir(&dir) && seen.insert(dir.clone()) {
                out.repos.push(FoundRepo {
                    at: dir.clone(),
                    kind: RepoKind::Bare,
                    depth,
                });
            }
        }
        if cut {
            out.depth_cut.push(root.path.clone());
        }
    }
    out.repos.sort();
    out
}

/// A directory at its root's depth limit, looked into without listing it: only its own
/// `.git` entry and whether it is a bare repository matter there, and a shared temporary root
/// (`/tmp`, depth 0) can hold thousands of entries whose listing costs milliseconds per
/// launch. Whether it has subdirectories (the walk was cut) comes from its link count (2 plus
/// one per subdirectory on ext4, tmpfs, xfs…). `None` where that count says nothing (btrfs and
/// overlayfs report 1): the caller lists the directory instead.
fn look_at_limit(
    dir: &Path,
    depth: usize,
    seen: &mut BTreeSet<PathBuf>,
    repos: &mut Vec<FoundRepo>,
) -> Option<bool> {
    let links = link_count(dir)?;
    if links < 2 {
        return None;
    }
    let git = dir.join(".git");
    let kind = std::fs::symlink_metadata(&git).ok().and_then(|m| {
        if m.is_file() {
            Some(RepoKind::Pointer)
        } else if m.is_dir() {
            Some(RepoKind::Dir)
        } else {
            None
        }
    });
    if let Some(kind) = kind {
        if seen.insert(git.clone()) {
            repos.push(FoundRepo {
                at: git,
                kind,
                depth,
            });
        }
    }
    if is_gitdir(dir) && seen.insert(dir.to_path_buf()) {
        repos.push(FoundRepo {
            at: dir.to_path_buf(),
            kind: RepoKind::Bare,
            depth,
        });
    }
    let git_dir = u64::from(kind == Some(RepoKind::Dir));
    Some(links > 2 + git_dir)
}

/// A directory's link count (where the platform has one).
#[cfg(unix)]
fn link_count(dir: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    #[allow(clippy::useless_conversion)] // nlink_t is 32 bits on some architectures
    Some(u64::from(std::fs::symlink_metadata(dir).ok()?.nlink()))
}

/// No link count to read: the directory is listed.
#[cfg(not(unix))]
fn link_count(_dir: &Path) -> Option<u64> {
    None
}

/// The target of `gitdir/commondir`, when that file exists (a linked worktree's gitdir).
pub fn commondir(gitdir: &Path) -> Option<PathBuf> {
    let text = read_small(&gitdir.join("commondir"))?;
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let p = Path::new(t);
    Some(if p.is_absolute() {
        p.to_path_buf()
    } else {
        normalize(&gitdir.join(p))
    })
}

/// A small regular file's text (at most 4 KiB), never blocking on a FIFO.
fn read_small(p: &Path) -> Option<String> {
    let m = std::fs::symlink_metadata(p).ok()?;
    if !m.is_file() || m.len() > 4096 {
        return None;
    }
    std::fs::read_to_string(p).ok()
}

/// Every gitdir git may use from `gitdir`: itself, its common dir, and recursively the
/// submodule gitdirs (`modules/…`) and linked-worktree gitdirs (`worktrees/*`) of each.
pub fn gitdir_family(gitdir: &Path) -> Vec<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![gitdir.to_path_buf()];
    while let Some(g) = todo.pop() {
        if out.len() > 1000 || !out.insert(g.clone()) {
            continue;
        }
        if let Some(c) = commondir(&g) {
            todo.push(c);
        }
        for sub in ["modules", "worktrees"] {
            todo.extend(child_gitdirs(&g.join(sub), 3));
        }
    }
    out.into_iter().collect()
}

/// Gitdirs at or below `dir` (submodule names may contain `/`), to `depth` levels.
fn child_gitdirs(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let p = e.path();
        // A linked worktree's gitdir has HEAD and commondir but no objects/ of its own.
        if is_gitdir(&p) || p.join("commondir").is_file() {
            out.push(p);
        } else if depth > 0 {
            out.extend(child_gitdirs(&p, depth - 1));
        }
    }
    out
}

/// Whether a write at `rel` (relative to a gitdir) is one commit mode allows: no component
/// is a [`SENSITIVE`] name.
pub fn commit_mode_allows(rel: &Path) -> bool {
    !rel.components().any(|c| {
        SENSITIVE
            .iter()
            .any(|(n, _)| c.as_os_str() == std::ffi::OsStr::new(n))
    })
}

/// Before the writable roots are computed: records which roots are searched (every writable
/// root to the configured depth, except the shared temporary directories `temp`, searched to
/// [`TEMP_SCAN_MAX_DEPTH`] at most since they hold other programs' files), searches them, warns
/// when a limit cut a search short, and adds commit mode's write rules. `None` when git is not
/// protected at all (`.git` is not among the protected names).
pub(crate) fn prepare(
    out: &mut ResolvedPolicy,
    names: &[String],
    temp: &[PathBuf],
    warnings: &mut Vec<String>,
) -> Option<RepoScan> {
    if !names.iter().any(|n| n == ".git") {
        return None;
    }
    let denied: BTreeSet<&Path> = out
        .rules
        .iter()
        .filter(|r| r.access == Access::Deny)
        .map(|r| r.path.as_path())
        .collect();
    let mut roots: Vec<PathBuf> = out
        .rules
        .iter()
        .filter(|r| r.access == Access::Write && !denied.contains(r.path.as_path()))
        .map(|r| r.path.clone())
        .collect();
    roots.sort();
    roots.dedup();
    let depth = out.git.scan_max_depth;
    // (`min` has no effect while TEMP_SCAN_MAX_DEPTH is 0; it is kept for when it is not.)
    #[allow(clippy::unnecessary_min_or_max)]
    let temp_depth = depth.map_or(TEMP_SCAN_MAX_DEPTH, |d| d.min(TEMP_SCAN_MAX_DEPTH));
    out.git.scan_roots = roots
        .iter()
        .map(|r| ScanRoot {
            path: r.clone(),
            max_depth: if temp.contains(r) {
                Some(temp_depth)
            } else {
                depth
            },
        })
        .collect();
    let mut found = scan(&out.git.scan_roots);
    out.git.audit_roots = out
        .git
        .scan_roots
        .iter()
        .map(|r| ScanRoot {
            path: r.path.clone(),
            max_depth: if temp.contains(&r.path) {
                Some(0)
            } else {
                r.max_depth
            },
        })
        .collect();
    let non_temp: Vec<&PathBuf> = roots.iter().filter(|r| !temp.contains(r)).collect();
    out.git.found = found
        .repos
        .iter()
        .filter(|r| {
            non_temp.iter().any(|root| r.at.starts_with(root))
                || temp.iter().any(|t| match r.kind {
                    RepoKind::Bare => r.at == *t,
                    _ => r.at.parent() == Some(t.as_path()),
                })
        })
        .cloned()
        .collect();
    // The temporary roots' depth limit is by design: only the directory cap is warned there.
    let cap_cut = found.cap_cut.clone();
    found
        .depth_cut
        .retain(|r| !temp.contains(r) || cap_cut.contains(r));
    warnings.extend(
        found.warnings("deeper repositories are neither protected nor checked after the run"),
    );
    if out.git.mode == GitMode::Commit {
        // Commits work in the repositories of the other roots, not in every one under `/tmp`:
        // those found only through a temporary root stay read-only.
        let mut with_enclosing = found.clone();
        with_enclosing.repos.retain(|r| {
            roots
                .iter()
                .any(|root| !temp.contains(root) && r.at.starts_with(root))
        });
        // A root inside a repository's work tree (`-C repo/pkg`): that repository too.
        with_enclosing
            .repos
            .extend(enclosing_repos(&out.git.scan_roots, temp));
        add_commit_rules(out, &with_enclosing);
    }
    Some(found)
}

/// The nearest `.git` above each searched root (not the temporary ones), as git's discovery
/// from inside the root would find it.
fn enclosing_repos(roots: &[ScanRoot], temp: &[PathBuf]) -> Vec<FoundRepo> {
    let mut out = Vec::new();
    for r in roots.iter().filter(|r| !temp.contains(&r.path)) {
        if r.path.join(".git").exists() || is_gitdir(&r.path) {
            continue;
        }
        let found = r.path.ancestors().skip(1).find_map(|a| {
            let g = a.join(".git");
            let m = std::fs::symlink_metadata(&g).ok()?;
            let kind = if m.is_dir() {
                RepoKind::Dir
            } else if m.is_file() {
                RepoKind::Pointer
            } else {
                return None;
            };
            Some(FoundRepo {
                at: g,
                kind,
                depth: 0,
            })
        });
        out.extend(found);
    }
    out
}

/// Before the writable roots are computed: in commit mode, a write rule for every gitdir (and
/// common dir) of the repositories found, so the top-level `.git` is no longer protected as a
/// whole and gitdirs outside the roots become writable.
fn add_commit_rules(out: &mut ResolvedPolicy, scan: &RepoScan) {
    let mut dirs = BTreeSet::new();
    for r in &scan.repos {
        let Some(g) = r.gitdir() else { continue };
        // A real gitdir only: an empty `.git` stub (a placeholder of another run) is not one.
        if !(is_gitdir(&g) || (g.join("HEAD").is_file() && g.join("commondir").is_file())) {
            continue;
        }
        let g = canonical(&g, out.target);
        if let Some(c) = commondir(&g).filter(|c| c.is_dir()) {
            dirs.insert(canonical(&c, out.target));
        }
        dirs.insert(g);
    }
    // A gitdir inside another one is covered by the outer one's rule.
    let outer: Vec<PathBuf> = dirs
        .iter()
        .filter(|d| !dirs.iter().any(|o| o != *d && d.starts_with(o)))
        .cloned()
        .collect();
    for d in outer {
        if out.rules.iter().any(|r| r.path == d) {
            continue;
        }
        out.rules.push(Rule {
            path: d,
            access: Access::Write,
            origin: COMMIT_RULE_ORIGIN.into(),
        });
    }
    out.rules
        .sort_by(|a, b| a.path.cmp(&b.path).then(a.access.cmp(&b.access)));
}

/// After the writable roots are computed: the protected paths of every repository found.
pub(crate) fn protect(out: &mut ResolvedPolicy, scan: &RepoScan) -> Result<(), CoreError> {
    let target = out.target;
    let canon = |p: &Path| canonical(p, target);
    let commit_roots: BTreeSet<PathBuf> = out
        .rules
        .iter()
        .filter(|r| r.origin == COMMIT_RULE_ORIGIN)
        .map(|r| r.path.clone())
        .collect();
    let mut add: Vec<Protected> = Vec::new();
    for r in &scan.repos {
        let top = r.depth == 0 && r.kind != RepoKind::Bare;
        // Read-only as a whole unless commit mode made its gitdir writable (a repository
        // found only through `/tmp` stays read-only in commit mode too).
        let mode = match r.gitdir().map(|g| canon(&g)) {
            Some(g) if commit_roots.iter().any(|c| g.starts_with(c)) => GitMode::Commit,
            _ => GitMode::ReadOnly,
        };
        match (r.kind, mode) {
            // The top-level `.git` is a protected name already (with its gitdir).
            // Only a real repository: an empty `.git` the command fills later is a new
            // repository, for the post-run check.
            (RepoKind::Dir, GitMode::ReadOnly) if !top && is_gitdir(&r.at) => add.push(Protected {
                path: canon(&r.at),
                kind: PathKind::Dir,
                reason: "nested .git".into(),
            }),
            (RepoKind::Pointer, mode) if !top => {
                add.push(Protected {
                    path: canon(&r.at),
                    kind: PathKind::File,
                    reason: "git pointer".into(),
                });
                if let (GitMode::ReadOnly, Some(t)) = (mode, r.gitdir()) {
                    if t.exists() {
                        let t = canon(&t);
                        add.push(Protected {
                            kind: if t.is_dir() {
                                PathKind::Dir
                            } else {
                                PathKind::File
                            },
                            reason: format!("gitdir of {}", r.at.display()),
                            path: t,
                        });
                    }
                }
            }
            (RepoKind::Bare, _) => add.extend(sensitive(&canon(&r.at), false)?),
            _ => {}
        }
        // A `core.hooksPath` directory that exists (often `.githooks/` in the work tree):
        // git runs what is in it, so it is read-only like `hooks/`.
        if let Some(dir) = hooks_path(r) {
            if dir.is_dir() && !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_symlink()) {
                add.push(Protected {
                    path: canon(&dir),
                    kind: PathKind::Dir,
                    reason: "git hooks (core.hooksPath)".into(),
                });
            }
        }
    }
    // Commit mode: each gitdir root keeps its family's config and hooks read-only.
    for root in &mut out.writable_roots {
        if commit_roots.contains(&root.path) {
            let mut v = Vec::new();
            for g in gitdir_family(&root.path) {
                let g = canon(&g);
                if g.starts_with(&root.path) {
                    let worktree = g.join("commondir").is_file();
                    v.extend(sensitive(&g, !worktree)?);
                }
            }
            root.protected = v;
        }
    }
    for p in add {
        // Placed in the deepest writable root holding it; outside every root it is not
        // writable anyway.
        let Some(root) = out
            .writable_roots
            .iter_mut()
            .filter(|w| p.path.starts_with(&w.path) && p.path != w.path)
            .max_by_key(|w| w.path.components().count())
        else {
            continue;
        };
        if !root.protected.iter().any(|q| q.path == p.path) {
            root.protected.push(p);
        }
    }
    for root in &mut out.writable_roots {
        // A gitdir commit mode made writable (or one inside it, such as a linked worktree's
        // `worktrees/NAME`) is no longer protected as a whole; its sensitive names are.
        root.protected.retain(|p| {
            SENSITIVE.iter().any(|(_, r)| p.reason == *r)
                || !commit_roots.iter().any(|c| p.path.starts_with(c))
        });
        root.protected.sort_by(|a, b| a.path.cmp(&b.path));
    }
    Ok(())
}

/// The directory the repository's own `config` names in `core.hooksPath` (relative values
/// are taken from the work tree; `~/…` is left alone: it is not in the repository).
fn hooks_path(r: &FoundRepo) -> Option<PathBuf> {
    let g = r.gitdir()?;
    let text = read_config(&g.join("config"))?;
    let value = crate::gitconfig::parse(&text)
        .into_iter()
        .rev()
        .find(|s| s.key == "core.hookspath")?
        .value;
    let p = Path::new(&value);
    if p.is_absolute() {
        return Some(normalize(p));
    }
    if value.starts_with('~') || r.kind == RepoKind::Bare {
        return None;
    }
    Some(normalize(&r.at.parent()?.join(p)))
}

/// A config file's text, when it is a regular file of at most 1 MiB.
fn read_config(p: &Path) -> Option<String> {
    let m = std::fs::symlink_metadata(p).ok()?;
    if !m.is_file() || m.len() > crate::gitconfig::MAX_CONFIG_BYTES {
        return None;
    }
    std::fs::read_to_string(p).ok()
}

/// The [`SENSITIVE`] entries of one gitdir that exist, plus the missing `hooks` and `info`
/// when `missing_dirs` (kept uncreatable: an empty read-only directory is harmless to git).
fn sensitive(gitdir: &Path, missing_dirs: bool) -> Result<Vec<Protected>, CoreError> {
    let mut v = Vec::new();
    for (name, reason) in SENSITIVE {
        let path = gitdir.join(name);
        let kind = match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(CoreError::SymlinkedProtected {
                    path: path.display().to_string(),
                    target: std::fs::read_link(&path)
                        .map(|t| t.display().to_string())
                        .unwrap_or_else(|_| "?".into()),
                    root: gitdir.display().to_string(),
                })
            }
            Ok(m) if m.is_dir() => PathKind::Dir,
            Ok(_) => PathKind::File,
            Err(_) if missing_dirs && matches!(name, "hooks" | "info") => PathKind::Missing,
            Err(_) => continue,
        };
        v.push(Protected {
            path,
            kind,
            reason: reason.into(),
        });
    }
    Ok(v)
}

/// Whether commit mode would allow writing `path`, which this read-only-git policy denies:
/// it lies in a protected gitdir and is none of the [`SENSITIVE`] names (`explain` then points
/// to `--allow-git-commit`).
pub fn commit_mode_would_allow(policy: &ResolvedPolicy, path: &Path) -> bool {
    if policy.git.mode == GitMode::Commit || policy.git.scan_roots.is_empty() {
        return false;
    }
    let abs = policy.cwd.join(path);
    let canon = canonical(&abs, policy.target);
    let Some((_, p)) = policy.protecting(&canon) else {
        return false;
    };
    let gitdir =
        p.reason == ".git" || p.reason == "nested .git" || p.reason.starts_with("gitdir of");
    gitdir && p.kind == PathKind::Dir && canon.strip_prefix(&p.path).is_ok_and(commit_mode_allows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bare(at: &Path) {
        std::fs::create_dir_all(at.join("objects")).unwrap();
        std::fs::create_dir_all(at.join("refs")).unwrap();
        std::fs::write(at.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    }

    fn scan_one(root: &Path, max_depth: Option<usize>) -> RepoScan {
        scan(&[ScanRoot {
            path: root.to_path_buf(),
            max_depth,
        }])
    }

    fn found(s: &RepoScan, root: &Path) -> Vec<(String, RepoKind, usize)> {
        s.repos
            .iter()
            .map(|r| {
                let rel = r.at.strip_prefix(root).unwrap().display().to_string();
                (rel, r.kind, r.depth)
            })
            .collect()
    }

    /// At the depth limit the directory is looked into, not listed: the same repositories are
    /// found as one level deeper would find there, and the walk counts as cut exactly when a
    /// subdirectory other than `.git` was left out.
    #[cfg(unix)]
    #[test]
    fn a_directory_at_the_depth_limit_is_looked_into_without_listing() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        bare(&root);
        bare(&root.join(".git"));
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("a/.git"), "gitdir: ../.git\n").unwrap();

        let s = scan_one(&root, Some(0));
        let expect_top = vec![
            (String::new(), RepoKind::Bare, 0),
            (".git".to_string(), RepoKind::Dir, 0),
        ];
        assert_eq!(found(&s, &root), expect_top);
        assert_eq!(s.depth_cut, vec![root.clone()], "`a` was left out");

        // One level deeper: `a` is at the limit now, looked into, and nothing below it is cut.
        let s = scan_one(&root, Some(1));
        let mut expect = expect_top.clone();
        expect.push(("a/.git".to_string(), RepoKind::Pointer, 1));
        expect.sort();
        let mut got = found(&s, &root);
        got.sort();
        assert_eq!(got, expect);
        assert!(s.depth_cut.is_empty(), "{s:?}");

        // Only `.git` below the root: nothing is cut; a `.git` symlink is no repository.
        let only = root.join("only");
        bare(&only.join(".git"));
        let s = scan_one(&only, Some(0));
        assert_eq!(
            found(&s, &only),
            vec![(".git".to_string(), RepoKind::Dir, 0)]
        );
        assert!(s.depth_cut.is_empty(), "{s:?}");
        let link = root.join("link");
        std::fs::create_dir(&link).unwrap();
        std::os::unix::fs::symlink(root.join(".git"), link.join(".git")).unwrap();
        let s = scan_one(&link, Some(0));
        assert!(s.repos.is_empty() && s.depth_cut.is_empty(), "{s:?}");
    }
}
