//! Builds a [`Policy`] from a TOML config (Codex's keys), `-c key=value` overrides and the
//! command-line flags, in that order of precedence (flags last, so they win).
//!
//! Unknown keys warn and are ignored, so one config can be shared across versions; a known key
//! with the wrong type fails with the file, the key, what was expected and what was found.

use crate::env::{EnvPolicy, Inherit};
use crate::error::CoreError;
use crate::glob::GLOB_META;
use crate::policy::{Access, Entry, NetworkPolicy, Policy, Preset, Special, Target, UnixSockets};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

mod network;

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
pub struct Loaded {
    pub policy: Policy,
    /// `[shell_environment_policy]`: the environment the command is given.
    pub env: EnvPolicy,
    /// The caches preset: what to create before resolving (the paths are among the rules).
    pub caches: crate::caches::Plan,
    pub warnings: Vec<String>,
}

/// Most dotted parts a `-c` key may have (config files have their own nesting limit).
const MAX_KEY_DEPTH: usize = 32;
/// Largest config file read; a bigger one (or an endless device) is refused, not read.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// What messages call the source of `-c` overrides when no config file is read.
const COMMAND_LINE: &str = "command line";

/// Top-level keys of a Codex config that have nothing to do with the sandbox.
const IGNORED_TOP_LEVEL: &[&str] = &[
    "model",
    "model_provider",
    "model_providers",
    "model_reasoning_effort",
    "model_reasoning_summary",
    "model_verbosity",
    "model_context_window",
    "approval_policy",
    "profile",
    "profiles",
    "mcp_servers",
    "features",
    "notify",
    "history",
    "tui",
    "projects",
    "file_opener",
    "hide_agent_reasoning",
    "show_raw_agent_reasoning",
    "disable_response_storage",
    "preferred_auth_method",
    "tools",
    "experimental_network",
    "otel",
    "windows_wsl_setup_acknowledged",
];

/// Loads the policy for `req`.
pub fn load(req: &LoadRequest) -> Result<Loaded, CoreError> {
    let file_name = req
        .config_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| COMMAND_LINE.to_string());
    let mut table = match &req.config_file {
        Some(path) => read_table(path)?,
        None => Table::new(),
    };
    for spec in &req.overrides {
        apply_override(&mut table, spec)?;
    }
    let mut cx = Cx {
        file: file_name,
        overridden: req
            .overrides
            .iter()
            .filter_map(|o| o.split_once('=').and_then(|(k, _)| split_dotted(k.trim())))
            .map(|parts| parts.join("."))
            .collect(),
        warnings: Vec::new(),
        domains: network::DomainAcc::default(),
        deny_credentials: false,
        caches: crate::caches::Selection::None,
    };
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
    allow_unix_sockets(
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

/// Adds host sockets to an allowlist (`"all"` stays all).
fn allow_unix_sockets(unix: &mut UnixSockets, add: impl IntoIterator<Item = PathBuf>) {
    let add: Vec<PathBuf> = add.into_iter().collect();
    if add.is_empty() {
        return;
    }
    match unix {
        UnixSockets::All => {}
        UnixSockets::None => *unix = UnixSockets::Paths(add),
        UnixSockets::Paths(v) => v.extend(add),
    }
}

/// `$NAME` or `${NAME}` (the whole value) replaced by that environment variable; other
/// values unchanged. `Err(NAME)` when it is unset or empty.
fn expand_env_var(value: &str) -> Result<String, String> {
    let name = value
        .strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .or_else(|| value.strip_prefix('$'));
    match name {
        Some(n) if !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            match std::env::var_os(n) {
                Some(v) if !v.is_empty() => Ok(v.to_string_lossy().into_owned()),
                _ => Err(n.to_string()),
            }
        }
        _ => Ok(value.to_string()),
    }
}

fn read_table(path: &PathBuf) -> Result<Table, CoreError> {
    let file = path.display().to_string();
    let read_err = |reason: String| CoreError::ConfigRead {
        file: file.clone(),
        reason,
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(
            std::fs::File::open(path).map_err(|e| read_err(e.to_string()))?,
            MAX_CONFIG_BYTES + 1,
        ),
        &mut bytes,
    )
    .map_err(|e| read_err(e.to_string()))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(read_err(format!(
            "larger than {} MiB: not a config file",
            MAX_CONFIG_BYTES / (1024 * 1024)
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| read_err("not valid UTF-8".into()))?;
    text.parse::<Table>().map_err(|e| CoreError::ConfigSyntax {
        file,
        // toml's message is a first line with the position, a quote of the line, and last
        // the reason ("duplicate key `x`"): keep the first and the last.
        reason: {
            let text = e.to_string();
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("parse error").to_string();
            match lines.next_back() {
                Some(reason) if !reason.starts_with('|') && !reason.starts_with('^') => {
                    format!("{first}: {reason}")
                }
                _ => first,
            }
        } + &e
            .span()
            .map(|s| format!(" (at byte {})", s.start))
            .unwrap_or_default(),
    })
}

/// Applies one `-c a.b."c/d"=VALUE`; VALUE is TOML, or a plain string when it is not.
fn apply_override(table: &mut Table, spec: &str) -> Result<(), CoreError> {
    let err = |reason: &str| CoreError::Override {
        // A message names the override, but not a megabyte of it.
        spec: match spec.char_indices().nth(120) {
            Some((i, _)) => format!("{}…", &spec[..i]),
            None => spec.into(),
        },
        reason: reason.into(),
    };
    let (key, raw) = spec
        .split_once('=')
        .ok_or_else(|| err("expected key=value"))?;
    let path = split_dotted(key.trim()).ok_or_else(|| err("malformed key"))?;
    if path.is_empty() || path.iter().any(|p| p.is_empty()) {
        return Err(err("empty key"));
    }
    if path.len() > MAX_KEY_DEPTH {
        return Err(err(&format!("more than {MAX_KEY_DEPTH} dotted parts")));
    }
    let raw = raw.trim();
    let value = match format!("v = {raw}").parse::<Table>() {
        Ok(mut t) => t.remove("v").unwrap_or(Value::String(raw.into())),
        Err(_) => Value::String(raw.into()),
    };
    let mut cur = table;
    for part in &path[..path.len() - 1] {
        let slot = cur
            .entry(part.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        cur = match slot {
            Value::Table(t) => t,
            other => {
                return Err(err(&format!(
                    "`{part}` is a {}, not a table",
                    other.type_str()
                )));
            }
        };
    }
    cur.insert(path[path.len() - 1].clone(), value);
    Ok(())
}

/// Splits `a.b."c.d"` into `[a, b, c.d]`; `None` on an unterminated quote.
fn split_dotted(key: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    ch => cur.push(ch),
                }
            },
            '.' => parts.push(std::mem::take(&mut cur)),
            ch => cur.push(ch),
        }
    }
    parts.push(cur);
    Some(parts)
}

