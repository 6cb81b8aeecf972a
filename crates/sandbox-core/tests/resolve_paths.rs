//! Resolution of rules the backends must carve out of writable roots: read rules on missing
//! paths, rename pins for read and deny rules, symlinks planted on the way to a writable root,
//! the launcher's own executable, and read-only with writable roots.
#![cfg(unix)]

use sandbox_core::{
    load, resolve, Access, CoreError, Entry, LoadRequest, Op, Policy, Preset, ResolveEnv, Special,
    Target, TargetOs,
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

fn tree() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(t.path()).unwrap();
    (t, base)
}

fn cwd_rule(sub: &str, access: Access) -> Entry {
    Entry::new(
        Target::Special(Special::Cwd {
            subpath: Some(sub.into()),
        }),
        access,
        "test",
    )
}

/// Workspace-write without `/tmp` and `$TMPDIR`, since the temp trees live under `/tmp`.
fn ws_policy() -> Policy {
    Policy::preset_with(Preset::WorkspaceWrite, true, true)
}

#[test]
fn a_read_rule_on_a_missing_path_inside_a_writable_root_is_kept() {
    let (_t, base) = tree();
    let ws = base.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let mut p = ws_policy();
    p.entries.push(cwd_rule("later", Access::Read));
    p.entries.push(cwd_rule("gone", Access::Deny));
    p.entries.push(Entry::new(
        Target::Path(base.join("nowhere")),
        Access::Read,
        "test",
    ));
    let r = resolve(&p, &env(&ws)).unwrap();
    assert!(!r.decide(&ws.join("later"), Op::Create).allowed);
    assert!(!r.decide(&ws.join("later/f"), Op::Create).allowed);
    assert!(r.decide(&ws.join("later/f"), Op::Read).allowed);
    assert!(!r.decide(&ws.join("gone/f"), Op::Read).allowed);
    // Outside every writable root nothing could create it: skipped as before, with a warning.
    assert!(r.warnings.iter().any(|w| w.contains("nowhere")));
    assert!(!r.warnings.iter().any(|w| w.contains("later")));
}

#[test]
fn read_and_deny_rules_inside_writable_roots_are_pinned() {
    let (_t, base) = tree();
    let ws = base.join("ws");
    std::fs::create_dir_all(ws.join("a/docs")).unwrap();
    std::fs::create_dir_all(ws.join("b/c/secret")).unwrap();
    let mut p = ws_policy();
    p.entries.push(cwd_rule("a/docs", Access::Read));
    p.entries.push(cwd_rule("b/c/secret", Access::Deny));
    let r = resolve(&p, &env(&ws)).unwrap();
    let pins = r.rename_pins();
    for d in ["a", "b", "b/c"] {
        assert!(pins.contains(&ws.join(d)), "{d} not pinned: {pins:?}");
    }
}

