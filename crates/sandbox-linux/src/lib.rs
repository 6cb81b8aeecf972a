//! Linux backends of `sandbox`: bubblewrap (mount, PID and network namespaces, [`bwrap`]) and
//! in-process Landlock + seccomp ([`Sandbox`]), plus the choice between them ([`select`]).
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
//! [`Sandbox`] is the embedding API: `Sandbox::new(&policy, Options::default())?.apply(&mut cmd)`;
//! [`BwrapSandbox`] is the bubblewrap one (`BwrapSandbox::new(&policy, opts)?.run(&cmd, …)`),
//! and [`choose`] picks between them on this host.

#[cfg(target_os = "linux")]
pub mod abstract_scope;
pub mod bwrap;
#[cfg(target_os = "linux")]
pub mod bwrap_cache;
#[cfg(target_os = "linux")]
pub mod bwrap_gate;
#[cfg(target_os = "linux")]
pub mod bwrap_launch;
#[cfg(target_os = "linux")]
mod bwrap_sandbox;
#[cfg(target_os = "linux")]
mod bwrap_signals;
#[cfg(target_os = "linux")]
pub mod choose;
pub mod error;
pub mod glob_expand;
pub mod host_sockets;
pub mod landlock;
pub mod mountns;
#[cfg(target_os = "linux")]
pub mod placeholder;
pub mod private_dev;
pub mod select;

#[cfg(target_os = "linux")]
pub mod launch;
#[cfg(target_os = "linux")]
pub mod netns;
#[cfg(target_os = "linux")]
pub mod netns_listener;
#[cfg(target_os = "linux")]
pub mod probe;
#[cfg(target_os = "linux")]
pub mod seccomp;
#[cfg(target_os = "linux")]
mod seccomp_inet;
#[cfg(target_os = "linux")]
pub mod supervise;
#[cfg(target_os = "linux")]
mod sys;

#[cfg(target_os = "linux")]
mod sandbox;
#[cfg(target_os = "linux")]
pub use bwrap_sandbox::BwrapSandbox;
#[cfg(target_os = "linux")]
pub use sandbox::*;

pub use error::LinuxError;
