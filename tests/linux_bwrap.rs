//! End-to-end tests of `sandbox linux --backend bwrap`: real commands under real bubblewrap,
//! checking what the kernel allowed. Each case runs as the current user (root in CI) and, when
//! the tests run as root and the user `sbxtest` exists, again as that unprivileged user.
//! Cases that cannot run here print a `SKIP:` line saying why.
#![cfg(target_os = "linux")]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

#[path = "support/stop.rs"]
mod stop;

const TEST_USER: &str = "sbxtest";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Me,
    User,
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn user_ids() -> Option<(u32, u32)> {
    let out = Command::new("id").arg(TEST_USER).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let uid = Command::new("id").args(["-u", TEST_USER]).output().ok()?;
    let gid = Command::new("id").args(["-g", TEST_USER]).output().ok()?;
    Some((
        String::from_utf8_lossy(&uid.stdout).trim().parse().ok()?,
        String::from_utf8_lossy(&gid.stdout).trim().parse().ok()?,
    ))
}

/// Whether bwrap can create a user namespace here (else every case is skipped).
fn bwrap_works() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        let ok = Command::new("/usr/bin/bwrap")
            .args(["--unshare-user", "--unshare-pid", "--unshare-net"])
            .args(["--ro-bind", "/", "/", "--", "/bin/true"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("SKIP: /usr/bin/bwrap cannot create user namespaces on this host");
        }
        ok
    })
}

/// Runs of different users share mount-point stubs such as `/tmp/.git` but not the stub
/// registry, so one user's cleanup can remove another's stub (a documented limitation). The
/// cases run one at a time to keep this suite from leaving such stubs behind.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The users to run each case as.
fn whos() -> Vec<Who> {
    if !bwrap_works() {
        return vec![];
    }
    let mut v = vec![Who::Me];
    if is_root() && user_ids().is_some() {
        v.push(Who::User);
    } else {
        eprintln!(
            "SKIP: unprivileged run needs root and the user `{TEST_USER}` (useradd -m {TEST_USER})"
        );
    }
    v
}

/// The sandbox binary, copied where the test user can execute it (for every user: cargo's
/// build has a second hard link, which a launch from a writable root refuses).
fn binary(_who: Who) -> PathBuf {
    let built = PathBuf::from(env!("CARGO_BIN_EXE_sandbox"));
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| {
        // One fixed directory, refreshed by each run (copy, then rename into place).
        let dir = PathBuf::from("/var/tmp/sbx-bwrap-test-bin");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let dst = dir.join("sandbox");
        let tmp = dir.join(format!("sandbox.{}", std::process::id()));
        std::fs::copy(&built, &tmp).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, &dst).unwrap();
        dst
    })
    .clone()
}

/// A workspace `ws` (with `.git/config`, `.codex/config.toml`, `sub/a.env`, `sub/a.txt`) and a
/// directory `out` outside every writable root, both under `/var/tmp` and owned by `who`.
struct Ws {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    out: PathBuf,
    who: Who,
}

impl Ws {
    fn new(who: Who) -> Ws {
        let dir = tempfile::Builder::new()
            .prefix("sbx-bwrap-")
            .tempdir_in("/var/tmp")
            .unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let ws = root.join("ws");
        let out = root.join("out");
        for d in [".git", ".codex", "sub"] {
            std::fs::create_dir_all(ws.join(d)).unwrap();
        }
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(ws.join(".git/config"), "[core]\n").unwrap();
        std::fs::write(ws.join(".codex/config.toml"), "x = 1\n").unwrap();
        std::fs::write(ws.join("sub/a.env"), "SECRET=1\n").unwrap();
        std::fs::write(ws.join("sub/a.txt"), "plain\n").unwrap();
        if who == Who::User {
            let (uid, gid) = user_ids().unwrap();
            chown_r(&root, uid, gid);
        }
        Ws {
            _dir: dir,
            ws,
            out,
            who,
        }
    }

