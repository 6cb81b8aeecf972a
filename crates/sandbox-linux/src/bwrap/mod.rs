//! The bubblewrap backend: the policy compiled to a `bwrap` argv (mount table, namespaces,
//! seccomp on an fd), then launched and supervised.
//!
//! ```text
//! ResolvedPolicy + deny-glob matches + BwrapFeatures --plan::compile--> BwrapPlan (argv, fds)
//! BwrapPlan --launch--> bwrap child (gate: the egress start hook; signals: forwarding)
//! ```

pub mod plan;

#[cfg(target_os = "linux")]
pub mod abstract_scope;
#[cfg(target_os = "linux")]
pub mod command;
#[cfg(target_os = "linux")]
pub mod diagnose;
#[cfg(target_os = "linux")]
pub mod error;
#[cfg(target_os = "linux")]
pub mod features;
#[cfg(target_os = "linux")]
pub mod gate;
#[cfg(target_os = "linux")]
pub mod launch;
#[cfg(target_os = "linux")]
pub(crate) mod sandbox;
#[cfg(target_os = "linux")]
pub(crate) mod signals;
#[cfg(target_os = "linux")]
pub mod swappable;

pub use plan::*;
