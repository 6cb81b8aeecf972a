//! Diagnosing a host that refuses bwrap: the trial runs (user namespace, sandbox, `/proc`)
//! made only after bwrap failed ([`diagnose_exit`]) or for `sandbox doctor` ([`BwrapProbe`]),
//! reading its stderr into a [`Diagnosis`] with the way out, and the test hooks that force a
//! refusal.

use super::error::{Diagnosis, LaunchError};
use super::features::{find_bwrap, probe_features};
use crate::bwrap::plan::BwrapFeatures;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Test hook: when set to `1`, the user-namespace probe reports the refusal an Ubuntu 24.04
/// host gives (`setting up uid map: Permission denied`) without running bwrap, so tests can
/// show the diagnosis and the backend choice on a host where namespaces work.
#[doc(hidden)]
pub const FORCE_NO_USERNS_ENV: &str = "SANDBOX_TEST_FORCE_NO_USERNS";

/// Test hook: when set to `1`, the `/proc` preflight reports that the host refuses to mount
/// procfs (as in a container with a masked `/proc`), to exercise the degradation path.
#[doc(hidden)]
pub const FORCE_NO_PROC_ENV: &str = "SANDBOX_TEST_FORCE_NO_PROC";

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

/// Runs a tiny bwrap with the namespaces the plan uses; `Err` explains a refusal.
/// Honours [`FORCE_NO_USERNS_ENV`].
pub fn probe_userns(bwrap: &Path, hints: &HostHints) -> Result<(), LaunchError> {
    if crate::test_hooks::forced(FORCE_NO_USERNS_ENV) {
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
    if crate::test_hooks::forced(FORCE_NO_USERNS_ENV) {
        return probe_userns(bwrap, hints).map(|_| false);
    }
    let forced_no_proc = crate::test_hooks::forced(FORCE_NO_PROC_ENV);
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
#[doc(hidden)]
pub fn forced_refusal() -> Option<LaunchError> {
    let forced = crate::test_hooks::forced(FORCE_NO_USERNS_ENV);
    if !forced {
        return None;
    }
    probe_userns(Path::new("/nonexistent/bwrap"), &HostHints::read()).err()
}

/// Whether [`FORCE_NO_PROC_ENV`] is set.
#[doc(hidden)]
pub fn forced_no_proc() -> bool {
    crate::test_hooks::forced(FORCE_NO_PROC_ENV)
}

/// Whether a fresh `/proc` can be mounted (fails in containers with a masked `/proc`).
pub fn probe_proc(bwrap: &Path) -> Result<bool, LaunchError> {
    if crate::test_hooks::forced(FORCE_NO_PROC_ENV) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
