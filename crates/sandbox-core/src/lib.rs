//! The policy core of `sandbox`: what a command may do, resolved to concrete paths, plus the
//! reference oracle that every OS backend is tested against.
//!
//! ```text
//! Policy (config, flags, builder) --resolve--> ResolvedPolicy --decide(path, op)--> Decision
//! ```
//!
//! - [`config`]: a [`Policy`] from a Codex config, `-c` overrides and flags ([`load`]);
//!   [`builder`]: the same in code ([`PolicyBuilder`]);
//! - [`mod@resolve`]: a [`Policy`] made concrete for one machine ([`ResolvedPolicy`]);
//! - [`decide`] and [`index`]: the oracle every backend is tested against;
//! - [`degradation`]: the [`Capability`] keys and the [`Degradation`]s backends report.
//!
//! The types and functions other crates use are re-exported here; the module paths
//! (`sandbox_core::resolve::canonical`, …) stay valid too.

pub mod builder;
pub mod caches;
pub mod config;
pub mod credentials;
pub mod decide;
pub mod degradation;
pub mod discovery;
pub mod domain;
pub mod env;
pub mod error;
mod foreign_link;
pub mod git;
pub mod git_audit;
pub mod gitconfig;
pub mod glob;
pub mod home_files;
pub mod index;
mod launcher;
mod planted;
pub mod policy;
pub mod resolve;
#[cfg(feature = "testing")]
pub mod testing;
pub mod unix;

pub use builder::PolicyBuilder;
pub use config::{load, LoadRequest, Loaded};
pub use decide::Decision;
pub use degradation::{Capability, Degradation};
pub use discovery::ConfigChoice;
pub use domain::{DomainDecision, DomainPattern, DomainRules, Host};
pub use env::{EnvPolicy, Inherit};
pub use error::CoreError;
pub use git::{GitMode, GitSettings};
pub use glob::DenyGlob;
pub use index::PolicyIndex;
pub use policy::{Access, Entry, NetworkPolicy, Op, Policy, Preset, Special, Target, UnixSockets};
pub use resolve::{
    canonical, normalize, platform_alias, resolve, PathKind, Protected, ResolveEnv, ResolvedPolicy,
    Rule, TargetOs, WritableRoot, STANDARD_DEVICES,
};
