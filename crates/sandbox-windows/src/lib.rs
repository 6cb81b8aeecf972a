//! The Windows backend's pure half: compile a resolved policy into a [`WindowsPlan`] — which
//! token to run under, which ACL entries to add (and remove after the run), which network
//! capabilities to grant — and evaluate that plan, so it can be tested against the core oracle
//! on any OS.
//!
//! The launcher (creating the AppContainer profile, applying ACEs, `CreateProcessAsUserW`, a job
//! object) is not implemented yet: `sandbox windows` refuses to run rather than run unsandboxed.

pub mod plan;

pub use plan::{compile, Ace, AceKind, Degradation, Identity, WindowsError, WindowsPlan};
