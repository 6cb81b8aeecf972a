//! Runs a command under `/usr/bin/sandbox-exec` (macOS only), for the CLI: preflight, exec
//! in place, or spawn and wait (proxy mode, where the launcher serves the proxy meanwhile, and
//! `--log-denials`, with denial collection through `log stream`).

use crate::denials::{denials, new_tag, tag_denials, LOG_PREDICATE, READY_BANNER};
use crate::error::Error;
use crate::profile::{SeatbeltPlan, SANDBOX_EXEC};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// The status the CLI exits with: the command's own code, or `128 + N` for signal `N`.
pub fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(s)) => 128u8.saturating_add(s as u8),
        _ => 125,
    }
}

/// One command about to run under a plan.
pub struct Launch<'a> {
    pub plan: &'a SeatbeltPlan,
    pub command: &'a [OsString],
}

/// What `--log-denials` found.
#[derive(Debug)]
pub enum DenialLog {
    /// The reports of this run (possibly none).
    Lines(Vec<String>),
    /// `log stream` could not be used; the reason.
    Unavailable(String),
}

impl Launch<'_> {
    /// Finds the program the way `execvp` would, so a missing or non-executable command is
    /// reported as 127/126 before the sandbox starts.
    pub fn check_command(&self) -> Result<(), Error> {
        let prog = self.command.first().ok_or(Error::Empty)?;
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
            Error::NotExecutable(shown)
        } else {
            Error::NotFound(shown)
        })
    }

    /// Applies the profile once to `/usr/bin/true` before the real run, so a failure of
    /// `sandbox-exec` itself (a profile this macOS rejects, or an attempt to nest Seatbelt,
    /// both exit 71) is reported as a setup error (125), not passed off as the command's
    /// status. A refusal to exec `true` inside the sandbox still means the profile applied.
    pub fn preflight(&self) -> Result<(), Error> {
        let argv = self.plan.argv(&[OsString::from("/usr/bin/true")]);
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .env_clear()
            .stdin(Stdio::null())
            .output()
            .map_err(|err| Error::Spawn {
                what: SANDBOX_EXEC.into(),
                err,
            })?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || stderr.contains("execvp()") {
            return Ok(());
        }
        Err(Error::Seatbelt {
            status: out.status.code().unwrap_or(-1),
            // The last line is the error (anything before it is a warning).
            message: stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no message")
                .trim()
                .to_string(),
        })
    }

    fn command(&self, plan: &SeatbeltPlan) -> Command {
        // An empty command (refused by `check_command`) spawns "" and fails there.
        let (prog, args) = match self.command.split_first() {
            Some((p, a)) => (p.as_os_str(), a),
            None => (std::ffi::OsStr::new(""), &[][..]),
        };
        let mut cmd = crate::command::sandboxed(plan, prog);
        cmd.args(args);
        cmd
    }

    /// Replaces this process with `sandbox-exec` (same pid, native signals and status).
    /// Returns only on failure.
    pub fn exec(&self) -> Error {
        Error::Spawn {
            what: SANDBOX_EXEC.into(),
            err: self.command(self.plan).exec(),
        }
    }

    /// Runs the command as a child and waits for it (the launcher has work to do meanwhile:
    /// serving the egress proxy). The command stays in the terminal's foreground process
    /// group; this process ignores SIGINT and SIGQUIT while it waits, as a shell does.
    pub fn run(&self) -> Result<ExitStatus, Error> {
        let mut child = self
            .command(self.plan)
            .spawn()
            .map_err(|err| Error::Spawn {
                what: SANDBOX_EXEC.into(),
                err,
            })?;
        let _quiet = IgnoreInterrupts::new();
        child.wait().map_err(|err| Error::Spawn {
            what: "wait".into(),
            err,
        })
    }

    /// Runs the command while `log stream` (started outside the sandbox, in its own process
    /// group so Ctrl-C does not stop it) records violations. The profile's deny rules carry
    /// a tag unique to this run, so every report of the command and its descendants is
    /// found, however short-lived. The command stays in the terminal's foreground process
    /// group (interactive programs, Ctrl-C); this process ignores SIGINT and SIGQUIT while
    /// it waits, as a shell does, and reports the command's status.
    pub fn run_logging_denials(&self) -> Result<(ExitStatus, DenialLog), Error> {
        let tag = new_tag();
        let profile = tag_denials(&self.plan.profile, &tag).map_err(|e| Error::Spawn {
            what: "the tagged profile".into(),
            err: std::io::Error::other(e.to_string()),
        })?;
        let tagged = SeatbeltPlan {
            profile,
            ..self.plan.clone()
        };
        let stream = LogStream::start();
        let mut child = self.command(&tagged).spawn().map_err(|err| Error::Spawn {
            what: SANDBOX_EXEC.into(),
            err,
        })?;
        let status = {
            let _quiet = IgnoreInterrupts::new();
            child.wait()
        };
        let log = stream.finish();
        let status = status.map_err(|err| Error::Spawn {
            what: "wait".into(),
            err,
        })?;
        Ok((
            status,
            match log {
                Ok(text) => DenialLog::Lines(denials(&text, &tag, child.id())),
                Err(why) => DenialLog::Unavailable(why),
            },
        ))
    }
}

