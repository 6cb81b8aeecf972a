//! macOS backend: compile a [`sandbox_core::ResolvedPolicy`] into a Seatbelt profile, check
//! that profile offline against the core oracle, and (on macOS) run commands under
//! `/usr/bin/sandbox-exec`.
//!
//! The embedding API is [`Sandbox`]: `Sandbox::new(&policy, &Options)`, then `plan()`,
//! `degradations()` and `command(program)`; in proxy mode also `start_proxy()`. Everything
//! but `launch` (macOS only) is pure and builds on every OS.

pub mod casefold;
mod command;
pub mod denials;
mod emit;
mod error;
pub mod escape;
pub mod glob_regex;
#[cfg(target_os = "macos")]
pub mod launch;
pub mod network;
mod options;
pub mod profile;
mod proxy_port;
mod render;
mod sandbox;
pub mod sbpl;
pub mod unix_sockets;
pub mod verify;

pub use error::Error;
pub use options::Options;
pub use profile::{compile, SeatbeltPlan, SANDBOX_EXEC};
pub use sandbox::Sandbox;
pub use verify::{verify, VerifyError, VerifyReport};
