//! The network keys of a config and the network flags: Codex's `[network_proxy]`,
//! `[permissions.NAME.network] domains`, `[sandbox_workspace_write] allowlisted_domains`, our
//! own `[sandbox] network`, and `--network MODE`, `--allow-domain`, `--deny-domain`.
//!
//! Unlike Codex, a domain rule never exists without enforcement: any rule selects the proxy
//! mode, and a combination that would leave rules unenforced (`danger-full-access`,
//! `--network full` or `loopback` with rules) is refused.

use super::{Cx, LoadRequest, COMMAND_LINE};
use crate::domain::DomainPattern;
use crate::error::CoreError;
use crate::policy::{NetworkPolicy, Policy};
use toml::{Table, Value};

/// Domain rules collected from every source, in order, each with the key it came from.
#[derive(Clone, Debug, Default)]
pub(super) struct DomainAcc {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    pub allow_local_binding: bool,
    /// Where the first rule (or `enabled = true`) came from, for messages.
    pub first_source: Option<String>,
}

impl DomainAcc {
    fn note(&mut self, source: String) {
        self.first_source.get_or_insert(source);
    }
}

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
        if !list.is_empty() {
            self.domains.note(format!("{}: {key}", self.source(key)));
        }
        let target = if allow {
            &mut self.domains.allow
        } else {
            &mut self.domains.deny
        };
        target.extend(list.iter().cloned());
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
            self.domains.note(format!("{}: {key}", self.source(&pkey)));
            if allow {
                self.domains.allow.push(pattern.clone());
            } else {
                self.domains.deny.push(pattern.clone());
            }
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
            if !list.is_empty() {
                self.domains.note(flag.to_string());
            }
            let target = if allow {
                &mut self.domains.allow
            } else {
                &mut self.domains.deny
            };
            target.extend(list.iter().cloned());
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

#[cfg(test)]
mod tests {
    use crate::config::{load, LoadRequest};
    use crate::error::CoreError;
    use crate::policy::NetworkPolicy;

    fn with(text: &str, req: LoadRequest) -> Result<NetworkPolicy, CoreError> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.toml");
        std::fs::write(&f, text).unwrap();
        load(&LoadRequest {
            config_file: Some(f),
            ..req
        })
        .map(|l| l.policy.network)
    }

    fn proxy(allow: &[&str], deny: &[&str], local: bool) -> NetworkPolicy {
        NetworkPolicy::Proxy {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
            allow_local_binding: local,
        }
    }

    #[test]
    fn codex_network_proxy_keys_select_the_proxy() {
        let n = with(
            "sandbox_mode = \"workspace-write\"\n[sandbox_workspace_write]\nnetwork_access = true\nallowlisted_domains = [\"crates.io\"]\n[network_proxy]\nenabled = true\n[network_proxy.policy]\nallowed_domains = [\"*.pypi.org\"]\ndenied_domains = [\"evil.pypi.org\"]\nallow_local_binding = true\n",
            LoadRequest::default(),
        )
        .unwrap();
        assert_eq!(
            n,
            proxy(&["crates.io", "*.pypi.org"], &["evil.pypi.org"], true)
        );
    }

    #[test]
    fn enabled_proxy_with_no_list_denies_everything() {
        let n = with("[network_proxy]\nenabled = true\n", LoadRequest::default()).unwrap();
        assert_eq!(n, proxy(&[], &[], false));
    }

    #[test]
    fn permission_profile_domains() {
        let n = with(
            "default_permissions = \"p\"\n[permissions.p.filesystem]\n\":root\" = \"read\"\n[permissions.p.network]\ndomains = { \"pypi.org\" = \"allow\", \"*.evil.com\" = \"deny\" }\n",
            LoadRequest::default(),
        )
        .unwrap();
        assert_eq!(n, proxy(&["pypi.org"], &["*.evil.com"], false));
    }

    #[test]
    fn flags_select_modes() {
        let req = |mode: Option<&str>, allow: &[&str]| LoadRequest {
            network_mode: mode.map(str::to_string),
            allow_domains: allow.iter().map(|s| s.to_string()).collect(),
            ..LoadRequest::default()
        };
        assert_eq!(
            with("", req(Some("loopback"), &[])).unwrap(),
            NetworkPolicy::Loopback
        );
        assert_eq!(
            with("", req(Some("full"), &[])).unwrap(),
            NetworkPolicy::Full
        );
        assert_eq!(
            with("", req(None, &["pypi.org"])).unwrap(),
            proxy(&["pypi.org"], &[], false)
        );
        assert_eq!(
            with("", req(Some("proxy"), &[])).unwrap(),
            proxy(&[], &[], false)
        );
        let bare = LoadRequest {
            network: true,
            ..LoadRequest::default()
        };
        assert_eq!(with("", bare).unwrap(), NetworkPolicy::Full);
    }

    #[test]
    fn rules_that_would_go_unenforced_are_refused() {
        let req = |mode: Option<&str>, sandbox: Option<&str>| LoadRequest {
            network_mode: mode.map(str::to_string),
            sandbox_mode: sandbox.map(str::to_string),
            allow_domains: vec!["pypi.org".into()],
            ..LoadRequest::default()
        };
        for (mode, sandbox) in [
            (Some("full"), None),
            (Some("loopback"), None),
            (Some("off"), None),
            (None, Some("danger-full-access")),
        ] {
            let e = with("", req(mode, sandbox)).unwrap_err();
            assert!(
                e.to_string().contains("pypi.org") || e.to_string().contains("--allow-domain"),
                "{e}"
            );
        }
        let e = with(
            "[sandbox]\nnetwork = \"loopback\"\n[network_proxy.policy]\nallowed_domains = [\"a.com\"]\n",
            LoadRequest::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("unenforced"), "{e}");
    }

    #[test]
    fn bad_patterns_name_file_and_key() {
        let e = with(
            "[network_proxy.policy]\nallowed_domains = [\"ok.com\", \"http://x.com\"]\n",
            LoadRequest::default(),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("config.toml"), "{msg}");
        assert!(
            msg.contains("network_proxy.policy.allowed_domains[1]"),
            "{msg}"
        );
        let e = with(
            "default_permissions = \"p\"\n[permissions.p.network]\ndomains = { \"a*b.com\" = \"allow\" }\n",
            LoadRequest::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("permissions.p.network.domains"),
            "{e}"
        );
        let e = with(
            "default_permissions = \"p\"\n[permissions.p.network]\ndomains = { \"a.com\" = \"yes\" }\n",
            LoadRequest::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("\"allow\" or \"deny\""), "{e}");
        let e = with(
            "",
            LoadRequest {
                deny_domains: vec!["bad..name".into()],
                ..LoadRequest::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("--deny-domain"), "{e}");
        let e = with(
            "",
            LoadRequest {
                network_mode: Some("some".into()),
                ..LoadRequest::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
    }
}
