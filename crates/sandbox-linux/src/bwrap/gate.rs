//! A start gate for bwrap (`--info-fd` + `--block-fd`): the launcher learns the pid of the
//! sandbox process as soon as its namespaces exist, runs a hook (the egress proxy makes its
//! listener inside the sandbox's network namespace there), and only then lets bwrap go on to
//! run the command.
//!
//! Failing closed does not depend on the gate: the command's network namespace has only
//! loopback whether or not the hook ran; the hook only adds the way out.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Called with the pid (in this process's pid namespace) of bwrap's sandbox process, before
/// the command starts. An error stops the launch.
pub type OnStart<'a> = dyn FnMut(i32) -> Result<(), String> + 'a;

/// Most bytes of bwrap's info JSON read.
const MAX_INFO: usize = 64 * 1024;

/// The pipes of one launch.
pub(crate) struct StartGate {
    info: File,
    block: File,
    /// The ends bwrap inherits (not close-on-exec), closed once bwrap runs.
    child_ends: [RawFd; 2],
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two new fds into the local array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// An inheritable duplicate of `fd` numbered at least `min`.
fn inheritable(fd: &OwnedFd, min: RawFd) -> io::Result<RawFd> {
    // SAFETY: F_DUPFD makes a new fd (without close-on-exec) at the lowest free number >= min.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD, min) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl StartGate {
    /// Makes the pipes; bwrap's ends get numbers of at least `min_fd` (above the plan's fds).
    pub fn new(min_fd: RawFd) -> io::Result<StartGate> {
        let (info_r, info_w) = pipe()?;
        let (block_r, block_w) = pipe()?;
        let w = inheritable(&info_w, min_fd)?;
        let r = match inheritable(&block_r, min_fd) {
            Ok(r) => r,
            Err(e) => {
                // SAFETY: `w` was made above and is owned here.
                unsafe { libc::close(w) };
                return Err(e);
            }
        };
        Ok(StartGate {
            info: File::from(info_r),
            block: File::from(block_w),
            child_ends: [w, r],
        })
    }

    /// bwrap's flags for the gate.
    pub fn args(&self) -> [String; 4] {
        [
            "--info-fd".into(),
            self.child_ends[0].to_string(),
            "--block-fd".into(),
            self.child_ends[1].to_string(),
        ]
    }

    /// Closes this process's copies of bwrap's ends (after spawning it, or when it failed).
    pub fn close_child_ends(&mut self) {
        for fd in &mut self.child_ends {
            if *fd >= 0 {
                // SAFETY: made by `new`, owned here, closed once.
                unsafe { libc::close(*fd) };
                *fd = -1;
            }
        }
    }

    /// Reads bwrap's info JSON and gives `child-pid`; `None` when bwrap ended before writing
    /// it (it failed to set up: its exit status says why).
    pub fn child_pid(&mut self) -> io::Result<Option<i32>> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&buf) {
                return match v.get("child-pid").and_then(|p| p.as_i64()) {
                    Some(pid) if pid > 0 && pid <= i32::MAX as i64 => Ok(Some(pid as i32)),
                    _ => Err(io::Error::other(
                        "bwrap's --info-fd output has no child-pid",
                    )),
                };
            }
            let n = self.info.read(&mut chunk)?;
            if n == 0 {
                return Ok(None);
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > MAX_INFO {
                return Err(io::Error::other("bwrap's --info-fd output is too long"));
            }
        }
    }

    /// Lets bwrap run the command.
    pub fn open(mut self) -> io::Result<()> {
        self.block.write_all(b"x")
    }
}

impl Drop for StartGate {
    fn drop(&mut self) {
        self.close_child_ends();
    }
}
