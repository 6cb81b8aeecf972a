//! Property test: the bwrap mount table agrees with the policy oracle.
//!
//! For generated policies over a small real directory tree, the plan's mount list is
//! interpreted ("which mount covers this path, is it read-only, writable or masked",
//! [`BwrapPlan::access`]) and compared with `ResolvedPolicy::decide_canonical`: read and write
//! for paths that exist, create for paths that do not. `/dev` and `/proc` are not generated.

use proptest::prelude::*;
use sandbox_core::{
    resolve, Access, Entry, NetworkPolicy, Op, PathKind, Policy, ResolveEnv, Special, Target,
    TargetOs, UnixSockets,
};
use sandbox_linux::bwrap::{compile, BwrapFeatures, BwrapInput};
use sandbox_linux::deny_globs::{expand, ExpandOptions};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const DIRS: &[&str] = &["a", "a/b", "a/b/c", "a/.git", "d", "d/e", "d/.codex"];
const FILES: &[&str] = &[
    "a/f.txt",
    "a/b/g.env",
    "a/.git/config",
    "d/h.txt",
    "top.env",
];
/// Paths rules may name (some missing on purpose).
const RULE_PATHS: &[&str] = &[
    "", "a", "a/b", "a/b/c", "a/.git", "d", "d/e", "a/f.txt", "d/h.txt", "m", "a/m2",
];
/// Missing paths to ask about `create`.
const NEW_PATHS: &[&str] = &[
    "new",
    "a/new",
    "a/b/c/new",
    "a/.git/new",
    "a/.agents",
    "a/.agents/x",
    "d/.codex/new",
    "d/e/new",
    "m",
    "m/new",
    "a/m2",
    ".git",
    ".agents",
];

fn tree() -> &'static Path {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let d = tempfile::Builder::new()
            .prefix("bwrap-oracle-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        for dir in DIRS {
            std::fs::create_dir_all(d.join(dir)).unwrap();
        }
        for f in FILES {
            std::fs::write(d.join(f), "x").unwrap();
        }
        std::fs::canonicalize(d).unwrap()
    })
}

fn kind_of(p: &Path) -> PathKind {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => PathKind::Dir,
        Ok(_) => PathKind::File,
        Err(_) => PathKind::Missing,
    }
}

use sandbox_core::testing::access;

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mount_table_agrees_with_oracle(
        root_read in any::<bool>(),
        entries in prop::collection::vec((0..RULE_PATHS.len(), access()), 0..6),
        glob in any::<bool>(),
    ) {
        let t = tree();
        let mut es = Vec::new();
        if root_read {
            es.push(Entry::new(Target::Special(Special::Root), Access::Read, "gen"));
        }
        for (i, a) in &entries {
            es.push(Entry::new(Target::Path(t.join(RULE_PATHS[*i])), *a, "gen"));
        }
        if glob {
            es.push(Entry::new(Target::Glob(format!("{}/**/*.env", t.display())), Access::Deny, "gen"));
        }
        let policy = Policy {
            preset: None,
            profile: None,
            unrestricted: false,
            entries: es,
            network: NetworkPolicy::Off,
            unix_sockets: UnixSockets::All,
            protected_names: vec![".git".into(), ".codex".into(), ".agents".into()],
            protected_home_files: Vec::new(),
            glob_scan_max_depth: None,
            git: Default::default(),
        };
        let env = ResolveEnv { cwd: t.to_path_buf(), tmpdir: None, home: None, target: TargetOs::Linux };
        let resolved = resolve(&policy, &env).unwrap();
        let matches = expand(&resolved.deny_globs, &ExpandOptions::default()).unwrap().matches;
        let features = BwrapFeatures::assumed();
        let plan = compile(&BwrapInput {
            policy: &resolved,
            deny_matches: &matches,
            features: &features,
            seccomp_program: None,
            kind_of: &kind_of,
            read_link: &|p: &Path| std::fs::read_link(p).ok(),
        is_empty_dir: &|p: &Path| std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_none()),
            best_effort: false,
        }).unwrap();

        let existing = std::iter::once("").chain(DIRS.iter().copied()).chain(FILES.iter().copied());
        for rel in existing {
            let p = if rel.is_empty() { t.to_path_buf() } else { t.join(rel) };
            let (r, w) = plan.access(&p);
            for (op, got) in [(Op::Read, r), (Op::Write, w)] {
                let d = resolved.decide_canonical(&p, op);
                prop_assert_eq!(got, d.allowed, "{} {}: oracle says {} ({})\nplan:\n{}",
                    op, p.display(), d.allowed, d.rule, plan.to_text());
            }
        }
        for rel in NEW_PATHS {
            let p = t.join(rel);
            if kind_of(&p) != PathKind::Missing { continue; }
            let (_, w) = plan.access(&p);
            let d = resolved.decide_canonical(&p, Op::Create);
            prop_assert_eq!(w, d.allowed, "create {}: oracle says {} ({})\nplan:\n{}",
                p.display(), d.allowed, d.rule, plan.to_text());
        }
    }
}
