//! macOS backend: compile a [`sandbox_core::ResolvedPolicy`] into a Seatbelt profile, check
//! that profile offline against the core oracle, and (on macOS) run commands under
//! `/usr/bin/sandbox-exec`.
//!
//! Everything but `launch` (macOS only) is pure and builds on every OS.

pub mod casefold;
pub mod denials;
pub mod escape;
pub mod glob_regex;
#[cfg(target_os = "macos")]
pub mod launch;
pub mod profile;
pub mod sbpl;
pub mod unix_sockets;
pub mod verify;
pub mod wrap;

pub use profile::{compile, CompileError, CompileOptions, SeatbeltPlan, SANDBOX_EXEC};
pub use verify::{verify, VerifyError, VerifyReport};
