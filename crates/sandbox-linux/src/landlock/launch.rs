//! Executes a [`Plan`]: [`Launch::prepare`] allocates everything and talks to the kernel
//! before `fork` (Landlock ruleset fd, mount facts, BPF program); [`Launch::enter`] runs in
//! the process that will `exec` and only makes raw syscalls.

use crate::landlock::mountns;
use crate::landlock::plan::LandlockPlan;
use crate::landlock::ruleset::DIR_ONLY;
use crate::seccomp::sock_filter;
use crate::sys::{self, PathBeneathAttr, RulesetAttr};
use crate::LinuxError;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// A plan turned into kernel objects and pre-built buffers.
#[derive(Debug)]
pub struct Launch {
    ruleset: OwnedFd,
    /// Pipe on which a forked child reports the step that failed (read end non-blocking).
    report: (OwnedFd, OwnedFd),
    mounts: Option<mountns::Prepared>,
    seccomp: Vec<sock_filter>,
    /// Rights granted on private tmpfs mounts made in the child.
    tmpfs_access: u64,
    /// Rights granted on the private devpts instance made in the child.
    devpts_access: u64,
    /// Kill the sandboxed process when the thread that spawned it exits (library mode).
    pdeathsig: bool,
    /// Pid of the process that prepared the launch (the child's expected parent).
    parent: libc::pid_t,
    /// The private network namespace (`loopback` and `proxy` modes).
    net: Option<crate::netns::PrivateNet>,
}

/// A failed step in [`Launch::enter`]: which step and the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepError {
    pub step: &'static str,
    pub errno: i32,
}

impl StepError {
    /// The step that makes the namespaces themselves (before any mount of the plan): a
    /// failure here means the host cannot make a private mount namespace for this user.
    pub fn is_namespace_setup(&self) -> bool {
        matches!(
            self.step,
            "unshare"
                | "write /proc/self/setgroups"
                | "write /proc/self/uid_map"
                | "write /proc/self/gid_map"
                | "make / private"
        )
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            self.step,
            std::io::Error::from_raw_os_error(self.errno)
        )
    }
}

/// Every step name [`Launch::enter`] can fail in, so a child can report one as a byte.
const STEP_NAMES: [&str; 27] = [
    crate::netns::STEPS[0],
    crate::netns::STEPS[1],
    crate::netns::STEPS[2],
    crate::netns::STEPS[3],
    "mount private /dev",
    "grant private devpts",
    "mount private tmpfs",
    "grant private tmpfs",
    "drop capabilities",
    "set parent-death signal",
    "re-enter working directory",
    "set no_new_privs",
    "landlock_restrict_self",
    "mark inherited fds close-on-exec",
    "install seccomp filter",
    "unshare",
    "write /proc/self/setgroups",
    "write /proc/self/uid_map",
    "write /proc/self/gid_map",
    "make / private",
    "bind writable root",
    "remount read-only",
    "bind protected path",
    "remount protected path read-only",
    "mask denied directory",
    "mask denied file",
    "mask host unix socket",
];

fn step(step: &'static str) -> impl Fn(i32) -> StepError {
    move |errno| StepError { step, errno }
}

