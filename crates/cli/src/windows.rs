//! `sandbox windows`, `sandbox profile windows`, and the Windows keys of `sandbox doctor`.

use crate::args::Format;
use crate::{exit, ProfileArgs, WindowsArgs};
use sandbox_core::TargetOs;
use sandbox_windows::plan::TOKEN_RESTRICTING_SIDS;
use sandbox_windows::{Identity, WindowsPlan};
use std::fmt::Write;
use std::process::ExitCode;

/// Compiles the plan for `policy`, printing one warning per accepted degradation.
fn plan(
    policy: &crate::args::PolicyArgs,
    resolved: &sandbox_core::ResolvedPolicy,
    what: &str,
) -> Result<WindowsPlan, ExitCode> {
    let plan = sandbox_windows::compile(resolved, policy.best_effort).map_err(|e| {
        exit::fail_hint(
            what,
            &e,
            "`sandbox profile windows --best-effort [POLICY]` shows what would not be enforced",
        )
    })?;
    for d in &plan.degradations {
        exit::warn(&format!("best effort: {}", d.detail));
    }
    Ok(plan)
}

/// Off Windows: refuses, and runs nothing.
#[cfg(not(windows))]
pub fn run(a: WindowsArgs) -> ExitCode {
    if let Err(code) = a.policy.resolve(TargetOs::Windows) {
        return code;
    }
    exit::fail_hint(
        "windows",
        &format!(
            "the Windows sandbox runs only on Windows; this is {}",
            std::env::consts::OS
        ),
        "`sandbox profile windows [POLICY]` prints the plan (identity, ACL entries, job limits) it would apply",
    )
}

/// Runs the command under the plan; the command's exit code (all 32 bits) becomes this
/// process's exit code once the grants are revoked.
#[cfg(windows)]
pub fn run(a: WindowsArgs) -> ExitCode {
    let resolved = match a.policy.resolve_for_run(TargetOs::Windows) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let plan = match plan(&a.policy, &resolved, "windows") {
        Ok(p) => p,
        Err(code) => return code,
    };
    let launch = sandbox_windows::launch::Launch {
        plan: &plan,
        command: &a.cmd.command,
        cwd: &resolved.cwd,
        writable_roots: resolved
            .writable_roots
            .iter()
            .map(|w| w.path.clone())
            .collect(),
    };
    match sandbox_windows::launch::run(&launch, &|w| exit::warn(w)) {
        Ok(outcome) => {
            for w in &outcome.warnings {
                exit::warn(w);
            }
            // `ExitCode` holds 8 bits; a Windows status (0xC000013A for Ctrl-C) needs 32.
            std::process::exit(outcome.exit_code as i32)
        }
        Err(e) => {
            exit::err!("sandbox: windows: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

pub fn profile(a: ProfileArgs) -> ExitCode {
    let resolved = match a.policy.resolve(TargetOs::Windows) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let plan = match plan(&a.policy, &resolved, "profile windows") {
        Ok(p) => p,
        Err(code) => return code,
    };
    let text = match a.format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&plan).expect("plan serializes");
            format!("{json}\n")
        }
        Format::Text => render(&plan),
    };
    match exit::print(&text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// The plan as text: identity, ACEs (with their masks), placeholders, job limits,
/// degradations, and the identity's standing limits.
fn render(plan: &WindowsPlan) -> String {
    let mut out = String::new();
    match &plan.identity {
        Identity::Unsandboxed => out.push_str("identity: none (danger-full-access: no sandbox)\n"),
        Identity::WriteRestrictedToken => {
            out.push_str("identity: write-restricted token (DISABLE_MAX_PRIVILEGE | LUA_TOKEN | WRITE_RESTRICTED)\n");
            let _ = writeln!(
                out,
                "restricting SIDs: {} (checked for writes only)",
                TOKEN_RESTRICTING_SIDS.join(", ")
            );
        }
        Identity::AppContainer { capabilities } => {
            let caps = if capabilities.is_empty() {
                "none (no network, no loopback)".to_string()
            } else {
                capabilities.join(", ")
            };
            let _ = writeln!(
                out,
                "identity: AppContainer sandbox-<run id> (fresh per run), capabilities: {caps}"
            );
        }
    }
    if !plan.aces.is_empty() {
        out.push_str(
            "ACEs for the run's SID (journaled, stamped before the start, revoked after):\n",
        );
    }
    for ace in &plan.aces {
        let inherit = if ace.inherit { " (inherited)" } else { "" };
        let _ = writeln!(
            out,
            "ace: {:<12} {:#010x} {}{inherit}  # {}",
            ace.kind.label(),
            ace.kind.mask(),
            ace.path.display(),
            ace.reason
        );
    }
    for p in &plan.placeholders {
        let _ = writeln!(
            out,
            "placeholder: {} (empty directory for the run, removed after if still empty)",
            p.display()
        );
    }
    let j = &plan.job;
    let _ = writeln!(
        out,
        "job: kill-on-close {}, die-on-unhandled-exception {}, breakaway {}, joined at creation {}",
        j.kill_on_close, j.die_on_unhandled_exception, j.breakaway_allowed, j.joined_at_creation
    );
    let ui = if j.ui_restrictions.is_empty() {
        "none".to_string()
    } else {
        j.ui_restrictions.join(", ")
    };
    let _ = writeln!(out, "job UI restrictions: {ui}");
    for d in &plan.degradations {
        let _ = writeln!(out, "degradation: {}", d.detail);
    }
    for l in &plan.limits {
        let _ = writeln!(out, "limit: {l}");
    }
    out
}

/// Capability keys of `sandbox doctor` on Windows (DESIGN.md §5): what the launcher enforces,
/// with the write-restricted token (the tier of every policy that reads everything) deciding
/// the generic keys.
#[cfg(windows)]
pub fn doctor_report() -> crate::doctor::Report {
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
    crate::doctor::Report {
        backend: Value::from("windows"),
        capabilities,
        facts,
    }
}
