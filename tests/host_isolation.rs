//! End to end: what a sandboxed command shares with the host beyond files and the network
//! stays out of its reach: kernel keyrings, System V IPC, processes it leaves behind, and the
//! directories that hold a protected `.git`. Both Linux backends, as root and as `sbxtest`.
#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use std::process::Command;
use support::{
    assert_ok, linux_backends, one_case_at_a_time, sandbox, stderr, stdout, users, Dir, PYTHON,
};

/// Panics unless `out` is a refusal to set up (125) whose message contains `needle`.
fn assert_refused(out: &std::process::Output, what: &str, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(125), "{what}: {err}");
    assert!(err.contains(needle), "{what}: {err}");
}

/// `sandbox linux --backend BACKEND FLAGS… -- CMD…` as `user` in `cwd`.
fn run_in(
    user: &support::User,
    cwd: &Path,
    backend: &str,
    flags: &[&str],
    cmd: &[&str],
) -> std::process::Output {
    let mut args = vec!["linux", "--backend", backend];
    args.extend_from_slice(flags);
    args.push("--");
    args.extend_from_slice(cmd);
    sandbox(user, cwd, &args)
}

/// `sandbox linux --backend BACKEND --full-auto -- sh -c SCRIPT` as `user` in `cwd`.
fn full_auto_sh(
    user: &support::User,
    cwd: &Path,
    backend: &str,
    script: &str,
) -> std::process::Output {
    run_in(user, cwd, backend, &["--full-auto"], &["sh", "-c", script])
}
/// Runs of different users share the placeholder stubs under `/tmp` (`/tmp/.git`, …) but
/// not their registry, so one user's cleanup can remove a stub another user's bwrap run is
/// about to mount (a documented limitation). The cases, which run as both users, take turns.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    one_case_at_a_time()
}

/// Python that calls `keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0)` and prints
/// `KEYRING <id>` or `KEYRING-REFUSED <errno>`.
const KEYCTL: &str = "import ctypes, os
nr = {'x86_64': 250, 'aarch64': 219}[os.uname().machine]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
r = libc.syscall(ctypes.c_long(nr), ctypes.c_long(0), ctypes.c_long(-4), ctypes.c_long(0))
print('KEYRING', r) if r >= 0 else print('KEYRING-REFUSED', ctypes.get_errno())
";

#[test]
fn kernel_keyrings_are_out_of_reach() {
    let _serial = serial();
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        // Control: outside a sandbox the call works.
        let bare = support::as_user(u, PYTHON)
            .args(["-c", KEYCTL])
            .output()
            .unwrap();
        assert!(stdout(&bare).starts_with("KEYRING "), "{}", stdout(&bare));
        for backend in linux_backends(u, &ws.path) {
            let out = sandbox(
                u,
                &ws.path,
                &["linux", "--backend", backend, "--", PYTHON, "-c", KEYCTL],
            );
            assert_ok(&out, &format!("{} {backend}", u.name));
            // EPERM from the seccomp filter.
            assert_eq!(
                stdout(&out).trim(),
                "KEYRING-REFUSED 1",
                "{} {backend}",
                u.name
            );
        }
    }
}

/// Python: with `create`, makes a System V shared memory segment at `key` holding a marker
/// (world-readable, so both users can attach); otherwise looks it up and prints what it finds.
const SHM: &str = "import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
key, create = int(sys.argv[1]), sys.argv[2] == 'create'
shmid = libc.shmget(key, 4096, 0o1666 if create else 0)
if shmid < 0:
    print('SHM-NOT-FOUND', ctypes.get_errno()); sys.exit(0)
addr = libc.shmat(shmid, None, 0)
if create:
    ctypes.memmove(addr, b'HOST-SEGMENT', 12); print('SHM', shmid)
else:
    print('SHM-FOUND', ctypes.string_at(addr, 12).decode())
";

