//! Running a [`BwrapPlan`]: finding bwrap, learning its flags ([`cached_features`]), setting up
//! the fds the plan names, waiting for bwrap, cleaning up mount-point placeholders, and
//! diagnosing hosts that refuse user namespaces or a fresh `/proc` — after bwrap failed
//! ([`diagnose_exit`]) rather than before every run, so a launch costs one bwrap run.
//! [`BwrapProbe`] is the full probe (trial runs included) for `sandbox doctor`.
//!
//! With [`crate::host::cache`] and [`crate::BwrapSandbox`], the only part of the bwrap backend
//! that touches the host.

use crate::bwrap::plan::{BwrapFeatures, BwrapPlan, FdContent};
use crate::host::cache;
use crate::placeholder::Held;
use crate::supervise::{exit_code, Forwarder};
use std::ffi::{OsStr, OsString};
use std::io::{self, Write as _};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Test hook: when set to `1`, the user-namespace probe reports the refusal an Ubuntu 24.04
/// host gives (`setting up uid map: Permission denied`) without running bwrap, so tests can
/// show the diagnosis and the backend choice on a host where namespaces work.
pub const FORCE_NO_USERNS_ENV: &str = "SANDBOX_TEST_FORCE_NO_USERNS";

/// Test hook: when set to `1`, the `/proc` preflight reports that the host refuses to mount
/// procfs (as in a container with a masked `/proc`), to exercise the degradation path.
pub const FORCE_NO_PROC_ENV: &str = "SANDBOX_TEST_FORCE_NO_PROC";

/// Why bwrap cannot be used, or failed.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("bubblewrap (bwrap) is not installed: looked for /usr/bin/bwrap and in PATH (directories the sandbox can write are skipped)")]
    NotFound,
    #[error("{0}")]
    Userns(Diagnosis),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("{0}: command not found")]
    CommandNotFound(String),
    #[error("{0}: permission denied (not an executable file)")]
    CommandNotExecutable(String),
    /// The policy cannot be compiled for bwrap on this host.
    #[error(transparent)]
    Compile(#[from] crate::bwrap::plan::BwrapError),
    /// The deny-read globs could not be expanded.
    #[error(transparent)]
    DenyGlob(#[from] crate::deny_globs::ExpandError),
    /// The seccomp filter could not be built.
    #[error(transparent)]
    Seccomp(crate::LinuxError),
}

impl LaunchError {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> LaunchError {
        LaunchError::Io {
            what: what.into(),
            source,
        }
    }

    /// The way out, for the CLI's hint line.
    pub fn hint(&self) -> Option<String> {
        match self {
            LaunchError::NotFound => Some(
                "install bubblewrap (e.g. `apt-get install bubblewrap`), or use --backend landlock"
                    .into(),
            ),
            LaunchError::Userns(d) => Some(d.fix.clone()),
            LaunchError::Compile(e) => Some(e.hint()),
            LaunchError::DenyGlob(e) => Some(e.hint().into()),
            LaunchError::Seccomp(e) => e.hint().map(Into::into),
            _ => None,
        }
    }
}

/// A bwrap failure explained: what on this host caused it, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnosis {
    pub cause: String,
    pub fix: String,
    /// bwrap's own message.
    pub raw: String,
}

impl std::fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bwrap cannot create the sandbox's namespaces: {} (bwrap said: {})",
            self.cause, self.raw
        )
    }
}

/// Host settings that explain a namespace refusal, read from `/proc/sys` and container markers.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct HostHints {
    /// `kernel.apparmor_restrict_unprivileged_userns` (Ubuntu 23.10+).
    pub apparmor_restrict_userns: Option<bool>,
    /// `kernel.unprivileged_userns_clone` (Debian's older switch).
    pub unprivileged_userns_clone: Option<bool>,
    /// `user.max_user_namespaces`.
    pub max_user_namespaces: Option<u64>,
    /// Running inside a container (Docker, Podman, …).
    pub in_container: bool,
}

