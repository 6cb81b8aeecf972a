//! The Windows plan, evaluated as a DACL, agrees with the core oracle wherever the plan does not
//! declare a degradation.

use proptest::prelude::*;
use sandbox_core::{
    resolve, Access, Entry, NetworkPolicy, Op, PathKind, Policy, Preset, ResolveEnv, Target,
    TargetOs,
};
use sandbox_windows::{compile, AceKind, Identity};
use std::path::PathBuf;

const NAMES: [&str; 4] = ["a", ".git", "b", ".codex"];

fn rel() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(prop::sample::select(&NAMES[..]), 0..4)
}

use sandbox_core::testing::access;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn plan_agrees_with_oracle(
        read_all in any::<bool>(),
        rules in prop::collection::vec((rel(), access()), 1..5),
        queries in prop::collection::vec((rel(), prop::sample::select(&Op::ALL[..])), 1..30),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(tmp.path()).unwrap();
        let abs = |r: &[&str]| -> PathBuf { r.iter().fold(base.clone(), |p, c| p.join(c)) };
        let mut policy = Policy::preset(Preset::ReadOnly);
        policy.entries.clear();
        if read_all {
            policy.entries.push(Entry::new(Target::Path("/".into()), Access::Read, "t"));
        }
        for (r, a) in &rules {
            std::fs::create_dir_all(abs(r)).unwrap();
            policy.entries.push(Entry::new(Target::Path(abs(r)), *a, "t"));
        }
        policy.network = NetworkPolicy::Full;
        let env = ResolveEnv { cwd: base.clone(), tmpdir: None, home: None, target: TargetOs::Windows };
        let resolved = resolve(&policy, &env).unwrap();
        let plan = compile(&resolved, true).unwrap();
        let missing: Vec<PathBuf> = resolved
            .protected_paths()
            .into_iter()
            .filter(|p| p.kind == PathKind::Missing)
            .map(|p| p.path.clone())
            .collect();
        for (r, op) in &queries {
            let path = abs(r);
            // Declared degradation: missing protected names are not enforced by ACLs.
            if missing.iter().any(|m| path.starts_with(m)) {
                continue;
            }
            let want = resolved.decide_canonical(&path, *op).allowed;
            prop_assert_eq!(plan.allows(&path, *op), want, "{} {:?} plan {:?}", path.display(), op, plan);
        }
    }
}

#[test]
fn strict_mode_refuses_degradations() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let env = ResolveEnv {
        cwd: base.clone(),
        tmpdir: None,
        home: None,
        target: TargetOs::Windows,
    };
    let resolved = resolve(&Policy::preset(Preset::WorkspaceWrite), &env).unwrap();
    // Network off under a token that reads everything cannot be enforced.
    let err = compile(&resolved, false).unwrap_err();
    assert!(err.to_string().contains("network off"), "{err}");
    let plan = compile(&resolved, true).unwrap();
    assert!(matches!(
        plan.identity,
        Identity::WriteRestrictedToken { .. }
    ));
    assert!(plan.degradations.iter().any(|d| d.feature == "network off"));
    assert!(plan
        .aces
        .iter()
        .any(|a| a.path == base && a.kind == AceKind::AllowModify && a.inherit));
}

#[test]
fn existing_git_gets_a_deny_write_ace() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    std::fs::create_dir_all(base.join(".git")).unwrap();
    let env = ResolveEnv {
        cwd: base.clone(),
        tmpdir: None,
        home: None,
        target: TargetOs::Windows,
    };
    let mut p = Policy::preset(Preset::WorkspaceWrite);
    p.network = NetworkPolicy::Full;
    let resolved = resolve(&p, &env).unwrap();
    let plan = compile(&resolved, true).unwrap();
    assert!(plan
        .aces
        .iter()
        .any(|a| a.path == base.join(".git") && a.kind == AceKind::DenyWrite));
    assert!(!plan.allows(&base.join(".git/config"), Op::Write));
    assert!(plan.allows(&base.join("src.rs"), Op::Write));
    assert!(plan.allows(&PathBuf::from("/etc/passwd"), Op::Read));
    assert!(!plan.allows(&PathBuf::from("/etc/passwd"), Op::Write));
}

#[test]
fn restricted_reads_use_an_appcontainer_without_network_capabilities() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let env = ResolveEnv {
        cwd: base.clone(),
        tmpdir: None,
        home: None,
        target: TargetOs::Windows,
    };
    let mut p = Policy::preset(Preset::ReadOnly);
    p.entries = vec![Entry::new(Target::Path(base.clone()), Access::Read, "t")];
    let resolved = resolve(&p, &env).unwrap();
    let plan = compile(&resolved, false).unwrap();
    match &plan.identity {
        Identity::AppContainer { capabilities, .. } => assert!(capabilities.is_empty()),
        other => panic!("expected an AppContainer, got {other:?}"),
    }
    assert!(plan.allows(&base.join("x"), Op::Read));
    assert!(!plan.allows(&PathBuf::from("/etc/passwd"), Op::Read));
}
