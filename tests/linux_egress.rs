//! End-to-end: the `proxy` and `loopback` network modes under the real sandbox.
//!
//! Each case runs in a network and mount namespace of the test's own (made as root with
//! `unshare -mn`): an origin of its own listens on that namespace's loopback (HTTP on :80, a
//! TLS-port stand-in on :443), and `/etc/hosts` there maps `origin.test` and `other.test` to
//! it. `sandbox` runs inside, as root and as `sbxtest`, with each backend; its proxy (in the launcher) reaches the
//! origin, the sandboxed command only through the proxy. Without root these cases are skipped
//! with a notice.

#![cfg(target_os = "linux")]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{stderr, stdout, users, Dir, User};

const ORIGIN: &str = include_str!("egress/origin.py");
const TLS_PROBE: &str = include_str!("egress/tls_probe.py");

fn is_root() -> bool {
    users().first().is_some_and(|u| u.is_root())
}

/// Files the harness needs, in a directory every user can read.
struct Harness {
    dir: Dir,
}

impl Harness {
    fn new() -> Harness {
        let root = &users()[0];
        let dir = Dir::new(root, Path::new("/tmp"));
        std::fs::write(dir.join("origin.py"), ORIGIN).unwrap();
        std::fs::write(dir.join("tls_probe.py"), TLS_PROBE).unwrap();
        let mut hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        hosts.push_str("\n127.0.0.1 origin.test other.test\n");
        std::fs::write(dir.join("hosts"), hosts).unwrap();
        Harness { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Runs `sandbox ARGS… -- sh -c SCRIPT` as `user` in `ws`, inside a fresh network and
    /// mount namespace with the origin running.
    fn run(&self, user: &User, ws: &Path, args: &[&str], script: &str) -> Output {
        let q = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        let ready = self.path(&format!("ready-{}", std::process::id()));
        let _ = std::fs::remove_file(&ready);
        let as_user = if user.is_root() {
            String::new()
        } else {
            format!(
                "setpriv --reuid={} --regid={} --init-groups ",
                user.uid, user.gid
            )
        };
        let mut sandbox = format!("{as_user}{}", support::sandbox_bin().display());
        for a in args {
            sandbox.push(' ');
            sandbox.push_str(&q(a));
        }
        sandbox.push_str(" -- sh -c ");
        sandbox.push_str(&q(script));
        let harness = format!(
            "set -e\nip link set lo up\nmount --bind {hosts} /etc/hosts\n\
             {py} {origin} {ready} >/dev/null 2>&1 &\n\
             i=0; while [ ! -e {ready} ]; do i=$((i+1)); [ $i -lt 200 ] || exit 99; sleep 0.05; done\n\
             set +e\ncd {ws}\n{sandbox}\nrc=$?\nkill $! 2>/dev/null\nexit $rc\n",
            hosts = q(&self.path("hosts").display().to_string()),
            py = support::PYTHON,
            origin = q(&self.path("origin.py").display().to_string()),
            ready = q(&ready.display().to_string()),
            ws = q(&ws.display().to_string()),
        );
        Command::new("unshare")
            .args(["-mn", "sh", "-c", &harness])
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", &user.home)
            .env("LANG", "C")
            .output()
            .expect("run unshare")
    }
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(o),
        stderr(o)
    )
}

/// Everything the command tries from inside, one marker line per check.
const PROXY_SCRIPT: &str = r#"
echo "http: $(curl -sS -m 10 http://origin.test/a)"
echo "connect: $(curl -sS -m 10 -p http://origin.test/b)"
echo "refused: $(curl -sS -m 10 -o /dev/null -w '%{http_code}' http://other.test/c)"
curl -sS -m 5 --noproxy '*' http://127.0.0.1:80/ >/dev/null 2>&1 && echo "direct: reached" || echo "direct: failed"
python3 - <<'PY'
import socket
for addr in [("127.0.0.1", 80), ("10.200.0.1", 80), ("1.1.1.1", 443)]:
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect(addr)
        print("raw", addr[0], "connected")
    except OSError as e:
        print("raw", addr[0], "failed", e.errno)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    u.sendto(b"x", ("1.1.1.1", 53))
    print("udp sent")
except OSError as e:
    print("udp failed", e.errno)
PY
echo "sni-good: $(python3 "$PROBE" origin.test:443 origin.test)"
echo "sni-bad: $(python3 "$PROBE" origin.test:443 other.test)"
echo "proxycommand: $(printf 'GET /s HTTP/1.0\r\nHost: s\r\n\r\n' | "$SBX" connect origin.test 80 | tail -1)"
"$SBX" connect other.test 22 </dev/null; echo "proxycommand-refused: $?"
case "$GIT_SSH_COMMAND" in *"connect %h %p"*) echo "git-ssh: set";; esac
"#;

fn workspace(user: &User) -> Dir {
    Dir::new(user, Path::new("/tmp"))
}