impl HostHints {
    /// Reads the hints from this host.
    pub fn read() -> HostHints {
        let flag = |p: &str| {
            std::fs::read_to_string(p)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
        };
        let cgroup = std::fs::read_to_string("/proc/1/cgroup").unwrap_or_default();
        HostHints {
            apparmor_restrict_userns: flag(
                "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            )
            .map(|v| v != 0),
            unprivileged_userns_clone: flag("/proc/sys/kernel/unprivileged_userns_clone")
                .map(|v| v != 0),
            max_user_namespaces: flag("/proc/sys/user/max_user_namespaces"),
            in_container: Path::new("/.dockerenv").exists()
                || Path::new("/run/.containerenv").exists()
                || cgroup.contains("docker")
                || cgroup.contains("kubepods")
                || cgroup.contains("libpod"),
        }
    }
}

/// Explains bwrap's stderr when it shows a namespace restriction; `None` for other failures.
pub fn diagnose(stderr: &str, hints: &HostHints) -> Option<Diagnosis> {
    let known = [
        "setting up uid map",
        "RTM_NEWADDR",
        "RTM_NEWLINK",
        "No permissions to create a new namespace",
        "Creating new namespace failed",
        "unshare",
    ];
    let line = stderr
        .lines()
        .find(|l| known.iter().any(|k| l.contains(k)))?
        .trim()
        .to_string();
    let (cause, fix) = if hints.apparmor_restrict_userns == Some(true) {
        (
            "AppArmor restricts unprivileged user namespaces on this host (kernel.apparmor_restrict_unprivileged_userns=1)".to_string(),
            "allow bwrap an AppArmor userns profile (Ubuntu ships /etc/apparmor.d/bwrap-userns-restrict; load it with `apparmor_parser -r`), or `sysctl kernel.apparmor_restrict_unprivileged_userns=0`, or use --backend landlock".to_string(),
        )
    } else if hints.unprivileged_userns_clone == Some(false) {
        (
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0)".into(),
            "`sysctl kernel.unprivileged_userns_clone=1`, or use --backend landlock".into(),
        )
    } else if hints.max_user_namespaces == Some(0) {
        (
            "user namespaces are disabled (user.max_user_namespaces=0)".into(),
            "`sysctl user.max_user_namespaces=15000`, or use --backend landlock".into(),
        )
    } else if hints.in_container {
        (
            "this container's seccomp profile or capabilities forbid creating namespaces".into(),
            "run the container with a seccomp profile that allows unshare/clone of namespaces (e.g. Docker `--security-opt seccomp=unconfined`), or use --backend landlock".into(),
        )
    } else {
        (
            "the kernel or a security module refused to create a user namespace".into(),
            "check `sysctl kernel.apparmor_restrict_unprivileged_userns user.max_user_namespaces` and the kernel log, or use --backend landlock".into(),
        )
    };
    Some(Diagnosis {
        cause,
        fix,
        raw: line,
    })
}

/// The bwrap binary to use: `/usr/bin/bwrap` if it is there, else the first `bwrap` in `PATH`
/// whose directory is not inside any path the sandbox can write (a planted binary there would
/// run outside the sandbox with our privileges). Relative `PATH` entries are skipped, and so is
/// any candidate (`/usr/bin/bwrap` included) whose file, links followed, lies inside a path the
/// sandbox can write: the command could replace it and the next launch would run unsandboxed.
pub fn find_bwrap(path_var: Option<&OsStr>, writable: &[PathBuf]) -> Option<PathBuf> {
    let outside = |cand: &Path| {
        std::fs::canonicalize(cand).is_ok_and(|real| !writable.iter().any(|w| real.starts_with(w)))
    };
    let system = Path::new("/usr/bin/bwrap");
    if is_executable(system) && outside(system) {
        return Some(system.to_path_buf());
    }
    let path_var = path_var?;
    for dir in std::env::split_paths(path_var) {
        if !dir.is_absolute() {
            continue;
        }
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        if writable.iter().any(|w| dir.starts_with(w)) {
            continue;
        }
        let cand = dir.join("bwrap");
        if is_executable(&cand) && outside(&cand) {
            return Some(cand);
        }
    }
    None
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Reads bwrap's version and the flags the compiler cares about from `--version` and `--help`.
pub fn probe_features(bwrap: &Path) -> Result<BwrapFeatures, LaunchError> {
    let version = Command::new(bwrap)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LaunchError::io(format!("running {} --version", bwrap.display()), e))?;
    let help = Command::new(bwrap)
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LaunchError::io(format!("running {} --help", bwrap.display()), e))?;
    let help =
        String::from_utf8_lossy(&help.stdout).into_owned() + &String::from_utf8_lossy(&help.stderr);
    Ok(features_from(
        &String::from_utf8_lossy(&version.stdout),
        &help,
    ))
}

