//! The bwrap backend for embedders: a `std::process::Command` that runs bwrap with the plan,
//! which the caller spawns, waits for and configures (stdio, environment) like any other.
//!
//! The CLI's [`super::launch`] places the plan's fds at their numbers in its own process; a
//! library must not take over fd numbers of its host program, so here the fds are opened
//! close-on-exec at any free number and moved onto the plan's numbers in the child only, by a
//! `pre_exec` step that makes nothing but `fcntl`/`dup2`/`close_range` calls.

use super::abstract_scope::AbstractScope;
use super::error::LaunchError;
use super::launch::{hold_stubs, open_no_links, seccomp_memfd};
use super::plan::{BwrapPlan, FdContent};
use crate::placeholder::Holds;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a prepared bwrap command holds until it has exited: the placeholder mount points bwrap
/// mounts over (released after the run). The plan's fds are owned by the `Command`'s `pre_exec`
/// hook itself, so they stay valid for every spawn of that `Command` whatever happens to this
/// value (dropping it before `spawn` must not let the hook `dup2` numbers the host program has
/// reused meanwhile).
#[derive(Debug)]
pub struct Prepared {
    _held: Holds,
    bwrap: PathBuf,
    /// The plan mounts a fresh `/proc`.
    proc_mount: bool,
}

impl Prepared {
    /// After the command exited with `status`: bwrap's own setup failure (its status 1 on a
    /// host that refuses its namespaces, or a fresh `/proc`) as the diagnosis; other
    /// statuses are the command's.
    pub fn diagnose_exit(&self, status: std::process::ExitStatus) -> Result<(), LaunchError> {
        if status.code() != Some(1) {
            return Ok(());
        }
        match super::diagnose::diagnose_exit(&self.bwrap) {
            super::diagnose::Verdict::Refused(e) => Err(e),
            super::diagnose::Verdict::NoProc if self.proc_mount => {
                Err(LaunchError::Compile(super::plan::BwrapError::Unsupported {
                    feature: "mounting /proc in the sandbox (this host refuses it)".into(),
                    hint: "make the sandbox again with best_effort (it is then planned without /proc), or use the landlock backend".into(),
                }))
            }
            _ => Ok(()),
        }
    }
}

/// A `Command` for `bwrap PLAN-ARGS -- program`; the caller appends the program's arguments.
/// `scope_abstract`: bwrap starts inside a Landlock domain scoping abstract unix sockets.
pub fn command(
    bwrap: &Path,
    plan: &BwrapPlan,
    program: &OsStr,
    scope_abstract: bool,
    proc_mount: bool,
) -> Result<(Command, Prepared), LaunchError> {
    let max = plan.fds.iter().map(|f| f.fd).max().unwrap_or(2);
    let devnull =
        std::fs::File::open("/dev/null").map_err(|e| LaunchError::io("opening /dev/null", e))?;
    let mut sources = Vec::with_capacity(plan.fds.len());
    let mut moves: Vec<(RawFd, RawFd)> = Vec::with_capacity(plan.fds.len());
    // Before the fds are opened: a missing directory bound by fd (a rename pin) is one of
    // the placeholders made here. (The fds are moved in the child only: no clash here.)
    let held = hold_stubs(plan)?;
    for f in &plan.fds {
        let fd = match &f.content {
            FdContent::Empty => dup_cloexec(&devnull)?,
            FdContent::Dir { path } => open_no_links(path)?,
            FdContent::Seccomp { program, .. } => seccomp_memfd(program)?,
        };
        moves.push((fd.as_raw_fd(), f.fd));
        sources.push(fd);
    }
    let scope = if scope_abstract {
        Some(AbstractScope::new().map_err(LaunchError::Seccomp)?)
    } else {
        None
    };
    let mut cmd = Command::new(bwrap);
    // Without `--chdir` bwrap enters its own working directory inside the sandbox: the
    // Command's `current_dir` (default: the caller's), as with the Landlock backend.
    let mut args = plan.launch_args().into_iter();
    while let Some(a) = args.next() {
        if a == "--chdir" {
            args.next();
            continue;
        }
        cmd.arg(a);
    }
    cmd.arg("--").arg(program);
    // Sized here, so the hook only writes into it: no limit on the plan's fd count.
    let mut high: Vec<RawFd> = vec![0; moves.len()];
    // The fallback for kernels without CLOSE_RANGE_CLOEXEC (before 5.11): every number up to
    // the soft fd limit, read here (getrlimit is not on the async-signal-safe list).
    let fd_limit = nofile_limit();
    // SAFETY: the hook runs between fork and exec and makes only raw syscalls (close_range,
    // fcntl, dup2, and the Landlock scope's) on fds opened before the fork and owned by the
    // hook (`sources`), so they are open for as long as the Command exists; it allocates
    // nothing (`moves` is iterated, `high` written in place).
    unsafe {
        cmd.pre_exec(move || {
            let _owned = &sources;
            // Nothing the host program leaked reaches bwrap or the command (bwrap passes
            // every inherited fd on to it).
            let r = libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            if r != 0 {
                for fd in 3..fd_limit {
                    // Fails only with EBADF for a number that is not open.
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            // First lift every source above all target numbers, so placing one never
            // replaces another source; then place them (dup2 clears close-on-exec).
            for (i, (src, _)) in moves.iter().enumerate() {
                let h = libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, max + 1);
                if h < 0 {
                    return Err(io::Error::last_os_error());
                }
                high[i] = h;
            }
            for (i, (_, target)) in moves.iter().enumerate() {
                if libc::dup2(high[i], *target) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            if let Some(s) = &scope {
                s.enter().map_err(io::Error::from_raw_os_error)?;
            }
            Ok(())
        });
    }
    Ok((
        cmd,
        Prepared {
            _held: held,
            bwrap: bwrap.to_path_buf(),
            proc_mount,
        },
    ))
}

/// The soft `RLIMIT_NOFILE` (fd numbers are below it), capped so that the fallback loop
/// stays short on hosts with a huge limit.
fn nofile_limit() -> RawFd {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the local struct only.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1 << 16;
    }
    lim.rlim_cur.min(1 << 20) as RawFd
}

fn dup_cloexec(f: &impl AsRawFd) -> Result<OwnedFd, LaunchError> {
    // SAFETY: F_DUPFD_CLOEXEC makes a new fd, owned from here on; the source stays the caller's.
    let fd = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        return Err(LaunchError::io(
            "duplicating an fd",
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: a fresh fd, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
