//! End-to-end tests of what only `sandbox linux --backend landlock` does: its host checks and
//! degradations, its plan, and the mount namespace marker. The real binary, the real kernel,
//! as root and as the unprivileged user `sbxtest`. What every Linux backend guarantees is in
//! `linux_contract.rs`.
#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use support::*;

#[test]
fn host_without_landlock_refuses_and_never_runs_the_command() {
    for c in backend_cases("landlock") {
        let out = c.run_env(
            &["--full-auto", "--best-effort"],
            &["touch", "ran"],
            &[("SANDBOX_TEST_FORCE_NO_LANDLOCK", "1")],
        );
        assert_eq!(out.status.code(), Some(125), "{c}: {}", stderr(&out));
        assert!(stderr(&out).contains("Landlock"), "{}", stderr(&out));
        assert!(!c.join("ran").exists(), "the command ran unsandboxed");
    }
}

#[test]
fn host_without_mount_namespace_refuses_unless_best_effort() {
    for c in backend_cases("landlock") {
        let run = |extra: &[&str]| {
            c.run_env(
                extra,
                &["touch", "ran"],
                &[("SANDBOX_TEST_FORCE_NO_MOUNTNS", "1")],
            )
        };
        let out = run(&["--full-auto"]);
        assert_eq!(out.status.code(), Some(125), "{c}: {}", stderr(&out));
        assert!(stderr(&out).contains("filesystem."), "{}", stderr(&out));
        assert!(stderr(&out).contains("--best-effort"));
        assert!(!c.join("ran").exists());
        let out = run(&["--full-auto", "--best-effort"]);
        c.assert_ok(&out);
        assert!(stderr(&out).contains("warning: best effort: filesystem.metadata"));
        assert!(c.join("ran").exists());
    }
}

#[test]
fn profile_prints_text_and_json() {
    let c = first_case("landlock").expect("Landlock runs here");
    let out = c.sandbox(&["profile", "linux", "--backend", "landlock", "--full-auto"]);
    assert_ok(&out, "profile text");
    let text = stdout(&out);
    assert!(text.contains("landlock ABI"), "{text}");
    assert!(
        text.contains("EPERM when socket: domain is not AF_UNIX"),
        "{text}"
    );
    assert!(
        text.contains(&format!("keep writable {}", c.ws.path.display())),
        "{text}"
    );
    let out = c.sandbox(&[
        "profile",
        "linux",
        "--backend",
        "landlock",
        "--full-auto",
        "--format",
        "json",
    ]);
    assert_ok(&out, "profile json");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["backend"], "landlock");
    assert_eq!(v["no_new_privs"], true);
    let rules = v["landlock"]["rules"].as_array().unwrap();
    let ws_rule = rules
        .iter()
        .find(|r| r["path"] == c.ws.path.to_str().unwrap())
        .expect("a rule for the workspace");
    assert!(ws_rule["access"]
        .as_array()
        .unwrap()
        .contains(&serde_json::Value::from("make_reg")));
}

