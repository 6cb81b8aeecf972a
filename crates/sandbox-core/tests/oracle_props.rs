//! Property tests: for generated rule sets and paths, `decide` agrees with a direct, naive
//! reading of the rules written independently below (string components, no shared helpers).

use proptest::prelude::*;
use sandbox_core::{
    resolve, Access, Entry, NetworkPolicy, Op, Policy, ResolveEnv, Target, TargetOs, UnixSockets,
};
use std::path::{Path, PathBuf};

const NAMES: [&str; 4] = ["a", ".git", "b", ".codex"];

fn rel_path() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(prop::sample::select(&NAMES[..]), 0..4)
}

use sandbox_core::testing::access;

fn op() -> impl Strategy<Value = Op> {
    prop::sample::select(&Op::ALL[..])
}

/// Components of `p` below `base`, as strings.
fn comps(p: &str) -> Vec<&str> {
    p.split('/').filter(|c| !c.is_empty()).collect()
}

fn is_prefix(prefix: &[&str], of: &[&str]) -> bool {
    prefix.len() <= of.len() && prefix.iter().zip(of).all(|(a, b)| a == b)
}

/// The rules of DESIGN.md §2, read literally.
fn naive(rules: &[(String, Access)], globs: &[String], path: &str, op: Op) -> bool {
    let p = comps(path);
    // Deny globs here are only of the form `<base>/**/NAME`: any path below <base> with a
    // component NAME (a matching directory is denied with everything in it).
    if globs.iter().any(|g| {
        let base = &comps(g)[..comps(g).len() - 2];
        is_prefix(base, &p) && p[base.len()..].iter().any(|c| Some(c) == comps(g).last())
    }) {
        return false;
    }
    let matching: Vec<&(String, Access)> = rules
        .iter()
        .filter(|(r, _)| is_prefix(&comps(r), &p))
        .collect();
    let Some(depth) = matching.iter().map(|(r, _)| comps(r).len()).max() else {
        return false;
    };
    let at_depth: Vec<Access> = matching
        .iter()
        .filter(|(r, _)| comps(r).len() == depth)
        .map(|(_, a)| *a)
        .collect();
    let access = if at_depth.contains(&Access::Deny) {
        Access::Deny
    } else if at_depth.contains(&Access::Write) {
        Access::Write
    } else {
        Access::Read
    };
    if !matches!(op, Op::Write | Op::Create) {
        return access != Access::Deny;
    }
    if access != Access::Write {
        return false;
    }
    // Writable roots: write rules not tied with a deny rule on the same path.
    let roots: Vec<&String> = rules
        .iter()
        .filter(|(r, a)| *a == Access::Write && !rules.contains(&(r.clone(), Access::Deny)))
        .map(|(r, _)| r)
        .collect();
    for root in &roots {
        for name in [".git", ".codex", ".agents"] {
            let protected = format!("{root}/{name}");
            // An explicit write rule on the protected path itself unprotects it.
            if rules.contains(&(protected.clone(), Access::Write)) {
                continue;
            }
            let pc = comps(&protected);
            if !is_prefix(&pc, &p) {
                continue;
            }
            let regranted = roots
                .iter()
                .any(|w| is_prefix(&pc, &comps(w)) && is_prefix(&comps(w), &p));
            if !regranted {
                return false;
            }
        }
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decide_matches_naive_reading(
        rules in prop::collection::vec((rel_path(), access()), 1..6),
        globs in prop::collection::vec(prop::sample::select(&NAMES[..2]), 0..2),
        queries in prop::collection::vec((rel_path(), op()), 1..40),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(tmp.path()).unwrap();
        // Every rule path exists as a directory so none is skipped as missing.
        let abs = |rel: &[&str]| -> PathBuf { rel.iter().fold(base.clone(), |p, c| p.join(c)) };
        for (rel, _) in &rules {
            std::fs::create_dir_all(abs(rel)).unwrap();
        }
        let mut policy = Policy::preset(sandbox_core::Preset::ReadOnly);
        policy.entries = rules
            .iter()
            .map(|(rel, a)| Entry::new(Target::Path(abs(rel)), *a, "test"))
            .collect();
        for g in &globs {
            policy.entries.push(Entry::new(Target::Glob(format!("{}/**/{g}", base.display())), Access::Deny, "test"));
        }
        policy.network = NetworkPolicy::Off;
        policy.unix_sockets = UnixSockets::All;
        let env = ResolveEnv { cwd: base.clone(), tmpdir: None, home: None, target: TargetOs::Linux };
        let resolved = resolve(&policy, &env).unwrap();

        let naive_rules: Vec<(String, Access)> =
            rules.iter().map(|(rel, a)| (abs(rel).display().to_string(), *a)).collect();
        let naive_globs: Vec<String> =
            globs.iter().map(|g| format!("{}/**/{g}", base.display())).collect();
        for (rel, op) in &queries {
            let path = abs(rel);
            let got = resolved.decide_canonical(&path, *op);
            let want = naive(&naive_rules, &naive_globs, &path.display().to_string(), *op);
            prop_assert_eq!(got.allowed, want, "{} {:?}: oracle said {:?}", path.display(), op, got.rule);
            prop_assert_eq!(resolved.allows_canonical(&path, *op), got.allowed, "allows_canonical {}", path.display());
        }
        // Paths outside every rule are denied for all operations.
        prop_assert!(!resolved.decide_canonical(Path::new("/definitely/elsewhere"), Op::Read).allowed
            || resolved.rules.iter().any(|r| r.path == Path::new("/")));
    }
}
