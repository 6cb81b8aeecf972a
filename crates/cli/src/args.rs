//! The POLICY options every subcommand shares, and turning them into a resolved policy.

use crate::exit;
use sandbox_core::{ConfigChoice, EnvPolicy, LoadRequest, ResolveEnv, ResolvedPolicy, TargetOs};
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
    /// Network mode: `full` (bare `--network`), `loopback` (a private loopback only), `proxy`
    /// (allowlisted domains through the launcher's proxy) or `off` (the default).
    #[arg(
        long,
        value_name = "MODE",
        num_args = 0..=1,
        require_equals = false,
        default_missing_value = "full",
        value_parser = ["off", "loopback", "proxy", "full"]
    )]
    pub network: Option<String>,
    /// Allow egress to hosts matching PATTERN through the proxy (repeatable; selects
    /// `--network proxy`): `pypi.org`, `*.pythonhosted.org` (also the apex), `host:443`.
    #[arg(long = "allow-domain", value_name = "PATTERN")]
    pub allow_domain: Vec<String>,
    /// Refuse hosts matching PATTERN even when allowed (repeatable; deny wins).
    #[arg(long = "deny-domain", value_name = "PATTERN")]
    pub deny_domain: Vec<String>,
    /// Let the command connect to this host unix socket (repeatable; the socket itself, or
    /// every socket below a directory), e.g. "$SSH_AUTH_SOCK". Host sockets are closed
    /// otherwise.
    #[arg(long = "allow-unix-socket", value_name = "PATH")]
    pub allow_unix_socket: Vec<PathBuf>,
    /// Deny reading paths matching a git-style glob (repeatable), e.g. '**/*.env'.
    #[arg(long = "deny-read", value_name = "GLOB")]
    pub deny_read: Vec<String>,
    /// Read this TOML config (Codex keys are accepted). Without it, `$CODEX_HOME/config.toml`
    /// (default `~/.codex/config.toml`) is read when it exists.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Read no config file, not even `~/.codex/config.toml`.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,
    /// Use the `[permissions.NAME]` profile of the config.
    #[arg(
        short = 'P',
        long = "permissions",
        visible_alias = "permission-profile",
        alias = "permissions-profile",
        value_name = "NAME"
    )]
    pub permissions: Option<String>,
    /// Override a config key with a TOML value: `-c sandbox_workspace_write.network_access=true`.
    #[arg(short = 'c', value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Let the command commit in the repositories of its writable roots (objects, refs, the
    /// index writable; config and hooks stay read-only). Same as `[sandbox] git = "commit"`.
    #[arg(long)]
    pub allow_git_commit: bool,
    /// Exit 122 when the post-run git check finds something the command planted that git
    /// would run (a hook, `core.fsmonitor`, …), instead of only reporting it.
    #[arg(long)]
    pub strict_git: bool,
    /// Make the usual credential files unreadable: ~/.ssh (but known_hosts), ~/.aws,
    /// ~/.gnupg, ~/.config/gh, ~/.netrc, ~/.git-credentials, ~/.docker/config.json, ~/.kube,
    /// ~/.npmrc, ~/.pypirc, ~/.codex/auth.json, … (README "Credentials").
    #[arg(long)]
    pub deny_credentials: bool,
    /// Make the toolchain caches writable (cargo, npm, pnpm, yarn, pip, uv, go, gradle, maven,
    /// ccache, sccache), creating missing ones; ~/.cargo/bin and the like stay read-only.
    #[arg(long)]
    pub caches: bool,
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
    /// Which config file this run reads ([`sandbox_core::discovery`]).
    pub fn config_choice(&self) -> Result<ConfigChoice, std::process::ExitCode> {
        let start = std::env::current_dir().map_err(|e| exit::fail("working directory", &e))?;
        Ok(sandbox_core::discovery::choose(
            self.config.as_ref().map(|p| absolute(&start, p)),
            self.no_config,
            std::env::var_os("CODEX_HOME").as_deref(),
            std::env::var_os("HOME").as_deref(),
            &start,
        ))
    }

    /// Loads, resolves and reports warnings; on failure prints the error and gives the exit code.
    pub fn resolve(&self, target: TargetOs) -> Result<ResolvedPolicy, std::process::ExitCode> {
        self.load_and_resolve(target).map(|(resolved, _)| resolved)
    }

    /// For the commands that run something: [`PolicyArgs::resolve`], then gives this process
    /// the environment the command is to see (`[shell_environment_policy]`). Every backend
    /// then hands on that same environment (by `exec` in place, through bwrap or
    /// sandbox-exec), and a command name is looked up in its `PATH`, as with `env -i`.
    pub fn resolve_for_run(
        &self,
        target: TargetOs,
    ) -> Result<ResolvedPolicy, std::process::ExitCode> {
        let (resolved, env) = self.load_and_resolve(target)?;
        replace_process_env(&env).map_err(|e| exit::fail("environment", &e))?;
        Ok(resolved)
    }

    fn load_and_resolve(
        &self,
        target: TargetOs,
    ) -> Result<(ResolvedPolicy, EnvPolicy), std::process::ExitCode> {
        let start = std::env::current_dir().map_err(|e| exit::fail("working directory", &e))?;
        let choice = self.config_choice()?;
        let req = LoadRequest {
            config_file: choice.file().map(Path::to_path_buf),
            overrides: self.overrides.clone(),
            sandbox_mode: self.sandbox.clone(),
            full_auto: self.full_auto,
            permissions_profile: self.permissions.clone(),
            writable_roots: self
                .writable_root
                .iter()
                .map(|p| absolute(&start, p))
                .collect(),
            network: false,
            network_mode: self.network.clone(),
            allow_domains: self.allow_domain.clone(),
            deny_domains: self.deny_domain.clone(),
            deny_read: self.deny_read.clone(),
            allow_unix_sockets: self
                .allow_unix_socket
                .iter()
                .map(|p| absolute(&start, p))
                .collect(),
            deny_credentials: self.deny_credentials,
            caches: self.caches,
        };
        let mut loaded = sandbox_core::load(&req).map_err(|e| match e.hint() {
            Some(hint) => exit::fail_hint("config", &e, hint),
            None => exit::fail("config", &e),
        })?;
        if self.allow_git_commit {
            loaded.policy.git.mode = sandbox_core::GitMode::Commit;
        }
        for w in &loaded.warnings {
            exit::warn(w);
        }
        let mut env = ResolveEnv::from_process().map_err(|e| exit::fail("policy", &e))?;
        // Before resolving, so a first build finds its (empty) cache rather than a skipped rule.
        for w in sandbox_core::caches::create_missing(&loaded.caches, env.home.as_deref()) {
            exit::warn(&w);
        }
        env.target = target;
        if let Some(cd) = &self.cd {
            env.cwd = absolute(&start, cd);
        }
        let mut resolved =
            sandbox_core::resolve(&loaded.policy, &env).map_err(|e| exit::fail("policy", &e))?;
        // The next launch runs this file: the command must not be able to replace it.
        if target == TargetOs::host() {
            if let Ok(exe) = std::env::current_exe() {
                resolved
                    .protect_executable(&exe, "the sandbox executable")
                    .map_err(|e| exit::fail("policy", &e))?;
            }
        }
        // Which placeholders runs made is recorded where the command must not write (done by
        // the backends too; here so that `explain` shows it).
        #[cfg(target_os = "linux")]
        if target == TargetOs::Linux {
            sandbox_linux::placeholder::records::protect(&mut resolved).map_err(|e| {
                match e.hint() {
                    Some(h) => exit::fail_hint("policy", &e, h),
                    None => exit::fail("policy", &e),
                }
            })?;
        }
        let env_policy = loaded.env;
        for w in &resolved.warnings {
            exit::warn(w);
        }
        // (Only a regular file is "the config" a command could rewrite: not /dev/null or a FIFO.)
        if let Some(cfg) = req.config_file.as_ref().filter(|c| c.is_file()) {
            let cfg = sandbox_core::resolve::canonical(cfg, target);
            let writable = resolved
                .decide_canonical(&cfg, sandbox_core::Op::Write)
                .allowed
                && !resolved.unrestricted;
            // A config found by itself is never used from where the command could rewrite it;
            // one named with --config is the user's explicit choice, and only warns.
            if writable && matches!(choice, ConfigChoice::Found(_)) {
                return Err(exit::fail_hint(
                    "config",
                    &format!(
                        "`{}` is inside a writable root of this run: the command could write its own next policy",
                        cfg.display()
                    ),
                    "pass the file with --config to use it anyway, --no-config to skip it, or set CODEX_HOME to a directory outside the writable roots",
                ));
            }
            if writable {
                exit::warn(&format!(
                    "config `{}` is writable inside the sandbox: the command can change its own next policy",
                    cfg.display()
                ));
            }
        }
        Ok((resolved, env_policy))
    }
}

