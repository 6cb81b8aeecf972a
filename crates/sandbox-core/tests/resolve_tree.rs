//! Resolution on real temp trees: symlinks, protected subpaths, pointer files, missing roots.

use sandbox_core::{
    resolve, CoreError, Op, PathKind, Policy, Preset, ResolveEnv, ResolvedPolicy, TargetOs,
};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

fn env(cwd: &Path) -> ResolveEnv {
    ResolveEnv {
        cwd: cwd.to_path_buf(),
        tmpdir: None,
        home: None,
        target: TargetOs::Linux,
    }
}

fn workspace(policy: Policy, cwd: &Path) -> ResolvedPolicy {
    resolve(&policy, &env(cwd)).unwrap()
}

/// Workspace-write without `/tmp` and `$TMPDIR`, since the temp trees live under `/tmp`.
fn ws_policy() -> Policy {
    Policy::preset_with(Preset::WorkspaceWrite, true, true)
}

fn tree() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(t.path()).unwrap();
    (t, base)
}

#[test]
fn writable_root_through_symlink_resolves_to_target() {
    let (_t, base) = tree();
    std::fs::create_dir_all(base.join("real/ws")).unwrap();
    symlink(base.join("real"), base.join("link")).unwrap();
    let r = workspace(ws_policy(), &base.join("link/ws"));
    assert_eq!(r.cwd, base.join("real/ws"));
    assert!(r
        .writable_roots
        .iter()
        .any(|w| w.path == base.join("real/ws")));
    // Asking through the link gives the same answer as asking the real path.
    assert!(r.decide(&base.join("link/ws/new.txt"), Op::Create).allowed);
    assert!(
        !r.decide(&base.join("link/ws/.git/config"), Op::Write)
            .allowed
    );
    assert!(!r.decide(&base.join("link/other.txt"), Op::Create).allowed);
}

#[test]
fn symlink_inside_root_pointing_out_is_judged_at_its_target() {
    let (_t, base) = tree();
    std::fs::create_dir_all(base.join("ws")).unwrap();
    std::fs::create_dir_all(base.join("outside")).unwrap();
    symlink(base.join("outside"), base.join("ws/escape")).unwrap();
    let r = workspace(ws_policy(), &base.join("ws"));
    let d = r.decide(&base.join("ws/escape/f"), Op::Create);
    assert!(!d.allowed, "{}", d.rule);
}

#[test]
fn protected_names_exist_or_not() {
    let (_t, base) = tree();
    std::fs::create_dir_all(base.join(".git/hooks")).unwrap();
    std::fs::create_dir_all(base.join(".codex")).unwrap();
    let r = workspace(ws_policy(), &base);
    let root = r.writable_roots.iter().find(|w| w.path == base).unwrap();
    let kinds: Vec<(String, PathKind)> = root
        .protected
        .iter()
        .map(|p| {
            (
                p.path.file_name().unwrap().to_string_lossy().into_owned(),
                p.kind,
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            (".agents".into(), PathKind::Missing),
            (".aws".into(), PathKind::Missing),
            (".codex".into(), PathKind::Dir),
            (".git".into(), PathKind::Dir)
        ]
    );
    assert!(
        !r.decide(&base.join(".git/hooks/pre-commit"), Op::Create)
            .allowed
    );
    assert!(!r.decide(&base.join(".agents"), Op::Create).allowed);
    assert!(!r.decide(&base.join(".agents/x"), Op::Create).allowed);
    assert!(r.decide(&base.join(".gitignore"), Op::Create).allowed);
    assert!(r.decide(&base.join(".git/config"), Op::Read).allowed);
}

#[test]
fn gitdir_pointer_protects_file_and_target() {
    let (_t, base) = tree();
    std::fs::create_dir_all(base.join("ws")).unwrap();
    std::fs::create_dir_all(base.join("repo/.git/worktrees/ws")).unwrap();
    std::fs::write(base.join("ws/.git"), "gitdir: ../repo/.git/worktrees/ws\n").unwrap();
    let mut p = ws_policy();
    p.add_writable_root(base.join("repo"), "test");
    let r = workspace(p, &base.join("ws"));
    assert!(!r.decide(&base.join("ws/.git"), Op::Write).allowed);
    let d = r.decide(&base.join("repo/.git/worktrees/ws/config"), Op::Write);
    assert!(!d.allowed);
    assert!(r.decide(&base.join("repo/src.rs"), Op::Write).allowed);
}

#[test]
fn gitdir_target_outside_roots_is_protected_even_when_another_root_covers_it() {
    let (_t, base) = tree();
    std::fs::create_dir_all(base.join("ws")).unwrap();
    std::fs::create_dir_all(base.join("gitdirs/w")).unwrap();
    std::fs::write(
        base.join("ws/.git"),
        format!("gitdir: {}\n", base.join("gitdirs/w").display()),
    )
    .unwrap();
    let mut p = ws_policy();
    p.add_writable_root(base.join("gitdirs"), "test");
    let r = workspace(p, &base.join("ws"));
    let d = r.decide(&base.join("gitdirs/w/HEAD"), Op::Write);
    assert!(!d.allowed, "{}", d.rule);
    assert!(d.rule.contains("gitdir of"), "{}", d.rule);
    assert!(r.decide(&base.join("gitdirs/other"), Op::Create).allowed);
}

#[test]
fn symlinked_protected_path_is_refused() {
    let (_t, base) = tree();
    std::fs::create_dir_all(base.join("ws/decoy")).unwrap();
    symlink(base.join("ws/decoy"), base.join("ws/.codex")).unwrap();
    let e = resolve(&ws_policy(), &env(&base.join("ws"))).unwrap_err();
    assert!(matches!(e, CoreError::SymlinkedProtected { .. }), "{e}");
    assert!(e.to_string().contains(".codex"));
}

#[test]
fn missing_writable_root_is_skipped_with_a_warning() {
    let (_t, base) = tree();
    let mut p = ws_policy();
    p.add_writable_root(base.join("nope"), "--writable-root");
    let r = workspace(p, &base);
    assert!(!r.writable_roots.iter().any(|w| w.path == base.join("nope")));
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("nope") && w.contains("--writable-root")));
}

