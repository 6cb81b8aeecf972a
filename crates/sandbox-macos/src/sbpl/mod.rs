//! A reader and evaluator for exactly the subset of SBPL (the Seatbelt profile language) that
//! [`crate::profile`] emits, so a profile can be checked against the core oracle on any OS.
//!
//! The reader rejects anything outside the subset; the evaluator follows Seatbelt's rule that
//! the last matching rule decides, with `(deny default)` as the fallback.

pub mod eval;
pub mod reader;

pub use eval::Evaluator;
pub use reader::{parse, Action, Filter, Profile, ReadError, Rule, Value};
