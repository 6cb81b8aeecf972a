//! `sandbox doctor`: what this host can enforce, as capability keys (DESIGN.md §5).
//!
//! Each backend contributes its keys; `--require KEY` fails (exit 1) when a key is false,
//! zero, null or unknown.

use crate::{exit, DoctorArgs};
use serde_json::{Map, Value};
use std::fmt::Write;
use std::process::ExitCode;

/// Capability keys of this host, in a stable order.
fn capabilities() -> Map<String, Value> {
    let mut m = Map::new();
    #[cfg(target_os = "linux")]
    linux_keys(&mut m);
    #[cfg(not(target_os = "linux"))]
    m.insert("backend".into(), Value::from(std::env::consts::OS));
    #[cfg(windows)]
    crate::windows::doctor_keys(&mut m);
    m
}

/// Keys for Linux: the facts of both backends (`landlock.*`, `bwrap.*`), which one
/// `--backend auto` would choose (`linux.auto_backend`, `linux.auto_reason`), and the generic
/// capability keys (`filesystem.*`, `network.*`, `process.*`) of that choice.
#[cfg(target_os = "linux")]
fn linux_keys(m: &mut Map<String, Value>) {
    let caps = sandbox_linux::host::probe::probe();
    let bwrap_facts = sandbox_linux::select::host::doctor_facts(caps.landlock_abi);
    let fact = |k: &str| {
        bwrap_facts
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let auto = fact("linux.auto_backend").unwrap_or(Value::Null);
    let generic = match auto.as_str() {
        Some("bwrap") => bwrap_generic(&caps),
        Some("landlock") => landlock_generic(&caps),
        _ => nothing_enforced(),
    };
    m.insert("backend".into(), auto);
    for (k, v) in generic {
        m.insert(k.into(), v);
    }
    m.insert(
        "landlock.abi".into(),
        caps.landlock_abi.map_or(Value::Bool(false), Value::from),
    );
    m.insert("seccomp".into(), Value::from(caps.seccomp));
    m.insert("namespaces.user".into(), Value::from(caps.user_namespace));
    m.insert("namespaces.mount".into(), Value::from(caps.mount_namespace));
    m.insert("root".into(), Value::from(caps.root));
    for (k, v) in bwrap_facts {
        if k != "process.pid_namespace" {
            m.insert(k, v);
        }
    }
    if !caps.forced.is_empty() {
        m.insert("probe.forced".into(), Value::from(caps.forced.clone()));
    }
}

/// What the bwrap backend enforces once it runs (namespaces, masks, seccomp on an fd).
#[cfg(target_os = "linux")]
fn bwrap_generic(caps: &sandbox_linux::host::probe::Capabilities) -> Vec<(&'static str, Value)> {
    let t = Value::from(true);
    let scope = caps.landlock_abi.is_some_and(|a| a >= 6);
    vec![
        ("filesystem.write_restrict", t.clone()),
        ("filesystem.read_restrict", t.clone()),
        ("filesystem.protected_subpaths", t.clone()),
        ("filesystem.protected_create", t.clone()),
        ("filesystem.metadata", t.clone()),
        ("filesystem.deny_paths", t.clone()),
        // Globs are expanded at launch: files created later are not covered.
        ("filesystem.deny_read", t.clone()),
        // `--dev`: bubblewrap's small device set, not the host's /dev.
        ("filesystem.private_dev", t.clone()),
        ("network.deny_all", t.clone()),
        // The command's own network namespace; the launcher's proxy listens inside it.
        ("network.allowlist_egress", t.clone()),
        ("network.loopback_only", t.clone()),
        // Host sockets listed at launch are covered in the sandbox's mount namespace.
        ("network.unix_socket_paths", t.clone()),
        (
            "network.unix_socket_mechanism",
            Value::from(sandbox_linux::host::sockets::Mechanism::MountMask.name()),
        ),
        // Own network namespace; with --network, a Landlock scope (ABI 6) or a refusal.
        ("network.abstract_unix_closed", Value::from(scope)),
        ("process.signal_scope", t.clone()),
        ("process.no_new_privs", t.clone()),
        ("process.pid_namespace", t),
    ]
}

/// What the Landlock backend enforces on this host.
#[cfg(target_os = "linux")]
fn landlock_generic(caps: &sandbox_linux::host::probe::Capabilities) -> Vec<(&'static str, Value)> {
    use sandbox_linux::host::sockets::Mechanism;
    let ll = caps.landlock_abi.is_some();
    let abi = caps.landlock_abi.unwrap_or(0);
    let mountns = caps.mount_namespace;
    vec![
        ("filesystem.write_restrict", Value::from(ll)),
        ("filesystem.read_restrict", Value::from(ll)),
        ("filesystem.protected_subpaths", Value::from(ll && mountns)),
        // Missing protected names get a read-only placeholder mount in the namespace.
        ("filesystem.protected_create", Value::from(ll && mountns)),
        ("filesystem.metadata", Value::from(ll && mountns)),
        ("filesystem.deny_paths", Value::from(ll && mountns)),
        // Deny-glob matches existing at launch are masked in the mount namespace.
        ("filesystem.deny_read", Value::from(ll && mountns)),
        // Built in the mount namespace; without one, Landlock keeps the host's /dev out
        // (standard devices and the caller's terminal only, no ptmx).
        ("filesystem.private_dev", Value::from(ll)),
        ("network.deny_all", Value::from(ll && caps.seccomp)),
        // The command's own network namespace is made with the mount namespace.
        (
            "network.allowlist_egress",
            Value::from(ll && mountns && caps.seccomp),
        ),
        (
            "network.loopback_only",
            Value::from(ll && mountns && caps.seccomp),
        ),
        (
            "network.unix_socket_paths",
            Value::from(ll && (mountns || abi >= 9)),
        ),
        (
            "network.unix_socket_mechanism",
            Value::from(
                if abi >= 9 {
                    Mechanism::LandlockResolveUnix
                } else if ll && mountns {
                    Mechanism::MountMask
                } else {
                    Mechanism::Unavailable
                }
                .name(),
            ),
        ),
        ("network.abstract_unix_closed", Value::from(abi >= 6)),
        (
            "process.signal_scope",
            Value::from(caps.landlock_abi.is_some_and(|a| a >= 6)),
        ),
        ("process.no_new_privs", Value::from(true)),
        ("process.pid_namespace", Value::from(false)),
    ]
}

/// No Linux backend can run here.
#[cfg(target_os = "linux")]
fn nothing_enforced() -> Vec<(&'static str, Value)> {
    let mut v = bwrap_generic(&sandbox_linux::host::probe::Capabilities::full(0));
    for (k, val) in v.iter_mut() {
        *val = if *k == "network.unix_socket_mechanism" {
            Value::from(sandbox_linux::host::sockets::Mechanism::Unavailable.name())
        } else {
            Value::from(false)
        };
    }
    v
}

/// One line first: what will enforce a `--full-auto` run on this host, or why nothing can.
fn verdict(caps: &Map<String, Value>) -> String {
    let text = |k: &str| {
        caps.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let flag = |k: &str| caps.get(k).is_some_and(truthy);
    let reason = text("linux.auto_reason");
    match caps.get("backend").and_then(Value::as_str) {
        Some("bwrap") => format!("a --full-auto run here is enforced by bubblewrap + seccomp ({reason})"),
        Some("landlock") if flag("filesystem.protected_subpaths") => format!(
            "a --full-auto run here is enforced by Landlock + seccomp in a private mount namespace ({reason})"
        ),
        Some("landlock") => format!(
            "a --full-auto run here is refused unless --best-effort: Landlock + seccomp work, but without a mount namespace .git and the other protected paths stay writable ({reason})"
        ),
        Some("macos") => "a --full-auto run here is enforced by Seatbelt (/usr/bin/sandbox-exec)".to_string(),
        Some("windows") => "nothing runs sandboxed here yet: the Windows launcher is not written, so `sandbox windows` refuses".to_string(),
        Some(other) => format!("no sandbox backend for {other}"),
        None => format!("nothing can enforce a sandbox here, so every run is refused: {reason}"),
    }
}

/// True for `true`, non-zero numbers and non-empty strings.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Null => false,
    }
}

