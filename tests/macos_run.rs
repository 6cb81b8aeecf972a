//! Real enforcement on macOS: run commands under `sandbox macos` (real `sandbox-exec`) and
//! check what the kernel allowed. Compiled and run only on macOS; on other systems this file
//! is empty (the Linux CI type-checks it with `--target aarch64-apple-darwin`).
#![cfg(target_os = "macos")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sandbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sandbox"))
        .args(args)
        // Keep $TMPDIR (where the test trees live) out of the writable roots.
        .env_remove("TMPDIR")
        // Never the developer's own ~/.codex/config.toml.
        .env("CODEX_HOME", "/nonexistent/sandbox-tests-codex-home")
        .output()
        .expect("run sandbox")
}

/// False (with a notice) when Seatbelt cannot be applied here, e.g. inside another sandbox.
fn seatbelt_works() -> bool {
    let o = sandbox(&["macos", "-s", "read-only", "--", "/usr/bin/true"]);
    if o.status.success() {
        return true;
    }
    eprintln!(
        "skip: sandbox-exec does not work here: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    false
}

struct Tree {
    _d: tempfile::TempDir,
    ws: PathBuf,
    outside: PathBuf,
}

fn tree() -> Tree {
    let d = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(d.path()).unwrap();
    let ws = base.join("ws");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    std::fs::write(ws.join(".git/config"), "original").unwrap();
    std::fs::write(ws.join("secret.env"), "TOKEN").unwrap();
    let outside = base.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    Tree { _d: d, ws, outside }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn sh(policy: &[&str], script: &str) -> Output {
    let mut args = vec!["macos"];
    args.extend_from_slice(policy);
    args.extend_from_slice(&["--", "/bin/sh", "-c", script]);
    sandbox(&args)
}

#[test]
fn workspace_write_allows_the_workspace_and_nothing_else() {
    if !seatbelt_works() {
        return;
    }
    let t = tree();
    let p = ["--full-auto", "-C", s(&t.ws)];
    let ok = sh(&p, &format!("echo hi > '{}/allowed.txt'", s(&t.ws)));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(t.ws.join("allowed.txt")).unwrap(),
        "hi\n"
    );

    let o = sh(&p, &format!("echo x > '{}/x.txt'", s(&t.outside)));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("Operation not permitted"));
    assert!(!t.outside.join("x.txt").exists());
}

#[test]
fn protected_paths_cannot_be_written_or_created() {
    if !seatbelt_works() {
        return;
    }
    let t = tree();
    let p = ["--full-auto", "-C", s(&t.ws)];
    let o = sh(&p, &format!("echo evil > '{}/.git/config'", s(&t.ws)));
    assert!(!o.status.success());
    assert_eq!(
        std::fs::read_to_string(t.ws.join(".git/config")).unwrap(),
        "original"
    );
    let o = sh(&p, &format!("mkdir '{}/.codex'", s(&t.ws)));
    assert!(!o.status.success());
    assert!(!t.ws.join(".codex").exists());
    let o = sh(&p, &format!("echo x > '{}/.agents'", s(&t.ws)));
    assert!(!o.status.success());
    assert!(!t.ws.join(".agents").exists());
    let o = sh(
        &p,
        &format!("mv '{}/.git' '{}/old-git'", s(&t.ws), s(&t.ws)),
    );
    assert!(!o.status.success());
    assert!(t.ws.join(".git/config").exists());
}

#[test]
fn deny_glob_blocks_reading_and_deleting() {
    if !seatbelt_works() {
        return;
    }
    let t = tree();
    let p = ["--full-auto", "-C", s(&t.ws), "--deny-read", "**/*.env"];
    let o = sh(&p, &format!("cat '{}/secret.env'", s(&t.ws)));
    assert!(!o.status.success());
    assert!(!String::from_utf8_lossy(&o.stdout).contains("TOKEN"));
    let o = sh(&p, &format!("rm '{}/secret.env'", s(&t.ws)));
    assert!(!o.status.success());
    assert!(t.ws.join("secret.env").exists());
}

