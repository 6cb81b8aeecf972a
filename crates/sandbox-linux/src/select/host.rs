//! Choosing the Linux backend on this host (the host side of [`crate::select`]).
//!
//! For a run ([`choose_auto`]) the facts come from cheap probes: whether bwrap is installed
//! (its version from the per-user flag cache) and whether this process can create a user
//! namespace (remembered from an earlier run, else one forked child). Only when that check fails is a trial bwrap run made, since a
//! setuid bwrap or a security-module profile for bwrap can succeed where this process cannot.
//! If bwrap then fails to set up namespaces anyway, the run is diagnosed and
//! [`after_refusal`] chooses again. `sandbox doctor` uses the full probe ([`doctor_facts`]).

use crate::bwrap::diagnose::{self, BwrapProbe, HostHints};
use crate::bwrap::error::LaunchError;
use crate::bwrap::features::{self, FoundBwrap};
use crate::host::cache;
use crate::select::{select, Backend, HostFacts, Refusal, Requested, Selection};
use sandbox_core::ResolvedPolicy;
use std::path::PathBuf;

/// The short cause of a namespace refusal: reads better inside the selection reason than the
/// full diagnosis.
fn cause(e: LaunchError) -> String {
    match e {
        LaunchError::Userns(d) => d.cause,
        e => e.to_string(),
    }
}

/// Facts for `--backend auto`, from cheap probes, and the bwrap found (with its flags) to
/// hand on to the bwrap backend.
pub fn quick_facts(policy: &ResolvedPolicy) -> (HostFacts, Option<FoundBwrap>) {
    let writable: Vec<PathBuf> = policy
        .writable_roots
        .iter()
        .map(|r| r.path.clone())
        .collect();
    let bwrap = features::find_bwrap(std::env::var_os("PATH").as_deref(), &writable);
    let bwrap_userns = match (&bwrap, diagnose::forced_refusal()) {
        (None, _) => Err(LaunchError::NotFound.to_string()),
        (Some(_), Some(e)) => Err(cause(e)),
        (Some(_), None) if userns_works() => Ok(()),
        (Some(b), None) => diagnose::probe_userns(b, &HostHints::read()).map_err(cause),
    };
    let found = bwrap.map(|path| FoundBwrap {
        features: features::cached_features(&path).ok(),
        path,
    });
    let facts = HostFacts {
        bwrap: found.as_ref().map(|f| {
            (
                f.path.display().to_string(),
                f.features.as_ref().and_then(|f| f.version.clone()),
            )
        }),
        bwrap_userns,
        landlock_abi: crate::host::probe::landlock_abi(),
    };
    (facts, found)
}

/// This process can create a user namespace: remembered from an earlier run (positive answers
/// only, see [`cache::CacheDir::userns_ok`]), else one forked child tries.
fn userns_works() -> bool {
    let dir = cache::cache_dir();
    if dir.as_ref().is_some_and(cache::CacheDir::userns_ok) {
        return true;
    }
    let ok = crate::host::probe::user_namespace();
    if let (true, Some(d)) = (ok, &dir) {
        d.set_userns_ok(true);
    }
    ok
}

/// The backend `--backend auto` runs `policy` with on this host, and why; and the bwrap it
/// found, for [`crate::BwrapSandbox::with_found`] (so bwrap is looked up once per run).
pub fn choose_auto(policy: &ResolvedPolicy) -> Result<(Selection, Option<FoundBwrap>), Refusal> {
    let (facts, found) = quick_facts(policy);
    let chosen = select(Requested::Auto, &facts)?;
    // A link held as it is needs the Landlock backend (bwrap would refuse the policy).
    let chosen = match (crate::bwrap::plan::held_link(policy), facts.landlock_abi) {
        (Some(link), Some(abi)) if chosen.backend == Backend::Bwrap && abi >= 1 => Selection {
            backend: Backend::Landlock,
            reason: format!(
                "the policy holds the symbolic link {} as it is, which bwrap cannot (it follows links when mounting); using Landlock ABI {abi}",
                link.display()
            ),
        },
        _ => chosen,
    };
    // A path another user could rename while bwrap mounts it: bwrap would refuse at launch.
    let chosen = match (chosen.backend, facts.landlock_abi) {
        (Backend::Bwrap, Some(abi)) if abi >= 1 => match swappable_path(policy) {
            Some(s) => Selection {
                backend: Backend::Landlock,
                reason: format!(
                    "{} can rename {} while bwrap mounts it (bwrap mounts by path); using Landlock ABI {abi}",
                    s.by,
                    s.entry.display()
                ),
            },
            None => chosen,
        },
        _ => chosen,
    };
    Ok((chosen, found))
}

/// A path of `policy` (a rule's or a protected one) that bwrap would mount at and another user
/// could rename meanwhile ([`crate::bwrap::swappable`]), as far as the host shows it now.
fn swappable_path(policy: &ResolvedPolicy) -> Option<crate::bwrap::swappable::Swappable> {
    if policy.unrestricted {
        return None;
    }
    let protected = policy.protected_paths();
    let paths = policy
        .rules
        .iter()
        .map(|r| r.path.as_path())
        .chain(protected.iter().map(|p| p.path.as_path()));
    // SAFETY: geteuid has no preconditions.
    crate::bwrap::swappable::first(paths, unsafe { libc::geteuid() })
}

/// `--backend auto` chose bwrap, but bwrap could not create the sandbox's namespaces (nothing
/// ran): the choice without bwrap.
pub fn after_refusal(e: &LaunchError) -> Result<Selection, Refusal> {
    if let Some(d) = cache::cache_dir() {
        d.set_userns_ok(false);
    }
    let why = match e {
        LaunchError::Userns(d) => d.cause.clone(),
        e => e.to_string(),
    };
    let facts = HostFacts {
        bwrap: Some((String::new(), None)),
        bwrap_userns: Err(why),
        landlock_abi: crate::host::probe::landlock_abi(),
    };
    select(Requested::Auto, &facts)
}

/// The name of a backend as the CLI spells it.
pub fn backend_name(b: Backend) -> &'static str {
    b.name()
}

/// The selection facts behind a full bwrap probe plus the Landlock ABI.
pub fn host_facts(probe: &BwrapProbe, landlock_abi: Option<u32>) -> HostFacts {
    HostFacts {
        bwrap: probe.path.as_ref().map(|p| {
            (
                p.display().to_string(),
                probe.features.as_ref().and_then(|f| f.version.clone()),
            )
        }),
        bwrap_userns: match &probe.userns_diagnosis {
            Some(d) => Err(d.cause.clone()),
            None => probe.userns.clone(),
        },
        landlock_abi,
    }
}

/// `sandbox doctor --json` facts of the bwrap backend (full probe, trial runs included), plus
/// which backend `auto` would choose and why. `landlock_abi` comes from the Landlock probe.
pub fn doctor_facts(landlock_abi: Option<u32>) -> Vec<(String, serde_json::Value)> {
    let probe = BwrapProbe::run(&[]);
    let mut v = probe.doctor_facts();
    match select(Requested::Auto, &host_facts(&probe, landlock_abi)) {
        Ok(s) => {
            v.push(("linux.auto_backend".into(), backend_name(s.backend).into()));
            v.push(("linux.auto_reason".into(), s.reason.into()));
        }
        Err(r) => {
            v.push(("linux.auto_backend".into(), serde_json::Value::Null));
            v.push(("linux.auto_reason".into(), r.reason.into()));
        }
    }
    v
}
