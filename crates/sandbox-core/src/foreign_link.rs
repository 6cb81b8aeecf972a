//! A symlink at a protected name that another user planted in a shared sticky directory
//! (`/tmp/.codex -> x`). Refusing the run would let any local user block everyone's
//! workspace-write runs; following it would let that user choose what gets protected (and
//! where placeholders are made). The sticky bit keeps the command, which runs as a user that
//! owns neither the link nor the directory, from removing or renaming it, so the name cannot
//! become the command's own file: the link is left alone. Root bypasses the sticky bit, so a
//! link is never foreign to root (root's runs still refuse; root can remove the link).

use std::fs::Metadata;
use std::path::Path;

/// The owner of the link at `path` when it is foreign in the sense of the module doc.
#[cfg(unix)]
pub(crate) fn owner(path: &Path, link: &Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    const STICKY: u32 = 0o1000;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let dir = std::fs::metadata(path.parent()?).ok()?;
    let foreign = me != 0
        && dir.mode() & STICKY != 0
        && dir.uid() != me
        && link.uid() != me
        && link.file_type().is_symlink();
    foreign.then_some(link.uid())
}

#[cfg(not(unix))]
pub(crate) fn owner(_path: &Path, _link: &Metadata) -> Option<u32> {
    None
}
