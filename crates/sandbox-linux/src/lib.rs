//! Linux backends of `sandbox`: bubblewrap (mount, PID and network namespaces, [`bwrap`]) and
//! in-process Landlock + seccomp ([`LandlockSandbox`]), plus the choice between them ([`select`]).
//!
//! ```text
//! ResolvedPolicy + Capabilities --compile--> Plan (landlock rules, mount steps, seccomp)
//!                                             │  Launch::prepare (before fork)
//!                                             ▼
//!                     Launch::enter (raw syscalls in the process that execs)
//!
//! ResolvedPolicy + glob matches + bwrap features --bwrap::compile--> BwrapPlan (argv, fds)
//! ```
//!
//! The compilers ([`bwrap`], [`select`], [`glob_expand`], [`landlock`], [`mountns`]) are pure;
//! only the launch steps touch the host.
//! [`LandlockSandbox`] is the embedding API: `LandlockSandbox::new(&policy, Options::default())?.apply(&mut cmd)`;
//! [`BwrapSandbox`] is the bubblewrap one (`BwrapSandbox::new(&policy, opts)?.run(&cmd, …)`),
//! and [`choose`] picks between them on this host.

pub mod bwrap;
pub mod deny_globs;
pub mod error;
pub mod host;
pub mod landlock;
#[cfg(target_os = "linux")]
pub mod netns;
mod options;
#[cfg(target_os = "linux")]
pub mod placeholder;
#[cfg(target_os = "linux")]
mod sandbox;
#[cfg(target_os = "linux")]
pub mod seccomp;
pub mod select;
#[cfg(target_os = "linux")]
pub mod supervise;
#[cfg(target_os = "linux")]
mod sys;

#[cfg(target_os = "linux")]
pub use bwrap::sandbox::BwrapSandbox;
#[cfg(target_os = "linux")]
pub use landlock::sandbox::*;

pub use error::LinuxError;
pub use options::Options;
#[cfg(target_os = "linux")]
pub use sandbox::{Applied, Error, Plan, Sandbox};
pub use select::{Backend, Requested, Selection};
