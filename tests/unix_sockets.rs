//! End to end: host unix sockets are closed by default and opened one by one on purpose
//! (issue 10). Real servers run on the host, outside the sandbox (Python stream, datagram and
//! seqpacket servers, an abstract socket, ssh-agent, tmux); the command inside tries to reach
//! them. Both Linux backends, as root and as `sbxtest`, checked against `explain --op
//! connect`.
#![cfg(target_os = "linux")]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{as_user, assert_ok, linux_backends, sandbox, sandbox_cmd, stderr, stdout, users};
use support::{Dir, User, PYTHON};

/// Host servers in the directory given as argv[1]: stream `s.sock` and seqpacket `q.sock`
/// answer `HELLO`; datagram `d.sock` appends what it receives to `got`; an abstract stream
/// socket named after the directory answers `HELLO`. Writes `ready` once all are bound.
const SERVER: &str = r#"
import os, socket, sys, threading
base = sys.argv[1]
def serve(s):
    while True:
        c, _ = s.accept()
        c.send(b"HELLO")
        c.close()
for kind, name in [(socket.SOCK_STREAM, "/s.sock"), (socket.SOCK_SEQPACKET, "/q.sock")]:
    s = socket.socket(socket.AF_UNIX, kind)
    s.bind(base + name)
    s.listen()
    threading.Thread(target=serve, args=(s,), daemon=True).start()
a = socket.socket(socket.AF_UNIX)
a.bind("\0sbx-abstract-" + os.path.basename(base))
a.listen()
threading.Thread(target=serve, args=(a,), daemon=True).start()
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
d.bind(base + "/d.sock")
open(base + "/ready", "w").close()
while True:
    m = d.recv(100)
    with open(base + "/got", "a") as f:
        f.write(m.decode() + "\n")
"#;

/// Tries every way to reach the servers in argv[1..] and prints one `KIND:OK` or
/// `KIND:ERR<errno>` per attempt, `KIND@N` for the N-th directory.
const CLIENT: &str = r#"
import os, socket, sys
out = []
def attempt(name, f):
    try:
        f()
        out.append(name + ":OK")
    except OSError as e:
        out.append(name + ":ERR" + str(e.errno))
def connect(kind, path, abstract=False):
    s = socket.socket(socket.AF_UNIX, kind)
    s.settimeout(3)
    s.connect(path)
    if s.recv(5) != b"HELLO":
        raise OSError(0, "no answer")
for i, base in enumerate(sys.argv[1:]):
    attempt("stream@%d" % i, lambda: connect(socket.SOCK_STREAM, base + "/s.sock"))
    attempt("seqpacket@%d" % i, lambda: connect(socket.SOCK_SEQPACKET, base + "/q.sock"))
    attempt("dgram@%d" % i, lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"dgram", base + "/d.sock"))
    def pair():
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        a.sendmsg([b"pair"], [], 0, base + "/d.sock")
    attempt("pair-sendmsg@%d" % i, pair)
    attempt("abstract@%d" % i, lambda: connect(socket.SOCK_STREAM, "\0sbx-abstract-" + os.path.basename(base)))
print(" ".join(out))
"#;

/// Python servers running on the host as `user`, killed on drop.
struct Servers {
    child: Child,
    dir: PathBuf,
}

