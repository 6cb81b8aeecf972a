//! Supervising one sandboxed child from the launcher: SIGTERM, SIGHUP, SIGINT and SIGQUIT sent
//! to the launcher reach the child, with no window in which one is lost, and the launcher
//! outlives the child to clean up (placeholders) and report its status.
//!
//! The order is what makes it race-free:
//! 1. [`Forwarder::install`] before anything is made that needs cleaning up: from then on these
//!    signals no longer kill the launcher; one that arrives before the child's pid is known is
//!    remembered.
//! 2. [`Forwarder::supervise`] once the child is spawned: the remembered signal is sent on and
//!    later ones are forwarded as they come — except those the kernel sent on behalf of the
//!    terminal (Ctrl-C, Ctrl-\), which went to the whole foreground process group and so
//!    reached the child already. The child is waited for without being reaped first, so its
//!    pid cannot be reused by another process while a forward may still be in flight; then
//!    forwarding stops and it is reaped.
//! 3. Dropping the [`Forwarder`] (after the cleanup) restores the previous dispositions.
//!
//! [`Forwarder::install_reaper`] also makes the launcher a child subreaper, so that once the
//! child has exited [`Forwarder::kill_orphans`] can kill and reap whatever was orphaned to it.
//! The Landlock launcher needs this before it removes its placeholders (a process left inside
//! could otherwise create the protected names once they are gone); bubblewrap needs it
//! because its sandbox process waits on an eventfd for the outer bwrap to finish
//! the uid map, and only then arms `--die-with-parent`, so a bwrap killed during setup (by a
//! forwarded SIGTERM, or failing) leaves that process blocked forever, holding the caller's
//! stdout and stderr open.
//!
//! The handler is process-wide, so one `Forwarder` at a time: it is meant for the CLI.

pub(crate) mod shared;

use shared::{children_of, waitid_unreaped, SENT_BY_KERNEL, SENT_BY_PROCESS};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The signals passed on to the child.
const FORWARDED: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT];

/// The child to forward to (0: none yet, or no longer).
static CHILD: AtomicI32 = AtomicI32::new(0);
/// A signal that arrived while there was no child to forward it to (0: none).
static PENDING: AtomicI32 = AtomicI32::new(0);
/// Deferred mode ([`Forwarder::supervise_bwrap`]): the handler only records signals, as bits
/// (`1 << N`), by who sent them; the main thread delivers them.
static DEFER: AtomicBool = AtomicBool::new(false);

extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // si_code ≤ 0: sent by a process (kill, sigqueue); > 0: by the kernel, e.g. the terminal
    // signalling its foreground group, which includes the child.
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t for the handler's duration.
    let from_process = info.is_null() || unsafe { (*info).si_code } <= 0;
    if DEFER.load(Ordering::SeqCst) {
        let bit = 1u64 << (sig as u32 & 63);
        if from_process {
            SENT_BY_PROCESS.fetch_or(bit, Ordering::SeqCst);
        } else {
            SENT_BY_KERNEL.fetch_or(bit, Ordering::SeqCst);
        }
        return;
    }
    let pid = CHILD.load(Ordering::SeqCst);
    if pid <= 0 {
        PENDING.store(sig, Ordering::SeqCst);
        return;
    }
    if from_process {
        // SAFETY: __errno_location returns this thread's errno slot; kill(2) is
        // async-signal-safe and `pid` is an unreaped child of this process. errno is put back
        // so the interrupted code (a failed call about to read errno) is not misled.
        unsafe {
            let errno = *libc::__errno_location();
            libc::kill(pid, sig);
            *libc::__errno_location() = errno;
        }
    }
}

/// The forwarding handler, installed until dropped.
pub struct Forwarder {
    /// The dispositions to put back.
    saved: Vec<(libc::c_int, libc::sigaction)>,
    /// The subreaper flag to put back, when [`Forwarder::install_reaper`] set it.
    old_subreaper: Option<libc::c_int>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field(
                "signals",
                &self.saved.iter().map(|s| s.0).collect::<Vec<_>>(),
            )
            .field("subreaper", &self.old_subreaper.is_some())
            .finish()
    }
}

