//! The post-run git check of the run commands ([`sandbox_core::git_audit`]): a snapshot of
//! every git-executable setting and hook before the command runs, a second one after it
//! exits, and one stderr line per item the command added. The exit status is the command's
//! own, unless `--strict-git` is given: then any finding makes it [`exit::GIT_PLANTED`].

use crate::exit;
use sandbox_core::git::ScanRoot;
use sandbox_core::git_audit::{describe, Snapshot};
use sandbox_core::{Op, ResolvedPolicy};
use std::path::{Path, PathBuf};

/// A check in progress: the snapshot taken before the command started.
pub struct GitCheck {
    roots: Vec<ScanRoot>,
    /// The global git configs the command may write (`~/.gitconfig` when the home directory
    /// is a writable root, …): every git command reads them.
    user_configs: Vec<PathBuf>,
    home: Option<PathBuf>,
    before: Snapshot,
    strict: bool,
}

impl GitCheck {
    /// Takes the first snapshot; `None` when nothing is checked (no sandbox, no writable
    /// root, or `.git` not among the protected names).
    pub fn start(policy: &ResolvedPolicy, strict: bool) -> Option<GitCheck> {
        if policy.unrestricted || policy.git.scan_roots.is_empty() {
            return None;
        }
        let roots = policy.git.audit_roots.clone();
        let home = std::env::var_os("HOME")
            .map(std::path::PathBuf::from)
            .filter(|h| h.is_absolute());
        let user_configs = user_configs(policy, home.as_deref());
        // The repositories `resolve` found a moment ago: not searched for a second time.
        let before = Snapshot::of_repos(&policy.git.found, &user_configs, home.as_deref());
        Some(GitCheck {
            roots,
            user_configs,
            home,
            before,
            strict,
        })
    }

    /// Takes the second snapshot, reports each finding and gives the exit code to use.
    pub fn finish(self, code: u8) -> u8 {
        let after = Snapshot::take(&self.roots, &self.user_configs, self.home.as_deref());
        let found = self.before.findings(&after);
        if found.is_empty() {
            return code;
        }
        for f in &found {
            exit::err!("sandbox: git: {}", describe(f));
        }
        if self.strict {
            exit::err!(
                "sandbox: git: {} planted item(s); exiting {} (--strict-git) instead of the command's status {code}",
                found.len(),
                exit::GIT_PLANTED
            );
            exit::GIT_PLANTED
        } else {
            exit::err!(
                "hint: check these before running git in those directories; --strict-git makes such a run exit {}",
                exit::GIT_PLANTED
            );
            code
        }
    }
}

/// The global git configs (`$XDG_CONFIG_HOME/git/config`, `~/.gitconfig`,
/// `~/.config/git/config`) that the policy lets the command create or change.
fn user_configs(policy: &ResolvedPolicy, home: Option<&Path>) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from) {
        if x.is_absolute() {
            v.push(x.join("git/config"));
        }
    }
    if let Some(h) = home {
        v.push(h.join(".gitconfig"));
        v.push(h.join(".config/git/config"));
    }
    v.retain(|p| policy.decide(p, Op::Create).allowed || policy.decide(p, Op::Write).allowed);
    v
}

/// [`GitCheck::finish`] when a check runs, else `code`.
pub fn finish(check: Option<GitCheck>, code: u8) -> u8 {
    match check {
        Some(c) => c.finish(code),
        None => code,
    }
}
