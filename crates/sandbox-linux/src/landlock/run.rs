//! Running a command to completion under the Landlock backend the way a launcher (the
//! `sandbox` binary) does, like [`crate::BwrapSandbox::run_gated`] for bwrap: the program is
//! found on `PATH` as `execvp` would (not found: 127, not executable: 126), started as a
//! supervised child (signals forwarded, whatever it leaves running killed, its status passed
//! on as `128+N` for signal N), and a wrong remembered mount-namespace answer is corrected
//! with nothing run twice. Only an unrestricted policy with nothing to wait for `exec`s in
//! place.
//!
//! It installs process-wide signal handlers and the child-subreaper flag while the command
//! runs ([`crate::supervise`]): meant for launchers, not for a library caller, which uses
//! [`LandlockSandbox::apply`] instead.

use super::launch::StepError;
use super::sandbox::{ExecError, LandlockSandbox};
use crate::supervise::{exit_code, Forwarder};
use crate::LinuxError;
use sandbox_core::{Degradation, ResolvedPolicy};
use std::ffi::OsString;
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// What the launcher adds to a run.
pub struct RunHooks<'a> {
    /// Each degradation the plan accepted (`--best-effort`), before the command starts.
    pub warn: &'a mut dyn FnMut(&Degradation),
    /// `-v` lines (the unix-socket mechanism, a namespace retry).
    pub verbose: Option<&'a mut dyn FnMut(&str)>,
    /// `proxy` network mode: serves the egress proxy on the listener made inside the
    /// command's network namespace (the command waits for nothing: until this returns, it
    /// simply has no way out).
    pub serve_proxy: Option<&'a mut dyn FnMut(TcpListener) -> Result<(), String>>,
    /// This process must outlive the command even where an `exec` in place would do (the
    /// post-run git check).
    pub wait: bool,
}

/// Why a run did not give the command's status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The command name is empty.
    #[error("empty command name")]
    EmptyName,
    /// Not found on `PATH` (127).
    #[error("{0}: command not found")]
    NotFound(String),
    /// Found, but not executable (126).
    #[error("{}: permission denied", .0.display())]
    NotExecutable(PathBuf),
    /// `exec` failed after the sandbox was in place (127 for `ENOENT`, else 126).
    #[error("{program}: {source}")]
    Exec {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// The sandbox could not be prepared (nothing ran).
    #[error(transparent)]
    Setup(LinuxError),
    /// A step of the sandbox setup failed in the child or before `exec` (nothing ran).
    #[error(transparent)]
    ApplySetup(LinuxError),
    /// A step of the sandbox setup failed in the child.
    #[error("{0}")]
    Step(StepError),
    /// No private network namespace for the `proxy` mode could be made after all.
    #[error(
        "the proxy network mode needs a private network namespace, which could not be made here"
    )]
    NoNetworkNamespace,
    /// No private mount namespace could be made even on the second attempt.
    #[error("no private mount namespace could be made ({0})")]
    NoMountNamespace(StepError),
    /// The egress proxy could not be served.
    #[error("{0}")]
    Proxy(String),
    /// Waiting for the command failed.
    #[error("{0}")]
    Wait(std::io::Error),
}

impl RunError {
    /// The exit code a launcher returns for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::EmptyName | RunError::NotFound(_) => 127,
            RunError::NotExecutable(_) => 126,
            RunError::Exec { source, .. } if source.raw_os_error() == Some(libc::ENOENT) => 127,
            RunError::Exec { .. } => 126,
            _ => 125,
        }
    }
}

/// How one attempt ended.
enum Attempt {
    Done(u8),
    /// The private mount namespace could not be made and nothing ran.
    NoMountNamespace(Box<LandlockSandbox>, StepError),
}

impl LandlockSandbox {
    /// Runs `command` (program and arguments) to completion and returns the exit code to
    /// pass on. The calling process's working directory is the command's. See the module
    /// docs for what this does to the calling process.
    pub fn run(
        self,
        policy: &ResolvedPolicy,
        command: &[OsString],
        hooks: &mut RunHooks<'_>,
    ) -> Result<u8, RunError> {
        let program = command.first().ok_or(RunError::EmptyName)?;
        let path = find_program(program)?;
        let args = command;
        if hooks.serve_proxy.is_some() {
            // The proxy runs in this process: wait for the command instead of exec'ing it.
            return match supervised(self, &path, args, hooks)? {
                Attempt::Done(code) => Ok(code),
                Attempt::NoMountNamespace(..) => Err(RunError::NoNetworkNamespace),
            };
        }
        let (sandbox, _) = match attempt(self, &path, args, hooks)? {
            Attempt::Done(code) => return Ok(code),
            Attempt::NoMountNamespace(s, e) => (s, e),
        };
        // The remembered namespace answer was wrong and nothing ran: continue exactly as a
        // host without a mount namespace (refuse, or degrade with best_effort).
        let retry = sandbox.without_mount_namespace(policy);
        // Placeholders made for the first attempt are removed now: exec runs no destructors.
        drop(sandbox);
        match attempt(retry.map_err(RunError::Setup)?, &path, args, hooks)? {
            Attempt::Done(code) => Ok(code),
            Attempt::NoMountNamespace(_, e) => Err(RunError::NoMountNamespace(e)),
        }
    }
}

