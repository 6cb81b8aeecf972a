//! `sandbox` as a library: one entry point on every OS for agent runtimes that embed the
//! sandbox instead of running the `sandbox` binary.
//!
//! ```no_run
//! use sandbox::{Options, PolicyBuilder, Preset, Sandbox};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = PolicyBuilder::new(Preset::WorkspaceWrite).cwd("/work/repo").build()?;
//! let sandbox = Sandbox::new(&policy, Options::default())?;
//! for d in sandbox.degradations() {
//!     eprintln!("not enforced here: {d}"); // empty unless `best_effort`
//! }
//! let (mut cmd, applied) = sandbox.command("sh")?;
//! cmd.args(["-c", "cargo test"]).current_dir("/work/repo");
//! let status = cmd.status()?; // or tokio::process::Command::from(cmd).status().await
//! let status = applied.finish(status)?;
//! # let _ = status; Ok(())
//! # }
//! ```
//!
//! The OS decides the mechanism: on Linux bubblewrap or Landlock + seccomp
//! (`sandbox_linux::Sandbox` chooses, [`Options::backend`] overrides), on macOS a Seatbelt
//! profile run by `/usr/bin/sandbox-exec` (`sandbox_macos::Sandbox`). On Windows this version
//! compiles and prints the plan, but commands run only through the `sandbox windows` binary
//! (its launcher does not build on `std::process::Command`): [`Sandbox::command`] says so.
//!
//! Rules that hold everywhere:
//! - keep the [`Applied`] returned with each command, and the `Command` itself, until that
//!   command has exited, then call [`Applied::finish`]: together they own the command's
//!   sandbox resources (the plan's fds in the `Command`'s `pre_exec` step, the placeholders
//!   for missing protected names in `Applied`), and `finish` turns a sandbox setup failure
//!   into an error;
//! - in the `proxy` network mode, macOS serves the egress proxy for as long as the
//!   [`Sandbox`] lives; on Linux the Landlock backend hands the caller the listener
//!   ([`Applied::take_proxy_listener`]) and the bwrap backend refuses the mode;
//! - construction probes the host and may fork short trials: from async code, call it in
//!   `spawn_blocking`;
//! - on Linux the Landlock child dies with the *thread* that spawned it (`PR_SET_PDEATHSIG`):
//!   spawn from a thread that outlives the command.
//!
//! The `sandbox` binary is a front end over the same crates; it adds signal forwarding, the
//! egress proxy of `proxy` network mode, the post-run git check and exit-code mapping.

pub use sandbox_core::{
    Capability, Degradation, NetworkPolicy, Policy, PolicyBuilder, Preset, ResolvedPolicy,
};
use std::ffi::OsStr;
use std::process::{Command, ExitStatus};

/// Which Linux backend (ignored on other OSes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// bubblewrap where it can make user namespaces, else Landlock.
    #[default]
    Auto,
    /// bubblewrap, or a refusal.
    Bwrap,
    /// Landlock + seccomp + a private mount namespace, or a refusal.
    Landlock,
}

/// Choices beyond the policy.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Options {
    /// Linux backend choice.
    pub backend: Backend,
    /// Accept documented degradations (listed by [`Sandbox::degradations`]) instead of
    /// refusing.
    pub best_effort: bool,
}

impl Options {
    /// Fail-closed options with this Linux backend.
    pub fn with_backend(backend: Backend) -> Options {
        Options {
            backend,
            best_effort: false,
        }
    }
}

/// Why a sandbox could not be made or a command not prepared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[cfg(target_os = "linux")]
    #[error(transparent)]
    Linux(#[from] sandbox_linux::Error),
    #[cfg(target_os = "macos")]
    #[error(transparent)]
    Macos(#[from] sandbox_macos::Error),
    #[cfg(windows)]
    #[error(transparent)]
    Windows(#[from] sandbox_windows::WindowsError),
    /// Not available on this OS in this version (what, and the way out).
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    /// The way out, as one line, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            #[cfg(target_os = "linux")]
            Error::Linux(e) => e.hint(),
            #[cfg(target_os = "macos")]
            Error::Macos(e) => e.hint().map(str::to_string),
            #[cfg(windows)]
            Error::Windows(_) => Some(
                "`sandbox profile windows --best-effort [POLICY]` shows what would not be enforced"
                    .into(),
            ),
            Error::Unsupported(_) => None,
        }
    }
}

/// A policy compiled for this OS's sandbox.
#[derive(Debug)]
pub struct Sandbox {
    #[cfg(target_os = "linux")]
    linux: sandbox_linux::Sandbox,
    #[cfg(target_os = "macos")]
    macos: sandbox_macos::Sandbox,
    /// Proxy mode: the egress proxy serving the port the profile allows, for as long as this
    /// sandbox lives.
    #[cfg(target_os = "macos")]
    _proxy: RunningProxy,
    #[cfg(windows)]
    windows: sandbox_windows::WindowsPlan,
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    _unsupported: (),
}

/// The egress proxy of a macOS sandbox in proxy mode; stopped when dropped.
#[cfg(target_os = "macos")]
struct RunningProxy(Option<sandbox_egress::Proxy>);

#[cfg(target_os = "macos")]
impl std::fmt::Debug for RunningProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "RunningProxy"
        } else {
            "NoProxy"
        })
    }
}

