//! Running a [`BwrapPlan`]: checking the command, placing the fds the plan names, holding
//! the mount-point placeholders, starting bwrap (with the start gate and abstract-socket scope
//! when asked) and waiting for it while signals are forwarded.

use super::error::LaunchError;
use crate::bwrap::plan::{BwrapPlan, FdContent};
use crate::placeholder::Holds;
use crate::supervise::{exit_code, Forwarder};
use std::ffi::{OsStr, OsString};
use std::io::{self, Write as _};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;

/// Checks that the command can be executed, the way `execvp` inside the sandbox will look for it,
/// so that "not found" and "not executable" give the shell's 127 and 126 rather than bwrap's 1.
pub fn check_command(program: &OsStr, cwd: &Path) -> Result<(), LaunchError> {
    let shown = program.to_string_lossy().into_owned();
    if program.is_empty() {
        return Err(LaunchError::CommandNotFound(shown));
    }
    let candidates: Vec<PathBuf> = if program.as_bytes().contains(&b'/') {
        vec![cwd.join(program)]
    } else {
        let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
        std::env::split_paths(&path)
            .map(|d| cwd.join(d).join(program))
            .collect()
    };
    let mut found_non_exec = false;
    for c in candidates {
        match std::fs::metadata(&c) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return Ok(()),
            Ok(_) => found_non_exec = true,
            Err(_) => {}
        }
    }
    if found_non_exec {
        Err(LaunchError::CommandNotExecutable(shown))
    } else {
        Err(LaunchError::CommandNotFound(shown))
    }
}

/// Runs `command` under `plan` with the bwrap at `bwrap`, waits for it and returns the exit
/// code to pass on: the command's (bwrap passes it through), or `128+N` when bwrap died of
/// signal N.
///
/// Every fd above 2 that this process inherited is marked close-on-exec first, and the plan's
/// fds are placed at their numbers (this takes over those fd numbers in the calling process, so
/// it is meant for the CLI, not for a library caller). The placeholders of
/// [`BwrapPlan::host_stubs`] are registered before bwrap starts and released after it exits.
///
/// This process waits rather than `exec`ing bwrap so that a failure can be diagnosed and stubs
/// removed. The wait is cheap: no helper thread and no `pre_exec` hook (so the standard library
/// can use `posix_spawn`); signals are forwarded to bwrap as [`crate::supervise`] describes.
pub fn launch(bwrap: &Path, plan: &BwrapPlan, command: &[OsString]) -> Result<u8, LaunchError> {
    launch_with(bwrap, plan, command, false, None)
}

