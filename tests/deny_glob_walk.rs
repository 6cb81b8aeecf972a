//! End-to-end tests of deny-glob expansion on Linux (both backends), run as the unprivileged
//! user `sbxtest`: a directory that can be traversed but not listed refuses the launch, one
//! that can be neither is skipped, and a `glob_scan_max_depth` that cut the walk short warns.
#![cfg(target_os = "linux")]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use support::*;

/// `sbxtest`, when running as root (needed to make directories it cannot list).
fn unprivileged() -> Option<&'static User> {
    let all = users();
    if !all.first().is_some_and(User::is_root) {
        eprintln!("notice: not root: skipping the unlistable-directory cases");
        return None;
    }
    let u = all.iter().find(|u| !u.is_root());
    if u.is_none() {
        eprintln!("notice: no `{TEST_USER}` user: skipping the unlistable-directory cases");
    }
    u
}

/// Gives `dir` to root with `mode`, so `sbxtest` gets only what `mode` grants others.
fn root_owned(dir: &Path, mode: u32) {
    std::os::unix::fs::chown(dir, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn run(u: &User, ws: &Path, backend: &str, extra: &[&str], script: &str) -> std::process::Output {
    // Workspace-write, so the marker files the scripts create can be written.
    let mut args = vec!["linux", "--backend", backend, "--full-auto"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    sandbox(u, ws, &args)
}

#[test]
fn traversable_but_unlistable_directory_refuses_the_launch() {
    let Some(u) = unprivileged() else { return };
    let ws = Dir::new(u, Path::new("/tmp"));
    ws.write(u, "hid/a.env", "SECRET-HID");
    root_owned(&ws.join("hid"), 0o711);
    for backend in linux_backends(u, &ws.path) {
        for glob in ["**/*.env", "hid/*.env"] {
            let marker = ws.join(&format!("ran-{backend}"));
            let script = format!("touch {}; cat hid/a.env", marker.display());
            let out = run(u, &ws.path, backend, &["--deny-read", glob], &script);
            let what = format!("{backend} {glob}: {out:?}");
            assert_eq!(out.status.code(), Some(125), "{what}");
            let err = stderr(&out);
            let expected = format!(
                "cannot list {} (permission denied) but it can be traversed",
                ws.join("hid").display()
            );
            assert!(err.contains(&expected), "{what}");
            assert!(err.contains("hint: deny the exact file"), "{what}");
            assert!(!marker.exists(), "{what}: the command ran");
            assert!(!stdout(&out).contains("SECRET-HID"), "{what}");
        }
        // A literal path is looked up directly: the launch goes ahead and the file is masked.
        let marker = ws.join(&format!("ran-literal-{backend}"));
        let script = format!("touch {}; cat hid/a.env || echo DENIED", marker.display());
        let out = run(u, &ws.path, backend, &["--deny-read", "hid/a.env"], &script);
        assert_ok(&out, &format!("{backend} literal"));
        assert!(
            marker.exists(),
            "{backend} literal: the command did not run"
        );
        let so = stdout(&out);
        assert!(
            so.contains("DENIED") && !so.contains("SECRET-HID"),
            "{backend}: {so}"
        );
    }
}

#[test]
fn directory_that_can_be_neither_listed_nor_traversed_is_skipped() {
    let Some(u) = unprivileged() else { return };
    let ws = Dir::new(u, Path::new("/tmp"));
    ws.write(u, "priv/b.env", "SECRET-PRIV");
    ws.write(u, "top.env", "SECRET-TOP");
    root_owned(&ws.join("priv"), 0o700);
    for backend in linux_backends(u, &ws.path) {
        let marker = ws.join(&format!("ran-{backend}"));
        let script = format!(
            "touch {}; cat top.env || echo TOP-DENIED; cat priv/b.env || echo PRIV-DENIED",
            marker.display()
        );
        let out = run(u, &ws.path, backend, &["--deny-read", "**/*.env"], &script);
        assert_ok(&out, backend);
        assert!(marker.exists(), "{backend}: the command did not run");
        let so = stdout(&out);
        assert!(
            so.contains("TOP-DENIED") && so.contains("PRIV-DENIED"),
            "{backend}: {so}"
        );
        assert!(!so.contains("SECRET"), "{backend}: {so}");
    }
}

#[test]
fn depth_limit_warns_only_when_it_cut_the_walk() {
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        // deep.env is at depth 4 below the workspace; a/b/c is at depth 3.
        ws.write(u, "a/b/c/deep.env", "SECRET-DEEP");
        let pattern = format!("{}/**/*.env", ws.path.display());
        for backend in linux_backends(u, &ws.path) {
            for (limit, warns) in [
                (Some(2), true),
                (Some(3), true),
                (Some(4), false),
                (None, false),
            ] {
                let setting = limit.map(|d| format!("sandbox.glob_scan_max_depth={d}"));
                let mut extra = vec!["--deny-read", "**/*.env"];
                if let Some(s) = &setting {
                    extra.extend_from_slice(&["-c", s]);
                }
                let out = run(
                    u,
                    &ws.path,
                    backend,
                    &extra,
                    "cat a/b/c/deep.env || echo DENIED",
                );
                let what = format!("as {} {backend} limit {limit:?}: {out:?}", u.name);
                let err = stderr(&out);
                let lines: Vec<&str> = err
                    .lines()
                    .filter(|l| l.contains("glob_scan_max_depth"))
                    .collect();
                if warns {
                    let expected = format!(
                        "sandbox: warning: deny glob '{pattern}' was scanned to depth {} only (glob_scan_max_depth): deeper matches are not masked",
                        limit.unwrap()
                    );
                    assert_eq!(lines, [expected.as_str()], "{what}");
                } else {
                    assert!(lines.is_empty(), "{what}");
                    // Scanned deep enough: the file is masked.
                    assert!(stdout(&out).contains("DENIED"), "{what}");
                }
            }
        }
    }
}