pub fn run(a: DoctorArgs) -> ExitCode {
    let caps = capabilities();
    let text = if a.json {
        let json = serde_json::to_string_pretty(&Value::Object(caps.clone())).expect("json");
        format!("{json}\n")
    } else {
        let mut text = format!("verdict: {}\n", verdict(&caps));
        let config = sandbox_core::discovery::choose(
            None,
            false,
            std::env::var_os("CODEX_HOME").as_deref(),
            std::env::var_os("HOME").as_deref(),
            &std::env::current_dir().unwrap_or_else(|_| "/".into()),
        );
        let _ = writeln!(text, "config: {} (without --config)", config.describe());
        for (k, v) in &caps {
            let _ = match v {
                Value::String(s) => writeln!(text, "{k}: {s}"),
                _ => writeln!(text, "{k}: {v}"),
            };
        }
        text
    };
    if let Err(code) = exit::print(&text) {
        return code;
    }
    // An unknown key is a mistake in the command line, not a missing capability.
    if let Some(key) = a.require.iter().find(|k| caps.get(k.as_str()).is_none()) {
        exit::err!("sandbox: doctor: unknown capability `{key}` (see `sandbox doctor --json` for the keys)");
        return ExitCode::from(exit::SETUP_FAILED);
    }
    let mut ok = true;
    for key in &a.require {
        match caps.get(key) {
            Some(v) if truthy(v) => {}
            Some(v) => {
                exit::err!("sandbox: doctor: required capability `{key}` is {v}");
                ok = false;
            }
            None => {
                exit::err!("sandbox: doctor: unknown capability `{key}`");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
