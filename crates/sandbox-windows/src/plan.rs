//! `ResolvedPolicy` → `WindowsPlan`.
//!
//! Model: when the policy reads everything, the command runs under a write-restricted token
//! whose restricting SID is a per-run capability SID (reads are unaffected; writes need an ACE
//! for that SID). When reads are restricted, it runs in a per-run AppContainer, which can read
//! only what it is granted. Writable roots get an inheritable allow-modify ACE; protected paths
//! and denied paths get deny ACEs, which Windows evaluates before allows.

use sandbox_core::index::has_ancestor;
use sandbox_core::{Access, NetworkPolicy, Op, PathKind, ResolvedPolicy};
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum WindowsError {
    #[error("the Windows backend cannot enforce {feature}: {why}; rerun with --best-effort to accept this, or change the policy")]
    Unsupported { feature: String, why: String },
}

/// Under which identity the command runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Identity {
    /// No sandbox (danger-full-access).
    Unsandboxed,
    /// `CreateRestrictedToken(WRITE_RESTRICTED)` with the capability SID as restricting SID.
    WriteRestrictedToken { capability_sid: String },
    /// A per-run AppContainer profile.
    AppContainer {
        profile_name: String,
        capabilities: Vec<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AceKind {
    /// Allow read and execute (AppContainer read roots).
    AllowRead,
    /// Allow modify: read, write, create, delete.
    AllowModify,
    /// Deny write, append, delete and attribute changes.
    DenyWrite,
    /// Deny every access.
    DenyAll,
}

/// One access-control entry the launcher adds for the run's SID and removes afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ace {
    pub path: PathBuf,
    pub kind: AceKind,
    /// Applies to everything below a directory.
    pub inherit: bool,
    pub reason: String,
}

/// A part of the policy this plan cannot enforce (accepted only with `--best-effort`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Degradation {
    pub feature: String,
    pub why: String,
}

/// Everything the Windows launcher would do, as data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WindowsPlan {
    pub identity: Identity,
    pub aces: Vec<Ace>,
    /// Kill the whole process tree when the launcher exits.
    pub job_kill_on_close: bool,
    pub degradations: Vec<Degradation>,
}

/// The capability SID name for a run (derived from the policy so plans are deterministic).
fn run_name(policy: &ResolvedPolicy) -> String {
    // FNV-1a over the serialized policy: stable across runs and platforms.
    let text = serde_json::to_string(&(&policy.rules, &policy.writable_roots)).unwrap_or_default();
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("sandbox-{h:016x}")
}