/// Creates the Landlock ruleset fd described by the plan and adds every path rule.
fn build_ruleset(plan: &crate::landlock::ruleset::RulesetPlan) -> Result<OwnedFd, LinuxError> {
    let attr = RulesetAttr {
        handled_access_fs: plan.handled_fs.bits,
        handled_access_net: plan.handled_net.bits,
        scoped: plan.scoped.bits,
    };
    // Older kernels reject a struct with fields they do not know about unless zero; pass the
    // size of the fields this ABI has.
    let size = match plan.abi {
        0..=3 => 8,
        4 | 5 => 16,
        _ => 24,
    };
    let fd = sys::landlock_create_ruleset(Some(&attr), size, 0);
    if fd < 0 {
        return Err(LinuxError::os(
            "landlock_create_ruleset",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: the kernel just returned this fd, owned by nobody else.
    let ruleset = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    for rule in &plan.rules {
        let c = CString::new(rule.path.as_os_str().as_bytes())
            .map_err(|_| LinuxError::Platform(format!("NUL in path {}", rule.path.display())))?;
        let pfd = sys::open_no_symlinks(&c, rule.access.bits & !READING != 0);
        if pfd < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                // a rule for a path that does not exist grants nothing
                Some(libc::ENOENT) => continue,
                Some(libc::ELOOP) => {
                    return Err(LinuxError::Platform(format!(
                        "{} is reached through a symbolic link that was not there when the \
                         policy was resolved (another process replaced a directory on its \
                         way): refusing to grant its target",
                        rule.path.display()
                    )))
                }
                _ => return Err(LinuxError::os(format!("open {}", rule.path.display()), e)),
            }
        }
        // SAFETY: fresh fd from open.
        let pfd = unsafe { OwnedFd::from_raw_fd(pfd) };
        // Directory-only rights are dropped on other files; rules without any (the
        // devices) need no stat. The check is on the opened fd, not the path again.
        let access = if rule.access.bits & DIR_ONLY == 0 || is_dir(&pfd) {
            rule.access.bits
        } else {
            rule.access.bits & !DIR_ONLY
        };
        if access == 0 {
            continue;
        }
        let pb = PathBeneathAttr {
            allowed_access: access,
            parent_fd: pfd.as_raw_fd(),
        };
        if sys::landlock_add_path_rule(ruleset.as_raw_fd(), &pb) != 0 {
            return Err(LinuxError::os(
                format!("landlock_add_rule {}", rule.path.display()),
                std::io::Error::last_os_error(),
            ));
        }
    }
    Ok(ruleset)
}

/// Landlock rights that only read or run (execute, read_file, read_dir, ioctl_dev).
const READING: u64 = (1 << 0) | (1 << 2) | (1 << 3) | (1 << 15);

/// Whether `fd` (an `O_PATH` descriptor) is a directory.
fn is_dir(fd: &OwnedFd) -> bool {
    // SAFETY: fstat fills a zeroed stack struct from a live fd (O_PATH fds allow fstat).
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    (unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } == 0)
        && st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

impl Launch {
    /// Builds the kernel objects for `plan`. `pdeathsig`: see [`Launch`].
    pub fn prepare(plan: &LandlockPlan, pdeathsig: bool) -> Result<Launch, LinuxError> {
        let (Some(ll), Some(sc)) = (&plan.landlock, &plan.seccomp) else {
            return Err(LinuxError::Platform(
                "an unrestricted plan has nothing to launch".into(),
            ));
        };
        let ruleset = build_ruleset(ll)?;
        let mounts = match &plan.mounts {
            Some(m) => Some(
                mountns::Prepared::new(m, plan.user_namespace)
                    .map_err(|e| LinuxError::os("prepare mount namespace", e))?,
            ),
            None => None,
        };
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills the two-element array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(LinuxError::os("pipe", std::io::Error::last_os_error()));
        }
        // SAFETY: fresh fds from pipe2, owned here; O_NONBLOCK on the read end.
        let report = unsafe {
            libc::fcntl(fds[0], libc::F_SETFL, libc::O_NONBLOCK);
            (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
        };
        Ok(Launch {
            ruleset,
            report,
            mounts,
            seccomp: sc.program().to_vec(),
            tmpfs_access: crate::landlock::ruleset::private_tmpfs_rights(ll),
            devpts_access: crate::landlock::ruleset::devpts_rights(ll),
            pdeathsig,
            // SAFETY: getpid has no preconditions.
            parent: unsafe { libc::getpid() },
            net: match &plan.private_network {
                Some(n) => Some(
                    crate::netns::PrivateNet::prepare(n)
                        .map_err(|e| LinuxError::os("prepare the private network", e))?,
                ),
                None => None,
            },
        })
    }

    /// The egress proxy's listener the child made inside its network namespace (`proxy`
    /// mode), once the child has been spawned.
    pub fn take_proxy_listener(&self) -> Option<std::net::TcpListener> {
        self.net.as_ref()?.take_listener()
    }

    /// [`Launch::enter`] for a forked child: on failure the step is also written to the
    /// report pipe, for [`Launch::child_failure`] in the parent.
    pub fn enter_child(&self) -> Result<(), StepError> {
        self.enter().inspect_err(|e| {
            let idx = STEP_NAMES.iter().position(|n| *n == e.step).unwrap_or(255) as u8;
            let b = e.errno.to_le_bytes();
            let msg = [idx, b[0], b[1], b[2], b[3]];
            // SAFETY: writes 5 bytes from a stack array to our pipe.
            unsafe { libc::write(self.report.1.as_raw_fd(), msg.as_ptr().cast(), msg.len()) };
        })
    }

    /// The setup step a child reported as failed, if any.
    pub fn child_failure(&self) -> Option<StepError> {
        let mut msg = [0u8; 5];
        // SAFETY: reads at most 5 bytes into a stack array from a non-blocking pipe.
        let n = unsafe { libc::read(self.report.0.as_raw_fd(), msg.as_mut_ptr().cast(), 5) };
        (n == 5).then(|| StepError {
            step: STEP_NAMES
                .get(msg[0] as usize)
                .copied()
                .unwrap_or("sandbox setup"),
            errno: i32::from_le_bytes([msg[1], msg[2], msg[3], msg[4]]),
        })
    }

    /// Applies the sandbox to the calling process. Raw syscalls only, so it is safe between
    /// `fork` and `exec`; the process must be single-threaded when a mount namespace is used.
    pub fn enter(&self) -> Result<(), StepError> {
        if self.pdeathsig {
            sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)
                .map_err(step("set parent-death signal"))?;
            // SAFETY: getppid has no preconditions.
            if unsafe { libc::getppid() } != self.parent {
                // The parent died before the signal was armed.
                return Err(StepError {
                    step: "set parent-death signal",
                    errno: libc::ESRCH,
                });
            }
        }
        if let Some(m) = &self.mounts {
            m.apply()
                .map_err(|(s, e)| StepError { step: s, errno: e })?;
            rechdir().map_err(step("re-enter working directory"))?;
            for path in m.private_tmpfs() {
                self.grant_dir(path, self.tmpfs_access)
                    .map_err(step("grant private tmpfs"))?;
            }
            if let Some(path) = m.private_devpts() {
                self.grant_dir(path, self.devpts_access)
                    .map_err(step("grant private devpts"))?;
            }
        }
        if let Some(n) = &self.net {
            n.enter()
                .map_err(|(s, e)| StepError { step: s, errno: e })?;
        }
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1).map_err(step("set no_new_privs"))?;
        if sys::landlock_restrict_self(self.ruleset.as_raw_fd()) != 0 {
            return Err(StepError {
                step: "landlock_restrict_self",
                errno: sys::errno(),
            });
        }
        sys::cloexec_from_3().map_err(step("mark inherited fds close-on-exec"))?;
        crate::seccomp::install_raw(&self.seccomp).map_err(step("install seccomp filter"))?;
        sys::drop_all_capabilities().map_err(step("drop capabilities"))?;
        Ok(())
    }
}

