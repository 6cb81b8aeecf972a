//! `sandbox doctor`: what this host can enforce, as capability keys (DESIGN.md §5).
//!
//! Each backend contributes a [`Report`]: the generic keys are [`Capability`] values (their
//! text is [`Capability::key`], only at the output), the backend's own facts are named keys.
//! `--require KEY` fails (exit 1) when a key is false, zero, null or unknown.

use crate::{exit, DoctorArgs};
use sandbox_core::Capability;
use serde_json::{Map, Value};
use std::fmt::Write;
use std::process::ExitCode;

/// What `doctor` says about this host: the backend a run would use, what it enforces here,
/// and the host facts behind that.
pub struct Report {
    /// `backend`: the backend a run would use (`null` when none can run).
    pub backend: Value,
    /// The generic keys (`filesystem.*`, `network.*`, `process.*`) of that backend.
    pub capabilities: Vec<(Capability, Value)>,
    /// The backend's own facts (`landlock.abi`, `bwrap.*`, `linux.auto_*`, `windows.*`, …).
    pub facts: Vec<(String, Value)>,
}

/// A key of the report, as `--require` names it.
enum Key {
    Capability(Capability),
    Other(String),
}

impl Key {
    fn parse(text: &str) -> Key {
        text.parse()
            .map(Key::Capability)
            .unwrap_or_else(|_| Key::Other(text.to_string()))
    }
}

impl Report {
    /// The value of `key`; `None` when this host's report has no such key.
    fn get(&self, key: &Key) -> Option<&Value> {
        match key {
            Key::Capability(c) => self
                .capabilities
                .iter()
                .find(|(have, _)| have == c)
                .map(|(_, v)| v),
            Key::Other(k) if k == "backend" => Some(&self.backend),
            Key::Other(k) => self
                .facts
                .iter()
                .find(|(have, _)| have == k)
                .map(|(_, v)| v),
        }
    }

    /// The report as printed: one object, capabilities spelled by [`Capability::key`].
    fn to_map(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("backend".into(), self.backend.clone());
        for (c, v) in &self.capabilities {
            m.insert(c.key().into(), v.clone());
        }
        for (k, v) in &self.facts {
            debug_assert!(k.parse::<Capability>().is_err(), "fact {k} is a capability");
            m.insert(k.clone(), v.clone());
        }
        m
    }
}

/// The report of this host (Linux: see [`linux_report`]).
#[cfg(target_os = "linux")]
fn report() -> Report {
    linux_report()
}

/// The report of this host.
#[cfg(windows)]
fn report() -> Report {
    windows_report()
}

/// The report of this host.
#[cfg(target_os = "macos")]
fn report() -> Report {
    macos_report()
}

/// Keys for macOS: what the Seatbelt profile enforces (DESIGN.md §4). No enforcement test
/// of it has run on a Mac in this project yet (README), which `macos.launcher_verified` says.
#[cfg(target_os = "macos")]
fn macos_report() -> Report {
    use sandbox_core::Capability::*;
    let t = Value::from(true);
    let f = Value::from(false);
    Report {
        backend: Value::from("seatbelt"),
        capabilities: vec![
            (WriteRestrict, t.clone()),
            (ReadRestrict, t.clone()),
            (ProtectedSubpaths, t.clone()),
            (ProtectedCreate, t.clone()),
            (DenyPaths, t.clone()),
            (DenyRead, t.clone()),
            (NetworkDenyAll, t.clone()),
            // Only the launcher's proxy port on localhost is reachable.
            (AllowlistEgress, t.clone()),
            // Seatbelt has no private loopback: the host's is shared (a degradation).
            (LoopbackOnly, f.clone()),
            // Connects only to the listed socket paths.
            (UnixSocketPaths, t),
            (PidNamespace, f.clone()),
        ],
        facts: vec![
            (
                "macos.sandbox_exec".into(),
                Value::from(std::path::Path::new(sandbox_macos::SANDBOX_EXEC).exists()),
            ),
            ("macos.launcher_verified".into(), f),
        ],
    }
}

/// The report of this host: only the backend's name.
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn report() -> Report {
    Report {
        backend: Value::from(std::env::consts::OS),
        capabilities: Vec::new(),
        facts: Vec::new(),
    }
}