/// Compiles `policy`; with `best_effort` false, any degradation is an error.
pub fn compile(policy: &ResolvedPolicy, best_effort: bool) -> Result<WindowsPlan, WindowsError> {
    if policy.unrestricted {
        return Ok(WindowsPlan {
            identity: Identity::Unsandboxed,
            aces: Vec::new(),
            job_kill_on_close: true,
            degradations: Vec::new(),
        });
    }
    let name = run_name(policy);
    let mut degradations = Vec::new();
    let mut aces = Vec::new();
    let reads_everything = policy.reads_everything();

    let identity = if reads_everything {
        if policy.network != NetworkPolicy::Full {
            degradations.push(Degradation {
                feature: "network off".into(),
                why: "a write-restricted token cannot block sockets; only an AppContainer (restricted reads) can".into(),
            });
        }
        Identity::WriteRestrictedToken {
            capability_sid: name,
        }
    } else {
        let capabilities = match policy.network {
            NetworkPolicy::Full => {
                vec!["internetClient".into(), "privateNetworkClientServer".into()]
            }
            _ => Vec::new(),
        };
        Identity::AppContainer {
            profile_name: name,
            capabilities,
        }
    };
    if matches!(policy.network, NetworkPolicy::Proxy { .. }) {
        degradations.push(Degradation {
            feature: "network proxy allowlists".into(),
            why: "not implemented on Windows".into(),
        });
    }
    if !policy.deny_globs.is_empty() {
        degradations.push(Degradation {
            feature: "deny-read globs".into(),
            why: "glob expansion into deny ACEs is not implemented".into(),
        });
    }

    for root in &policy.writable_roots {
        aces.push(Ace {
            path: root.path.clone(),
            kind: AceKind::AllowModify,
            inherit: true,
            reason: "writable root".into(),
        });
    }
    for p in policy.protected_paths() {
        if p.kind == PathKind::Missing {
            degradations.push(Degradation {
                feature: format!("protection of missing {}", p.path.display()),
                why: "an ACE needs an existing file; creating it cannot be prevented without a watcher".into(),
            });
            continue;
        }
        aces.push(Ace {
            path: p.path.clone(),
            kind: AceKind::DenyWrite,
            inherit: p.kind == PathKind::Dir,
            reason: format!("protected ({})", p.reason),
        });
    }
    for path in policy.denied_paths() {
        if path == Path::new("/") {
            continue;
        }
        aces.push(Ace {
            path: path.to_path_buf(),
            kind: AceKind::DenyAll,
            inherit: true,
            reason: "deny rule".into(),
        });
    }
    // Read rules: an AppContainer reads only what is granted; a token reads everything, so it
    // needs a grant only to re-open a path below a denied one.
    let app_container = matches!(identity, Identity::AppContainer { .. });
    let denied: HashSet<&Path> = policy.denied_paths().into_iter().collect();
    for root in policy.read_roots() {
        let under_deny = has_ancestor(root, true, |p| denied.contains(p));
        if app_container || under_deny {
            aces.push(Ace {
                path: root.to_path_buf(),
                kind: AceKind::AllowRead,
                inherit: true,
                reason: "read rule".into(),
            });
        }
    }
    // Read rules nested inside writable roots narrow writes: deny writes there.
    let index = policy.index();
    let roots: HashSet<&Path> = policy
        .writable_roots
        .iter()
        .map(|w| w.path.as_path())
        .collect();
    for rule in &policy.rules {
        // Only where the read rule decides (a write rule on the same path wins the tie).
        let decides = index.deepest_rule(&rule.path).map(|r| r.access) == Some(Access::Read);
        if rule.access == Access::Read
            && decides
            && has_ancestor(&rule.path, true, |p| roots.contains(p))
        {
            aces.push(Ace {
                path: rule.path.clone(),
                kind: AceKind::DenyWrite,
                inherit: true,
                reason: "read-only rule inside a writable root".into(),
            });
        }
    }
    aces.sort_by(|a, b| {
        a.path
            .cmp(&b.path)
            .then((a.kind as u8).cmp(&(b.kind as u8)))
    });
    if let (false, Some(d)) = (best_effort, degradations.first()) {
        return Err(WindowsError::Unsupported {
            feature: d.feature.clone(),
            why: d.why.clone(),
        });
    }
    Ok(WindowsPlan {
        identity,
        aces,
        job_kill_on_close: true,
        degradations,
    })
}

impl WindowsPlan {
    /// What the plan allows, evaluated like a Windows DACL: an inherited or explicit deny on the
    /// path or an ancestor beats any allow; writes need an allow-modify ACE; reads need an
    /// allow ACE unless the identity is a write-restricted token (reads unaffected).
    pub fn allows(&self, path: &Path, op: Op) -> bool {
        if self.identity == Identity::Unsandboxed {
            return true;
        }
        // Deny ACEs on a deeper path than every re-granting allow win; Windows inheritance gives
        // the nearest explicit ACE set precedence, so compare depths.
        let covering = |kinds: &[AceKind]| {
            self.aces
                .iter()
                .filter(|a| kinds.contains(&a.kind))
                .filter(|a| path == a.path || (a.inherit && path.starts_with(&a.path)))
                .map(|a| a.path.components().count())
                .max()
        };
        let deny_all = covering(&[AceKind::DenyAll]);
        let deny_write = covering(&[AceKind::DenyWrite, AceKind::DenyAll]);
        let modify = covering(&[AceKind::AllowModify]);
        let read = covering(&[AceKind::AllowRead, AceKind::AllowModify]);
        let beats = |allow: Option<usize>, deny: Option<usize>| match (allow, deny) {
            (Some(a), Some(d)) => a > d,
            (Some(_), None) => true,
            _ => false,
        };
        if op.is_write() {
            beats(modify, deny_write)
        } else if matches!(self.identity, Identity::WriteRestrictedToken { .. }) {
            deny_all.is_none_or(|d| read.is_some_and(|r| r > d))
        } else {
            beats(read, deny_all)
        }
    }
}