impl Servers {
    fn start(user: &User, dir: &Path) -> Servers {
        let child = as_user(user, PYTHON)
            .args(["-c", SERVER])
            .arg(dir)
            .stdin(Stdio::null())
            .spawn()
            .expect("start the host servers");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dir.join("ready").exists() {
            assert!(Instant::now() < deadline, "host servers did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Servers {
            child,
            dir: dir.to_path_buf(),
        }
    }

    /// What the datagram server received so far.
    fn received(&self) -> String {
        std::fs::read_to_string(self.dir.join("got")).unwrap_or_default()
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A host process killed when the test ends, failed or not.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A host tmux server, killed when the test ends.
struct TmuxServer<'u>(&'u User, PathBuf);

impl Drop for TmuxServer<'_> {
    fn drop(&mut self) {
        let _ = as_user(self.0, "tmux")
            .arg("-S")
            .arg(&self.1)
            .arg("kill-server")
            .output();
    }
}

/// A directory under `/var/tmp`, which no preset makes writable: "outside the roots".
fn outside_roots(user: &User) -> Dir {
    Dir::new(user, Path::new("/var/tmp"))
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn run(user: &User, ws: &Path, backend: &str, flags: &[&str], cmd: &[&str]) -> Output {
    let mut args = vec!["linux", "--backend", backend];
    args.extend_from_slice(flags);
    args.push("--");
    args.extend_from_slice(cmd);
    sandbox(user, ws, &args)
}

/// `sandbox explain FLAGS --op connect PATH`: the oracle's answer.
fn oracle_allows(user: &User, ws: &Path, flags: &[&str], path: &Path) -> bool {
    let mut args = vec!["explain"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--op", "connect", path.to_str().unwrap()]);
    let out = sandbox(user, ws, &args);
    match out.status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => panic!("explain failed: {}", stderr(&out)),
    }
}

/// The attempts of one client run, as `(kind, reached)`.
fn attempts(out: &Output, what: &str) -> Vec<(String, bool)> {
    assert_ok(out, what);
    stdout(out)
        .split_whitespace()
        .map(|w| {
            let (k, v) = w.split_once(':').unwrap();
            (k.to_string(), v == "OK")
        })
        .collect()
}

/// Default policy, every preset and network mode: no host socket is reached (outside the
/// roots, or inside a writable root like tmux's `/tmp/tmux-UID`), by any socket type, nor
/// the abstract one; `explain --op connect` agrees. With `--allow-unix-socket`, the listed
/// sockets (and only those) are reached.
#[test]
fn host_sockets_are_closed_by_default_and_opened_by_the_allowlist() {
    let _serial = serial();
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let out_dir = outside_roots(u);
        // A host socket inside a writable root (/tmp, like tmux's).
        let in_root = Dir::new(u, Path::new("/tmp"));
        let servers = [
            Servers::start(u, &out_dir.path),
            Servers::start(u, &in_root.path),
        ];
        let dirs = [
            out_dir.path.to_str().unwrap(),
            in_root.path.to_str().unwrap(),
        ];
        for backend in linux_backends(u, &ws.path) {
            for preset in ["read-only", "workspace-write"] {
                for net in [None, Some("--network")] {
                    let mut flags = vec!["-s", preset];
                    flags.extend(net);
                    let what = format!("{} {backend} {flags:?}", u.name);
                    let mut cmd = vec![PYTHON, "-c", CLIENT];
                    cmd.extend(dirs);
                    let got = attempts(&run(u, &ws.path, backend, &flags, &cmd), &what);
                    assert_eq!(got.len(), 10, "{what}: {got:?}");
                    for (kind, reached) in &got {
                        assert!(!reached, "{what}: {kind} reached a host socket: {got:?}");
                    }
                    for d in &dirs {
                        for s in ["s.sock", "q.sock", "d.sock"] {
                            let p = Path::new(d).join(s);
                            assert!(!oracle_allows(u, &ws.path, &flags, &p), "{what}: {p:?}");
                        }
                    }
                }
            }
            for s in &servers {
                assert_eq!(s.received(), "", "{} {backend}: a datagram arrived", u.name);
            }

            // Allowed: the first directory's three sockets; the second stays closed.
            let allowed: Vec<String> = ["s.sock", "q.sock", "d.sock"]
                .iter()
                .map(|s| format!("--allow-unix-socket={}/{s}", dirs[0]))
                .collect();
            for net in [None, Some("--network")] {
                let mut flags: Vec<&str> = allowed.iter().map(String::as_str).collect();
                flags.extend(net);
                let what = format!("{} {backend} {flags:?}", u.name);
                let mut cmd = vec![PYTHON, "-c", CLIENT];
                cmd.extend(dirs);
                let got = attempts(&run(u, &ws.path, backend, &flags, &cmd), &what);
                for (kind, reached) in &got {
                    let want = kind.ends_with("@0") && !kind.starts_with("abstract");
                    assert_eq!(*reached, want, "{what}: {kind}: {got:?}");
                }
                for (i, d) in dirs.iter().enumerate() {
                    let p = Path::new(d).join("s.sock");
                    assert_eq!(oracle_allows(u, &ws.path, &flags, &p), i == 0, "{what}");
                }
            }
            assert_eq!(
                servers[0].received(),
                "dgram\npair\ndgram\npair\n",
                "{}",
                u.name
            );
            let _ = std::fs::remove_file(servers[0].dir.join("got"));
            assert_eq!(servers[1].received(), "", "{}", u.name);
        }
    }
}

/// What the command makes itself keeps working: a server it binds in the workspace answers
/// its own client (stream and datagram), and socketpair carries data and fds.
#[test]
fn own_sockets_socketpair_and_fd_passing_work() {
    let _serial = serial();
    let code = r#"
import array, os, socket, threading
p = os.path.join(os.getcwd(), "test.sock")
for stale in (p, p + ".dg"):
    if os.path.exists(stale): os.unlink(stale)
s = socket.socket(socket.AF_UNIX); s.bind(p); s.listen()
threading.Thread(target=lambda: s.accept()[0].send(b"OWN"), daemon=True).start()
c = socket.socket(socket.AF_UNIX); c.connect(p); print(c.recv(3).decode())
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d.bind(p + ".dg")
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"DGRAM", p + ".dg"); print(d.recv(5).decode())
a, b = socket.socketpair(); a.send(b"PAIR"); print(b.recv(4).decode())
r, w = os.pipe()
a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w]))])
msg, anc, _, _ = b.recvmsg(1, socket.CMSG_SPACE(4))
fd = array.array("i", anc[0][2])[0]
os.write(fd, b"FD"); print(os.read(r, 2).decode())
"#;
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        for backend in linux_backends(u, &ws.path) {
            for net in [None, Some("--network")] {
                let mut flags = vec!["--full-auto"];
                flags.extend(net);
                let out = run(u, &ws.path, backend, &flags, &[PYTHON, "-c", code]);
                let what = format!("{} {backend} {flags:?}", u.name);
                assert_ok(&out, &what);
                assert_eq!(
                    stdout(&out).split_whitespace().collect::<Vec<_>>(),
                    ["OWN", "DGRAM", "PAIR", "FD"],
                    "{what}"
                );
            }
        }
    }
}

