//! The embedding API on any OS: `Sandbox::new`, `plan`, `degradations` and the exact argv of
//! `command`; in proxy mode, the reserved port and the proxy served on it. Running the
//! command needs macOS; building it does not.

mod common;

use sandbox_core::{resolve, Capability, NetworkPolicy, Policy, Preset, ResolveEnv, TargetOs};
use sandbox_macos::{Error, Options, Sandbox};
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};

fn policy(network: NetworkPolicy) -> (tempfile::TempDir, sandbox_core::ResolvedPolicy) {
    let d = tempfile::tempdir_in(common::temp_parent()).unwrap();
    let ws = std::fs::canonicalize(d.path()).unwrap().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
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

fn argv(cmd: &std::process::Command) -> Vec<OsString> {
    let mut v = vec![cmd.get_program().to_owned()];
    v.extend(cmd.get_args().map(OsStr::to_owned));
    v
}

#[test]
fn command_is_sandbox_exec_with_profile_params_and_program() {
    let (_d, r) = policy(NetworkPolicy::Off);
    let sb = Sandbox::new(&r, &Options::default()).unwrap();
    assert!(sb.degradations().is_empty());
    let plan = sb.plan();
    let mut cmd = sb.command("sh");
    cmd.args(["-c", "echo \"$1\"", "sh", "-- x"])
        .env("ONLY", "1");
    let mut want: Vec<OsString> = vec![
        "/usr/bin/sandbox-exec".into(),
        "-p".into(),
        plan.profile.clone().into(),
    ];
    want.extend(plan.params.iter().map(|(k, v)| format!("-D{k}={v}").into()));
    want.extend(["--", "sh", "-c", "echo \"$1\"", "sh", "-- x"].map(OsString::from));
    assert_eq!(argv(&cmd), want);
    // Every parameter the profile uses travels as -D, and only those.
    for k in plan.params.keys() {
        assert!(plan.profile.contains(&format!("(param \"{k}\")")), "{k}");
    }
    let envs: Vec<(&OsStr, Option<&OsStr>)> = cmd.get_envs().collect();
    assert!(envs.contains(&(OsStr::new("CODEX_SANDBOX"), Some(OsStr::new("seatbelt")))));
    assert!(envs.contains(&(OsStr::new("ONLY"), Some(OsStr::new("1")))));
    // The same argv as `sandbox profile macos --format json` reports.
    assert_eq!(argv(&sb.command("sh")), plan.argv(&[OsString::from("sh")]));
    // to_text is the profile plus comment lines.
    let text = plan.to_text();
    assert!(text.starts_with(&plan.profile));
    assert!(text.contains(";; Environment added"));
}

#[test]
fn loopback_is_refused_unless_best_effort_accepts_the_host_loopback() {
    let (_d, r) = policy(NetworkPolicy::Loopback);
    let e = Sandbox::new(&r, &Options::default()).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    assert_eq!(e.exit_code(), 125);
    assert!(e.hint().unwrap().contains("--best-effort"));
    let sb = Sandbox::new(&r, &Options::default().with_best_effort(true)).unwrap();
    assert_eq!(sb.degradations().len(), 1);
    assert_eq!(sb.degradations()[0].capability, Capability::LoopbackOnly);
    assert!(sb.plan().to_text().contains("network.loopback_only"));
    assert!(sb.start_proxy().unwrap().is_none());
}

#[test]
fn proxy_mode_reserves_a_port_and_serves_the_proxy_on_it() {
    let (_d, r) = policy(NetworkPolicy::Proxy {
        allow: vec!["allowed.example".into()],
        deny: vec![],
        allow_local_binding: false,
    });
    let sb = Sandbox::new(&r, &Options::default()).unwrap();
    let port = sb.plan().proxy_port.expect("a port was reserved");
    assert_eq!(
        sb.plan().params["PROXY_ENDPOINT"],
        format!("localhost:{port}")
    );
    let cmd = sb.command("curl");
    let env: std::collections::BTreeMap<_, _> = cmd.get_envs().collect();
    let proxy_url = format!("http://127.0.0.1:{port}");
    assert_eq!(
        env[OsStr::new("HTTPS_PROXY")],
        Some(OsStr::new(proxy_url.as_str()))
    );
    assert_eq!(
        env[OsStr::new("NO_PROXY")],
        Some(OsStr::new("localhost,127.0.0.1,::1"))
    );
    // Nobody else can take the port meanwhile.
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());

    let proxy = sb.start_proxy().unwrap().expect("proxy mode");
    assert!(sb.start_proxy().is_err(), "the listeners are served once");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n")
        .unwrap();
    let mut reply = [0u8; 12];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"HTTP/1.1 403");
    drop(s);
    let (denials, dropped) = proxy.stop_counted();
    assert_eq!(dropped, 0);
    assert_eq!(denials.len(), 1, "{denials:?}");
    assert_eq!(denials[0].host, "evil.example");
    assert_eq!(
        sandbox_egress::summary(&denials),
        ["blocked 1 request to evil.example (not in allowed_domains)"]
    );
}

#[test]
fn a_caller_given_proxy_port_reserves_nothing() {
    let (_d, r) = policy(NetworkPolicy::Proxy {
        allow: vec![],
        deny: vec![],
        allow_local_binding: false,
    });
    let sb = Sandbox::new(&r, &Options::default().with_proxy_port(Some(3128))).unwrap();
    assert_eq!(sb.plan().proxy_port, Some(3128));
    assert!(sb.take_proxy_listeners().is_empty());
    assert!(sb.proxy_config().is_some());
    assert!(sb.start_proxy().is_err());
}

#[test]
fn danger_full_access_runs_the_program_itself() {
    let (_d, r) = policy(NetworkPolicy::Full);
    let r = sandbox_core::ResolvedPolicy {
        unrestricted: true,
        ..r
    };
    let sb = Sandbox::new(&r, &Options::default()).unwrap();
    let mut cmd = sb.command("ls");
    cmd.arg("-l");
    assert_eq!(argv(&cmd), ["ls", "-l"]);
}