/// The features of `bwrap`: from the per-user cache ([`crate::host::cache`]) when it holds an
/// entry for this exact binary, else probed (two short bwrap runs) and stored for next time.
pub fn cached_features(bwrap: &Path) -> Result<BwrapFeatures, LaunchError> {
    let key = cache::identity(bwrap).ok();
    let dir = key.as_ref().and_then(|_| cache::cache_dir());
    if let (Some(dir), Some(key)) = (&dir, &key) {
        if let Some(f) = dir.load(key) {
            return Ok(f);
        }
    }
    fresh_features(bwrap)
}

/// The features of `bwrap` asked of the binary itself (two short bwrap runs), stored in the
/// per-user cache for next time. Also what to do when a cached answer makes a policy refused:
/// the cache can lie in `/tmp`, which a sandboxed command may write.
pub fn fresh_features(bwrap: &Path) -> Result<BwrapFeatures, LaunchError> {
    let key = cache::identity(bwrap).ok();
    let f = probe_features(bwrap)?;
    if let Some(key) = &key {
        // Only when the binary did not change while it was probed.
        if cache::identity(bwrap).ok().as_ref() == Some(key) {
            if let Some(dir) = cache::cache_dir() {
                dir.store(key, &f);
            }
        }
    }
    Ok(f)
}

/// Parses `bwrap --version` and `bwrap --help` output (pure, for tests).
pub fn features_from(version_out: &str, help: &str) -> BwrapFeatures {
    let has = |flag: &str| {
        help.lines()
            .any(|l| l.split_whitespace().next() == Some(flag))
    };
    BwrapFeatures {
        version: version_out.split_whitespace().nth(1).map(|v| v.to_string()),
        perms: has("--perms"),
        cap_drop: has("--cap-drop"),
        seccomp: has("--seccomp"),
        ro_bind_data: has("--ro-bind-data"),
        proc_mount: true,
    }
}

/// Runs a tiny bwrap with the namespaces the plan uses; `Err` explains a refusal.
/// Honours [`FORCE_NO_USERNS_ENV`].
pub fn probe_userns(bwrap: &Path, hints: &HostHints) -> Result<(), LaunchError> {
    if std::env::var_os(FORCE_NO_USERNS_ENV).is_some_and(|v| v == "1") {
        let simulated = "bwrap: setting up uid map: Permission denied (simulated by SANDBOX_TEST_FORCE_NO_USERNS=1)";
        let d = diagnose(simulated, hints).expect("the simulated message is a namespace refusal");
        return Err(LaunchError::Userns(d));
    }
    let (ok, stderr) = run_probe(bwrap, TRIAL_NAMESPACES)?;
    if ok {
        return Ok(());
    }
    Err(refusal(&stderr, hints))
}

/// The namespaces of every plan, over a read-only root: what the trial runs set up.
const TRIAL_NAMESPACES: &[&str] = &[
    "--unshare-user",
    "--unshare-pid",
    "--unshare-net",
    "--ro-bind",
    "/",
    "/",
];

/// A trial run's failure as a diagnosis: the known namespace causes, else the raw message.
fn refusal(stderr: &str, hints: &HostHints) -> LaunchError {
    LaunchError::Userns(diagnose(stderr, hints).unwrap_or_else(|| Diagnosis {
        cause: "bwrap failed to start a trivial sandbox".into(),
        fix: "run `bwrap --unshare-user --unshare-pid --unshare-net --ro-bind / / true` to see why, or use --backend landlock".into(),
        raw: stderr.trim().to_string(),
    }))
}

/// One trivial sandbox with every namespace the plan uses and a fresh `/proc`: `Ok(true)` when
/// it works, `Ok(false)` when only the `/proc` mount is refused, `Err` with the diagnosis when
/// namespaces are refused. Costs one bwrap run in the common case.
pub fn probe_sandbox(bwrap: &Path, hints: &HostHints) -> Result<bool, LaunchError> {
    if std::env::var_os(FORCE_NO_USERNS_ENV).is_some_and(|v| v == "1") {
        return probe_userns(bwrap, hints).map(|_| false);
    }
    let forced_no_proc = std::env::var_os(FORCE_NO_PROC_ENV).is_some_and(|v| v == "1");
    if !forced_no_proc {
        let args: Vec<&str> = TRIAL_NAMESPACES
            .iter()
            .copied()
            .chain(["--proc", "/proc"])
            .collect();
        let (ok, stderr) = run_probe(bwrap, &args)?;
        if ok {
            return Ok(true);
        }
        if !stderr.contains("Can't mount proc") {
            return Err(refusal(&stderr, hints));
        }
    }
    probe_userns(bwrap, hints).map(|_| false)
}