/// Every user with every Linux backend.
fn cases() -> Vec<(&'static User, &'static str)> {
    users()
        .iter()
        .flat_map(|u| ["bwrap", "landlock"].map(|b| (u, b)))
        .collect()
}

#[test]
fn proxy_mode_allows_only_allowlisted_names_and_nothing_direct() {
    if !is_root() {
        eprintln!("notice: not root: the egress e2e cases need their own namespaces; skipped");
        return;
    }
    let h = Harness::new();
    for (user, backend) in cases() {
        let ws = workspace(user);
        let json = ws.join("denials.jsonl");
        let script = format!(
            "PROBE={}\nSBX={}\n{PROXY_SCRIPT}",
            h.path("tls_probe.py").display(),
            support::sandbox_bin().display()
        );
        let json_s = json.display().to_string();
        let o = h.run(
            user,
            &ws.path,
            &[
                "linux",
                "--backend",
                backend,
                "--allow-domain",
                "origin.test",
                "-c",
                "network_proxy.policy.allow_local_binding=true",
                "--denials-json",
                &json_s,
            ],
            &script,
        );
        let out = stdout(&o);
        let err = stderr(&o);
        assert!(o.status.success(), "{} {backend}: {}", user.name, show(&o));
        for want in [
            "http: origin-ok /a host=origin.test",
            "connect: origin-ok /b host=origin.test",
            "refused: 403",
            "direct: failed",
            "raw 127.0.0.1 failed 111",
            "raw 10.200.0.1 failed 101",
            "raw 1.1.1.1 failed 101",
            "udp failed 101",
            "sni-good: status=HTTP/1.1 200 OK reply=tls-hello-seen",
            "sni-bad: status=HTTP/1.1 200 OK reply=closed",
            "proxycommand: origin-ok /s host=s",
            "proxycommand-refused: 1",
            "git-ssh: set",
        ] {
            assert!(
                out.contains(want),
                "{} {backend}: missing `{want}`\n{}",
                user.name,
                show(&o)
            );
        }
        assert!(err.contains("TLS names `other.test`"), "{}", show(&o));
        assert!(
            err.contains("sandbox: connect other.test:22: the egress proxy refused other.test:22"),
            "{}",
            show(&o)
        );
        assert!(
            err.contains("sandbox: blocked 2 requests to other.test (not in allowed_domains)"),
            "{}",
            show(&o)
        );
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&json)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(
            lines
                .iter()
                .any(|d| d["host"] == "other.test" && d["rule"] == "not_allowed"),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|d| d["host"] == "origin.test" && d["rule"] == "sni_mismatch"),
            "{lines:?}"
        );
    }
}

#[test]
fn a_name_resolving_to_loopback_needs_allow_local_binding() {
    if !is_root() {
        eprintln!("notice: not root: skipped");
        return;
    }
    let h = Harness::new();
    for (user, backend) in cases() {
        let ws = workspace(user);
        let o = h.run(
            user,
            &ws.path,
            &["linux", "--backend", backend, "--allow-domain", "origin.test"],
            "curl -sS -m 10 http://origin.test/x; echo; curl -sS -m 10 -p http://origin.test/y; echo rc=$?",
        );
        let out = stdout(&o);
        assert!(
            out.contains("blocked origin.test:80: resolves to 127.0.0.1, a loopback address; allow it with network_proxy.policy.allow_local_binding = true"),
            "{} {backend}: {}",
            user.name,
            show(&o)
        );
        assert!(!out.contains("origin-ok"), "{}", show(&o));
        assert!(
            stderr(&o).contains(
                "sandbox: blocked 2 requests to origin.test (resolves to a loopback address)"
            ),
            "{}",
            show(&o)
        );
    }
}

#[test]
fn loopback_mode_is_a_private_loopback() {
    if !is_root() {
        eprintln!("notice: not root: skipped");
        return;
    }
    let h = Harness::new();
    let script = r#"python3 - <<'PY'
import socket, threading
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
port = srv.getsockname()[1]
def serve():
    c, _ = srv.accept()
    c.sendall(b"inside-ok")
    c.close()
threading.Thread(target=serve).start()
print(socket.create_connection(("127.0.0.1", port), timeout=5).recv(20).decode())
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("127.0.0.1", 80))
    print("host loopback reached")
except OSError as e:
    print("host loopback unreachable", e.errno)
for name, args in [("netlink", (socket.AF_NETLINK, socket.SOCK_RAW, 0)),
                   ("packet", (socket.AF_PACKET, socket.SOCK_RAW, 0)),
                   ("raw", (socket.AF_INET, socket.SOCK_RAW, 1)),
                   ("vsock", (40, socket.SOCK_STREAM, 0))]:
    try:
        socket.socket(*args)
        print(name, "made")
    except OSError as e:
        print(name, "refused", e.errno)
