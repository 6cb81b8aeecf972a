//! The launcher's own executable inside a writable root (`./target/release/sandbox linux -C
//! .`, a build under `/tmp`): the command could replace it, and the next launch would run
//! whatever it put there, unsandboxed. It is kept read-only like a protected name: a
//! [`Protected`] entry of the writable root holding it, so the oracle, `explain`, the rename
//! pins ([`ResolvedPolicy::rename_pins`]) and every backend's read-only mount cover it.
//!
//! A file with other hard links (cargo links `target/release/sandbox` to
//! `target/release/deps/sandbox-HASH`) cannot be protected that way: the command would change
//! the same inode through the other name. Such a launcher inside a writable root is refused.

use crate::error::CoreError;
use crate::policy::Op;
use crate::resolve::{canonical, PathKind, Protected, ResolvedPolicy};
use std::path::Path;

impl ResolvedPolicy {
    /// Protects the executable at `exe` (links followed) when it lies inside a writable root;
    /// `reason` names it (`the sandbox executable`). Nothing changes when it is not writable.
    /// Refused when it is writable and has other hard links ([`CoreError::HardLinkedLauncher`]).
    pub fn protect_executable(&mut self, exe: &Path, reason: &str) -> Result<(), CoreError> {
        if self.unrestricted || !exe.is_absolute() {
            return Ok(());
        }
        let path = canonical(exe, self.target);
        if !self.allows_canonical(&path, Op::Write) {
            return Ok(());
        }
        // The deepest writable root holding it (the others see it through that one).
        let Some(root) = self
            .writable_roots
            .iter_mut()
            .filter(|r| path.starts_with(&r.path))
            .max_by_key(|r| r.path.components().count())
        else {
            return Ok(());
        };
        let kind = match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => PathKind::Dir,
            Ok(m) => {
                let links = link_count(&m);
                if links > 1 {
                    return Err(CoreError::HardLinkedLauncher {
                        what: reason.to_string(),
                        path: path.display().to_string(),
                        root: root.path.display().to_string(),
                        links,
                    });
                }
                PathKind::File
            }
            Err(_) => return Ok(()),
        };
        root.protected.push(Protected {
            path,
            kind,
            reason: reason.to_string(),
        });
        root.protected.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(())
    }
}

/// How many names the file has (1 where the platform does not say).
fn link_count(m: &std::fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        std::os::unix::fs::MetadataExt::nlink(m)
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        1
    }
}
