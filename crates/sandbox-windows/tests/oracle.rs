//! The Windows plan, evaluated as a DACL for its identity, agrees with the core oracle wherever
//! the plan does not declare a degradation; and what the token cannot enforce is declared.

use proptest::prelude::*;
use sandbox_core::{
    resolve, Access, Entry, NetworkPolicy, Op, PathKind, Policy, Preset, ResolveEnv, Target,
    TargetOs,
};
use sandbox_windows::{compile, AceKind, Capability, Identity, WindowsError};
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
        // Missing protected names get placeholders, so they need no degradation.
        for p in resolved.protected_paths() {
            if p.kind == PathKind::Missing {
                prop_assert!(plan.placeholders.contains(&p.path));
            }
        }
        for (r, op) in &queries {
            let path = abs(r);
            // Declared degradation: deny-read rules under the write-restricted token.
            if !op.is_write() && plan.read_unenforced(&path) {
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
    // The refusal names its capability, as the accepted degradation does.
    assert!(
        matches!(
            err,
            WindowsError::Unsupported {
                capability: Capability::NetworkDenyAll,
                ..
            }
        ),
        "{err:?}"
    );
    let plan = compile(&resolved, true).unwrap();
    assert!(matches!(plan.identity, Identity::WriteRestrictedToken));
    assert!(plan
        .degradations
        .iter()
        .any(|d| d.capability == Capability::NetworkDenyAll
            && d.detail.starts_with("network off is not enforced: ")));
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

fn env_for(base: &std::path::Path) -> ResolveEnv {
    ResolveEnv {
        cwd: base.to_path_buf(),
        tmpdir: None,
        home: None,
        target: TargetOs::Windows,
    }
}

/// Reads everything, writes the workspace, denies `secret` inside it; network full so the only
/// question is the deny rule.
fn token_policy_with_deny(base: &std::path::Path) -> sandbox_core::ResolvedPolicy {
    std::fs::create_dir_all(base.join("secret")).unwrap();
    let mut p = Policy::preset(Preset::WorkspaceWrite);
    p.network = NetworkPolicy::Full;
    p.entries.push(Entry::new(
        Target::Path(base.join("secret")),
        Access::Deny,
        "t",
    ));
    resolve(&p, &env_for(base)).unwrap()
}

#[test]
fn token_tier_refuses_deny_read_without_best_effort() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let resolved = token_policy_with_deny(&base);
    // The oracle denies the read ...
    assert!(
        !resolved
            .decide_canonical(&base.join("secret/k"), Op::Read)
            .allowed
    );
    // ... which the write-restricted token cannot enforce: refused, naming the path.
    let err = compile(&resolved, false).unwrap_err().to_string();
    assert!(
        err.contains(&format!("deny-read of {}", base.join("secret").display()))
            && err.contains("only for writes"),
        "{err}"
    );
}

#[test]
fn token_tier_evaluator_does_not_claim_deny_read() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let resolved = token_policy_with_deny(&base);
    let plan = compile(&resolved, true).unwrap();
    assert_eq!(plan.identity, Identity::WriteRestrictedToken);
    let secret = base.join("secret/k");
    // The evaluator says what Windows does: the read goes through ...
    assert!(plan.allows(&secret, Op::Read));
    assert!(plan.allows(&secret, Op::Exec));
    // ... and the plan declares it.
    assert!(plan.read_unenforced(&secret));
    assert!(plan.unenforced_reads.contains(&base.join("secret")));
    let secret_dir = format!("deny-read of {} ", base.join("secret").display());
    let d = plan
        .degradations
        .iter()
        .find(|d| d.detail.starts_with(&secret_dir))
        .expect("a deny-read degradation");
    assert_eq!(d.capability, Capability::DenyPaths, "{d:?}");
    assert!(d.detail.contains(" is not enforced: "), "{d:?}");
    // Writes into the denied path inside the writable root are still denied, by a deny-write
    // ACE (a deny-all would look like it denied reads too).
    assert!(!plan.allows(&secret, Op::Write));
    assert!(plan
        .aces
        .iter()
        .any(|a| a.path == base.join("secret") && a.kind == AceKind::DenyWrite));
    assert!(!plan.aces.iter().any(|a| a.kind == AceKind::DenyAll));
}

#[test]
fn deny_read_globs_are_a_degradation_under_the_token() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let mut p = Policy::preset(Preset::WorkspaceWrite);
    p.network = NetworkPolicy::Full;
    p.entries.push(Entry::new(
        Target::Glob("**/*.env".into()),
        Access::Deny,
        "t",
    ));
    let resolved = resolve(&p, &env_for(&base)).unwrap();
    let err = compile(&resolved, false).unwrap_err().to_string();
    assert!(
        err.contains("deny-read globs") && err.contains("only for writes"),
        "{err}"
    );
}

#[test]
fn fresh_workspace_needs_no_best_effort_and_gets_placeholders() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let mut p = Policy::preset(Preset::WorkspaceWrite);
    p.network = NetworkPolicy::Full;
    let resolved = resolve(&p, &env_for(&base)).unwrap();
    let plan = compile(&resolved, false).expect("strict mode accepts a fresh workspace");
    assert!(plan.degradations.is_empty(), "{:?}", plan.degradations);
    for name in [".git", ".codex", ".agents"] {
        let path = base.join(name);
        assert!(plan.placeholders.contains(&path), "{name}: {plan:?}");
        assert!(plan
            .aces
            .iter()
            .any(|a| a.path == path && a.kind == AceKind::DenyWrite && a.inherit));
        assert!(!plan.allows(&path.join("hooks"), Op::Create));
        assert!(!plan.allows_rename(&path));
    }
}