/// What the trial runs say about a bwrap that exited with status 1.
#[derive(Debug)]
pub enum Verdict {
    /// bwrap can set up the sandbox here: the 1 was the command's own status.
    Works,
    /// Namespaces work but the host refuses a fresh `/proc`.
    NoProc,
    /// bwrap cannot create the sandbox's namespaces here, so nothing ran.
    Refused(LaunchError),
}

/// After bwrap exited with status 1 (its status for any setup failure, but also a common
/// status of commands): trial runs decide whether bwrap could have set up the sandbox at all.
/// Costs one short bwrap run in the common case. A probe that cannot even start bwrap says
/// nothing, so it counts as [`Verdict::Works`].
pub fn diagnose_exit(bwrap: &Path) -> Verdict {
    match probe_sandbox(bwrap, &HostHints::read()) {
        Ok(true) => Verdict::Works,
        Ok(false) => Verdict::NoProc,
        Err(e @ LaunchError::Userns(_)) => Verdict::Refused(e),
        Err(_) => Verdict::Works,
    }
}

/// The refusal [`FORCE_NO_USERNS_ENV`] simulates, when it is set.
pub fn forced_refusal() -> Option<LaunchError> {
    let forced = std::env::var_os(FORCE_NO_USERNS_ENV).is_some_and(|v| v == "1");
    if !forced {
        return None;
    }
    probe_userns(Path::new("/nonexistent/bwrap"), &HostHints::read()).err()
}

/// Whether [`FORCE_NO_PROC_ENV`] is set.
pub fn forced_no_proc() -> bool {
    std::env::var_os(FORCE_NO_PROC_ENV).is_some_and(|v| v == "1")
}

/// Whether a fresh `/proc` can be mounted (fails in containers with a masked `/proc`).
pub fn probe_proc(bwrap: &Path) -> Result<bool, LaunchError> {
    if std::env::var_os(FORCE_NO_PROC_ENV).is_some_and(|v| v == "1") {
        return Ok(false);
    }
    let out = run_probe(
        bwrap,
        &[
            "--unshare-user",
            "--unshare-pid",
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
        ],
    )?;
    Ok(out.0 || !out.1.contains("Can't mount proc"))
}

