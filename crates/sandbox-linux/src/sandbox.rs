//! The one embedding type of this crate: [`Sandbox`] chooses the backend ([`crate::select`]),
//! compiles the policy for it, and turns a program into a sandboxed `std::process::Command`
//! whichever backend was chosen.
//!
//! Lifetimes: the [`Applied`] guard returned with each command owns that command's resources
//! (the plan's fds, the Landlock ruleset, the placeholders made for missing protected names);
//! keep it until the command, and everything it started, has exited. Threads: the Landlock
//! child gets `PR_SET_PDEATHSIG`, which fires when the *thread* that spawned it exits, so
//! spawn from a thread that outlives the command. Construction probes the host and may fork
//! short trials: from async code call it in `spawn_blocking`.

use crate::bwrap::error::LaunchError;
use crate::bwrap::BwrapPlan;
use crate::landlock::sandbox::{LandlockGuard, LandlockSandbox};
use crate::select::{host, Backend, Refusal, Requested, Selection};
use crate::{LandlockPlan, LinuxError, Options};
use sandbox_core::{Degradation, ResolvedPolicy};
use serde::Serialize;
use std::ffi::OsStr;
use std::process::{Command, ExitStatus};

/// Why a Linux sandbox could not be made or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No backend can run here (auto), or the requested one cannot.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The Landlock backend refused or failed.
    #[error(transparent)]
    Landlock(#[from] LinuxError),
    /// The bwrap backend refused or failed.
    #[error(transparent)]
    Bwrap(#[from] LaunchError),
}

impl Error {
    /// The way out, as one hint line, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Refused(r) => Some(r.hint.clone()),
            Error::Landlock(e) => e.hint().map(str::to_string),
            Error::Bwrap(e) => e.hint(),
        }
    }
}

/// The compiled backend.
#[derive(Debug)]
enum Inner {
    Landlock(Box<LandlockSandbox>),
    Bwrap(Box<crate::BwrapSandbox>),
}

/// A policy compiled for the backend this host runs it with.
///
/// ```no_run
/// use sandbox_core::{PolicyBuilder, Preset};
/// use sandbox_linux::{Options, Sandbox};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policy = PolicyBuilder::new(Preset::WorkspaceWrite).cwd("/work/repo").build()?;
/// let sandbox = Sandbox::new(&policy, Options::default())?; // bwrap, else Landlock
/// let (mut cmd, applied) = sandbox.command("cargo")?;
/// cmd.arg("test").current_dir("/work/repo");
/// let status = cmd.status()?; // or tokio::process::Command::from(cmd)
/// applied.finish(status)?; // bwrap's own setup failure becomes an error here
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Sandbox {
    selection: Selection,
    inner: Inner,
}

/// The plan of either backend: serializable, and printable with [`Plan::to_text`].
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Plan<'a> {
    Landlock(&'a LandlockPlan),
    Bwrap(&'a BwrapPlan),
}

impl Plan<'_> {
    /// The plan for humans (what `sandbox profile linux` prints).
    pub fn to_text(&self) -> String {
        match self {
            Plan::Landlock(p) => p.to_text(),
            Plan::Bwrap(p) => p.to_text(),
        }
    }
}

/// What one sandboxed command holds until it has exited (see the module docs).
#[derive(Debug)]
#[must_use = "dropping it releases the command's sandbox resources while it may still run"]
pub struct Applied {
    landlock: LandlockGuard,
    bwrap: Option<crate::bwrap::command::Prepared>,
}

impl Applied {
    /// After `spawn` failed: the sandbox setup step that failed in the child (Landlock), if
    /// that was the cause rather than `exec` itself.
    pub fn setup_failure(&self) -> Option<crate::landlock::launch::StepError> {
        self.landlock.setup_failure()
    }

    /// `proxy` network mode (Landlock): the listener inside the command's network
    /// namespace, on which the caller serves the egress proxy.
    pub fn take_proxy_listener(&self) -> Option<std::net::TcpListener> {
        self.landlock.take_proxy_listener()
    }

    /// Call after the command exited with `status`: releases what this guard holds, and
    /// turns a bwrap setup failure (bwrap's status 1 on a host that refuses its namespaces)
    /// into an error instead of a command result. The `Command` holds its `pre_exec` step
    /// (and with it the Landlock launch data): drop it too once the command has exited.
    pub fn finish(self, status: ExitStatus) -> Result<ExitStatus, Error> {
        if let Some(prepared) = &self.bwrap {
            prepared.diagnose_exit(status)?;
        }
        Ok(status)
    }
}