PY
env | grep -ci _proxy || true"#;
    for (user, backend) in cases() {
        let ws = workspace(user);
        let o = h.run(
            user,
            &ws.path,
            &["linux", "--backend", backend, "--network", "loopback"],
            script,
        );
        let out = stdout(&o);
        assert!(
            out.contains("inside-ok"),
            "{} {backend}: {}",
            user.name,
            show(&o)
        );
        assert!(
            out.contains("host loopback unreachable 111"),
            "{}: {}",
            user.name,
            show(&o)
        );
        for kind in ["netlink", "packet", "raw", "vsock"] {
            assert!(
                out.contains(&format!("{kind} refused 1")),
                "{}: {kind}: {}",
                user.name,
                show(&o)
            );
        }
        assert!(
            out.lines().last() == Some("0"),
            "no proxy variables: {}",
            show(&o)
        );
    }
}

/// Where no private network namespace can be made (the Landlock backend without a mount
/// namespace), both modes are refused (125, named) and the command never runs with domain
/// rules unenforced.
#[test]
fn without_a_network_namespace_the_modes_are_refused() {
    for user in users() {
        let ws = workspace(user);
        for (args, key) in [
            (
                &["--allow-domain", "origin.test"][..],
                "network.allowlist_egress",
            ),
            (&["--network", "loopback"][..], "network.loopback_only"),
        ] {
            let mut full = vec!["linux", "--backend", "landlock"];
            full.extend_from_slice(args);
            full.extend_from_slice(&["--", "sh", "-c", "echo ran"]);
            let o = support::sandbox_cmd(user, &ws.path, &full)
                .env("SANDBOX_TEST_FORCE_NO_MOUNTNS", "1")
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(125), "{}", show(&o));
            assert!(!stdout(&o).contains("ran"), "{}", show(&o));
            assert!(stderr(&o).contains(key), "{}", show(&o));
        }
    }
}

/// Bad patterns and unenforceable combinations: 125, naming the file and key or the flag.
#[test]
fn bad_domain_rules_are_refused_with_file_and_key() {
    let user = &users()[0];
    let ws = workspace(user);
    let cfg = ws.write(
        user,
        "config.toml",
        "[network_proxy.policy]\nallowed_domains = [\"pypi.org\", \"https://evil.com/x\"]\n",
    );
    let cfg_s = cfg.display().to_string();
    let o = support::sandbox(user, &ws.path, &["linux", "--config", &cfg_s, "--", "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", show(&o));
    let err = stderr(&o);
    assert!(err.contains(&cfg_s), "{err}");
    assert!(
        err.contains("network_proxy.policy.allowed_domains[1]"),
        "{err}"
    );
    let o = support::sandbox(
        user,
        &ws.path,
        &[
            "linux",
            "--network",
            "--allow-domain",
            "pypi.org",
            "--",
            "true",
        ],
    );
    assert_eq!(o.status.code(), Some(125), "{}", show(&o));
    assert!(stderr(&o).contains("unenforced"), "{}", show(&o));
    let o = support::sandbox(
        user,
        &ws.path,
        &["linux", "--deny-domain", "a*b.com", "--", "true"],
    );
    assert_eq!(o.status.code(), Some(125), "{}", show(&o));
    assert!(stderr(&o).contains("--deny-domain"), "{}", show(&o));
}

/// pip reaches the real registry only through allowlisted names. Skipped (with a notice) when
/// the registry cannot be reached from this host at all.
#[test]
fn pip_install_works_only_with_the_registry_allowlisted() {
    let reachable = Command::new("curl")
        .args([
            "-sS",
            "-m",
            "15",
            "-o",
            "/dev/null",
            "https://pypi.org/simple/six/",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !reachable {
        eprintln!("notice: pypi.org is not reachable from this host: pip e2e skipped");
        return;
    }
    for (user, backend) in cases() {
        let ws = workspace(user);
        let target = ws.join("site");
        let target_s = target.display().to_string();
        let pip = |allow: &[&str]| {
            let mut args = vec!["linux", "--backend", backend, "--full-auto"];
            for a in allow {
                args.extend_from_slice(&["--allow-domain", a]);
            }
            args.extend_from_slice(&[
                "--",
                "python3",
                "-m",
                "pip",
                "install",
                "--no-deps",
                "--no-cache-dir",
                "--retries",
                "0",
                "--timeout",
                "20",
                "--target",
                &target_s,
                "six",
            ]);
            support::sandbox(user, &ws.path, &args)
        };
        let o = pip(&["pypi.org", "files.pythonhosted.org"]);
        assert!(o.status.success(), "{} {backend}: {}", user.name, show(&o));
        assert!(target.join("six.py").exists(), "{}", show(&o));
        std::fs::remove_dir_all(&target).unwrap();
        let o = pip(&["example.org"]);
        assert!(!o.status.success(), "{} {backend}: {}", user.name, show(&o));
        assert!(
            stderr(&o).contains("sandbox: blocked") && stderr(&o).contains("pypi.org"),
            "{}",
            show(&o)
        );
    }
}
