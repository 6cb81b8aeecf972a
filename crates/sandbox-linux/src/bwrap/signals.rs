//! Delivering the launcher's signals to the command bwrap runs.
//!
//! bwrap runs the command in a session of its own (`--new-session`), as the child of an init
//! process inside a new PID namespace. So neither a signal sent to the launcher nor the
//! terminal's Ctrl-C reaches the command: bwrap forwards nothing, and a signal to the
//! namespace's init is dropped unless init handles it. Killing bwrap instead kills the command
//! with SIGKILL (`--die-with-parent`) before its own handler can run.
//!
//! Here the launcher finds the command itself: bwrap's `--info-fd` names the init process (its
//! pid on the host), and the command is the init's child whose pid inside the namespace is 2
//! (the first process init forks). It is opened as a pidfd where the kernel has them, so a
//! signal can never reach a process that reused its pid. A signal the terminal sent (to its
//! foreground process group, which is the launcher's) goes to the command's process group, as
//! it would without the sandbox; one sent by a process goes to the command alone.

use crate::supervise::shared::{children_of, waitid_unreaped, SENT_BY_KERNEL, SENT_BY_PROCESS};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;

/// How often to look for the command again while a signal waits for it.
const RETRY_MS: libc::c_long = 5;

/// The command bwrap runs, as far as it is known yet.
#[derive(Debug)]
pub(crate) struct CommandTarget {
    /// Read end of bwrap's `--info-fd` (non-blocking), unless the init pid came another way
    /// (a start gate read it).
    info: Option<OwnedFd>,
    /// What bwrap wrote there so far.
    text: Vec<u8>,
    /// Host pid of the namespace's init.
    init: Option<i32>,
    /// Host pid of the command, and a pidfd for it where the kernel offers one.
    command: Option<(i32, Option<OwnedFd>)>,
}

