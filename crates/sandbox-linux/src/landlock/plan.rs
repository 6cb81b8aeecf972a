//! The Landlock backend's plan: what [`compile`] makes of a policy on a host with given
//! capabilities (ruleset, mount namespace steps, seccomp, the gaps), as a printable value.

use crate::host::probe::Capabilities;
use crate::host::sockets::{self, Mechanism};
use crate::landlock::mountns::{self, MountPlan};
use crate::landlock::ruleset::{self, RulesetPlan};
use crate::seccomp::{self, SeccompPlan};
use crate::{LinuxError, Options};
use sandbox_core::{Capability, Degradation, NetworkPolicy, ResolvedPolicy, UnixSockets};
use serde::Serialize;
use std::path::PathBuf;

/// Everything the Landlock backend will enforce, as a printable value.
#[derive(Clone, Debug, Serialize)]
pub struct LandlockPlan {
    pub backend: &'static str,
    /// The policy's name (`workspace-write`, `profile NAME`).
    pub policy: String,
    /// Nothing is applied (`danger-full-access`).
    pub unrestricted: bool,
    pub landlock: Option<RulesetPlan>,
    /// Private mount namespace steps; `None` when no namespace can be made here.
    pub mounts: Option<MountPlan>,
    /// The mount namespace is made inside a new user namespace (not running as root).
    pub user_namespace: bool,
    pub seccomp: Option<SeccompPlan>,
    pub no_new_privs: bool,
    /// Inherited fds above 2 are marked close-on-exec.
    pub close_inherited_fds: bool,
    /// Every capability is dropped, bounding set included (a root command runs powerless).
    pub drop_capabilities: bool,
    /// How host unix sockets the policy closes are kept out of reach.
    pub unix_sockets: Mechanism,
    /// A network namespace of the command's own with only loopback (`loopback` and `proxy`
    /// network modes); in proxy mode the launcher serves the egress proxy on a listener made
    /// there ([`LandlockGuard::take_proxy_listener`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_network: Option<crate::netns::PrivateNetwork>,
    /// Gaps accepted with `best_effort`; empty otherwise.
    pub degradations: Vec<Degradation>,
    /// Warnings for the user that are not degradations, one line each (a deny glob scanned only
    /// to `glob_scan_max_depth`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn unsupported(feature: &str, why: String, hint: &str) -> LinuxError {
    LinuxError::Unsupported {
        feature: feature.into(),
        why,
        hint: hint.into(),
    }
}

const DEGRADE_HINT: &str =
    "pass --best-effort to run with this gap (printed as a warning), or use --backend bwrap";