#[test]
fn system_v_ipc_of_the_host_is_out_of_reach() {
    let _serial = serial();
    let key = (0x5b0c_0000 + (std::process::id() & 0xffff)).to_string();
    let made = Command::new(PYTHON)
        .args(["-c", SHM, &key, "create"])
        .output()
        .unwrap();
    assert!(stdout(&made).starts_with("SHM "), "{}", stdout(&made));
    let shmid = stdout(&made).trim()["SHM ".len()..].to_string();
    let result = std::panic::catch_unwind(|| {
        for u in users() {
            let ws = Dir::new(u, Path::new("/tmp"));
            // Control: outside a sandbox the segment is found.
            let bare = support::as_user(u, PYTHON)
                .args(["-c", SHM, &key, "find"])
                .output()
                .unwrap();
            assert_eq!(stdout(&bare).trim(), "SHM-FOUND HOST-SEGMENT", "{}", u.name);
            for backend in linux_backends(u, &ws.path) {
                let args = [
                    "linux",
                    "--backend",
                    backend,
                    "--",
                    PYTHON,
                    "-c",
                    SHM,
                    &key,
                    "find",
                ];
                let out = sandbox(u, &ws.path, &args);
                assert_ok(&out, &format!("{} {backend}", u.name));
                assert!(
                    stdout(&out).starts_with("SHM-NOT-FOUND"),
                    "{} {backend}: {}{}",
                    u.name,
                    stdout(&out),
                    stderr(&out)
                );
            }
        }
    });
    let _ = Command::new("ipcrm").args(["-m", &shmid]).status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// A command that leaves a process behind (`setsid … &`) and exits: once the run is over,
/// that process must be gone, before the launcher removes the placeholders for the missing
/// `.git`, `.codex` and `.agents` (it could create them otherwise).
#[test]
fn processes_left_behind_cannot_create_protected_names() {
    let _serial = serial();
    let marker = format!("1.{}7", std::process::id());
    let script = format!(
        "setsid sh -c 'sleep {marker}; mkdir .git .codex .agents; touch survived' \
         </dev/null >/dev/null 2>&1 & echo started"
    );
    let mut runs = Vec::new();
    for u in users() {
        for backend in linux_backends(u, Path::new("/tmp")) {
            let ws = Dir::new(u, Path::new("/tmp"));
            let out = full_auto_sh(u, &ws.path, backend, &script);
            assert_ok(&out, &format!("{} {backend}", u.name));
            runs.push((u.name.clone(), backend, ws));
        }
    }
    // Past the sleep of a process that survived.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    for (who, backend, ws) in &runs {
        for name in [".git", ".codex", ".agents", "survived"] {
            assert!(
                !ws.join(name).exists(),
                "{who} {backend}: {name} was created after the run"
            );
        }
    }
    assert!(
        !support::stop::still_running(&marker),
        "a process left behind is still running"
    );
}

/// A workspace inside another writable root (here `/tmp`): renaming the workspace or a
/// directory above it would carry its read-only `.git` mount away and free the name for a
/// fresh, writable `.git` on the host. Every such directory is pinned (a mount point).
#[test]
fn directories_leading_to_a_protected_git_cannot_be_renamed() {
    let _serial = serial();
    for u in users() {
        for backend in linux_backends(u, Path::new("/tmp")) {
            let outer = Dir::new(u, Path::new("/tmp"));
            let config = outer.write(u, "mid/ws/.git/config", "orig\n");
            let (o, mid, ws) = (
                outer.path.display().to_string(),
                outer.join("mid").display().to_string(),
                outer.join("mid/ws").display().to_string(),
            );
            let script = format!(
                "mv {o} {o}.moved 2>/dev/null || echo OUTER-PINNED; \
                 mv {mid} {o}/mid2 2>/dev/null || echo MID-PINNED; \
                 mv {ws} {mid}/ws2 2>/dev/null || echo WS-PINNED; \
                 mkdir -p {ws}/.git 2>/dev/null; echo evil > {ws}/.git/config 2>/dev/null; \
                 echo ok > {ws}/a.txt && echo WS-WRITABLE"
            );
            let out = full_auto_sh(u, &outer.join("mid/ws"), backend, &script);
            assert_ok(&out, &format!("{} {backend}", u.name));
            let so = stdout(&out);
            for marker in ["OUTER-PINNED", "MID-PINNED", "WS-PINNED", "WS-WRITABLE"] {
                assert!(
                    so.contains(marker),
                    "{} {backend}: missing {marker} in {so}",
                    u.name
                );
            }
            assert_eq!(std::fs::read_to_string(&config).unwrap(), "orig\n");
            assert!(!Path::new(&format!("{o}.moved")).exists());
        }
    }
}