#[test]
fn duplicate_roots_are_merged() {
    let (_t, base) = tree();
    std::fs::create_dir_all(base.join("ws")).unwrap();
    symlink(base.join("ws"), base.join("alias")).unwrap();
    let mut p = ws_policy();
    p.add_writable_root(base.join("alias"), "--writable-root");
    p.add_writable_root(base.join("ws/."), "--writable-root");
    let r = workspace(p, &base.join("ws"));
    assert_eq!(
        r.writable_roots
            .iter()
            .filter(|w| w.path == base.join("ws"))
            .count(),
        1
    );
}

#[test]
fn tmpdir_and_slash_tmp_switches() {
    let (_t, base) = tree();
    std::fs::create_dir_all(base.join("ws")).unwrap();
    std::fs::create_dir_all(base.join("mytmp")).unwrap();
    let mut e = env(&base.join("ws"));
    e.tmpdir = Some(base.join("mytmp").into_os_string());
    let r = resolve(&Policy::preset(Preset::WorkspaceWrite), &e).unwrap();
    assert!(r.decide(&base.join("mytmp/f"), Op::Create).allowed);
    assert!(r.decide(Path::new("/tmp/f"), Op::Create).allowed);
    let r = resolve(&Policy::preset_with(Preset::WorkspaceWrite, true, true), &e).unwrap();
    assert!(!r.decide(&base.join("mytmp/f"), Op::Create).allowed);
    assert!(
        !r.decide(Path::new("/tmp/sandbox-core-test-f"), Op::Create)
            .allowed
    );
    // A relative TMPDIR is not trusted.
    e.tmpdir = Some("relative/tmp".into());
    let r = resolve(&Policy::preset(Preset::WorkspaceWrite), &e).unwrap();
    assert!(r.warnings.iter().any(|w| w.contains("TMPDIR")));
}

#[test]
fn relative_and_bad_inputs_name_the_value() {
    let (_t, base) = tree();
    let mut p = ws_policy();
    p.add_writable_root(PathBuf::from("rel/dir"), "--writable-root");
    let e = resolve(&p, &env(&base)).unwrap_err();
    assert!(
        e.to_string().contains("rel/dir") && e.to_string().contains("--writable-root"),
        "{e}"
    );

    let e = resolve(
        &Policy::preset(Preset::ReadOnly),
        &env(&base.join("missing")),
    )
    .unwrap_err();
    assert!(matches!(e, CoreError::Cwd { .. }), "{e}");

    let mut p = Policy::preset(Preset::ReadOnly);
    p.add_deny_glob("a/[b".into(), "--deny-read");
    p.add_deny_glob("{a,b".into(), "--deny-read");
    let e = resolve(&p, &env(&base)).unwrap_err();
    assert!(matches!(e, CoreError::BadGlob { .. }), "{e}");
}

#[test]
fn non_utf8_path_is_rejected() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let (_t, base) = tree();
    let bad = base.join(OsStr::from_bytes(b"caf\xe9"));
    std::fs::create_dir_all(&bad).unwrap();
    let mut p = ws_policy();
    p.add_writable_root(bad, "--writable-root");
    let e = resolve(&p, &env(&base)).unwrap_err();
    assert!(matches!(e, CoreError::NonUtf8 { .. }), "{e}");
}

