//! The network keys of a config and the network flags: Codex's `[network_proxy]`,
//! `[permissions.NAME.network] domains`, `[sandbox_workspace_write] allowlisted_domains`, our
//! own `[sandbox] network`, and `--network MODE`, `--allow-domain`, `--deny-domain`; and the
//! host unix sockets: `unix_sockets` values, Codex's `[network_proxy.policy]
//! allow_unix_sockets` and `--allow-unix-socket`.
//!
//! Unlike Codex, a domain rule never exists without enforcement: any rule selects the proxy
//! mode, and a combination that would leave rules unenforced (`danger-full-access`,
//! `--network full` or `loopback` with rules) is refused.

use super::reader::Cx;
use super::source::COMMAND_LINE;
use super::LoadRequest;
use crate::domain::DomainPattern;
use crate::error::CoreError;
use crate::policy::{NetworkPolicy, Policy, UnixSockets};
use std::path::PathBuf;
use toml::{Table, Value};

/// `--network` values.
const MODES: &str = "off, loopback, proxy or full";

impl Cx {
    /// Checks each pattern of `list` (at `key`), then adds them to `allow` or `deny`.
    pub(super) fn add_patterns(
        &mut self,
        list: &[String],
        key: &str,
        allow: bool,
    ) -> Result<(), CoreError> {
        for (i, p) in list.iter().enumerate() {
            DomainPattern::parse(p).map_err(|e| self.value_err(&format!("{key}[{i}]"), e))?;
        }
        let source = format!("{}: {key}", self.source(key));
        self.domains.extend(list, allow, source);
        Ok(())
    }

    /// `[permissions.NAME.network] domains = { "pypi.org" = "allow", "*.evil.com" = "deny" }`.
    pub(super) fn profile_domains(&mut self, net: &Table, nk: &str) -> Result<(), CoreError> {
        let key = format!("{nk}.domains");
        let Some(domains) = self.table(net, "domains", &key)? else {
            return Ok(());
        };
        for (pattern, v) in domains {
            let pkey = format!("{key}.\"{pattern}\"");
            let allow = match v {
                Value::String(s) if s == "allow" => true,
                Value::String(s) if s == "deny" => false,
                other => {
                    return Err(self.type_err(&pkey, "\"allow\" or \"deny\"", other));
                }
            };
            DomainPattern::parse(pattern).map_err(|e| self.value_err(&pkey, e))?;
            let source = format!("{}: {key}", self.source(&pkey));
            self.domains
                .extend(std::slice::from_ref(pattern), allow, source);
        }
        Ok(())
    }

    /// `[sandbox_workspace_write] allowlisted_domains` (read with the workspace-write preset).
    pub(super) fn workspace_domains(&mut self, sww: &Table) -> Result<(), CoreError> {
        const KEY: &str = "sandbox_workspace_write.allowlisted_domains";
        if let Some(list) = self.string_list(sww, "allowlisted_domains", KEY)? {
            self.add_patterns(&list, KEY, true)?;
        }
        Ok(())
    }

    /// Codex's `[network_proxy]`: `enabled`, and `[network_proxy.policy]` with
    /// `allowed_domains`, `denied_domains`, `allow_local_binding`. Other Codex keys (ports,
    /// admin API, MITM) do not apply to this proxy and warn.
    pub(super) fn network_proxy(&mut self, t: &Table) -> Result<(), CoreError> {
        const KEY: &str = "network_proxy";
        let Some(np) = self.table(t, KEY, KEY)? else {
            return Ok(());
        };
        for k in np.keys() {
            if k != "enabled" && k != "policy" {
                self.warn_unknown(&format!("{KEY}.{k}"));
            }
        }
        let enabled = self.boolean(np, "enabled", "network_proxy.enabled")?;
        if enabled == Some(true) {
            let source = format!(
                "{}: network_proxy.enabled",
                self.source("network_proxy.enabled")
            );
            self.domains.note(source);
        }
        let Some(pol) = self.table(np, "policy", "network_proxy.policy")? else {
            return Ok(());
        };
        for k in pol.keys() {
            if !matches!(
                k.as_str(),
                "allowed_domains" | "denied_domains" | "allow_local_binding" | "allow_unix_sockets"
            ) {
                self.warn_unknown(&format!("{KEY}.policy.{k}"));
            }
        }
        const ALLOWED: &str = "network_proxy.policy.allowed_domains";
        const DENIED: &str = "network_proxy.policy.denied_domains";
        if let Some(list) = self.string_list(pol, "allowed_domains", ALLOWED)? {
            self.add_patterns(&list, ALLOWED, true)?;
        }
        if let Some(list) = self.string_list(pol, "denied_domains", DENIED)? {
            self.add_patterns(&list, DENIED, false)?;
        }
        if let Some(b) = self.boolean(
            pol,
            "allow_local_binding",
            "network_proxy.policy.allow_local_binding",
        )? {
            self.domains.allow_local_binding = b;
        }
        if enabled == Some(false) && self.domains.first_source.is_some() {
            self.warnings.push(format!(
                "{}: `network_proxy.enabled = false`, but domain rules are given: they are enforced through the proxy anyway",
                self.file
            ));
        }
        Ok(())
    }

