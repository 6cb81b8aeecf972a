//! `sandbox linux` and `sandbox profile linux`: flags in, messages and exit codes out. The
//! backend choice (and the auto fallback) is `sandbox_linux::Sandbox`'s; this file runs the
//! chosen sandbox with the CLI's extras (egress proxy, post-run git check, signal
//! forwarding) and maps errors to exit codes.

use crate::{exit, ProfileArgs};
use std::process::ExitCode;

#[cfg(target_os = "linux")]
pub use imp::{profile, run};

#[cfg(not(target_os = "linux"))]
pub fn run(_a: crate::LinuxArgs) -> ExitCode {
    exit::fail("linux", &"the Linux backends only run on Linux")
}

#[cfg(not(target_os = "linux"))]
pub fn profile(_a: ProfileArgs) -> ExitCode {
    exit::fail(
        "profile linux",
        &"Linux plans are only built on Linux in this version",
    )
}

#[cfg(target_os = "linux")]
mod imp {
    use super::*;
    use crate::args::{Backend, Format};
    use sandbox_core::{ResolvedPolicy, TargetOs};
    use sandbox_linux::bwrap::error::LaunchError;
    use sandbox_linux::{
        BwrapSandbox, Error, LandlockSandbox, LinuxError, Options, Requested, RunError, RunHooks,
        Sandbox,
    };

    fn setup_error(what: &str, e: &LinuxError) -> ExitCode {
        match e.hint() {
            Some(h) => exit::fail_hint(what, e, h),
            None => exit::fail(what, e),
        }
    }

    /// Prints a sandbox construction error and gives its exit code.
    fn sandbox_error(e: &Error) -> ExitCode {
        match e {
            Error::Bwrap(e) => launch_error(e),
            Error::Landlock(e) => setup_error("linux", e),
            Error::Refused(r) => exit::fail_hint("linux", r, &r.hint),
            e => exit::fail("linux", e),
        }
    }

    fn options(a: &crate::args::PolicyArgs, backend: Backend) -> Options {
        let mut o = Options::with_backend(match backend {
            Backend::Auto => Requested::Auto,
            Backend::Bwrap => Requested::Bwrap,
            Backend::Landlock => Requested::Landlock,
        });
        o.best_effort = a.best_effort;
        o
    }

    /// `sandbox linux`: resolves the policy once, then runs it under the backend the library
    /// chooses (or the one requested).
    pub fn run(a: crate::LinuxArgs) -> ExitCode {
        if a.verbose {
            if let Ok(choice) = a.policy.config_choice() {
                exit::err!("sandbox: config: {}", choice.describe());
            }
        }
        let policy = match a.policy.resolve_for_run(TargetOs::Linux) {
            Ok(p) => p,
            Err(code) => return code,
        };
        if let Some(d) = policy.cwd_denied() {
            return exit::fail_hint(
                &format!("working directory {}", policy.cwd.display()),
                &format!("the policy denies reading it ({})", d.rule),
                "run from a directory the policy lets the command read (-C DIR), or change the rule",
            );
        }
        if a.verbose {
            exit::err!("sandbox: {}", crate::args::network_line(&policy));
        }
        let opts = options(&a.policy, a.backend);
        // Printed before construction, which is where an explicit backend is refused.
        if a.verbose && a.backend == Backend::Landlock {
            exit::err!("sandbox: backend landlock: requested");
        }
        let sandbox = match Sandbox::for_launch(&policy, opts.clone()) {
            Ok(s) => s,
            Err(e) => return sandbox_error(&e),
        };
        if a.verbose {
            let s = sandbox.selection();
            if policy.unrestricted && sandbox.as_bwrap().is_some() {
                exit::err!("sandbox: danger-full-access: running the command without a sandbox");
            } else if a.backend != Backend::Landlock {
                exit::err!("sandbox: backend {}: {}", s.backend, s.reason);
            }
        }
        if let Some(l) = sandbox.as_landlock() {
            return run_landlock(&a, policy, l.clone());
        }
        let b = sandbox.as_bwrap().expect("one backend");
        match run_bwrap(&a, &policy, b) {
            Ok(code) => ExitCode::from(code),
            // bwrap could not make its namespaces after all (nothing ran): the library
            // chooses again (auto) or gives the refusal back.
            Err(e @ LaunchError::Userns(_)) => match sandbox.after_refusal(&policy, opts, e) {
                Ok(s) => {
                    if a.verbose {
                        let sel = s.selection();
                        exit::err!("sandbox: backend {}: {}", sel.backend, sel.reason);
                    }
                    let l = s
                        .as_landlock()
                        .expect("after_refusal gives Landlock")
                        .clone();
                    run_landlock(&a, policy, l)
                }
                Err(e) => sandbox_error(&e),
            },
            Err(e) => launch_error(&e),
        }
    }

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