/// What one sandboxed command holds until it has exited.
#[derive(Debug)]
#[must_use = "dropping it releases the command's sandbox resources while it may still run"]
pub struct Applied {
    #[cfg(target_os = "linux")]
    linux: sandbox_linux::Applied,
}

impl Applied {
    /// Linux, Landlock backend, `proxy` network mode: the listener inside the command's
    /// network namespace, on which the caller serves the egress proxy (`sandbox-egress`).
    /// Until it does, the command has no way out at all.
    #[cfg(target_os = "linux")]
    pub fn take_proxy_listener(&self) -> Option<std::net::TcpListener> {
        self.linux.take_proxy_listener()
    }

    /// Call once the command has exited with `status`: releases its resources, and reports
    /// a failure of the sandbox's own setup as an error rather than as the command's status.
    pub fn finish(self, status: ExitStatus) -> Result<ExitStatus, Error> {
        #[cfg(target_os = "linux")]
        return Ok(self.linux.finish(status)?);
        #[cfg(not(target_os = "linux"))]
        Ok(status)
    }
}

/// The macOS sandbox, with its egress proxy started in proxy mode.
#[cfg(target_os = "macos")]
fn macos_sandbox(policy: &ResolvedPolicy, options: &Options) -> Result<Sandbox, Error> {
    let macos = sandbox_macos::Sandbox::new(
        policy,
        &sandbox_macos::Options::default().with_best_effort(options.best_effort),
    )?;
    let proxy = macos.start_proxy()?;
    Ok(Sandbox {
        macos,
        _proxy: RunningProxy(proxy),
    })
}

#[cfg(target_os = "linux")]
fn linux_options(o: &Options) -> sandbox_linux::Options {
    let mut l = sandbox_linux::Options::with_backend(match o.backend {
        Backend::Auto => sandbox_linux::Requested::Auto,
        Backend::Bwrap => sandbox_linux::Requested::Bwrap,
        Backend::Landlock => sandbox_linux::Requested::Landlock,
    });
    l.best_effort = o.best_effort;
    l
}

impl Sandbox {
    /// Compiles `policy` for this host; fails closed (naming what is missing) unless
    /// `options.best_effort`.
    pub fn new(policy: &ResolvedPolicy, options: Options) -> Result<Sandbox, Error> {
        #[cfg(target_os = "linux")]
        return Ok(Sandbox {
            linux: sandbox_linux::Sandbox::new(policy, linux_options(&options))?,
        });
        #[cfg(target_os = "macos")]
        return macos_sandbox(policy, &options);
        #[cfg(windows)]
        return Ok(Sandbox {
            windows: sandbox_windows::compile(policy, options.best_effort)?,
        });
        #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
        {
            let _ = (policy, options);
            Err(unsupported())
        }
    }

    /// The mechanism in use, e.g. `bwrap` or `landlock`.
    pub fn backend(&self) -> &'static str {
        #[cfg(target_os = "linux")]
        return self.linux.backend().name();
        #[cfg(target_os = "macos")]
        return "seatbelt";
        #[cfg(windows)]
        return "windows";
        #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
        "none"
    }

    /// Why this mechanism was chosen, in a sentence.
    pub fn reason(&self) -> String {
        #[cfg(target_os = "linux")]
        return self.linux.selection().reason.clone();
        #[cfg(not(target_os = "linux"))]
        String::from("the only backend of this OS")
    }

    /// What will be enforced, for people (what `sandbox profile` prints).
    pub fn plan_text(&self) -> String {
        #[cfg(target_os = "linux")]
        return self.linux.profile_text();
        #[cfg(target_os = "macos")]
        return self.macos.plan().to_text();
        #[cfg(windows)]
        return self.windows.to_text();
        #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
        String::new()
    }

    /// What will be enforced, as JSON (what `sandbox profile --format json` prints).
    pub fn plan_json(&self) -> serde_json::Value {
        #[cfg(target_os = "linux")]
        return serde_json::from_str(&self.linux.profile_json()).unwrap_or_default();
        #[cfg(target_os = "macos")]
        return serde_json::to_value(self.macos.plan()).unwrap_or_default();
        #[cfg(windows)]
        return serde_json::to_value(&self.windows).unwrap_or_default();
        #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
        serde_json::Value::Null
    }

    /// The gaps accepted with `best_effort` (empty otherwise).
    pub fn degradations(&self) -> &[Degradation] {
        #[cfg(target_os = "linux")]
        return self.linux.degradations();
        #[cfg(target_os = "macos")]
        return self.macos.degradations();
        #[cfg(windows)]
        return &self.windows.degradations;
        #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
        &[]
    }

    /// A `Command` that runs `program` sandboxed. Add arguments, environment, stdio and
    /// working directory as usual; keep the [`Applied`] until the command has exited.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Result<(Command, Applied), Error> {
        #[cfg(target_os = "linux")]
        {
            let (cmd, linux) = self.linux.command(program)?;
            Ok((cmd, Applied { linux }))
        }
        #[cfg(target_os = "macos")]
        {
            Ok((self.macos.command(program), Applied {}))
        }
        #[cfg(windows)]
        {
            let _ = program;
            Err(Error::Unsupported(
                "on Windows this version runs commands only through the `sandbox windows` binary (its launcher does not build on std::process::Command)".into(),
            ))
        }
        #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
        {
            let _ = program;
            Err(unsupported())
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn unsupported() -> Error {
    Error::Unsupported(format!(
        "the sandbox library has no {} backend in this build",
        std::env::consts::OS
    ))
}