#[test]
fn deny_entries_carve_and_regrant() {
    let (_t, base) = tree();
    for d in ["ws/secret/pub", "ws/docs"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    let mut p = ws_policy();
    p.entries.push(sandbox_core::Entry::new(
        sandbox_core::Target::Path(base.join("ws/secret")),
        sandbox_core::Access::Deny,
        "test",
    ));
    p.entries.push(sandbox_core::Entry::new(
        sandbox_core::Target::Path(base.join("ws/secret/pub")),
        sandbox_core::Access::Write,
        "test",
    ));
    p.entries.push(sandbox_core::Entry::new(
        sandbox_core::Target::Path(base.join("ws/docs")),
        sandbox_core::Access::Read,
        "test",
    ));
    let r = workspace(p, &base.join("ws"));
    assert!(!r.decide(&base.join("ws/secret/key"), Op::Read).allowed);
    assert!(r.decide(&base.join("ws/secret/pub/x"), Op::Create).allowed);
    assert!(r.decide(&base.join("ws/docs/x"), Op::Read).allowed);
    assert!(!r.decide(&base.join("ws/docs/x"), Op::Create).allowed);
    assert_eq!(r.denied_paths(), vec![base.join("ws/secret").as_path()]);
}

#[test]
fn rename_pins_are_the_renamable_ancestors_of_protected_paths() {
    let (_t, base) = tree();
    std::fs::create_dir_all(base.join("outer/mid/ws/.git")).unwrap();
    // The workspace alone: its parent is not writable, so nothing can be renamed.
    let r = workspace(ws_policy(), &base.join("outer/mid/ws"));
    assert_eq!(r.rename_pins(), Vec::<PathBuf>::new());
    // Inside another writable root (as under /tmp): the workspace and every directory up to
    // that root could carry `.git` away, so each is pinned; the root itself is not.
    let mut p = ws_policy();
    p.add_writable_root(base.join("outer"), "--writable-root");
    let r = workspace(p, &base.join("outer/mid/ws"));
    assert_eq!(
        r.rename_pins(),
        [base.join("outer/mid"), base.join("outer/mid/ws")]
    );
}

#[test]
fn masked_paths_pin_their_ancestors_once_each_below_the_root() {
    let (_t, base) = tree();
    std::fs::create_dir_all(base.join("ws/a/b")).unwrap();
    let r = workspace(ws_policy(), &base.join("ws"));
    let m1 = base.join("ws/a/b/.env");
    let m2 = base.join("ws/a/.env");
    let outside = base.join("elsewhere/x/.env");
    let pins = r.rename_pins_with([m1.as_path(), m2.as_path(), outside.as_path()]);
    // Not the root (a mount already), nothing outside a writable root, no duplicates.
    assert_eq!(pins, [base.join("ws/a"), base.join("ws/a/b")]);
    assert_eq!(r.rename_pins_with(std::iter::empty()), r.rename_pins());
}

#[test]
fn a_fifo_named_git_is_protected_without_being_read() {
    let (_t, base) = tree();
    std::fs::create_dir_all(base.join("ws")).unwrap();
    let fifo = base.join("ws/.git");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Reading the FIFO as a pointer file would wait forever for a writer.
    let ws = base.join("ws");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(workspace(ws_policy(), &ws));
    });
    let r = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("resolve did not finish: it read the FIFO");
    let p = r.protected_paths();
    assert!(p.iter().any(|p| p.path == fifo && p.kind == PathKind::File));
    assert!(!r.decide(&fifo, Op::Write).allowed);
}

#[test]
fn a_gitdir_pointer_that_is_not_utf8_still_protects_its_target() {
    use std::os::unix::ffi::OsStrExt;
    let (_t, base) = tree();
    let target = base.join(std::ffi::OsStr::from_bytes(b"\xfegitdir"));
    std::fs::create_dir_all(&target).unwrap();
    std::fs::create_dir_all(base.join("ws")).unwrap();
    let mut pointer = b"gitdir: ".to_vec();
    pointer.extend_from_slice(target.as_os_str().as_bytes());
    pointer.push(b'\n');
    std::fs::write(base.join("ws/.git"), pointer).unwrap();
    let mut p = ws_policy();
    p.add_writable_root(base.clone(), "--writable-root");
    let r = workspace(p, &base.join("ws"));
    assert!(
        r.protected_paths().iter().any(|p| p.path == target),
        "{:?}",
        r.protected_paths()
    );
    assert!(!r.decide(&target.join("HOOK"), Op::Create).allowed);
}

#[test]
fn an_empty_deny_glob_is_an_error_not_the_working_directory() {
    let (_t, base) = tree();
    let mut p = ws_policy();
    p.add_deny_glob(String::new(), "--deny-read");
    let e = resolve(&p, &env(&base)).unwrap_err().to_string();
    assert!(e.contains("--deny-read") && e.contains("empty"), "{e}");
}

#[test]
fn tilde_needs_an_absolute_home() {
    let (_t, base) = tree();
    for home in ["", "rel"] {
        let mut p = ws_policy();
        p.add_writable_root(PathBuf::from("~/x"), "--writable-root");
        let mut e = env(&base);
        e.home = Some(PathBuf::from(home));
        let err = resolve(&p, &e).unwrap_err().to_string();
        assert!(err.contains("not an absolute path"), "{home:?}: {err}");
    }
}