    /// Prints the plan's degradations and runs the command.
    fn run_bwrap(
        a: &crate::LinuxArgs,
        policy: &ResolvedPolicy,
        sandbox: &BwrapSandbox,
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
            exit::degraded(d);
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
            let code = sandbox.run(&a.cmd.command, &mut |d| exit::degraded(d))?;
            egress.finish().map_err(proxy_err)?;
            return Ok(crate::git_check::finish(check, code));
        }
        egress.set_env();
        let code = {
            let mut hook = |pid: i32| egress.on_start(pid);
            sandbox.run_gated(&a.cmd.command, &mut |d| exit::degraded(d), Some(&mut hook))
        };
        let finished = egress.finish();
        let code = code?;
        finished.map_err(proxy_err)?;
        Ok(crate::git_check::finish(check, code))
    }

    /// Runs the command under Landlock + seccomp (+ a private mount namespace where possible).
    fn run_landlock(
        a: &crate::LinuxArgs,
        policy: ResolvedPolicy,
        sandbox: LandlockSandbox,
    ) -> ExitCode {
        // Printed once here: a retry without a mount namespace expands the same globs.
        for w in &sandbox.plan().warnings {
            exit::warn(w);
        }
        // Before changing directory: a relative --denials-json is the caller's.
        let mut egress = match crate::egress::EgressRun::new(&policy, a.denials_json.clone()) {
            Ok(e) => e,
            Err(e) => return exit::fail("network proxy", &e),
        };
        // A proxy policy degraded to "network off" (--best-effort, no namespace) runs no proxy.
        if sandbox
            .plan()
            .private_network
            .as_ref()
            .and_then(|n| n.proxy_port)
            .is_none()
        {
            egress.disable();
        }
        if let Err(e) = std::env::set_current_dir(&policy.cwd) {
            return exit::fail(&format!("working directory {}", policy.cwd.display()), &e);
        }
        // The post-run git check needs this process to outlive the command.
        let check = crate::git_check::GitCheck::start(&policy, a.policy.strict_git);
        let mut egress = if egress.active() {
            egress.set_env();
            Some(egress)
        } else if let Err(e) = egress.finish() {
            // No proxy: an empty --denials-json now, since the command may replace this process.
            return exit::fail("network proxy", &e);
        } else {
            None
        };
        let proxy = egress.is_some();
        let mut warn = |d: &sandbox_core::Degradation| exit::degraded(d);
        let mut verbose = |line: &str| exit::err!("sandbox: {line}");
        let mut serve = |l: std::net::TcpListener| match egress.as_mut() {
            Some(e) => e.serve(l),
            None => Err("no egress proxy".to_string()),
        };
        let mut hooks = RunHooks {
            warn: &mut warn,
            verbose: a.verbose.then_some(&mut verbose as &mut dyn FnMut(&str)),
            serve_proxy: proxy.then_some(
                &mut serve as &mut dyn FnMut(std::net::TcpListener) -> Result<(), String>,
            ),
            wait: check.is_some(),
        };
        let code = sandbox.run(&policy, &a.cmd.command, &mut hooks);
        // The denial summary and --denials-json come after the command in any case.
        let finished = egress.map(|e| e.finish());
        let code = match code {
            Ok(code) => code,
            Err(e) => return run_error(&e),
        };
        if let Some(Err(e)) = finished {
            return exit::fail("network proxy", &e);
        }
        ExitCode::from(crate::git_check::finish(check, code))
    }

    /// Prints why a Landlock run gave no status of the command's, and its exit code.
    fn run_error(e: &RunError) -> ExitCode {
        match e {
            RunError::Setup(e) => return setup_error("linux", e),
            RunError::ApplySetup(e) => return setup_error("linux: setup", e),
            RunError::Step(_) | RunError::NoMountNamespace(_) => {
                exit::err!("sandbox: linux: setup: {e}")
            }
            RunError::NoNetworkNamespace => exit::err!("sandbox: linux: {e}"),
            RunError::Proxy(_) => exit::err!("sandbox: network proxy: {e}"),
            RunError::Wait(_) => exit::err!("sandbox: wait: {e}"),
            _ => exit::err!("sandbox: {e}"),
        }
        ExitCode::from(e.exit_code())
    }

    /// `sandbox profile linux`: the plan the chosen backend would run, as text or JSON.
    pub fn profile(a: ProfileArgs) -> ExitCode {
        let policy = match a.policy.resolve(TargetOs::Linux) {
            Ok(p) => p,
            Err(code) => return code,
        };
        let sandbox = match Sandbox::for_profile(&policy, options(&a.policy, a.backend)) {
            Ok(s) => s,
            Err(Error::Landlock(e)) => return setup_error("profile linux", &e),
            Err(e) => return sandbox_error(&e),
        };
        let text = match a.format {
            Format::Text => sandbox.profile_text(),
            Format::Json => format!("{}\n", sandbox.profile_json()),
        };
        match exit::print(&text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        }
    }
}