impl Launch {
    /// Adds a rule granting `access` beneath the directory `path` to the ruleset. Raw
    /// syscalls only; used for mounts made in the child itself.
    fn grant_dir(&self, path: &std::ffi::CStr, access: u64) -> Result<(), i32> {
        // SAFETY: NUL-terminated path; the fd is closed below.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(sys::errno());
        }
        let pb = PathBeneathAttr {
            allowed_access: access,
            parent_fd: fd,
        };
        let rc = sys::landlock_add_path_rule(self.ruleset.as_raw_fd(), &pb);
        let err = sys::errno();
        // SAFETY: closes the fd opened above.
        unsafe { libc::close(fd) };
        if rc == 0 {
            Ok(())
        } else {
            Err(err)
        }
    }
}

/// `chdir(getcwd())`: after new mounts, the old working directory still points into the
/// mount it was opened on; resolving the path again lands on the new (bind) mount.
fn rechdir() -> Result<(), i32> {
    let mut buf = [0u8; 4096];
    // SAFETY: getcwd writes at most buf.len() bytes, NUL-terminated, into the stack buffer.
    unsafe {
        if libc::getcwd(buf.as_mut_ptr().cast(), buf.len()).is_null() {
            return Err(sys::errno());
        }
        if libc::chdir(buf.as_ptr().cast()) != 0 {
            return Err(sys::errno());
        }
    }
    Ok(())
}
