//! Exit codes, the one-line error format of DESIGN.md §5, and the two ways this binary
//! writes: messages to stderr (never fatal) and a command's result to stdout (fatal on failure).

use std::fmt::{self, Display};
use std::io::{ErrorKind, Write};
use std::process::ExitCode;

/// The sandbox could not be set up (bad config, unsupported host, refused policy), or the
/// result could not be written.
pub const SETUP_FAILED: u8 = 125;
/// `--strict-git`: the command planted something git would run (see `git_check`).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub const GIT_PLANTED: u8 = 122;
/// The command was found but could not be executed.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub const NOT_EXECUTABLE: u8 = 126;
/// The command was not found.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub const NOT_FOUND: u8 = 127;

/// Like `eprintln!`, but a failed write is ignored: a message that cannot be shown (stderr
/// closed or on a full disk) must not change what the command does or its exit code.
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::exit::stderr_line(format_args!($($arg)*))
    };
}
pub(crate) use err;

/// Writes one line to stderr, ignoring failure (see [`err!`]).
pub fn stderr_line(args: fmt::Arguments) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_fmt(args).and_then(|()| e.write_all(b"\n"));
}

/// Writes a command's result to stdout and flushes it. When that fails the result is lost, so
/// the command fails: `sandbox: writing output: ERROR` on stderr (nothing for a reader that
/// went away, the broken pipe of `| head`) and exit code 125.
pub fn print(text: &str) -> Result<(), ExitCode> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) => {
            if e.kind() != ErrorKind::BrokenPipe {
                err!("sandbox: writing output: {e}");
            }
            Err(ExitCode::from(SETUP_FAILED))
        }
    }
}

/// Prints `sandbox: WHAT: WHY` and returns exit code 125.
pub fn fail(what: &str, why: &dyn Display) -> ExitCode {
    err!("sandbox: {what}: {why}");
    ExitCode::from(SETUP_FAILED)
}

/// Like [`fail`], plus a `hint:` line with the way out.
pub fn fail_hint(what: &str, why: &dyn Display, hint: &str) -> ExitCode {
    err!("sandbox: {what}: {why}");
    err!("hint: {hint}");
    ExitCode::from(SETUP_FAILED)
}

/// Prints `sandbox: warning: MSG`.
pub fn warn(msg: &str) {
    err!("sandbox: warning: {msg}");
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
/// Prints a gap accepted with `--best-effort`: `sandbox: warning: best effort: KEY: DETAIL`.
pub fn degraded(d: &sandbox_core::Degradation) {
    warn(&format!("best effort: {}: {}", d.capability, d.detail));
}