fn run_probe(bwrap: &Path, args: &[&str]) -> Result<(bool, String), LaunchError> {
    let truth = ["/usr/bin/true", "/bin/true"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("/bin/true");
    let out = Command::new(bwrap)
        .args(args)
        .arg("--")
        .arg(truth)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .map_err(|e| LaunchError::io(format!("running {}", bwrap.display()), e))?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Everything learned about bwrap on this host by running it (for `sandbox doctor`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct BwrapProbe {
    pub path: Option<PathBuf>,
    pub features: Option<BwrapFeatures>,
    /// `Ok` when a user namespace (with PID and network namespaces) can be created.
    pub userns: Result<(), String>,
    #[serde(skip)]
    pub userns_diagnosis: Option<Diagnosis>,
    pub hints: HostHints,
}

impl BwrapProbe {
    /// Finds and probes bwrap. `writable` are the paths the sandbox may write (excluded from the
    /// `PATH` search).
    pub fn run(writable: &[PathBuf]) -> BwrapProbe {
        let hints = HostHints::read();
        let path = find_bwrap(std::env::var_os("PATH").as_deref(), writable);
        let Some(bin) = path.clone() else {
            return BwrapProbe {
                path,
                features: None,
                userns: Err(LaunchError::NotFound.to_string()),
                userns_diagnosis: None,
                hints,
            };
        };
        let mut features = probe_features(&bin).ok();
        let (userns, diag) = match probe_sandbox(&bin, &hints) {
            Ok(proc_mount) => {
                if let Some(f) = features.as_mut() {
                    f.proc_mount = proc_mount;
                }
                (Ok(()), None)
            }
            Err(LaunchError::Userns(d)) => (Err(d.to_string()), Some(d)),
            Err(e) => (Err(e.to_string()), None),
        };
        BwrapProbe {
            path,
            features,
            userns,
            userns_diagnosis: diag,
            hints,
        }
    }

    /// Whether the bwrap backend can run here.
    pub fn usable(&self) -> bool {
        self.path.is_some() && self.features.is_some() && self.userns.is_ok()
    }

    /// The bwrap facts for `sandbox doctor --json`, as `(key, value)` pairs.
    pub fn doctor_facts(&self) -> Vec<(String, serde_json::Value)> {
        use serde_json::Value;
        let f = self.features.as_ref();
        vec![
            (
                "bwrap.path".into(),
                self.path
                    .as_ref()
                    .map(|p| Value::String(p.display().to_string()))
                    .unwrap_or(Value::Null),
            ),
            (
                "bwrap.version".into(),
                f.and_then(|f| f.version.clone())
                    .map(Value::String)
                    .unwrap_or(Value::Null),
            ),
            ("bwrap.userns".into(), Value::Bool(self.userns.is_ok())),
            (
                "bwrap.userns_error".into(),
                self.userns
                    .as_ref()
                    .err()
                    .map(|e| Value::String(e.clone()))
                    .unwrap_or(Value::Null),
            ),
            (
                "bwrap.proc_mount".into(),
                Value::Bool(f.is_some_and(|f| f.proc_mount) && self.userns.is_ok()),
            ),
            (
                "bwrap.seccomp_fd".into(),
                Value::Bool(f.is_some_and(|f| f.seccomp)),
            ),
            ("process.pid_namespace".into(), Value::Bool(self.usable())),
        ]
    }
}

/// Checks that the command can be executed, the way `execvp` inside the sandbox will look for it,
/// so that "not found" and "not executable" give the shell's 127 and 126 rather than bwrap's 1.
pub fn check_command(program: &OsStr, cwd: &Path) -> Result<(), LaunchError> {
    let shown = program.to_string_lossy().into_owned();
    if program.is_empty() {
        return Err(LaunchError::CommandNotFound(shown));
    }
    let candidates: Vec<PathBuf> = if program.as_bytes().contains(&b'/') {
        vec![cwd.join(program)]
    } else {
        let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
        std::env::split_paths(&path)
            .map(|d| cwd.join(d).join(program))
            .collect()
    };
    let mut found_non_exec = false;
    for c in candidates {
        match std::fs::metadata(&c) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return Ok(()),
            Ok(_) => found_non_exec = true,
            Err(_) => {}
        }
    }
    if found_non_exec {
        Err(LaunchError::CommandNotExecutable(shown))
    } else {
        Err(LaunchError::CommandNotFound(shown))
    }
}

/// Runs `command` under `plan` with the bwrap at `bwrap`, waits for it and returns the exit
/// code to pass on: the command's (bwrap passes it through), or `128+N` when bwrap died of
/// signal N.
///
/// Every fd above 2 that this process inherited is marked close-on-exec first, and the plan's
/// fds are placed at their numbers (this takes over those fd numbers in the calling process, so
/// it is meant for the CLI, not for a library caller). The placeholders of
/// [`BwrapPlan::host_stubs`] are registered before bwrap starts and released after it exits.
///
/// This process waits rather than `exec`ing bwrap so that a failure can be diagnosed and stubs
/// removed. The wait is cheap: no helper thread and no `pre_exec` hook (so the standard library
/// can use `posix_spawn`); signals are forwarded to bwrap as [`crate::supervise`] describes.
pub fn launch(bwrap: &Path, plan: &BwrapPlan, command: &[OsString]) -> Result<u8, LaunchError> {
    launch_with(bwrap, plan, command, false, None)
}

/// [`launch`], with two options:
/// - `scope_abstract`: bwrap starts inside a Landlock domain that scopes abstract unix sockets
///   ([`crate::bwrap::abstract_scope`]; a `pre_exec` hook: only then is `posix_spawn` given up);
/// - `on_start`: bwrap waits (`--block-fd`) until `on_start` has run with the pid of its
///   sandbox process (`--info-fd`); see [`crate::bwrap::gate`].
pub fn launch_with(
    bwrap: &Path,
    plan: &BwrapPlan,
    command: &[OsString],
    scope_abstract: bool,
    on_start: Option<&mut crate::bwrap::gate::OnStart<'_>>,
) -> Result<u8, LaunchError> {
    let (program, rest) = command
        .split_first()
        .ok_or_else(|| LaunchError::CommandNotFound(String::new()))?;
    mark_inherited_cloexec();
    // Placed without close-on-exec, so bwrap inherits exactly these.
    let placed = place_plan_fds(plan)?;
    let min_fd = plan.fds.iter().map(|f| f.fd + 1).max().unwrap_or(3);
    let mut gate = match &on_start {
        Some(_) => Some(
            crate::bwrap::gate::StartGate::new(min_fd)
                .map_err(|e| LaunchError::io("creating bwrap's start gate", e))?,
        ),
        None => None,
    };

    // bwrap's --info-fd names its PID namespace's init, through which signals reach the
    // command ([`Forwarder::supervise_bwrap`]). Made after the plan fds are placed, so it
    // cannot take their numbers; only the write end is inherited. With a start gate, the
    // gate reads it and gives the pid.
    let (info_read, info_write) = match &gate {
        Some(_) => (None, None),
        None => {
            let (r, w) = info_pipe()?;
            (Some(r), Some(w))
        }
    };
    let mut cmd = Command::new(bwrap);
    cmd.args(&plan.args);
    // One --info-fd: the start gate's when there is one (it hands the pid on), else our own.
    match (&gate, &info_write) {
        (Some(g), _) => {
            cmd.args(g.args());
        }
        (None, Some(w)) => {
            cmd.arg("--info-fd").arg(w.as_raw_fd().to_string());
        }
        (None, None) => {}
    }
    cmd.arg("--").arg(program).args(rest);
    // A process group of its own: the terminal's Ctrl-C reaches this process only, which
    // passes it to the command instead of letting it kill bwrap (and with it the command,
    // before the command's own handler could run).
    cmd.process_group(0);
    if scope_abstract {
        // Made after the plan's fds are placed, so its number is none of theirs.
        let scope = match crate::bwrap::abstract_scope::AbstractScope::new() {
            Ok(s) => s,
            Err(e) => {
                close_placed(&placed);
                return Err(LaunchError::Seccomp(e));
            }
        };
        // SAFETY: the hook runs between fork and exec and only makes raw syscalls on a
        // ruleset fd made before the fork.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                scope.enter().map_err(io::Error::from_raw_os_error)
            });
        }
    }
    // Before the placeholders exist: from here on SIGTERM/SIGHUP cannot kill this process
    // before it has removed them. A reaper, because bwrap killed during its setup orphans a
    // process that never exits on its own.
    let mut forwarder = Forwarder::install_reaper();
    // After the plan fds are placed, so the placeholders' fds cannot take their numbers. The
    // placeholders exist (locked) before bwrap starts, so bwrap mounts over them.
    let mut held = Vec::new();
    for p in &plan.host_stubs {
        match Held::acquire(p) {
            Ok(Some(h)) => held.push(h),
            Ok(None) => {}
            Err(e) => return Err(LaunchError::io(format!("placeholder {}", p.display()), e)),
        }
    }
    let spawned = cmd.spawn();
    close_placed(&placed);
    drop(info_write);
    if let Some(g) = &mut gate {
        g.close_child_ends();
    }
    let mut child =
        spawned.map_err(|e| LaunchError::io(format!("executing {}", bwrap.display()), e))?;
    let mut init = None;
    if let (Some(mut g), Some(hook)) = (gate, on_start) {
        // No pid: bwrap failed before making the sandbox, and its status says why.
        let started = match g.child_pid() {
            Ok(Some(pid)) => {
                init = Some(pid);
                hook(pid).and_then(|()| g.open().map_err(|e| e.to_string()))
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = started {
            let _ = child.kill();
            let _ = child.wait();
            forwarder.kill_orphans();
            return Err(LaunchError::io(
                "starting the sandbox's network",
                io::Error::other(e),
            ));
        }
    }
    let status = forwarder.supervise_bwrap(&mut child, info_read, init);
    // bwrap killed, or failing (1), during its setup leaves its sandbox process waiting for
    // it forever; kill that before the placeholders go. A normal end leaves none stuck (the
    // sandbox's init may still be exiting; it is reparented here and needs nothing).
    if status
        .as_ref()
        .map_or(true, |s| s.signal().is_some() || s.code() == Some(1))
    {
        forwarder.kill_orphans();
    }
    drop(held);
    drop(forwarder);
    let status =
        status.map_err(|e| LaunchError::io(format!("waiting for {}", bwrap.display()), e))?;
    Ok(exit_code(status).unwrap_or(1))
}

/// A pipe for bwrap's `--info-fd`: the read end close-on-exec, the write end inheritable.
fn info_pipe() -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd), LaunchError> {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(LaunchError::io("pipe", io::Error::last_os_error()));
    }
    // SAFETY: fresh fds from pipe2, owned here; F_SETFD clears close-on-exec on the write end.
    unsafe {
        libc::fcntl(fds[1], libc::F_SETFD, 0);
        Ok((
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        ))
    }
}