/// Reports the plan's degradations and runs the command: supervised, unless the policy is
/// unrestricted and nothing has to wait for it (then `exec` in place).
fn attempt(
    sandbox: LandlockSandbox,
    path: &Path,
    args: &[OsString],
    hooks: &mut RunHooks<'_>,
) -> Result<Attempt, RunError> {
    for d in &sandbox.plan().degradations {
        (hooks.warn)(d);
    }
    if let Some(v) = hooks.verbose.as_mut() {
        if !sandbox.plan().unrestricted {
            v(&sockets_line(&sandbox));
        }
    }
    if !sandbox.plan().unrestricted || hooks.wait {
        return supervised(sandbox, path, args, hooks);
    }
    match sandbox.exec(path, args) {
        ExecError::Setup(e) => Err(RunError::ApplySetup(e)),
        ExecError::Exec(e) => Err(exec_error(&args[0], e)),
        ExecError::NoMountNamespace(e) => {
            if let Some(v) = hooks.verbose.as_mut() {
                v(&format!("no private mount namespace after all ({e})"));
            }
            Ok(Attempt::NoMountNamespace(Box::new(sandbox), e))
        }
    }
}

/// `-v`: how host unix sockets and abstract sockets are kept out.
fn sockets_line(sandbox: &LandlockSandbox) -> String {
    let plan = sandbox.plan();
    let closed = plan.mounts.as_ref().map_or(0, |m| {
        m.steps
            .iter()
            .filter(|s| matches!(s, super::mountns::MountStep::MaskSocket { .. }))
            .count()
    });
    let scoped = plan
        .landlock
        .as_ref()
        .is_some_and(|l| l.scoped.bits & 1 != 0);
    format!(
        "unix sockets: {} ({closed} host socket(s) closed); abstract sockets: {}",
        plan.unix_sockets.name(),
        if scoped {
            "landlock abstract-unix scope"
        } else {
            "not enforced (degraded)"
        }
    )
}

/// Runs the command as a child and waits, so the placeholders made for missing protected
/// paths can be removed afterwards; signals are forwarded as [`crate::supervise`] describes
/// (the child shares this process group, so a terminal's Ctrl-C reaches it directly), and
/// processes the command leaves behind are killed when it exits (as bwrap's PID namespace
/// does). The child also dies with this thread (`PR_SET_PDEATHSIG`).
fn supervised(
    sandbox: LandlockSandbox,
    path: &Path,
    args: &[OsString],
    hooks: &mut RunHooks<'_>,
) -> Result<Attempt, RunError> {
    // Before `apply` makes the placeholders, so a SIGTERM cannot leave them behind. A reaper:
    // whatever the command leaves running is killed before the placeholders go, since
    // removing one would lift the read-only mount over it for a process still inside, which
    // could then create the protected name.
    let mut forwarder = Forwarder::install_reaper();
    let mut cmd = std::process::Command::new(path);
    cmd.arg0(&args[0]).args(&args[1..]);
    let guard = sandbox.apply_at_launch(&mut cmd).map_err(RunError::Setup)?;
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return match guard.setup_failure() {
                // The child failed before exec: this process is unchanged.
                Some(step) if step.is_namespace_setup() => {
                    drop(cmd);
                    drop(guard);
                    Ok(Attempt::NoMountNamespace(Box::new(sandbox), step))
                }
                Some(step) => Err(RunError::Step(step)),
                None => Err(exec_error(&args[0], e)),
            };
        }
    };
    // Proxy mode: serve the listener the child made in its network namespace.
    if let Some(serve) = hooks.serve_proxy.as_mut() {
        let served = match guard.take_proxy_listener() {
            Some(l) => serve(l),
            None => Err("the sandbox passed no proxy listener".to_string()),
        };
        if let Err(e) = served {
            let _ = child.kill();
            let _ = child.wait();
            forwarder.kill_orphans();
            return Err(RunError::Proxy(e));
        }
    }
    let status = forwarder.supervise(&mut child);
    forwarder.kill_orphans();
    // The placeholders go with the guard; signals stay forwarded until they are gone.
    drop(cmd);
    drop(guard);
    drop(sandbox);
    drop(forwarder);
    let status = status.map_err(RunError::Wait)?;
    // A status is either an exit code or a signal; 125 only if the kernel ever said neither.
    Ok(Attempt::Done(exit_code(status).unwrap_or(125)))
}

fn exec_error(program: &OsString, source: std::io::Error) -> RunError {
    RunError::Exec {
        program: program.to_string_lossy().into_owned(),
        source,
    }
}

/// Finds `program` like `execvp`: a name with a `/` is used as is, otherwise the first
/// executable file of that name on `PATH`.
fn find_program(program: &OsString) -> Result<PathBuf, RunError> {
    if program.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(program));
    }
    if program.is_empty() {
        return Err(RunError::EmptyName);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
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
        Some(p) => Err(RunError::NotExecutable(p)),
        None => Err(RunError::NotFound(program.to_string_lossy().into_owned())),
    }
}

fn is_executable(p: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}
