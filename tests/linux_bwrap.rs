//! End-to-end tests of what only `sandbox linux --backend bwrap` does: diagnosing a host that
//! refuses its namespaces or /proc, its feature cache, its plan, and `auto` choosing it or
//! leaving it. The real binary under real bubblewrap, as root and as the unprivileged user
//! `sbxtest`, for each user bwrap can run as here (a case that cannot run prints `SKIP:`).
//! What every Linux backend guarantees is in `linux_contract.rs`.
#![cfg(target_os = "linux")]

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Output;
use support::*;

const FULL_AUTO: &[&str] = &["--full-auto"];

/// The bwrap cases: each user bwrap can run as here, with a fresh workspace.
fn bwrap_cases() -> impl Iterator<Item = Case> {
    backend_cases("bwrap")
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}

/// Whether a user namespace can be made whose `user.max_user_namespaces` is 0, so nested ones
/// are refused as on a host with namespaces disabled (prints a skip notice when not).
fn nested_userns_can_be_refused() -> bool {
    let probe = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "sh", "-c"])
        .arg("echo 0 > /proc/sys/user/max_user_namespaces")
        .output();
    let ok = probe.is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIP: `unshare --user` with a per-namespace max_user_namespaces is not available"
        );
    }
    ok
}

/// The bwrap cases, where a user namespace can refuse nested ones (see above).
fn nested_refusal_cases() -> Vec<Case> {
    if !nested_userns_can_be_refused() {
        return vec![];
    }
    bwrap_cases().collect()
}

