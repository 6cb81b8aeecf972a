//! The caller's choices beyond the policy, shared by both backends.

use crate::select::Requested;

/// Choices the caller makes beyond the policy.
///
/// ```
/// let mut options = sandbox_linux::Options::default(); // backend auto, fail closed
/// options.best_effort = true;
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Options {
    /// Which backend: `Auto` (bwrap where it can make namespaces, else Landlock), or one
    /// that is used or refused, never swapped.
    pub backend: Requested,
    /// Accept documented degradations (reported by `degradations()`) instead of failing.
    pub best_effort: bool,
}

impl Options {
    /// Fail-closed options for `backend`.
    pub fn with_backend(backend: Requested) -> Options {
        Options {
            backend,
            best_effort: false,
        }
    }
}
