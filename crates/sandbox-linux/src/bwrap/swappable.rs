//! Paths bwrap mounts at that a user other than this run's (and root) could rename while
//! bwrap sets the sandbox up.
//!
//! bwrap resolves every mount destination by path, following links, and turns even a
//! `--bind-fd` back into a path: it reads the fd's name, mounts that path, then compares the
//! destination's inode with the fd's. A directory on the way that another user renames and
//! replaces with a link for that instant, and puts back before the comparison, moves the
//! mount: a read-only bind of `shared/.git` swapped for `../secret` binds the denied
//! directory's real content over its own mask (`tests/placeholder_race.rs`). The Landlock
//! backend opens every mount point without following links and mounts by fd, so it is not
//! affected; bwrap refuses such a policy and `--backend auto` chooses Landlock.
//!
//! Who can rename an entry: the owner of its directory, anyone who may write that directory
//! when it is not sticky, and in a sticky one (`/tmp`) the entry's owner. This run's user and
//! root are trusted; everyone else, including a group that may write the directory, is not.
//! Inside a user namespace, files of users it does not map show the overflow uid (`nobody`,
//! `/proc/sys/kernel/overflowuid`): the host's root among them, so that owner is trusted too
//! (a run in a rootless container sees `/` that way); which host user it stands for cannot be
//! told from inside.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A path with a directory or entry on its way that someone else can rename.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swappable {
    /// The path bwrap would mount at.
    pub path: PathBuf,
    /// The entry on its way that can be renamed (the path itself or one of its ancestors).
    pub entry: PathBuf,
    /// Who can rename it (`user 1001`, `group 50`).
    pub by: String,
}

/// The first of `paths` that someone other than `me` and root could rename an entry of while
/// bwrap mounts (looked up on the host; entries that do not exist end the look at that path).
pub fn first<'a>(paths: impl IntoIterator<Item = &'a Path>, me: u32) -> Option<Swappable> {
    let mut look = Look {
        me,
        overflow: overflow_uid(),
        meta: HashMap::new(),
    };
    paths.into_iter().find_map(|p| look.path(p))
}

/// The uid files of unmapped users show inside a user namespace.
fn overflow_uid() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/overflowuid")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(65534)
}

struct Look {
    me: u32,
    overflow: u32,
    meta: HashMap<PathBuf, Option<Metadata>>,
}

impl Look {
    fn meta(&mut self, p: &Path) -> Option<Metadata> {
        self.meta
            .entry(p.to_path_buf())
            .or_insert_with(|| std::fs::symlink_metadata(p).ok())
            .clone()
    }

    fn trusted(&self, uid: u32) -> bool {
        uid == self.me || uid == 0 || uid == self.overflow
    }

    fn path(&mut self, path: &Path) -> Option<Swappable> {
        let mut parent = PathBuf::from("/");
        for c in path.components().skip(1) {
            let entry = parent.join(c);
            let dir = self.meta(&parent)?;
            // A missing entry is made by this run (a placeholder, owned by its user): someone
            // else can rename it only where they could rename any entry of the directory.
            let e = self.meta(&entry);
            let owner = e.as_ref().map_or(self.me, |e| e.uid());
            let writable = dir.mode() & 0o022 != 0;
            let sticky = dir.mode() & 0o1000 != 0;
            let by = if !self.trusted(dir.uid()) {
                Some(format!("user {}", dir.uid()))
            } else if writable && !sticky {
                // Writable by its group or everyone, not sticky: anyone who may write it.
                Some(if dir.mode() & 0o002 != 0 {
                    "every user".to_string()
                } else {
                    format!("group {}", dir.gid())
                })
            } else if writable && !self.trusted(owner) {
                Some(format!("user {owner}"))
            } else {
                None
            };
            if let Some(by) = by {
                return Some(Swappable {
                    path: path.to_path_buf(),
                    entry,
                    by,
                });
            }
            e.as_ref()?;
            parent = entry;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Runs as root in CI and here (chown needs it); skipped otherwise.
    fn root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    #[test]
    fn entries_others_can_rename_are_found_and_ours_are_not() {
        if !root() {
            eprintln!("SKIP: needs root to chown");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let base = d.path().canonicalize().unwrap();
        let shared = base.join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let mine = shared.join("mine");
        let theirs = shared.join("theirs");
        std::fs::create_dir_all(mine.join(".git")).unwrap();
        std::fs::create_dir_all(theirs.join(".git")).unwrap();
        std::os::unix::fs::chown(&theirs, Some(4242), None).unwrap();
        // Root runs: a sticky directory's entries of root are safe, another user's are not.
        assert_eq!(first([mine.join(".git").as_path()], 0), None);
        let s = first([theirs.join(".git").as_path()], 0).unwrap();
        assert_eq!((s.entry, s.by.as_str()), (theirs.clone(), "user 4242"));
        // That user's own run trusts its own entry; root's directories stay trusted.
        assert_eq!(first([theirs.join(".git").as_path()], 4242), None);
        // A directory another user owns: everything in it can be renamed by them.
        let owned = base.join("owned");
        std::fs::create_dir_all(owned.join("x")).unwrap();
        std::os::unix::fs::chown(&owned, Some(4242), None).unwrap();
        let s = first([owned.join("x").as_path()], 0).unwrap();
        assert_eq!((s.entry, s.by.as_str()), (owned.join("x"), "user 4242"));
        // Writable by everyone and not sticky: even root's entries can be renamed.
        let open = base.join("open");
        std::fs::create_dir_all(open.join("y")).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let s = first([open.join("y").as_path()], 0).unwrap();
        assert_eq!((s.entry, s.by.as_str()), (open.join("y"), "every user"));
        // A path that does not exist (yet) past a safe prefix: nothing to rename; in a
        // directory everyone may write (not sticky), the entry this run would make is.
        assert_eq!(first([mine.join("nope/deeper").as_path()], 0), None);
        assert_eq!(first([shared.join("nope").as_path()], 0), None);
        // A sticky directory another user owns: the entry this run would make is theirs too.
        let sticky = base.join("sticky");
        std::fs::create_dir(&sticky).unwrap();
        std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1777)).unwrap();
        std::os::unix::fs::chown(&sticky, Some(4242), None).unwrap();
        let s = first([sticky.join("nope").as_path()], 0).unwrap();
        assert_eq!((s.entry, s.by.as_str()), (sticky.join("nope"), "user 4242"));
        let s = first([open.join("nope").as_path()], 0).unwrap();
        assert_eq!((s.entry, s.by.as_str()), (open.join("nope"), "every user"));
    }
}