/// `unshare --user --map-root-user sh -c SCRIPT` as the case's user in its workspace (that
/// user is uid 0 inside).
fn in_userns(c: &Case, script: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = c.cmd("unshare");
    cmd.args(["--user", "--map-root-user", "sh", "-c", script]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let _turn = turn();
    cmd.output().unwrap()
}

#[test]
fn profile_shows_unshare_net_and_json() {
    let Some(c) = first_case("bwrap") else {
        eprintln!("SKIP: bwrap cannot run here");
        return;
    };
    let o = c.sandbox(&["profile", "linux", "--backend", "bwrap", "--full-auto"]);
    assert!(o.status.success(), "{}", show(&o));
    let text = stdout(&o);
    assert!(text.lines().any(|l| l == "--unshare-net"), "{text}");
    assert!(text.lines().any(|l| l == "--die-with-parent"), "{text}");

    let o = c.sandbox(&[
        "profile",
        "linux",
        "--backend",
        "bwrap",
        "--full-auto",
        "--network",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["plan"]["unshare_net"], false);
    assert_eq!(v["backend"], "bwrap");
}

#[test]
fn refused_user_namespaces_are_diagnosed_not_run() {
    for c in bwrap_cases() {
        let o = c.run_env(
            FULL_AUTO,
            &["touch", "ran"],
            &[("SANDBOX_TEST_FORCE_NO_USERNS", "1")],
        );
        assert_eq!(o.status.code(), Some(125), "{}", show(&o));
        let err = stderr(&o);
        assert!(
            err.contains("cannot create the sandbox's namespaces"),
            "{err}"
        );
        assert!(err.contains("setting up uid map"), "{err}");
        assert!(
            err.contains("hint:") && err.contains("--backend landlock"),
            "{err}"
        );
        assert!(!c.join("ran").exists(), "the command ran unsandboxed");
    }
}

#[test]
fn auto_backend_uses_bwrap_here_and_protects_git() {
    for c in bwrap_cases() {
        let git_config = c.write(".git/config", "[core]\n");
        let o = c.sandbox(&[
            "linux",
            "--full-auto",
            "-v",
            "--",
            "sh",
            "-c",
            "echo bad >> .git/config",
        ]);
        assert!(!o.status.success(), "{}: {}", c.user.name, show(&o));
        let err = stderr(&o);
        assert!(err.contains("sandbox: backend bwrap: bubblewrap"), "{err}");
        assert_eq!(std::fs::read_to_string(&git_config).unwrap(), "[core]\n");
    }
}

#[test]
fn auto_backend_reports_why_it_leaves_bwrap() {
    for c in bwrap_cases().take(1) {
        let mut cmd = sandbox_cmd(
            c.user,
            &c.ws.path,
            &["linux", "--full-auto", "-v", "--", "touch", "ran"],
        );
        cmd.env("SANDBOX_TEST_FORCE_NO_USERNS", "1");
        let o = {
            let _turn = turn();
            cmd.output().unwrap()
        };
        let err = stderr(&o);
        // The choice and its reason, then the command runs under Landlock.
        assert!(
            err.contains("sandbox: backend landlock: bwrap cannot be used"),
            "{err}"
        );
        assert!(err.contains("using Landlock ABI"), "{err}");
        assert!(o.status.success(), "{}", show(&o));
        assert!(c.join("ran").exists(), "{}", show(&o));
    }
}

#[test]
fn proc_refusal_fails_closed_or_degrades_with_best_effort() {
    let no_proc = [("SANDBOX_TEST_FORCE_NO_PROC", "1")];
    for c in bwrap_cases().take(1) {
        let o = c.run_env(FULL_AUTO, &["touch", "ran"], &no_proc);
        assert_eq!(o.status.code(), Some(125), "{}", show(&o));
        assert!(stderr(&o).contains("/proc"), "{}", show(&o));
        assert!(!c.join("ran").exists());

        let o = c.run_env(
            &["--full-auto", "--best-effort"],
            &["sh", "-c", "touch ran; test -e /proc/self/status"],
            &no_proc,
        );
        let err = stderr(&o);
        assert_eq!(
            err.matches("sandbox: warning:").count(),
            1,
            "one warning per degradation: {err}"
        );
        assert!(err.contains("without /proc"), "{err}");
        assert!(c.join("ran").exists(), "{}", show(&o));
        assert!(!o.status.success(), "/proc was mounted: {}", show(&o));
    }
}

#[test]
fn real_namespace_refusal_is_diagnosed() {
    // A user namespace whose `user.max_user_namespaces` is 0 refuses nested ones, as a host
    // with namespaces disabled does, without changing anything outside it.
    for c in nested_refusal_cases() {
        let inner = format!(
            "echo 0 > /proc/sys/user/max_user_namespaces && exec '{}' linux --backend bwrap --full-auto -- touch ran",
            sandbox_bin().display()
        );
        let o = in_userns(&c, &inner, &[]);
        assert_eq!(o.status.code(), Some(125), "{}: {}", c.user.name, show(&o));
        let err = stderr(&o);
        assert!(
            err.contains("cannot create the sandbox's namespaces"),
            "{err}"
        );
        assert!(err.contains("user.max_user_namespaces=0"), "{err}");
        assert!(err.contains("hint:"), "{err}");
        assert!(!c.join("ran").exists(), "the command ran unsandboxed");
    }
}

#[test]
fn feature_cache_is_private_and_a_poisoned_entry_never_weakens_the_run() {
    for c in bwrap_cases() {
        let out = c.dir("/var/tmp");
        let rt = [("XDG_RUNTIME_DIR", out.path.to_str().unwrap())];
        let o = c.run_env(FULL_AUTO, &["true"], &rt);
        assert!(o.status.success(), "{}: {}", c.user.name, show(&o));
        let dir = out.join("sandbox");
        let meta = std::fs::symlink_metadata(&dir).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        let owner = std::fs::metadata(&out.path).unwrap().uid();
        assert_eq!(meta.uid(), owner);
        let file = dir.join("bwrap-features");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.contains("\nflags ") && text.contains(" seccomp"),
            "{text}"
        );

        // An entry that claims this bwrap lacks --seccomp must not make the command run
        // without the filter: bwrap itself is asked, the run keeps its filter, and the entry
        // is rewritten (rather than every later run being refused).
        std::fs::write(&file, text.replace(" seccomp", "")).unwrap();
        let o = c.run_env(FULL_AUTO, &["grep", "^Seccomp:", "/proc/self/status"], &rt);
        assert!(o.status.success(), "{}: {}", c.user.name, show(&o));
        assert_eq!(stdout(&o), "Seccomp:\t2\n", "{}", c.user.name);
        assert!(std::fs::read_to_string(&file).unwrap().contains(" seccomp"));
    }
}

#[test]
fn real_proc_refusal_is_found_after_bwrap_fails() {
    // A /proc with a file masked from the host (as container runtimes mask /proc/kcore) makes
    // the kernel refuse a fresh procfs in a user namespace: bwrap fails with status 1, and only
    // then does the launcher diagnose it. Needs root for the private mount namespace.
    let runner = &users()[0];
    if !runner.is_root() {
        eprintln!("SKIP: masking a /proc file needs root");
        return;
    }
    for c in bwrap_cases() {
        let as_u = if c.user.is_root() {
            String::new()
        } else {
            format!(
                "setpriv --reuid={} --regid={} --init-groups -- env HOME={} ",
                c.user.uid,
                c.user.gid,
                c.user.home.display()
            )
        };
        let script = format!(
            "mount --bind /dev/null /proc/uptime || exit 99
             {as_u}'{bin}' linux --backend bwrap --full-auto -- touch ran; echo strict=$?
             {as_u}'{bin}' linux --backend bwrap --full-auto --best-effort -- sh -c 'touch ran2; test -e /proc/self/status'; echo degraded=$?",
            bin = sandbox_bin().display()
        );
        let o = {
            let _turn = turn();
            clean_cmd(runner, &c.ws.path, "unshare")
                .args(["-m", "sh", "-c", &script])
                .output()
                .unwrap()
        };
        if o.status.code() == Some(99) {
            eprintln!("SKIP: cannot bind-mount over /proc/uptime here");
            return;
        }
        let (out, err) = (stdout(&o), stderr(&o));
        assert!(out.contains("strict=125"), "{}: {}", c.user.name, show(&o));
        assert!(err.contains("mounting /proc"), "{err}");
        assert!(
            !c.join("ran").exists(),
            "the command ran before the diagnosis"
        );
        // The fallback reruns the command without /proc, with one warning.
        assert!(out.contains("degraded=1"), "/proc was there: {}", show(&o));
        assert!(c.join("ran2").exists(), "{}", show(&o));
        assert_eq!(err.matches("sandbox: warning:").count(), 1, "{err}");
        assert!(err.contains("without /proc"), "{err}");
    }
}

#[test]
fn auto_falls_back_when_bwrap_is_refused_at_run_time() {
    // `auto` remembers that user namespaces worked; here the marker is stale (nested ones are
    // refused), so bwrap is tried, refused before anything runs, and auto chooses Landlock.
    for c in nested_refusal_cases() {
        let out = c.dir("/var/tmp");
        // The runtime dir belongs to the user, who is uid 0 inside the namespace.
        let cache = out.join("sandbox");
        out.write(c.user, "sandbox/userns-ok", "");
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
        let marker = cache.join("userns-ok");
        let inner = format!(
            "echo 0 > /proc/sys/user/max_user_namespaces && exec '{}' linux -v --full-auto -- touch ran",
            sandbox_bin().display()
        );
        let o = in_userns(
            &c,
            &inner,
            &[("XDG_RUNTIME_DIR", out.path.to_str().unwrap())],
        );
        let err = stderr(&o);
        assert!(
            err.contains("sandbox: backend bwrap:"),
            "{}: {err}",
            c.user.name
        );
        assert!(
            err.contains("sandbox: backend landlock: bwrap cannot be used"),
            "{}: {err}",
            c.user.name
        );
        assert!(o.status.success(), "{}: {}", c.user.name, show(&o));
        assert!(c.join("ran").exists(), "{}", show(&o));
        assert!(!marker.exists(), "the stale marker was kept");
    }
}
