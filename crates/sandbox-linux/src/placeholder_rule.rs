//! Which mount targets a run holds ([`crate::placeholder`]): one rule for both backends.
//!
//! Any directory a run mounts over inside a writable root may be a placeholder, this run's
//! or a concurrent one's: another run's policy may protect, deny or carve a read-only path
//! where this one has a rule. Linux lets `rmdir` of a mount point in another mount namespace
//! succeed, so a target the run does not hold is one a concurrent run may remove under the
//! command, which detaches the mount and frees the name. Holding is a shared lock (and, for a
//! missing target, making it); only placeholders are ever removed, a real directory is only
//! locked. The bwrap plan (`host_stubs`) and the Landlock mount namespace (`Prepared::new`)
//! both ask [`is_held`]; each says in its own terms what it mounts and where.

use sandbox_core::PathKind;

/// What the run mounts at a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountOver {
    /// A writable bind of the path onto itself (a writable root, a rename pin).
    Writable,
    /// A read-only view: a protected path, a read rule carved out of a writable root, a
    /// read-only empty directory for a missing protected name.
    ReadOnly,
    /// A mask over a denied path (mode-000 directory or file).
    Mask,
}

/// Whether the run holds the target it mounts `over` at, given whether the target lies in a
/// writable root (one the command, or a concurrent run, can remove or create names in) and
/// what the host look found there.
///
/// - Missing: held, whatever is mounted. The run makes the directory (a placeholder) to
///   mount on, and removes it after the run unless another run still holds it.
/// - A directory: held unless the mount is a writable bind. An empty one may be another
///   run's placeholder; a writable bind needs no lock, since what this run mounts below it
///   keeps it from being empty, and without the mounts below it there is nothing to free.
/// - A file or a symbolic link: never a placeholder, never held.
/// - Outside a writable root: nothing to hold (the command cannot make the name there).
pub fn is_held(over: MountOver, in_writable_root: bool, host: PathKind) -> bool {
    in_writable_root
        && match host {
            PathKind::Missing => true,
            PathKind::Dir => over != MountOver::Writable,
            PathKind::File | PathKind::Link => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole table: every mount kind, inside and outside a writable root, every host look.
    #[test]
    fn the_rule_table() {
        use MountOver::{Mask, ReadOnly, Writable};
        use PathKind::{Dir, File, Link, Missing};
        let table = [
            // (mount, host look, held inside a writable root)
            (Writable, Missing, true),
            (Writable, Dir, false),
            (Writable, File, false),
            (Writable, Link, false),
            (ReadOnly, Missing, true),
            (ReadOnly, Dir, true),
            (ReadOnly, File, false),
            (ReadOnly, Link, false),
            (Mask, Missing, true),
            (Mask, Dir, true),
            (Mask, File, false),
            (Mask, Link, false),
        ];
        for (over, host, inside) in table {
            assert_eq!(is_held(over, true, host), inside, "{over:?} over {host:?}");
            assert!(
                !is_held(over, false, host),
                "{over:?} over {host:?} outside a writable root"
            );
        }
    }
}