#[test]
fn a_symlink_planted_inside_a_writable_root_is_refused() {
    let (_t, base) = tree();
    let ws = base.join("ws");
    let home = base.join("home");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    symlink(&home, ws.join("demo")).unwrap();
    // --writable-root WS/demo, with WS writable: refused, naming link and target.
    let mut p = ws_policy();
    p.add_writable_root(ws.join("demo"), "--writable-root");
    let e = resolve(&p, &env(&ws)).unwrap_err();
    assert!(matches!(e, CoreError::PlantedLink { .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains(&*ws.join("demo").to_string_lossy()), "{text}");
    assert!(text.contains(&*home.to_string_lossy()), "{text}");
    // -C WS/demo with WS an extra writable root: refused.
    let mut p = ws_policy();
    p.add_writable_root(ws.clone(), "--writable-root");
    let e = resolve(&p, &env(&ws.join("demo"))).unwrap_err();
    assert!(e.to_string().contains("working directory"), "{e}");
    // The same link with WS not writable: followed as before.
    let r = resolve(&ws_policy(), &env(&ws.join("demo"))).unwrap();
    assert_eq!(r.cwd, home);
    // A link inside a writable root whose target is inside that root widens nothing.
    std::fs::create_dir_all(ws.join("real")).unwrap();
    symlink(ws.join("real"), ws.join("alias")).unwrap();
    let mut p = ws_policy();
    p.add_writable_root(ws.join("alias"), "--writable-root");
    resolve(&p, &env(&ws)).unwrap();
}

#[test]
fn the_launcher_inside_a_writable_root_is_protected_and_pinned() {
    let (_t, base) = tree();
    let ws = base.join("ws");
    std::fs::create_dir_all(ws.join("target/release")).unwrap();
    let exe = ws.join("target/release/sandbox");
    std::fs::write(&exe, "").unwrap();
    let mut r = resolve(&ws_policy(), &env(&ws)).unwrap();
    assert!(r.decide(&exe, Op::Write).allowed);
    r.protect_executable(&exe, "the sandbox executable")
        .unwrap();
    let d = r.decide(&exe, Op::Write);
    assert!(
        !d.allowed && d.rule.contains("the sandbox executable"),
        "{}",
        d.rule
    );
    assert_eq!(
        r.rename_pins(),
        [ws.join("target"), ws.join("target/release")]
    );
    // Outside every writable root: nothing changes.
    let before = r.clone();
    r.protect_executable(Path::new("/usr/bin/env"), "x")
        .unwrap();
    assert_eq!(r, before);
    // A second hard link (cargo's `deps/sandbox-HASH`) could be changed instead: refused.
    std::fs::create_dir_all(ws.join("target/release/deps")).unwrap();
    std::fs::hard_link(&exe, ws.join("target/release/deps/sandbox-0")).unwrap();
    let mut r = resolve(&ws_policy(), &env(&ws)).unwrap();
    let e = r
        .protect_executable(&exe, "the sandbox executable")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("2 hard links") && e.contains("outside the writable roots"),
        "{e}"
    );
}

#[test]
fn read_only_with_a_writable_root_is_refused() {
    for mode in [Some("read-only".to_string()), None] {
        let req = LoadRequest {
            sandbox_mode: mode,
            writable_roots: vec!["/srv/x".into()],
            ..Default::default()
        };
        let e = load(&req).unwrap_err();
        assert!(matches!(e, CoreError::WritableRootInReadOnly { .. }), "{e}");
        assert!(e.to_string().contains("/srv/x"), "{e}");
    }
    let req = LoadRequest {
        full_auto: true,
        writable_roots: vec!["/srv/x".into()],
        ..Default::default()
    };
    load(&req).unwrap();
}

/// Root bypasses the sticky bit, so another user's link at a protected name in a sticky
/// directory is held as it is: protected with kind `Link` (never followed), with a warning,
/// instead of refusing the run. Needs root (to own neither the link nor be stopped by it).
#[test]
fn root_holds_a_foreign_link_in_a_sticky_directory() {
    use std::os::unix::fs::PermissionsExt as _;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("notice: not root: skipped");
        return;
    }
    let (_t, base) = tree();
    let ws = base.join("ws");
    let shared = base.join("shared");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let link = shared.join(".codex");
    symlink("elsewhere", &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(65534), None).unwrap();
    let mut p = ws_policy();
    p.add_writable_root(shared.clone(), "--writable-root");
    let r = resolve(&p, &env(&ws)).unwrap();
    let held: Vec<_> = r
        .protected_paths()
        .into_iter()
        .filter(|p| p.kind == sandbox_core::PathKind::Link)
        .map(|p| p.path.clone())
        .collect();
    assert_eq!(held, std::slice::from_ref(&link));
    assert!(r.warnings.iter().any(|w| w.contains("held as it is")));
    assert!(!shared.join("elsewhere").exists(), "followed");
    assert!(!r.decide(&link, Op::Write).allowed);
    assert!(r.decide(&shared.join("x"), Op::Write).allowed);
    // Root's own link there is no one else's: still refused.
    std::os::unix::fs::lchown(&link, Some(0), None).unwrap();
    assert!(resolve(&p, &env(&ws)).is_err());
}