/// A running `log stream`, attached before the command starts.
struct LogStream {
    child: Option<Child>,
    out: Option<std::thread::JoinHandle<String>>,
    err: Option<std::thread::JoinHandle<String>>,
    /// Why the stream is not usable, when it is not.
    failed: Option<String>,
}

impl LogStream {
    /// Starts `log stream` and waits (up to 3 s) for its banner, so the first denials of the
    /// command are not lost; a stream that does not come up is reported, not taken for
    /// "no denials".
    fn start() -> LogStream {
        let spawned = Command::new("/usr/bin/log")
            .args(["stream", "--style", "compact", "--predicate", LOG_PREDICATE])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                return LogStream {
                    child: None,
                    out: None,
                    err: None,
                    failed: Some(format!("cannot start /usr/bin/log: {e}")),
                }
            }
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().map(|stdout| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let mut reader = BufReader::new(stdout);
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    if line.contains(READY_BANNER) {
                        let _ = ready_tx.send(());
                    }
                    text.push_str(&line);
                    line.clear();
                }
                text
            })
        });
        let err = child.stderr.take().map(|mut stderr| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = stderr.read_to_string(&mut text);
                text
            })
        });
        let failed = match ready_rx.recv_timeout(Duration::from_secs(3)) {
            Ok(()) => None,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                Some("`log stream` did not attach within 3 s".to_string())
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Some("`log stream` ended before attaching".to_string())
            }
        };
        LogStream {
            child: Some(child),
            out,
            err,
            failed,
        }
    }

    /// Lets late reports arrive, stops the stream and returns its text, or why there is none.
    fn finish(mut self) -> Result<String, String> {
        if let Some(child) = self.child.as_mut() {
            // Reports arrive with a small delay.
            std::thread::sleep(Duration::from_millis(500));
            let _ = child.kill();
            let _ = child.wait();
        }
        let out = self
            .out
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let err = self
            .err
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        match self.failed {
            None => Ok(out),
            Some(why) => {
                let detail = err.lines().next().unwrap_or("").trim();
                Err(if detail.is_empty() {
                    why
                } else {
                    format!("{why}: {detail}")
                })
            }
        }
    }
}

/// Ignores SIGINT and SIGQUIT in this process while alive (restored on drop): Ctrl-C goes to
/// the command in the foreground group, which decides, and this process lives to report.
/// Created only after the command was spawned, so the command keeps the default handlers.
struct IgnoreInterrupts {
    saved: Vec<(libc::c_int, libc::sighandler_t)>,
}

impl IgnoreInterrupts {
    fn new() -> IgnoreInterrupts {
        let mut saved = Vec::new();
        for sig in [libc::SIGINT, libc::SIGQUIT] {
            // SAFETY: `signal` with SIG_IGN installs no handler code; the previous
            // disposition is kept and restored on drop. The workspace's `nix` is not
            // buildable for macOS (its feature list names one nix 0.30 lacks).
            let old = unsafe { libc::signal(sig, libc::SIG_IGN) };
            if old != libc::SIG_ERR {
                saved.push((sig, old));
            }
        }
        IgnoreInterrupts { saved }
    }
}

impl Drop for IgnoreInterrupts {
    fn drop(&mut self) {
        for (sig, old) in self.saved.drain(..) {
            // SAFETY: restores exactly the disposition `signal` returned in `new`.
            unsafe { libc::signal(sig, old) };
        }
    }
}
