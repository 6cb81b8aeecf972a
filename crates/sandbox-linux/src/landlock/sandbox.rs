//! [`LandlockSandbox`]: the Landlock backend's embedding type (probe, compile, apply to a
//! `Command` or `exec` in place) and the per-command [`LandlockGuard`].

use super::plan::{compile, mask_host_sockets, LandlockPlan};
use crate::host::probe::{self, Capabilities};
use crate::host::sockets::{self, Mechanism};
use crate::landlock::launch::Launch;
use crate::{LinuxError, Options};
use sandbox_core::ResolvedPolicy;
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Terminal devices of fds 0–2, so the command can reopen its terminal.
fn caller_terminals() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for fd in 0..3 {
        let mut buf = [0u8; 256];
        // SAFETY: ttyname_r writes a NUL-terminated name of at most buf.len() bytes.
        let rc = unsafe { libc::ttyname_r(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let len = buf.iter().position(|&b| b == 0).unwrap_or(0);
            let p = PathBuf::from(std::ffi::OsStr::from_bytes(&buf[..len]));
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// A compiled Landlock sandbox, ready to apply to commands.
///
/// Each [`LandlockSandbox::apply`] returns a [`LandlockGuard`] that owns that command's
/// resources (ruleset fd, placeholders for missing protected paths): keep it until the
/// command has exited. Construction probes the host and may fork: call it off an async
/// runtime's worker threads (e.g. in `spawn_blocking`).
///
/// ```no_run
/// use sandbox_core::{PolicyBuilder, Preset};
/// use sandbox_linux::{Options, LandlockSandbox};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policy = PolicyBuilder::new(Preset::WorkspaceWrite)
///     .cwd("/work/repo")
///     .writable_root("/home/me/.cache/cargo")
///     .build()?;
/// let sandbox = LandlockSandbox::new(&policy, Options::default())?;
/// let mut cmd = std::process::Command::new("cargo");
/// cmd.arg("test").current_dir("/work/repo");
/// let guard = sandbox.apply(&mut cmd)?; // installs the pre_exec step: Landlock, seccomp, mounts
/// let status = cmd.status()?; // the caller keeps control of stdio, env and waiting
/// drop(guard); // after the command has exited
/// println!("{status}; enforced: {:#?}", sandbox.plan());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct LandlockSandbox {
    plan: LandlockPlan,
    caps: Capabilities,
    opts: Options,
    /// The policy the plan was compiled from: each command closes the host sockets bound
    /// since construction too ([`LandlockSandbox::apply`]).
    policy: ResolvedPolicy,
}

/// What one command started from [`LandlockSandbox::apply`] holds: the prepared ruleset,
/// the setup-report pipe and the placeholder locks. Keep it until that command (and every
/// process it started) has exited; dropping it removes the placeholders made for it.
#[derive(Debug, Default)]
pub struct LandlockGuard(Option<Arc<Launch>>);

impl LandlockGuard {
    /// After `spawn` failed: the sandbox setup step that failed in the child, if that was
    /// the cause (otherwise the error came from `exec` itself).
    pub fn setup_failure(&self) -> Option<crate::landlock::launch::StepError> {
        self.0.as_ref().and_then(|l| l.child_failure())
    }

    /// In `proxy` mode, after the command was spawned: the listener made inside the
    /// command's network namespace, on which the caller serves the egress proxy
    /// (`sandbox_egress::Proxy`). Until it does, the command has no way out at all.
    pub fn take_proxy_listener(&self) -> Option<std::net::TcpListener> {
        self.0.as_ref().and_then(|l| l.take_proxy_listener())
    }
}

impl LandlockSandbox {
    /// Probes this host (forking short trials for the namespaces) and compiles `policy`;
    /// fails closed unless `opts.best_effort`. Every refusal happens here, before any launch.
    pub fn new(policy: &ResolvedPolicy, opts: Options) -> Result<LandlockSandbox, LinuxError> {
        LandlockSandbox::with_capabilities(policy, &probe::probe(), opts)
    }

    /// Like [`LandlockSandbox::new`], but the mount namespace answer may come from a per-user marker
    /// instead of a forked trial ([`probe::probe_for_launch`]), saving two forks per launch.
    /// When a launch then fails in the namespace step
    /// ([`crate::landlock::launch::StepError::is_namespace_setup`]), nothing has run, and the caller
    /// continues with [`LandlockSandbox::without_mount_namespace`]. The CLI uses this.
    pub fn for_launch(
        policy: &ResolvedPolicy,
        opts: Options,
    ) -> Result<LandlockSandbox, LinuxError> {
        LandlockSandbox::with_capabilities(policy, &probe::probe_for_launch().0, opts)
    }

    /// After a launch failed at the namespace step: forgets the remembered namespace answer
    /// and compiles `policy` (the one this sandbox was made from) again for a host without a
    /// mount namespace, so the result is exactly what a fresh probe gives there: a refusal
    /// naming the missing feature, or with `best_effort` a plan listing the degradations.
    pub fn without_mount_namespace(
        &self,
        policy: &ResolvedPolicy,
    ) -> Result<LandlockSandbox, LinuxError> {
        probe::forget_mount_namespace();
        let mut caps = self.caps.clone();
        caps.mount_namespace = false;
        caps.user_namespace = false;
        LandlockSandbox::with_capabilities(policy, &caps, self.opts.clone())
    }

    /// Like [`LandlockSandbox::new`] with already probed capabilities.
    pub fn with_capabilities(
        policy: &ResolvedPolicy,
        caps: &Capabilities,
        opts: Options,
    ) -> Result<LandlockSandbox, LinuxError> {
        // The placeholder records stay out of the command's reach, whoever resolved `policy`.
        let policy = &*crate::placeholder::records::protected(policy).map_err(|e| {
            LinuxError::Platform(format!("{}: {e}", crate::placeholder::records::REASON))
        })?;
        let mut plan = compile(policy, caps, &opts, &caller_terminals())?;
        if plan.unix_sockets == Mechanism::MountMask {
            let sockets = sockets::scan().map_err(|e| {
                LinuxError::os("reading the host's unix sockets (/proc/net/unix)", e)
            })?;
            mask_host_sockets(&mut plan, policy, &sockets);
        }
        Ok(LandlockSandbox {
            plan,
            caps: caps.clone(),
            opts,
            policy: policy.clone(),
        })
    }

    /// What will be enforced.
    pub fn plan(&self) -> &LandlockPlan {
        &self.plan
    }

    /// The plan with the host sockets bound since construction closed too: a sandbox made
    /// once serves many commands, and for each the launch is now, not construction.
    fn plan_now(&self) -> Result<std::borrow::Cow<'_, LandlockPlan>, LinuxError> {
        use std::borrow::Cow;
        let Some(m) = self.plan.mounts.as_ref() else {
            return Ok(Cow::Borrowed(&self.plan));
        };
        if self.plan.unix_sockets != Mechanism::MountMask {
            return Ok(Cow::Borrowed(&self.plan));
        }
        let known: std::collections::HashSet<&Path> = m
            .steps
            .iter()
            .filter_map(|s| match s {
                crate::landlock::mountns::MountStep::MaskSocket { path } => Some(path.as_path()),
                _ => None,
            })
            .collect();
        let fresh: Vec<PathBuf> = sockets::scan()
            .map_err(|e| LinuxError::os("reading the host's unix sockets (/proc/net/unix)", e))?
            .into_iter()
            .filter(|p| !known.contains(p.as_path()))
            .collect();
        if sockets::closed(&self.policy, &fresh).is_empty() {
            return Ok(Cow::Borrowed(&self.plan));
        }
        let mut plan = self.plan.clone();
        mask_host_sockets(&mut plan, &self.policy, &fresh);
        Ok(Cow::Owned(plan))
    }

    /// Makes `cmd` start sandboxed: installs a `pre_exec` hook. The Landlock ruleset and all
    /// buffers are built now; the hook itself only makes raw syscalls. The child also gets
    /// `PR_SET_PDEATHSIG(SIGKILL)`: it dies when the *thread* that spawned it exits (spawn
    /// from a long-lived thread; tokio's blocking-pool threads end after idling).
    ///
    /// Keep the returned guard until every process of the command has exited: dropping it
    /// removes the placeholders for missing protected names, and a process still running
    /// inside could then create them (the CLI kills what the command left behind first).
    pub fn apply(&self, cmd: &mut std::process::Command) -> Result<LandlockGuard, LinuxError> {
        if self.plan.unrestricted {
            return Ok(LandlockGuard(None));
        }
        let plan = self.plan_now()?;
        self.apply_plan(&plan, cmd)
    }

    /// [`LandlockSandbox::apply`] without the second look at the host's sockets, for a
    /// launcher that starts the command right after construction.
    pub(crate) fn apply_at_launch(
        &self,
        cmd: &mut std::process::Command,
    ) -> Result<LandlockGuard, LinuxError> {
        if self.plan.unrestricted {
            return Ok(LandlockGuard(None));
        }
        self.apply_plan(&self.plan, cmd)
    }

    fn apply_plan(
        &self,
        plan: &LandlockPlan,
        cmd: &mut std::process::Command,
    ) -> Result<LandlockGuard, LinuxError> {
        let launch = Arc::new(Launch::prepare(plan, true)?);
        let child = launch.clone();
        // SAFETY: the hook runs between fork and exec and only makes raw syscalls on data
        // prepared here (see Launch::enter); it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                child
                    .enter_child()
                    .map_err(|e| std::io::Error::from_raw_os_error(e.errno))
            });
        }
        Ok(LandlockGuard(Some(launch)))
    }

    /// Applies the sandbox to this process and `exec`s `program` (an explicit path) with
    /// `args` (`argv[0]` included) in place. Returns only on failure. The process must be
    /// single-threaded.
    ///
    /// Nothing is left to hold the placeholders ([`crate::placeholder`]) after the `exec`
    /// (their locks are close-on-exec: an fd of a placeholder would let the command write
    /// into the host directory under its read-only mount) nor to remove them afterwards.
    /// Other runs then leave them only while they find this process's mount over them in
    /// `/proc/PID/mountinfo` (not with `/proc` mounted `hidepid` for another user's run).
    /// The CLI `exec`s only unrestricted policies; prefer [`LandlockSandbox::apply`].
    pub fn exec(&self, program: &Path, args: &[OsString]) -> ExecError {
        let cstr = |s: &[u8]| {
            CString::new(s)
                .map_err(|_| ExecError::Setup(LinuxError::Platform("NUL byte in command".into())))
        };
        let prog = match cstr(program.as_os_str().as_bytes()) {
            Ok(p) => p,
            Err(e) => return e,
        };
        let mut argv = Vec::with_capacity(args.len());
        for a in args {
            match cstr(a.as_bytes()) {
                Ok(c) => argv.push(c),
                Err(e) => return e,
            }
        }
        let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        if !self.plan.unrestricted {
            let launch = match Launch::prepare(&self.plan, false) {
                Ok(l) => l,
                Err(e) => return ExecError::Setup(e),
            };
            if let Err(e) = launch.enter() {
                if e.is_namespace_setup() {
                    probe::forget_mount_namespace();
                    if e.step == "unshare" {
                        // Nothing about this process changed: the caller may go on without.
                        return ExecError::NoMountNamespace(e);
                    }
                }
                return ExecError::Setup(LinuxError::os(
                    e.step,
                    std::io::Error::from_raw_os_error(e.errno),
                ));
            }
        }
        // SAFETY: prog and the NULL-terminated argv point at live CStrings.
        unsafe { libc::execv(prog.as_ptr(), ptrs.as_ptr()) };
        ExecError::Exec(std::io::Error::last_os_error())
    }
}

/// Why [`LandlockSandbox::exec`] returned.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The sandbox could not be applied; nothing was run.
    #[error(transparent)]
    Setup(LinuxError),
    /// No mount namespace could be made (the remembered answer was wrong); this process is
    /// unchanged and nothing ran: continue with [`LandlockSandbox::without_mount_namespace`].
    #[error("private mount namespace: {0}")]
    NoMountNamespace(crate::landlock::launch::StepError),
    /// The sandbox is in place but `execv` failed (ENOENT, EACCES, ENOEXEC, …).
    #[error("exec: {0}")]
    Exec(std::io::Error),
}