    /// `sandbox ARGS…` run in the workspace as `who`.
    fn sandbox(&self, args: &[&str]) -> Command {
        let bin = binary(self.who);
        let mut c = as_who(self.who, &bin);
        c.args(args)
            .current_dir(&self.ws)
            .env_remove("TMPDIR")
            // Never the developer's own ~/.codex/config.toml.
            .env("CODEX_HOME", "/nonexistent/sandbox-tests-codex-home")
            .env("PATH", "/usr/local/bin:/usr/bin:/bin");
        c
    }

    /// `sandbox linux --backend bwrap ARGS…` run in the workspace as `who`.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut all = vec!["linux", "--backend", "bwrap"];
        all.extend_from_slice(args);
        self.sandbox(&all)
    }

    /// Runs `sh -c SCRIPT` under workspace-write (plus `extra` flags).
    fn sh(&self, extra: &[&str], script: &str) -> Output {
        let mut args = vec!["--full-auto"];
        args.extend_from_slice(extra);
        args.extend(["--", "sh", "-c", script]);
        self.cmd(&args).output().unwrap()
    }
}

/// A command running `program` as `who`: directly, or through `setpriv` as the test user.
fn as_who(who: Who, program: impl AsRef<std::ffi::OsStr>) -> Command {
    match who {
        Who::Me => Command::new(program),
        Who::User => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={TEST_USER}"),
                &format!("--regid={TEST_USER}"),
                "--init-groups",
                "--",
            ])
            .arg(program)
            .env("HOME", format!("/home/{TEST_USER}"));
            c
        }
    }
}

/// Whether a user namespace can be made whose `user.max_user_namespaces` is 0, so nested ones
/// are refused as on a host with namespaces disabled (prints a skip notice when not).
fn nested_userns_can_be_refused() -> bool {
    let probe = Command::new("unshare")
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

fn chown_r(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
    if p.is_dir() && !p.is_symlink() {
        for e in std::fs::read_dir(p).unwrap() {
            chown_r(&e.unwrap().path(), uid, gid);
        }
    }
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "/bin/python3"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

#[test]
fn writes_inside_roots_work_and_outside_fail_leaving_nothing() {
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        let o = w.sh(
            &[],
            "echo hi > a.txt && cat /etc/passwd > /dev/null && echo ok > /dev/null",
        );
        assert!(o.status.success(), "{who:?}: {}", show(&o));
        assert_eq!(std::fs::read_to_string(w.ws.join("a.txt")).unwrap(), "hi\n");

        let outside = w.out.join("evil.txt");
        let home = if who == Who::User {
            PathBuf::from(format!("/home/{TEST_USER}/sbx-evil"))
        } else {
            PathBuf::from(std::env::var("HOME").unwrap_or("/root".into())).join("sbx-evil")
        };
        for target in [
            outside.clone(),
            PathBuf::from("/etc/sbx-evil"),
            home.clone(),
        ] {
            let o = w.sh(&[], &format!("echo x > '{}'", target.display()));
            assert!(
                !o.status.success(),
                "{who:?} wrote {}: {}",
                target.display(),
                show(&o)
            );
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("Read-only file system"),
                "{who:?}: {}",
                show(&o)
            );
            assert!(!target.exists(), "{} was left behind", target.display());
        }

        // /tmp is a writable root of workspace-write.
        let name = format!("/tmp/sbx-bwrap-tmp-{}-{who:?}", std::process::id());
        let o = w.sh(&[], &format!("echo t > {name} && cat {name} && rm {name}"));
        assert!(o.status.success(), "{who:?}: {}", show(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "t\n");
    }
}

#[test]
fn protected_subpaths_are_unchanged_and_not_creatable() {
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        for script in [
            "echo bad >> .git/config",
            "echo bad > .codex/config.toml",
            "mkdir -p .git/hooks && echo bad > .git/hooks/pre-commit",
            "mkdir .agents",
            "echo bad > .agents",
            "rm -rf .git",
            "mv .codex codex2",
        ] {
            let o = w.sh(&[], script);
            assert!(
                !o.status.success(),
                "{who:?} `{script}` succeeded: {}",
                show(&o)
            );
        }
        assert_eq!(
            std::fs::read_to_string(w.ws.join(".git/config")).unwrap(),
            "[core]\n"
        );
        assert_eq!(
            std::fs::read_to_string(w.ws.join(".codex/config.toml")).unwrap(),
            "x = 1\n"
        );
        assert!(!w.ws.join(".git/hooks").exists());
        assert!(!w.ws.join("codex2").exists());
        // The read-only mount point bwrap created for the missing `.agents` was removed.
        assert!(!w.ws.join(".agents").exists(), "stub .agents left behind");
    }
}