impl Sandbox {
    /// Chooses the backend as `options.backend` says, probing this host, and compiles
    /// `policy` for it; fails closed unless `options.best_effort`.
    ///
    /// `Auto` takes bwrap when it is installed and can make user namespaces, else Landlock;
    /// and Landlock too when bwrap cannot express this policy (a path that is not UTF-8, a
    /// symbolic link held as it is, …). An explicit backend is used or refused, never
    /// swapped. Every refusal happens here, before anything runs.
    pub fn new(policy: &ResolvedPolicy, options: Options) -> Result<Sandbox, Error> {
        Sandbox::build(policy, options, Probe::Full)
    }

    /// Like [`Sandbox::new`], but the mount-namespace answer for Landlock may come from a
    /// per-user marker instead of a forked trial (two forks saved per launch). A wrong
    /// marker shows as a namespace-setup failure ([`Applied::setup_failure`]) with nothing
    /// run; the caller then goes on with [`Sandbox::without_mount_namespace`]. The CLI uses
    /// this.
    pub fn for_launch(policy: &ResolvedPolicy, options: Options) -> Result<Sandbox, Error> {
        Sandbox::build(policy, options, Probe::Launch)
    }

    /// The sandbox whose plan `sandbox profile linux` prints: bwrap's plan uses the local
    /// bwrap's flags when one is installed, and no namespace trial runs for it.
    pub fn for_profile(policy: &ResolvedPolicy, options: Options) -> Result<Sandbox, Error> {
        Sandbox::build(policy, options, Probe::Profile)
    }

    fn build(policy: &ResolvedPolicy, options: Options, probe: Probe) -> Result<Sandbox, Error> {
        let landlock = |reason: String| -> Result<Sandbox, Error> {
            let inner = match probe {
                Probe::Full => LandlockSandbox::new(policy, options.clone())?,
                Probe::Launch => LandlockSandbox::for_launch(policy, options.clone())?,
                Probe::Profile => LandlockSandbox::with_capabilities(
                    policy,
                    &crate::host::probe::probe(),
                    options.clone(),
                )?,
            };
            Ok(Sandbox {
                selection: Selection {
                    backend: Backend::Landlock,
                    reason,
                },
                inner: Inner::Landlock(Box::new(inner)),
            })
        };
        // `found`: the bwrap `Auto` found while choosing, not looked up again.
        let bwrap = |reason: Option<String>, found| -> Result<Sandbox, Error> {
            let inner = match probe {
                Probe::Profile => {
                    crate::BwrapSandbox::for_profile_found(policy, options.clone(), found)?
                }
                _ => crate::BwrapSandbox::with_found(policy, options.clone(), found)?,
            };
            let reason = reason.unwrap_or_else(|| format!("{} (requested)", inner.describe()));
            Ok(Sandbox {
                selection: Selection {
                    backend: Backend::Bwrap,
                    reason,
                },
                inner: Inner::Bwrap(Box::new(inner)),
            })
        };
        match options.backend {
            Requested::Landlock => landlock("requested".into()),
            Requested::Bwrap => bwrap(None, None),
            // No sandbox at all: bwrap's unrestricted plan runs the command as it is.
            Requested::Auto if policy.unrestricted => {
                bwrap(Some("danger-full-access: no sandbox".into()), None)
            }
            Requested::Auto => {
                let (chosen, found) = match probe {
                    Probe::Profile => host::choose_auto(policy).unwrap_or((
                        Selection {
                            backend: Backend::Landlock,
                            reason: "bwrap is not usable here".into(),
                        },
                        None,
                    )),
                    _ => host::choose_auto(policy)?,
                };
                if chosen.backend == Backend::Landlock {
                    return landlock(chosen.reason);
                }
                match bwrap(Some(chosen.reason), found) {
                    // bwrap cannot express this policy; Landlock may (it refuses on its own
                    // when it cannot enforce the whole policy either).
                    Err(Error::Bwrap(LaunchError::Compile(
                        e @ crate::bwrap::BwrapError::Unsupported { .. },
                    ))) => landlock(format!("bwrap cannot enforce this policy: {e}")),
                    other => other,
                }
            }
        }
    }

    /// bwrap could not make the sandbox's namespaces after all (nothing ran, `e` says why).
    /// With `Auto`: the sandbox without bwrap, or the refusal; an explicit backend is never
    /// swapped, so then `e` itself is the error.
    pub fn after_refusal(
        &self,
        policy: &ResolvedPolicy,
        options: Options,
        e: LaunchError,
    ) -> Result<Sandbox, Error> {
        if options.backend != Requested::Auto || !matches!(e, LaunchError::Userns(_)) {
            return Err(Error::Bwrap(e));
        }
        let chosen = host::after_refusal(&e)?;
        let inner = LandlockSandbox::for_launch(policy, options)?;
        Ok(Sandbox {
            selection: chosen,
            inner: Inner::Landlock(Box::new(inner)),
        })
    }