/// The walk over one config: knows the file name for messages and collects warnings.
struct Cx {
    file: String,
    /// The dotted keys set by `-c`, so a message about one names `-c`, not the file.
    overridden: Vec<String>,
    warnings: Vec<String>,
    /// Domain rules met so far (see [`network`]).
    domains: network::DomainAcc,
    /// `[sandbox] deny_credentials`.
    deny_credentials: bool,
    /// `[sandbox] caches`.
    caches: crate::caches::Selection,
}

impl Cx {
    /// Where `key` came from: `-c` when an override set it (or a table above it), else the file.
    fn source(&self, key: &str) -> String {
        let from_override = self.overridden.iter().any(|o| {
            key == o || key.starts_with(&format!("{o}.")) || key.starts_with(&format!("{o}["))
        });
        if from_override {
            "-c".to_string()
        } else {
            self.file.clone()
        }
    }

    fn type_err(&self, key: &str, expected: &str, found: &Value) -> CoreError {
        CoreError::ConfigType {
            file: self.source(key),
            key: key.into(),
            expected: expected.into(),
            found: describe(found),
        }
    }

    fn value_err(&self, key: &str, reason: impl Into<String>) -> CoreError {
        CoreError::ConfigValue {
            file: self.source(key),
            key: key.into(),
            reason: reason.into(),
        }
    }

    fn warn_unknown(&mut self, key: &str) {
        let source = self.source(key);
        self.warnings
            .push(format!("{source}: unknown key `{key}` ignored"));
    }

