//! End-to-end tests of what only `sandbox linux --backend bwrap` does: diagnosing a host that
//! refuses its namespaces or /proc, its feature cache, its plan, and `auto` choosing it or
//! leaving it. The real binary under real bubblewrap, as root and as the unprivileged user
//! `sbxtest`, for each user bwrap can run as here (a case that cannot run prints `SKIP:`).
//! What every Linux backend guarantees is in `linux_contract.rs`.
#![cfg(target_os = "linux")]

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Output;
use support::*;

const FULL_AUTO: &[&str] = &["--full-auto"];

/// The users bwrap can run as here (none, with a notice, on a host without user namespaces).
fn bwrap_users() -> Vec<&'static User> {
    let v: Vec<_> = linux_cases()
        .into_iter()
        .filter(|(backend, _)| *backend == "bwrap")
        .map(|(_, u)| u)
        .collect();
    if v.is_empty() {
        eprintln!("SKIP: bwrap cannot run here");
    }
    v
}

/// A workspace as `u` with `.git/config` in it, and a directory `out` outside every writable
/// root owned by `u` (not writable by others: a valid runtime directory).
fn workspace(u: &User) -> (Dir, Dir) {
    let ws = Dir::new(u, Path::new("/var/tmp"));
    ws.write(u, ".git/config", "[core]\n");
    (ws, Dir::new(u, Path::new("/var/tmp")))
}