#[test]
fn no_grant_carries_file_delete_child_so_git_cannot_be_renamed_away() {
    use sandbox_windows::rights::{DELETE, FILE_DELETE_CHILD};
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    std::fs::create_dir_all(base.join(".git")).unwrap();
    std::fs::create_dir_all(base.join("src")).unwrap();
    let mut p = Policy::preset(Preset::WorkspaceWrite);
    p.network = NetworkPolicy::Full;
    let resolved = resolve(&p, &env_for(&base)).unwrap();
    let plan = compile(&resolved, false).unwrap();
    for ace in &plan.aces {
        if !ace.kind.is_deny() {
            assert_eq!(ace.kind.mask() & FILE_DELETE_CHILD, 0, "{ace:?}");
        }
    }
    let git = plan
        .aces
        .iter()
        .find(|a| a.path == base.join(".git"))
        .unwrap();
    assert!(
        git.kind.is_deny() && git.kind.mask() & DELETE != 0,
        "{git:?}"
    );
    assert!(!plan.allows_rename(&base.join(".git")));
    assert!(!plan.allows_rename(&base.join(".git/config")));
    assert!(plan.allows_rename(&base.join("src")));
    assert!(plan.allows_rename(&base.join("src/main.rs")));
    assert!(!plan.allows_rename(&PathBuf::from("/etc/passwd")));
}

#[test]
fn directories_holding_a_protected_gitdir_cannot_be_renamed() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    // A worktree pointer: .git is a file naming a gitdir deeper in the workspace.
    std::fs::create_dir_all(base.join("repo/.git/worktrees/w")).unwrap();
    std::fs::write(
        base.join(".git"),
        format!("gitdir: {}\n", base.join("repo/.git/worktrees/w").display()),
    )
    .unwrap();
    let mut p = Policy::preset(Preset::WorkspaceWrite);
    p.network = NetworkPolicy::Full;
    let resolved = resolve(&p, &env_for(&base)).unwrap();
    let plan = compile(&resolved, false).unwrap();
    for pin in resolved.rename_pins() {
        assert!(!plan.allows_rename(&pin), "{} {plan:#?}", pin.display());
        assert!(plan
            .aces
            .iter()
            .any(|a| a.path == pin && a.kind.mask() & sandbox_windows::rights::DELETE != 0));
    }
    assert!(!resolved.rename_pins().is_empty());
    assert!(!plan.allows_rename(&base.join(".git")));
}

#[test]
fn plans_name_no_sid_the_launcher_makes_one_per_run() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let resolved = token_policy_with_deny(&base);
    let json = serde_json::to_string(&compile(&resolved, true).unwrap()).unwrap();
    assert!(!json.contains("S-1-5-21"), "{json}");
    let (a, b) = (
        sandbox_windows::runid::RunId::fresh(),
        sandbox_windows::runid::RunId::fresh(),
    );
    assert_ne!(a.sid(), b.sid());
}

/// A `.git` pointer's gitdir outside the workspace is protected as the workspace's; an explicit
/// write rule on that gitdir re-grants it (oracle rule 5). The plan must not stamp a deny-write
/// ACE there: at the same depth as the root's allow-modify, the deny would win and refuse every
/// write the oracle allows (found by the differential harness, seed 1796577744063).
#[test]
fn gitdir_with_its_own_write_rule_stays_writable() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let ws = base.join("ws");
    let gitdir = base.join("out/gitdir");
    std::fs::create_dir_all(gitdir.join("hooks")).unwrap();
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(gitdir.join("config"), "").unwrap();
    std::fs::write(ws.join(".git"), "gitdir: ../out/gitdir\n").unwrap();
    let mut p = Policy::preset(Preset::WorkspaceWrite);
    p.network = NetworkPolicy::Full;
    p.entries
        .push(Entry::new(Target::Path(gitdir.clone()), Access::Write, "t"));
    let resolved = resolve(&p, &env_for(&ws)).unwrap();
    // The gitdir is still named protected (for the workspace root) and is a writable root.
    assert!(resolved.protected_paths().iter().any(|q| q.path == gitdir));
    assert!(resolved.writable_roots.iter().any(|w| w.path == gitdir));
    let plan = compile(&resolved, false).unwrap();
    for (path, op) in [
        (gitdir.clone(), Op::Write),
        (gitdir.join("config"), Op::Write),
        (gitdir.join("hooks/pre-commit"), Op::Create),
        (gitdir.join("new"), Op::Create),
        (ws.join(".git"), Op::Write),
        (ws.join("src.rs"), Op::Create),
    ] {
        let want = resolved.decide_canonical(&path, op).allowed;
        assert_eq!(
            plan.allows(&path, op),
            want,
            "{} {op:?}: {plan:#?}",
            path.display()
        );
    }
    assert!(plan.allows(&gitdir.join("config"), Op::Write));
    // The pointer file itself stays protected, as the oracle says.
    assert!(
        !resolved
            .decide_canonical(&ws.join(".git"), Op::Write)
            .allowed
    );
    assert!(!plan.allows(&ws.join(".git"), Op::Write));
}