    /// Our own `[sandbox] network = "off" | "loopback" | "proxy" | "full"`.
    pub(super) fn sandbox_network(
        &mut self,
        s: &Table,
        policy: &mut Policy,
    ) -> Result<(), CoreError> {
        const KEY: &str = "sandbox.network";
        let Some(mode) = self.string(s, "network", KEY)? else {
            return Ok(());
        };
        match mode {
            "off" => policy.network = NetworkPolicy::Off,
            "loopback" => policy.network = NetworkPolicy::Loopback,
            "full" => policy.network = NetworkPolicy::Full,
            "proxy" => self.domains.note(format!("{}: {KEY}", self.source(KEY))),
            other => {
                return Err(self.value_err(
                    KEY,
                    format!("unknown network mode `{other}`; expected {MODES}"),
                ))
            }
        }
        Ok(())
    }

    /// Applies the flags and settles the network mode once every source has been read.
    pub(super) fn finish_network(
        &mut self,
        policy: &mut Policy,
        req: &LoadRequest,
    ) -> Result<(), CoreError> {
        let flag_err = |key: &str, reason: String| CoreError::ConfigValue {
            file: COMMAND_LINE.into(),
            key: key.into(),
            reason,
        };
        for (flag, list, allow) in [
            ("--allow-domain", &req.allow_domains, true),
            ("--deny-domain", &req.deny_domains, false),
        ] {
            for p in list.iter() {
                DomainPattern::parse(p).map_err(|e| flag_err(flag, e))?;
            }
            self.domains.extend(list, allow, flag.to_string());
        }
        let flag_mode = match req.network_mode.as_deref() {
            None if req.network => Some(NetworkPolicy::Full),
            None => None,
            Some("off") => Some(NetworkPolicy::Off),
            Some("loopback") => Some(NetworkPolicy::Loopback),
            Some("full") => Some(NetworkPolicy::Full),
            Some("proxy") => {
                self.domains.note("--network proxy".into());
                None
            }
            Some(other) => {
                return Err(flag_err(
                    "--network",
                    format!("unknown network mode `{other}`; expected {MODES}"),
                ))
            }
        };
        let Some(source) = self.domains.first_source.clone() else {
            // No domain rules anywhere: the flag (if any) decides, as before.
            if let Some(mode) = flag_mode {
                if !policy.unrestricted {
                    policy.network = mode;
                }
            }
            return Ok(());
        };
        if policy.unrestricted {
            return Err(flag_err(
                "network",
                format!(
                    "domain rules ({source}) cannot be enforced under danger-full-access, which runs without a sandbox; choose read-only or workspace-write"
                ),
            ));
        }
        if let Some(mode) = flag_mode {
            return Err(flag_err(
                "--network",
                format!(
                    "`--network {}` would leave the domain rules ({source}) unenforced; drop one of them (domain rules select the proxy mode)",
                    mode.name()
                ),
            ));
        }
        if policy.network == NetworkPolicy::Loopback {
            return Err(flag_err(
                "sandbox.network",
                format!(
                    "network mode `loopback` would leave the domain rules ({source}) unenforced; drop one of them"
                ),
            ));
        }
        // A config's `network_access = true` (full) or `[sandbox] network` is narrowed to the
        // proxy: with Codex too, a configured proxy routes the sandbox's traffic.
        policy.network = NetworkPolicy::Proxy {
            allow: std::mem::take(&mut self.domains.allow),
            deny: std::mem::take(&mut self.domains.deny),
            allow_local_binding: self.domains.allow_local_binding,
        };
        Ok(())
    }
}

/// Adds host sockets to an allowlist (`"all"` stays all).
pub(super) fn allow_unix_sockets(unix: &mut UnixSockets, add: impl IntoIterator<Item = PathBuf>) {
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

impl Cx {
    /// Codex's `[network_proxy.policy] allow_unix_sockets = ["$SSH_AUTH_SOCK", …]`: host
    /// sockets added to the allowlist. A whole-value `$NAME`/`${NAME}` is expanded; an unset
    /// variable skips its entry with a warning (allowing nothing is the safe side).
    pub(super) fn proxy_unix_sockets(
        &mut self,
        t: &Table,
        policy: &mut Policy,
    ) -> Result<(), CoreError> {
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

    /// A `unix_sockets` value: `"none"`, `"all"`, an array of paths, or Codex's table of
    /// `"/path" = "allow"`.
    pub(super) fn unix_sockets(&self, v: &Value, key: &str) -> Result<UnixSockets, CoreError> {
        let mut paths = Vec::new();
        match v {
            Value::String(s) if s == "none" => return Ok(UnixSockets::None),
            Value::String(s) if s == "all" => return Ok(UnixSockets::All),
            // Codex's `unix_sockets = { "/path" = "allow" }`.
            Value::Table(entries) => {
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
            }
            Value::Array(items) => {
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
            }
            other => {
                return Err(self.type_err(
                    key,
                    "\"none\", \"all\", an array of paths or a table of path = \"allow\"",
                    other,
                ))
            }
        }
        // An empty allow list allows no host socket.
        Ok(if paths.is_empty() {
            UnixSockets::None
        } else {
            UnixSockets::Paths(paths)
        })
    }
}
