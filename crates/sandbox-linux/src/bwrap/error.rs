//! Why the bwrap backend cannot run, or failed: [`LaunchError`], with its hint line.

use std::io;

/// Why bwrap cannot be used, or failed.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("bubblewrap (bwrap) is not installed: looked for /usr/bin/bwrap and in PATH (directories the sandbox can write are skipped)")]
    NotFound,
    #[error("{0}")]
    Userns(Diagnosis),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("{0}: command not found")]
    CommandNotFound(String),
    #[error("{0}: permission denied (not an executable file)")]
    CommandNotExecutable(String),
    /// The policy cannot be compiled for bwrap on this host.
    #[error(transparent)]
    Compile(#[from] crate::bwrap::plan::BwrapError),
    /// The deny-read globs could not be expanded.
    #[error(transparent)]
    DenyGlob(#[from] crate::deny_globs::ExpandError),
    /// The seccomp filter could not be built.
    #[error(transparent)]
    Seccomp(crate::LinuxError),
}

impl LaunchError {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> LaunchError {
        LaunchError::Io {
            what: what.into(),
            source,
        }
    }

    /// The way out, for the CLI's hint line.
    pub fn hint(&self) -> Option<String> {
        match self {
            LaunchError::NotFound => Some(
                "install bubblewrap (e.g. `apt-get install bubblewrap`), or use --backend landlock"
                    .into(),
            ),
            LaunchError::Userns(d) => Some(d.fix.clone()),
            LaunchError::Compile(e) => Some(e.hint()),
            LaunchError::DenyGlob(e) => Some(e.hint().into()),
            LaunchError::Seccomp(e) => e.hint().map(Into::into),
            _ => None,
        }
    }
}

/// A bwrap failure explained: what on this host caused it, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnosis {
    pub cause: String,
    pub fix: String,
    /// bwrap's own message.
    pub raw: String,
}

impl std::fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bwrap cannot create the sandbox's namespaces: {} (bwrap said: {})",
            self.cause, self.raw
        )
    }
}
