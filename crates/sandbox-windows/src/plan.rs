//! `ResolvedPolicy` → `WindowsPlan`: which identity the command runs under, which ACL entries the
//! launcher stamps for the run's SID (and revokes afterwards), which placeholders it creates,
//! which job limits hold the process tree, and what the plan cannot enforce.
//!
//! Identities and what each one enforces:
//! - **Write-restricted token** (the policy reads everything): `CreateRestrictedToken` with
//!   `WRITE_RESTRICTED` and a fresh per-run SID as restricting SID. The restricting SIDs are
//!   consulted **only for write access**, so writes need an allow ACE for the run SID while
//!   reads are decided by the user's own rights alone: a deny ACE cannot stop a read. A deny-read
//!   rule (or glob) under this identity is therefore a declared degradation, and network access
//!   cannot be restricted at all.
//! - **AppContainer** (reads are restricted): a per-run profile whose SID is checked for every
//!   access, so allow-read grants and deny-all entries both hold; without network capabilities
//!   it has no network (and no loopback either).
//!
//! Renames: NTFS lets a caller delete or rename an object when it has `DELETE` on the object *or*
//! `FILE_DELETE_CHILD` on its parent. No ACE of a plan grants `FILE_DELETE_CHILD` (see
//! [`AceKind::mask`]), so the deny-`DELETE` entry on a protected path (and on each directory
//! holding one, see [`ResolvedPolicy::rename_pins`]) keeps it from being renamed away.

use crate::rights;
use sandbox_core::index::has_ancestor;
use sandbox_core::{Access, Capability, Degradation, NetworkPolicy, Op, PathKind, ResolvedPolicy};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum WindowsError {
    /// The policy asks for `feature` (a part of `capability`) and this backend cannot give it.
    #[error("the Windows backend cannot enforce {feature}: {why}; rerun with --best-effort to accept this, or change the policy")]
    Unsupported {
        capability: Capability,
        feature: String,
        why: String,
    },
}

/// Under which identity the command runs. The SID that ACEs name is made fresh for every run
/// (a random `S-1-5-21-…` restricting SID, or the SID of a fresh AppContainer profile), so two
/// concurrent runs of one policy never share, or revoke, each other's grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Identity {
    /// No sandbox (danger-full-access).
    Unsandboxed,
    /// `CreateRestrictedToken(DISABLE_MAX_PRIVILEGE | LUA_TOKEN | WRITE_RESTRICTED)` with the
    /// restricting SIDs [`TOKEN_RESTRICTING_SIDS`]. Reads are not restricted.
    WriteRestrictedToken,
    /// A per-run AppContainer profile `sandbox-<run id>` with these capabilities.
    AppContainer { capabilities: Vec<String> },
}

/// The restricting SIDs of the write-restricted token, in order. Everyone is among them (as in
/// Codex) so the NUL device, consoles and pipes stay writable; the price is in
/// [`TOKEN_LIMITS`].
pub const TOKEN_RESTRICTING_SIDS: [&str; 3] =
    ["run SID (fresh per run)", "logon SID", "Everyone (S-1-1-0)"];

/// What a write-restricted token never enforces, whatever the policy says. Printed by
/// `sandbox profile windows` and listed in the README.
pub const TOKEN_LIMITS: [&str; 4] = [
    "writes are also allowed wherever Everyone or the logon session already has write access",
    "reads are never restricted (deny-read rules are refused or declared as degradations)",
    "the console is shared: the command can inject input (WriteConsoleInput) that the parent shell reads after it exits",
    "same-user services (Task Scheduler, COM, WMI, BITS) can start processes outside the job and token",
];

/// What an AppContainer never enforces or always breaks.
pub const APPCONTAINER_LIMITS: [&str; 2] = [
    "loopback is blocked even with network capabilities (no exemption is added)",
    "the console is shared: the command can inject input (WriteConsoleInput) that the parent shell reads after it exits",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AceKind {
    /// Allow read and execute (AppContainer read roots).
    AllowRead,
    /// Allow read, write, create and delete-self; never `FILE_DELETE_CHILD`.
    AllowModify,
    /// Deny every change: data, attributes, delete/rename, DACL, owner.
    DenyWrite,
    /// Deny delete and rename of this one object (a directory holding a protected path).
    DenyDelete,
    /// Deny every access (honoured for reads only by an AppContainer).
    DenyAll,
}

impl AceKind {
    /// The access mask the launcher puts in the ACE.
    pub fn mask(self) -> u32 {
        use rights::*;
        match self {
            AceKind::AllowRead => GENERIC_READ_FILE | GENERIC_EXECUTE_FILE,
            AceKind::AllowModify => {
                GENERIC_READ_FILE | GENERIC_WRITE_FILE | GENERIC_EXECUTE_FILE | DELETE
            }
            AceKind::DenyWrite => ANY_CHANGE,
            AceKind::DenyDelete => DELETE | FILE_DELETE_CHILD,
            AceKind::DenyAll => ALL_ACCESS_FILE,
        }
    }

    /// An access-denied entry (as opposed to access-allowed).
    pub fn is_deny(self) -> bool {
        matches!(
            self,
            AceKind::DenyWrite | AceKind::DenyDelete | AceKind::DenyAll
        )
    }

    /// How `sandbox profile windows` names the kind.
    pub fn label(self) -> &'static str {
        match self {
            AceKind::AllowRead => "allow read",
            AceKind::AllowModify => "allow modify",
            AceKind::DenyWrite => "deny write",
            AceKind::DenyDelete => "deny delete",
            AceKind::DenyAll => "deny all",
        }
    }
}