#[test]
fn network_is_denied_but_socketpair_works() {
    let _serial = serial();
    let Some(py) = python() else {
        eprintln!("SKIP: python3 is needed for the socket cases");
        return;
    };
    for who in whos() {
        let w = Ws::new(who);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();

        let o = w.sh(&[], &format!("exec 3<>/dev/tcp/127.0.0.1/{port}"));
        assert!(!o.status.success(), "{who:?} /dev/tcp: {}", show(&o));

        let cases = [
            format!("import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)"),
            "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('127.0.0.1', 9))".to_string(),
            "import socket; socket.socket(socket.AF_INET6, socket.SOCK_STREAM)".to_string(),
        ];
        for code in &cases {
            let o = w
                .cmd(&["--full-auto", "--", py, "-c", code])
                .output()
                .unwrap();
            assert!(
                !o.status.success(),
                "{who:?} `{code}` succeeded: {}",
                show(&o)
            );
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("PermissionError"),
                "{who:?} `{code}` failed for another reason: {}",
                show(&o)
            );
        }
        assert!(
            listener.accept().is_err(),
            "the host listener got a connection"
        );

        let pair =
            "import socket; a,b=socket.socketpair(); a.send(b'ping'); print(b.recv(4).decode())";
        let o = w
            .cmd(&["--full-auto", "--", py, "-c", pair])
            .output()
            .unwrap();
        assert!(o.status.success(), "{who:?} socketpair: {}", show(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "ping\n");
    }
}

#[test]
fn no_new_privs_is_set() {
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        let o = w.sh(&[], "grep NoNewPrivs /proc/self/status");
        assert!(o.status.success(), "{}", show(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "NoNewPrivs:\t1\n");
    }
}