/// An ssh-agent on the host answers `ssh-add -l` only when `$SSH_AUTH_SOCK` is allowed: by
/// flag, or by Codex's `[network_proxy.policy] allow_unix_sockets = ["$SSH_AUTH_SOCK"]`.
#[test]
fn ssh_agent_answers_only_when_allowed() {
    let _serial = serial();
    if Command::new("ssh-agent").arg("-h").output().is_err() {
        panic!("ssh-agent is needed (scripts/test installs openssh-client)");
    }
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let host = outside_roots(u);
        let sock = host.join("agent.sock");
        let _agent = KillOnDrop(
            as_user(u, "ssh-agent")
                .arg("-D")
                .arg("-a")
                .arg(&sock)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sock.exists() {
            assert!(Instant::now() < deadline, "ssh-agent did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let cfg = ws.write(
            u,
            "codex.toml",
            "[network_proxy.policy]\nallow_unix_sockets = [\"$SSH_AUTH_SOCK\"]\n",
        );
        let profile = ws.write(
            u,
            "profile.toml",
            &format!(
                "default_permissions = \"p\"\n[permissions.p.filesystem]\n\":root\" = \"read\"\n[permissions.p.network]\nunix_sockets = {{ \"{}\" = \"allow\" }}\n",
                sock.display()
            ),
        );
        let own = ws.write(
            u,
            "own.toml",
            &format!("[sandbox]\nunix_sockets = [\"{}\"]\n", sock.display()),
        );
        let allow = format!("--allow-unix-socket={}", sock.display());
        let cfg_flag = format!("--config={}", cfg.display());
        let profile_flag = format!("--config={}", profile.display());
        let own_flag = format!("--config={}", own.display());
        for backend in linux_backends(u, &ws.path) {
            for (flags, reached) in [
                (vec![], false),
                (vec!["--network"], false),
                (vec![allow.as_str()], true),
                (vec![cfg_flag.as_str()], true),
                (vec![profile_flag.as_str()], true),
                (vec![own_flag.as_str(), "--network"], true),
            ] {
                let mut args = vec!["linux", "--backend", backend];
                args.extend(&flags);
                args.extend(["--", "ssh-add", "-l"]);
                let out = sandbox_cmd(u, &ws.path, &args)
                    .env("SSH_AUTH_SOCK", &sock)
                    .output()
                    .unwrap();
                let what = format!(
                    "{} {backend} {flags:?}: {}{}",
                    u.name,
                    stdout(&out),
                    stderr(&out)
                );
                // 1: "The agent has no identities."; 2: no connection to the agent.
                assert_eq!(
                    out.status.code(),
                    Some(if reached { 1 } else { 2 }),
                    "{what}"
                );
            }
        }
    }
}

/// A tmux server on the host cannot be driven from inside with `TMUX` inherited: its
/// `run-shell` would run a command outside the sandbox. The same call works when the socket
/// is allowed (so the test can tell).
#[test]
fn host_tmux_cannot_be_driven_by_default() {
    let _serial = serial();
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let host = outside_roots(u);
        // In /tmp, a writable root of workspace-write, as tmux's own default directory is.
        let tdir = Dir::new(u, Path::new("/tmp"));
        let sock = tdir.join("tmux.sock");
        let started = as_user(u, "tmux")
            .arg("-S")
            .arg(&sock)
            .args(["new-session", "-d", "-s", "sbx", "sleep 600"])
            .env("TERM", "xterm")
            .output()
            .expect("tmux (scripts/test installs it)");
        assert_ok(&started, "start tmux");
        let _tmux = TmuxServer(u, sock.clone());
        let tmux_env = format!("{},1,0", sock.display());
        let allow = format!("--allow-unix-socket={}", sock.display());
        for backend in linux_backends(u, &ws.path) {
            for (i, (flags, reached)) in [
                (vec!["--full-auto"], false),
                (vec!["--full-auto", "--network"], false),
                (vec!["-s", "read-only"], false),
                (vec!["--full-auto", allow.as_str()], true),
            ]
            .into_iter()
            .enumerate()
            {
                let marker = host.join(&format!("ran-{backend}-{i}"));
                let mut args = vec!["linux", "--backend", backend];
                args.extend(&flags);
                let script = format!("tmux run-shell 'touch {}'", marker.display());
                args.extend(["--", "sh", "-c", &script]);
                let out = sandbox_cmd(u, &ws.path, &args)
                    .env("TMUX", &tmux_env)
                    .env("TERM", "xterm")
                    .output()
                    .unwrap();
                let what = format!("{} {backend} {flags:?}: {}", u.name, stderr(&out));
                let deadline = Instant::now() + Duration::from_secs(if reached { 5 } else { 0 });
                while reached && !marker.exists() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                assert_eq!(marker.exists(), reached, "{what}");
                assert_eq!(out.status.success(), reached, "{what}");
            }
        }
    }
}