/// [`launch`], with two options:
/// - `scope_abstract`: bwrap starts inside a Landlock domain that scopes abstract unix sockets
///   ([`crate::bwrap::abstract_scope`]; a `pre_exec` hook: only then is `posix_spawn` given up);
/// - `on_start`: bwrap waits (`--block-fd`) until `on_start` has run with the pid of its
///   sandbox process (`--info-fd`); see [`crate::bwrap::gate`].
pub fn launch_with(
    bwrap: &Path,
    plan: &BwrapPlan,
    command: &[OsString],
    scope_abstract: bool,
    on_start: Option<&mut crate::bwrap::gate::OnStart<'_>>,
) -> Result<u8, LaunchError> {
    let (program, rest) = command
        .split_first()
        .ok_or_else(|| LaunchError::CommandNotFound(String::new()))?;
    mark_inherited_cloexec();
    // Before the placeholders exist: from here on SIGTERM/SIGHUP cannot kill this process
    // before it has removed them. A reaper, because bwrap killed during its setup orphans a
    // process that never exits on its own.
    let mut forwarder = Forwarder::install_reaper();
    // The placeholders exist (locked) before bwrap starts, so bwrap mounts over them, and
    // before the plan's fds are opened: a missing directory bound by fd (a rename pin) is
    // one of them. Their fds are moved above the plan's numbers, which placing the plan's
    // fds takes over.
    let max_fd = plan.fds.iter().map(|f| f.fd).max().unwrap_or(2);
    raise_nofile(max_fd as u64 + 64 + plan.host_stubs.len() as u64);
    let mut held = hold_stubs(plan)?;
    held.move_fds_above(max_fd + 1)
        .map_err(|e| LaunchError::io("moving the placeholders' fds", e))?;
    // Placed without close-on-exec, so bwrap inherits exactly these.
    let placed = place_plan_fds(plan)?;
    let min_fd = plan.fds.iter().map(|f| f.fd + 1).max().unwrap_or(3);
    let mut gate = match &on_start {
        Some(_) => Some(
            crate::bwrap::gate::StartGate::new(min_fd)
                .map_err(|e| LaunchError::io("creating bwrap's start gate", e))?,
        ),
        None => None,
    };

    // bwrap's --info-fd names its PID namespace's init, through which signals reach the
    // command ([`Forwarder::supervise_bwrap`]). Made after the plan fds are placed, so it
    // cannot take their numbers; only the write end is inherited. With a start gate, the
    // gate reads it and gives the pid.
    let (info_read, info_write) = match &gate {
        Some(_) => (None, None),
        None => {
            let (r, w) = info_pipe()?;
            (Some(r), Some(w))
        }
    };
    let mut cmd = Command::new(bwrap);
    cmd.args(plan.launch_args());
    // One --info-fd: the start gate's when there is one (it hands the pid on), else our own.
    match (&gate, &info_write) {
        (Some(g), _) => {
            cmd.args(g.args());
        }
        (None, Some(w)) => {
            cmd.arg("--info-fd").arg(w.as_raw_fd().to_string());
        }
        (None, None) => {}
    }
    cmd.arg("--").arg(program).args(rest);
    // A process group of its own: the terminal's Ctrl-C reaches this process only, which
    // passes it to the command instead of letting it kill bwrap (and with it the command,
    // before the command's own handler could run).
    cmd.process_group(0);
    if scope_abstract {
        // Made after the plan's fds are placed, so its number is none of theirs.
        let scope = match crate::bwrap::abstract_scope::AbstractScope::new() {
            Ok(s) => s,
            Err(e) => {
                close_placed(&placed);
                return Err(LaunchError::Seccomp(e));
            }
        };
        // SAFETY: the hook runs between fork and exec and only makes raw syscalls on a
        // ruleset fd made before the fork.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                scope.enter().map_err(io::Error::from_raw_os_error)
            });
        }
    }
    let spawned = cmd.spawn();
    close_placed(&placed);
    drop(info_write);
    if let Some(g) = &mut gate {
        g.close_child_ends();
    }
    let mut child =
        spawned.map_err(|e| LaunchError::io(format!("executing {}", bwrap.display()), e))?;
    let mut init = None;
    if let (Some(mut g), Some(hook)) = (gate, on_start) {
        // No pid: bwrap failed before making the sandbox, and its status says why.
        let started = match g.child_pid() {
            Ok(Some(pid)) => {
                init = Some(pid);
                hook(pid).and_then(|()| g.open().map_err(|e| e.to_string()))
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = started {
            let _ = child.kill();
            let _ = child.wait();
            forwarder.kill_orphans();
            return Err(LaunchError::io(
                "starting the sandbox's network",
                io::Error::other(e),
            ));
        }
    }
    let status = forwarder.supervise_bwrap(&mut child, info_read, init);
    // bwrap killed, or failing (1), during its setup leaves its sandbox process waiting for
    // it forever; kill that before the placeholders go. A normal end leaves none stuck (the
    // sandbox's init may still be exiting; it is reparented here and needs nothing).
    if status
        .as_ref()
        .map_or(true, |s| s.signal().is_some() || s.code() == Some(1))
    {
        forwarder.kill_orphans();
    }
    drop(held);
    drop(forwarder);
    let status =
        status.map_err(|e| LaunchError::io(format!("waiting for {}", bwrap.display()), e))?;
    Ok(exit_code(status).unwrap_or(1))
}

/// Registers (and where missing, makes) the plan's mount-point placeholders, so bwrap mounts
/// over them and no concurrent run removes them; released when the set drops.
///
/// Then, with every mount point in place, refuses a plan that mounts at a path another user
/// could rename while bwrap sets up ([`crate::bwrap::swappable`]).
pub(super) fn hold_stubs(plan: &BwrapPlan) -> Result<Holds, LaunchError> {
    let mut held = Holds::default();
    for p in &plan.host_stubs {
        held.acquire(p)
            .map_err(|e| LaunchError::io(format!("placeholder {}", p.display()), e))?;
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if let Some(s) = crate::bwrap::swappable::first(plan.mounts.iter().map(|m| m.mount.path()), me)
    {
        return Err(LaunchError::Compile(
            crate::bwrap::plan::BwrapError::Unsupported {
                feature: format!(
                    "mounting at {}: {} can rename {} while bwrap mounts it (bwrap mounts by path, following links)",
                    s.path.display(),
                    s.by,
                    s.entry.display()
                ),
                hint: "use --backend landlock (or --backend auto, which chooses it for this policy)"
                    .into(),
            },
        ));
    }
    Ok(held)
}

/// A pipe for bwrap's `--info-fd`: the read end close-on-exec, the write end inheritable.
fn info_pipe() -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd), LaunchError> {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(LaunchError::io("pipe", io::Error::last_os_error()));
    }
    // SAFETY: fresh fds from pipe2, owned here; F_SETFD clears close-on-exec on the write end.
    unsafe {
        libc::fcntl(fds[1], libc::F_SETFD, 0);
        Ok((
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        ))
    }
}

