//! `.git` pointer files (`gitdir: PATH`), as worktrees and submodules write them.

use std::path::{Path, PathBuf};

/// Reads a `gitdir: PATH` pointer file; relative targets are taken from the file's directory.
/// Only a small regular file counts: a FIFO or device named `.git` is never read (it could
/// block or never end), and the path is taken byte for byte (it need not be UTF-8).
pub fn gitdir_target(dot_git_file: &Path) -> Option<PathBuf> {
    use std::io::Read as _;
    const MAX: u64 = 4096;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // Opening a FIFO for reading would wait for a writer.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(dot_git_file).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(MAX + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > MAX {
        return None;
    }
    let text = bytes.trim_ascii();
    let colon = text.iter().position(|&b| b == b':')?;
    if text[..colon].trim_ascii() != b"gitdir" {
        return None;
    }
    let value = text[colon + 1..].trim_ascii();
    if value.is_empty() {
        return None;
    }
    let target = path_from_bytes(value);
    Some(if target.is_absolute() {
        target
    } else {
        dot_git_file.parent().unwrap_or(Path::new("/")).join(target)
    })
}

/// A path from raw bytes (on Unix the bytes as they are; elsewhere read as UTF-8, lossily),
/// for file contents and kernel tables that hold paths.
#[cfg(unix)]
pub fn path_from_bytes(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt as _;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

/// A path from raw bytes, read as UTF-8 (lossily) where paths are not bytes.
#[cfg(not(unix))]
pub fn path_from_bytes(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitdir_pointer_parsing() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join(".git");
        std::fs::write(&f, "gitdir: ../real/.git/worktrees/w\n").unwrap();
        assert_eq!(
            gitdir_target(&f).unwrap(),
            d.path().join("../real/.git/worktrees/w")
        );
        std::fs::write(&f, "gitdir:/abs/path").unwrap();
        assert_eq!(gitdir_target(&f).unwrap(), PathBuf::from("/abs/path"));
        std::fs::write(&f, "not a pointer").unwrap();
        assert!(gitdir_target(&f).is_none());
    }
}
