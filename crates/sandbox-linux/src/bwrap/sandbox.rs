//! The bubblewrap backend's embedding type [`BwrapSandbox`], shaped like the Landlock
//! backend's [`crate::LandlockSandbox`]: `new` finds bwrap, learns its flags (cached per user, see
//! [`crate::host::cache`]), expands the deny globs, compiles the seccomp filter and the
//! [`BwrapPlan`]; [`BwrapSandbox::run`] runs a command under it.
//!
//! The happy path starts no probe subprocess: bwrap is run directly, and only when it exits
//! with status 1 (bwrap's status for a failed setup) do trial runs decide whether the sandbox
//! could have been set up at all ([`crate::bwrap::diagnose::diagnose_exit`]). If it could not, the
//! command never ran and the diagnosis is returned; a host that refuses only a fresh `/proc`
//! gets the documented fallback with `best_effort`.

use crate::bwrap::diagnose::{self, Verdict};
use crate::bwrap::error::LaunchError;
use crate::bwrap::features::{self, FoundBwrap};
use crate::bwrap::launch::{self, check_command};
use crate::bwrap::plan::{
    compile, host_is_empty_dir, host_kind_of, BwrapFeatures, BwrapInput, BwrapPlan,
};
use crate::deny_globs::{expand, DenyMatch, ExpandOptions, Expansion};
use crate::Options;
use sandbox_core::ResolvedPolicy;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// A compiled bubblewrap sandbox.
#[derive(Debug, Clone)]
pub struct BwrapSandbox {
    bwrap: Option<PathBuf>,
    features: BwrapFeatures,
    deny_matches: Vec<DenyMatch>,
    warnings: Vec<String>,
    seccomp: Vec<u8>,
    /// Host unix sockets found at construction ([`crate::host::sockets::scan`]).
    host_sockets: Vec<PathBuf>,
    /// The sandbox shares the host's network namespace: bwrap starts inside a Landlock
    /// domain that scopes abstract unix sockets ([`crate::bwrap::abstract_scope`]).
    scope_abstract: bool,
    plan: BwrapPlan,
    /// The plan before host sockets were masked: each embedded command masks the sockets
    /// bound at its own start ([`BwrapSandbox::command`]).
    unmasked: BwrapPlan,
    policy: ResolvedPolicy,
    opts: Options,
}

impl BwrapSandbox {
    /// Finds bwrap and compiles `policy` for it; fails closed unless `opts.best_effort`.
    /// Honours the test hooks [`diagnose::FORCE_NO_USERNS_ENV`] (refused up front, with the
    /// diagnosis) and [`diagnose::FORCE_NO_PROC_ENV`] (the host refuses `/proc`).
    pub fn new(policy: &ResolvedPolicy, opts: Options) -> Result<BwrapSandbox, LaunchError> {
        BwrapSandbox::with_found(policy, opts, None)
    }

    /// [`BwrapSandbox::new`] with the bwrap `--backend auto` already found for this policy
    /// ([`crate::select::host::choose_auto`]), so it is not looked up (nor its flags read)
    /// twice; `None` looks it up.
    pub fn with_found(
        policy: &ResolvedPolicy,
        opts: Options,
        found: Option<FoundBwrap>,
    ) -> Result<BwrapSandbox, LaunchError> {
        if policy.unrestricted {
            return BwrapSandbox::build(policy, opts, None, BwrapFeatures::assumed());
        }
        let (bin, known) = match found {
            Some(f) => (f.path, f.features),
            None => (find(policy).ok_or(LaunchError::NotFound)?, None),
        };
        if let Some(e) = diagnose::forced_refusal() {
            return Err(e);
        }
        let mut features = match known {
            Some(f) => f,
            None => features::cached_features(&bin)?,
        };
        features.proc_mount = !diagnose::forced_no_proc();
        match BwrapSandbox::build(policy, opts.clone(), Some(bin.clone()), features) {
            // Refused for a flag the cache says bwrap lacks: ask bwrap itself before refusing
            // (a stale or tampered entry must not block every later run).
            Err(LaunchError::Compile(crate::bwrap::plan::BwrapError::MissingFlag { .. })) => {
                let mut fresh = features::fresh_features(&bin)?;
                fresh.proc_mount = !diagnose::forced_no_proc();
                BwrapSandbox::build(policy, opts, Some(bin), fresh)
            }
            other => other,
        }
    }

    /// The plan `new` would build, for printing: uses the local bwrap's flags when one is
    /// installed (else those of a current bwrap) and probes nothing about namespaces.
    pub fn for_profile(
        policy: &ResolvedPolicy,
        opts: Options,
    ) -> Result<BwrapSandbox, LaunchError> {
        BwrapSandbox::for_profile_found(policy, opts, None)
    }