/// Marks every fd above 2 close-on-exec, so nothing the caller leaked reaches the command.
fn mark_inherited_cloexec() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags; no memory is involved.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return;
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<RawFd> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd > 2)
            .collect();
        for fd in fds {
            // SAFETY: F_SETFD on a possibly-closed fd only fails with EBADF.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

/// Opens each fd the plan names at its exact number, inheritable, and returns the numbers.
fn place_plan_fds(plan: &BwrapPlan) -> Result<Vec<RawFd>, LaunchError> {
    let Some(max) = plan.fds.iter().map(|f| f.fd).max() else {
        return Ok(Vec::new());
    };
    raise_nofile(max as u64 + 64);
    // First open every source above all target numbers, so placing one never closes another.
    let mut sources = Vec::with_capacity(plan.fds.len());
    {
        let devnull = std::fs::File::open("/dev/null")
            .map_err(|e| LaunchError::io("opening /dev/null", e))?;
        for f in &plan.fds {
            let high = match &f.content {
                FdContent::Empty => dup_at_least(&devnull, max + 1)?,
                FdContent::Dir { path } => dup_at_least(&open_no_links(path)?, max + 1)?,
                FdContent::Seccomp { program, .. } => {
                    dup_at_least(&seccomp_memfd(program)?, max + 1)?
                }
            };
            sources.push((high, f.fd));
        }
    }
    let mut placed = Vec::with_capacity(sources.len());
    for (high, target) in sources {
        // SAFETY: dup2 onto a target number; whatever was there is ours to replace (inherited
        // fds are close-on-exec and unused by this process, and every source is above `max`).
        // The high source is closed right after.
        let r = unsafe { libc::dup2(high, target) };
        let e = io::Error::last_os_error();
        // SAFETY: `high` was made by dup_at_least and is owned here.
        unsafe { libc::close(high) };
        if r < 0 {
            close_placed(&placed);
            return Err(LaunchError::io(format!("placing fd {target}"), e));
        }
        placed.push(target);
    }
    Ok(placed)
}

/// Opens a path bound by fd (`--bind-fd`, `--ro-bind-fd`; [`FdContent::Dir`]): `O_PATH`,
/// with no symbolic link followed anywhere on the way (the path is canonical, so a link there
/// was swapped in after the policy was checked, by a concurrent command renaming directories
/// in a shared writable root).
pub(super) fn open_no_links(path: &std::path::Path) -> Result<std::os::fd::OwnedFd, LaunchError> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        LaunchError::io(
            format!("opening {}", path.display()),
            io::ErrorKind::InvalidInput.into(),
        )
    })?;
    let fd = crate::sys::open_no_symlinks(&c, true);
    if fd < 0 {
        let e = io::Error::last_os_error();
        let what = if e.raw_os_error() == Some(libc::ELOOP) {
            format!(
                "opening {} (a symbolic link is on its way now, not when the \
                 policy was checked: another process replaced a directory; refusing)",
                path.display()
            )
        } else {
            format!("opening {} to bind it by fd", path.display())
        };
        return Err(LaunchError::io(what, e));
    }
    // SAFETY: a fresh fd from openat2, owned from here on.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// Closes the fds placed for bwrap once it has them.
fn close_placed(placed: &[RawFd]) {
    for &fd in placed {
        // SAFETY: these numbers were placed by place_plan_fds and belong to this function's
        // caller alone.
        unsafe { libc::close(fd) };
    }
}

fn dup_at_least(src: &impl std::os::fd::AsRawFd, min: RawFd) -> Result<RawFd, LaunchError> {
    // SAFETY: F_DUPFD_CLOEXEC creates a new fd; the source stays owned by the caller.
    let r = unsafe { libc::fcntl(src.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    if r < 0 {
        return Err(LaunchError::io(
            "duplicating an fd",
            io::Error::last_os_error(),
        ));
    }
    Ok(r)
}

pub(super) fn seccomp_memfd(program: &[u8]) -> Result<std::os::fd::OwnedFd, LaunchError> {
    use std::io::Seek;
    use std::os::fd::FromRawFd;
    // SAFETY: memfd_create with a static NUL-terminated name returns a new fd or -1.
    let fd = unsafe { libc::memfd_create(c"sandbox-seccomp".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(LaunchError::io(
            "creating the seccomp memfd",
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: `fd` was just created and is owned by nobody else.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(program)
        .and_then(|_| file.seek(io::SeekFrom::Start(0)).map(|_| ()))
        .map_err(|e| LaunchError::io("writing the seccomp program", e))?;
    Ok(file.into())
}

fn raise_nofile(needed: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write/read the local struct only.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < needed {
            lim.rlim_cur = needed.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writable root is opened for `--bind-fd` only when no symbolic link lies on its
    /// path: a directory swapped for a link after the checks would otherwise hand bwrap the
    /// link's target.
    #[test]
    fn a_writable_root_behind_a_link_is_not_opened() {
        let t = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(t.path()).unwrap();
        std::fs::create_dir(base.join("real")).unwrap();
        std::os::unix::fs::symlink(base.join("real"), base.join("link")).unwrap();
        for through in [base.join("link"), base.join("link/.")] {
            let e = open_no_links(&through).unwrap_err().to_string();
            assert!(e.contains("symbolic link"), "{e}");
        }
        open_no_links(&base.join("real")).unwrap();
    }
}
