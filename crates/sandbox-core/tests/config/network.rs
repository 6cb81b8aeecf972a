//! The network keys and flags: domain rules, the proxy mode, host unix sockets.

use super::{config_err, with_config};
use sandbox_core::{CoreError, LoadRequest, NetworkPolicy, UnixSockets};
use std::path::PathBuf;

/// The network policy of loading `text` as a config file with `req`.
fn with(text: &str, req: LoadRequest) -> Result<NetworkPolicy, CoreError> {
    with_config(text, req).map(|l| l.policy.network)
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