/// The `-v` line about the network: what the command gets, and with the network off, how to
/// allow it (a failed download or registry fetch rarely says that the network is missing).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn network_line(policy: &ResolvedPolicy) -> String {
    match policy.network {
        sandbox_core::NetworkPolicy::Off => "network: off (a download or registry fetch fails); \
             allow it with --network, or `network_access = true` under [sandbox_workspace_write] \
             or `enabled = true` under [permissions.NAME.network] in the config"
            .to_string(),
        ref other => format!("network: {}", other.name()),
    }
}

/// Replaces this process's environment with what `policy` builds from it. Called while the
/// CLI is still single-threaded, before anything is launched; a no-op for the default policy.
fn replace_process_env(policy: &EnvPolicy) -> Result<(), String> {
    if policy.is_passthrough() {
        return Ok(());
    }
    // std cannot remove a name that is empty or holds `=` (only a hand-made environ has one;
    // config `set` names are checked when loaded): refuse rather than let it through.
    let settable = |k: &std::ffi::OsStr| !k.is_empty() && !k.to_string_lossy().contains('=');
    let current: Vec<_> = std::env::vars_os().collect();
    if let Some((k, _)) = current.iter().find(|(k, _)| !settable(k)) {
        return Err(format!(
            "cannot filter a variable named `{}`: remove it from the environment",
            k.to_string_lossy()
        ));
    }
    let wanted = policy.build(current.iter().cloned());
    for (k, _) in &current {
        std::env::remove_var(k);
    }
    for (k, v) in wanted {
        std::env::set_var(&k, &v);
    }
    Ok(())
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
