//! Keeps a bubblewrap sandbox that shares the host's network namespace (`--network`) away from
//! the host's abstract unix sockets: a Landlock domain that handles no filesystem or network
//! right and only scopes abstract unix sockets (ABI ≥ 6), entered right before `exec`ing bwrap.
//! Such a domain leaves bwrap free to mount (Landlock refuses mounts only to domains that
//! handle filesystem rights), and everything bwrap starts inherits it: a connect or send to an
//! abstract socket made outside the domain fails with `EPERM`.
//!
//! Without `--network`, bwrap's own network namespace already has its own abstract namespace.

use crate::sys::{self, RulesetAttr};
use crate::LinuxError;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET`.
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;

/// A scope-only Landlock ruleset, made before `fork`.
#[derive(Debug)]
pub struct AbstractScope {
    ruleset: OwnedFd,
}

impl AbstractScope {
    /// Creates the ruleset; fails where the kernel has no Landlock ABI 6.
    pub fn new() -> Result<AbstractScope, LinuxError> {
        let attr = RulesetAttr {
            handled_access_fs: 0,
            handled_access_net: 0,
            scoped: SCOPE_ABSTRACT_UNIX_SOCKET,
        };
        let fd = sys::landlock_create_ruleset(Some(&attr), std::mem::size_of::<RulesetAttr>(), 0);
        if fd < 0 {
            return Err(LinuxError::os(
                "landlock_create_ruleset (abstract unix socket scope)",
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: the kernel just returned this fd (close-on-exec), owned by nobody else.
        Ok(AbstractScope {
            ruleset: unsafe { OwnedFd::from_raw_fd(fd as i32) },
        })
    }

    /// Enters the domain: `no_new_privs`, then `landlock_restrict_self`. Raw syscalls only,
    /// for a `pre_exec` hook.
    pub(crate) fn enter(&self) -> Result<(), i32> {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1)?;
        if sys::landlock_restrict_self(self.ruleset.as_raw_fd()) != 0 {
            return Err(sys::errno());
        }
        Ok(())
    }
}