#[test]
fn exit_status_contract() {
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        assert_eq!(w.sh(&[], "exit 42").status.code(), Some(42));
        assert_eq!(w.sh(&[], "kill -TERM $$").status.code(), Some(143));
        let o = w
            .cmd(&["--full-auto", "--", "no-such-command-sbx"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(127), "{}", show(&o));
        let o = w
            .cmd(&["--full-auto", "--", "/etc/passwd"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(126), "{}", show(&o));
    }
}

#[test]
fn read_only_preset_denies_every_write() {
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        let o = w
            .cmd(&["-s", "read-only", "--", "sh", "-c", "cat sub/a.txt"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", show(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "plain\n");
        for script in [
            "echo x > new.txt",
            "echo x >> sub/a.txt",
            "mkdir d",
            "rm sub/a.txt",
        ] {
            let o = w
                .cmd(&["-s", "read-only", "--", "sh", "-c", script])
                .output()
                .unwrap();
            assert!(!o.status.success(), "{who:?} `{script}`: {}", show(&o));
        }
        assert!(!w.ws.join("new.txt").exists());
        assert!(!w.ws.join("d").exists());
        assert_eq!(
            std::fs::read_to_string(w.ws.join("sub/a.txt")).unwrap(),
            "plain\n"
        );
        let o = w
            .cmd(&["-s", "read-only", "--", "sh", "-c", "echo ok > /dev/null"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", show(&o));
    }
}

#[test]
fn inherited_fd_cannot_be_written_through() {
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        let target = w.out.join("leak.txt");
        std::fs::write(&target, "").unwrap();
        if who == Who::User {
            let (uid, gid) = user_ids().unwrap();
            std::os::unix::fs::chown(&target, Some(uid), Some(gid)).unwrap();
        }
        // The outer shell opens fd 7 for writing and execs the sandbox, which inherits it.
        let bin = binary(who);
        let inner = format!(
            "exec 7>>'{}'; exec '{}' linux --backend bwrap --full-auto -- sh -c 'echo leaked >&7'",
            target.display(),
            bin.display()
        );
        let mut c = as_who(who, "sh");
        let o = c
            .args(["-c", &inner])
            .current_dir(&w.ws)
            .env_remove("TMPDIR")
            .output()
            .unwrap();
        assert!(!o.status.success(), "{who:?}: {}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("Bad file descriptor"),
            "{who:?}: {}",
            show(&o)
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
    }
}

#[test]
fn deny_read_glob_masks_matching_files() {
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        let o = w.sh(&["--deny-read", "**/*.env"], "cat sub/a.env");
        assert!(!o.status.success(), "{who:?} read a.env: {}", show(&o));
        assert!(!String::from_utf8_lossy(&o.stdout).contains("SECRET"));
        let o = w.sh(&["--deny-read", "**/*.env"], "cat sub/a.txt");
        assert!(o.status.success(), "{who:?}: {}", show(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "plain\n");
        // The masked file itself is unchanged on the host.
        assert_eq!(
            std::fs::read_to_string(w.ws.join("sub/a.env")).unwrap(),
            "SECRET=1\n"
        );
    }
}

#[test]
fn root_wide_deny_glob_is_refused() {
    let _serial = serial();
    for who in whos().into_iter().take(1) {
        let w = Ws::new(who);
        let o = w.sh(&["--deny-read", "/**/*.env"], "touch ran");
        assert_eq!(o.status.code(), Some(125), "{}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("whole filesystem"),
            "{}",
            show(&o)
        );
        assert!(!w.ws.join("ran").exists());
    }
}

#[test]
fn outside_processes_are_invisible() {
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        let mut outside = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = outside.id();
        let o = w.sh(&[], &format!("kill -0 {pid}"));
        let _ = outside.kill();
        let _ = outside.wait();
        assert!(!o.status.success(), "{who:?} saw pid {pid}: {}", show(&o));
        // …while the command's own processes are visible to it.
        let o = w.sh(&[], "sleep 5 & kill -0 $! && kill $!");
        assert!(o.status.success(), "{who:?}: {}", show(&o));
    }
}

#[test]
fn profile_shows_unshare_net_and_json() {
    let _serial = serial();
    let bin = binary(Who::Me);
    let o = Command::new(&bin)
        .args(["profile", "linux", "--backend", "bwrap", "--full-auto"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.lines().any(|l| l == "--unshare-net"), "{text}");
    assert!(text.lines().any(|l| l == "--die-with-parent"), "{text}");

    let o = Command::new(bin)
        .args([
            "profile",
            "linux",
            "--backend",
            "bwrap",
            "--full-auto",
            "--network",
        ])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["plan"]["unshare_net"], false);
    assert_eq!(v["backend"], "bwrap");
}

#[test]
fn refused_user_namespaces_are_diagnosed_not_run() {
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        let o = w
            .cmd(&["--full-auto", "--", "touch", "ran"])
            .env("SANDBOX_TEST_FORCE_NO_USERNS", "1")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(125), "{}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("cannot create the sandbox's namespaces"),
            "{err}"
        );
        assert!(err.contains("setting up uid map"), "{err}");
        assert!(
            err.contains("hint:") && err.contains("--backend landlock"),
            "{err}"
        );
        assert!(!w.ws.join("ran").exists(), "the command ran unsandboxed");
    }
}

#[test]
fn auto_backend_uses_bwrap_here_and_protects_git() {
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        let mut c = w.sandbox(&[
            "linux",
            "--full-auto",
            "-v",
            "--",
            "sh",
            "-c",
            "echo bad >> .git/config",
        ]);
        let o = c.output().unwrap();
        assert!(!o.status.success(), "{who:?}: {}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("sandbox: backend bwrap: bubblewrap"), "{err}");
        assert_eq!(
            std::fs::read_to_string(w.ws.join(".git/config")).unwrap(),
            "[core]\n"
        );
    }
}

#[test]
fn auto_backend_reports_why_it_leaves_bwrap() {
    let _serial = serial();
    for who in whos().into_iter().take(1) {
        let w = Ws::new(who);
        let o = w
            .sandbox(&["linux", "--full-auto", "-v", "--", "touch", "ran"])
            .env("SANDBOX_TEST_FORCE_NO_USERNS", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        // The choice and its reason, then the command runs under Landlock.
        assert!(
            err.contains("sandbox: backend landlock: bwrap cannot be used"),
            "{err}"
        );
        assert!(err.contains("using Landlock ABI"), "{err}");
        assert!(o.status.success(), "{}", show(&o));
        assert!(w.ws.join("ran").exists(), "{}", show(&o));
    }
}

#[test]
fn proc_refusal_fails_closed_or_degrades_with_best_effort() {
    let _serial = serial();
    for who in whos().into_iter().take(1) {
        let w = Ws::new(who);
        let o = w
            .cmd(&["--full-auto", "--", "touch", "ran"])
            .env("SANDBOX_TEST_FORCE_NO_PROC", "1")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(125), "{}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("/proc"),
            "{}",
            show(&o)
        );
        assert!(!w.ws.join("ran").exists());

        let o = w
            .cmd(&[
                "--full-auto",
                "--best-effort",
                "--",
                "sh",
                "-c",
                "touch ran; test -e /proc/self/status",
            ])
            .env("SANDBOX_TEST_FORCE_NO_PROC", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            err.matches("sandbox: warning:").count(),
            1,
            "one warning per degradation: {err}"
        );
        assert!(err.contains("without /proc"), "{err}");
        assert!(w.ws.join("ran").exists(), "{}", show(&o));
        assert!(!o.status.success(), "/proc was mounted: {}", show(&o));
    }
}

#[test]
fn network_flag_allows_inet_sockets() {
    let _serial = serial();
    let Some(py) = python() else {
        eprintln!("SKIP: python3 is needed for the socket cases");
        return;
    };
    for who in whos() {
        let w = Ws::new(who);
        let code = "import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM); print('ok')";
        let o = w
            .cmd(&["--full-auto", "--network", "--", py, "-c", code])
            .output()
            .unwrap();
        assert!(o.status.success(), "{who:?}: {}", show(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "ok\n");
    }
}

#[test]
fn minimal_read_view_hides_the_rest_of_the_host() {
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        let cfg = w.out.join("config.toml");
        std::fs::write(
            &cfg,
            "default_permissions = \"mini\"\n[permissions.mini.filesystem]\n\":minimal\" = \"read\"\n\":cwd\" = \"write\"\n",
        )
        .unwrap();
        if who == Who::User {
            let (uid, gid) = user_ids().unwrap();
            std::os::unix::fs::chown(&cfg, Some(uid), Some(gid)).unwrap();
        }
        let cfg = cfg.display().to_string();
        let run = |script: &str| {
            w.cmd(&["--config", &cfg, "--", "sh", "-c", script])
                .output()
                .unwrap()
        };
        let o = run("echo hi > made.txt && cat made.txt && cat /etc/passwd > /dev/null");
        assert!(o.status.success(), "{who:?}: {}", show(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "hi\n");
        // Outside the read roots and the workspace nothing exists, and `/` is read-only.
        let outside = w.out.display().to_string();
        for script in [
            format!("ls '{outside}'"),
            "ls /home /root".to_string(),
            "touch /newfile".to_string(),
        ] {
            let o = run(&script);
            assert!(!o.status.success(), "{who:?} `{script}`: {}", show(&o));
        }
    }
}

#[test]
fn git_pointer_file_and_its_target_are_protected() {
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        // A linked worktree: WS/.git is a `gitdir:` file pointing into another writable repo.
        let repo = w.out.join("repo");
        let wt = repo.join(".git/worktrees/w");
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(wt.join("HEAD"), "ref: refs/heads/w\n").unwrap();
        std::fs::remove_dir_all(w.ws.join(".git")).unwrap();
        std::fs::write(w.ws.join(".git"), format!("gitdir: {}\n", wt.display())).unwrap();
        if who == Who::User {
            let (uid, gid) = user_ids().unwrap();
            chown_r(&w.out, uid, gid);
            chown_r(&w.ws, uid, gid);
        }
        let root = repo.display().to_string();
        let head = wt.join("HEAD").display().to_string();
        for script in [
            "echo bad > .git".to_string(),
            format!("echo bad > '{head}'"),
            format!("touch '{root}/.git/evil'"),
        ] {
            let o = w.sh(&["--writable-root", &root], &script);
            assert!(!o.status.success(), "{who:?} `{script}`: {}", show(&o));
        }
        let o = w.sh(
            &["--writable-root", &root],
            &format!("echo ok > '{root}/notes.txt'"),
        );
        assert!(o.status.success(), "{who:?}: {}", show(&o));
        assert_eq!(
            std::fs::read_to_string(wt.join("HEAD")).unwrap(),
            "ref: refs/heads/w\n"
        );
        assert!(std::fs::read_to_string(w.ws.join(".git"))
            .unwrap()
            .starts_with("gitdir: "));
        assert!(!repo.join(".git/evil").exists());
    }
}

#[test]
fn real_namespace_refusal_is_diagnosed() {
    let _serial = serial();
    // A user namespace whose `user.max_user_namespaces` is 0 refuses nested ones, as a host
    // with namespaces disabled does, without changing anything outside it.
    if !nested_userns_can_be_refused() {
        return;
    }
    for who in whos() {
        let w = Ws::new(who);
        let inner = format!(
            "echo 0 > /proc/sys/user/max_user_namespaces && exec '{}' linux --backend bwrap --full-auto -- touch ran",
            binary(who).display()
        );
        let mut c = as_who(who, "unshare");
        let o = c
            .args(["--user", "--map-root-user", "sh", "-c", &inner])
            .current_dir(&w.ws)
            .env_remove("TMPDIR")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(125), "{who:?}: {}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("cannot create the sandbox's namespaces"),
            "{err}"
        );
        assert!(err.contains("user.max_user_namespaces=0"), "{err}");
        assert!(err.contains("hint:"), "{err}");
        assert!(!w.ws.join("ran").exists(), "the command ran unsandboxed");
    }
}

