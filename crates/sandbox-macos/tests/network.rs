//! `--verify` and the network rules: a profile that lets anything out beyond what the network
//! mode allows (the proxy's port in proxy mode, the loopback in loopback mode, nothing with
//! the network off) fails verification. Each case breaks a good profile by hand.

mod common;

use sandbox_core::{resolve, NetworkPolicy, Policy, Preset, ResolveEnv, ResolvedPolicy, TargetOs};
use sandbox_macos::{compile, verify, Options, SeatbeltPlan};

fn resolved(network: NetworkPolicy) -> (tempfile::TempDir, ResolvedPolicy) {
    let d = tempfile::tempdir_in(common::temp_parent()).unwrap();
    let ws = std::fs::canonicalize(d.path()).unwrap().join("ws");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    let mut p = Policy::preset_with(Preset::WorkspaceWrite, true, true);
    p.network = network;
    let env = ResolveEnv {
        cwd: ws,
        tmpdir: None,
        home: None,
        target: TargetOs::Macos,
    };
    let r = resolve(&p, &env).unwrap();
    (d, r)
}

fn proxy() -> NetworkPolicy {
    NetworkPolicy::Proxy {
        allow: vec!["pypi.org".into()],
        deny: vec![],
        allow_local_binding: false,
    }
}

fn good(r: &ResolvedPolicy) -> SeatbeltPlan {
    let opts = Options::default()
        .with_best_effort(true)
        .with_proxy_port(Some(40_000));
    let plan = compile(r, &opts).unwrap();
    let report = verify(r, &plan).unwrap();
    assert!(report.ok(), "{:#?}", report.mismatches);
    plan
}

/// The mismatches of `plan` after replacing `from` by `to` in its profile, as
/// `(op, endpoint, profile allows)`.
fn broken(
    r: &ResolvedPolicy,
    plan: &SeatbeltPlan,
    from: &str,
    to: &str,
) -> Vec<(String, String, bool)> {
    let mut bad = plan.clone();
    assert!(bad.profile.contains(from), "{from} not in the profile");
    bad.profile = bad.profile.replace(from, to);
    verify(r, &bad)
        .unwrap()
        .mismatches
        .into_iter()
        .map(|m| (m.op, m.path, m.profile))
        .collect()
}

fn has(ms: &[(String, String, bool)], op: &str, endpoint: &str) -> bool {
    ms.iter()
        .any(|(o, p, allowed)| o == op && p == endpoint && *allowed)
}

#[test]
fn proxy_mode_allows_no_outbound_but_the_proxy_port() {
    let (_d, r) = resolved(proxy());
    let plan = good(&r);
    let rule = "(allow network-outbound (remote tcp (param \"PROXY_ENDPOINT\")))";
    // Every destination instead of the proxy's.
    let ms = broken(
        &r,
        &plan,
        rule,
        "(allow network-outbound (remote ip \"*:*\"))",
    );
    assert!(
        has(&ms, "network-outbound", "tcp <internet>:443"),
        "{ms:#?}"
    );
    assert!(has(&ms, "network-outbound", "udp <internet>:53"), "{ms:#?}");
    // The classic mistake: the connection's own end, which every connection has.
    let ms = broken(
        &r,
        &plan,
        rule,
        &format!("{rule}\n(allow network-outbound (local ip \"*:*\"))"),
    );
    assert!(
        has(&ms, "network-outbound", "tcp <internet>:443"),
        "{ms:#?}"
    );
    // Every loopback port: the host's own services.
    let ms = broken(
        &r,
        &plan,
        rule,
        "(allow network-outbound (remote ip \"localhost:*\"))",
    );
    assert!(
        has(&ms, "network-outbound", "tcp localhost:8080"),
        "{ms:#?}"
    );
    assert!(!has(&ms, "network-outbound", "tcp <internet>:443"));
    // UDP to the proxy's port (the proxy holds TCP only).
    let ms = broken(&r, &plan, "(remote tcp (param", "(remote ip (param");
    assert!(
        has(&ms, "network-outbound", "udp localhost:40000"),
        "{ms:#?}"
    );
    // Binding a port of its own.
    let ms = broken(
        &r,
        &plan,
        rule,
        &format!("{rule}\n(allow network-bind (local ip \"localhost:*\"))"),
    );
    assert!(has(&ms, "network-bind", "tcp localhost:8080"), "{ms:#?}");
    // The parameter naming another port than the one the proxy serves.
    let mut other = plan.clone();
    other
        .params
        .insert("PROXY_ENDPOINT".into(), "localhost:8080".into());
    let ms: Vec<_> = verify(&r, &other).unwrap().mismatches;
    assert!(
        ms.iter()
            .any(|m| m.path == "tcp localhost:8080" && m.profile),
        "{ms:#?}"
    );
    assert!(
        ms.iter()
            .any(|m| m.path == "tcp localhost:40000" && !m.profile),
        "{ms:#?}"
    );
    // A parameter sandbox-exec would reject is an error, not a pass.
    let mut literal = plan.clone();
    literal
        .params
        .insert("PROXY_ENDPOINT".into(), "127.0.0.1:40000".into());
    assert!(verify(&r, &literal).is_err());
}

#[test]
fn loopback_mode_allows_nothing_but_localhost() {
    let (_d, r) = resolved(NetworkPolicy::Loopback);
    let plan = good(&r);
    let ms = broken(
        &r,
        &plan,
        "(allow network-outbound (remote ip \"localhost:*\"))",
        "(allow network-outbound (remote ip \"*:*\"))",
    );
    assert!(
        has(&ms, "network-outbound", "tcp <internet>:443"),
        "{ms:#?}"
    );
    let ms = broken(
        &r,
        &plan,
        "(allow network-bind network-inbound (local ip \"localhost:*\"))",
        "(allow network-bind network-inbound (local ip \"*:*\"))",
    );
    assert!(has(&ms, "network-bind", "tcp <internet>:8080"), "{ms:#?}");
    assert!(has(&ms, "network-inbound", "udp <internet>:53"), "{ms:#?}");
    let ms = broken(
        &r,
        &plan,
        "(allow network-outbound (remote ip \"localhost:*\"))",
        "(allow network-outbound)",
    );
    assert!(has(&ms, "network-outbound", "udp <internet>:53"), "{ms:#?}");
}

#[test]
fn network_off_allows_no_ip_at_all() {
    let (_d, r) = resolved(NetworkPolicy::Off);
    let plan = good(&r);
    let ms = broken(
        &r,
        &plan,
        "(version 1)\n(deny default)\n",
        "(version 1)\n(deny default)\n(allow network-outbound (remote ip \"localhost:*\"))\n",
    );
    assert!(has(&ms, "network-outbound", "tcp localhost:22"), "{ms:#?}");
    assert!(!has(&ms, "network-outbound", "tcp <internet>:22"));
}

#[test]
fn full_network_is_checked_too() {
    let (_d, r) = resolved(NetworkPolicy::Full);
    let plan = good(&r);
    // Narrower than the policy is a mismatch as well (the oracle allows, the profile not).
    let ms: Vec<_> = verify(
        &r,
        &SeatbeltPlan {
            profile: plan.profile.replace("(allow network-outbound)\n", ""),
            ..plan.clone()
        },
    )
    .unwrap()
    .mismatches;
    assert!(
        ms.iter()
            .any(|m| m.path == "tcp <internet>:443" && m.op == "network-outbound" && !m.profile),
        "{ms:#?}"
    );
}