    fn string<'a>(
        &self,
        t: &'a Table,
        key: &str,
        path: &str,
    ) -> Result<Option<&'a str>, CoreError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.type_err(path, "a string", v)),
        }
    }

    fn boolean(&self, t: &Table, key: &str, path: &str) -> Result<Option<bool>, CoreError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.type_err(path, "a boolean (true or false)", v)),
        }
    }

    fn table<'a>(
        &self,
        t: &'a Table,
        key: &str,
        path: &str,
    ) -> Result<Option<&'a Table>, CoreError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::Table(tb)) => Ok(Some(tb)),
            Some(v) => Err(self.type_err(path, "a table", v)),
        }
    }

    fn string_list(
        &self,
        t: &Table,
        key: &str,
        path: &str,
    ) -> Result<Option<Vec<String>>, CoreError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.type_err(&format!("{path}[{i}]"), "a string", other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.type_err(path, "an array of strings", v)),
        }
    }

    /// `[shell_environment_policy]`, Codex's keys; absent means the environment passes unchanged.
    fn env_from(&mut self, t: &Table) -> Result<EnvPolicy, CoreError> {
        const KEY: &str = "shell_environment_policy";
        let mut env = EnvPolicy::default();
        let Some(sp) = self.table(t, KEY, KEY)? else {
            return Ok(env);
        };
        for key in sp.keys() {
            match key.as_str() {
                "inherit" | "ignore_default_excludes" | "exclude" | "set" | "include_only" => {}
                "experimental_use_profile" => self.warnings.push(format!(
                    "{}: `{KEY}.{key}` ignored: commands are not run through a shell profile",
                    self.file
                )),
                _ => self.warn_unknown(&format!("{KEY}.{key}")),
            }
        }
        if let Some(name) = self.string(sp, "inherit", &format!("{KEY}.inherit"))? {
            env.inherit = Inherit::from_name(name).ok_or_else(|| {
                self.value_err(
                    &format!("{KEY}.inherit"),
                    format!("unknown value `{name}`; expected \"all\", \"core\" or \"none\""),
                )
            })?;
        }
        let ignore = format!("{KEY}.ignore_default_excludes");
        if let Some(b) = self.boolean(sp, "ignore_default_excludes", &ignore)? {
            env.ignore_default_excludes = b;
        }
        if let Some(v) = self.string_list(sp, "exclude", &format!("{KEY}.exclude"))? {
            env.exclude = v;
        }
        if let Some(v) = self.string_list(sp, "include_only", &format!("{KEY}.include_only"))? {
            env.include_only = v;
        }
        if let Some(set) = self.table(sp, "set", &format!("{KEY}.set"))? {
            for (name, value) in set {
                let path = format!("{KEY}.set.{name}");
                let Value::String(value) = value else {
                    return Err(self.type_err(&path, "a string", value));
                };
                if name.is_empty() || name.contains('=') || name.contains('\0') {
                    return Err(self.value_err(&path, "not a valid variable name"));
                }
                if value.contains('\0') {
                    return Err(self.value_err(&path, "a value cannot contain a NUL byte"));
                }
                env.set.insert(name.clone(), value.clone());
            }
        }
        Ok(env)
    }

    fn policy_from(&mut self, t: &Table, req: &LoadRequest) -> Result<Policy, CoreError> {
        for key in t.keys() {
            let known = matches!(
                key.as_str(),
                "sandbox_mode"
                    | "shell_environment_policy"
                    | "sandbox_workspace_write"
                    | "default_permissions"
                    | "permissions"
                    | "sandbox"
                    | "network_proxy"
            );
            if !known && !IGNORED_TOP_LEVEL.contains(&key.as_str()) {
                self.warn_unknown(key);
            }
        }
        // Sections this tool reads must have the right shape even when this run does not use
        // them, so a typo is found now rather than on the run that selects them.
        self.table(t, "sandbox_workspace_write", "sandbox_workspace_write")?;
        self.table(t, "profiles", "profiles")?;
        if let Some(perms) = self.table(t, "permissions", "permissions")? {
            for (name, v) in perms {
                if !matches!(v, Value::Table(_)) {
                    return Err(self.type_err(&format!("permissions.{name}"), "a table", v));
                }
            }
        }
        let config_mode = match self.config_profile_mode(t)? {
            Some(selected) => Some(selected),
            None => self
                .string(t, "sandbox_mode", "sandbox_mode")?
                .map(|m| ("sandbox_mode".to_string(), m)),
        };
        let default_permissions = self.string(t, "default_permissions", "default_permissions")?;

        // Flags beat the config; within the config the legacy `sandbox_mode` beats profiles.
        let cli_mode = if req.full_auto {
            Some(("--full-auto".to_string(), "workspace-write".to_string()))
        } else {
            req.sandbox_mode
                .clone()
                .map(|m| ("--sandbox".to_string(), m))
        };
        // A mode and a `[permissions]` profile do not compose (Codex applies the mode and
        // ignores the profile): refuse rather than drop the profile's rules without a word.
        if let Some(profile) = default_permissions.filter(|_| req.permissions_profile.is_none()) {
            let second = format!(
                "default_permissions = \"{profile}\" ({})",
                self.source("default_permissions")
            );
            let conflict = match (&cli_mode, &config_mode) {
                (Some((flag, mode)), _) => Some((
                    if flag == "--full-auto" {
                        flag.clone()
                    } else {
                        format!("{flag} {mode}")
                    },
                    format!(
                        "drop {flag} to run profile `{profile}`, or select a profile with -P NAME"
                    ),
                )),
                (None, Some((key, mode))) => Some((
                    format!("{key} = \"{mode}\" ({})", self.source(key)),
                    format!("remove one of the two keys, or select the profile with -P {profile}"),
                )),
                (None, None) => None,
            };
            if let Some((first, hint)) = conflict {
                return Err(CoreError::Conflict {
                    first,
                    second,
                    why: format!("the mode would replace profile `{profile}` and drop its rules"),
                    hint,
                });
            }
        }
        if let (Some(name), Some((key, mode))) = (&req.permissions_profile, &config_mode) {
            self.warnings.push(format!(
                "{}: `{key} = \"{mode}\"` is not applied: -P {name} selects a [permissions] profile",
                self.source(key)
            ));
        }
        let mut policy = if let Some((flag, mode)) = cli_mode {
            let preset = Preset::from_name(&mode).ok_or_else(|| CoreError::ConfigValue {
                file: "command line".into(),
                key: flag,
                reason: format!(
                    "unknown sandbox mode `{mode}`; expected read-only, workspace-write or danger-full-access"
                ),
            })?;
            self.legacy(t, preset)?
        } else if let Some(name) = &req.permissions_profile {
            self.profile(t, name, "--permissions")?
        } else if let Some((key, mode)) = config_mode {
            let preset = Preset::from_name(mode).ok_or_else(|| {
                self.value_err(
                    &key,
                    format!("unknown mode `{mode}`; expected read-only, workspace-write or danger-full-access"),
                )
            })?;
            self.legacy(t, preset)?
        } else if let Some(name) = default_permissions {
            self.profile(t, name, "default_permissions")?
        } else {
            Policy::preset(Preset::ReadOnly)
        };
        self.sandbox_table(t, &mut policy)?;
        self.proxy_unix_sockets(t, &mut policy)?;
        self.network_proxy(t)?;
        Ok(policy)
    }

    /// Codex's `[network_proxy.policy] allow_unix_sockets = ["$SSH_AUTH_SOCK", …]`: host
    /// sockets added to the allowlist. A whole-value `$NAME`/`${NAME}` is expanded; an unset
    /// variable skips its entry with a warning (allowing nothing is the safe side).
    fn proxy_unix_sockets(&mut self, t: &Table, policy: &mut Policy) -> Result<(), CoreError> {
        let Some(proxy) = self.table(t, "network_proxy", "network_proxy")? else {
            return Ok(());
        };
        let Some(pol) = self.table(proxy, "policy", "network_proxy.policy")? else {
            return Ok(());
        };
        let key = "network_proxy.policy.allow_unix_sockets";
        let Some(list) = self.string_list(pol, "allow_unix_sockets", key)? else {
            return Ok(());
        };
        let mut add = Vec::new();
        for (i, item) in list.iter().enumerate() {
            match expand_env_var(item) {
                Ok(v) => add.push(PathBuf::from(v)),
                Err(name) => self.warnings.push(format!(
                    "{}: {key}[{i}]: ${name} is not set; entry skipped",
                    self.file
                )),
            }
        }
        allow_unix_sockets(&mut policy.unix_sockets, add);
        Ok(())
    }

    /// Codex's legacy config profiles: `profile = "NAME"` selects `[profiles.NAME]`, whose
    /// `sandbox_mode` wins over the top-level one, as in Codex. Gives that key's path and value.
    /// The other sandbox keys of a profile are not read, and each one warns.
    fn config_profile_mode<'t>(
        &mut self,
        t: &'t Table,
    ) -> Result<Option<(String, &'t str)>, CoreError> {
        let Some(name) = self.string(t, "profile", "profile")? else {
            return Ok(None);
        };
        let profiles = self.table(t, "profiles", "profiles")?;
        let Some(selected) = profiles.and_then(|ps| ps.get(name)) else {
            // Newer Codex keeps profiles in `$CODEX_HOME/NAME.config.toml` files, layered over
            // the config; this tool does not layer them, so it refuses rather than ignore one.
            let file = Path::new(&self.file).with_file_name(format!("{name}.config.toml"));
            let reason = if self.file != COMMAND_LINE && file.is_file() {
                format!(
                    "selects `{name}`, a profile file ({}) that this tool does not layer; \
                     pass it with --config, or its keys with -c",
                    file.display()
                )
            } else {
                format!("selects `{name}`, but there is no `[profiles.{name}]` table")
            };
            return Err(self.value_err("profile", reason));
        };
        let path = format!("profiles.{name}");
        let Value::Table(selected) = selected else {
            return Err(self.type_err(&path, "a table", selected));
        };
        for key in selected.keys() {
            if matches!(
                key.as_str(),
                "sandbox_workspace_write"
                    | "default_permissions"
                    | "permissions"
                    | "shell_environment_policy"
                    | "sandbox"
            ) {
                self.warnings.push(format!(
                    "{}: `{path}.{key}` is not applied (only `sandbox_mode` is read from a config profile); set `{key}` at the top level",
                    self.file
                ));
            }
        }
        let key = format!("{path}.sandbox_mode");
        Ok(self
            .string(selected, "sandbox_mode", &key)?
            .map(|m| (key, m)))
    }

    /// `sandbox_mode` plus `[sandbox_workspace_write]`.
    fn legacy(&mut self, t: &Table, preset: Preset) -> Result<Policy, CoreError> {
        let sww = self.table(t, "sandbox_workspace_write", "sandbox_workspace_write")?;
        let get_bool = |cx: &Cx, key: &str| -> Result<bool, CoreError> {
            match sww {
                Some(s) => Ok(cx
                    .boolean(s, key, &format!("sandbox_workspace_write.{key}"))?
                    .unwrap_or(false)),
                None => Ok(false),
            }
        };
        let exclude_tmpdir = get_bool(self, "exclude_tmpdir_env_var")?;
        let exclude_slash_tmp = get_bool(self, "exclude_slash_tmp")?;
        let network = get_bool(self, "network_access")?;
        let roots = match sww {
            Some(s) => self
                .string_list(
                    s,
                    "writable_roots",
                    "sandbox_workspace_write.writable_roots",
                )?
                .unwrap_or_default(),
            None => Vec::new(),
        };
        if let Some(s) = sww {
            for key in s.keys() {
                if !matches!(
                    key.as_str(),
                    "writable_roots"
                        | "network_access"
                        | "exclude_tmpdir_env_var"
                        | "exclude_slash_tmp"
                        | "allowlisted_domains"
                ) {
                    self.warn_unknown(&format!("sandbox_workspace_write.{key}"));
                }
            }
        }
        let mut policy = Policy::preset_with(preset, exclude_tmpdir, exclude_slash_tmp);
        if preset == Preset::WorkspaceWrite {
            for r in roots {
                let origin = format!("{}: sandbox_workspace_write.writable_roots", self.file);
                policy.add_writable_root(PathBuf::from(r), origin);
            }
            if network {
                policy.network = NetworkPolicy::Full;
            }
            if let Some(s) = sww {
                self.workspace_domains(s)?;
            }
        }
        Ok(policy)
    }

    /// A `[permissions.NAME]` profile, or one of the built-in names.
    fn profile(&mut self, t: &Table, name: &str, from: &str) -> Result<Policy, CoreError> {
        if name.starts_with(':') {
            return match Preset::from_name(name) {
                Some(p) => Ok(Policy::preset(p)),
                None => Err(self.value_err(
                    from,
                    format!("unknown built-in profile `{name}`; expected :read-only, :workspace or :danger-full-access"),
                )),
            };
        }
        let key = format!("permissions.{name}");
        let profile = self
            .table(t, "permissions", "permissions")?
            .and_then(|p| p.get(name))
            .ok_or_else(|| {
                let why = if self.file == COMMAND_LINE {
                    "; no config file was read (pass --config FILE, or see `sandbox linux -v`)"
                } else {
                    ""
                };
                self.value_err(
                    &key,
                    format!("no profile `{name}` is defined (from {from}){why}"),
                )
            })?;
        let Value::Table(profile) = profile else {
            return Err(self.type_err(&key, "a table", profile));
        };
        let mut policy = Policy::preset(Preset::ReadOnly);
        policy.preset = None;
        policy.profile = Some(name.to_string());
        policy.entries.clear();

        for k in profile.keys() {
            if k != "filesystem" && k != "network" {
                self.warn_unknown(&format!("{key}.{k}"));
            }
        }
        if let Some(fs) = self.table(profile, "filesystem", &format!("{key}.filesystem"))? {
            self.filesystem(fs, &format!("{key}.filesystem"), &mut policy)?;
        }
        if let Some(net) = self.table(profile, "network", &format!("{key}.network"))? {
            let nk = format!("{key}.network");
            if self.boolean(net, "enabled", &format!("{nk}.enabled"))? == Some(true) {
                policy.network = NetworkPolicy::Full;
            }
            if let Some(v) = net.get("unix_sockets") {
                policy.unix_sockets = self.unix_sockets(v, &format!("{nk}.unix_sockets"))?;
            }
            self.profile_domains(net, &nk)?;
            for k in net.keys() {
                if k != "enabled" && k != "unix_sockets" && k != "domains" {
                    self.warn_unknown(&format!("{nk}.{k}"));
                }
            }
        }
        Ok(policy)
    }

    /// `[permissions.NAME.filesystem]`: `"PATH-or-special" = ACCESS` or `= { SUBPATH = ACCESS }`.
    fn filesystem(&mut self, fs: &Table, key: &str, policy: &mut Policy) -> Result<(), CoreError> {
        for (k, v) in fs {
            let kpath = format!("{key}.\"{k}\"");
            if k == "glob_scan_max_depth" {
                match v {
                    Value::Integer(n) if *n >= 0 => policy.glob_scan_max_depth = Some(*n as usize),
                    other => return Err(self.type_err(&kpath, "a non-negative integer", other)),
                }
                continue;
            }
            let origin = format!("{}: {kpath}", self.file);
            let special = if k.starts_with(':') {
                match Special::from_name(k) {
                    Some(s) => Some(s),
                    None => {
                        self.warnings.push(format!(
                            "{}: unknown special path `{k}` ignored (from a newer version?)",
                            self.file
                        ));
                        continue;
                    }
                }
            } else {
                None
            };
            match v {
                Value::String(_) => {
                    let access = self.access(v, &kpath)?;
                    let target = match special {
                        Some(s) => Target::Special(s),
                        None if k.contains(GLOB_META) => Target::Glob(k.clone()),
                        None => Target::Path(PathBuf::from(k)),
                    };
                    policy.entries.push(Entry::new(target, access, origin));
                }
                Value::Table(sub) => {
                    // Only `:project_roots`/`:cwd` take subpaths.
                    if !matches!(special, Some(Special::Cwd { .. })) {
                        return Err(self.type_err(
                            &kpath,
                            "an access string (\"read\", \"write\" or \"none\")",
                            v,
                        ));
                    }
                    for (sk, sv) in sub {
                        let skpath = format!("{kpath}.\"{sk}\"");
                        let access = self.access(sv, &skpath)?;
                        let origin = format!("{}: {skpath}", self.file);
                        // `../../etc` (or `../**`) would leave the project.
                        if sk.split(['/', '\\']).any(|c| c == "..") {
                            return Err(self.value_err(
                                &skpath,
                                "a subpath of `:project_roots` must not contain `..`",
                            ));
                        }
                        let target = if sk.contains(GLOB_META) {
                            Target::Glob(sk.clone())
                        } else if sk == "." || sk.is_empty() {
                            Target::Special(Special::Cwd { subpath: None })
                        } else if sk.starts_with('/') {
                            return Err(self.value_err(
                                &skpath,
                                "a subpath of `:project_roots` must be relative",
                            ));
                        } else {
                            Target::Special(Special::Cwd {
                                subpath: Some(PathBuf::from(sk)),
                            })
                        };
                        policy.entries.push(Entry::new(target, access, origin));
                    }
                }
                other => {
                    return Err(self.type_err(
                        &kpath,
                        "an access string (\"read\", \"write\" or \"none\") or a table",
                        other,
                    ))
                }
            }
        }
        Ok(())
    }

    fn access(&self, v: &Value, key: &str) -> Result<Access, CoreError> {
        match v {
            Value::String(s) => Access::from_name(s).ok_or_else(|| {
                self.value_err(
                    key,
                    format!("unknown access `{s}`; expected \"read\", \"write\" or \"none\""),
                )
            }),
            other => Err(self.type_err(
                key,
                "an access string (\"read\", \"write\" or \"none\")",
                other,
            )),
        }
    }

    fn unix_sockets(&self, v: &Value, key: &str) -> Result<UnixSockets, CoreError> {
        match v {
            Value::String(s) if s == "none" => Ok(UnixSockets::None),
            Value::String(s) if s == "all" => Ok(UnixSockets::All),
            // Codex's `unix_sockets = { "/path" = "allow" }`.
            Value::Table(entries) => {
                let mut paths = Vec::new();
                for (path, v) in entries {
                    match v {
                        Value::String(s) if s == "allow" => paths.push(PathBuf::from(path)),
                        Value::String(s) if s == "deny" || s == "none" => {}
                        other => {
                            return Err(self.type_err(
                                &format!("{key}.\"{path}\""),
                                "\"allow\" or \"deny\"",
                                other,
                            ))
                        }
                    }
                }
                Ok(if paths.is_empty() {
                    UnixSockets::None
                } else {
                    UnixSockets::Paths(paths)
                })
            }
            Value::Array(items) => {
                let mut paths = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => paths.push(PathBuf::from(s)),
                        other => {
                            return Err(self.type_err(
                                &format!("{key}[{i}]"),
                                "a path string",
                                other,
                            ))
                        }
                    }
                }
                // An empty allow list allows no host socket.
                Ok(if paths.is_empty() {
                    UnixSockets::None
                } else {
                    UnixSockets::Paths(paths)
                })
            }
            other => Err(self.type_err(
                key,
                "\"none\", \"all\", an array of paths or a table of path = \"allow\"",
                other,
            )),
        }
    }

    /// Our own `[sandbox]` table: `protected_names`, `unix_sockets`, `glob_scan_max_depth`.
    fn sandbox_table(&mut self, t: &Table, policy: &mut Policy) -> Result<(), CoreError> {
        let Some(s) = self.table(t, "sandbox", "sandbox")? else {
            return Ok(());
        };
        if let Some(names) = self.string_list(s, "protected_names", "sandbox.protected_names")? {
            for (i, n) in names.iter().enumerate() {
                if n.is_empty() || n.contains('/') || n == "." || n == ".." {
                    return Err(self.value_err(
                        &format!("sandbox.protected_names[{i}]"),
                        format!("`{n}` must be a single file name"),
                    ));
                }
            }
            policy.protected_names = names;
        }
        if let Some(v) = s.get("unix_sockets") {
            policy.unix_sockets = self.unix_sockets(v, "sandbox.unix_sockets")?;
        }
        self.sandbox_network(s, policy)?;
        self.toolchain_keys(s, policy)?;
        match s.get("glob_scan_max_depth") {
            None => {}
            Some(Value::Integer(n)) if *n >= 0 => policy.glob_scan_max_depth = Some(*n as usize),
            Some(other) => {
                return Err(self.type_err(
                    "sandbox.glob_scan_max_depth",
                    "a non-negative integer",
                    other,
                ))
            }
        }
        match s.get("git") {
            None => {}
            Some(Value::String(v)) => {
                policy.git.mode = crate::git::GitMode::from_name(v).ok_or_else(|| {
                    self.value_err(
                        "sandbox.git",
                        format!("`{v}` is not a git mode: expected \"read-only\" or \"commit\""),
                    )
                })?
            }
            Some(other) => {
                return Err(self.type_err("sandbox.git", "\"read-only\" or \"commit\"", other))
            }
        }
        match s.get("git_scan_max_depth") {
            None => {}
            Some(Value::Integer(n)) if *n >= 0 => policy.git.scan_max_depth = Some(*n as usize),
            Some(other) => {
                return Err(self.type_err(
                    "sandbox.git_scan_max_depth",
                    "a non-negative integer",
                    other,
                ))
            }
        }
        for k in s.keys() {
            if !matches!(
                k.as_str(),
                "protected_names"
                    | "unix_sockets"
                    | "glob_scan_max_depth"
                    | "git"
                    | "git_scan_max_depth"
                    | "network"
                    | "protected_home_files"
                    | "deny_credentials"
                    | "caches"
            ) {
                self.warn_unknown(&format!("sandbox.{k}"));
            }
        }
        Ok(())
    }
}

