//! Linux backends of `sandbox`. This crate holds the in-process Landlock + seccomp backend:
//!
//! ```text
//! ResolvedPolicy + Capabilities --compile--> Plan (landlock rules, mount steps, seccomp)
//!                                             │  Launch::prepare (before fork)
//!                                             ▼
//!                     Launch::enter (raw syscalls in the process that execs)
//! ```
//!
//! [`Sandbox`] is the embedding API: `Sandbox::new(&policy, Options::default())?.apply(&mut cmd)`.

pub mod error;
pub mod landlock;
pub mod mountns;

#[cfg(target_os = "linux")]
pub mod launch;
#[cfg(target_os = "linux")]
pub mod probe;
#[cfg(target_os = "linux")]
pub mod seccomp;
#[cfg(target_os = "linux")]
mod sys;

#[cfg(target_os = "linux")]
mod sandbox;
#[cfg(target_os = "linux")]
pub use sandbox::*;

pub use error::LinuxError;