impl CommandTarget {
    pub(crate) fn new(info: Option<OwnedFd>, init: Option<i32>) -> CommandTarget {
        if let Some(info) = &info {
            // SAFETY: F_SETFL on an fd we own.
            unsafe { libc::fcntl(info.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        }
        CommandTarget {
            info,
            text: Vec::new(),
            init,
            command: None,
        }
    }

    /// Looks for the command; true once it is known.
    fn resolve(&mut self) -> bool {
        if self.command.is_some() {
            return true;
        }
        if let (None, Some(info)) = (self.init, &self.info) {
            let mut buf = [0u8; 256];
            loop {
                // SAFETY: reads into a stack buffer from a non-blocking fd we own.
                let n = unsafe { libc::read(info.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    break;
                }
                self.text.extend_from_slice(&buf[..n as usize]);
            }
            self.init = child_pid(&self.text);
        }
        let Some(init) = self.init else {
            return false;
        };
        let Some(pid) = children_of(init)
            .into_iter()
            .find(|&p| ns_pid(p) == Some(2))
        else {
            return false;
        };
        let pidfd = pidfd_open(pid);
        // The pidfd names whatever has that pid now: still init's child, so the command.
        if pidfd.is_some() && parent_of(pid) != Some(init) {
            return false;
        }
        self.command = Some((pid, pidfd));
        true
    }

    /// Sends `sig` to the command (`group`: to its process group, when it leads one).
    fn send(&self, sig: i32, group: bool) {
        let Some((pid, pidfd)) = &self.command else {
            return;
        };
        if let Some(fd) = pidfd {
            // Signal 0 checks that the command is still the live process the pidfd names.
            if pidfd_send_signal(fd, 0) != 0 {
                return;
            }
            if !(group && pgid_of(*pid) == Some(*pid)) {
                pidfd_send_signal(fd, sig);
                return;
            }
        }
        let target = if group && pgid_of(*pid) == Some(*pid) {
            -pid
        } else {
            *pid
        };
        // SAFETY: kill(2) with plain integers.
        unsafe { libc::kill(target, sig) };
    }
}

/// Waits until `child` (bwrap, our child) has exited, leaving it unreaped, and delivers the
/// deferred signals to the command meanwhile. The forwarded signals must be blocked in this
/// thread; `unblocked` is the mask to wait with (they are handled only inside `ppoll`, so
/// none can arrive between a check and the wait).
pub(crate) fn wait_delivering(
    child: i32,
    target: &mut CommandTarget,
    unblocked: &libc::sigset_t,
) -> io::Result<()> {
    let pidfd = pidfd_open(child);
    loop {
        let waiting = deliver(target);
        if exited(child)? {
            return Ok(());
        }
        let mut fds = [libc::pollfd {
            fd: pidfd.as_ref().map_or(-1, |f| f.as_raw_fd()),
            events: libc::POLLIN,
            revents: 0,
        }];
        // Without a pidfd, look at bwrap again now and then; with one, only while a signal
        // waits for the command to appear.
        let retry = libc::timespec {
            tv_sec: 0,
            tv_nsec: RETRY_MS * 1_000_000,
        };
        let timeout = if waiting || pidfd.is_none() {
            &retry as *const libc::timespec
        } else {
            std::ptr::null()
        };
        // SAFETY: one valid pollfd (a negative fd is ignored), a valid or null timeout, and a
        // valid signal mask, all live for the call.
        unsafe { libc::ppoll(fds.as_mut_ptr(), 1, timeout, unblocked) };
    }
}

/// Sends the deferred signals the command can receive now; true when some still wait for it.
fn deliver(target: &mut CommandTarget) -> bool {
    let pending = SENT_BY_PROCESS.load(Ordering::SeqCst) | SENT_BY_KERNEL.load(Ordering::SeqCst);
    if pending == 0 {
        return false;
    }
    if !target.resolve() {
        return true;
    }
    let by_process = SENT_BY_PROCESS.swap(0, Ordering::SeqCst);
    let by_kernel = SENT_BY_KERNEL.swap(0, Ordering::SeqCst);
    for sig in 1..64 {
        let bit = 1u64 << sig;
        if by_kernel & bit != 0 {
            target.send(sig, true);
        }
        if by_process & bit != 0 {
            target.send(sig, false);
        }
    }
    false
}

/// Whether `pid` (our child) has exited; it stays a zombie (`WNOWAIT`).
fn exited(pid: i32) -> io::Result<bool> {
    waitid_unreaped(pid, false)
}

/// The `"child-pid": N` bwrap writes to its `--info-fd`.
fn child_pid(text: &[u8]) -> Option<i32> {
    let text = std::str::from_utf8(text).ok()?;
    let rest = &text[text.find("\"child-pid\"")? + "\"child-pid\"".len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    // Only a complete number: more text must follow it.
    if digits.len() == rest.len() {
        return None;
    }
    digits.parse().ok()
}

/// The innermost namespace pid of `pid` (the last `NSpid:` field of its status).
fn ns_pid(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
    line.split_whitespace().last()?.parse().ok()
}

/// Fields of `/proc/PID/stat` after the command name: state, ppid, pgrp, …
fn stat_field(pid: i32, n: usize) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(n)?
        .parse()
        .ok()
}

fn parent_of(pid: i32) -> Option<i32> {
    stat_field(pid, 1)
}

fn pgid_of(pid: i32) -> Option<i32> {
    stat_field(pid, 2)
}

/// A pidfd for `pid` (Linux 5.3+); `None` where the kernel has none.
fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a fresh fd, owned here.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn pidfd_send_signal(fd: &OwnedFd, sig: i32) -> i64 {
    // SAFETY: a live pidfd, a signal number, no siginfo, no flags.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_bwrap_info() {
        let info = b"{\n    \"child-pid\": 4321\n}\n";
        assert_eq!(super::child_pid(info), Some(4321));
        assert_eq!(super::child_pid(b"{\n    \"child-pid\": 43"), None);
        assert_eq!(super::child_pid(b"{"), None);
    }
}
