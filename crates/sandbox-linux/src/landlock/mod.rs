//! The Landlock backend: Landlock rules, a private mount namespace and seccomp, applied
//! in-process to the child between `fork` and `exec`.
//!
//! ```text
//! ResolvedPolicy + Capabilities --sandbox::compile--> LandlockPlan
//!     ruleset   (Landlock access rights per path)
//!     mountns   (read-only protected names, placeholders, masks, private /dev)
//!     seccomp   (shared with bwrap)
//! LandlockPlan --launch::Launch::prepare (before fork)--> Launch::enter (in the child, raw syscalls)
//! ```

pub mod mountns;
pub mod private_dev;
pub mod ruleset;

#[cfg(target_os = "linux")]
pub mod launch;
#[cfg(target_os = "linux")]
pub mod plan;
#[cfg(target_os = "linux")]
mod render;
#[cfg(target_os = "linux")]
pub mod run;
#[cfg(target_os = "linux")]
pub(crate) mod sandbox;
