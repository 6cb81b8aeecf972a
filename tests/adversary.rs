//! End to end: escapes found by attacking the built binary, each kept closed. Both Linux
//! backends, as root and as `sbxtest`.
#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use std::time::Duration;
use support::{as_user, linux_backends, sandbox, stderr, stdout, users, Dir, PYTHON};

/// Sends a datagram to `HOST` (a datagram socket on the host, outside every root) through a
/// datagram socketpair's `sendmsg(msg_name = HOST)`, and through plain `socket()` first;
/// prints what each step did.
const SOCKETPAIR_SENDMSG: &str = r#"import socket, sys
host = sys.argv[1]
try:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
except OSError as e:
    print("SOCKETPAIR-REFUSED", e.errno)
    sys.exit(0)
try:
    a.sendmsg([b"planted"], [], 0, host)
    print("SENT")
except OSError as e:
    print("SEND-REFUSED", e.errno)
"#;

/// Python for the host side: binds a datagram socket at argv[1], prints `READY`, then prints
/// `GOT <data>` for the first datagram (or exits after a few seconds).
const DGRAM_SERVER: &str = r#"import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(5)
print("READY", flush=True)
try:
    print("GOT", s.recv(100).decode(), flush=True)
except OSError:
    print("NOTHING", flush=True)
"#;

/// `unix_sockets = "none"` refuses `socket(AF_UNIX)`, yet a datagram socketpair (which it
/// kept for fd passing) could address any host datagram socket with `sendmsg(msg_name)`:
/// `/dev/log`, a daemon's socket. Datagram socketpairs are refused; stream pairs keep working.
#[test]
fn unix_sockets_none_keeps_host_datagram_sockets_out_of_reach_of_socketpair() {
    for user in users() {
        let ws = Dir::new(user, Path::new("/tmp"));
        let host = Dir::new(user, Path::new("/var/tmp"));
        let cfg = ws.write(user, "cfg.toml", "[sandbox]\nunix_sockets = \"none\"\n");
        let sock = host.join("dgram.sock");
        // The default mechanism covers host sockets in the mount namespace; without one
        // (forced, with --best-effort), seccomp refuses unix sockets instead, and that
        // fallback must not leave datagram socketpairs open.
        let mut cases: Vec<(&str, bool)> = linux_backends(user, &ws.path)
            .into_iter()
            .map(|b| (b, false))
            .collect();
        cases.push(("landlock", true));
        for (backend, fallback) in cases {
            let _ = std::fs::remove_file(&sock);
            let mut server = as_user(user, PYTHON)
                .args(["-c", DGRAM_SERVER])
                .arg(&sock)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut out = server.stdout.take().unwrap();
            let mut ready = [0u8; 6];
            std::io::Read::read_exact(&mut out, &mut ready).unwrap();
            assert_eq!(&ready, b"READY\n");

            let mut args = vec!["linux", "--backend", backend];
            if fallback {
                args.push("--best-effort");
            }
            args.extend([
                "--config",
                cfg.to_str().unwrap(),
                "--",
                PYTHON,
                "-c",
                SOCKETPAIR_SENDMSG,
                sock.to_str().unwrap(),
            ]);
            let mut cmd = support::sandbox_cmd(user, &ws.path, &args);
            if fallback {
                cmd.env("SANDBOX_TEST_FORCE_NO_MOUNTNS", "1");
            }
            let run = cmd.output().unwrap();
            let said = stdout(&run);
            let _ = server.kill();
            let _ = server.wait();
            let mut got = String::new();
            std::io::Read::read_to_string(&mut out, &mut got).unwrap();
            assert!(
                !got.contains("GOT") && !said.contains("SENT"),
                "{backend} (fallback {fallback}) as {}: a host datagram socket received from inside: {said} / {got} / {}",
                user.name,
                stderr(&run)
            );

            // A stream socketpair (fd passing, a pipe both ways) keeps working.
            let pair = sandbox(
                user,
                &ws.path,
                &[
                    "linux",
                    "--backend",
                    backend,
                    "--config",
                    cfg.to_str().unwrap(),
                    "--",
                    PYTHON,
                    "-c",
                    "import socket; a, b = socket.socketpair(); a.send(b'ok'); print(b.recv(2).decode())",
                ],
            );
            assert_eq!(
                stdout(&pair).trim(),
                "ok",
                "{backend} as {}: {}",
                user.name,
                stderr(&pair)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// `sandbox` killed with SIGKILL (a harness timeout) leaves what the command started running
/// under Landlock, still under the read-only mount over the `.git` placeholder but with nobody
/// holding its lock. A later run in the same workspace must not remove that placeholder: the
/// removal would detach the mount in the survivor's namespace, and the survivor could then
/// create `.git` (with a `core.fsmonitor` the user's next `git status` runs on the host).
#[test]
fn a_process_left_by_a_killed_sandbox_cannot_create_git_after_a_later_run() {
    for user in users() {
        let ws = Dir::new(user, Path::new("/tmp"));
        let git = ws.join(".git");
        let script = format!(
            "( setsid sh -c 'i=0; while [ $i -lt 40 ]; do if mkdir {g} 2>/dev/null; then \
             echo planted > {g}/PLANTED; exit 0; fi; i=$((i+1)); sleep 0.1; done' & ); \
             exec sleep 30",
            g = git.display()
        );
        let flags = ["--full-auto"];
        {
            let _turn = support::turn();
            let mut first = support::sandbox_cmd(
                user,
                &ws.path,
                &support::linux_args("landlock", &flags, &["sh", "-c", &script]),
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
            for _ in 0..50 {
                if git.is_dir() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            std::thread::sleep(Duration::from_millis(500));
            first.kill().unwrap(); // SIGKILL
            first.wait().unwrap();
        }

        let later = sandbox(
            user,
            &ws.path,
            &support::linux_args("landlock", &flags, &["true"]),
        );
        assert!(later.status.success(), "{}", stderr(&later));
        std::thread::sleep(Duration::from_millis(4500));
        assert!(
            !git.join("PLANTED").exists(),
            "as {}: a process left by a killed sandbox created {}",
            user.name,
            git.display()
        );
    }
}
