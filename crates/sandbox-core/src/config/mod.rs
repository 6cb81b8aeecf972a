//! Builds a [`Policy`] from a TOML config (Codex's keys), `-c key=value` overrides and the
//! command-line flags, in that order of precedence (flags last, so they win).
//!
//! Unknown keys warn and are ignored, so one config can be shared across versions; a known key
//! with the wrong type fails with the file, the key, what was expected and what was found.
//!
//! - `source.rs` reads the file (with a size limit) and applies the `-c` overrides;
//! - `reader.rs` holds the typed getters and the errors that name file and key;
//! - `codex.rs` reads `sandbox_mode`, `[sandbox_workspace_write]` and the profiles;
//! - `sandbox_table.rs` reads our own `[sandbox]` table;
//! - `network.rs` reads every network key and flag (domain rules, proxy, unix sockets);
//! - `shell_env.rs` reads `[shell_environment_policy]`.

use crate::env::EnvPolicy;
use crate::error::CoreError;
use crate::policy::{Access, Entry, Policy, Preset, Target};
use reader::Cx;
use source::COMMAND_LINE;
use std::path::PathBuf;
use toml::Table;

mod codex;
mod domains;
mod network;
mod reader;
mod sandbox_table;
mod shell_env;
mod source;

/// Everything the user said about the policy. Paths must already be absolute (the CLI makes
/// relative flag values absolute against the directory it was started in).
#[derive(Clone, Debug, Default)]
pub struct LoadRequest {
    /// `--config FILE`; no file is read when `None`.
    pub config_file: Option<PathBuf>,
    /// `-c key=value`, applied to the config in order.
    pub overrides: Vec<String>,
    /// `-s MODE`.
    pub sandbox_mode: Option<String>,
    /// `--full-auto` (the same as `-s workspace-write`).
    pub full_auto: bool,
    /// `-P NAME`: a `[permissions.NAME]` profile.
    pub permissions_profile: Option<String>,
    /// `--writable-root DIR`, repeatable.
    pub writable_roots: Vec<PathBuf>,
    /// `--network`.
    pub network: bool,
    /// `--deny-read GLOB`, repeatable.
    pub deny_read: Vec<String>,
    /// `--allow-unix-socket PATH`, repeatable: host sockets added to the allowlist.
    pub allow_unix_sockets: Vec<PathBuf>,
    /// `--network MODE` (`off`, `loopback`, `proxy`, `full`); bare `--network` is `network`.
    pub network_mode: Option<String>,
    /// `--allow-domain PATTERN`, repeatable (selects the proxy mode).
    pub allow_domains: Vec<String>,
    /// `--deny-domain PATTERN`, repeatable (selects the proxy mode).
    pub deny_domains: Vec<String>,
    /// `--deny-credentials` ([`crate::credentials`]).
    pub deny_credentials: bool,
    /// `--caches`: every toolchain cache writable ([`crate::caches`]).
    pub caches: bool,
}

/// The loaded policy and the warnings met on the way.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Loaded {
    pub policy: Policy,
    /// `[shell_environment_policy]`: the environment the command is given.
    pub env: EnvPolicy,
    /// The caches preset: what to create before resolving (the paths are among the rules).
    pub caches: crate::caches::Plan,
    pub warnings: Vec<String>,
}

/// Loads the policy for `req`.
pub fn load(req: &LoadRequest) -> Result<Loaded, CoreError> {
    let file_name = req
        .config_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| COMMAND_LINE.to_string());
    let mut table = match &req.config_file {
        Some(path) => source::read_table(path)?,
        None => Table::new(),
    };
    for spec in &req.overrides {
        source::apply_override(&mut table, spec)?;
    }
    let mut cx = Cx::new(file_name, source::overridden_keys(&req.overrides));
    let mut policy = cx.policy_from(&table, req)?;
    let env = cx.env_from(&table)?;

    // Read-only writes nowhere (Codex ignores writable roots there): a root given anyway is
    // a mistake, not a request to make it writable.
    if let (Some(Preset::ReadOnly), Some(root)) = (policy.preset, req.writable_roots.first()) {
        return Err(CoreError::WritableRootInReadOnly {
            root: root.display().to_string(),
        });
    }

    let home = std::env::var_os("HOME").map(PathBuf::from);
    let deny_credentials = req.deny_credentials || cx.deny_credentials;
    if deny_credentials && policy.unrestricted {
        cx.warnings.push(
            "danger-full-access runs without a sandbox: deny_credentials is not enforced".into(),
        );
    } else if deny_credentials {
        policy
            .entries
            .extend(crate::credentials::entries(home.as_deref()));
    }
    let selection = if req.caches {
        crate::caches::Selection::All
    } else {
        std::mem::take(&mut cx.caches)
    };
    let caches = if policy.unrestricted {
        crate::caches::Plan::default()
    } else {
        let from = if req.caches {
            "--caches"
        } else {
            "sandbox.caches"
        };
        crate::caches::plan(&selection, &|k| std::env::var_os(k), home.as_deref()).map_err(
            |name| CoreError::ConfigValue {
                file: if req.caches {
                    COMMAND_LINE.into()
                } else {
                    cx.source("sandbox.caches")
                },
                key: from.into(),
                reason: format!(
                    "unknown tool `{name}`; expected some of {}",
                    crate::caches::TOOLS.join(", ")
                ),
            },
        )?
    };
    for c in &caches.paths {
        policy.entries.push(Entry::new(
            Target::Path(c.path.clone()),
            Access::Write,
            format!("{} ({})", crate::caches::ORIGIN, c.tool),
        ));
    }

    for root in &req.writable_roots {
        policy.add_writable_root(root.clone(), "--writable-root");
    }
    for glob in &req.deny_read {
        policy.add_deny_glob(glob.clone(), "--deny-read");
    }
    if policy.unrestricted && !req.deny_read.is_empty() {
        cx.warnings
            .push("danger-full-access runs without a sandbox: --deny-read is not enforced".into());
    }
    cx.finish_network(&mut policy, req)?;
    network::allow_unix_sockets(
        &mut policy.unix_sockets,
        req.allow_unix_sockets.iter().cloned(),
    );
    Ok(Loaded {
        policy,
        env,
        caches,
        warnings: cx.warnings,
    })
}