#[test]
fn doctor_reports_and_requires() {
    let u = &users()[0];
    let out = sandbox(u, Path::new("/"), &["doctor", "--json"]);
    assert_ok(&out, "doctor");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "filesystem.write_restrict",
        "filesystem.protected_subpaths",
        "filesystem.deny_read",
        "network.deny_all",
        "network.allowlist_egress",
        "process.pid_namespace",
        "landlock.abi",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    // Both need the command's own network namespace: true together, or false together.
    let egress = v["network.allowlist_egress"] == true;
    assert_eq!(v["network.loopback_only"], egress);
    // This machine can make one (user namespaces work): the acceptance of issue 13.
    assert!(egress || v["namespaces.user"] == false, "{v}");
    let ok = sandbox(
        u,
        Path::new("/"),
        &["doctor", "--require", "filesystem.write_restrict"],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let no = sandbox(
        u,
        Path::new("/"),
        &["doctor", "--require", "network.allowlist_egress"],
    );
    assert_eq!(no.status.code(), Some(if egress { 0 } else { 1 }));
    // An unknown key is bad input (125), told apart from a missing capability (1).
    let unknown = sandbox(u, Path::new("/"), &["doctor", "--require", "no.such.key"]);
    assert_eq!(unknown.status.code(), Some(125));
    assert!(stderr(&unknown).contains("unknown capability"));
    // Without Landlock, `auto` still has bwrap here; without both, nothing is enforced.
    let mut forced = support::sandbox_cmd(u, Path::new("/"), &["doctor", "--json"]);
    forced.env("SANDBOX_TEST_FORCE_NO_LANDLOCK", "1");
    let v: serde_json::Value = serde_json::from_slice(&forced.output().unwrap().stdout).unwrap();
    assert_eq!(v["landlock.abi"], false);
    assert_eq!(v["backend"], "bwrap");
    assert_eq!(v["filesystem.write_restrict"], true);
    let mut forced = support::sandbox_cmd(u, Path::new("/"), &["doctor", "--json"]);
    forced.env("SANDBOX_TEST_FORCE_NO_LANDLOCK", "1");
    forced.env("SANDBOX_TEST_FORCE_NO_USERNS", "1");
    let v: serde_json::Value = serde_json::from_slice(&forced.output().unwrap().stdout).unwrap();
    assert_eq!(v["backend"], serde_json::Value::Null);
    assert_eq!(v["filesystem.write_restrict"], false);
    let no = support::sandbox_cmd(
        u,
        Path::new("/"),
        &["doctor", "--require", "filesystem.write_restrict"],
    )
    .env("SANDBOX_TEST_FORCE_NO_LANDLOCK", "1")
    .env("SANDBOX_TEST_FORCE_NO_USERNS", "1")
    .output()
    .unwrap();
    assert_eq!(no.status.code(), Some(1));
}

#[test]
fn links_cannot_move_files_between_trees() {
    for c in backend_cases("landlock") {
        let (outside, src) = c.outside_file("owned", "outside\n");
        let script = format!(
            "ln {src} stolen 2>/dev/null || echo LINK-IN-DENIED; \
             echo hi > f && ln f g && echo LINK-WITHIN-OK; \
             mkdir d && mv f d/ && echo MOVE-WITHIN-OK; \
             mv d/f {out}/ 2>/dev/null || echo MOVE-OUT-DENIED",
            src = src.display(),
            out = outside.path.display()
        );
        // With the mount namespace, and with Landlock alone (REFER does the work there).
        let argv = ["sh", "-c", script.as_str()];
        for (extra, env) in [
            (&["--full-auto"][..], &[][..]),
            (
                &["--full-auto", "--best-effort"][..],
                &[("SANDBOX_TEST_FORCE_NO_MOUNTNS", "1")][..],
            ),
        ] {
            let out = c.run_env(extra, &argv, env);
            let who = format!("{c} (no mountns: {})", !env.is_empty());
            assert_ok(&out, &who);
            assert_markers(
                &out,
                &who,
                &[
                    "LINK-IN-DENIED",
                    "LINK-WITHIN-OK",
                    "MOVE-WITHIN-OK",
                    "MOVE-OUT-DENIED",
                ],
            );
            assert!(!c.join("stolen").exists());
            assert!(!outside.join("f").exists());
            for p in ["f", "g", "d"] {
                let _ =
                    std::fs::remove_dir_all(c.join(p)).or_else(|_| std::fs::remove_file(c.join(p)));
            }
        }
    }
}

/// The runtime directory holding the per-user cache (and so the mount namespace marker) for
/// one test: private to `user`, removed on drop.
fn private_runtime_dir(user: &User) -> Dir {
    let d = Dir::new(user, Path::new("/tmp"));
    std::fs::set_permissions(&d.path, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    d
}

/// `sandbox ARGS…` as `user` with its own cache directory; `no_sys_admin` drops
/// CAP_SYS_ADMIN from the bounding set first, so root cannot make a mount namespace at all.
fn run_with_runtime(
    user: &User,
    ws: &Path,
    rt: &Path,
    args: &[&str],
    no_sys_admin: bool,
    force_no_mountns: bool,
) -> std::process::Output {
    let mut cmd = if no_sys_admin {
        // Only root gets here (setpriv runs as the test runner).
        let mut c = clean_cmd(user, ws, "setpriv");
        c.args(["--bounding-set", "-sys_admin"]).arg(sandbox_bin());
        c
    } else {
        clean_cmd(user, ws, sandbox_bin())
    };
    cmd.args(args).env("XDG_RUNTIME_DIR", rt);
    if force_no_mountns {
        cmd.env("SANDBOX_TEST_FORCE_NO_MOUNTNS", "1");
    }
    let _turn = turn();
    cmd.output().unwrap()
}

/// A launch remembers that the mount namespace works (so later launches fork no trial), and
/// a wrong marker (forged, or stale after the host changed) weakens nothing: the run refuses
/// or degrades exactly like a fresh probe on a host without the namespace, nothing runs
/// before that decision, and the marker is forgotten. The test hook ignores the marker.
#[test]
fn a_wrong_mount_namespace_marker_fails_closed_or_degrades_as_before() {
    for u in users() {
        for preset in [&["--full-auto"][..], &["-s", "read-only"][..]] {
            let ws = Dir::new(u, Path::new("/tmp"));
            let rt = private_runtime_dir(u);
            let marker = rt.join("sandbox/mountns-ok");
            let args = |extra: &[&'static str]| {
                let mut v = vec!["linux", "--backend", "landlock"];
                v.extend_from_slice(preset);
                v.extend_from_slice(extra);
                v.extend_from_slice(&["--", "sh", "-c", "echo RAN"]);
                v
            };
            let run = |extra: &[&'static str], no_sys_admin, force| {
                run_with_runtime(u, &ws.path, &rt.path, &args(extra), no_sys_admin, force)
            };
            let out = run(&[], false, false);
            assert_ok(&out, &u.name);
            assert!(stdout(&out).contains("RAN"));
            let forged = std::fs::read(&marker).expect("a working launch leaves the marker");
            assert!(String::from_utf8_lossy(&forged).contains(&format!("uid={}", u.uid)));

            // The test hook is decided before the marker: same refusal and degradation.
            let hooked = run(&[], false, true);
            assert_eq!(hooked.status.code(), Some(125), "{}", stderr(&hooked));
            assert!(!stdout(&hooked).contains("RAN"));
            assert!(
                stderr(&hooked).contains("--best-effort"),
                "{}",
                stderr(&hooked)
            );
            let hooked_be = run(&["--best-effort"], false, true);
            assert_ok(&hooked_be, &u.name);
            assert!(stderr(&hooked_be).contains("warning: best effort: filesystem.metadata"));

            if !u.is_root() {
                continue;
            }
            // Root without CAP_SYS_ADMIN really cannot make a mount namespace. First what a
            // fresh probe says there (no marker)…
            std::fs::remove_file(&marker).unwrap();
            let fresh = run(&[], true, false);
            assert_eq!(fresh.status.code(), Some(125), "{}", stderr(&fresh));
            assert!(!marker.exists(), "a negative answer is never remembered");
            let fresh_be = run(&["--best-effort"], true, false);
            assert_ok(&fresh_be, "root without CAP_SYS_ADMIN");
            assert!(stdout(&fresh_be).contains("RAN"));
            // …and the same with a forged marker: identical messages, nothing ran, and the
            // marker is gone afterwards.
            std::fs::write(&marker, &forged).unwrap();
            let out = run(&[], true, false);
            assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
            assert_eq!(stderr(&out), stderr(&fresh));
            assert!(!stdout(&out).contains("RAN"), "the command ran");
            assert!(!marker.exists(), "the wrong marker is forgotten");
            std::fs::write(&marker, &forged).unwrap();
            let out = run(&["--best-effort"], true, false);
            assert_ok(&out, "root without CAP_SYS_ADMIN, forged marker");
            assert_eq!(stderr(&out), stderr(&fresh_be));
            assert_eq!(stdout(&out), "RAN\n");
            assert!(!marker.exists(), "the wrong marker is forgotten");
            // The hook gives the same answer as the real host.
            assert_eq!(stderr(&hooked), stderr(&fresh));
        }
    }
}