impl Cx {
    /// `[sandbox] protected_home_files`, `deny_credentials` and `caches` (the toolchain and
    /// home-directory presets of `home_files`, `credentials` and `caches`).
    fn toolchain_keys(&mut self, s: &Table, policy: &mut Policy) -> Result<(), CoreError> {
        const PHF: &str = "sandbox.protected_home_files";
        if let Some(files) = self.string_list(s, "protected_home_files", PHF)? {
            for (i, f) in files.iter().enumerate() {
                crate::home_files::check_entry(f)
                    .map_err(|why| self.value_err(&format!("{PHF}[{i}]"), why))?;
            }
            policy.protected_home_files = files;
        }
        if let Some(b) = self.boolean(s, "deny_credentials", "sandbox.deny_credentials")? {
            self.deny_credentials = b;
        }
        self.caches = match s.get("caches") {
            None | Some(Value::Boolean(false)) => crate::caches::Selection::None,
            Some(Value::Boolean(true)) => crate::caches::Selection::All,
            Some(Value::Array(_)) => crate::caches::Selection::Tools(
                self.string_list(s, "caches", "sandbox.caches")?
                    .unwrap_or_default(),
            ),
            Some(other) => {
                return Err(self.type_err(
                    "sandbox.caches",
                    "true, false or an array of tool names",
                    other,
                ))
            }
        };
        Ok(())
    }
}

