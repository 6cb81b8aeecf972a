//! The Landlock backend's plan ([`compile`]) and the embedding type [`LandlockSandbox`].

use crate::host::probe::{self, Capabilities};
use crate::host::sockets::{self, Mechanism};
use crate::landlock::launch::Launch;
use crate::landlock::mountns::{self, MountPlan};
use crate::landlock::ruleset::{self, RulesetPlan};
use crate::seccomp::{self, SeccompPlan};
use crate::{LinuxError, Options};
use sandbox_core::{Capability, Degradation, NetworkPolicy, ResolvedPolicy, UnixSockets};
use serde::Serialize;
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything the Landlock backend will enforce, as a printable value.
#[derive(Clone, Debug, Serialize)]
pub struct LandlockPlan {
    pub backend: &'static str,
    /// The policy's name (`workspace-write`, `profile NAME`).
    pub policy: String,
    /// Nothing is applied (`danger-full-access`).
    pub unrestricted: bool,
    pub landlock: Option<RulesetPlan>,
    /// Private mount namespace steps; `None` when no namespace can be made here.
    pub mounts: Option<MountPlan>,
    /// The mount namespace is made inside a new user namespace (not running as root).
    pub user_namespace: bool,
    pub seccomp: Option<SeccompPlan>,
    pub no_new_privs: bool,
    /// Inherited fds above 2 are marked close-on-exec.
    pub close_inherited_fds: bool,
    /// Every capability is dropped, bounding set included (a root command runs powerless).
    pub drop_capabilities: bool,
    /// How host unix sockets the policy closes are kept out of reach.
    pub unix_sockets: Mechanism,
    /// A network namespace of the command's own with only loopback (`loopback` and `proxy`
    /// network modes); in proxy mode the launcher serves the egress proxy on a listener made
    /// there ([`LandlockGuard::take_proxy_listener`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_network: Option<crate::netns::PrivateNetwork>,
    /// Gaps accepted with `best_effort`; empty otherwise.
    pub degradations: Vec<Degradation>,
    /// Warnings for the user that are not degradations, one line each (a deny glob scanned only
    /// to `glob_scan_max_depth`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn unsupported(feature: &str, why: String, hint: &str) -> LinuxError {
    LinuxError::Unsupported {
        feature: feature.into(),
        why,
        hint: hint.into(),
    }
}

const DEGRADE_HINT: &str =
    "pass --best-effort to run with this gap (printed as a warning), or use --backend bwrap";

