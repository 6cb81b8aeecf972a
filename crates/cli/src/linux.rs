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
    use sandbox_linux::supervise::{exit_code, Forwarder};
    use sandbox_linux::{
        BwrapSandbox, Error, ExecError, LandlockSandbox, LinuxError, Options, Requested, Sandbox,
    };
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    use std::path::{Path, PathBuf};

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
        let sandbox = match Sandbox::for_launch(&policy, opts.clone()) {
            Ok(s) => s,
            Err(e) => return sandbox_error(&e),
        };
        if a.verbose {
            let s = sandbox.selection();
            if policy.unrestricted && sandbox.as_bwrap().is_some() {
                exit::err!("sandbox: danger-full-access: running the command without a sandbox");
            } else {
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
        let (program, argv0) = (&a.cmd.command[0], a.cmd.command[0].clone());
        let path = match find_program(program) {
            Ok(p) => p,
            Err(code) => return code,
        };
        let mut args: Vec<OsString> = vec![argv0];
        args.extend(a.cmd.command[1..].iter().cloned());
        // The post-run git check needs this process to outlive the command: it runs supervised.
        let mut check = crate::git_check::GitCheck::start(&policy, a.policy.strict_git);
        if !egress.active() {
            // No proxy: an empty --denials-json now, since the command may replace this process.
            if let Err(e) = egress.finish() {
                return exit::fail("network proxy", &e);
            }
        } else {
            // The proxy runs in this process: wait for the command instead of exec'ing it.
            egress.set_env();
            let code = match run_supervised(sandbox, &path, &args, Some(&mut egress), &mut check) {
                Launched::Done(code) => code,
                Launched::NoMountNamespace(_) => {
                    return exit::fail(
                        "linux",
                        &"the proxy network mode needs a private network namespace, which could not be made here",
                    )
                }
            };
            return match egress.finish() {
                Ok(()) => code,
                Err(e) => exit::fail("network proxy", &e),
            };
        }
        let sandbox = match launch(sandbox, &path, &args, a.verbose, &mut check) {
            Launched::Done(code) => return code,
            Launched::NoMountNamespace(s) => s,
        };
        // The remembered namespace answer was wrong and nothing ran: continue exactly as a
        // host without a mount namespace (refuse, or degrade with --best-effort).
        let retry = sandbox.without_mount_namespace(&policy);
        // Placeholders made for the first attempt are removed now: exec runs no destructors.
        drop(sandbox);
        let sandbox = match retry {
            Ok(s) => s,
            Err(e) => return setup_error("linux", &e),
        };
        match launch(sandbox, &path, &args, a.verbose, &mut check) {
            Launched::Done(code) => code,
            Launched::NoMountNamespace(_) => ExitCode::from(exit::SETUP_FAILED),
        }
    }

    /// How [`launch`] ended.
    enum Launched {
        /// The command ran (or failed); the exit code to return.
        Done(ExitCode),
        /// The private mount namespace could not be made and nothing ran.
        NoMountNamespace(Box<LandlockSandbox>),
    }

    /// Prints the plan's degradations and runs the command supervised: as a child, so that
    /// signals reach it and its handlers run, its status comes back as a status (`128+N`
    /// for signal N, never this process dying of it), and nothing it leaves running outlives
    /// this process. Only an unrestricted policy (no sandbox) `exec`s in place.
    fn launch(
        sandbox: LandlockSandbox,
        path: &Path,
        args: &[OsString],
        verbose: bool,
        check: &mut Option<crate::git_check::GitCheck>,
    ) -> Launched {
        for d in &sandbox.plan().degradations {
            exit::degraded(d);
        }
        if verbose && !sandbox.plan().unrestricted {
            let plan = sandbox.plan();
            let closed = plan.mounts.as_ref().map_or(0, |m| {
                m.steps
                    .iter()
                    .filter(|s| {
                        matches!(
                            s,
                            sandbox_linux::landlock::mountns::MountStep::MaskSocket { .. }
                        )
                    })
                    .count()
            });
            let scoped = plan
                .landlock
                .as_ref()
                .is_some_and(|l| l.scoped.bits & 1 != 0);
            exit::err!(
                "sandbox: unix sockets: {} ({closed} host socket(s) closed); abstract sockets: {}",
                plan.unix_sockets.name(),
                if scoped {
                    "landlock abstract-unix scope"
                } else {
                    "not enforced (degraded)"
                }
            );
        }
        // The post-run git check needs this process to outlive the command.
        if !sandbox.plan().unrestricted || check.is_some() {
            return run_supervised(sandbox, path, args, None, check);
        }
        match sandbox.exec(path, args) {
            ExecError::Setup(e) => Launched::Done(setup_error("linux: setup", &e)),
            ExecError::Exec(e) => Launched::Done(exec_failure(&args[0], &e)),
            ExecError::NoMountNamespace(e) => {
                if verbose {
                    exit::err!("sandbox: no private mount namespace after all ({e})");
                }
                Launched::NoMountNamespace(Box::new(sandbox))
            }
        }
    }

    /// Runs the command as a child and waits, so placeholder directories made for missing
    /// protected paths can be removed afterwards; signals are forwarded as
    /// [`sandbox_linux::supervise`] describes (the child shares this process group, so a
    /// terminal's Ctrl-C reaches it directly), and processes the command leaves behind are
    /// killed when it exits (as bwrap's PID namespace does). The child also dies with this
    /// process (`PR_SET_PDEATHSIG`). Exit status: the child's code, or 128+N when it died of
    /// signal N.
    fn run_supervised(
        sandbox: LandlockSandbox,
        path: &Path,
        args: &[OsString],
        egress: Option<&mut crate::egress::EgressRun>,
        check: &mut Option<crate::git_check::GitCheck>,
    ) -> Launched {
        // Before `apply` makes the placeholders, so a SIGTERM cannot leave them behind. A
        // reaper: whatever the command leaves running is killed before the placeholders go,
        // since removing one would lift the read-only mount over it for a process still
        // inside, which could then create the protected name.
        let mut forwarder = Forwarder::install_reaper();
        let mut cmd = std::process::Command::new(path);
        cmd.arg0(&args[0]).args(&args[1..]);
        let guard = match sandbox.apply(&mut cmd) {
            Ok(g) => g,
            Err(e) => return Launched::Done(setup_error("linux", &e)),
        };
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return match guard.setup_failure() {
                    // The child failed before exec: this process is unchanged.
                    Some(step) if step.is_namespace_setup() => {
                        drop(cmd);
                        Launched::NoMountNamespace(Box::new(sandbox))
                    }
                    Some(step) => Launched::Done(exit::fail("linux: setup", &step)),
                    None => Launched::Done(exec_failure(&args[0], &e)),
                };
            }
        };
        // Proxy mode: serve the listener the child made in its network namespace.
        if let Some(egress) = egress {
            let served = match guard.take_proxy_listener() {
                Some(l) => egress.serve(l),
                None => Err("the sandbox passed no proxy listener".to_string()),
            };
            if let Err(e) = served {
                let _ = child.kill();
                let _ = child.wait();
                forwarder.kill_orphans();
                return Launched::Done(exit::fail("network proxy", &e));
            }
        }
        let status = forwarder.supervise(&mut child);
        forwarder.kill_orphans();
        // The placeholders go with the sandbox; signals stay forwarded until they are gone.
        drop(cmd);
        drop(guard);
        drop(sandbox);
        drop(forwarder);
        Launched::Done(match status {
            Ok(s) => ExitCode::from(crate::git_check::finish(
                check.take(),
                exit_code(s).unwrap_or(exit::SETUP_FAILED),
            )),
            Err(e) => exit::fail("wait", &e),
        })
    }

    /// Maps a failed `execv` to 127 (not found) or 126 (not executable).
    fn exec_failure(program: &OsString, e: &std::io::Error) -> ExitCode {
        let name = program.to_string_lossy();
        exit::err!("sandbox: {name}: {e}");
        if e.raw_os_error() == Some(libc::ENOENT) {
            ExitCode::from(exit::NOT_FOUND)
        } else {
            ExitCode::from(exit::NOT_EXECUTABLE)
        }
    }

    /// Finds `program` like `execvp`: a name with a `/` is used as is, otherwise the first
    /// executable file of that name on `PATH`. Not found: 127; found but not executable: 126.
    fn find_program(program: &OsString) -> Result<PathBuf, ExitCode> {
        let name = program.to_string_lossy();
        if program.as_bytes().contains(&b'/') {
            return Ok(PathBuf::from(program));
        }
        if program.is_empty() {
            exit::err!("sandbox: empty command name");
            return Err(ExitCode::from(exit::NOT_FOUND));
        }
        let path =
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
        let mut not_executable = None;
        for dir in std::env::split_paths(&path) {
            let candidate = if dir.as_os_str().is_empty() {
                Path::new(".").join(program)
            } else {
                dir.join(program)
            };
            let Ok(meta) = std::fs::metadata(&candidate) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            if is_executable(&candidate) {
                return Ok(candidate);
            }
            not_executable.get_or_insert(candidate);
        }
        match not_executable {
            Some(p) => {
                exit::err!("sandbox: {}: permission denied", p.display());
                Err(ExitCode::from(exit::NOT_EXECUTABLE))
            }
            None => {
                exit::err!("sandbox: {name}: command not found");
                Err(ExitCode::from(exit::NOT_FOUND))
            }
        }
    }

    fn is_executable(p: &Path) -> bool {
        let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: NUL-terminated path.
        unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
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
            Format::Json => {
                let json =
                    serde_json::to_string_pretty(&sandbox.profile_json()).expect("plan serializes");
                format!("{json}\n")
            }
        };
        match exit::print(&text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        }
    }
}
