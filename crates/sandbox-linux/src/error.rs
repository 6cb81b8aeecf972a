//! Errors of the Linux backends.

use thiserror::Error;

/// The way out when host unix sockets cannot be closed on this host.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) const UNIX_SOCKET_PATHS_HINT: &str = "use --backend bwrap, or a host where a private mount namespace can be made, or set unix_sockets = \"all\" to allow every host socket, or pass --best-effort to run with this gap";

/// Why a Linux sandbox could not be compiled or applied.
#[derive(Debug, Error)]
pub enum LinuxError {
    /// The host cannot enforce a feature the policy needs (fail closed; `--best-effort` may
    /// accept it as a documented degradation).
    #[error("{feature}: {why}")]
    Unsupported {
        /// Capability key of the missing feature, e.g. `landlock` or `filesystem.protected_subpaths`.
        feature: String,
        /// What is missing, in words.
        why: String,
        /// The way out, shown as a hint line.
        hint: String,
    },
    /// The policy asks for something this backend does not implement at all.
    #[error("{0}")]
    NotImplemented(String),
    /// Building the seccomp filter failed.
    #[error("seccomp filter: {0}")]
    Seccomp(String),
    /// A system call failed while preparing or applying the sandbox.
    #[error("{step}: {source}")]
    Os {
        step: String,
        #[source]
        source: std::io::Error,
    },
    /// This host architecture or OS has no implementation.
    #[error("unsupported platform: {0}")]
    Platform(String),
}

impl LinuxError {
    /// The hint line for the CLI, when there is a way out.
    pub fn hint(&self) -> Option<&str> {
        match self {
            LinuxError::Unsupported { hint, .. } if !hint.is_empty() => Some(hint),
            _ => None,
        }
    }

    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn os(step: impl Into<String>, source: std::io::Error) -> LinuxError {
        LinuxError::Os {
            step: step.into(),
            source,
        }
    }
}