impl Forwarder {
    /// Installs the handler for each forwarded signal that is not ignored. Caught signals are
    /// reset to their default by `exec`, so a child spawned later starts with the dispositions
    /// it would have had without the launcher.
    pub fn install() -> Forwarder {
        CHILD.store(0, Ordering::SeqCst);
        PENDING.store(0, Ordering::SeqCst);
        type Handler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);
        // SAFETY: sigaction is plain data; all-zero is a valid starting value.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = forward as Handler as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        // SAFETY: sa_mask is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        let mut saved = Vec::with_capacity(FORWARDED.len());
        for sig in FORWARDED {
            // SAFETY: as above.
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: reads the current disposition into a valid struct.
            if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } != 0
                || old.sa_sigaction == libc::SIG_IGN
            {
                // Ignored by whoever started us (`nohup`, a background job): stays ignored,
                // and the child inherits that, as it would without the sandbox.
                continue;
            }
            // SAFETY: installs a handler that only touches atomics and calls kill(2); the
            // pointer is valid for the call.
            if unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) } == 0 {
                saved.push((sig, old));
            }
        }
        Forwarder {
            saved,
            old_subreaper: None,
        }
    }

    /// Like [`Forwarder::install`], and also makes this process a child subreaper, so that
    /// processes orphaned by the child are re-parented here and [`Forwarder::kill_orphans`]
    /// can kill and reap them after the child exits: a command that leaves a daemon behind
    /// loses it, as it would in bwrap's PID namespace.
    pub fn install_reaper() -> Forwarder {
        let mut f = Forwarder::install();
        let mut old: libc::c_int = 0;
        // SAFETY: PR_GET_CHILD_SUBREAPER writes an int through the pointer given.
        let got =
            unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut old as *mut libc::c_int) };
        // SAFETY: PR_SET_CHILD_SUBREAPER only changes a flag of this process.
        if got == 0 && unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong) } == 0
        {
            f.old_subreaper = Some(old);
        }
        f
    }

    /// Forwards to `child` until it exits, waits for it and returns its status.
    pub fn supervise(&mut self, child: &mut Child) -> io::Result<ExitStatus> {
        let pid = child.id() as i32;
        CHILD.store(pid, Ordering::SeqCst);
        // A signal that came before the store is in PENDING; one after it was forwarded.
        let early = PENDING.swap(0, Ordering::SeqCst);
        if early != 0 {
            // SAFETY: kill(2) on our own unreaped child.
            unsafe { libc::kill(pid, early) };
        }
        let exited = wait_unreaped(pid);
        CHILD.store(0, Ordering::SeqCst);
        exited?;
        loop {
            match child.wait() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Like [`Forwarder::supervise`] for a bwrap `child` whose command runs in a session of its
    /// own inside bwrap's PID namespace, where neither the terminal's signals nor bwrap reach
    /// it (bwrap forwards none, and its init ignores them). Every forwarded signal, the
    /// terminal's too, is delivered by this thread to the command itself, found through
    /// `info` (the read end of bwrap's `--info-fd`): see [`crate::bwrap::signals`]. Signals
    /// that come while the command does not exist yet wait for it.
    pub fn supervise_bwrap(
        &mut self,
        child: &mut Child,
        info: Option<std::os::fd::OwnedFd>,
        init: Option<i32>,
    ) -> io::Result<ExitStatus> {
        let mut target = crate::bwrap::signals::CommandTarget::new(info, init);
        let blocked = self.block();
        DEFER.store(true, Ordering::SeqCst);
        let early = PENDING.swap(0, Ordering::SeqCst);
        if early != 0 {
            SENT_BY_PROCESS.fetch_or(1 << (early as u32 & 63), Ordering::SeqCst);
        }
        let exited =
            crate::bwrap::signals::wait_delivering(child.id() as i32, &mut target, &blocked);
        DEFER.store(false, Ordering::SeqCst);
        SENT_BY_PROCESS.store(0, Ordering::SeqCst);
        SENT_BY_KERNEL.store(0, Ordering::SeqCst);
        // SAFETY: restores the signal mask saved by `block`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &blocked, std::ptr::null_mut()) };
        exited?;
        loop {
            match child.wait() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Blocks the forwarded signals in this thread; returns the previous mask (which
    /// `ppoll` unblocks atomically while waiting).
    fn block(&self) -> libc::sigset_t {
        // SAFETY: sigset_t is plain data, initialised by sigemptyset/sigaddset below; the
        // previous mask is written into `old`.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for (sig, _) in &self.saved {
                libc::sigaddset(&mut set, *sig);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            old
        }
    }

    /// Kills and reaps every process orphaned to this one since [`Forwarder::install_reaper`]
    /// (nothing without it). One `waitid` when there is none; a scan of `/proc` when one is
    /// alive.
    pub fn kill_orphans(&self) {
        if self.old_subreaper.is_some() {
            reap_orphans();
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        CHILD.store(0, Ordering::SeqCst);
        if let Some(old) = self.old_subreaper {
            // SAFETY: restores this process's flag to the value read at install.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, old as libc::c_ulong) };
        }
        for (sig, old) in &self.saved {
            // SAFETY: restores a disposition saved by `install`.
            unsafe { libc::sigaction(*sig, old, std::ptr::null_mut()) };
        }
        PENDING.store(0, Ordering::SeqCst);
    }
}

/// Waits until `pid` has exited but leaves it a zombie (`WNOWAIT`), so the pid stays ours.
fn wait_unreaped(pid: i32) -> io::Result<()> {
    waitid_unreaped(pid, true).map(drop)
}

/// Kills and reaps every remaining child of this process (orphans re-parented to it as a
/// subreaper). On the usual path there is none and this is one `waitid` answering `ECHILD`.
/// A live one is unreaped, so its pid cannot have been reused when the SIGKILL is sent.
fn reap_orphans() {
    loop {
        // SAFETY: siginfo_t is plain data; waitid writes into it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid for any child, without blocking, with a valid siginfo_t pointer.
        let r = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOHANG) };
        if r != 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return; // ECHILD: none left
        }
        // SAFETY: waitid filled `info`; si_pid is valid for a WEXITED answer.
        if unsafe { info.si_pid() } != 0 {
            continue; // reaped one that had already exited
        }
        // Children remain and none has exited: kill them, then wait for them.
        let me = std::process::id() as i32;
        for pid in children_of(me) {
            // SAFETY: kill(2) on our own unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let mut status = 0;
        // SAFETY: blocking waitpid for any child, status written to a local.
        if unsafe { libc::waitpid(-1, &mut status, 0) } < 0
            && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted
        {
            return;
        }
    }
}

/// The exit code a launcher passes on for `status`: the child's code, or `128+N` when it died
/// of signal N (as a shell reports it).
pub fn exit_code(status: ExitStatus) -> Option<u8> {
    match (status.code(), status.signal()) {
        (Some(c), _) => Some(c as u8),
        (None, Some(s)) => Some((128 + s) as u8),
        _ => None,
    }
}