/// The per-user bwrap cache can lie in `/tmp`, which a sandboxed command may write. An entry
/// claiming that bwrap lacks a needed flag is checked against bwrap itself and rewritten,
/// rather than refusing every later run.
#[test]
fn a_tampered_bwrap_cache_heals_instead_of_refusing_every_run() {
    let _serial = serial();
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        if !linux_backends(u, &ws.path).contains(&"bwrap") {
            continue;
        }
        // The probe above ran bwrap, so the entry exists (no XDG_RUNTIME_DIR in the tests).
        let cache = Path::new("/tmp")
            .join(format!("sandbox-{}", u.uid))
            .join("bwrap-features");
        let text = std::fs::read_to_string(&cache).unwrap();
        assert!(text.contains("flags ") && text.contains("perms"), "{text}");
        let poisoned: String = text
            .lines()
            .map(|l| {
                if l.starts_with("flags ") {
                    "flags seccomp"
                } else {
                    l
                }
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&cache, poisoned).unwrap();
        let out = sandbox(
            u,
            &ws.path,
            &["linux", "--backend", "bwrap", "--full-auto", "--", "true"],
        );
        assert_ok(&out, &u.name);
        assert!(std::fs::read_to_string(&cache).unwrap().contains("perms"));
    }
}

/// A FIFO named `.git` in the workspace is protected like a file; nothing in the launcher
/// opens it in a way that waits for a writer (which would hang the run for good).
#[test]
fn a_fifo_named_git_does_not_hang_the_launch() {
    let _serial = serial();
    for u in users() {
        for backend in linux_backends(u, Path::new("/tmp")) {
            let ws = Dir::new(u, Path::new("/tmp"));
            let fifo = ws.join(".git");
            let made = support::as_user(u, "mkfifo").arg(&fifo).status().unwrap();
            assert!(made.success());
            let args = ["linux", "--backend", backend, "--full-auto", "--", "true"];
            let mut child = support::sandbox_cmd(u, &ws.path, &args).spawn().unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            let status = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break Some(s);
                }
                if std::time::Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            };
            let status = status.unwrap_or_else(|| panic!("{} {backend}: the launch hung", u.name));
            assert!(status.success(), "{} {backend}: {status:?}", u.name);
        }
    }
}

/// A `[sandbox] unix_sockets` list is enforced, not refused: the command runs, its own unix
/// sockets work, and an empty list means the default (no host socket).
#[test]
fn unix_socket_path_lists_run_and_an_empty_list_is_the_default() {
    let _serial = serial();
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let paths = ws.write(
            u,
            "paths.toml",
            "[sandbox]\nunix_sockets = [\"/tmp/x.sock\"]\n",
        );
        let empty = ws.write(u, "empty.toml", "[sandbox]\nunix_sockets = []\n");
        let probe = "import socket\ntry:\n socket.socket(socket.AF_UNIX); print('UNIX-OK')\nexcept OSError as e: print('UNIX-REFUSED', e.errno)";
        for backend in linux_backends(u, &ws.path) {
            for cfg in [&paths, &empty] {
                let cfg = cfg.to_str().unwrap();
                let out = run_in(
                    u,
                    &ws.path,
                    backend,
                    &["--config", cfg],
                    &[PYTHON, "-c", probe],
                );
                assert_ok(&out, &format!("{} {backend} {cfg}", u.name));
                assert_eq!(stdout(&out).trim(), "UNIX-OK", "{} {backend}", u.name);
            }
        }
    }
}

/// bwrap's argv is text: a denied file whose name is not UTF-8 must not be masked at a
/// mangled name (leaving the real one readable). bwrap refuses; Landlock masks it.
#[test]
fn a_denied_file_whose_name_is_not_utf8_is_never_left_readable() {
    let _serial = serial();
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(b"\xfe.env");
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        std::fs::write(ws.path.join(name), "SECRET\n").unwrap();
        let _ = Command::new("chown")
            .arg(format!("{}:{}", u.uid, u.gid))
            .arg(ws.path.join(name))
            .status();
        for backend in linux_backends(u, &ws.path) {
            // The file name is not UTF-8: it goes on the command line as it is.
            let flags = ["--full-auto", "--deny-read", "*.env"];
            let mut cmd =
                support::sandbox_cmd(u, &ws.path, &support::linux_args(backend, &flags, &["cat"]));
            cmd.arg(ws.path.join(name));
            let out = {
                let _turn = support::turn();
                cmd.output().unwrap()
            };
            assert!(
                !stdout(&out).contains("SECRET"),
                "{} {backend}: read it",
                u.name
            );
            let code = out.status.code();
            match backend {
                "bwrap" => assert_eq!(code, Some(125), "{}", stderr(&out)),
                _ => assert!(
                    stderr(&out).contains("Permission denied"),
                    "{}",
                    stderr(&out)
                ),
            }
            let entries = std::fs::read_dir(&ws.path).unwrap().count();
            assert_eq!(entries, 1, "{} {backend}: a stray file was made", u.name);
        }
    }
}

