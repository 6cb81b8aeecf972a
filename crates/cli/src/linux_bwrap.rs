//! `sandbox linux --backend bwrap` and `sandbox profile linux --backend bwrap`: glue between the
//! flags and `sandbox_linux::{bwrap, bwrap_launch, glob_expand, select}`.

use crate::args::Format;
use crate::exit;
use sandbox_core::{PathKind, ResolvedPolicy};
use sandbox_linux::bwrap::{compile, BwrapFeatures, BwrapInput, BwrapPlan};
use sandbox_linux::glob_expand::{expand, DenyMatch, ExpandOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What is at a host path, without following a final symlink.
fn kind_of(p: &Path) -> PathKind {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => PathKind::Dir,
        Ok(_) => PathKind::File,
        Err(_) => PathKind::Missing,
    }
}

fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_none())
}

#[cfg(target_os = "linux")]
fn writable_paths(policy: &ResolvedPolicy) -> Vec<PathBuf> {
    policy
        .writable_roots
        .iter()
        .map(|r| r.path.clone())
        .collect()
}

/// Expands the deny globs, or prints the error and gives exit 125.
fn deny_matches(policy: &ResolvedPolicy) -> Result<Vec<DenyMatch>, ExitCode> {
    let opts = ExpandOptions {
        max_depth: policy.glob_scan_max_depth,
        ..ExpandOptions::default()
    };
    expand(&policy.deny_globs, &opts).map_err(|e| exit::fail_hint("deny-read", &e, e.hint()))
}

/// The seccomp program handed to bwrap on an fd: the same filter as the Landlock backend's.
#[cfg(target_os = "linux")]
fn seccomp_program(policy: &ResolvedPolicy) -> Result<Vec<u8>, ExitCode> {
    sandbox_linux::seccomp::compile(policy)
        .map(|p| p.to_bytes())
        .map_err(|e| exit::fail("seccomp", &e))
}

#[cfg(not(target_os = "linux"))]
fn seccomp_program(_policy: &ResolvedPolicy) -> Result<Vec<u8>, ExitCode> {
    Ok(Vec::new())
}

fn build_plan(
    policy: &ResolvedPolicy,
    matches: &[DenyMatch],
    features: &BwrapFeatures,
    program: &[u8],
    best_effort: bool,
) -> Result<BwrapPlan, ExitCode> {
    compile(&BwrapInput {
        policy,
        deny_matches: matches,
        features,
        seccomp_program: (!program.is_empty()).then_some(program),
        kind_of: &kind_of,
        is_empty_dir: &is_empty_dir,
        read_link: &|p: &Path| std::fs::read_link(p).ok(),
        best_effort,
    })
    .map_err(|e| exit::fail_hint("bwrap", &e, &e.hint()))
}

/// Runs the command under bubblewrap. Fails closed (125) with a diagnosis when bwrap is missing
/// or the host refuses user namespaces.
#[cfg(target_os = "linux")]
pub fn run(a: &crate::LinuxArgs, policy: ResolvedPolicy) -> ExitCode {
    use sandbox_linux::bwrap_launch::BwrapProbe;
    use std::os::unix::process::CommandExt;

    let command = &a.cmd.command;
    if policy.unrestricted {
        if a.verbose {
            eprintln!("sandbox: danger-full-access: running the command without a sandbox");
        }
        let e = std::process::Command::new(&command[0])
            .args(&command[1..])
            .exec();
        return command_error(&command[0], e);
    }
    let probe = BwrapProbe::run(&writable_paths(&policy));
    run_with(a, policy, probe, true)
}