/// Compiles `policy` for the Landlock backend on a host with `caps`. `terminals` are the
/// caller's terminal devices (see [`ruleset::compile`]).
pub fn compile(
    policy: &ResolvedPolicy,
    caps: &Capabilities,
    opts: &Options,
    terminals: &[PathBuf],
) -> Result<LandlockPlan, LinuxError> {
    if policy.unrestricted {
        return Ok(LandlockPlan {
            backend: "landlock",
            policy: policy.description.clone(),
            unrestricted: true,
            landlock: None,
            mounts: None,
            user_namespace: false,
            seccomp: None,
            no_new_privs: false,
            close_inherited_fds: false,
            drop_capabilities: false,
            unix_sockets: Mechanism::NotNeeded,
            private_network: None,
            degradations: Vec::new(),
            warnings: Vec::new(),
        });
    }
    let Some(abi) = caps.landlock_abi else {
        return Err(unsupported(
            "landlock",
            "the kernel offers no Landlock (needs Linux 5.13+ with `landlock` in the active LSM list)"
                .into(),
            "enable Landlock (boot parameter lsm=…,landlock), or use --backend bwrap where user namespaces work",
        ));
    };
    if !caps.seccomp {
        return Err(unsupported(
            "seccomp",
            "the kernel has no seccomp filter support".into(),
            "use a kernel built with CONFIG_SECCOMP_FILTER",
        ));
    }
    let mut gaps: Vec<Degradation> = Vec::new();
    let mut policy_eff = policy.clone();
    // loopback and proxy modes: a network namespace of the command's own, made in the same
    // child as the mount namespace (so it needs one: a user namespace when not root).
    let private_network = match policy.network {
        NetworkPolicy::Loopback => Some(crate::netns::PrivateNetwork { proxy_port: None }),
        NetworkPolicy::Proxy { .. } => Some(crate::netns::PrivateNetwork {
            proxy_port: Some(crate::netns::PROXY_PORT),
        }),
        _ => None,
    };
    if private_network.is_some() && !caps.mount_namespace {
        let (feature, mode) = if policy.network == NetworkPolicy::Loopback {
            (Capability::LoopbackOnly, "loopback")
        } else {
            (Capability::AllowlistEgress, "proxy")
        };
        policy_eff.network = NetworkPolicy::Off;
        gaps.push(Degradation::new(
            feature,
            format!(
                "the {mode} network mode needs a private network namespace, which cannot be made here (user namespaces blocked?): network is off instead"
            ),
        ));
    }
    let unix_mechanism = if !sockets::needed(policy) {
        Mechanism::NotNeeded
    } else if abi >= 9 && policy.unix_sockets != UnixSockets::All {
        Mechanism::LandlockResolveUnix
    } else if caps.mount_namespace {
        Mechanism::MountMask
    } else {
        Mechanism::Unavailable
    };
    let mut ll = ruleset::compile(&policy_eff, abi, terminals);
    if ll.scoped.bits == 0 {
        gaps.push(Degradation::new(
            Capability::SignalScope,
            format!(
                "Landlock ABI {abi} cannot scope signals and abstract unix sockets (needs ABI 6, Linux 6.12+)"
            ),
        ));
    }
    let expansion = crate::deny_globs::expand(
        &policy.deny_globs,
        &crate::deny_globs::ExpandOptions {
            max_depth: policy.glob_scan_max_depth,
            ..Default::default()
        },
    )
    .map_err(|e| unsupported("filesystem.deny_read", e.to_string(), e.hint()))?;
    let mount_plan = mountns::compile(&policy_eff, &expansion.matches);
    let mounts = if caps.mount_namespace {
        gaps.extend(mount_plan.unenforceable.iter().cloned());
        Some(mount_plan)
    } else {
        let why = "no private mount namespace can be made here (user namespaces blocked?)";
        if !policy.protected_paths().is_empty() {
            gaps.push(Degradation::new(
                Capability::ProtectedSubpaths,
                format!("protected subpaths (.git, .codex, …) stay writable: {why}"),
            ));
        }
        // No private /dev either: Landlock alone keeps the host's out of reach.
        if crate::landlock::private_dev::compile(&policy_eff).is_some() {
            ruleset::keep_out_of_host_dev(&mut ll, &root_entries());
        }
        if let Some(r) = mountns::carved_read_rules(policy).first() {
            gaps.push(Degradation::new(
                Capability::ReadPaths,
                format!(
                    "read rules inside writable roots ({}, …) stay writable: {why}",
                    r.path.display()
                ),
            ));
        }
        gaps.push(Degradation::new(
            Capability::Metadata,
            format!("chmod, chown, utime, setxattr and truncate outside the writable roots are not blocked: {why}"),
        ));
        if mount_plan.steps.iter().any(|s| {
            matches!(
                s,
                mountns::MountStep::MaskDir { .. } | mountns::MountStep::MaskFile { .. }
            )
        }) {
            gaps.push(Degradation::new(
                Capability::DenyRead,
                format!("denied paths under readable trees stay readable: {why}"),
            ));
        }
        gaps.extend(
            mount_plan
                .unenforceable
                .iter()
                .filter(|d| {
                    d.capability != Capability::ProtectedCreate
                        || policy.protected_paths().is_empty()
                })
                .cloned(),
        );
        None
    };
    if unix_mechanism == Mechanism::Unavailable {
        gaps.push(Degradation::new(
            Capability::UnixSocketPaths,
            "host unix sockets cannot be closed here (no private mount namespace, Landlock \
             ABI below 9): unix sockets other than socketpair are refused instead, and a \
             datagram socketpair can still send to host sockets",
        ));
    }
    if !opts.best_effort {
        if let Some(Degradation {
            capability, detail, ..
        }) = gaps.first()
        {
            let more = match gaps.len() {
                1 => String::new(),
                n => format!(" (and {} more gap(s))", n - 1),
            };
            let hint = if *capability == Capability::UnixSocketPaths {
                crate::error::UNIX_SOCKET_PATHS_HINT
            } else {
                DEGRADE_HINT
            };
            return Err(unsupported(
                capability.key(),
                format!("{detail}{more}"),
                hint,
            ));
        }
    }
    Ok(LandlockPlan {
        backend: "landlock",
        policy: policy.description.clone(),
        unrestricted: false,
        landlock: Some(ll),
        mounts,
        user_namespace: caps.mount_namespace && !caps.root,
        seccomp: Some(seccomp::compile_with(
            &policy_eff,
            unix_mechanism == Mechanism::Unavailable,
        )?),
        no_new_privs: true,
        close_inherited_fds: true,
        drop_capabilities: true,
        unix_sockets: unix_mechanism,
        private_network: private_network.filter(|_| caps.mount_namespace),
        degradations: gaps,
        warnings: expansion.warnings(),
    })
}

/// The entries of `/` on this host.
fn root_entries() -> Vec<PathBuf> {
    std::fs::read_dir("/")
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// Adds a [`mountns::MountStep::MaskSocket`] step, after every other step, for each host
/// socket in `sockets` (canonical paths, [`sockets::scan`]) that `policy` closes.
pub fn mask_host_sockets(plan: &mut LandlockPlan, policy: &ResolvedPolicy, sockets: &[PathBuf]) {
    if let Some(m) = plan.mounts.as_mut() {
        m.steps.extend(
            sockets::closed(policy, sockets)
                .into_iter()
                .map(|path| mountns::MountStep::MaskSocket { path }),
        );
    }
}

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

impl LandlockPlan {
    /// True when the run may hold placeholder mount targets for protected paths (made by
    /// this run for missing ones, or left by a concurrent run for existing ones), which must
    /// be removed after the command exits: the caller has to outlive it. (The CLI waits for
    /// every restricted run anyway, to forward signals and kill what the command leaves.)
    pub fn needs_cleanup(&self) -> bool {
        self.mounts.as_ref().is_some_and(|m| {
            m.steps.iter().any(|s| {
                matches!(
                    s,
                    mountns::MountStep::Placeholder { .. }
                        | mountns::MountStep::Protect { .. }
                        | mountns::MountStep::MaskPlaceholder { .. }
                )
            })
        })
    }
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
        })
    }

    /// What will be enforced.
    pub fn plan(&self) -> &LandlockPlan {
        &self.plan
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
        let launch = Arc::new(Launch::prepare(&self.plan, true)?);
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
