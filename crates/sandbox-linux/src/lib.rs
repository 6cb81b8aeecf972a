//! Linux backends of `sandbox`: bubblewrap (mount, PID and network namespaces) and
//! in-process Landlock + seccomp + a private mount namespace, and the choice between them.
//!
//! [`Sandbox`] is the embedding API: it chooses the backend ([`Options::backend`], `Auto` by
//! default), compiles the policy into an inspectable [`Plan`], and turns a program into a
//! sandboxed `std::process::Command` for either backend ([`Sandbox::command`]).
//!
//! ```text
//! select/    Requested × HostFacts --select--> Selection | Refusal   (pure; host.rs probes)
//! landlock/  ResolvedPolicy + Capabilities --compile--> LandlockPlan (ruleset, mountns, seccomp)
//!            LandlockPlan --launch::Launch::prepare--> enter() in the child (raw syscalls)
//! bwrap/     ResolvedPolicy + deny-glob matches + BwrapFeatures --plan::compile--> BwrapPlan
//!            BwrapPlan --launch (CLI) | command (embedders)--> bwrap
//! shared:    host/ (probe, cache, host sockets)  seccomp/  netns/  deny_globs  placeholder
//!            placeholder_rule (which mount targets are held)  supervise (signals, orphans)
//!            sys (raw syscalls)
//! ```
//!
//! The compilers are pure; only probing and the launch steps touch the host. The backend
//! folders stay public for inspection (plans, steps, probes); the types most callers need are
//! re-exported here.

pub mod bwrap;
pub mod deny_globs;
mod error;
pub mod host;
pub mod landlock;
#[cfg(target_os = "linux")]
pub mod netns;
mod options;
#[cfg(target_os = "linux")]
pub mod placeholder;
pub mod placeholder_rule;
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
mod test_hooks;

#[cfg(target_os = "linux")]
pub use bwrap::sandbox::BwrapSandbox;
#[cfg(target_os = "linux")]
pub use landlock::plan::{compile, mask_host_sockets, LandlockPlan};
#[cfg(target_os = "linux")]
pub use landlock::run::{RunError, RunHooks};
#[cfg(target_os = "linux")]
pub use landlock::sandbox::{ExecError, LandlockGuard, LandlockSandbox};

pub use bwrap::BwrapPlan;
pub use error::LinuxError;
pub use options::Options;
#[cfg(target_os = "linux")]
pub use sandbox::{Applied, Error, Plan, Sandbox};
pub use select::{Backend, Requested, Selection};
