//! `sandbox macos` and `sandbox profile macos`: thin calls into `sandbox_macos::Sandbox`.

use crate::args::Format;
use crate::{exit, ProfileArgs};
use sandbox_core::TargetOs;
use sandbox_macos::{Options, Sandbox};
use std::process::ExitCode;

/// Resolves the policy for macOS and builds the sandbox, printing errors and one warning per
/// accepted degradation. `proxy_port`: set for printing (no port is reserved then).
fn sandbox(
    policy: &crate::args::PolicyArgs,
    for_run: bool,
    proxy_port: Option<u16>,
) -> Result<(sandbox_core::ResolvedPolicy, Sandbox), ExitCode> {
    let resolved = if for_run {
        policy.resolve_for_run(TargetOs::Macos)?
    } else {
        policy.resolve(TargetOs::Macos)?
    };
    let options = Options::default()
        .with_best_effort(policy.best_effort)
        .with_proxy_port(proxy_port);
    let sandbox = Sandbox::new(&resolved, &options).map_err(|e| fail(&e))?;
    for d in sandbox.degradations() {
        exit::warn(&d.to_string());
    }
    Ok((resolved, sandbox))
}

fn fail(e: &sandbox_macos::Error) -> ExitCode {
    match e.hint() {
        Some(h) => exit::fail_hint("macos", e, h),
        None => exit::fail("macos", e),
    }
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
    let denials_json = a.denials_json.clone();
    launch::run(a, denials_json)
}

#[cfg(target_os = "macos")]
mod launch {
    use super::{fail, sandbox};
    use crate::exit;
    use sandbox_macos::launch::{exit_code, DenialLog, Launch};
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;

    pub fn run(a: crate::MacosArgs, denials_json: Option<PathBuf>) -> ExitCode {
        let (_, sandbox) = match sandbox(&a.policy, true, None) {
            Ok(p) => p,
            Err(code) => return code,
        };
        // Taken from the caller's directory, before changing to the policy's.
        let denials_json = match denials_json.map(absolute) {
            Some(Err(e)) => return exit::fail("--denials-json", &e),
            Some(Ok(p)) => Some(p),
            None => None,
        };
        if let Some(cd) = &a.policy.cd {
            if let Err(e) = std::env::set_current_dir(cd) {
                return exit::fail("working directory", &format!("{}: {e}", cd.display()));
            }
        }
        // ssh (git over ssh) reaches the proxy through `sandbox connect`; a caller's own
        // GIT_SSH_COMMAND is kept.
        let mut plan = sandbox.plan().clone();
        if plan.proxy_port.is_some() && std::env::var_os("GIT_SSH_COMMAND").is_none() {
            if let Some(cmd) = std::env::current_exe()
                .ok()
                .and_then(|me| sandbox_egress::git_ssh_command(&me))
            {
                plan.env.insert("GIT_SSH_COMMAND".into(), cmd);
            }
        }
        let launch = Launch {
            plan: &plan,
            command: &a.cmd.command,
        };
        if let Err(e) = launch.check_command() {
            exit::err!("sandbox: {e}");
            return ExitCode::from(e.exit_code());
        }
        if let Err(e) = launch.preflight() {
            return fail(&e);
        }
        // Proxy mode: the proxy runs in this process, so the command runs as a child.
        let proxy = match sandbox.start_proxy() {
            Ok(p) => p,
            Err(e) => return fail(&e),
        };
        let status = if a.log_denials {
            match launch.run_logging_denials() {
                Ok((status, log)) => {
                    print_denial_log(log);
                    status
                }
                Err(e) => return fail(&e),
            }
        } else if proxy.is_some() {
            match launch.run() {
                Ok(status) => status,
                Err(e) => return fail(&e),
            }
        } else {
            return fail(&launch.exec());
        };
        if let Some(proxy) = proxy {
            let (denials, dropped) = proxy.stop_counted();
            if let Err(e) = report(&denials, dropped, denials_json.as_deref()) {
                return exit::fail("--denials-json", &e);
            }
        }
        ExitCode::from(exit_code(status))
    }

    fn absolute(p: PathBuf) -> Result<PathBuf, String> {
        if p.is_absolute() {
            return Ok(p);
        }
        std::env::current_dir()
            .map(|d| d.join(p))
            .map_err(|e| format!("working directory: {e}"))
    }

    fn print_denial_log(log: DenialLog) {
        exit::err!("=== Sandbox denials ===");
        match log {
            DenialLog::Lines(lines) if lines.is_empty() => exit::err!("(none)"),
            DenialLog::Lines(lines) => {
                for d in &lines {
                    exit::err!("{d}");
                }
            }
            DenialLog::Unavailable(why) => exit::err!("(denial log unavailable: {why})"),
        }
    }

    /// As on Linux: one summary line per blocked host, then the JSON lines file.
    fn report(
        denials: &[sandbox_egress::Denial],
        dropped: u64,
        json: Option<&Path>,
    ) -> Result<(), String> {
        for line in sandbox_egress::summary(denials) {
            exit::err!("sandbox: {line}");
        }
        if dropped > 0 {
            exit::err!("sandbox: {dropped} more refused requests were not recorded");
        }
        if let Some(path) = json {
            sandbox_egress::write_json_lines(path, denials)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    }
}

#[derive(serde::Serialize)]
struct JsonOut<'a> {
    #[serde(flatten)]
    plan: &'a sandbox_macos::SeatbeltPlan,
    argv: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verify: Option<&'a sandbox_macos::VerifyReport>,
}

pub fn profile(a: ProfileArgs) -> ExitCode {
    // Printing reserves no port: the profile shows the Linux proxy port, and each run of
    // `sandbox macos` serves a free one (the text says so).
    let (resolved, sandbox) = match sandbox(&a.policy, false, Some(sandbox_egress::NAMESPACE_PORT))
    {
        Ok(p) => p,
        Err(code) => return code,
    };
    let plan = sandbox.plan();
    let report = if a.verify {
        match sandbox_macos::verify(&resolved, plan) {
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
                plan,
                argv,
                verify: report.as_ref(),
            };
            let json = serde_json::to_string_pretty(&out).expect("plan serializes");
            format!("{json}\n")
        }
        Format::Text => match &report {
            Some(r) => r.to_text(),
            None => plan.to_text(),
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