    /// [`BwrapSandbox::for_profile`] with the bwrap `--backend auto` already found (`None`
    /// looks it up).
    pub fn for_profile_found(
        policy: &ResolvedPolicy,
        opts: Options,
        found: Option<FoundBwrap>,
    ) -> Result<BwrapSandbox, LaunchError> {
        let (bin, known) = match found {
            Some(f) => (Some(f.path), f.features),
            None => (find(policy), None),
        };
        let features = known.or_else(|| {
            bin.as_deref()
                .and_then(|b| features::cached_features(b).ok())
        });
        match features {
            Some(f) => BwrapSandbox::build(policy, opts, bin, f),
            None => BwrapSandbox::build(policy, opts, None, BwrapFeatures::assumed()),
        }
    }

    fn build(
        policy: &ResolvedPolicy,
        opts: Options,
        bwrap: Option<PathBuf>,
        features: BwrapFeatures,
    ) -> Result<BwrapSandbox, LaunchError> {
        // The placeholder records stay out of the command's reach, whoever resolved `policy`.
        let policy = &*crate::placeholder::records::protected(policy).map_err(|e| {
            LaunchError::io(
                crate::placeholder::records::REASON,
                std::io::Error::other(e.to_string()),
            )
        })?;
        let expansion = if policy.deny_globs.is_empty() || policy.unrestricted {
            Expansion::default()
        } else {
            let o = ExpandOptions {
                max_depth: policy.glob_scan_max_depth,
                ..ExpandOptions::default()
            };
            expand(&policy.deny_globs, &o)?
        };
        let warnings = expansion.warnings();
        let deny_matches = expansion.matches;
        let seccomp = if policy.unrestricted {
            Vec::new()
        } else {
            crate::seccomp::compile(policy)
                .map_err(LaunchError::Seccomp)?
                .to_bytes()
        };
        let host_sockets = if crate::host::sockets::needed(policy) {
            crate::host::sockets::scan().map_err(|e| {
                LaunchError::io("reading the host's unix sockets (/proc/net/unix)", e)
            })?
        } else {
            Vec::new()
        };
        let mut plan = compile_plan(policy, &deny_matches, &features, &seccomp, opts.best_effort)?;
        let unmasked = plan.clone();
        crate::bwrap::plan::mask_host_sockets(&mut plan, policy, &host_sockets)?;
        let scope_abstract = !plan.unrestricted && !plan.unshare_net;
        if scope_abstract && crate::host::probe::landlock_abi().unwrap_or(0) < 6 {
            let what = "the host's abstract unix sockets stay reachable with --network (keeping them out needs Landlock ABI 6, Linux 6.12+)";
            if !opts.best_effort {
                return Err(LaunchError::Compile(crate::bwrap::plan::BwrapError::Unsupported {
                    feature: what.into(),
                    hint: "leave the network off (bwrap then gives the sandbox its own abstract namespace), or pass --best-effort to run with this gap".into(),
                }));
            }
            plan.degradations.push(sandbox_core::Degradation::new(
                sandbox_core::Capability::AbstractUnixClosed,
                what,
            ));
        }
        let scope_abstract = scope_abstract && crate::host::probe::landlock_abi().unwrap_or(0) >= 6;
        Ok(BwrapSandbox {
            bwrap,
            features,
            deny_matches,
            warnings,
            seccomp,
            host_sockets,
            scope_abstract,
            plan,
            unmasked,
            policy: policy.clone(),
            opts,
        })
    }

    /// What will be enforced.
    pub fn plan(&self) -> &BwrapPlan {
        &self.plan
    }

    /// The bwrap binary (`None` for an unrestricted policy, or a profile on a host without
    /// bwrap).
    pub fn bwrap(&self) -> Option<&Path> {
        self.bwrap.as_deref()
    }

    /// The bwrap flags the plan was compiled for.
    pub fn features(&self) -> &BwrapFeatures {
        &self.features
    }

    /// The paths the deny globs matched at construction (masked by the plan).
    pub fn deny_matches(&self) -> &[DenyMatch] {
        &self.deny_matches
    }

    /// Warnings that are not degradations, one line each (a deny glob scanned only to
    /// `glob_scan_max_depth`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// How host unix sockets are kept out of reach (for `-v` and `doctor`).
    pub fn unix_socket_mechanism(&self) -> crate::host::sockets::Mechanism {
        if crate::host::sockets::needed(&self.policy) {
            crate::host::sockets::Mechanism::MountMask
        } else {
            crate::host::sockets::Mechanism::NotNeeded
        }
    }