/// `sandbox linux --backend bwrap EXTRA… -- ARGV…` as `u` in `ws`, with `env` set.
fn run_bwrap(u: &User, ws: &Path, extra: &[&str], argv: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = sandbox_cmd(u, ws, &linux_args("bwrap", extra, argv));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let _turn = turn();
    cmd.output().unwrap()
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

/// `unshare --user --map-root-user sh -c SCRIPT` as `u` in `ws` (`u` is uid 0 inside).
fn in_userns(u: &User, ws: &Path, script: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = clean_cmd(u, ws, "unshare");
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
    for u in bwrap_users() {
        let (ws, _out) = workspace(u);
        let o = run_bwrap(
            u,
            &ws.path,
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
        assert!(!ws.join("ran").exists(), "the command ran unsandboxed");
    }
}

#[test]
fn auto_backend_uses_bwrap_here_and_protects_git() {
    for u in bwrap_users() {
        let (ws, _out) = workspace(u);
        let o = sandbox(
            u,
            &ws.path,
            &[
                "linux",
                "--full-auto",
                "-v",
                "--",
                "sh",
                "-c",
                "echo bad >> .git/config",
            ],
        );
        assert!(!o.status.success(), "{}: {}", u.name, show(&o));
        let err = stderr(&o);
        assert!(err.contains("sandbox: backend bwrap: bubblewrap"), "{err}");
        assert_eq!(
            std::fs::read_to_string(ws.join(".git/config")).unwrap(),
            "[core]\n"
        );
    }
}

#[test]
fn auto_backend_reports_why_it_leaves_bwrap() {
    for u in bwrap_users().into_iter().take(1) {
        let (ws, _out) = workspace(u);
        let mut cmd = sandbox_cmd(
            u,
            &ws.path,
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
        assert!(ws.join("ran").exists(), "{}", show(&o));
    }
}

#[test]
fn proc_refusal_fails_closed_or_degrades_with_best_effort() {
    let no_proc = [("SANDBOX_TEST_FORCE_NO_PROC", "1")];
    for u in bwrap_users().into_iter().take(1) {
        let (ws, _out) = workspace(u);
        let o = run_bwrap(u, &ws.path, FULL_AUTO, &["touch", "ran"], &no_proc);
        assert_eq!(o.status.code(), Some(125), "{}", show(&o));
        assert!(stderr(&o).contains("/proc"), "{}", show(&o));
        assert!(!ws.join("ran").exists());

        let o = run_bwrap(
            u,
            &ws.path,
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
        assert!(ws.join("ran").exists(), "{}", show(&o));
        assert!(!o.status.success(), "/proc was mounted: {}", show(&o));
    }
}

#[test]
fn real_namespace_refusal_is_diagnosed() {
    // A user namespace whose `user.max_user_namespaces` is 0 refuses nested ones, as a host
    // with namespaces disabled does, without changing anything outside it.
    if !nested_userns_can_be_refused() {
        return;
    }
    for u in bwrap_users() {
        let (ws, _out) = workspace(u);
        let inner = format!(
            "echo 0 > /proc/sys/user/max_user_namespaces && exec '{}' linux --backend bwrap --full-auto -- touch ran",
            sandbox_bin().display()
        );
        let o = in_userns(u, &ws.path, &inner, &[]);
        assert_eq!(o.status.code(), Some(125), "{}: {}", u.name, show(&o));
        let err = stderr(&o);
        assert!(
            err.contains("cannot create the sandbox's namespaces"),
            "{err}"
        );
        assert!(err.contains("user.max_user_namespaces=0"), "{err}");
        assert!(err.contains("hint:"), "{err}");
        assert!(!ws.join("ran").exists(), "the command ran unsandboxed");
    }
}

#[test]
fn feature_cache_is_private_and_a_poisoned_entry_never_weakens_the_run() {
    for u in bwrap_users() {
        let (ws, out) = workspace(u);
        let rt = [("XDG_RUNTIME_DIR", out.path.to_str().unwrap())];
        let o = run_bwrap(u, &ws.path, FULL_AUTO, &["true"], &rt);
        assert!(o.status.success(), "{}: {}", u.name, show(&o));
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
        let o = run_bwrap(
            u,
            &ws.path,
            FULL_AUTO,
            &["grep", "^Seccomp:", "/proc/self/status"],
            &rt,
        );
        assert!(o.status.success(), "{}: {}", u.name, show(&o));
        assert_eq!(stdout(&o), "Seccomp:\t2\n", "{}", u.name);
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
    for u in bwrap_users() {
        let (ws, _out) = workspace(u);
        let as_u = if u.is_root() {
            String::new()
        } else {
            format!(
                "setpriv --reuid={} --regid={} --init-groups -- env HOME={} ",
                u.uid,
                u.gid,
                u.home.display()
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
            clean_cmd(runner, &ws.path, "unshare")
                .args(["-m", "sh", "-c", &script])
                .output()
                .unwrap()
        };
        if o.status.code() == Some(99) {
            eprintln!("SKIP: cannot bind-mount over /proc/uptime here");
            return;
        }
        let (out, err) = (stdout(&o), stderr(&o));
        assert!(out.contains("strict=125"), "{}: {}", u.name, show(&o));
        assert!(err.contains("mounting /proc"), "{err}");
        assert!(
            !ws.join("ran").exists(),
            "the command ran before the diagnosis"
        );
        // The fallback reruns the command without /proc, with one warning.
        assert!(out.contains("degraded=1"), "/proc was there: {}", show(&o));
        assert!(ws.join("ran2").exists(), "{}", show(&o));
        assert_eq!(err.matches("sandbox: warning:").count(), 1, "{err}");
        assert!(err.contains("without /proc"), "{err}");
    }
}

#[test]
fn auto_falls_back_when_bwrap_is_refused_at_run_time() {
    // `auto` remembers that user namespaces worked; here the marker is stale (nested ones are
    // refused), so bwrap is tried, refused before anything runs, and auto chooses Landlock.
    if !nested_userns_can_be_refused() {
        return;
    }
    for u in bwrap_users() {
        let (ws, out) = workspace(u);
        // The runtime dir belongs to `u`, who is uid 0 inside the namespace.
        let cache = out.join("sandbox");
        out.write(u, "sandbox/userns-ok", "");
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
        let marker = cache.join("userns-ok");
        let inner = format!(
            "echo 0 > /proc/sys/user/max_user_namespaces && exec '{}' linux -v --full-auto -- touch ran",
            sandbox_bin().display()
        );
        let o = in_userns(
            u,
            &ws.path,
            &inner,
            &[("XDG_RUNTIME_DIR", out.path.to_str().unwrap())],
        );
        let err = stderr(&o);
        assert!(err.contains("sandbox: backend bwrap:"), "{}: {err}", u.name);
        assert!(
            err.contains("sandbox: backend landlock: bwrap cannot be used"),
            "{}: {err}",
            u.name
        );
        assert!(o.status.success(), "{}: {}", u.name, show(&o));
        assert!(ws.join("ran").exists(), "{}", show(&o));
        assert!(!marker.exists(), "the stale marker was kept");
    }
}
