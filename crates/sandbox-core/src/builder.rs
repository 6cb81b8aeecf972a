//! A small builder for embedding: a preset plus tweaks, resolved against this process.
//!
//! ```no_run
//! use sandbox_core::{PolicyBuilder, Preset};
//! let policy = PolicyBuilder::new(Preset::WorkspaceWrite)
//!     .cwd("/work/repo")
//!     .writable_root("/home/me/.cache/cargo")
//!     .deny_read("**/*.env")
//!     .build()?;
//! assert!(!policy.decide("/work/repo/.git/config".as_ref(), sandbox_core::Op::Write).allowed);
//! # Ok::<(), sandbox_core::CoreError>(())
//! ```

use crate::error::CoreError;
use crate::policy::{NetworkPolicy, Policy, Preset, UnixSockets};
use crate::resolve::{resolve, ResolveEnv, ResolvedPolicy, TargetOs};
use std::path::PathBuf;

/// Builds a [`ResolvedPolicy`] without a config file.
#[derive(Clone, Debug)]
pub struct PolicyBuilder {
    policy: Policy,
    cwd: Option<PathBuf>,
    target: TargetOs,
}

impl PolicyBuilder {
    pub fn new(preset: Preset) -> PolicyBuilder {
        PolicyBuilder {
            policy: Policy::preset(preset),
            cwd: None,
            target: TargetOs::host(),
        }
    }

    /// Starts from an already-built [`Policy`] (for example one loaded from a config).
    pub fn from_policy(policy: Policy) -> PolicyBuilder {
        PolicyBuilder {
            policy,
            cwd: None,
            target: TargetOs::host(),
        }
    }

    /// The working directory (the `:cwd` root); defaults to this process's.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// An extra writable root (absolute or `~/…`).
    pub fn writable_root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.policy.add_writable_root(dir.into(), "builder");
        self
    }

    /// A git-style deny-read glob; relative globs are anchored at the cwd.
    pub fn deny_read(mut self, glob: impl Into<String>) -> Self {
        self.policy.add_deny_glob(glob.into(), "builder");
        self
    }

    pub fn network(mut self, network: NetworkPolicy) -> Self {
        self.policy.network = network;
        self
    }

    pub fn unix_sockets(mut self, sockets: UnixSockets) -> Self {
        self.policy.unix_sockets = sockets;
        self
    }

    /// The git mode: [`crate::GitMode::Commit`] lets the command commit in the repositories
    /// of its writable roots (config and hooks stay read-only; see [`crate::git`]).
    pub fn git_mode(mut self, mode: crate::GitMode) -> Self {
        self.policy.git.mode = mode;
        self
    }

    /// Replaces the protected names (`.git`, `.codex`, `.agents`, `.aws` by default).
    pub fn protected_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.policy.protected_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Resolve for another OS (for printing its profile).
    pub fn target(mut self, target: TargetOs) -> Self {
        self.target = target;
        self
    }

    pub fn build(self) -> Result<ResolvedPolicy, CoreError> {
        let mut env = ResolveEnv::from_process()?;
        env.target = self.target;
        if let Some(cwd) = self.cwd {
            env.cwd = cwd;
        }
        resolve(&self.policy, &env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Op;

    #[test]
    fn builder_resolves_against_given_cwd() {
        let d = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(d.path()).unwrap();
        let extra = base.join("extra");
        std::fs::create_dir_all(&extra).unwrap();
        let p = PolicyBuilder::new(Preset::WorkspaceWrite)
            .cwd(&base)
            .writable_root(&extra)
            .deny_read("**/*.pem")
            .protected_names([".git", ".hg"])
            .build()
            .unwrap();
        assert_eq!(p.cwd, base);
        assert!(p.decide(&extra.join("f"), Op::Create).allowed);
        assert!(!p.decide(&base.join(".hg/hgrc"), Op::Write).allowed);
        assert!(p.decide(&base.join(".codex/x"), Op::Write).allowed);
        assert!(!p.decide(&base.join("k/server.pem"), Op::Read).allowed);
    }
}