    /// How the host's abstract unix sockets are kept out of reach, in words (for `-v`).
    pub fn abstract_socket_mechanism(&self) -> &'static str {
        if self.plan.unrestricted {
            "not enforced (no sandbox)"
        } else if self.plan.unshare_net {
            "own network namespace"
        } else if self.scope_abstract {
            "landlock abstract-unix scope"
        } else {
            "not enforced (degraded)"
        }
    }

    /// `bubblewrap 0.8.0 at /usr/bin/bwrap`, for `-v`.
    pub fn describe(&self) -> String {
        format!(
            "bubblewrap {} at {}",
            self.features
                .version
                .as_deref()
                .unwrap_or("(unknown version)"),
            self.bwrap
                .as_deref()
                .map_or_else(|| "(none)".into(), |p| p.display().to_string())
        )
    }

    /// The plan as `sandbox profile linux` prints it: `#` lines (the bwrap used, deny-glob
    /// matches, warnings, the network mode), then [`BwrapPlan::to_text`].
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut text = String::new();
        if let Some(p) = &self.bwrap {
            let _ = writeln!(text, "# bwrap: {}", p.display());
        }
        if !self.policy.deny_globs.is_empty() {
            let _ = writeln!(
                text,
                "# deny globs: {} matching paths masked; files created after launch are not covered on Linux",
                self.deny_matches.len()
            );
        }
        for w in &self.warnings {
            let _ = writeln!(text, "# warning: {w}");
        }
        match &self.policy.network {
            sandbox_core::NetworkPolicy::Loopback => {
                let _ = writeln!(text, "# network: loopback only (--unshare-net)");
            }
            sandbox_core::NetworkPolicy::Proxy { allow, deny, .. } => {
                let _ = writeln!(
                    text,
                    "# network: proxy (--unshare-net; the launcher's egress proxy listens on 127.0.0.1:{} inside, started through --info-fd/--block-fd); allow: {}; deny: {}",
                    crate::netns::PROXY_PORT,
                    if allow.is_empty() { "(nothing)".to_string() } else { allow.join(" ") },
                    if deny.is_empty() { "-".to_string() } else { deny.join(" ") },
                );
            }
            _ => {}
        }
        text.push_str(&self.plan.to_text());
        text
    }

    /// The plan as `sandbox profile linux --format json` prints it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "backend": "bwrap",
            "bwrap": self.bwrap,
            "features": self.features,
            "deny_matches": self.deny_matches,
            "warnings": self.warnings,
            "plan": self.plan,
        })
    }

    /// A `Command` that runs `program` under this sandbox, for embedders: the caller adds
    /// arguments, environment and stdio, spawns it (also as `tokio::process::Command`), and
    /// keeps the returned [`crate::bwrap::command::Prepared`] until the child has exited.
    /// Unlike [`BwrapSandbox::run`] it touches no fd number, signal handler or process-wide
    /// flag of the calling process. The `proxy` network mode is refused here (it needs the
    /// launcher's start gate; see [`BwrapSandbox::run_gated`]).
    pub fn command(
        &self,
        program: &std::ffi::OsStr,
    ) -> Result<
        (
            std::process::Command,
            Option<crate::bwrap::command::Prepared>,
        ),
        LaunchError,
    > {
        if self.plan.unrestricted {
            return Ok((std::process::Command::new(program), None));
        }
        if matches!(
            self.policy.network,
            sandbox_core::NetworkPolicy::Proxy { .. }
        ) {
            return Err(LaunchError::Compile(crate::bwrap::plan::BwrapError::Unsupported {
                feature: "network proxy mode in an embedded bwrap command".into(),
                hint: "use the landlock backend (its Applied guard hands over the proxy listener), or run through the sandbox CLI".into(),
            }));
        }
        check_command(program, &self.policy.cwd)?;
        let bin = self.bwrap.as_deref().ok_or(LaunchError::NotFound)?;
        // A sandbox is made once and used for many commands: the host sockets are those of
        // now ("sockets bound after the launch" is the documented limit, and for an embedder
        // the launch is this call, not `new`). One bound since construction must be closed;
        // one removed since must not be masked (bwrap cannot make its mount point: exit 1).
        let mut plan = self.plan.clone();
        if crate::host::sockets::needed(&self.policy) {
            plan = self.unmasked.clone();
            let now = crate::host::sockets::scan().map_err(|e| {
                LaunchError::io("reading the host's unix sockets (/proc/net/unix)", e)
            })?;
            crate::bwrap::plan::mask_host_sockets(&mut plan, &self.policy, &now)?;
        }
        let (cmd, prepared) = crate::bwrap::command::command(
            bin,
            &plan,
            program,
            self.scope_abstract,
            self.features.proc_mount,
        )?;
        Ok((cmd, Some(prepared)))
    }

    /// Runs `command` (program and arguments; the program is looked up in `PATH` inside the
    /// sandbox) and returns the exit code to pass on: the command's, or `128+N` for signal N.
    ///
    /// For the CLI: it takes over fd numbers of this process ([`launch::launch`]) and,
    /// while the command runs, its SIGTERM/SIGHUP/SIGINT/SIGQUIT handlers and child-subreaper
    /// flag ([`crate::supervise`]); an unrestricted policy `exec`s the command in place. `warn` receives each degradation
    /// accepted during the run (a `/proc` refusal found only when bwrap failed), before the
    /// command is started again without `/proc`.
    pub fn run(
        &self,
        command: &[OsString],
        warn: &mut dyn FnMut(&sandbox_core::Degradation),
    ) -> Result<u8, LaunchError> {
        self.run_gated(command, warn, None)
    }

    /// [`BwrapSandbox::run`] with a start hook ([`crate::bwrap::gate`]): `on_start` gets the
    /// pid of the sandbox process before the command runs (once per bwrap started). The
    /// `proxy` network mode needs one: it is where the egress proxy makes its listener inside
    /// the command's network namespace, the only way out of it.
    pub fn run_gated(
        &self,
        command: &[OsString],
        warn: &mut dyn FnMut(&sandbox_core::Degradation),
        mut on_start: Option<&mut crate::bwrap::gate::OnStart<'_>>,
    ) -> Result<u8, LaunchError> {
        if matches!(
            self.policy.network,
            sandbox_core::NetworkPolicy::Proxy { .. }
        ) && on_start.is_none()
            && !self.plan.unrestricted
        {
            return Err(LaunchError::Compile(crate::bwrap::plan::BwrapError::Unsupported {
                feature: "network proxy mode without an egress proxy".into(),
                hint: "run it with run_gated and a hook that starts sandbox-egress's proxy (the sandbox CLI does)".into(),
            }));
        }
        let program = command
            .first()
            .ok_or_else(|| LaunchError::CommandNotFound(String::new()))?;
        if self.plan.unrestricted {
            let e = std::process::Command::new(program)
                .args(&command[1..])
                .exec();
            let shown = program.to_string_lossy().into_owned();
            return Err(match e.kind() {
                std::io::ErrorKind::NotFound => LaunchError::CommandNotFound(shown),
                std::io::ErrorKind::PermissionDenied => LaunchError::CommandNotExecutable(shown),
                _ => LaunchError::io(format!("executing {shown}"), e),
            });
        }
        check_command(program, &self.policy.cwd)?;
        let bin = self.bwrap.as_deref().ok_or(LaunchError::NotFound)?;
        let code = launch::launch_with(
            bin,
            &self.plan,
            command,
            self.scope_abstract,
            on_start.as_deref_mut(),
        )?;
        if code != 1 {
            return Ok(code);
        }
        match diagnose::diagnose_exit(bin) {
            Verdict::Works => Ok(1),
            Verdict::Refused(e) => Err(e),
            // Already planned without /proc: the 1 is not about /proc.
            Verdict::NoProc if !self.features.proc_mount => Ok(1),
            Verdict::NoProc => {
                let features = BwrapFeatures {
                    proc_mount: false,
                    ..self.features.clone()
                };
                let mut plan = compile_plan(
                    &self.policy,
                    &self.deny_matches,
                    &features,
                    &self.seccomp,
                    self.opts.best_effort,
                )?;
                crate::bwrap::plan::mask_host_sockets(&mut plan, &self.policy, &self.host_sockets)?;
                for d in &plan.degradations {
                    if !self.plan.degradations.contains(d) {
                        warn(d);
                    }
                }
                launch::launch_with(bin, &plan, command, self.scope_abstract, on_start)
            }
        }
    }
}

/// The bwrap to use for `policy` (never one in a directory the sandbox can write).
fn find(policy: &ResolvedPolicy) -> Option<PathBuf> {
    let writable: Vec<PathBuf> = policy
        .writable_roots
        .iter()
        .map(|r| r.path.clone())
        .collect();
    features::find_bwrap(std::env::var_os("PATH").as_deref(), &writable)
}

/// Compiles the plan against the host filesystem.
fn compile_plan(
    policy: &ResolvedPolicy,
    deny_matches: &[DenyMatch],
    features: &BwrapFeatures,
    seccomp: &[u8],
    best_effort: bool,
) -> Result<BwrapPlan, LaunchError> {
    Ok(compile(&BwrapInput {
        policy,
        deny_matches,
        features,
        seccomp_program: (!seccomp.is_empty()).then_some(seccomp),
        kind_of: &host_kind_of,
        is_empty_dir: &host_is_empty_dir,
        read_link: &|p: &Path| std::fs::read_link(p).ok(),
        best_effort,
    })?)
}
