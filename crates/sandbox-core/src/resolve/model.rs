//! What resolution produces: a [`ResolvedPolicy`] of concrete path [`Rule`]s and
//! [`WritableRoot`]s with their [`Protected`] paths, and the queries backends ask of it.

use super::target::TargetOs;
use crate::error::CoreError;
use crate::glob::DenyGlob;
use crate::policy::{Access, NetworkPolicy, UnixSockets};
use serde::Serialize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// One concrete path rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub path: PathBuf,
    pub access: Access,
    pub origin: String,
}

/// What is at a protected path when the policy was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PathKind {
    Dir,
    File,
    Missing,
    /// A symbolic link another user owns in a sticky directory, met by root (who bypasses the
    /// sticky bit): held as it is, never followed (see `foreign_link`). Linux only.
    Link,
}

/// A path kept read-only, and not creatable, inside a writable root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Protected {
    pub path: PathBuf,
    pub kind: PathKind,
    /// Why: `.git`, `.codex`, or `gitdir of /ws/.git`.
    pub reason: String,
}

/// A writable root and the protected paths under (or pointed at from) it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WritableRoot {
    pub path: PathBuf,
    pub protected: Vec<Protected>,
}

/// A policy with every path concrete: the input of every backend compiler and of the oracle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedPolicy {
    /// `workspace-write`, `profile NAME`, …
    pub description: String,
    pub target: TargetOs,
    /// Nothing is enforced (`danger-full-access`).
    pub unrestricted: bool,
    pub cwd: PathBuf,
    /// Path rules, sorted by path; the deepest matching rule decides.
    pub rules: Vec<Rule>,
    pub deny_globs: Vec<DenyGlob>,
    /// Paths with write access, sorted, each with its protected subpaths.
    pub writable_roots: Vec<WritableRoot>,
    /// `:minimal` was requested (platform default read roots are among `rules`).
    pub minimal: bool,
    pub network: NetworkPolicy,
    pub unix_sockets: UnixSockets,
    pub glob_scan_max_depth: Option<usize>,
    /// Git mode and the roots searched for repositories ([`crate::git`]).
    pub git: crate::git::settings::GitSettings,
    /// Things skipped or doubtful during resolution; the CLI prints each as a warning.
    pub warnings: Vec<String>,
}

impl ResolvedPolicy {
    /// True when every path is readable except those denied by rules or globs.
    pub fn reads_everything(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.path == Path::new("/") && r.access != Access::Deny)
            && !self
                .rules
                .iter()
                .any(|r| r.path == Path::new("/") && r.access == Access::Deny)
    }

    /// Paths with an explicit deny rule, sorted.
    pub fn denied_paths(&self) -> Vec<&Path> {
        self.rules
            .iter()
            .filter(|r| r.access == Access::Deny)
            .map(|r| r.path.as_path())
            .collect()
    }

    /// Paths with an explicit read rule (the roots of a restricted read view), sorted.
    pub fn read_roots(&self) -> Vec<&Path> {
        self.rules
            .iter()
            .filter(|r| r.access == Access::Read)
            .map(|r| r.path.as_path())
            .collect()
    }

    /// Every protected path of every writable root, sorted and de-duplicated.
    pub fn protected_paths(&self) -> Vec<&Protected> {
        let mut all: Vec<&Protected> = self
            .writable_roots
            .iter()
            .flat_map(|r| r.protected.iter())
            .collect();
        all.sort_by(|a, b| a.path.cmp(&b.path));
        all.dedup_by(|a, b| a.path == b.path);
        all
    }

    /// The protected paths a backend keeps read-only: [`Self::protected_paths`] less each one
    /// that is itself a writable root (a linked worktree's gitdir given its own
    /// `--writable-root`). A writable root at the very path re-grants it whole, so the oracle
    /// lets nothing there be protected by it ([`Self::protecting`]): there is no read-only
    /// layer, placeholder or hold to make there. Backends read this instead of deciding it.
    pub fn read_only_protected_paths(&self) -> Vec<&Protected> {
        let mut v = self.protected_paths();
        v.retain(|p| !self.is_writable_root(&p.path));
        v
    }

    /// Whether `path` is a writable root itself (not merely below one).
    pub fn is_writable_root(&self, path: &Path) -> bool {
        self.writable_roots.iter().any(|r| r.path == path)
    }

    /// Directories the command must not rename while it runs: each ancestor of a protected
    /// path whose own parent lies in a writable root. Renaming one would carry the protected
    /// path's read-only mount away with it and leave the name free for a fresh, writable
    /// copy. Backends make each one a mount point, which cannot be renamed. Shallowest first.
    /// A read or deny rule inside a writable root is carved out the same way, so the
    /// directories leading to it are pinned too.
    pub fn rename_pins(&self) -> Vec<PathBuf> {
        self.rename_pins_with(std::iter::empty())
    }

    /// [`Self::rename_pins`] plus the directories leading to each of `masked`: paths a
    /// backend masks beyond the rules, such as deny-glob matches expanded at launch.
    pub fn rename_pins_with<'a>(
        &'a self,
        masked: impl IntoIterator<Item = &'a Path>,
    ) -> Vec<PathBuf> {
        let in_root = |p: &Path| self.writable_roots.iter().any(|r| p.starts_with(&r.path));
        let carved_rules = self.rules.iter().filter(|r| {
            r.access != Access::Write
                && self
                    .writable_roots
                    .iter()
                    .any(|w| r.path.starts_with(&w.path) && r.path != w.path)
        });
        let carved = self
            .protected_paths()
            .into_iter()
            .map(|p| p.path.as_path())
            .chain(carved_rules.map(|r| r.path.as_path()))
            .chain(masked);
        let mut pins = std::collections::BTreeSet::new();
        for p in carved {
            let mut dir = p.parent();
            while let Some(d) = dir {
                match d.parent() {
                    Some(parent) if in_root(parent) => {
                        // Only a directory the command may write needs pinning: one it may
                        // not write cannot be renamed anyway, and a pin (a fresh bind mount,
                        // writable) inside a read-only or masked one would undo it.
                        if self.allows_canonical(d, crate::policy::Op::Write) {
                            pins.insert(d.to_path_buf());
                        }
                        dir = Some(parent);
                    }
                    _ => break,
                }
            }
        }
        let mut v: Vec<PathBuf> = pins.into_iter().collect();
        v.sort_by_key(|p| p.components().count());
        v
    }
}

