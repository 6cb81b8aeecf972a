//! The launcher's own executable inside a writable root (`./target/release/sandbox linux -C
//! .`, a build under `/tmp`): the command could replace it, and the next launch would run
//! whatever it put there, unsandboxed. It is kept read-only like a protected name: a
//! [`Protected`] entry of the writable root holding it, so the oracle, `explain`, the rename
//! pins ([`ResolvedPolicy::rename_pins`]) and every backend's read-only mount cover it.

use crate::policy::Op;
use crate::resolve::{canonical, PathKind, Protected, ResolvedPolicy};
use std::path::Path;

impl ResolvedPolicy {
    /// Protects the executable at `exe` (links followed) when it lies inside a writable root;
    /// `reason` names it (`the sandbox executable`). Nothing changes when it is not writable.
    pub fn protect_executable(&mut self, exe: &Path, reason: &str) {
        if self.unrestricted || !exe.is_absolute() {
            return;
        }
        let path = canonical(exe, self.target);
        if !self.allows_canonical(&path, Op::Write) {
            return;
        }
        // The deepest writable root holding it (the others see it through that one).
        let Some(root) = self
            .writable_roots
            .iter_mut()
            .filter(|r| path.starts_with(&r.path))
            .max_by_key(|r| r.path.components().count())
        else {
            return;
        };
        let kind = match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => PathKind::Dir,
            Ok(_) => PathKind::File,
            Err(_) => return,
        };
        root.protected.push(Protected {
            path,
            kind,
            reason: reason.to_string(),
        });
        root.protected.sort_by(|a, b| a.path.cmp(&b.path));
    }
}