/// Keys for Linux: the facts of both backends (`landlock.*`, `bwrap.*`), which one
/// `--backend auto` would choose (`linux.auto_backend`, `linux.auto_reason`), and the generic
/// capability keys (`filesystem.*`, `network.*`, `process.*`) of that choice.
#[cfg(target_os = "linux")]
fn linux_report() -> Report {
    let caps = sandbox_linux::host::probe::probe();
    let bwrap_facts = sandbox_linux::select::host::doctor_facts(caps.landlock_abi);
    let fact = |k: &str| {
        bwrap_facts
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let auto = fact("linux.auto_backend").unwrap_or(Value::Null);
    let capabilities = match auto.as_str() {
        Some("bwrap") => bwrap_generic(&caps),
        Some("landlock") => landlock_generic(&caps),
        _ => nothing_enforced(),
    };
    let mut facts: Vec<(String, Value)> = vec![
        (
            "landlock.abi".into(),
            caps.landlock_abi.map_or(Value::Bool(false), Value::from),
        ),
        ("seccomp".into(), Value::from(caps.seccomp)),
        ("namespaces.user".into(), Value::from(caps.user_namespace)),
        ("namespaces.mount".into(), Value::from(caps.mount_namespace)),
        ("root".into(), Value::from(caps.root)),
    ];
    // The bwrap probe's `process.pid_namespace` is bwrap's; the generic key is the chosen
    // backend's.
    facts.extend(
        bwrap_facts
            .into_iter()
            .filter(|(k, _)| k.parse::<Capability>().is_err()),
    );
    if !caps.forced.is_empty() {
        facts.push(("probe.forced".into(), Value::from(caps.forced.clone())));
    }
    Report {
        backend: auto,
        capabilities,
        facts,
    }
}

/// What the bwrap backend enforces once it runs (namespaces, masks, seccomp on an fd).
#[cfg(target_os = "linux")]
fn bwrap_generic(caps: &sandbox_linux::host::probe::Capabilities) -> Vec<(Capability, Value)> {
    let t = Value::from(true);
    let scope = caps.landlock_abi.is_some_and(|a| a >= 6);
    vec![
        (Capability::WriteRestrict, t.clone()),
        (Capability::ReadRestrict, t.clone()),
        (Capability::ProtectedSubpaths, t.clone()),
        (Capability::ProtectedCreate, t.clone()),
        (Capability::Metadata, t.clone()),
        (Capability::DenyPaths, t.clone()),
        // Globs are expanded at launch: files created later are not covered.
        (Capability::DenyRead, t.clone()),
        // `--dev`: bubblewrap's small device set, not the host's /dev.
        (Capability::PrivateDev, t.clone()),
        (Capability::NetworkDenyAll, t.clone()),
        // The command's own network namespace; the launcher's proxy listens inside it.
        (Capability::AllowlistEgress, t.clone()),
        (Capability::LoopbackOnly, t.clone()),
        // Host sockets listed at launch are covered in the sandbox's mount namespace.
        (Capability::UnixSocketPaths, t.clone()),
        (
            Capability::UnixSocketMechanism,
            Value::from(sandbox_linux::host::sockets::Mechanism::MountMask.name()),
        ),
        // Own network namespace; with --network, a Landlock scope (ABI 6) or a refusal.
        (Capability::AbstractUnixClosed, Value::from(scope)),
        (Capability::SignalScope, t.clone()),
        (Capability::NoNewPrivs, t.clone()),
        (Capability::PidNamespace, t),
    ]
}

/// What the Landlock backend enforces on this host.
#[cfg(target_os = "linux")]
fn landlock_generic(caps: &sandbox_linux::host::probe::Capabilities) -> Vec<(Capability, Value)> {
    use sandbox_linux::host::sockets::Mechanism;
    let ll = caps.landlock_abi.is_some();
    let abi = caps.landlock_abi.unwrap_or(0);
    let mountns = caps.mount_namespace;
    vec![
        (Capability::WriteRestrict, Value::from(ll)),
        (Capability::ReadRestrict, Value::from(ll)),
        (Capability::ProtectedSubpaths, Value::from(ll && mountns)),
        // Missing protected names get a read-only placeholder mount in the namespace.
        (Capability::ProtectedCreate, Value::from(ll && mountns)),
        (Capability::Metadata, Value::from(ll && mountns)),
        (Capability::DenyPaths, Value::from(ll && mountns)),
        // Deny-glob matches existing at launch are masked in the mount namespace.
        (Capability::DenyRead, Value::from(ll && mountns)),
        // Built in the mount namespace; without one, Landlock keeps the host's /dev out
        // (standard devices and the caller's terminal only, no ptmx).
        (Capability::PrivateDev, Value::from(ll)),
        (Capability::NetworkDenyAll, Value::from(ll && caps.seccomp)),
        // The command's own network namespace is made with the mount namespace.
        (
            Capability::AllowlistEgress,
            Value::from(ll && mountns && caps.seccomp),
        ),
        (
            Capability::LoopbackOnly,
            Value::from(ll && mountns && caps.seccomp),
        ),
        (
            Capability::UnixSocketPaths,
            Value::from(ll && (mountns || abi >= 9)),
        ),
        (
            Capability::UnixSocketMechanism,
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
        (Capability::AbstractUnixClosed, Value::from(abi >= 6)),
        (
            Capability::SignalScope,
            Value::from(caps.landlock_abi.is_some_and(|a| a >= 6)),
        ),
        (Capability::NoNewPrivs, Value::from(true)),
        (Capability::PidNamespace, Value::from(false)),
    ]
}

/// No Linux backend can run here.
#[cfg(target_os = "linux")]
fn nothing_enforced() -> Vec<(Capability, Value)> {
    let mut v = bwrap_generic(&sandbox_linux::host::probe::Capabilities::full(0));
    for (c, val) in v.iter_mut() {
        *val = if *c == Capability::UnixSocketMechanism {
            Value::from(sandbox_linux::host::sockets::Mechanism::Unavailable.name())
        } else {
            Value::from(false)
        };
    }
    v
}

/// One line first: what will enforce a `--full-auto` run on this host, or why nothing can.
fn verdict(report: &Report) -> String {
    let reason = report
        .get(&Key::Other("linux.auto_reason".into()))
        .and_then(Value::as_str)
        .unwrap_or("");
    let protected = report
        .get(&Key::Capability(Capability::ProtectedSubpaths))
        .is_some_and(truthy);
    match report.backend.as_str() {
        Some("bwrap") => format!("a --full-auto run here is enforced by bubblewrap + seccomp ({reason})"),
        Some("landlock") if protected => format!(
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
    let report = report();
    let caps = report.to_map();
    let text = if a.json {
        let json = serde_json::to_string_pretty(&Value::Object(caps.clone())).expect("json");
        format!("{json}\n")
    } else {
        let mut text = format!("verdict: {}\n", verdict(&report));
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
    let required: Vec<(&String, Key)> = a.require.iter().map(|k| (k, Key::parse(k))).collect();
    // An unknown key is a mistake in the command line, not a missing capability.
    if let Some((key, _)) = required.iter().find(|(_, k)| report.get(k).is_none()) {
        exit::err!("sandbox: doctor: unknown capability `{key}` (see `sandbox doctor --json` for the keys)");
        return ExitCode::from(exit::SETUP_FAILED);
    }
    let mut ok = true;
    for (key, k) in &required {
        match report.get(k) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Capabilities are printed by their key; facts and `backend` by name; `--require` finds
    /// either, and only what this host's report has.
    #[test]
    fn report_keys_and_lookups() {
        let r = Report {
            backend: Value::from("x"),
            capabilities: vec![(Capability::DenyRead, Value::from(false))],
            facts: vec![("x.version".into(), Value::from("1"))],
        };
        let m = r.to_map();
        assert_eq!(m["filesystem.deny_read"], false);
        assert_eq!(m["x.version"], "1");
        assert_eq!(m["backend"], "x");
        assert_eq!(m.len(), 3);
        assert_eq!(
            r.get(&Key::parse("filesystem.deny_read")),
            Some(&Value::from(false))
        );
        assert_eq!(r.get(&Key::parse("x.version")), Some(&Value::from("1")));
        assert_eq!(r.get(&Key::parse("backend")), Some(&Value::from("x")));
        // A known capability this backend does not report is unknown here, like a typo.
        assert_eq!(r.get(&Key::parse("process.kill_tree")), None);
        assert_eq!(r.get(&Key::parse("no.such.key")), None);
    }
}

/// Capability keys of `sandbox doctor` on Windows (DESIGN.md §5): what the launcher enforces,
/// with the write-restricted token (the tier of every policy that reads everything) deciding
/// the generic keys.
#[cfg(windows)]
fn windows_report() -> Report {
    use sandbox_core::Capability::*;
    use serde_json::Value;
    let (major, minor, build) = sandbox_windows::launch::os_version();
    let t = Value::from(true);
    let f = Value::from(false);
    let capabilities = vec![
        (WriteRestrict, t.clone()),
        // Only when the policy restricts reads (AppContainer).
        (ReadRestrict, t.clone()),
        (ProtectedSubpaths, t.clone()),
        // Missing protected names get placeholder directories with a deny entry.
        (ProtectedCreate, t.clone()),
        // A write-restricted token cannot deny a read: deny rules in a read-everything policy
        // are refused without --best-effort.
        (DenyRead, f.clone()),
        (DenyPaths, f.clone()),
        // The token tier cannot block sockets; `network = off` is refused without --best-effort.
        (NetworkDenyAll, f.clone()),
        (AllowlistEgress, f.clone()),
        (UnixSocketPaths, f.clone()),
        (KillTree, t),
        (PidNamespace, f.clone()),
    ];
    let facts = vec![
        (
            "windows.version".into(),
            Value::from(format!("{major}.{minor}.{build}")),
        ),
        // PROC_THREAD_ATTRIBUTE_JOB_LIST needs Windows 10 1607 (build 14393).
        (
            "windows.job_list".into(),
            Value::from(major >= 10 && build >= 14393),
        ),
        // No enforcement test of this launcher has run on Windows yet (README).
        ("windows.launcher_verified".into(), f),
    ];
    Report {
        backend: Value::from("windows"),
        capabilities,
        facts,
    }
}