/// One access-control entry the launcher adds for the run's SID and removes afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ace {
    pub path: PathBuf,
    pub kind: AceKind,
    /// Applies to everything below a directory (`SUB_CONTAINERS_AND_OBJECTS_INHERIT`).
    pub inherit: bool,
    pub reason: String,
}

/// A part of the policy the chosen identity cannot enforce, as [`degradations`] finds it: the
/// refusal names `feature` and `why`; `--best-effort` turns it into a [`Degradation`].
struct Gap {
    capability: Capability,
    /// What is not enforced: `network off`, `deny-read of C:\x`.
    feature: String,
    why: String,
    /// Reads at or below this path are not enforced (a deny rule under the token).
    unenforced_reads: Option<PathBuf>,
}

impl Gap {
    fn new(capability: Capability, feature: impl Into<String>, why: impl Into<String>) -> Gap {
        Gap {
            capability,
            feature: feature.into(),
            why: why.into(),
            unenforced_reads: None,
        }
    }

    /// The degradation `--best-effort` accepts: `FEATURE is not enforced: WHY`.
    fn degradation(&self) -> Degradation {
        Degradation::new(
            self.capability,
            format!("{} is not enforced: {}", self.feature, self.why),
        )
    }
}

/// The job object every sandboxed process tree runs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JobLimits {
    /// `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`: the tree dies when the launcher does.
    pub kill_on_close: bool,
    /// `JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION`: no error-reporting dialog keeps one alive.
    pub die_on_unhandled_exception: bool,
    /// `JOB_OBJECT_LIMIT_BREAKAWAY_OK` is never set: no process can leave the job.
    pub breakaway_allowed: bool,
    /// Joined at creation through `PROC_THREAD_ATTRIBUTE_JOB_LIST` (Windows 10 1607 and later),
    /// else assigned while the process is still suspended.
    pub joined_at_creation: bool,
    /// `JOBOBJECT_BASIC_UI_RESTRICTIONS` flags.
    pub ui_restrictions: Vec<&'static str>,
}

impl Default for JobLimits {
    fn default() -> JobLimits {
        JobLimits {
            kill_on_close: true,
            die_on_unhandled_exception: true,
            breakaway_allowed: false,
            joined_at_creation: true,
            ui_restrictions: UI_RESTRICTIONS.iter().map(|(n, _)| *n).collect(),
        }
    }
}

/// UI restrictions of the job, with their `JOB_OBJECT_UILIMIT_*` values: no access to other
/// processes' windows (`SendInput`/`PostMessage` into the user's terminal), the clipboard,
/// global atoms, desktops, display settings, system parameters or log-off.
pub const UI_RESTRICTIONS: [(&str, u32); 8] = [
    ("handles", 0x0001),
    ("read_clipboard", 0x0002),
    ("write_clipboard", 0x0004),
    ("system_parameters", 0x0008),
    ("display_settings", 0x0010),
    ("global_atoms", 0x0020),
    ("desktop", 0x0040),
    ("exit_windows", 0x0080),
];

/// Everything the Windows launcher will do, as data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WindowsPlan {
    pub identity: Identity,
    /// Sorted by path; the launcher journals them all before stamping the first one.
    pub aces: Vec<Ace>,
    /// Missing protected names the launcher creates as empty directories (each has a deny-write
    /// ACE in `aces`) and removes after the run if still empty. NTFS names are
    /// case-insensitive, so `.git` also keeps `.GiT` from being created.
    pub placeholders: Vec<PathBuf>,
    pub job: JobLimits,
    /// What the plan cannot enforce of the policy (accepted only with `--best-effort`), one
    /// line each.
    pub degradations: Vec<Degradation>,
    /// Reads at or below these paths are not enforced (deny rules under the write-restricted
    /// token); each also has its entry in `degradations`.
    pub unenforced_reads: Vec<PathBuf>,
    /// What the identity never enforces, whatever the policy (see [`TOKEN_LIMITS`]).
    pub limits: Vec<&'static str>,
}