/// Runs under bwrap with an existing probe (shared by `run` and `run_auto`).
#[cfg(target_os = "linux")]
fn run_with(
    a: &crate::LinuxArgs,
    policy: ResolvedPolicy,
    probe: sandbox_linux::bwrap_launch::BwrapProbe,
    announce: bool,
) -> ExitCode {
    use sandbox_linux::bwrap_launch::{check_command, launch, LaunchError, Outcome};
    let command = &a.cmd.command;
    let (Some(bin), Some(features)) = (probe.path.clone(), probe.features.clone()) else {
        let e = LaunchError::NotFound;
        return exit::fail_hint("bwrap", &e, &e.hint().unwrap_or_default());
    };
    if let Some(d) = &probe.userns_diagnosis {
        return exit::fail_hint("bwrap", d, &d.fix);
    }
    if let Err(e) = &probe.userns {
        return exit::fail("bwrap", e);
    }
    if a.verbose && announce {
        eprintln!(
            "sandbox: backend bwrap: bubblewrap {} at {} can create user namespaces",
            features.version.as_deref().unwrap_or("(unknown version)"),
            bin.display()
        );
    }
    let matches = match deny_matches(&policy) {
        Ok(m) => m,
        Err(code) => return code,
    };
    if a.verbose && !policy.deny_globs.is_empty() {
        eprintln!(
            "sandbox: deny globs masked {} existing paths; files created after launch are not covered on Linux",
            matches.len()
        );
    }
    let program = match seccomp_program(&policy) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let plan = match build_plan(&policy, &matches, &features, &program, a.policy.best_effort) {
        Ok(p) => p,
        Err(code) => return code,
    };
    for d in &plan.degradations {
        exit::warn(d);
    }
    if let Err(e) = check_command(&command[0], &policy.cwd) {
        eprintln!("sandbox: {e}");
        return ExitCode::from(match e {
            LaunchError::CommandNotExecutable(_) => exit::NOT_EXECUTABLE,
            _ => exit::NOT_FOUND,
        });
    }
    match launch(&bin, &plan, command) {
        Ok(Outcome::Exited(code)) => ExitCode::from(code),
        Err(e) => exit::fail("bwrap", &e),
    }
}

#[cfg(target_os = "linux")]
fn command_error(program: &std::ffi::OsStr, e: std::io::Error) -> ExitCode {
    eprintln!("sandbox: {}: {e}", program.to_string_lossy());
    ExitCode::from(match e.kind() {
        std::io::ErrorKind::NotFound => exit::NOT_FOUND,
        _ => exit::NOT_EXECUTABLE,
    })
}

/// `--backend auto`: bwrap when it can create namespaces, else Landlock, else refuse; the
/// reason is printed with `-v`.
#[cfg(target_os = "linux")]
pub fn run_auto(a: &crate::LinuxArgs, policy: ResolvedPolicy) -> ExitCode {
    use sandbox_linux::bwrap_launch::BwrapProbe;
    use sandbox_linux::select::{select, Backend, Requested};
    if policy.unrestricted {
        return run(a, policy);
    }
    let probe = BwrapProbe::run(&writable_paths(&policy));
    let facts = host_facts(&probe, sandbox_linux::probe::landlock_abi());
    match select(Requested::Auto, &facts) {
        Err(r) => exit::fail_hint("linux", &r, &r.hint),
        Ok(s) => {
            if a.verbose {
                eprintln!("sandbox: backend {}: {}", backend_name(s.backend), s.reason);
            }
            match s.backend {
                Backend::Bwrap => run_with(a, policy, probe, false),
                Backend::Landlock => crate::linux::run_landlock(a, policy),
            }
        }
    }
}

/// Whether `--backend auto` would choose bwrap for this policy on this host.
#[cfg(target_os = "linux")]
pub fn auto_prefers_bwrap(policy: &ResolvedPolicy) -> bool {
    use sandbox_linux::bwrap_launch::BwrapProbe;
    use sandbox_linux::select::{select, Backend, Requested};
    let probe = BwrapProbe::run(&writable_paths(policy));
    let facts = host_facts(&probe, sandbox_linux::probe::landlock_abi());
    matches!(select(Requested::Auto, &facts), Ok(s) if s.backend == Backend::Bwrap)
}

#[cfg(target_os = "linux")]
fn backend_name(b: sandbox_linux::select::Backend) -> &'static str {
    match b {
        sandbox_linux::select::Backend::Bwrap => "bwrap",
        sandbox_linux::select::Backend::Landlock => "landlock",
    }
}

