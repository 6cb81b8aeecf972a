//! `sandbox windows` and `sandbox profile windows`.

use crate::args::Format;
use crate::{exit, ProfileArgs, WindowsArgs};
use sandbox_core::TargetOs;
use sandbox_windows::WindowsPlan;
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
        Format::Text => plan.to_text(),
    };
    match exit::print(&text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
