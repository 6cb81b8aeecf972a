//! Library tests: `LandlockSandbox::apply` on a `std::process::Command`, real kernel, as the user
//! running the tests (root in CI; the unprivileged variants run through the CLI suite).
#![cfg(target_os = "linux")]

use sandbox_core::{resolve, Policy, Preset, ResolveEnv, ResolvedPolicy, TargetOs};
use sandbox_linux::{LandlockSandbox, Options};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

fn policy(preset: Preset, ws: &Path) -> ResolvedPolicy {
    let env = ResolveEnv {
        cwd: ws.to_path_buf(),
        tmpdir: None,
        home: std::env::var_os("HOME").map(Into::into),
        target: TargetOs::Linux,
    };
    resolve(&Policy::preset(preset), &env).unwrap()
}

fn ws() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sbx-lib-")
        .tempdir_in("/tmp")
        .unwrap()
}

fn run(sandbox: &LandlockSandbox, ws: &Path, script: &str) -> Output {
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", script]).current_dir(ws);
    let _guard = sandbox.apply(&mut cmd).unwrap();
    cmd.output().unwrap()
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn workspace_write_enforced_through_apply() {
    let ws = ws();
    let ws_path = ws.path().canonicalize().unwrap();
    std::fs::create_dir_all(ws_path.join(".git")).unwrap();
    std::fs::write(ws_path.join(".git/config"), "orig\n").unwrap();
    let outside = tempfile::Builder::new()
        .prefix("sbx-lib-out-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let sandbox = LandlockSandbox::new(
        &policy(Preset::WorkspaceWrite, &ws_path),
        Options::default(),
    )
    .expect("this host supports the full workspace-write policy");
    let script = format!(
        "echo in > a.txt && echo A-OK; \
         echo x > {out}/f || echo OUT-DENIED; \
         echo x >> .git/config || echo GIT-DENIED; \
         mkdir .agents || echo AGENTS-DENIED; \
         /usr/bin/python3 -c 'import socket; socket.socket(socket.AF_INET)' 2>/dev/null || echo INET-DENIED; \
         /usr/bin/python3 -c 'import socket; a, b = socket.socketpair(); a.send(b\"p\"); assert b.recv(1) == b\"p\"; print(\"PAIR-OK\")'; \
         grep NoNewPrivs /proc/self/status",
        out = outside.path().display()
    );
    let o = run(&sandbox, &ws_path, &script);
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    for marker in [
        "A-OK",
        "OUT-DENIED",
        "GIT-DENIED",
        "AGENTS-DENIED",
        "INET-DENIED",
        "PAIR-OK",
        "NoNewPrivs:\t1",
    ] {
        assert!(text.contains(marker), "missing {marker}: {text}");
    }
    assert!(!outside.path().join("f").exists());
    assert_eq!(
        std::fs::read_to_string(ws_path.join(".git/config")).unwrap(),
        "orig\n"
    );
    // The placeholder stays while the sandbox lives and goes away with it.
    drop(sandbox);
    assert!(!ws_path.join(".agents").exists(), "placeholder left behind");
}

#[test]
fn exit_codes_and_signals_pass_through() {
    let ws = ws();
    let ws_path = ws.path().canonicalize().unwrap();
    let sandbox =
        LandlockSandbox::new(&policy(Preset::ReadOnly, &ws_path), Options::default()).unwrap();
    assert_eq!(run(&sandbox, &ws_path, "exit 42").status.code(), Some(42));
    assert_eq!(
        run(&sandbox, &ws_path, "kill -TERM $$").status.signal(),
        Some(15)
    );
    let o = run(
        &sandbox,
        &ws_path,
        "echo x > new.txt || echo DENIED; cat /etc/hostname >/dev/null && echo READ-OK",
    );
    assert!(
        out(&o).contains("DENIED") && out(&o).contains("READ-OK"),
        "{}",
        out(&o)
    );
    assert!(!ws_path.join("new.txt").exists());
    let mut cmd = Command::new("/no/such/program");
    let guard = sandbox.apply(&mut cmd).unwrap();
    let err = cmd.status().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(
        guard.setup_failure().is_none(),
        "exec error taken for a setup failure"
    );
}

#[test]
fn inherited_fd_cannot_be_written_through() {
    let ws = ws();
    let ws_path = ws.path().canonicalize().unwrap();
    let target = ws_path.join("../").canonicalize().unwrap();
    let target = tempfile::NamedTempFile::new_in(target).unwrap();
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(target.path())
        .unwrap();
    let fd = file.as_raw_fd();
    // SAFETY: clears FD_CLOEXEC on an fd this test owns, so the child inherits it.
    unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    // Ask the kernel whether the shell holds the fd (dash cannot redirect to fds above 9,
    // and tests running in parallel push this one past 9), then try to write through it.
    let probe = format!(
        "if [ -e /proc/self/fd/{fd} ]; then echo FD-OPEN; \
         [ {fd} -le 9 ] && eval 'echo evil >&{fd}'; else echo FD-CLOSED; fi"
    );
    let sandbox =
        LandlockSandbox::new(&policy(Preset::ReadOnly, &ws_path), Options::default()).unwrap();
    let o = run(&sandbox, &ws_path, &probe);
    assert!(out(&o).contains("FD-CLOSED"), "{}", out(&o));
    assert_eq!(std::fs::read_to_string(target.path()).unwrap(), "");

    // Control: without a sandbox the same probe sees the fd, so the check above can fail.
    let none = LandlockSandbox::new(
        &policy(Preset::DangerFullAccess, &ws_path),
        Options::default(),
    )
    .unwrap();
    let o = run(&none, &ws_path, &probe);
    assert!(out(&o).contains("FD-OPEN"), "{}", out(&o));
}

#[test]
fn unrestricted_policy_applies_nothing() {
    let ws = ws();
    let ws_path = ws.path().canonicalize().unwrap();
    let sandbox = LandlockSandbox::new(
        &policy(Preset::DangerFullAccess, &ws_path),
        Options::default(),
    )
    .unwrap();
    assert!(sandbox.plan().unrestricted);
    let o = run(&sandbox, &ws_path, "grep NoNewPrivs /proc/self/status");
    assert!(out(&o).contains("NoNewPrivs:\t0"), "{}", out(&o));
}