/// `integer 42`, `string "x"`: the type and a short rendering of what was found.
fn describe(v: &Value) -> String {
    let shown = v.to_string();
    let shown = if shown.len() > 40 {
        format!("{}…", &shown[..40])
    } else {
        shown
    };
    format!("{} {shown}", v.type_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_config(text: &str, req: LoadRequest) -> Result<Loaded, CoreError> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.toml");
        std::fs::write(&f, text).unwrap();
        load(&LoadRequest {
            config_file: Some(f),
            ..req
        })
    }

    /// Every way to name host unix sockets adds to one allowlist; `"all"` stays all; the
    /// default is none.
    #[test]
    fn unix_socket_allowlist_sources() {
        let p = |text: &str, flags: &[&str]| {
            with_config(
                text,
                LoadRequest {
                    allow_unix_sockets: flags.iter().map(PathBuf::from).collect(),
                    ..LoadRequest::default()
                },
            )
            .unwrap()
        };
        assert_eq!(p("", &[]).policy.unix_sockets, UnixSockets::None);
        assert_eq!(
            p("", &["/a.sock"]).policy.unix_sockets,
            UnixSockets::Paths(vec!["/a.sock".into()])
        );
        let codex = "default_permissions = \"x\"\n[permissions.x.filesystem]\n\":root\" = \"read\"\n[permissions.x.network]\nunix_sockets = { \"/b.sock\" = \"allow\", \"/c.sock\" = \"deny\" }\n";
        assert_eq!(
            p(codex, &["/a.sock"]).policy.unix_sockets,
            UnixSockets::Paths(vec!["/b.sock".into(), "/a.sock".into()])
        );
        assert_eq!(
            p("[sandbox]\nunix_sockets = \"all\"\n", &["/a.sock"])
                .policy
                .unix_sockets,
            UnixSockets::All
        );
        let e = config_err("[sandbox]\nunix_sockets = { \"/b.sock\" = \"maybe\" }\n");
        assert!(
            e.contains("sandbox.unix_sockets.\"/b.sock\"") && e.contains("\"allow\""),
            "{e}"
        );
    }

    /// Codex's `[network_proxy.policy] allow_unix_sockets`: `$VAR` expanded; an unset one
    /// skips its entry with a warning; a wrong type names the key.
    #[test]
    fn network_proxy_allow_unix_sockets_expands_variables() {
        std::env::set_var("SBX_TEST_AGENT_SOCK", "/run/agent.sock");
        let text = "[network_proxy.policy]\nallow_unix_sockets = [\"$SBX_TEST_AGENT_SOCK\", \"${SBX_TEST_UNSET_VAR}\", \"/x.sock\"]\n";
        let loaded = with_config(text, LoadRequest::default()).unwrap();
        assert_eq!(
            loaded.policy.unix_sockets,
            UnixSockets::Paths(vec!["/run/agent.sock".into(), "/x.sock".into()])
        );
        assert!(
            loaded
                .warnings
                .iter()
                .any(|w| w.contains("allow_unix_sockets[1]") && w.contains("SBX_TEST_UNSET_VAR")),
            "{:?}",
            loaded.warnings
        );
        let e = config_err("[network_proxy.policy]\nallow_unix_sockets = \"/x\"\n");
        assert!(e.contains("network_proxy.policy.allow_unix_sockets"), "{e}");
    }

    /// The error message of loading `text` as a config file.
    fn config_err(text: &str) -> String {
        with_config(text, LoadRequest::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn no_config_is_read_only() {
        let l = load(&LoadRequest::default()).unwrap();
        assert_eq!(l.policy.preset, Some(Preset::ReadOnly));
        assert_eq!(l.policy.network, NetworkPolicy::Off);
    }

    #[test]
    fn legacy_workspace_write() {
        let l = with_config(
            "sandbox_mode = \"workspace-write\"\n[sandbox_workspace_write]\nwritable_roots = [\"/opt/cache\"]\nnetwork_access = true\nexclude_slash_tmp = true\n",
            LoadRequest::default(),
        )
        .unwrap();
        let p = &l.policy;
        assert_eq!(p.preset, Some(Preset::WorkspaceWrite));
        assert_eq!(p.network, NetworkPolicy::Full);
        assert!(p
            .entries
            .iter()
            .any(|e| e.target == Target::Path("/opt/cache".into()) && e.access == Access::Write));
        assert!(!p
            .entries
            .iter()
            .any(|e| e.target == Target::Special(Special::SlashTmp)));
        assert!(p
            .entries
            .iter()
            .any(|e| e.target == Target::Special(Special::Tmpdir)));
    }

    #[test]
    fn wrong_type_names_file_and_key() {
        let e = with_config("sandbox_mode = 42\n", LoadRequest::default()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("config.toml"), "{msg}");
        assert!(msg.contains("`sandbox_mode`"), "{msg}");
        assert!(msg.contains("expected a string"), "{msg}");
        assert!(msg.contains("found integer 42"), "{msg}");
    }

    #[test]
    fn invalid_toml_names_file() {
        let e = with_config("sandbox_mode = \n", LoadRequest::default()).unwrap_err();
        assert!(matches!(e, CoreError::ConfigSyntax { .. }));
        assert!(e.to_string().contains("config.toml"));
    }

    #[test]
    fn missing_file_names_file() {
        let e = load(&LoadRequest {
            config_file: Some("/nonexistent/sandbox.toml".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("/nonexistent/sandbox.toml: cannot read config"));
    }

    #[test]
    fn unknown_keys_warn() {
        let l = with_config(
            "model = \"o3\"\nfrobnicate = 1\nsandbox_mode = \"read-only\"\n[sandbox_workspace_write]\nwat = true\n",
            LoadRequest::default(),
        )
        .unwrap();
        assert_eq!(l.warnings.len(), 2, "{:?}", l.warnings);
        assert!(l.warnings[0].contains("frobnicate"));
        assert!(l.warnings[1].contains("sandbox_workspace_write.wat"));
    }

    #[test]
    fn permissions_profile() {
        let l = with_config(
            "default_permissions = \"ws\"\n[permissions.ws.filesystem]\n\":root\" = \"read\"\n\":project_roots\" = { \".\" = \"write\", \"**/*.env\" = \"none\" }\n\"/srv/private\" = \"deny\"\nglob_scan_max_depth = 3\n[permissions.ws.network]\nenabled = true\n",
            LoadRequest::default(),
        )
        .unwrap();
        let p = &l.policy;
        assert_eq!(p.profile.as_deref(), Some("ws"));
        assert_eq!(p.network, NetworkPolicy::Full);
        assert_eq!(p.glob_scan_max_depth, Some(3));
        assert!(p.entries.contains(&Entry {
            target: Target::Glob("**/*.env".into()),
            access: Access::Deny,
            origin: p
                .entries
                .iter()
                .find(|e| matches!(e.target, Target::Glob(_)))
                .unwrap()
                .origin
                .clone(),
        }));
        assert!(p.entries.iter().any(|e| e.target
            == Target::Special(Special::Cwd { subpath: None })
            && e.access == Access::Write));
        assert!(p
            .entries
            .iter()
            .any(|e| e.target == Target::Path("/srv/private".into()) && e.access == Access::Deny));
    }

    #[test]
    fn missing_profile_is_an_error() {
        let e =
            with_config("default_permissions = \"nope\"\n", LoadRequest::default()).unwrap_err();
        assert!(e.to_string().contains("permissions.nope"), "{e}");
    }

    #[test]
    fn overrides_apply_toml_values() {
        let l = load(&LoadRequest {
            overrides: vec![
                "sandbox_mode=\"workspace-write\"".into(),
                "sandbox_workspace_write.network_access=true".into(),
            ],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(l.policy.preset, Some(Preset::WorkspaceWrite));
        assert_eq!(l.policy.network, NetworkPolicy::Full);
        // A bare word is taken as a string.
        let l = load(&LoadRequest {
            overrides: vec!["sandbox_mode=read-only".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(l.policy.preset, Some(Preset::ReadOnly));
        let e = load(&LoadRequest {
            overrides: vec!["nokey".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(e, CoreError::Override { .. }));
    }

    #[test]
    fn flags_beat_config() {
        let l = with_config(
            "sandbox_mode = \"read-only\"\n",
            LoadRequest {
                full_auto: true,
                network: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(l.policy.preset, Some(Preset::WorkspaceWrite));
        assert_eq!(l.policy.network, NetworkPolicy::Full);
    }

    #[test]
    fn protected_names_configurable_and_checked() {
        let l = with_config(
            "[sandbox]\nprotected_names = [\".git\", \".env\"]\n",
            LoadRequest::default(),
        )
        .unwrap();
        assert_eq!(l.policy.protected_names, vec![".git", ".env"]);
        let e = with_config(
            "[sandbox]\nprotected_names = [\"a/b\"]\n",
            LoadRequest::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("sandbox.protected_names[0]"), "{e}");
    }

    #[test]
    fn glob_with_write_access_is_rejected_at_resolve() {
        let l = with_config(
            "default_permissions = \"x\"\n[permissions.x.filesystem]\n\"/a/*.txt\" = \"write\"\n",
            LoadRequest::default(),
        )
        .unwrap();
        let env = crate::ResolveEnv {
            cwd: "/".into(),
            tmpdir: None,
            home: None,
            target: crate::TargetOs::Linux,
        };
        let e = crate::resolve(&l.policy, &env).unwrap_err();
        assert!(matches!(e, CoreError::GlobNotDeny { .. }), "{e}");
    }

    #[test]
    fn shell_environment_policy_keys() {
        let l = with_config(
            "[shell_environment_policy]\ninherit = \"core\"\nignore_default_excludes = false\nexclude = [\"AWS_*\"]\ninclude_only = [\"PATH\", \"CI\"]\n[shell_environment_policy.set]\nCI = \"1\"\n",
            LoadRequest::default(),
        )
        .unwrap();
        assert_eq!(l.env.inherit, Inherit::Core);
        assert!(!l.env.ignore_default_excludes);
        assert_eq!(l.env.exclude, ["AWS_*"]);
        assert_eq!(l.env.include_only, ["PATH", "CI"]);
        assert_eq!(l.env.set.get("CI").map(String::as_str), Some("1"));
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        // Absent: the environment passes unchanged.
        assert!(load(&LoadRequest::default()).unwrap().env.is_passthrough());
    }

    #[test]
    fn shell_environment_policy_from_overrides() {
        let l = load(&LoadRequest {
            overrides: vec![
                "shell_environment_policy.inherit=none".into(),
                "shell_environment_policy.set.A=\"x y\"".into(),
            ],
            ..LoadRequest::default()
        })
        .unwrap();
        assert_eq!(l.env.inherit, Inherit::None);
        assert_eq!(l.env.set.get("A").map(String::as_str), Some("x y"));
    }

    #[test]
    fn shell_environment_policy_errors_name_the_key() {
        let cases = [
            (
                "inherit = \"some\"",
                "shell_environment_policy.inherit",
                "expected \"all\", \"core\" or \"none\"",
            ),
            (
                "inherit = 1",
                "shell_environment_policy.inherit",
                "a string",
            ),
            (
                "ignore_default_excludes = \"no\"",
                "shell_environment_policy.ignore_default_excludes",
                "a boolean",
            ),
            (
                "exclude = \"AWS_*\"",
                "shell_environment_policy.exclude",
                "an array of strings",
            ),
            (
                "include_only = [1]",
                "shell_environment_policy.include_only[0]",
                "a string",
            ),
            (
                "set = { N = 1 }",
                "shell_environment_policy.set.N",
                "a string",
            ),
            (
                "set = { \"A=B\" = \"x\" }",
                "shell_environment_policy.set.A=B",
                "not a valid variable name",
            ),
        ];
        for (body, key, want) in cases {
            let e = config_err(&format!("[shell_environment_policy]\n{body}\n"));
            assert!(e.contains("config.toml"), "{body}: {e}");
            assert!(e.contains(key), "{body}: {e}");
            assert!(e.contains(want), "{body}: {e}");
        }
        let e = config_err("shell_environment_policy = 3\n");
        assert!(
            e.contains("shell_environment_policy") && e.contains("a table"),
            "{e}"
        );
    }

    #[test]
    fn shell_environment_policy_unknown_keys_warn() {
        let l = with_config(
            "[shell_environment_policy]\nexperimental_use_profile = true\nfilters = {}\n",
            LoadRequest::default(),
        )
        .unwrap();
        assert!(l.env.is_passthrough());
        assert_eq!(l.warnings.len(), 2, "{:?}", l.warnings);
        assert!(l.warnings[0].contains("experimental_use_profile"));
        assert!(l.warnings[1].contains("shell_environment_policy.filters"));
    }

    #[test]
    fn config_profile_sandbox_mode_wins_over_the_top_level() {
        let cfg = "sandbox_mode = \"workspace-write\"\nprofile = \"review\"\n\
                   [profiles.review]\nsandbox_mode = \"read-only\"\nmodel = \"x\"\n\
                   [profiles.other]\nsandbox_mode = \"danger-full-access\"\n";
        let l = with_config(cfg, LoadRequest::default()).unwrap();
        assert_eq!(l.policy.preset, Some(Preset::ReadOnly));
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        // Flags still beat the config.
        let l = with_config(
            cfg,
            LoadRequest {
                full_auto: true,
                ..LoadRequest::default()
            },
        )
        .unwrap();
        assert_eq!(l.policy.preset, Some(Preset::WorkspaceWrite));
        // A profile without `sandbox_mode` leaves the top-level one in force.
        let l = with_config(
            "sandbox_mode = \"workspace-write\"\nprofile = \"p\"\n[profiles.p]\nmodel = \"x\"\n",
            LoadRequest::default(),
        )
        .unwrap();
        assert_eq!(l.policy.preset, Some(Preset::WorkspaceWrite));
    }

    #[test]
    fn config_profile_errors_and_warnings() {
        let e = config_err("profile = \"gone\"\n");
        assert!(
            e.contains("config.toml") && e.contains("`profile`") && e.contains("[profiles.gone]"),
            "{e}"
        );
        // A newer Codex profile file next to the config is named, not ignored.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.toml");
        std::fs::write(&f, "profile = \"ci\"\n").unwrap();
        std::fs::write(
            dir.path().join("ci.config.toml"),
            "sandbox_mode = \"read-only\"\n",
        )
        .unwrap();
        let e = load(&LoadRequest {
            config_file: Some(f),
            ..LoadRequest::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("ci.config.toml") && e.contains("does not layer"),
            "{e}"
        );
        let e = config_err("profile = \"p\"\n[profiles.p]\nsandbox_mode = \"rw\"\n");
        assert!(
            e.contains("profiles.p.sandbox_mode") && e.contains("`rw`"),
            "{e}"
        );
        let e = config_err("profile = \"p\"\nprofiles = { p = 1 }\n");
        assert!(e.contains("profiles.p") && e.contains("a table"), "{e}");
        let l = with_config(
            "profile = \"p\"\n[profiles.p.sandbox_workspace_write]\nnetwork_access = true\n",
            LoadRequest::default(),
        )
        .unwrap();
        assert_eq!(l.policy.network, NetworkPolicy::Off);
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        assert!(l.warnings[0].contains("profiles.p.sandbox_workspace_write"));
    }

    #[test]
    fn oversized_inputs_are_refused_not_read() {
        // An endless device is cut off at the size limit.
        let e = load(&LoadRequest {
            config_file: Some("/dev/zero".into()),
            ..LoadRequest::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("/dev/zero") && e.contains("larger than"), "{e}");
        // A `-c` key with thousands of dotted parts (a stack overflow once) is refused, and
        // the message quotes only the start of it.
        let key = vec!["a"; 60_000].join(".");
        let e = load(&LoadRequest {
            overrides: vec![format!("{key}=1")],
            ..LoadRequest::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("more than 32 dotted parts"),
            "{}",
            &e[..200.min(e.len())]
        );
        assert!(e.len() < 400, "{} bytes", e.len());
    }

    #[test]
    fn deny_read_under_danger_full_access_warns() {
        let l = load(&LoadRequest {
            sandbox_mode: Some("danger-full-access".into()),
            deny_read: vec!["**/*.env".into()],
            ..LoadRequest::default()
        })
        .unwrap();
        assert!(l.policy.unrestricted);
        assert!(
            l.warnings
                .iter()
                .any(|w| w.contains("--deny-read is not enforced")),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn toml_syntax_errors_say_why() {
        let e = config_err("sandbox_mode = \"read-only\"\nsandbox_mode = \"read-only\"\n");
        assert!(e.contains("line 2") && e.contains("duplicate key"), "{e}");
    }

    #[test]
    fn messages_about_an_override_name_dash_c_not_the_file() {
        let req = LoadRequest {
            overrides: vec!["sandbox_mode=1".into()],
            ..LoadRequest::default()
        };
        let e = with_config("sandbox_mode = \"read-only\"\n", req)
            .unwrap_err()
            .to_string();
        assert!(e.contains("-c") && !e.contains("config.toml"), "{e}");
        // A wrong value in the file itself still names the file.
        let e = config_err("sandbox_mode = 1\n");
        assert!(e.contains("config.toml"), "{e}");
        let l = with_config(
            "sandbox_mode = \"read-only\"\n",
            LoadRequest {
                overrides: vec!["no_such_key=1".into()],
                ..LoadRequest::default()
            },
        )
        .unwrap();
        assert!(
            l.warnings.iter().any(|w| w.starts_with("-c: unknown key")),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn unused_sections_are_still_checked_for_shape() {
        for (cfg, key) in [
            ("permissions = \"x\"\n", "`permissions`"),
            ("permissions = { a = 5 }\n", "`permissions.a`"),
            ("profiles = 5\n", "`profiles`"),
            ("sandbox_workspace_write = 5\n", "`sandbox_workspace_write`"),
        ] {
            let e = config_err(cfg);
            assert!(e.contains(key) && e.contains("a table"), "{cfg}: {e}");
        }
    }
}