/// Compiles `policy` for the Landlock backend on a host with `caps`. `terminals` are the
/// caller's terminal devices (see [`ruleset::compile`]).
pub fn compile(
    policy: &ResolvedPolicy,
    caps: &Capabilities,
    opts: &Options,
    terminals: &[PathBuf],
) -> Result<LandlockPlan, LinuxError> {
    if policy.unrestricted {
        return Ok(LandlockPlan {
            backend: "landlock",
            policy: policy.description.clone(),
            unrestricted: true,
            landlock: None,
            mounts: None,
            user_namespace: false,
            seccomp: None,
            no_new_privs: false,
            close_inherited_fds: false,
            drop_capabilities: false,
            unix_sockets: Mechanism::NotNeeded,
            private_network: None,
            degradations: Vec::new(),
            warnings: Vec::new(),
        });
    }
    let Some(abi) = caps.landlock_abi else {
        return Err(unsupported(
            "landlock",
            "the kernel offers no Landlock (needs Linux 5.13+ with `landlock` in the active LSM list)"
                .into(),
            "enable Landlock (boot parameter lsm=…,landlock), or use --backend bwrap where user namespaces work",
        ));
    };
    if !caps.seccomp {
        return Err(unsupported(
            "seccomp",
            "the kernel has no seccomp filter support".into(),
            "use a kernel built with CONFIG_SECCOMP_FILTER",
        ));
    }
    let mut gaps: Vec<Degradation> = Vec::new();
    let mut policy_eff = policy.clone();
    // loopback and proxy modes: a network namespace of the command's own, made in the same
    // child as the mount namespace (so it needs one: a user namespace when not root).
    let private_network = match policy.network {
        NetworkPolicy::Loopback => Some(crate::netns::PrivateNetwork { proxy_port: None }),
        NetworkPolicy::Proxy { .. } => Some(crate::netns::PrivateNetwork {
            proxy_port: Some(crate::netns::PROXY_PORT),
        }),
        _ => None,
    };
    if private_network.is_some() && !caps.mount_namespace {
        let (feature, mode) = if policy.network == NetworkPolicy::Loopback {
            (Capability::LoopbackOnly, "loopback")
        } else {
            (Capability::AllowlistEgress, "proxy")
        };
        policy_eff.network = NetworkPolicy::Off;
        gaps.push(Degradation::new(
            feature,
            format!(
                "the {mode} network mode needs a private network namespace, which cannot be made here (user namespaces blocked?): network is off instead"
            ),
        ));
    }
    let unix_mechanism = if !sockets::needed(policy) {
        Mechanism::NotNeeded
    } else if abi >= 9 && policy.unix_sockets != UnixSockets::All {
        Mechanism::LandlockResolveUnix
    } else if caps.mount_namespace {
        Mechanism::MountMask
    } else {
        Mechanism::Unavailable
    };
    let mut ll = ruleset::compile(&policy_eff, abi, terminals);
    if ll.scoped.bits == 0 {
        gaps.push(Degradation::new(
            Capability::SignalScope,
            format!(
                "Landlock ABI {abi} cannot scope signals and abstract unix sockets (needs ABI 6, Linux 6.12+)"
            ),
        ));
    }
    let expansion = crate::deny_globs::expand(
        &policy.deny_globs,
        &crate::deny_globs::ExpandOptions {
            max_depth: policy.glob_scan_max_depth,
            ..Default::default()
        },
    )
    .map_err(|e| unsupported("filesystem.deny_read", e.to_string(), e.hint()))?;
    let mount_plan = mountns::compile(&policy_eff, &expansion.matches);
    let mounts = if caps.mount_namespace {
        gaps.extend(mount_plan.unenforceable.iter().cloned());
        Some(mount_plan)
    } else {
        let why = "no private mount namespace can be made here (user namespaces blocked?)";
        if !policy.protected_paths().is_empty() {
            gaps.push(Degradation::new(
                Capability::ProtectedSubpaths,
                format!("protected subpaths (.git, .codex, …) stay writable: {why}"),
            ));
        }
        // No private /dev either: Landlock alone keeps the host's out of reach.
        if crate::landlock::private_dev::compile(&policy_eff).is_some() {
            ruleset::keep_out_of_host_dev(&mut ll, &root_entries());
        }
        if let Some(r) = mountns::carved_read_rules(policy).first() {
            gaps.push(Degradation::new(
                Capability::ReadPaths,
                format!(
                    "read rules inside writable roots ({}, …) stay writable: {why}",
                    r.path.display()
                ),
            ));
        }
        gaps.push(Degradation::new(
            Capability::Metadata,
            format!("chmod, chown, utime, setxattr and truncate outside the writable roots are not blocked: {why}"),
        ));
        if mount_plan.steps.iter().any(|s| {
            matches!(
                s,
                mountns::MountStep::MaskDir { .. } | mountns::MountStep::MaskFile { .. }
            )
        }) {
            gaps.push(Degradation::new(
                Capability::DenyRead,
                format!("denied paths under readable trees stay readable: {why}"),
            ));
        }
        gaps.extend(
            mount_plan
                .unenforceable
                .iter()
                .filter(|d| {
                    d.capability != Capability::ProtectedCreate
                        || policy.protected_paths().is_empty()
                })
                .cloned(),
        );
        None
    };
    if unix_mechanism == Mechanism::Unavailable {
        gaps.push(Degradation::new(
            Capability::UnixSocketPaths,
            "host unix sockets cannot be closed here (no private mount namespace, Landlock \
             ABI below 9): unix sockets other than socketpair are refused instead, and a \
             datagram socketpair can still send to host sockets",
        ));
    }
    if !opts.best_effort {
        if let Some(Degradation {
            capability, detail, ..
        }) = gaps.first()
        {
            let more = match gaps.len() {
                1 => String::new(),
                n => format!(" (and {} more gap(s))", n - 1),
            };
            let hint = if *capability == Capability::UnixSocketPaths {
                crate::error::UNIX_SOCKET_PATHS_HINT
            } else {
                DEGRADE_HINT
            };
            return Err(unsupported(
                capability.key(),
                format!("{detail}{more}"),
                hint,
            ));
        }
    }
    Ok(LandlockPlan {
        backend: "landlock",
        policy: policy.description.clone(),
        unrestricted: false,
        landlock: Some(ll),
        mounts,
        user_namespace: caps.mount_namespace && !caps.root,
        seccomp: Some(seccomp::compile_with(
            &policy_eff,
            unix_mechanism == Mechanism::Unavailable,
        )?),
        no_new_privs: true,
        close_inherited_fds: true,
        drop_capabilities: true,
        unix_sockets: unix_mechanism,
        private_network: private_network.filter(|_| caps.mount_namespace),
        degradations: gaps,
        warnings: expansion.warnings(),
    })
}

/// The entries of `/` on this host.
fn root_entries() -> Vec<PathBuf> {
    std::fs::read_dir("/")
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// Adds a [`mountns::MountStep::MaskSocket`] step, after every other step, for each host
/// socket in `sockets` (canonical paths, [`sockets::scan`]) that `policy` closes.
pub fn mask_host_sockets(plan: &mut LandlockPlan, policy: &ResolvedPolicy, sockets: &[PathBuf]) {
    if let Some(m) = plan.mounts.as_mut() {
        m.steps.extend(
            sockets::closed(policy, sockets)
                .into_iter()
                .map(|path| mountns::MountStep::MaskSocket { path }),
        );
    }
}

impl LandlockPlan {
    /// True when the run may hold placeholder mount targets for protected paths (made by
    /// this run for missing ones, or left by a concurrent run for existing ones), which must
    /// be removed after the command exits: the caller has to outlive it. (The CLI waits for
    /// every restricted run anyway, to forward signals and kill what the command leaves.)
    pub fn needs_cleanup(&self) -> bool {
        self.mounts.as_ref().is_some_and(|m| {
            m.steps.iter().any(|s| {
                matches!(
                    s,
                    mountns::MountStep::Placeholder { .. }
                        | mountns::MountStep::Protect { .. }
                        | mountns::MountStep::MaskPlaceholder { .. }
                )
            })
        })
    }
}
