//! `sandbox macos` and `sandbox profile macos`.

use crate::args::Format;
use crate::{exit, ProfileArgs};
use sandbox_core::TargetOs;
use sandbox_macos::{CompileOptions, SeatbeltPlan};
use std::fmt::Write;
use std::process::ExitCode;

/// Resolves the policy for macOS and compiles it, printing errors and warnings.
fn plan(
    policy: &crate::args::PolicyArgs,
    for_run: bool,
) -> Result<(sandbox_core::ResolvedPolicy, SeatbeltPlan), ExitCode> {
    let resolved = if for_run {
        policy.resolve_for_run(TargetOs::Macos)?
    } else {
        policy.resolve(TargetOs::Macos)?
    };
    let opts = CompileOptions {
        best_effort: policy.best_effort,
    };
    let plan = sandbox_macos::compile(&resolved, &opts).map_err(|e| match e.hint() {
        Some(h) => exit::fail_hint("macos", &e, h),
        None => exit::fail("macos", &e),
    })?;
    for w in &plan.warnings {
        exit::warn(w);
    }
    Ok((resolved, plan))
}

#[cfg(not(target_os = "macos"))]
pub fn run(_a: crate::MacosArgs) -> ExitCode {
    exit::fail_hint(
        "macos",
        &format!(
            "Seatbelt (sandbox-exec) exists only on macOS; this is {}",
            std::env::consts::OS
        ),
        "use `sandbox run` for this OS's sandbox, or `sandbox profile macos` to print the profile",
    )
}

#[cfg(target_os = "macos")]
pub fn run(a: crate::MacosArgs) -> ExitCode {
    let (_, plan) = match plan(&a.policy, true) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(cd) = &a.policy.cd {
        if let Err(e) = std::env::set_current_dir(cd) {
            return exit::fail("working directory", &format!("{}: {e}", cd.display()));
        }
    }
    let launch = sandbox_macos::launch::Launch {
        plan: &plan,
        command: &a.cmd.command,
    };
    match launch.check_command() {
        Ok(()) => {}
        Err(e) => {
            exit::err!("sandbox: {e}");
            return ExitCode::from(e.exit_code());
        }
    }
    if let Err(e) = launch.preflight() {
        return match e.hint() {
            Some(h) => exit::fail_hint("macos", &e, h),
            None => exit::fail("macos", &e),
        };
    }
    if a.log_denials {
        match launch.run_logging_denials() {
            Ok((status, log)) => {
                exit::err!("=== Sandbox denials ===");
                match log {
                    sandbox_macos::launch::DenialLog::Lines(lines) if lines.is_empty() => {
                        exit::err!("(none)");
                    }
                    sandbox_macos::launch::DenialLog::Lines(lines) => {
                        for d in &lines {
                            exit::err!("{d}");
                        }
                    }
                    sandbox_macos::launch::DenialLog::Unavailable(why) => {
                        exit::err!("(denial log unavailable: {why})");
                    }
                }
                ExitCode::from(sandbox_macos::launch::exit_code(status))
            }
            Err(e) => exit::fail("macos", &e),
        }
    } else {
        let e = launch.exec();
        exit::fail("macos", &e)
    }
}

#[derive(serde::Serialize)]
struct JsonOut<'a> {
    profile: &'a str,
    params: &'a std::collections::BTreeMap<String, String>,
    argv: Vec<String>,
    unrestricted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    verify: Option<&'a sandbox_macos::VerifyReport>,
}

pub fn profile(a: ProfileArgs) -> ExitCode {
    let (resolved, plan) = match plan(&a.policy, false) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let report = if a.verify {
        match sandbox_macos::verify(&resolved, &plan) {
            Ok(r) => Some(r),
            Err(e) => return exit::fail("profile macos --verify", &e),
        }
    } else {
        None
    };
    let text = match a.format {
        Format::Json => {
            let argv = plan
                .argv(&[])
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            let out = JsonOut {
                profile: &plan.profile,
                params: &plan.params,
                argv,
                unrestricted: plan.unrestricted,
                verify: report.as_ref(),
            };
            let json = serde_json::to_string_pretty(&out).expect("plan serializes");
            format!("{json}\n")
        }
        Format::Text => match &report {
            Some(r) => render_report(r),
            None if plan.unrestricted => {
                ";; danger-full-access: no sandbox is applied; the command runs as is\n".into()
            }
            None => {
                let mut text = plan.profile.clone();
                text.push_str("\n;; Parameters (each passed as -DKEY=VALUE):\n");
                for (k, v) in &plan.params {
                    let _ = writeln!(text, ";;   {k}={}", v.escape_debug());
                }
                text
            }
        },
    };
    if let Err(code) = exit::print(&text) {
        return code;
    }
    match report {
        Some(r) if !r.ok() => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

/// The `--verify` report for humans: a summary line, then one line per difference.
fn render_report(r: &sandbox_macos::VerifyReport) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "verified {} decisions against the policy oracle: {} mismatches, {} known differences",
        r.checked,
        r.mismatches.len(),
        r.known.len()
    );
    for m in &r.known {
        let why = sandbox_macos::verify::known_difference(&m.path, &m.op).unwrap_or("");
        let _ = writeln!(
            text,
            "known: {} {}: profile {}, oracle {} ({why})",
            m.op,
            m.path.escape_debug(),
            if m.profile { "allows" } else { "denies" },
            if m.oracle { "allows" } else { "denies" },
        );
    }
    for m in &r.mismatches {
        let _ = writeln!(
            text,
            "MISMATCH: {} {}: oracle {} ({}), profile {} (line {})",
            m.op,
            m.path.escape_debug(),
            if m.oracle { "allows" } else { "denies" },
            m.oracle_rule,
            if m.profile { "allows" } else { "denies" },
            m.profile_line
        );
    }
    text
}