#[test]
fn writable_root_under_a_denied_directory_is_regranted() {
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        let private = w.ws.join("private");
        std::fs::create_dir_all(private.join("scratch")).unwrap();
        std::fs::write(private.join("key"), "TOPSECRET\n").unwrap();
        let cfg = w.out.join("config.toml");
        std::fs::write(
            &cfg,
            format!(
                "default_permissions = \"split\"\n[permissions.split.filesystem]\n\":root\" = \"read\"\n\"{ws}\" = \"write\"\n\"{ws}/private\" = \"deny\"\n\"{ws}/private/scratch\" = \"write\"\n",
                ws = w.ws.display()
            ),
        )
        .unwrap();
        if who == Who::User {
            let (uid, gid) = user_ids().unwrap();
            chown_r(&w.ws, uid, gid);
            chown_r(&w.out, uid, gid);
        }
        let cfg = cfg.display().to_string();
        let run = |script: &str| {
            w.cmd(&["--config", &cfg, "--", "sh", "-c", script])
                .output()
                .unwrap()
        };
        for script in ["cat private/key", "ls private", "echo x > private/new"] {
            let o = run(script);
            assert!(!o.status.success(), "{who:?} `{script}`: {}", show(&o));
            assert!(!String::from_utf8_lossy(&o.stdout).contains("TOPSECRET"));
        }
        let o = run("echo note > private/scratch/n.txt && cat private/scratch/n.txt");
        assert!(o.status.success(), "{who:?}: {}", show(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "note\n");
        assert!(!private.join("new").exists());
        assert_eq!(
            std::fs::read_to_string(private.join("key")).unwrap(),
            "TOPSECRET\n"
        );
    }
}