/// Marks every fd above 2 close-on-exec, so nothing the caller leaked reaches the command.
fn mark_inherited_cloexec() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags; no memory is involved.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return;
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<RawFd> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd > 2)
            .collect();
        for fd in fds {
            // SAFETY: F_SETFD on a possibly-closed fd only fails with EBADF.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

/// Opens each fd the plan names at its exact number, inheritable, and returns the numbers.
fn place_plan_fds(plan: &BwrapPlan) -> Result<Vec<RawFd>, LaunchError> {
    let Some(max) = plan.fds.iter().map(|f| f.fd).max() else {
        return Ok(Vec::new());
    };
    raise_nofile(max as u64 + 64);
    // First open every source above all target numbers, so placing one never closes another.
    let mut sources = Vec::with_capacity(plan.fds.len());
    {
        let devnull = std::fs::File::open("/dev/null")
            .map_err(|e| LaunchError::io("opening /dev/null", e))?;
        for f in &plan.fds {
            let high = match &f.content {
                FdContent::Empty => dup_at_least(&devnull, max + 1)?,
                FdContent::Dir { path } => dup_at_least(&open_no_links(path)?, max + 1)?,
                FdContent::Seccomp { program, .. } => {
                    dup_at_least(&seccomp_memfd(program)?, max + 1)?
                }
            };
            sources.push((high, f.fd));
        }
    }
    let mut placed = Vec::with_capacity(sources.len());
    for (high, target) in sources {
        // SAFETY: dup2 onto a target number; whatever was there is ours to replace (inherited
        // fds are close-on-exec and unused by this process, and every source is above `max`).
        // The high source is closed right after.
        let r = unsafe { libc::dup2(high, target) };
        let e = io::Error::last_os_error();
        // SAFETY: `high` was made by dup_at_least and is owned here.
        unsafe { libc::close(high) };
        if r < 0 {
            close_placed(&placed);
            return Err(LaunchError::io(format!("placing fd {target}"), e));
        }
        placed.push(target);
    }
    Ok(placed)
}

/// Opens a writable root for `--bind-fd` ([`FdContent::Dir`]): `O_PATH`, with no symbolic
/// link followed anywhere on the way (the path is canonical, so a link there was swapped in
/// after the policy was checked, by a concurrent command renaming directories in a shared
/// writable root).
fn open_no_links(path: &std::path::Path) -> Result<std::os::fd::OwnedFd, LaunchError> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        LaunchError::io(
            format!("opening {}", path.display()),
            io::ErrorKind::InvalidInput.into(),
        )
    })?;
    let fd = crate::landlock::launch::open_no_symlinks(&c, true);
    if fd < 0 {
        let e = io::Error::last_os_error();
        let what = if e.raw_os_error() == Some(libc::ELOOP) {
            format!(
                "opening writable root {} (a symbolic link is on its way now, not when the \
                 policy was checked: another process replaced a directory; refusing)",
                path.display()
            )
        } else {
            format!("opening writable root {}", path.display())
        };
        return Err(LaunchError::io(what, e));
    }
    // SAFETY: a fresh fd from openat2, owned from here on.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// Closes the fds placed for bwrap once it has them.
