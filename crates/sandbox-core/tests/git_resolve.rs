//! What `resolve` protects in the repositories of the writable roots, in both git modes, and
//! what the oracle answers there (issue 14). Repositories are made by hand (HEAD, objects/,
//! refs/), so these tests need no git binary.

use sandbox_core::{resolve, GitMode, Op, Policy, Preset, ResolveEnv, ResolvedPolicy, TargetOs};
use std::path::{Path, PathBuf};

fn gitdir(at: &Path) {
    for d in ["objects", "refs/heads", "hooks", "info"] {
        std::fs::create_dir_all(at.join(d)).unwrap();
    }
    std::fs::write(at.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(at.join("config"), "[core]\n\tbare = false\n").unwrap();
}

fn resolved(ws: &Path, mode: GitMode) -> ResolvedPolicy {
    let mut p = Policy::preset_with(Preset::WorkspaceWrite, true, true);
    p.git.mode = mode;
    let env = ResolveEnv {
        cwd: ws.to_path_buf(),
        tmpdir: None,
        home: None,
        target: TargetOs::Linux,
    };
    resolve(&p, &env).unwrap()
}

fn allowed(p: &ResolvedPolicy, path: &Path, op: Op) -> bool {
    p.decide(path, op).allowed
}

/// A workspace with a repository, a submodule checkout (pointer into `.git/modules/sub`), a
/// nested repository, and a linked worktree pointing outside the workspace.
fn layout() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().canonicalize().unwrap();
    let ws = base.join("ws");
    gitdir(&ws.join(".git"));
    gitdir(&ws.join(".git/modules/sub"));
    std::fs::create_dir_all(ws.join("sub")).unwrap();
    std::fs::write(ws.join("sub/.git"), "gitdir: ../.git/modules/sub\n").unwrap();
    gitdir(&ws.join("a/nested/.git"));
    let main = base.join("main");
    gitdir(&main.join(".git"));
    let wt = main.join(".git/worktrees/wt");
    std::fs::create_dir_all(&wt).unwrap();
    std::fs::write(wt.join("HEAD"), "ref: refs/heads/wt\n").unwrap();
    std::fs::write(wt.join("commondir"), "../..\n").unwrap();
    std::fs::create_dir_all(ws.join("wt")).unwrap();
    std::fs::write(ws.join("wt/.git"), format!("gitdir: {}\n", wt.display())).unwrap();
    (d, ws, main)
}

#[test]
fn read_only_mode_protects_nested_repositories_and_pointers() {
    let (_d, ws, main) = layout();
    let p = resolved(&ws, GitMode::ReadOnly);
    for path in [
        ".git/index",
        ".git/modules/sub/config",
        "sub/.git",
        "a/nested/.git/config",
        "a/nested/.git/hooks/pre-commit",
        "a/nested/.git/index",
        "wt/.git",
    ] {
        assert!(!allowed(&p, &ws.join(path), Op::Create), "{path}");
    }
    // Outside the roots: not writable anyway.
    assert!(!allowed(&p, &main.join(".git/objects/x"), Op::Create));
    assert!(allowed(&p, &ws.join("a/nested/file"), Op::Create));
    // A new repository may still be made.
    assert!(allowed(&p, &ws.join("b/.git"), Op::Create));
    let d = p.decide(&ws.join("a/nested/.git/config"), Op::Write);
    assert!(d.rule.contains("nested .git"), "{}", d.rule);
    assert!(sandbox_core::git::commit_mode_would_allow(
        &p,
        &ws.join(".git/index")
    ));
    assert!(!sandbox_core::git::commit_mode_would_allow(
        &p,
        &ws.join(".git/config")
    ));
}

