//! Exit codes and the one-line error format of DESIGN.md §5.

use std::fmt::Display;
use std::process::ExitCode;

/// The sandbox could not be set up (bad config, unsupported host, refused policy).
pub const SETUP_FAILED: u8 = 125;
/// The command was found but could not be executed.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub const NOT_EXECUTABLE: u8 = 126;
/// The command was not found.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub const NOT_FOUND: u8 = 127;

/// Prints `sandbox: WHAT: WHY` and returns exit code 125.
pub fn fail(what: &str, why: &dyn Display) -> ExitCode {
    eprintln!("sandbox: {what}: {why}");
    ExitCode::from(SETUP_FAILED)
}

/// Like [`fail`], plus a `hint:` line with the way out.
pub fn fail_hint(what: &str, why: &dyn Display, hint: &str) -> ExitCode {
    eprintln!("sandbox: {what}: {why}");
    eprintln!("hint: {hint}");
    ExitCode::from(SETUP_FAILED)
}

/// Prints `sandbox: warning: MSG`.
pub fn warn(msg: &str) {
    eprintln!("sandbox: warning: {msg}");
}