    /// Landlock only, after a launch failed at the namespace step: the same policy compiled
    /// for a host without a private mount namespace (a refusal, or with `best_effort` the
    /// degradations).
    pub fn without_mount_namespace(&self, policy: &ResolvedPolicy) -> Result<Sandbox, Error> {
        match &self.inner {
            Inner::Landlock(l) => Ok(Sandbox {
                selection: self.selection.clone(),
                inner: Inner::Landlock(Box::new(l.without_mount_namespace(policy)?)),
            }),
            Inner::Bwrap(_) => Err(Error::Landlock(LinuxError::NotImplemented(
                "without_mount_namespace is for the Landlock backend".into(),
            ))),
        }
    }

    /// The backend in use and why (what `-v` prints).
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.selection.backend
    }

    /// What will be enforced.
    pub fn plan(&self) -> Plan<'_> {
        match &self.inner {
            Inner::Landlock(l) => Plan::Landlock(l.plan()),
            Inner::Bwrap(b) => Plan::Bwrap(b.plan()),
        }
    }

    /// The plan as `sandbox profile linux` prints it (text).
    pub fn profile_text(&self) -> String {
        match &self.inner {
            Inner::Landlock(l) => l.plan().to_text(),
            Inner::Bwrap(b) => b.to_text(),
        }
    }

    /// The plan as `sandbox profile linux --format json` prints it (pretty JSON, fields in
    /// the plan's order).
    pub fn profile_json(&self) -> String {
        let json = match &self.inner {
            Inner::Landlock(l) => serde_json::to_string_pretty(l.plan()),
            Inner::Bwrap(b) => serde_json::to_string_pretty(&b.to_json()),
        };
        json.unwrap_or_default()
    }

    /// The gaps accepted with `best_effort` (empty otherwise).
    pub fn degradations(&self) -> &[Degradation] {
        match &self.inner {
            Inner::Landlock(l) => &l.plan().degradations,
            Inner::Bwrap(b) => &b.plan().degradations,
        }
    }

    /// Warnings that are not degradations (a deny glob scanned only to its depth limit).
    pub fn warnings(&self) -> &[String] {
        match &self.inner {
            Inner::Landlock(l) => &l.plan().warnings,
            Inner::Bwrap(b) => b.warnings(),
        }
    }

    /// The Landlock sandbox, when that is the backend (for launchers that need its
    /// in-place `exec`).
    pub fn as_landlock(&self) -> Option<&LandlockSandbox> {
        match &self.inner {
            Inner::Landlock(l) => Some(l),
            Inner::Bwrap(_) => None,
        }
    }

    /// The bwrap sandbox, when that is the backend (for launchers that need its
    /// supervised `run`).
    pub fn as_bwrap(&self) -> Option<&crate::BwrapSandbox> {
        match &self.inner {
            Inner::Bwrap(b) => Some(b),
            Inner::Landlock(_) => None,
        }
    }

    /// A `Command` that runs `program` (a path, or a name looked up in `PATH`: inside the
    /// sandbox for bwrap, by the standard library for Landlock) under this sandbox. Add
    /// arguments, environment, stdio and working directory as usual (default: the caller's),
    /// spawn it (also as `tokio::process::Command::from(cmd)`), keep the [`Applied`] until it
    /// has exited and then call [`Applied::finish`]. Host unix sockets are looked up again
    /// here: one bound since the sandbox was made is closed too.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Result<(Command, Applied), Error> {
        let program = program.as_ref();
        match &self.inner {
            Inner::Landlock(l) => {
                let mut cmd = Command::new(program);
                let guard = l.apply(&mut cmd)?;
                Ok((
                    cmd,
                    Applied {
                        landlock: guard,
                        bwrap: None,
                    },
                ))
            }
            Inner::Bwrap(b) => {
                let (cmd, prepared) = b.command(program)?;
                Ok((
                    cmd,
                    Applied {
                        landlock: LandlockGuard::default(),
                        bwrap: prepared,
                    },
                ))
            }
        }
    }
}

/// How much probing a construction does.
#[derive(Clone, Copy)]
enum Probe {
    /// Forked trials for every answer.
    Full,
    /// Remembered answers where a wrong one is caught at launch.
    Launch,
    /// For printing a plan: no bwrap namespace trial.
    Profile,
}
