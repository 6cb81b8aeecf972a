//! `sandbox doctor`: what this host can enforce, as capability keys (DESIGN.md §5).
//!
//! Each backend contributes its keys; `--require KEY` fails (exit 1) when a key is false,
//! zero, null or unknown.

use crate::DoctorArgs;
use serde_json::{Map, Value};
use std::process::ExitCode;

/// Capability keys of this host, in a stable order.
fn capabilities() -> Map<String, Value> {
    let mut m = Map::new();
    #[cfg(target_os = "linux")]
    linux_keys(&mut m);
    #[cfg(not(target_os = "linux"))]
    m.insert("backend".into(), Value::from(std::env::consts::OS));
    m
}

/// Keys of the Landlock backend, from the host probe.
#[cfg(target_os = "linux")]
fn linux_keys(m: &mut Map<String, Value>) {
    let caps = sandbox_linux::probe::probe();
    let ll = caps.landlock_abi.is_some();
    let mountns = caps.mount_namespace;
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("backend", Value::from("landlock"));
    put(
        "landlock.abi",
        caps.landlock_abi.map_or(Value::Bool(false), Value::from),
    );
    put("seccomp", Value::from(caps.seccomp));
    put("namespaces.user", Value::from(caps.user_namespace));
    put("namespaces.mount", Value::from(mountns));
    put("root", Value::from(caps.root));
    put("filesystem.write_restrict", Value::from(ll));
    put("filesystem.read_restrict", Value::from(ll));
    put("filesystem.protected_subpaths", Value::from(ll && mountns));
    // Missing protected names get a read-only placeholder mount in the namespace.
    put("filesystem.protected_create", Value::from(ll && mountns));
    put("filesystem.metadata", Value::from(ll && mountns));
    put("filesystem.deny_paths", Value::from(ll && mountns));
    // Deny-read globs are not expanded by the landlock backend yet.
    put("filesystem.deny_read", Value::from(false));
    put("network.deny_all", Value::from(ll && caps.seccomp));
    put("network.allowlist_egress", Value::from(false));
    put("network.unix_socket_paths", Value::from(false));
    put(
        "process.signal_scope",
        Value::from(caps.landlock_abi.is_some_and(|a| a >= 6)),
    );
    put("process.no_new_privs", Value::from(true));
    put("process.pid_namespace", Value::from(false));
    if !caps.forced.is_empty() {
        put("probe.forced", Value::from(caps.forced.clone()));
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
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&Value::Object(caps.clone())).expect("json")
        );
    } else {
        for (k, v) in &caps {
            match v {
                Value::String(s) => println!("{k}: {s}"),
                _ => println!("{k}: {v}"),
            }
        }
    }
    let mut ok = true;
    for key in &a.require {
        match caps.get(key) {
            Some(v) if truthy(v) => {}
            Some(v) => {
                eprintln!("sandbox: doctor: required capability `{key}` is {v}");
                ok = false;
            }
            None => {
                eprintln!("sandbox: doctor: unknown capability `{key}`");
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
