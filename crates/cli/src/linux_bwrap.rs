//! `sandbox linux --backend bwrap|auto` and `sandbox profile linux --backend bwrap`: flags in,
//! messages and exit codes out; the work is `sandbox_linux::{BwrapSandbox, choose}`.

use crate::args::Format;
use crate::exit;
use sandbox_core::ResolvedPolicy;
use std::fmt::Write;
use std::process::ExitCode;

use sandbox_linux::bwrap::error::LaunchError;

/// Prints a bwrap setup error and gives its exit code: 127/126 when the command cannot be
/// found or executed, 125 otherwise.
fn launch_error(e: &LaunchError) -> ExitCode {
    let what = match e {
        LaunchError::CommandNotFound(_) | LaunchError::CommandNotExecutable(_) => {
            exit::err!("sandbox: {e}");
            return ExitCode::from(match e {
                LaunchError::CommandNotExecutable(_) => exit::NOT_EXECUTABLE,
                _ => exit::NOT_FOUND,
            });
        }
        LaunchError::DenyGlob(_) => "deny-read",
        LaunchError::Seccomp(_) => "seccomp",
        _ => "bwrap",
    };
    match e.hint() {
        Some(h) => exit::fail_hint(what, e, &h),
        None => exit::fail(what, e),
    }
}

fn options(a: &crate::LinuxArgs) -> sandbox_linux::Options {
    sandbox_linux::Options {
        best_effort: a.policy.best_effort,
    }
}

/// `--backend bwrap`: runs the command under bubblewrap. Fails closed (125) with a diagnosis
/// when bwrap is missing or cannot set up the sandbox here.
pub fn run(a: &crate::LinuxArgs, policy: ResolvedPolicy) -> ExitCode {
    let sandbox = match sandbox_linux::BwrapSandbox::new(&policy, options(a)) {
        Ok(s) => s,
        Err(e) => return launch_error(&e),
    };
    if a.verbose {
        if policy.unrestricted {
            exit::err!("sandbox: danger-full-access: running the command without a sandbox");
        } else {
            exit::err!("sandbox: backend bwrap: {} (requested)", sandbox.describe());
        }
    }
    match launch(a, &policy, &sandbox) {
        Ok(code) => ExitCode::from(code),
        Err(e) => launch_error(&e),
    }
}

/// Prints the plan's degradations and runs the command.
fn launch(
    a: &crate::LinuxArgs,
    policy: &ResolvedPolicy,
    sandbox: &sandbox_linux::BwrapSandbox,
) -> Result<u8, LaunchError> {
    if a.verbose && !policy.deny_globs.is_empty() {
        exit::err!(
            "sandbox: deny globs masked {} existing paths; files created after launch are not covered on Linux",
            sandbox.deny_matches().len()
        );
    }
    if a.verbose && !policy.unrestricted {
        let closed = sandbox
            .plan()
            .mounts
            .iter()
            .filter(|m| matches!(m.mount, sandbox_linux::bwrap::Mount::MaskSocket { .. }))
            .count();
        exit::err!(
            "sandbox: unix sockets: {} ({closed} host socket(s) closed); abstract sockets: {}",
            sandbox.unix_socket_mechanism().name(),
            sandbox.abstract_socket_mechanism()
        );
    }
    for d in &sandbox.plan().degradations {
        exit::warn(d);
    }
    for w in sandbox.warnings() {
        exit::warn(w);
    }
    let proxy_err = |e: String| LaunchError::Io {
        what: "network proxy".into(),
        source: std::io::Error::other(e),
    };
    let mut egress =
        crate::egress::EgressRun::new(policy, a.denials_json.clone()).map_err(proxy_err)?;
    // bwrap reports a working directory it cannot enter only as its own exit 1; checking here
    // gives the usual 125 and message (the Landlock launcher changes directory the same way).
    if !policy.unrestricted {
        std::env::set_current_dir(&policy.cwd).map_err(|e| LaunchError::Io {
            what: format!("working directory {}", policy.cwd.display()),
            source: e,
        })?;
    }
    let check = crate::git_check::GitCheck::start(policy, a.policy.strict_git);
    if !egress.active() {
        let code = sandbox.run(&a.cmd.command, &mut |d| exit::warn(d))?;
        egress.finish().map_err(proxy_err)?;
        return Ok(crate::git_check::finish(check, code));
    }
    egress.set_env();
    let code = {
        let mut hook = |pid: i32| egress.on_start(pid);
        sandbox.run_gated(&a.cmd.command, &mut |d| exit::warn(d), Some(&mut hook))
    };
    let finished = egress.finish();
    let code = code?;
    finished.map_err(proxy_err)?;
    Ok(crate::git_check::finish(check, code))
}

