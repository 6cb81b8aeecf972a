//! `sandbox linux` and `sandbox profile linux`.

use crate::{exit, ProfileArgs};
use std::process::ExitCode;

#[cfg(target_os = "linux")]
pub use imp::{profile, run, run_landlock};

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
    use sandbox_core::TargetOs;
    use sandbox_linux::supervise::{exit_code, Forwarder};
    use sandbox_linux::{ExecError, LandlockPlan, LandlockSandbox, LinuxError, Options};
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

    /// `sandbox linux`: resolves the policy once, then runs it under the chosen backend.
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
        match a.backend {
            Backend::Bwrap => crate::linux_bwrap::run(&a, policy),
            Backend::Auto => crate::linux_bwrap::run_auto(&a, policy),
            Backend::Landlock => {
                if a.verbose {
                    exit::err!("sandbox: backend landlock: requested");
                }
                run_landlock(&a, policy)
            }
        }
    }

    /// Runs the command under Landlock + seccomp (+ a private mount namespace where possible).
    pub fn run_landlock(a: &crate::LinuxArgs, policy: sandbox_core::ResolvedPolicy) -> ExitCode {
        let opts = Options {
            best_effort: a.policy.best_effort,
        };
        let sandbox = match LandlockSandbox::for_launch(&policy, opts) {
            Ok(s) => s,
            Err(e) => return setup_error("linux", &e),
        };
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
            exit::warn(&format!("best effort: {}: {}", d.feature, d.what));
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
        if let Err(e) = sandbox.apply(&mut cmd) {
            return Launched::Done(setup_error("linux", &e));
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return match sandbox.setup_failure() {
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
            let served = match sandbox.take_proxy_listener() {
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

    pub fn profile(a: ProfileArgs) -> ExitCode {
        let policy = match a.policy.resolve(TargetOs::Linux) {
            Ok(p) => p,
            Err(code) => return code,
        };
        let bwrap = match a.backend {
            Backend::Bwrap => true,
            Backend::Landlock => false,
            Backend::Auto => crate::linux_bwrap::auto_prefers_bwrap(&policy),
        };
        if bwrap {
            return crate::linux_bwrap::profile(&a, policy);
        }
        let opts = Options {
            best_effort: a.policy.best_effort,
        };
        // The printed plan is what this host can do now: probed for real, not from the
        // launch marker (which a launch corrects only when it turns out wrong).
        let caps = sandbox_linux::host::probe::probe();
        let sandbox = match LandlockSandbox::with_capabilities(&policy, &caps, opts) {
            Ok(s) => s,
            Err(e) => return setup_error("profile linux", &e),
        };
        let text = match a.format {
            Format::Json => {
                let json = serde_json::to_string_pretty(sandbox.plan()).expect("plan serializes");
                format!("{json}\n")
            }
            Format::Text => render_text(sandbox.plan()),
        };
        match exit::print(&text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        }
    }

    /// The plan for humans: one section per layer.
    pub(crate) fn render_text(plan: &LandlockPlan) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "backend: {} (policy {})", plan.backend, plan.policy);
        if plan.unrestricted {
            let _ = writeln!(s, "unrestricted: no sandbox is applied");
            return s;
        }
        if let Some(ll) = &plan.landlock {
            let _ = writeln!(s, "landlock ABI {}", ll.abi);
            let _ = writeln!(s, "  handled fs: {}", ll.handled_fs.names().join(" "));
            let net = ll.handled_net.names();
            let _ = writeln!(
                s,
                "  handled net: {}",
                if net.is_empty() {
                    "none (network not restricted by Landlock)".to_string()
                } else {
                    format!("{} (no port allowed)", net.join(" "))
                }
            );
            let sc = ll.scoped.names();
            let _ = writeln!(
                s,
                "  scoped: {}",
                if sc.is_empty() {
                    "none".to_string()
                } else {
                    sc.join(" ")
                }
            );
            let _ = writeln!(s, "  rules:");
            for r in &ll.rules {
                let _ = writeln!(
                    s,
                    "    {}  [{}]  # {}",
                    r.path.display(),
                    r.access.names().join(" "),
                    r.why
                );
            }
        }
        match &plan.mounts {
            Some(m) => {
                let _ = writeln!(
                    s,
                    "mount and IPC namespaces{}:",
                    if plan.user_namespace {
                        " (inside a user namespace)"
                    } else {
                        ""
                    }
                );
                for step in &m.steps {
                    let line = match step {
                        sandbox_linux::landlock::mountns::MountStep::KeepWritable { path } => {
                            format!("keep writable {}", path.display())
                        }
                        sandbox_linux::landlock::mountns::MountStep::Pin { path } => {
                            format!(
                                "pin {} (cannot be renamed: leads to a protected or denied path)",
                                path.display()
                            )
                        }
                        sandbox_linux::landlock::mountns::MountStep::ReadOnlyBase => {
                            "remount every other mount read-only".to_string()
                        }
                        sandbox_linux::landlock::mountns::MountStep::Protect { path, reason } => {
                            format!("read-only {} ({reason})", path.display())
                        }
                        sandbox_linux::landlock::mountns::MountStep::Placeholder { path, reason } => {
                            format!(
                                "read-only empty placeholder {} ({reason}, missing; removed after the run)",
                                path.display()
                            )
                        }
                        sandbox_linux::landlock::mountns::MountStep::PrivateDev(d) => {
                            format!(
                                "private /dev: {} bound from the host, its own devpts (pts, ptmx), shm{}",
                                d.devices
                                    .iter()
                                    .filter_map(|p| p.file_name())
                                    .map(|n| n.to_string_lossy())
                                    .collect::<Vec<_>>()
                                    .join(" "),
                                d.keep
                                    .iter()
                                    .map(|p| format!(", writable {}", p.display()))
                                    .collect::<String>()
                            )
                        }
                        sandbox_linux::landlock::mountns::MountStep::PrivateTmpfs { path } => {
                            format!("private writable tmpfs on {}", path.display())
                        }
                        sandbox_linux::landlock::mountns::MountStep::MaskDir { path } => {
                            format!("mask directory {}", path.display())
                        }
                        sandbox_linux::landlock::mountns::MountStep::MaskFile { path } => {
                            format!("mask file {}", path.display())
                        }
                        sandbox_linux::landlock::mountns::MountStep::MaskPlaceholder { path } => {
                            format!(
                                "mask directory {} (denied, missing: an empty placeholder, removed after the run)",
                                path.display()
                            )
                        }
                        sandbox_linux::landlock::mountns::MountStep::Reexpose {
                            path,
                            mask,
                            read_only,
                            ..
                        } => format!(
                            "bind {} back over the mask of {}{}",
                            path.display(),
                            mask.display(),
                            if *read_only { ", read-only" } else { "" }
                        ),
                        sandbox_linux::landlock::mountns::MountStep::HoldLink { path } => format!(
                            "hold the symbolic link {} as it is (another user's, in a sticky directory)",
                            path.display()
                        ),
                        sandbox_linux::landlock::mountns::MountStep::MaskSocket { path } => {
                            format!("close host unix socket {}", path.display())
                        }
                    };
                    let _ = writeln!(s, "  {line}");
                }
            }
            None => {
                let _ = writeln!(s, "mount namespace: none");
            }
        }
        if let Some(n) = &plan.private_network {
            let _ = writeln!(
                s,
                "network namespace: private, loopback only{}",
                match n.proxy_port {
                    Some(p) =>
                        format!("; the launcher's egress proxy listens on 127.0.0.1:{p} inside it"),
                    None => String::new(),
                }
            );
        }
        if let Some(sc) = &plan.seccomp {
            let sum = &sc.summary;
            let _ = writeln!(
                s,
                "seccomp ({}, {} instructions{}):",
                sum.arch,
                sum.instructions,
                if sum.x32_refused { ", x32 refused" } else { "" }
            );
            let _ = writeln!(s, "  EPERM: {}", sum.denied.join(" "));
            for w in &sum.denied_when {
                let _ = writeln!(s, "  EPERM when {w}");
            }
            for l in &sum.limits {
                let _ = writeln!(s, "  limit: {l}");
            }
        }
        let _ = writeln!(
            s,
            "no_new_privs: {}; capabilities: {}; inherited fds above 2: {}",
            if plan.no_new_privs { "yes" } else { "no" },
            if plan.drop_capabilities {
                "all dropped"
            } else {
                "kept"
            },
            if plan.close_inherited_fds {
                "close-on-exec"
            } else {
                "kept"
            }
        );
        for w in &plan.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        for d in &plan.degradations {
            let _ = writeln!(s, "degraded: {}: {}", d.feature, d.what);
        }
        s
    }
}
