//! What the signal forwarder ([`super::Forwarder`]) shares with bwrap's signal delivery
//! ([`crate::bwrap::signals`]): the deferred-signal bits the handler records, and the process
//! queries both use. Kept apart so neither imports the other.

use std::io;
use std::sync::atomic::AtomicU64;

/// Deferred signals sent by a process (`kill`, `sigqueue`).
pub(crate) static SENT_BY_PROCESS: AtomicU64 = AtomicU64::new(0);
/// Deferred signals sent by the kernel (the terminal's Ctrl-C, Ctrl-\, hangup).
pub(crate) static SENT_BY_KERNEL: AtomicU64 = AtomicU64::new(0);

/// Whether `pid` (our child) has exited, leaving it a zombie (`WNOWAIT`); with `block`,
/// waits until it has.
pub(crate) fn waitid_unreaped(pid: i32, block: bool) -> io::Result<bool> {
    let flags = libc::WEXITED | libc::WNOWAIT | if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: siginfo_t is plain data; waitid writes into it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid on our own child with a valid siginfo_t pointer.
        let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
        if r == 0 {
            // SAFETY: waitid filled `info`; si_pid is 0 when nothing has exited (WNOHANG).
            return Ok(block || unsafe { info.si_pid() } != 0);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The pids whose parent is `parent`, from `/proc/PID/stat` (the kernel's per-task `children`
/// file is not built into every kernel).
pub(crate) fn children_of(parent: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid …`; comm may contain spaces and parentheses.
        let ppid: i32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == parent).then_some(pid)
    })
    .collect()
}
