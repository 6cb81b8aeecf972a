//! Mount-point stubs: bwrap can only mount over a path that exists, so for a missing protected
//! name (`WS/.agents`) it creates an empty directory *on the host* inside the writable bind.
//! Each run removes the stubs it is the last user of.
//!
//! Concurrent runs share stubs (two sandboxes in the same workspace, or `/tmp/.git` for every
//! run), and removing a directory that is a mount point in *another* mount namespace succeeds
//! and silently detaches that mount — which would lift the other run's protection. So every run
//! registers each stub in a small registry: a lock file per stub, held with a shared `flock` for
//! the whole run, plus a marker file saying "this path is a stub" (so an empty directory the user
//! made is never removed). After the run, a stub is removed only if an exclusive lock can be
//! taken, that is, when no other live run holds it.
//!
//! The registry lives in `$XDG_RUNTIME_DIR/sandbox-stubs`, else `~/.cache/sandbox/stubs`, else
//! `/tmp/sandbox-stubs-UID`. While the command runs the stub is visible on the host as an empty
//! directory.

use std::fs::File;
use std::hash::{Hash, Hasher};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The stubs of one run, locked (shared) until [`Stubs::cleanup`].
#[derive(Debug)]
pub struct Stubs {
    held: Vec<Held>,
}

#[derive(Debug)]
struct Held {
    path: PathBuf,
    lock: File,
    marker: PathBuf,
}

/// Candidate registry directories, best first.
fn registry_dirs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        v.push(PathBuf::from(d).join("sandbox-stubs"));
    }
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        v.push(PathBuf::from(h).join(".cache/sandbox/stubs"));
    }
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    v.push(PathBuf::from(format!("/tmp/sandbox-stubs-{uid}")));
    v
}

/// The first usable registry directory, refusing a symlink planted in its place.
fn open_registry() -> Option<PathBuf> {
    registry_dirs().into_iter().find(|dir| {
        let _ = std::fs::create_dir_all(dir);
        let probe = dir.join(".probe");
        std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && !m.file_type().is_symlink())
            && std::fs::write(&probe, b"").is_ok()
    })
}

fn key(p: &Path) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    p.hash(&mut h);
    format!("{:016x}", h.finish())
}

fn flock(f: &File, op: libc::c_int) -> bool {
    // SAFETY: flock on an fd this process owns; no memory is involved.
    unsafe { libc::flock(f.as_raw_fd(), op) == 0 }
}

impl Stubs {
    /// Registers `paths` (the plan's host stubs) before bwrap starts. A path that is missing now
    /// is marked as a stub; an existing one is a stub only if an earlier run marked it.
    /// Without a usable registry nothing is removed afterwards (fail safe: a leftover empty
    /// directory, never a lifted protection).
    pub fn register(paths: &[PathBuf]) -> Stubs {
        let mut held = Vec::new();
        let Some(dir) = open_registry() else {
            return Stubs { held };
        };
        for p in paths {
            let k = key(p);
            let Ok(lock) = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join(format!("{k}.lock")))
            else {
                continue;
            };
            if !flock(&lock, libc::LOCK_SH) {
                continue;
            }
            let marker = dir.join(format!("{k}.stub"));
            if std::fs::symlink_metadata(p).is_err() {
                let _ = std::fs::write(&marker, p.as_os_str().as_encoded_bytes());
            }
            held.push(Held {
                path: p.clone(),
                lock,
                marker,
            });
        }
        Stubs { held }
    }

    /// Removes, deepest first, every registered stub that no other live run holds, that is
    /// marked as a stub, and that is still empty.
    pub fn cleanup(self) {
        let mut held = self.held;
        held.sort_by_key(|h| std::cmp::Reverse(h.path.components().count()));
        for h in held {
            if !flock(&h.lock, libc::LOCK_EX | libc::LOCK_NB) {
                continue; // another run still mounts over it
            }
            let marked =
                std::fs::read(&h.marker).is_ok_and(|b| b == h.path.as_os_str().as_encoded_bytes());
            // The marker goes once the stub is gone (removed now, or by someone else).
            if marked && (remove_if_empty(&h.path) || std::fs::symlink_metadata(&h.path).is_err()) {
                let _ = std::fs::remove_file(&h.marker);
            }
            flock(&h.lock, libc::LOCK_UN);
        }
    }
}

/// Removes an empty directory or empty file; true when it is gone.
fn remove_if_empty(p: &Path) -> bool {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir(p).is_ok(),
        Ok(m) if m.is_file() && m.len() == 0 => std::fs::remove_file(p).is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_own_stub_but_not_one_held_by_another_run_nor_user_dirs() {
        let d = tempfile::tempdir().unwrap();
        let reg = d.path().join("reg");
        std::env::set_var("XDG_RUNTIME_DIR", &reg);
        let stub = d.path().join(".agents");
        let user_dir = d.path().join(".codex");
        std::fs::create_dir(&user_dir).unwrap();

        let a = Stubs::register(&[stub.clone(), user_dir.clone()]);
        std::fs::create_dir(&stub).unwrap(); // what bwrap does
        let b = Stubs::register(std::slice::from_ref(&stub));
        a.cleanup();
        assert!(stub.exists(), "removed while run b still uses it");
        b.cleanup();
        assert!(!stub.exists(), "last user did not remove the stub");
        assert!(
            user_dir.exists(),
            "an empty directory the user made was removed"
        );
    }
}