#[test]
fn commit_mode_opens_objects_and_keeps_config_and_hooks() {
    let (_d, ws, main) = layout();
    let p = resolved(&ws, GitMode::Commit);
    for path in [
        ws.join(".git/index.lock"),
        ws.join(".git/objects/ab/cdef"),
        ws.join(".git/refs/heads/x"),
        ws.join(".git/packed-refs"),
        ws.join(".git/modules/sub/index"),
        ws.join("a/nested/.git/ORIG_HEAD"),
        main.join(".git/objects/ab/cdef"),
        main.join(".git/packed-refs.lock"),
        main.join(".git/worktrees/wt/index"),
    ] {
        let d = p.decide(&path, Op::Create);
        assert!(d.allowed, "{}: {}", path.display(), d.rule);
    }
    for path in [
        ws.join(".git/config"),
        ws.join(".git/hooks/pre-commit"),
        ws.join(".git/info/attributes"),
        ws.join(".git/modules/sub/config"),
        ws.join(".git/modules/sub/hooks/post-checkout"),
        ws.join("a/nested/.git/config"),
        ws.join("sub/.git"),
        ws.join("wt/.git"),
        main.join(".git/config"),
        main.join(".git/hooks/x"),
        main.join(".git/worktrees/wt/commondir"),
    ] {
        let d = p.decide(&path, Op::Write);
        assert!(!d.allowed, "{}: {}", path.display(), d.rule);
    }
    let d = p.decide(&ws.join(".git/index"), Op::Write);
    assert!(d.rule.contains("git commit mode: objects"), "{}", d.rule);
    let d = p.decide(&ws.join(".git/config"), Op::Write);
    assert!(d.rule.contains("(git config)"), "{}", d.rule);
}

#[test]
fn an_empty_git_stub_is_not_made_writable_in_commit_mode() {
    let d = tempfile::tempdir().unwrap();
    let ws = d.path().canonicalize().unwrap();
    std::fs::create_dir(ws.join(".git")).unwrap();
    let p = resolved(&ws, GitMode::Commit);
    assert!(!allowed(&p, &ws.join(".git/config"), Op::Create));
}

#[test]
fn config_keys_set_the_git_mode_and_depth_and_bad_values_name_the_key() {
    let load = |over: &str| {
        sandbox_core::load(&sandbox_core::LoadRequest {
            overrides: vec![over.to_string()],
            full_auto: true,
            ..Default::default()
        })
    };
    let l = load("sandbox.git=\"commit\"").unwrap();
    assert_eq!(l.policy.git.mode, GitMode::Commit);
    let l = load("sandbox.git_scan_max_depth=1").unwrap();
    assert_eq!(l.policy.git.scan_max_depth, Some(1));
    let e = load("sandbox.git=\"read-write\"").unwrap_err().to_string();
    assert!(e.contains("sandbox.git") && e.contains("read-write"), "{e}");
    let e = load("sandbox.git=true").unwrap_err().to_string();
    assert!(e.contains("sandbox.git") && e.contains("boolean"), "{e}");
    let e = load("sandbox.git_scan_max_depth=-1")
        .unwrap_err()
        .to_string();
    assert!(e.contains("sandbox.git_scan_max_depth"), "{e}");
}

#[test]
fn a_hooks_path_directory_in_the_work_tree_is_read_only_in_both_modes() {
    let d = tempfile::tempdir().unwrap();
    let ws = d.path().canonicalize().unwrap();
    gitdir(&ws.join(".git"));
    std::fs::write(ws.join(".git/config"), "[core]\n\thooksPath = .githooks\n").unwrap();
    std::fs::create_dir(ws.join(".githooks")).unwrap();
    for mode in [GitMode::ReadOnly, GitMode::Commit] {
        let p = resolved(&ws, mode);
        let d = p.decide(&ws.join(".githooks/pre-commit"), Op::Create);
        assert!(!d.allowed, "{mode:?}: {}", d.rule);
        assert!(d.rule.contains("core.hooksPath"), "{}", d.rule);
        assert!(allowed(&p, &ws.join("src.rs"), Op::Create));
    }
}
