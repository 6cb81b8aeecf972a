//! The Windows backend.
//!
//! The pure half compiles and builds on every OS, and is unit-tested on Linux:
//! - [`plan`]: a resolved policy → [`WindowsPlan`] (identity, ACEs, placeholders, job limits,
//!   degradations) and its evaluator, tested against the core oracle;
//! - [`journal`]: the per-run record of every ACE and placeholder, and the sweep decisions
//!   after a crash;
//! - [`envblock`], [`cmdline`], [`program`]: the environment block, command-line quoting and
//!   `PATHEXT` program resolution the launcher hands to `CreateProcess*`;
//! - [`runid`]: per-run ids and SIDs; [`winpath`]: the plain spelling of verbatim paths.
//!
//! The launcher ([`launch`], `cfg(windows)`, `windows-sys`) executes a plan. It builds and links
//! for `x86_64-pc-windows-gnu` here; it has not been run on Windows (see the crate README).

pub mod cmdline;
pub mod envblock;
pub mod journal;
pub mod plan;
pub mod program;
mod render;
pub mod rights;
pub mod runid;
pub mod winpath;

#[cfg(windows)]
pub mod launch;

pub use plan::{compile, Ace, AceKind, Identity, JobLimits, WindowsError, WindowsPlan};
/// What a plan cannot enforce, in the words every backend uses.
pub use sandbox_core::{Capability, Degradation};