/// The outside facts resolution depends on. [`ResolveEnv::from_process`] reads them from the
/// running process; tests build one by hand.
#[derive(Clone, Debug)]
pub struct ResolveEnv {
    pub cwd: PathBuf,
    pub tmpdir: Option<OsString>,
    pub home: Option<PathBuf>,
    pub target: TargetOs,
}

impl ResolveEnv {
    /// Reads the cwd, `$TMPDIR` and `$HOME` of this process, for the host OS.
    pub fn from_process() -> Result<ResolveEnv, CoreError> {
        let cwd = std::env::current_dir().map_err(|e| CoreError::Cwd {
            path: ".".into(),
            reason: e.to_string(),
        })?;
        Ok(ResolveEnv {
            cwd,
            tmpdir: std::env::var_os("TMPDIR"),
            home: std::env::var_os("HOME").map(PathBuf::from),
            target: TargetOs::host(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::{Op, Policy, Preset};
    use crate::resolve::{resolve, ResolveEnv, TargetOs};
    use std::path::Path;

    /// A linked worktree whose gitdir is a writable root of its own: the gitdir is among the
    /// protected paths (the pointer names it) but not among the read-only ones, and the oracle
    /// agrees on every protected path: writable below exactly when not kept read-only.
    #[test]
    fn a_protected_path_that_is_a_writable_root_is_not_kept_read_only() {
        let t = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(t.path()).unwrap();
        let gitdir = base.join("repo/.git/worktrees/ws");
        std::fs::create_dir_all(&gitdir).unwrap();
        std::fs::create_dir_all(base.join("ws")).unwrap();
        std::fs::write(
            base.join("ws/.git"),
            format!("gitdir: {}\n", gitdir.display()),
        )
        .unwrap();
        let mut p = Policy::preset_with(Preset::WorkspaceWrite, true, true);
        p.add_writable_root(gitdir.clone(), "test");
        let env = ResolveEnv {
            cwd: base.join("ws"),
            tmpdir: None,
            home: None,
            target: TargetOs::Linux,
        };
        let r = resolve(&p, &env).unwrap();
        let all: Vec<&Path> = r
            .protected_paths()
            .iter()
            .map(|p| p.path.as_path())
            .collect();
        let kept: Vec<&Path> = r
            .read_only_protected_paths()
            .iter()
            .map(|p| p.path.as_path())
            .collect();
        assert!(all.contains(&gitdir.as_path()), "{all:?}");
        assert!(!kept.contains(&gitdir.as_path()), "{kept:?}");
        assert!(kept.contains(&base.join("ws/.git").as_path()), "{kept:?}");
        assert!(r.is_writable_root(&gitdir));
        assert!(!r.is_writable_root(&gitdir.join("HEAD")));
        for p in r.protected_paths() {
            let below = r.decide_canonical(&p.path.join("x"), Op::Create).allowed;
            let at = r.decide_canonical(&p.path, Op::Write).allowed;
            let read_only = kept.contains(&p.path.as_path());
            assert_eq!(below, !read_only, "{}", p.path.display());
            assert_eq!(at, !read_only, "{}", p.path.display());
        }
    }
}