/// Dangerous sockets named in a warning when allowed; `doctor --json` reports the
/// mechanism; `-v` says it.
#[test]
fn dangerous_sockets_warn_and_the_mechanism_is_reported() {
    let u = &users()[0];
    let ws = Dir::new(u, Path::new("/tmp"));
    let out = sandbox(
        u,
        &ws.path,
        &[
            "explain",
            "--allow-unix-socket=/run/docker.sock",
            "--op",
            "connect",
            "/run/docker.sock",
        ],
    );
    let err = stderr(&out);
    assert!(
        err.contains("/run/docker.sock") && err.contains("root on the host"),
        "{err}"
    );

    let out = sandbox(u, &ws.path, &["doctor", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["network.unix_socket_paths"],
        serde_json::Value::Bool(true),
        "{v}"
    );
    assert!(v["network.unix_socket_mechanism"].is_string(), "{v}");

    for backend in linux_backends(u, &ws.path) {
        let out = run(u, &ws.path, backend, &["-v"], &["true"]);
        assert_ok(&out, backend);
        assert!(
            stderr(&out).contains("unix sockets: mount-mask"),
            "{backend}: {}",
            stderr(&out)
        );
    }
}

/// Landlock backend on a host without a mount namespace (and Landlock below ABI 9): refused,
/// naming the gap; with --best-effort, unix sockets other than socketpair are refused
/// instead, so the host server stays unreached.
#[test]
fn without_a_mount_namespace_the_landlock_backend_refuses_or_falls_back() {
    let _serial = serial();
    let u = &users()[0];
    let ws = Dir::new(u, Path::new("/tmp"));
    let host = outside_roots(u);
    let _servers = Servers::start(u, &host.path);
    let dir = host.path.to_str().unwrap();
    for (flags, code) in [
        (vec!["-s", "read-only"], 125),
        (vec!["-s", "read-only", "--best-effort"], 0),
    ] {
        let mut args = vec!["linux", "--backend", "landlock"];
        args.extend(&flags);
        args.extend(["--", PYTHON, "-c", CLIENT, dir]);
        let out = sandbox_cmd(u, &ws.path, &args)
            .env("SANDBOX_TEST_FORCE_NO_MOUNTNS", "1")
            .output()
            .unwrap();
        let what = format!("{flags:?}: {}", stderr(&out));
        assert_eq!(out.status.code(), Some(code), "{what}");
        if code == 0 {
            assert!(
                stderr(&out).contains("best effort: network.unix_socket_paths"),
                "{what}"
            );
            for (kind, reached) in attempts(&out, &what) {
                // socketpair + sendmsg to a datagram socket is the documented gap.
                assert!(
                    !reached || kind.starts_with("pair-sendmsg"),
                    "{what}: {kind}"
                );
            }
        }
    }
}
