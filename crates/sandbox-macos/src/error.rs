//! The one error type of the macOS backend: why a policy cannot be compiled into a profile,
//! why proxy mode cannot be set up, or why a launch failed.

use crate::escape::EscapeError;
use crate::glob_regex::GlobRegexError;
use sandbox_core::TargetOs;
use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A literal that cannot be written into profile text safely.
    #[error(transparent)]
    Escape(#[from] EscapeError),
    /// A deny glob that has no regex translation.
    #[error(transparent)]
    Glob(#[from] GlobRegexError),
    #[error(
        "the policy was resolved for {0:?}; a Seatbelt profile needs paths resolved for macOS"
    )]
    WrongTarget(TargetOs),
    #[error("path `{0}` is not valid UTF-8")]
    NonUtf8(String),
    /// The policy asks for something Seatbelt cannot enforce (without `best_effort`).
    #[error("{feature} is not supported by the macOS backend")]
    Unsupported {
        feature: &'static str,
        hint: &'static str,
    },
    /// Proxy mode: bad domain rules, or no localhost port for the proxy.
    #[error("egress proxy: {0}")]
    Proxy(String),
    #[error("{0}: command not found")]
    NotFound(String),
    #[error("{0}: not executable")]
    NotExecutable(String),
    #[error("no command given")]
    Empty,
    #[error("cannot start {what}: {err}")]
    Spawn { what: String, err: std::io::Error },
    /// `sandbox-exec` itself failed before running the command (exit 71: a profile this
    /// macOS rejects, or Seatbelt applied inside another sandbox).
    #[error("sandbox-exec could not apply the profile (exit {status}): {message}")]
    Seatbelt { status: i32, message: String },
}

impl Error {
    /// The way out, when there is one.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Unsupported { hint, .. } => Some(hint),
            Error::Seatbelt { .. } => Some(
                "Seatbelt cannot be nested: run outside other sandboxes (Codex, Claude Code, an app sandbox), or check the macOS version (13 or later is needed)",
            ),
            _ => None,
        }
    }

    /// The exit status `sandbox` reports for this failure (DESIGN.md §5): 127 command not
    /// found, 126 not executable, 125 for everything else (the sandbox was not set up).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotFound(_) => 127,
            Error::NotExecutable(_) => 126,
            _ => 125,
        }
    }
}