/// An empty command name is "not found" (127) under both backends, as a shell says.
#[test]
fn an_empty_command_is_not_found() {
    let _serial = serial();
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        for backend in linux_backends(u, &ws.path) {
            let out = sandbox(u, &ws.path, &["linux", "--backend", backend, "--", ""]);
            assert_eq!(
                out.status.code(),
                Some(127),
                "{} {backend}: {}",
                u.name,
                stderr(&out)
            );
        }
    }
}

/// bwrap mounts a fresh /proc and /dev, so it cannot keep a deny rule there: it refuses
/// rather than run with the rule dropped.
#[test]
fn bwrap_refuses_a_deny_rule_under_proc() {
    let _serial = serial();
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        if !linux_backends(u, &ws.path).contains(&"bwrap") {
            continue;
        }
        let cfg = ws.write(
            u,
            "proc.toml",
            "default_permissions = \"d\"\n[permissions.d.filesystem]\n\":root\" = \"read\"\n\"/proc\" = \"none\"\n",
        );
        let args = [
            "linux",
            "--backend",
            "bwrap",
            "--config",
            cfg.to_str().unwrap(),
            "--",
            "head",
            "-1",
            "/proc/self/status",
        ];
        let out = sandbox(u, &ws.path, &args);
        assert_eq!(out.status.code(), Some(125), "{}: {}", u.name, stderr(&out));
        assert!(stdout(&out).is_empty(), "{}: {}", u.name, stdout(&out));
    }
}

/// A working directory the user cannot enter is a setup failure (125) under both backends,
/// not bwrap's own exit 1 (which a caller cannot tell from the command's).
#[test]
fn a_working_directory_the_user_cannot_enter_is_125() {
    let _serial = serial();
    // The locked directory must belong to someone else: root makes it for the test user.
    if !users().iter().any(|u| u.is_root()) {
        eprintln!("notice: not root: skipping a_working_directory_the_user_cannot_enter_is_125 (needs root to make a directory another user cannot enter)");
        return;
    }
    for u in users().iter().filter(|u| !u.is_root()) {
        let locked = tempfile::Builder::new()
            .prefix("sbx-e2e-locked-")
            .tempdir_in("/tmp")
            .unwrap();
        // Owned by the test runner (root in CI), mode 0700: the test user cannot enter it.
        std::fs::set_permissions(
            locked.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let cwd = locked.path().to_str().unwrap();
        for backend in linux_backends(u, Path::new("/tmp")) {
            let out = run_in(u, Path::new("/tmp"), backend, &["-C", cwd], &["true"]);
            assert_refused(&out, &format!("{} {backend}", u.name), "Permission denied");
        }
    }
}

/// `--backend auto` picks bwrap here, but bwrap cannot keep a deny rule under /proc: the run
/// falls back to Landlock, which enforces it, rather than refusing.
#[test]
fn auto_falls_back_to_landlock_when_bwrap_cannot_express_the_policy() {
    let _serial = serial();
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let cfg = ws.write(
            u,
            "proc.toml",
            "default_permissions = \"d\"\n[permissions.d.filesystem]\n\":root\" = \"read\"\n\"/proc\" = \"none\"\n",
        );
        let flags = ["--config", cfg.to_str().unwrap()];
        let probe = "head -1 /proc/self/status || echo PROC-DENIED";
        let out = run_in(u, &ws.path, "auto", &flags, &["sh", "-c", probe]);
        assert_ok(&out, &u.name);
        assert_eq!(
            stdout(&out).trim(),
            "PROC-DENIED",
            "{}: {}",
            u.name,
            stderr(&out)
        );
    }
}
