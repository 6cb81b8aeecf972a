//! The Landlock backend's `/dev`: the device set bubblewrap's `--dev` gives, made in the
//! private mount namespace, so the command sees none of the host's other devices (the user's
//! other terminals under `/dev/pts`, and as root `/dev/tty1`, `/dev/vcs*`, raw disks, loop
//! devices, …).
//!
//! A fresh tmpfs is mounted over `/dev` and holds: the standard devices (`null zero full
//! random urandom tty`, each a bind mount of the host node, so the Landlock rules on those
//! inodes keep applying), a new `devpts` instance of its own (`newinstance,ptmxmode=0666`,
//! with `/dev/ptmx -> pts/ptmx`) so `openpty()` and `script` work, `/dev/shm` (a private
//! tmpfs: [`crate::landlock::mountns::MountStep::PrivateTmpfs`]), and the links `fd stdin stdout
//! stderr`. Writable roots below `/dev` (say `/dev/shm`) are bound back in from the host.
//!
//! [`compile`] is pure; [`Prepared`] (Linux) opens the host `/dev` before `fork`, and its
//! `apply` step only makes raw syscalls.

use sandbox_core::resolve::STANDARD_DEVICES;
use sandbox_core::{Op, ResolvedPolicy};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where the private device directory goes.
pub const DEV: &str = "/dev";
/// The new `devpts` instance, which gets its Landlock rule once mounted.
pub const DEVPTS: &str = "/dev/pts";

/// The private `/dev` to build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrivateDev {
    /// Host device nodes bound into it (absolute paths under `/dev`).
    pub devices: Vec<PathBuf>,
    /// Writable roots below `/dev`, bound back in from the host.
    pub keep: Vec<PathBuf>,
}

/// The private `/dev` for `policy`, or `None` when the policy lets the command write `/dev`
/// itself (then the host's is what was asked for) or the host has no `/dev`.
pub fn compile(policy: &ResolvedPolicy) -> Option<PrivateDev> {
    let dev = Path::new(DEV);
    if !dev.is_dir() || policy.allows_canonical(dev, Op::Write) {
        return None;
    }
    Some(PrivateDev {
        devices: STANDARD_DEVICES
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect(),
        keep: policy
            .writable_roots
            .iter()
            .filter(|r| r.path.starts_with(dev) && r.path != dev && r.path.is_dir())
            .map(|r| r.path.clone())
            .collect(),
    })
}

/// Whether `path` exists in the private `/dev` (so a mount placed there can be made): outside
/// `/dev`, the standard devices, and what lies in a kept writable root.
pub fn keeps(plan: &PrivateDev, path: &Path) -> bool {
    !path.starts_with(DEV)
        || plan.devices.iter().any(|d| d == path)
        || plan.keep.iter().any(|k| path.starts_with(k))
}

#[cfg(target_os = "linux")]
pub use imp::Prepared;

#[cfg(target_os = "linux")]
mod imp {
    use super::*;
    use crate::sys;
    use std::ffi::{CStr, CString};
    use std::os::unix::ffi::OsStrExt;

    /// A [`PrivateDev`] with every path made before `fork`.
    #[derive(Debug)]
    pub struct Prepared {
        /// (mount target in the new `/dev`, path relative to the host `/dev`).
        devices: Vec<(CString, CString)>,
        /// Same for kept writable roots (directories).
        keep: Vec<(CString, CString)>,
    }

    fn c(bytes: &[u8]) -> CString {
        CString::new(bytes).unwrap_or_else(|_| c"/nonexistent".to_owned())
    }

    /// Closes the fd when dropped.
    struct Fd(i32);
    impl Drop for Fd {
        fn drop(&mut self) {
            // SAFETY: closes an fd this struct owns.
            unsafe { libc::close(self.0) };
        }
    }

    /// `/proc/self/fd/FD/REL` in a stack buffer, NUL-terminated (no allocation).
    fn through<'b>(fd: i32, rel: &CStr, buf: &'b mut [u8; 512]) -> Result<&'b CStr, i32> {
        let mut digits = [0u8; 12];
        let mut n = fd.unsigned_abs();
        let mut d = digits.len();
        loop {
            d -= 1;
            digits[d] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let parts: [&[u8]; 4] = [b"/proc/self/fd/", &digits[d..], b"/", rel.to_bytes()];
        let mut at = 0;
        for part in parts {
            if at + part.len() >= buf.len() {
                return Err(libc::ENAMETOOLONG);
            }
            buf[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        buf[at] = 0;
        CStr::from_bytes_with_nul(&buf[..=at]).map_err(|_| libc::EINVAL)
    }

    impl Prepared {
        /// Makes the paths. Runs before `fork`.
        pub fn new(plan: &PrivateDev) -> std::io::Result<Prepared> {
            let split = |p: &PathBuf| {
                let rel = p.strip_prefix(DEV).unwrap_or(p);
                (c(p.as_os_str().as_bytes()), c(rel.as_os_str().as_bytes()))
            };
            Ok(Prepared {
                devices: plan.devices.iter().map(split).collect(),
                keep: plan.keep.iter().map(split).collect(),
            })
        }

        /// Builds the private `/dev`, in the new mount namespace (a bind source must be a
        /// mount of the caller's namespace, so the host `/dev` is opened here, not before
        /// `fork`). Raw syscalls only. The caller adds the Landlock rule for [`DEVPTS`].
        pub(crate) fn apply(&self) -> Result<(), i32> {
            // SAFETY: NUL-terminated literal; the fd is owned by `Fd` and closed on return.
            let host = unsafe {
                libc::open(
                    c"/dev".as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
            if host < 0 {
                return Err(sys::errno());
            }
            let host = Fd(host);
            let nosuid_noexec = libc::MS_NOSUID | libc::MS_NOEXEC;
            sys::mount_with_data(
                c"tmpfs",
                c"/dev",
                c"tmpfs",
                nosuid_noexec | libc::MS_NODEV,
                c"mode=0755",
            )?;
            let mut buf = [0u8; 512];
            for (target, rel) in &self.devices {
                sys::create_file(target)?;
                let source = through(host.0, rel, &mut buf)?;
                sys::mount(Some(source), target, None, libc::MS_BIND)?;
            }
            for (link, target) in [
                (c"/dev/fd", c"/proc/self/fd"),
                (c"/dev/stdin", c"/proc/self/fd/0"),
                (c"/dev/stdout", c"/proc/self/fd/1"),
                (c"/dev/stderr", c"/proc/self/fd/2"),
                (c"/dev/ptmx", c"pts/ptmx"),
            ] {
                sys::symlink(target, link)?;
            }
            sys::mkdir(c"/dev/pts", 0o755)?;
            sys::mount_with_data(
                c"devpts",
                c"/dev/pts",
                c"devpts",
                nosuid_noexec,
                c"newinstance,ptmxmode=0666,mode=620",
            )?;
            sys::mkdir(c"/dev/shm", 0o1777)?;
            for (target, rel) in &self.keep {
                // `/dev/shm` exists already; deeper roots need their parents.
                sys::mkdir_all(target)?;
                let source = through(host.0, rel, &mut buf)?;
                sys::mount(Some(source), target, None, libc::MS_BIND | libc::MS_REC)?;
            }
            Ok(())
        }
    }
}