fn close_placed(placed: &[RawFd]) {
    for &fd in placed {
        // SAFETY: these numbers were placed by place_plan_fds and belong to this function's
        // caller alone.
        unsafe { libc::close(fd) };
    }
}

fn dup_at_least(src: &impl std::os::fd::AsRawFd, min: RawFd) -> Result<RawFd, LaunchError> {
    // SAFETY: F_DUPFD_CLOEXEC creates a new fd; the source stays owned by the caller.
    let r = unsafe { libc::fcntl(src.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    if r < 0 {
        return Err(LaunchError::io(
            "duplicating an fd",
            io::Error::last_os_error(),
        ));
    }
    Ok(r)
}

fn seccomp_memfd(program: &[u8]) -> Result<std::os::fd::OwnedFd, LaunchError> {
    use std::io::Seek;
    use std::os::fd::FromRawFd;
    // SAFETY: memfd_create with a static NUL-terminated name returns a new fd or -1.
    let fd = unsafe { libc::memfd_create(c"sandbox-seccomp".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(LaunchError::io(
            "creating the seccomp memfd",
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: `fd` was just created and is owned by nobody else.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(program)
        .and_then(|_| file.seek(io::SeekFrom::Start(0)).map(|_| ()))
        .map_err(|e| LaunchError::io("writing the seccomp program", e))?;
    Ok(file.into())
}

fn raise_nofile(needed: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write/read the local struct only.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < needed {
            lim.rlim_cur = needed.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writable root is opened for `--bind-fd` only when no symbolic link lies on its
    /// path: a directory swapped for a link after the checks would otherwise hand bwrap the
    /// link's target.
    #[test]
    fn a_writable_root_behind_a_link_is_not_opened() {
        let t = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(t.path()).unwrap();
        std::fs::create_dir(base.join("real")).unwrap();
        std::os::unix::fs::symlink(base.join("real"), base.join("link")).unwrap();
        for through in [base.join("link"), base.join("link/.")] {
            let e = open_no_links(&through).unwrap_err().to_string();
            assert!(e.contains("symbolic link"), "{e}");
        }
        open_no_links(&base.join("real")).unwrap();
    }

    #[test]
    fn parses_help_and_version() {
        let help = "usage: bwrap [OPTIONS...]\n    --perms OCTAL   Set permissions\n    --seccomp FD   Load\n    --cap-drop CAP  Drop\n";
        let f = features_from("bubblewrap 0.8.0\n", help);
        assert_eq!(f.version.as_deref(), Some("0.8.0"));
        assert!(f.perms && f.seccomp && f.cap_drop);
        assert!(!f.ro_bind_data);
    }

    #[test]
    fn diagnoses_apparmor_restriction() {
        let hints = HostHints {
            apparmor_restrict_userns: Some(true),
            ..Default::default()
        };
        let d = diagnose("bwrap: setting up uid map: Permission denied\n", &hints).unwrap();
        assert!(d
            .cause
            .contains("kernel.apparmor_restrict_unprivileged_userns"));
        assert!(d.fix.contains("--backend landlock"));
        assert_eq!(d.raw, "bwrap: setting up uid map: Permission denied");
    }

    #[test]
    fn diagnoses_container_seccomp() {
        let hints = HostHints {
            in_container: true,
            ..Default::default()
        };
        let d = diagnose(
            "bwrap: No permissions to create a new namespace, likely because the kernel does not allow non-privileged user namespaces.",
            &hints,
        )
        .unwrap();
        assert!(d.cause.contains("container"), "{}", d.cause);
        let d = diagnose(
            "bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted",
            &hints,
        )
        .unwrap();
        assert!(d.fix.contains("seccomp"));
    }

    #[test]
    fn other_failures_are_not_namespace_diagnoses() {
        assert!(diagnose("bwrap: execvp foo: No such file", &HostHints::default()).is_none());
    }

    #[test]
    fn path_search_skips_writable_dirs() {
        let d = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(d.path()).unwrap();
        let fake = dir.join("bwrap");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let found = find_bwrap(Some(dir.as_os_str()), std::slice::from_ref(&dir));
        assert_ne!(found.as_deref(), Some(fake.as_path()));
        if !Path::new("/usr/bin/bwrap").exists() {
            assert_eq!(find_bwrap(Some(dir.as_os_str()), &[]), Some(fake));
        }
    }

    #[test]
    fn a_bwrap_linked_into_a_writable_dir_is_skipped() {
        let d = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(d.path()).unwrap();
        let (bin, writable) = (base.join("bin"), base.join("w"));
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&writable).unwrap();
        let real = writable.join("bwrap");
        std::fs::write(&real, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink(&real, bin.join("bwrap")).unwrap();
        let found = find_bwrap(Some(bin.as_os_str()), std::slice::from_ref(&writable));
        assert_ne!(found.as_deref(), Some(bin.join("bwrap").as_path()));
        // /usr/bin/bwrap inside a writable root is skipped too.
        let found = find_bwrap(None, &[PathBuf::from("/usr")]);
        assert_eq!(found, None);
    }
}