#[test]
fn a_signal_to_the_launcher_stops_the_command_and_still_cleans_up() {
    let _serial = serial();
    for who in whos() {
        for round in 0..stop::STOP_ROUNDS {
            let w = Ws::new(who);
            let r = stop::stop_round(round, &w.ws, |cmd| {
                w.cmd(&[&["--full-auto", "--"], cmd].concat())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            });
            assert_eq!(r, Ok(()), "{who:?}");
        }
    }
}

#[test]
fn ctrl_c_on_a_terminal_stops_the_command() {
    // The terminal signals its foreground group: bwrap (in the launcher's group) ends, and the
    // sandbox's PID namespace with it; the run ends with 130 and nothing is left.
    let _serial = serial();
    if whos().is_empty() {
        return;
    }
    let w = Ws::new(Who::Me);
    let bin = binary(Who::Me);
    let bin = bin.to_str().unwrap();
    let marker = format!("28.{}", std::process::id());
    let script = format!("touch ran; exec sleep {marker}");
    let argv = [bin, "linux", "--backend", "bwrap", "--full-auto", "--"];
    let argv = [&argv[..], &["sh", "-c", &script]].concat();
    let code = stop::ctrl_c_on_a_terminal(&argv, &w.ws, &w.ws.join("ran"));
    assert_eq!(code, Ok(130));
    assert!(!w.ws.join(".agents").exists(), "placeholder left behind");
    assert!(
        !stop::still_running(&marker),
        "the command outlived the sandbox"
    );
}