#[test]
fn read_only_keeps_dev_null_and_exit_status() {
    if !seatbelt_works() {
        return;
    }
    let t = tree();
    let p = ["-s", "read-only", "-C", s(&t.ws)];
    let o = sh(&p, &format!("echo x > '{}/new.txt'", s(&t.ws)));
    assert!(!o.status.success());
    assert!(!t.ws.join("new.txt").exists());
    let o = sh(
        &p,
        "echo x > /dev/null && head -c 4 /dev/urandom > /dev/null && exit 7",
    );
    assert_eq!(o.status.code(), Some(7));
    let o = sandbox(&["macos", "-s", "read-only", "--", "no-such-command-xyz"]);
    assert_eq!(o.status.code(), Some(127));
}

#[test]
fn hostile_root_name_is_only_that_root() {
    if !seatbelt_works() {
        return;
    }
    let t = tree();
    let hostile = t.outside.join("x\")(allow file-write* (subpath \"/\"))");
    std::fs::create_dir_all(&hostile).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sandbox"))
        .env("CODEX_HOME", "/nonexistent/sandbox-tests-codex-home")
        .args([
            "macos",
            "--full-auto",
            "-C",
            s(&t.ws),
            "--writable-root",
            s(&hostile),
        ])
        .args([
            "--",
            "/bin/sh",
            "-c",
            "echo ok > \"$ROOT/in.txt\"; echo bad > \"$OUT/escape.txt\"",
        ])
        .env_remove("TMPDIR")
        .env("ROOT", &hostile)
        .env("OUT", &t.outside)
        .output()
        .unwrap();
    assert!(
        hostile.join("in.txt").exists(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!t.outside.join("escape.txt").exists());
}

#[test]
fn log_denials_reports_after_the_command() {
    if !seatbelt_works() {
        return;
    }
    let t = tree();
    let o = sh(
        &["--full-auto", "-C", s(&t.ws), "--log-denials"],
        &format!("echo x > '{}/x.txt'", s(&t.outside)),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("=== Sandbox denials ==="), "{err}");
    assert!(err.contains("file-write"), "{err}");
}

#[test]
fn renaming_a_directory_above_a_protected_path_is_refused() {
    if !seatbelt_works() {
        return;
    }
    let t = tree();
    let base = t.ws.parent().unwrap();
    // The workspace lies inside another writable root (as a workspace under /tmp does):
    // moving it away would carry `.git` out of its protection.
    let o = sh(
        &["--full-auto", "-C", s(&t.ws), "--writable-root", s(base)],
        &format!("mv '{}' '{}.x'", s(&t.ws), s(&t.ws)),
    );
    assert!(!o.status.success());
    assert!(t.ws.join(".git/config").exists());
    // A denied directory two levels down: `a` may not move (its secret would be readable
    // under the new name); an unrelated directory may.
    std::fs::create_dir_all(t.ws.join("a/secret")).unwrap();
    std::fs::write(t.ws.join("a/secret/k"), "KEY").unwrap();
    std::fs::create_dir_all(t.ws.join("free")).unwrap();
    let p = ["--full-auto", "-C", s(&t.ws), "--deny-read", "a/secret/**"];
    let o = sh(
        &p,
        &format!(
            "mv '{}/a' '{}/b'; cat '{}/b/secret/k'",
            s(&t.ws),
            s(&t.ws),
            s(&t.ws)
        ),
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains("KEY"));
    assert!(t.ws.join("a/secret/k").exists());
    let o = sh(&p, &format!("mv '{}/free' '{}/free2'", s(&t.ws), s(&t.ws)));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_case_variant_of_a_missing_protected_name_cannot_be_created() {
    if !seatbelt_works() {
        return;
    }
    let t = tree();
    for name in [".CODEX", ".Agents"] {
        let o = sh(
            &["--full-auto", "-C", s(&t.ws)],
            &format!("mkdir '{}/{name}'", s(&t.ws)),
        );
        assert!(!o.status.success(), "{name}");
        assert!(!t.ws.join(name).exists(), "{name}");
    }
}

#[test]
fn host_unix_sockets_are_closed_unless_listed() {
    if !seatbelt_works() {
        return;
    }
    let t = tree();
    let sock = t.outside.join("host.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let connect = format!(
        "/usr/bin/python3 -c 'import socket;s=socket.socket(socket.AF_UNIX);s.connect(\"{}\")'",
        s(&sock)
    );
    let o = sh(
        &["-s", "read-only", "-c", "sandbox.unix_sockets=\"none\""],
        &connect,
    );
    assert!(!o.status.success());
    let listed = format!("sandbox.unix_sockets=[\"{}\"]", s(&sock));
    let o = sh(&["-s", "read-only", "-c", &listed], &connect);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    drop(listener);
}

#[test]
fn sandbox_markers_are_set() {
    if !seatbelt_works() {
        return;
    }
    let o = sh(
        &["-s", "read-only"],
        "echo \"$CODEX_SANDBOX:$CODEX_SANDBOX_NETWORK_DISABLED\"",
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "seatbelt:1\n");
}

#[test]
fn nested_seatbelt_is_a_setup_error() {
    if !seatbelt_works() {
        return;
    }
    let me = env!("CARGO_BIN_EXE_sandbox");
    let o = sh(
        &["-s", "read-only"],
        &format!("'{me}' macos -s read-only -- /usr/bin/true"),
    );
    assert_eq!(o.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("sandbox: macos: sandbox-exec could not apply")
    );
}

#[test]
fn writing_to_own_descriptors_by_name_works() {
    if !seatbelt_works() {
        return;
    }
    let o = sh(
        &["-s", "read-only"],
        "echo err >/dev/stderr; echo out >/dev/fd/1",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out\n");
}

/// A port on the host's loopback that the test watches: whether anything connected.
fn watched_origin() -> (std::net::TcpListener, u16) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

fn nothing_connected(l: &std::net::TcpListener) -> bool {
    matches!(l.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[test]
fn proxy_mode_reaches_only_the_proxy() {
    if !seatbelt_works() {
        return;
    }
    let t = tree();
    let (origin, port) = watched_origin();
    let p = [
        "--full-auto",
        "-C",
        s(&t.ws),
        "--allow-domain",
        "allowed.invalid",
    ];
    let script = format!(
        "curl -s -o /dev/null -w 'code=%{{http_code}}\\n' http://evil.invalid/; \
         curl --noproxy '*' -s -m 5 http://127.0.0.1:{port}/; echo direct=$?; \
         printf x | nc -u -w 1 192.0.2.1 53; echo udp=$?; \
         echo \"$HTTP_PROXY\""
    );
    let o = sh(&p, &script);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    // Through the proxy: refused with a 403, and summarized after the run.
    assert!(out.contains("code=403"), "{out}{err}");
    assert!(
        err.contains("sandbox: blocked 1 request to evil.invalid (not in allowed_domains)"),
        "{err}"
    );
    // Around the proxy: nothing, and the host's loopback service saw no connection.
    assert!(!out.contains("direct=0"), "{out}");
    assert!(
        nothing_connected(&origin),
        "a direct connection reached the host"
    );
    assert!(!out.contains("udp=0"), "{out}");
    assert!(out.contains("http://127.0.0.1:"), "{out}");
}

#[test]
fn loopback_mode_needs_best_effort_and_then_serves_on_localhost_only() {
    if !seatbelt_works() {
        return;
    }
    let t = tree();
    let refused = sh(
        &["--full-auto", "-C", s(&t.ws), "--network", "loopback"],
        "true",
    );
    assert_eq!(refused.status.code(), Some(125));
    let (free, port) = watched_origin();
    drop(free);
    let script = format!(
        "nc -l 127.0.0.1 {port} > got & sleep 1; echo hi | nc -w 2 127.0.0.1 {port}; wait; \
         cat got; nc -z -w 2 192.0.2.1 80; echo internet=$?"
    );
    let o = sh(
        &[
            "--full-auto",
            "-C",
            s(&t.ws),
            "--network",
            "loopback",
            "--best-effort",
        ],
        &format!("cd '{}' && {script}", s(&t.ws)),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(out.starts_with("hi\n"), "{out}{err}");
    assert!(!out.contains("internet=0"), "{out}");
    assert!(err.contains("network.loopback_only"), "{err}");
}
