//! A symlink at a protected name that another user planted in a shared sticky directory
//! (`/tmp/.codex -> x`). Refusing the run would let any local user block everyone's
//! workspace-write runs; following it would let that user choose what gets protected (and
//! where placeholders are made). The sticky bit keeps the command, which runs as a user that
//! owns neither the link nor the directory, from removing or renaming it, so the name cannot
//! become the command's own file: the link is left alone. Root bypasses the sticky bit, so for
//! root such a link is [`held`] instead: protected as it is (`PathKind::Link`), and the
//! backend mounts over the link itself, which keeps it from being removed or replaced and
//! never follows it.

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

/// The owner of the link at `path` when the caller is root and the link is another user's in
/// a sticky directory: root bypasses the sticky bit, so the link must be held by the backend.
#[cfg(unix)]
pub(crate) fn held(path: &Path, link: &Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    const STICKY: u32 = 0o1000;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let dir = std::fs::metadata(path.parent()?).ok()?;
    let held =
        me == 0 && dir.mode() & STICKY != 0 && link.uid() != me && link.file_type().is_symlink();
    held.then_some(link.uid())
}

#[cfg(not(unix))]
pub(crate) fn held(_path: &Path, _link: &Metadata) -> Option<u32> {
    None
}
