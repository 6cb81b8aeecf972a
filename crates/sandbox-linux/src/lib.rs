//! Linux backends of `sandbox`: bubblewrap (mount, PID and network namespaces) and
//! Landlock + seccomp, plus the choice between them.
//!
//! The compilers ([`bwrap`], [`select`], [`glob_expand`]) are pure and build on every OS; only
//! the launch step touches the host.

pub mod bwrap;
#[cfg(target_os = "linux")]
pub mod bwrap_launch;
#[cfg(target_os = "linux")]
pub mod bwrap_stubs;
pub mod glob_expand;
pub mod select;
