//! The POLICY options every subcommand shares, and turning them into a resolved policy.

use crate::exit;
use sandbox_core::{LoadRequest, ResolveEnv, ResolvedPolicy, TargetOs};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct PolicyArgs {
    /// Sandbox mode: read-only, workspace-write or danger-full-access.
    #[arg(
        short = 's',
        long = "sandbox",
        value_name = "MODE",
        conflicts_with = "permissions"
    )]
    pub sandbox: Option<String>,
    /// Shorthand for `-s workspace-write`.
    #[arg(long, conflicts_with_all = ["sandbox", "permissions"])]
    pub full_auto: bool,
    /// Working directory of the command, and the root of `:cwd`.
    #[arg(short = 'C', long = "cd", value_name = "DIR")]
    pub cd: Option<PathBuf>,
    /// An extra writable directory (repeatable).
    #[arg(long = "writable-root", value_name = "DIR")]
    pub writable_root: Vec<PathBuf>,
    /// Allow full network access.
    #[arg(long)]
    pub network: bool,
    /// Deny reading paths matching a git-style glob (repeatable), e.g. '**/*.env'.
    #[arg(long = "deny-read", value_name = "GLOB")]
    pub deny_read: Vec<String>,
    /// Read this TOML config (Codex keys are accepted). No config is read without it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Use the `[permissions.NAME]` profile of the config.
    #[arg(short = 'P', long = "permissions", value_name = "NAME")]
    pub permissions: Option<String>,
    /// Override a config key with a TOML value: `-c sandbox_workspace_write.network_access=true`.
    #[arg(short = 'c', value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Accept documented degradations (each printed as one warning) instead of refusing.
    #[arg(long)]
    pub best_effort: bool,
}

/// Makes a flag's path absolute against the directory `sandbox` was started in.
fn absolute(start: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        start.join(p)
    }
}

impl PolicyArgs {
    /// Loads, resolves and reports warnings; on failure prints the error and gives the exit code.
    pub fn resolve(&self, target: TargetOs) -> Result<ResolvedPolicy, std::process::ExitCode> {
        let start = std::env::current_dir().map_err(|e| exit::fail("working directory", &e))?;
        let req = LoadRequest {
            config_file: self.config.as_ref().map(|p| absolute(&start, p)),
            overrides: self.overrides.clone(),
            sandbox_mode: self.sandbox.clone(),
            full_auto: self.full_auto,
            permissions_profile: self.permissions.clone(),
            writable_roots: self
                .writable_root
                .iter()
                .map(|p| absolute(&start, p))
                .collect(),
            network: self.network,
            deny_read: self.deny_read.clone(),
        };
        let loaded = sandbox_core::load(&req).map_err(|e| exit::fail("config", &e))?;
        for w in &loaded.warnings {
            exit::warn(w);
        }
        let mut env = ResolveEnv::from_process().map_err(|e| exit::fail("policy", &e))?;
        env.target = target;
        if let Some(cd) = &self.cd {
            env.cwd = absolute(&start, cd);
        }
        let resolved =
            sandbox_core::resolve(&loaded.policy, &env).map_err(|e| exit::fail("policy", &e))?;
        for w in &resolved.warnings {
            exit::warn(w);
        }
        if let Some(cfg) = &req.config_file {
            let cfg = sandbox_core::resolve::canonical(cfg, target);
            if resolved
                .decide_canonical(&cfg, sandbox_core::Op::Write)
                .allowed
                && !resolved.unrestricted
            {
                exit::warn(&format!(
                    "config `{}` is writable inside the sandbox: the command can change its own next policy",
                    cfg.display()
                ));
            }
        }
        Ok(resolved)
    }
}

/// `--backend` for Linux.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// bubblewrap where user namespaces work, otherwise Landlock.
    Auto,
    Bwrap,
    Landlock,
}

/// `--format` for `profile`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}
