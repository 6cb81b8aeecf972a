//! The oracle's path lookups made fast for compilers that ask one question per path.
//!
//! [`ResolvedPolicy::deepest_rule`] and [`ResolvedPolicy::protecting`] scan every rule and
//! every protected path per question, so a compiler asking about each of n paths spends
//! O(n²) or worse. A [`PolicyIndex`] keys the rules, protected paths and writable roots by
//! path once; a question then walks the query's own ancestors ([`prefixes`]) and looks each
//! up, O(depth) hash lookups. The answers are the scan's exactly (same rule, same protected path),
//! and the rest of the decision is the shared code in [`crate::decide`].

use crate::decide::{allows_with, decide_with, Decision, Lookup};
use crate::policy::Op;
use crate::resolve::{Protected, ResolvedPolicy, Rule, WritableRoot};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// `path` and every path made of its leading components, deepest first, down to the empty
/// path: exactly the paths `p` for which `path.starts_with(p)` holds, one per component count.
///
/// `Path` compares and hashes by components, so looking these up in a `HashMap<&Path, _>`
/// finds every key that `path` starts with, whatever its spelling (`/a/` or `/a`).
pub fn prefixes(path: &Path) -> impl Iterator<Item = &Path> {
    let mut rest = Some(path.components());
    std::iter::from_fn(move || {
        let comps = rest.as_mut()?;
        let here = comps.as_path();
        if comps.next_back().is_none() {
            rest = None;
        }
        Some(here)
    })
}

/// Whether `path` or one of its ancestors (`strict`: an ancestor only) is a key, as told by
/// `is_key` (a set lookup). Replaces the scan
/// `keys.iter().any(|k| path.starts_with(k) && !(strict && k == path))` with one lookup per
/// component of `path`.
pub fn has_ancestor(path: &Path, strict: bool, is_key: impl FnMut(&Path) -> bool) -> bool {
    prefixes(path).skip(usize::from(strict)).any(is_key)
}

/// A [`ResolvedPolicy`] with its rules, protected paths and writable roots keyed by path.
/// Build it once per compile with [`ResolvedPolicy::index`]; it borrows the policy.
#[derive(Debug)]
pub struct PolicyIndex<'p> {
    policy: &'p ResolvedPolicy,
    /// Per rule path, the rule the scan picks among the rules at that path: the highest
    /// access, and the last of equal ones (as `Iterator::max_by`).
    rules: HashMap<&'p Path, &'p Rule>,
    /// Per protected path, where it sits as (writable root, protected) positions, in order.
    protected: HashMap<&'p Path, Vec<(usize, usize)>>,
    /// The writable root paths.
    roots: HashSet<&'p Path>,
}

impl ResolvedPolicy {
    /// An index answering [`ResolvedPolicy::allows_canonical`] and friends with O(depth)
    /// lookups per question instead of a scan of the whole policy.
    pub fn index(&self) -> PolicyIndex<'_> {
        PolicyIndex::new(self)
    }
}

impl<'p> PolicyIndex<'p> {
    /// Keys `policy`'s rules, protected paths and writable roots by path.
    pub fn new(policy: &'p ResolvedPolicy) -> PolicyIndex<'p> {
        let mut rules: HashMap<&Path, &Rule> = HashMap::new();
        for r in &policy.rules {
            let best = rules.entry(&r.path).or_insert(r);
            if best.access <= r.access {
                *best = r;
            }
        }
        let mut protected: HashMap<&Path, Vec<(usize, usize)>> = HashMap::new();
        for (ri, root) in policy.writable_roots.iter().enumerate() {
            for (pi, p) in root.protected.iter().enumerate() {
                protected.entry(&p.path).or_default().push((ri, pi));
            }
        }
        let roots = policy
            .writable_roots
            .iter()
            .map(|w| w.path.as_path())
            .collect();
        PolicyIndex {
            policy,
            rules,
            protected,
            roots,
        }
    }

    /// The policy this index answers for.
    pub fn policy(&self) -> &'p ResolvedPolicy {
        self.policy
    }

    /// Same answer as [`ResolvedPolicy::deepest_rule`]: the deepest ancestor-or-self of
    /// `path` that holds a rule decides.
    pub fn deepest_rule(&self, path: &Path) -> Option<&'p Rule> {
        prefixes(path).find_map(|p| self.rules.get(p).copied())
    }

    /// Same answer as [`ResolvedPolicy::protecting`]. A protected path P above `path` is
    /// re-granted exactly when some writable root is an ancestor-or-self of `path` at least as
    /// deep as P, so the walk stops at the deepest writable root; of the protected paths seen
    /// before it, the first in policy order is the scan's answer.
    pub fn protecting(&self, path: &Path) -> Option<(&'p WritableRoot, &'p Protected)> {
        let mut first: Option<(usize, usize)> = None;
        for p in prefixes(path) {
            if self.roots.contains(p) {
                break;
            }
            if let Some(&at) = self.protected.get(p).and_then(|v| v.first()) {
                first = Some(first.map_or(at, |f| f.min(at)));
            }
        }
        let (ri, pi) = first?;
        let root = &self.policy.writable_roots[ri];
        Some((root, &root.protected[pi]))
    }

    /// Same answer as [`ResolvedPolicy::decide_canonical`].
    pub fn decide_canonical(&self, path: &Path, op: Op) -> Decision {
        decide_with(self, path, op)
    }

    /// Same answer as [`ResolvedPolicy::allows_canonical`].
    pub fn allows_canonical(&self, path: &Path, op: Op) -> bool {
        allows_with(self, path, op)
    }
}

impl<'p> Lookup<'p> for PolicyIndex<'p> {
    fn policy(&self) -> &'p ResolvedPolicy {
        self.policy
    }
    fn deepest_rule(&self, path: &Path) -> Option<&'p Rule> {
        PolicyIndex::deepest_rule(self, path)
    }
    fn protecting(&self, path: &Path) -> Option<(&'p WritableRoot, &'p Protected)> {
        PolicyIndex::protecting(self, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(p: &str) -> Vec<&Path> {
        prefixes(Path::new(p)).collect()
    }

    #[test]
    fn prefixes_of_absolute_relative_and_odd_paths() {
        assert_eq!(all("/a/b"), ["/a/b", "/a", "/", ""].map(Path::new));
        assert_eq!(all("/"), ["/", ""].map(Path::new));
        assert_eq!(all("a/b"), ["a/b", "a", ""].map(Path::new));
        assert_eq!(all(""), [Path::new("")]);
        assert_eq!(all("/a/./b/"), ["/a/./b/", "/a", "/", ""].map(Path::new));
        assert_eq!(
            all("/a/../b"),
            ["/a/../b", "/a/..", "/a", "/", ""].map(Path::new)
        );
    }
}
