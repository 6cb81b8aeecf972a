//! The reference oracle: what a [`ResolvedPolicy`] allows, and which rule decided.
//!
//! Every backend is tested against this function, and `sandbox explain` prints it.
//!
//! The rules, in order:
//! 1. an unrestricted policy allows everything;
//! 2. the standard devices (`/dev/null`, `/dev/tty`, …) are always usable;
//! 3. a deny glob that matches the path, or a directory above it, denies every operation on
//!    that path;
//! 4. otherwise the deepest rule that is the path or an ancestor of it decides (ties:
//!    `deny > write > read`); no rule means deny. Read and exec need `read` or `write`;
//! 5. write and create also need the path to be outside every protected path, unless a writable
//!    root sits at or below that protected path and contains the path (an explicit grant).

use crate::policy::{Access, Op};
use crate::resolve::{canonical, Protected, ResolvedPolicy, Rule, WritableRoot, STANDARD_DEVICES};
use serde::Serialize;
use std::path::Path;

/// The oracle's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Decision {
    pub allowed: bool,
    /// The rule that decided, in words (`write rule /ws (preset workspace-write)`).
    pub rule: String,
}

impl Decision {
    pub(crate) fn allow(rule: impl Into<String>) -> Decision {
        Decision {
            allowed: true,
            rule: rule.into(),
        }
    }
    pub(crate) fn deny(rule: impl Into<String>) -> Decision {
        Decision {
            allowed: false,
            rule: rule.into(),
        }
    }
}

impl ResolvedPolicy {
    /// Decides for a path as the kernel would see it: the existing part is canonicalized
    /// (links followed) first. Relative paths are taken from the policy's cwd.
    pub fn decide(&self, path: &Path, op: Op) -> Decision {
        let abs = if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.cwd.join(path)
        };
        self.decide_canonical(&canonical(&abs, self.target), op)
    }

    /// Decides for an absolute path that is already canonical; touches no filesystem.
    pub fn decide_canonical(&self, path: &Path, op: Op) -> Decision {
        decide_with(&Scan(self), path, op)
    }

    /// `decide_canonical(path, op).allowed` without building the reason text: for compilers
    /// that ask many questions and show no reasons. Touches no filesystem, allocates nothing.
    pub fn allows_canonical(&self, path: &Path, op: Op) -> bool {
        allows_with(&Scan(self), path, op)
    }

    /// Why the command cannot start in the policy's working directory, if it cannot: a
    /// directory it may not read (a deny rule or glob on it or above it). Every backend
    /// refuses such a launch the same way, rather than fail inside its own setup.
    pub fn cwd_denied(&self) -> Option<Decision> {
        let d = self.decide_canonical(&self.cwd, Op::Read);
        (!d.allowed).then_some(d)
    }

    /// The rule that decides for `path`: deepest ancestor-or-self, ties broken by access order
    /// (among equal rules, the last one).
    pub fn deepest_rule(&self, path: &Path) -> Option<&Rule> {
        self.rules
            .iter()
            .filter(|r| path.starts_with(&r.path))
            .max_by(|a, b| {
                let da = a.path.components().count();
                let db = b.path.components().count();
                da.cmp(&db).then(a.access.cmp(&b.access))
            })
    }

    /// The protected path (and its writable root) that forbids writing `path`, if any: the
    /// first in policy order that covers `path` and is not re-granted by a writable root
    /// between it and `path`.
    pub fn protecting(&self, path: &Path) -> Option<(&WritableRoot, &Protected)> {
        for root in &self.writable_roots {
            for p in &root.protected {
                if !path.starts_with(&p.path) {
                    continue;
                }
                let regranted = self
                    .writable_roots
                    .iter()
                    .any(|w| w.path.starts_with(&p.path) && path.starts_with(&w.path));
                if !regranted {
                    return Some((root, p));
                }
            }
        }
        None
    }
}

/// The two path questions a decision asks of the rules. Answered by a linear scan of the
/// policy ([`Scan`], the reference above) or by a [`crate::index::PolicyIndex`]; the rest of
/// the decision is shared, so both give the same answers whenever the lookups agree.
pub(crate) trait Lookup<'p> {
    fn policy(&self) -> &'p ResolvedPolicy;
    fn deepest_rule(&self, path: &Path) -> Option<&'p Rule>;
    fn protecting(&self, path: &Path) -> Option<(&'p WritableRoot, &'p Protected)>;
}

/// The reference lookups: a scan of every rule and protected path per question.
struct Scan<'p>(&'p ResolvedPolicy);

impl<'p> Lookup<'p> for Scan<'p> {
    fn policy(&self) -> &'p ResolvedPolicy {
        self.0
    }
    fn deepest_rule(&self, path: &Path) -> Option<&'p Rule> {
        self.0.deepest_rule(path)
    }
    fn protecting(&self, path: &Path) -> Option<(&'p WritableRoot, &'p Protected)> {
        self.0.protecting(path)
    }
}

/// Rules 1–5 of the module doc, with the reason in words.
pub(crate) fn decide_with<'p>(l: &impl Lookup<'p>, path: &Path, op: Op) -> Decision {
    let policy = l.policy();
    if policy.unrestricted {
        return Decision::allow("danger-full-access: no sandbox");
    }
    if STANDARD_DEVICES.iter().any(|d| path == Path::new(d)) {
        return Decision::allow(format!("standard device {}", path.display()));
    }
    if let Some(g) = policy.deny_globs.iter().find(|g| g.denies(path)) {
        return Decision::deny(format!("deny glob {} ({})", g.pattern, g.origin));
    }
    let Some(rule) = l.deepest_rule(path) else {
        return Decision::deny("no rule covers this path (default deny)");
    };
    let rule_text = format!(
        "{} rule {} ({})",
        rule.access.name(),
        rule.path.display(),
        rule.origin
    );
    match (op.is_write(), rule.access) {
        (_, Access::Deny) => Decision::deny(rule_text),
        (false, _) => Decision::allow(rule_text),
        (true, Access::Read) => Decision::deny(format!("not writable: {rule_text}")),
        (true, Access::Write) => match l.protecting(path) {
            Some((root, p)) => Decision::deny(format!(
                "protected path {} ({}) in writable root {}",
                p.path.display(),
                p.reason,
                root.path.display()
            )),
            None => Decision::allow(rule_text),
        },
    }
}

/// [`decide_with`]`.allowed` without the reason text.
pub(crate) fn allows_with<'p>(l: &impl Lookup<'p>, path: &Path, op: Op) -> bool {
    let policy = l.policy();
    if policy.unrestricted || STANDARD_DEVICES.iter().any(|d| path == Path::new(d)) {
        return true;
    }
    if policy.deny_globs.iter().any(|g| g.denies(path)) {
        return false;
    }
    let Some(rule) = l.deepest_rule(path) else {
        return false;
    };
    match (op.is_write(), rule.access) {
        (_, Access::Deny) => false,
        (false, _) => true,
        (true, Access::Read) => false,
        (true, Access::Write) => l.protecting(path).is_none(),
    }
}