/// `--backend auto`: bwrap when it can create namespaces, else Landlock, else refuse; the
/// reason is printed with `-v`.
pub fn run_auto(a: &crate::LinuxArgs, policy: ResolvedPolicy) -> ExitCode {
    use sandbox_linux::select::host::{after_refusal, backend_name, choose_auto};
    use sandbox_linux::select::Backend;
    if policy.unrestricted {
        return run(a, policy);
    }
    let s = match choose_auto(&policy) {
        Ok(s) => s,
        Err(r) => return exit::fail_hint("linux", &r, &r.hint),
    };
    if a.verbose {
        exit::err!("sandbox: backend {}: {}", backend_name(s.backend), s.reason);
    }
    if s.backend == Backend::Landlock {
        return crate::linux::run_landlock(a, policy);
    }
    let sandbox = match sandbox_linux::BwrapSandbox::new(&policy, options(a)) {
        Ok(s) => s,
        // bwrap cannot express this policy (a path that is not UTF-8, a rule under /proc, …).
        // Landlock may; it refuses on its own when it cannot enforce the whole policy either.
        Err(LaunchError::Compile(e @ sandbox_linux::bwrap::BwrapError::Unsupported { .. })) => {
            if a.verbose {
                exit::err!("sandbox: backend landlock: bwrap cannot enforce this policy: {e}");
            }
            return crate::linux::run_landlock(a, policy);
        }
        Err(e) => return launch_error(&e),
    };
    match launch(a, &policy, &sandbox) {
        Ok(code) => ExitCode::from(code),
        // Nothing ran: choose again without bwrap.
        Err(e @ LaunchError::Userns(_)) => match after_refusal(&e) {
            Ok(s) => {
                if a.verbose {
                    exit::err!("sandbox: backend {}: {}", backend_name(s.backend), s.reason);
                }
                crate::linux::run_landlock(a, policy)
            }
            Err(r) => exit::fail_hint("linux", &r, &r.hint),
        },
        Err(e) => launch_error(&e),
    }
}

/// Whether `--backend auto` would choose bwrap for this policy on this host.
pub fn auto_prefers_bwrap(policy: &ResolvedPolicy) -> bool {
    use sandbox_linux::select::Backend;
    sandbox_linux::select::host::choose_auto(policy).is_ok_and(|s| s.backend == Backend::Bwrap)
}

/// Prints the plan `run` would execute, as text (one shell-quoted argument per line) or JSON.
pub fn profile(a: &crate::ProfileArgs, policy: ResolvedPolicy) -> ExitCode {
    let opts = sandbox_linux::Options {
        best_effort: a.policy.best_effort,
    };
    let sandbox = match sandbox_linux::BwrapSandbox::for_profile(&policy, opts) {
        Ok(s) => s,
        Err(e) => return launch_error(&e),
    };
    let path = sandbox.bwrap();
    let text = match a.format {
        Format::Text => {
            let mut text = String::new();
            if let Some(p) = path {
                let _ = writeln!(text, "# bwrap: {}", p.display());
            }
            if !policy.deny_globs.is_empty() {
                let _ = writeln!(
                    text,
                    "# deny globs: {} matching paths masked; files created after launch are not covered on Linux",
                    sandbox.deny_matches().len()
                );
            }
            for w in sandbox.warnings() {
                let _ = writeln!(text, "# warning: {w}");
            }
            match &policy.network {
                sandbox_core::NetworkPolicy::Loopback => {
                    let _ = writeln!(text, "# network: loopback only (--unshare-net)");
                }
                sandbox_core::NetworkPolicy::Proxy { allow, deny, .. } => {
                    let _ = writeln!(
                        text,
                        "# network: proxy (--unshare-net; the launcher's egress proxy listens on 127.0.0.1:{} inside, started through --info-fd/--block-fd); allow: {}; deny: {}",
                        sandbox_linux::netns::PROXY_PORT,
                        if allow.is_empty() { "(nothing)".to_string() } else { allow.join(" ") },
                        if deny.is_empty() { "-".to_string() } else { deny.join(" ") },
                    );
                }
                _ => {}
            }
            text.push_str(&sandbox.plan().to_text());
            text
        }
        Format::Json => {
            let v = serde_json::json!({
                "backend": "bwrap",
                "bwrap": path,
                "features": sandbox.features(),
                "deny_matches": sandbox.deny_matches(),
                "warnings": sandbox.warnings(),
                "plan": sandbox.plan(),
            });
            let json = serde_json::to_string_pretty(&v).expect("plan serializes");
            format!("{json}\n")
        }
    };
    match exit::print(&text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
