//! Runs a command under `/usr/bin/sandbox-exec` (macOS only): exec in place for the CLI,
//! [`Sandbox::apply`] for the library, and denial collection through `log stream`.

use crate::profile::{compile, CompileError, CompileOptions, SeatbeltPlan};
use sandbox_core::ResolvedPolicy;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LaunchError {
    #[error("{0}: command not found")]
    NotFound(String),
    #[error("{0}: not executable")]
    NotExecutable(String),
    #[error("no command given")]
    Empty,
    #[error("cannot start {what}: {err}")]
    Spawn { what: String, err: std::io::Error },
}

impl LaunchError {
    /// The exit status `sandbox` reports for this failure (DESIGN.md §5).
    pub fn exit_code(&self) -> u8 {
        match self {
            LaunchError::NotFound(_) => 127,
            LaunchError::NotExecutable(_) => 126,
            _ => 125,
        }
    }
}

/// The status the CLI exits with: the command's own code, or `128 + N` for signal `N`.
pub fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(s)) => 128u8.saturating_add(s as u8),
        _ => 125,
    }
}

/// The log stream predicate for Seatbelt violation reports.
const LOG_PREDICATE: &str =
    "(senderImagePath CONTAINS[c] \"sandbox\") AND (eventMessage CONTAINS \"deny(\")";

/// One command about to run under a plan.
pub struct Launch<'a> {
    pub plan: &'a SeatbeltPlan,
    pub command: &'a [OsString],
}

impl Launch<'_> {
    /// Finds the program the way `execvp` would, so a missing or non-executable command is
    /// reported as 127/126 before the sandbox starts.
    pub fn check_command(&self) -> Result<(), LaunchError> {
        let prog = self.command.first().ok_or(LaunchError::Empty)?;
        let shown = prog.to_string_lossy().into_owned();
        let candidates: Vec<PathBuf> = if Path::new(prog).components().count() > 1 {
            vec![PathBuf::from(prog)]
        } else {
            std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).map(|d| d.join(prog)).collect())
                .unwrap_or_default()
        };
        use std::os::unix::fs::PermissionsExt;
        let mut found = false;
        for c in candidates {
            if let Ok(m) = std::fs::metadata(&c) {
                found = true;
                if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                    return Ok(());
                }
            }
        }
        Err(if found {
            LaunchError::NotExecutable(shown)
        } else {
            LaunchError::NotFound(shown)
        })
    }

    fn command(&self) -> Command {
        let argv = self.plan.argv(self.command);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd
    }

    /// Replaces this process with `sandbox-exec` (same pid, native signals and status).
    /// Returns only on failure.
    pub fn exec(&self) -> LaunchError {
        LaunchError::Spawn {
            what: self.plan.argv(self.command)[0]
                .to_string_lossy()
                .into_owned(),
            err: self.command().exec(),
        }
    }

    /// Runs the command while `log stream` (started outside the sandbox) records violations;
    /// returns the status and the denial lines of the command's process group.
    pub fn run_logging_denials(&self) -> Result<(ExitStatus, Vec<String>), LaunchError> {
        let mut log = Command::new("/usr/bin/log")
            .args(["stream", "--style", "compact", "--predicate", LOG_PREDICATE])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| LaunchError::Spawn {
                what: "/usr/bin/log stream".into(),
                err,
            })?;
        // Drain the stream on a thread so a full pipe never stalls `log`.
        let mut stdout = log.stdout.take();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(out) = stdout.as_mut() {
                let _ = out.read_to_string(&mut text);
            }
            text
        });
        // Give the stream a moment to attach before the command starts.
        std::thread::sleep(Duration::from_millis(300));
        let mut child =
            self.command()
                .process_group(0)
                .spawn()
                .map_err(|err| LaunchError::Spawn {
                    what: "/usr/bin/sandbox-exec".into(),
                    err,
                })?;
        let pgid = child.id();
        let mut pids: BTreeSet<u32> = BTreeSet::from([pgid]);
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) => {
                    pids.extend(group_members(pgid));
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(err) => {
                    let _ = log.kill();
                    return Err(LaunchError::Spawn {
                        what: "wait".into(),
                        err,
                    });
                }
            }
        };
        // Reports arrive with a small delay.
        std::thread::sleep(Duration::from_millis(500));
        let _ = log.kill();
        let _ = log.wait();
        let text = reader.join().unwrap_or_default();
        Ok((status, denials(&text, &pids)))
    }
}

/// Pids currently in process group `pgid`, from `ps`.
fn group_members(pgid: u32) -> Vec<u32> {
    Command::new("/bin/ps")
        .args(["-o", "pid=", "-g", &pgid.to_string()])
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Keeps `NAME(PID) deny(N) OPERATION PATH` for the given pids, de-duplicated, in order.
fn denials(log: &str, pids: &BTreeSet<u32>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for line in log.lines() {
        let Some(at) = line.find("Sandbox: ") else {
            continue;
        };
        let msg = &line[at + "Sandbox: ".len()..];
        let pid = msg
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .and_then(|(p, _)| p.parse::<u32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) && seen.insert(msg.to_string()) {
            out.push(msg.to_string());
        }
    }
    out
}

/// The library entry point: a compiled plan that rewrites commands to run under it.
#[derive(Debug, Clone)]
pub struct Sandbox {
    plan: SeatbeltPlan,
}

impl Sandbox {
    pub fn new(policy: &ResolvedPolicy, opts: &CompileOptions) -> Result<Sandbox, CompileError> {
        Ok(Sandbox {
            plan: compile(policy, opts)?,
        })
    }

    /// What will be enforced.
    pub fn plan(&self) -> &SeatbeltPlan {
        &self.plan
    }

    /// Rewrites `cmd` to run under `sandbox-exec`, keeping its working directory and
    /// environment changes. Set stdio after calling this.
    pub fn apply(&self, cmd: &mut Command) {
        *cmd = crate::wrap::wrap(&self.plan, cmd);
    }
}
