//! Host probes: what this kernel and this user can enforce, as a plain [`Capabilities`] value
//! that the compilers and `sandbox doctor` consume.
//!
//! Test hooks (read only here, documented for the test suites): setting
//! `SANDBOX_TEST_FORCE_NO_LANDLOCK=1` makes the probe report no Landlock, and
//! `SANDBOX_TEST_FORCE_NO_MOUNTNS=1` makes it report that no mount namespace can be made
//! (neither as root nor through a user namespace). They only ever remove capabilities.

use crate::host::cache;
use serde::Serialize;

/// Env var that makes the probe report "Landlock unsupported" (test hook).
#[doc(hidden)]
pub const FORCE_NO_LANDLOCK_ENV: &str = "SANDBOX_TEST_FORCE_NO_LANDLOCK";
/// Env var that makes the probe report "no mount namespace" (test hook).
#[doc(hidden)]
pub const FORCE_NO_MOUNTNS_ENV: &str = "SANDBOX_TEST_FORCE_NO_MOUNTNS";

/// What the host offers to the Landlock backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// Highest Landlock ABI the kernel supports; `None` when Landlock is missing or disabled.
    pub landlock_abi: Option<u32>,
    /// Seccomp filter mode is available.
    pub seccomp: bool,
    /// An unprivileged user namespace can be created (and its uid map written).
    pub user_namespace: bool,
    /// A private mount namespace can be made: directly as root, or inside a user namespace.
    pub mount_namespace: bool,
    /// Running with effective uid 0.
    pub root: bool,
    /// Test hooks that changed the result, by env var name.
    pub forced: Vec<String>,
}

impl Capabilities {
    /// Everything a modern kernel offers; for tests and golden plans.
    pub fn full(abi: u32) -> Capabilities {
        Capabilities {
            landlock_abi: Some(abi),
            seccomp: true,
            user_namespace: true,
            mount_namespace: true,
            root: false,
            forced: Vec::new(),
        }
    }
}

use crate::test_hooks::forced;

/// Probes the running host. Forks short-lived children for the namespace checks.
pub fn probe() -> Capabilities {
    let mut caps = cheap_caps();
    caps.user_namespace = try_in_child(true);
    caps.mount_namespace = if caps.root {
        try_in_child(false)
    } else {
        caps.user_namespace
    };
    if forced(FORCE_NO_MOUNTNS_ENV) {
        caps.user_namespace = false;
        caps.mount_namespace = false;
        caps.forced.push(FORCE_NO_MOUNTNS_ENV.into());
    }
    caps
}

/// The capabilities a launch needs, without forking when possible: a positive namespace
/// answer is remembered per user and boot ([`cache::CacheDir::mountns_ok`]); Landlock
/// and seccomp are always asked (one syscall each). Returns the capabilities and whether the
/// namespace answer came from that marker.
///
/// A forged or stale marker cannot weaken enforcement: it only claims that the mount
/// namespace can be made, so the launch tries it, fails in the setup step before anything
/// runs, and the caller retries with [`LandlockSandbox::without_mount_namespace`] (which forgets the
/// marker and refuses, or degrades with `best_effort`, exactly like a fresh probe). The
/// test hooks are decided before the marker is read.
///
/// [`LandlockSandbox::without_mount_namespace`]: crate::LandlockSandbox::without_mount_namespace
pub fn probe_for_launch() -> (Capabilities, bool) {
    if forced(FORCE_NO_MOUNTNS_ENV) {
        return (probe(), false);
    }
    let key = marker_key();
    let dir = key.as_ref().and_then(|_| cache::cache_dir());
    if let (Some(d), Some(k)) = (&dir, &key) {
        if let Some(user_namespace) = d.mountns_ok(k) {
            let mut caps = cheap_caps();
            caps.mount_namespace = true;
            caps.user_namespace = user_namespace;
            return (caps, true);
        }
    }
    let caps = probe();
    if caps.mount_namespace {
        if let (Some(d), Some(k)) = (&dir, &key) {
            d.set_mountns_ok(k, Some(caps.user_namespace));
        }
    }
    (caps, false)
}

/// Forgets a remembered positive namespace answer (after a launch found it wrong).
pub fn forget_mount_namespace() {
    if let (Some(d), Some(k)) = (cache::cache_dir(), marker_key()) {
        d.set_mountns_ok(&k, None);
    }
}

/// What the namespace marker is valid for: this effective user on this boot of this kernel
/// (`boot_id` changes on every boot). `None` when the boot id cannot be read (no caching).
fn marker_key() -> Option<String> {
    let boot = crate::sys::read_proc("/proc/sys/kernel/random/boot_id", 64).ok()?;
    let boot = boot.trim();
    if boot.is_empty() || !boot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return None;
    }
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    Some(format!("uid={uid} boot={boot}"))
}

/// Landlock, seccomp and root: the probes that need no fork.
fn cheap_caps() -> Capabilities {
    let mut caps = Capabilities {
        landlock_abi: kernel_landlock_abi(),
        seccomp: seccomp_available(),
        user_namespace: false,
        mount_namespace: false,
        // SAFETY: geteuid has no preconditions.
        root: unsafe { libc::geteuid() } == 0,
        forced: Vec::new(),
    };
    if forced(FORCE_NO_LANDLOCK_ENV) {
        caps.landlock_abi = None;
        caps.forced.push(FORCE_NO_LANDLOCK_ENV.into());
    }
    caps
}

/// Whether this process can create a user namespace with a private mount namespace inside
/// (one forked child; ignores the test hooks). The cheap check behind `--backend auto`.
pub fn user_namespace() -> bool {
    try_in_child(true)
}

/// The Landlock ABI version, honouring the `SANDBOX_TEST_FORCE_NO_LANDLOCK` test hook. Cheap:
/// one syscall, no fork.
pub fn landlock_abi() -> Option<u32> {
    if forced(FORCE_NO_LANDLOCK_ENV) {
        return None;
    }
    kernel_landlock_abi()
}

/// The kernel's Landlock ABI version, if Landlock is enabled.
fn kernel_landlock_abi() -> Option<u32> {
    let v =
        crate::sys::landlock_create_ruleset(None, 0, crate::sys::LANDLOCK_CREATE_RULESET_VERSION);
    (v > 0).then_some(v as u32)
}

/// Seccomp filters are compiled in (`PR_GET_SECCOMP` answers).
fn seccomp_available() -> bool {
    // SAFETY: plain prctl query.
    unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 }
}

/// Forks a child that makes a private mount namespace (inside a new user namespace when
/// `userns`) exactly as the launcher will, and reports whether it worked.
fn try_in_child(userns: bool) -> bool {
    // Everything the child needs is prepared before fork.
    let maps = crate::landlock::mountns::IdMaps::current();
    // SAFETY: the child only makes raw syscalls on pre-built data and calls _exit.
    unsafe {
        let pid = libc::fork();
        if pid < 0 {
            return false;
        }
        if pid == 0 {
            let ok = crate::landlock::mountns::enter_namespaces(userns, &maps).is_ok()
                && crate::sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE).is_ok();
            libc::_exit(if ok { 0 } else { 1 });
        }
        let mut status = 0;
        while libc::waitpid(pid, &mut status, 0) < 0 {
            if crate::sys::errno() != libc::EINTR {
                return false;
            }
        }
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
    }
}