/// Compiles `policy`; with `best_effort` false, any degradation is an error.
pub fn compile(policy: &ResolvedPolicy, best_effort: bool) -> Result<WindowsPlan, WindowsError> {
    if policy.unrestricted {
        return Ok(WindowsPlan {
            identity: Identity::Unsandboxed,
            aces: Vec::new(),
            placeholders: Vec::new(),
            // Still one tree that ends with the launcher, but no restriction of the desktop.
            job: JobLimits {
                ui_restrictions: Vec::new(),
                ..JobLimits::default()
            },
            degradations: Vec::new(),
            unenforced_reads: Vec::new(),
            limits: Vec::new(),
        });
    }
    let token = policy.reads_everything();
    let identity = if token {
        Identity::WriteRestrictedToken
    } else {
        let capabilities = if policy.network == NetworkPolicy::Full {
            vec!["internetClient".into(), "privateNetworkClientServer".into()]
        } else {
            Vec::new()
        };
        Identity::AppContainer { capabilities }
    };
    let gaps = degradations(policy, token);
    let roots: HashSet<&Path> = policy
        .writable_roots
        .iter()
        .map(|w| w.path.as_path())
        .collect();
    let in_root = |p: &Path| has_ancestor(p, true, |a| roots.contains(a));
    let mut aces = Vec::new();
    let mut placeholders = Vec::new();

    for root in &policy.writable_roots {
        aces.push(Ace {
            path: root.path.clone(),
            kind: AceKind::AllowModify,
            inherit: true,
            reason: "writable root".into(),
        });
    }
    for p in policy.protected_paths() {
        // A writable root at the protected path itself re-grants it whole (oracle rule 5: an
        // explicit grant, such as a `.git` pointer's gitdir the user also lists as writable).
        // A deny-write ACE here would tie with the root's allow at the same depth and win, so
        // none is stamped (nor a placeholder made). A root strictly below a protected path
        // needs nothing: its allow is deeper than the deny and outranks it.
        if roots.contains(p.path.as_path()) {
            continue;
        }
        let reason = if p.kind == PathKind::Missing {
            placeholders.push(p.path.clone());
            format!("protected ({}), placeholder for the run", p.reason)
        } else {
            format!("protected ({})", p.reason)
        };
        aces.push(Ace {
            path: p.path.clone(),
            kind: AceKind::DenyWrite,
            inherit: p.kind != PathKind::File,
            reason,
        });
    }
    for pin in policy.rename_pins() {
        aces.push(Ace {
            path: pin,
            kind: AceKind::DenyDelete,
            inherit: false,
            reason: "holds a protected path: not to be renamed".into(),
        });
    }
    for path in policy.denied_paths() {
        if path == Path::new("/") {
            continue;
        }
        if !token {
            aces.push(Ace {
                path: path.to_path_buf(),
                kind: AceKind::DenyAll,
                inherit: true,
                reason: "deny rule".into(),
            });
        } else if in_root(path) {
            // The token cannot deny the read (declared above); it can still deny the writes a
            // writable root around the path would otherwise allow.
            aces.push(Ace {
                path: path.to_path_buf(),
                kind: AceKind::DenyWrite,
                inherit: true,
                reason: "deny rule (writes only: the token cannot deny reads)".into(),
            });
        }
    }
    // An AppContainer reads only what it is granted. A token reads everything already.
    if !token {
        for root in policy.read_roots() {
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
    for rule in &policy.rules {
        // Only where the read rule decides (a write rule on the same path wins the tie).
        let decides = index.deepest_rule(&rule.path).map(|r| r.access) == Some(Access::Read);
        if rule.access == Access::Read && decides && in_root(&rule.path) {
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
    aces.dedup_by(|a, b| a.path == b.path && a.kind == b.kind && a.inherit == b.inherit);
    if let (false, Some(gap)) = (best_effort, gaps.first()) {
        return Err(WindowsError::Unsupported {
            capability: gap.capability,
            feature: gap.feature.clone(),
            why: gap.why.clone(),
        });
    }
    let limits = if token {
        TOKEN_LIMITS.to_vec()
    } else {
        APPCONTAINER_LIMITS.to_vec()
    };
    Ok(WindowsPlan {
        identity,
        aces,
        placeholders,
        job: JobLimits::default(),
        degradations: gaps.iter().map(Gap::degradation).collect(),
        unenforced_reads: gaps
            .into_iter()
            .filter_map(|g| g.unenforced_reads)
            .collect(),
        limits,
    })
}

/// What the chosen identity cannot enforce of `policy`.
fn degradations(policy: &ResolvedPolicy, token: bool) -> Vec<Gap> {
    let mut out = Vec::new();
    // Every network mode is matched here: a mode added later fails to compile until modelled.
    match &policy.network {
        NetworkPolicy::Full => {}
        NetworkPolicy::Proxy { .. } => out.push(Gap::new(
            Capability::AllowlistEgress,
            "network proxy allowlists",
            "not implemented on Windows",
        )),
        NetworkPolicy::Off if token => out.push(Gap::new(
            Capability::NetworkDenyAll,
            "network off",
            "a write-restricted token cannot block sockets; only an AppContainer (restricted reads) can",
        )),
        NetworkPolicy::Off => {}
        NetworkPolicy::Loopback => out.push(Gap::new(
            Capability::LoopbackOnly,
            format!("network {}", policy.network.name()),
            "not implemented on Windows",
        )),
    }
    if !policy.deny_globs.is_empty() {
        let why = if token {
            "a write-restricted token checks its restricting SIDs only for writes, so no ACE can stop a read"
        } else {
            "glob expansion into deny ACEs is not implemented"
        };
        out.push(Gap::new(Capability::DenyRead, "deny-read globs", why));
    }
    if token {
        for path in policy.denied_paths() {
            if path == Path::new("/") {
                continue;
            }
            out.push(Gap {
                unenforced_reads: Some(path.to_path_buf()),
                ..Gap::new(
                    Capability::DenyPaths,
                    format!("deny-read of {}", path.display()),
                    "a write-restricted token checks its restricting SIDs only for writes, so a deny ACE cannot stop a read; only an AppContainer (a policy that restricts reads) can",
                )
            });
        }
    }
    out
}

impl WindowsPlan {
    /// Whether a degradation leaves reads of `path` unenforced.
    pub fn read_unenforced(&self, path: &Path) -> bool {
        self.unenforced_reads.iter().any(|p| path.starts_with(p))
    }

    /// The deepest ACE of one of `kinds` that applies to `path` (its own, or an inherited one).
    fn covering(&self, path: &Path, kinds: &[AceKind]) -> Option<usize> {
        self.aces
            .iter()
            .filter(|a| kinds.contains(&a.kind))
            .filter(|a| path == a.path || (a.inherit && path.starts_with(&a.path)))
            .map(|a| a.path.components().count())
            .max()
    }

    /// What the plan allows, evaluated like a Windows DACL for the identity: an explicit ACE
    /// outranks inherited ones and nearer inherited ones outrank farther ones, deny winning a tie
    /// (so: compare depths). Writes need an allow-modify ACE. Reads need an allow ACE under an
    /// AppContainer; under the write-restricted token the restricting SIDs are not consulted for
    /// reads at all, so every read is allowed whatever deny ACEs the plan holds.
    pub fn allows(&self, path: &Path, op: Op) -> bool {
        if self.identity == Identity::Unsandboxed {
            return true;
        }
        if op.is_write() {
            let modify = self.covering(path, &[AceKind::AllowModify]);
            let deny = self.covering(path, &[AceKind::DenyWrite, AceKind::DenyAll]);
            return beats(modify, deny);
        }
        match self.identity {
            Identity::WriteRestrictedToken => true,
            _ => beats(
                self.covering(path, &[AceKind::AllowRead, AceKind::AllowModify]),
                self.covering(path, &[AceKind::DenyAll]),
            ),
        }
    }

    /// Whether the command can delete `path` or rename it away. NTFS allows that with `DELETE`
    /// on the object or `FILE_DELETE_CHILD` on its parent; no plan grants the latter, so only
    /// the object's own ACEs count.
    pub fn allows_rename(&self, path: &Path) -> bool {
        if self.identity == Identity::Unsandboxed {
            return true;
        }
        let grants_delete_child = self
            .aces
            .iter()
            .any(|a| !a.kind.is_deny() && a.kind.mask() & rights::FILE_DELETE_CHILD != 0);
        debug_assert!(
            !grants_delete_child,
            "a plan never grants FILE_DELETE_CHILD"
        );
        let modify = self.covering(path, &[AceKind::AllowModify]);
        let deny = self.covering(
            path,
            &[AceKind::DenyWrite, AceKind::DenyAll, AceKind::DenyDelete],
        );
        beats(modify, deny)
    }
}

/// An allow at depth `allow` beats a deny at depth `deny` only when strictly deeper.
fn beats(allow: Option<usize>, deny: Option<usize>) -> bool {
    match (allow, deny) {
        (Some(a), Some(d)) => a > d,
        (Some(_), None) => true,
        _ => false,
    }
}