#[test]
fn a_signal_ignored_by_the_caller_stays_ignored_like_nohup() {
    // `nohup` and background jobs start the launcher with SIGHUP/SIGINT ignored; the command
    // must inherit that, as it would without the sandbox, not get the default back.
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        let bin = binary(who);
        let script = format!(
            "trap '' HUP; exec {} linux --backend bwrap --full-auto -- \
             sh -c 'kill -HUP $$; echo survived'",
            bin.display()
        );
        let o = as_who(who, "sh")
            .args(["-c", &script])
            .current_dir(&w.ws)
            .env_remove("TMPDIR")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{who:?}: {}", show(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "survived\n");
    }
}

#[test]
fn command_status_1_passes_through() {
    // bwrap exits 1 when it cannot set up the sandbox, so a 1 makes the launcher check that
    // bwrap works here; the command's own 1 must still come through, with no diagnosis.
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        let o = w.sh(&[], "echo ran > ran; exit 1");
        assert_eq!(o.status.code(), Some(1), "{who:?}: {}", show(&o));
        assert!(w.ws.join("ran").exists(), "{}", show(&o));
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("sandbox:"),
            "{}",
            show(&o)
        );
    }
}

#[test]
fn feature_cache_is_private_and_a_poisoned_entry_never_weakens_the_run() {
    let _serial = serial();
    for who in whos() {
        let w = Ws::new(who);
        // `out` belongs to the user and is not writable by others: a valid runtime directory.
        let run = |cmd: &[&str]| {
            let mut args = vec!["--full-auto", "--"];
            args.extend_from_slice(cmd);
            w.cmd(&args)
                .env("XDG_RUNTIME_DIR", &w.out)
                .output()
                .unwrap()
        };
        let o = run(&["true"]);
        assert!(o.status.success(), "{who:?}: {}", show(&o));
        let dir = w.out.join("sandbox");
        let meta = std::fs::symlink_metadata(&dir).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        let owner = std::fs::metadata(&w.out).unwrap().uid();
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
        let o = run(&["grep", "^Seccomp:", "/proc/self/status"]);
        assert!(o.status.success(), "{who:?}: {}", show(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "Seccomp:\t2\n",
            "{who:?}"
        );
        assert!(std::fs::read_to_string(&file).unwrap().contains(" seccomp"));
    }
}

#[test]
fn real_proc_refusal_is_found_after_bwrap_fails() {
    let _serial = serial();
    // A /proc with a file masked from the host (as container runtimes mask /proc/kcore) makes
    // the kernel refuse a fresh procfs in a user namespace: bwrap fails with status 1, and only
    // then does the launcher diagnose it. Needs root for the private mount namespace.
    if !is_root() {
        eprintln!("SKIP: masking a /proc file needs root");
        return;
    }
    for who in whos() {
        let w = Ws::new(who);
        let as_who = match who {
            Who::Me => String::new(),
            Who::User => {
                format!("setpriv --reuid={TEST_USER} --regid={TEST_USER} --init-groups -- env HOME=/home/{TEST_USER} ")
            }
        };
        let bin = binary(who);
        let script = format!(
            "mount --bind /dev/null /proc/uptime || exit 99
             {as_who}'{bin}' linux --backend bwrap --full-auto -- touch ran; echo strict=$?
             {as_who}'{bin}' linux --backend bwrap --full-auto --best-effort -- sh -c 'touch ran2; test -e /proc/self/status'; echo degraded=$?",
            bin = bin.display()
        );
        let o = Command::new("unshare")
            .args(["-m", "sh", "-c", &script])
            .current_dir(&w.ws)
            .env_remove("TMPDIR")
            .output()
            .unwrap();
        if o.status.code() == Some(99) {
            eprintln!("SKIP: cannot bind-mount over /proc/uptime here");
            return;
        }
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(out.contains("strict=125"), "{who:?}: {}", show(&o));
        assert!(err.contains("mounting /proc"), "{err}");
        assert!(
            !w.ws.join("ran").exists(),
            "the command ran before the diagnosis"
        );
        // The fallback reruns the command without /proc, with one warning.
        assert!(out.contains("degraded=1"), "/proc was there: {}", show(&o));
        assert!(w.ws.join("ran2").exists(), "{}", show(&o));
        assert_eq!(err.matches("sandbox: warning:").count(), 1, "{err}");
        assert!(err.contains("without /proc"), "{err}");
    }
}

#[test]
fn auto_falls_back_when_bwrap_is_refused_at_run_time() {
    let _serial = serial();
    // `auto` remembers that user namespaces worked; here the marker is stale (nested ones are
    // refused), so bwrap is tried, refused before anything runs, and auto chooses Landlock.
    if !nested_userns_can_be_refused() {
        return;
    }
    for who in whos() {
        let w = Ws::new(who);
        // The runtime dir belongs to `who`, who is uid 0 inside the namespace.
        let cache = w.out.join("sandbox");
        std::fs::create_dir(&cache).unwrap();
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
        let marker = cache.join("userns-ok");
        std::fs::write(&marker, "").unwrap();
        if who == Who::User {
            let (uid, gid) = user_ids().unwrap();
            chown_r(&cache, uid, gid);
        }
        let inner = format!(
            "echo 0 > /proc/sys/user/max_user_namespaces && exec '{}' linux -v --full-auto -- touch ran",
            binary(who).display()
        );
        let mut c = as_who(who, "unshare");
        let o = c
            .args(["--user", "--map-root-user", "sh", "-c", &inner])
            .current_dir(&w.ws)
            .env_remove("TMPDIR")
            .env("XDG_RUNTIME_DIR", &w.out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("sandbox: backend bwrap:"), "{who:?}: {err}");
        assert!(
            err.contains("sandbox: backend landlock: bwrap cannot be used"),
            "{who:?}: {err}"
        );
        assert!(o.status.success(), "{who:?}: {}", show(&o));
        assert!(w.ws.join("ran").exists(), "{}", show(&o));
        assert!(!marker.exists(), "the stale marker was kept");
    }
}
