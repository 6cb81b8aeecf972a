//! Property tests: the indexed lookups of `PolicyIndex` give exactly the answers of the linear
//! scans in `decide.rs` (the same rule, the same protected path and root, the same decision),
//! over generated policies built by hand: unsorted, with duplicates, odd spellings (`/a/`,
//! `/a/./b`, `..`), relative and empty paths, nested and repeated writable roots.

use proptest::prelude::*;
use sandbox_core::index::has_ancestor;
use sandbox_core::testing::odd_path as path;
use sandbox_core::{
    NetworkPolicy, Op, PathKind, Protected, ResolvedPolicy, Rule, TargetOs, UnixSockets,
    WritableRoot,
};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use sandbox_core::testing::access;

fn rules() -> impl Strategy<Value = Vec<Rule>> {
    prop::collection::vec((path(), access()), 0..8).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (path, access))| Rule {
                path,
                access,
                // Distinct origins make "the same rule" visible in the decision text.
                origin: format!("rule {i}"),
            })
            .collect()
    })
}

fn writable_roots() -> impl Strategy<Value = Vec<WritableRoot>> {
    prop::collection::vec((path(), prop::collection::vec(path(), 0..4)), 0..5).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (path, protected))| WritableRoot {
                path,
                protected: protected
                    .into_iter()
                    .enumerate()
                    .map(|(j, path)| Protected {
                        path,
                        kind: PathKind::Dir,
                        reason: format!("protected {i}.{j}"),
                    })
                    .collect(),
            })
            .collect()
    })
}

fn policy(rules: Vec<Rule>, writable_roots: Vec<WritableRoot>) -> ResolvedPolicy {
    ResolvedPolicy {
        description: "generated".into(),
        target: TargetOs::Linux,
        unrestricted: false,
        cwd: PathBuf::from("/"),
        rules,
        deny_globs: Vec::new(),
        writable_roots,
        minimal: false,
        network: NetworkPolicy::Off,
        unix_sockets: UnixSockets::All,
        glob_scan_max_depth: None,
        git: Default::default(),
        warnings: Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn index_matches_linear_scans(
        rules in rules(),
        roots in writable_roots(),
        queries in prop::collection::vec(path(), 1..30),
    ) {
        let policy = policy(rules, roots);
        let index = policy.index();
        for q in &queries {
            let want = policy.deepest_rule(q);
            let got = index.deepest_rule(q);
            prop_assert!(
                want.map(|r| r as *const Rule) == got.map(|r| r as *const Rule),
                "deepest_rule {:?}: scan {:?}, index {:?}", q, want, got
            );
            let want = policy.protecting(q);
            let got = index.protecting(q);
            let ptrs = |x: Option<(&WritableRoot, &Protected)>| {
                x.map(|(w, p)| (w as *const WritableRoot, p as *const Protected))
            };
            prop_assert!(
                ptrs(want) == ptrs(got),
                "protecting {:?}: scan {:?}, index {:?}", q, want, got
            );
            for op in Op::ALL {
                prop_assert_eq!(index.decide_canonical(q, op), policy.decide_canonical(q, op));
                prop_assert_eq!(index.allows_canonical(q, op), policy.allows_canonical(q, op));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// The prefix walk, with hash and ordered sets, agrees with a scan using `starts_with`.
    #[test]
    fn has_ancestor_matches_scan(
        keys in prop::collection::vec(path(), 0..8),
        query in path(),
        strict in any::<bool>(),
    ) {
        let want = keys.iter().any(|k| query.starts_with(k) && !(strict && *k == query));
        let hashed: HashSet<&Path> = keys.iter().map(PathBuf::as_path).collect();
        let ordered: BTreeSet<&Path> = keys.iter().map(PathBuf::as_path).collect();
        prop_assert_eq!(has_ancestor(&query, strict, |p| hashed.contains(p)), want);
        prop_assert_eq!(has_ancestor(&query, strict, |p| ordered.contains(p)), want);
    }
}