/// `sandbox doctor --json` facts of the bwrap backend, plus which backend `auto` would choose
/// and why. `landlock_abi` comes from the Landlock probe.
#[cfg(target_os = "linux")]
pub fn doctor_facts(
    writable: &[PathBuf],
    landlock_abi: Option<u32>,
) -> Vec<(String, serde_json::Value)> {
    use sandbox_linux::bwrap_launch::BwrapProbe;
    use sandbox_linux::select::{select, Requested};
    let probe = BwrapProbe::run(writable);
    let mut v = probe.doctor_facts();
    let facts = host_facts(&probe, landlock_abi);
    match select(Requested::Auto, &facts) {
        Ok(s) => {
            v.push(("linux.auto_backend".into(), backend_name(s.backend).into()));
            v.push(("linux.auto_reason".into(), s.reason.into()));
        }
        Err(r) => {
            v.push(("linux.auto_backend".into(), serde_json::Value::Null));
            v.push(("linux.auto_reason".into(), r.reason.into()));
        }
    }
    v
}

#[cfg(not(target_os = "linux"))]
pub fn run_auto(a: &crate::LinuxArgs, policy: ResolvedPolicy) -> ExitCode {
    run(a, policy)
}

#[cfg(not(target_os = "linux"))]
pub fn run(_a: &crate::LinuxArgs, _policy: ResolvedPolicy) -> ExitCode {
    exit::fail("linux", &"the bwrap backend runs only on Linux")
}

/// The features of the local bwrap when there is one (version and flags only: printing a
/// profile starts no sandbox), else those of a current bwrap.
fn profile_features(_policy: &ResolvedPolicy) -> (Option<PathBuf>, BwrapFeatures) {
    #[cfg(target_os = "linux")]
    {
        use sandbox_linux::bwrap_launch::{find_bwrap, probe_features};
        let path = find_bwrap(
            std::env::var_os("PATH").as_deref(),
            &writable_paths(_policy),
        );
        if let Some(p) = &path {
            if let Ok(f) = probe_features(p) {
                return (path, f);
            }
        }
    }
    (None, BwrapFeatures::assumed())
}

/// Prints the plan `run` would execute, as text (one shell-quoted argument per line) or JSON.
pub fn profile(a: &crate::ProfileArgs, policy: ResolvedPolicy) -> ExitCode {
    let (path, features) = profile_features(&policy);
    let matches = match deny_matches(&policy) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let program = match seccomp_program(&policy) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let plan = match build_plan(&policy, &matches, &features, &program, a.policy.best_effort) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match a.format {
        Format::Text => {
            if let Some(p) = &path {
                println!("# bwrap: {}", p.display());
            }
            if !policy.deny_globs.is_empty() {
                println!(
                    "# deny globs: {} matching paths masked; files created after launch are not covered on Linux",
                    matches.len()
                );
            }
            print!("{}", plan.to_text());
        }
        Format::Json => {
            let v = serde_json::json!({
                "backend": "bwrap",
                "bwrap": path,
                "features": features,
                "deny_matches": matches,
                "plan": plan,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&v).expect("plan serializes")
            );
        }
    }
    ExitCode::SUCCESS
}

/// The facts backend selection needs, from a bwrap probe plus the Landlock ABI (probed by the
/// Landlock backend).
#[cfg(target_os = "linux")]
pub fn host_facts(
    probe: &sandbox_linux::bwrap_launch::BwrapProbe,
    landlock_abi: Option<u32>,
) -> sandbox_linux::select::HostFacts {
    sandbox_linux::select::HostFacts {
        bwrap: probe.path.as_ref().map(|p| {
            (
                p.display().to_string(),
                probe.features.as_ref().and_then(|f| f.version.clone()),
            )
        }),
        // The short cause reads better inside the selection reason than the full diagnosis.
        bwrap_userns: match &probe.userns_diagnosis {
            Some(d) => Err(d.cause.clone()),
            None => probe.userns.clone(),
        },
        landlock_abi,
    }
}
