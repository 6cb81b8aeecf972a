//! End to end: the kernel interfaces a sandboxed command could use to reach past the sandbox
//! or to leave the host weaker after it. Both Linux backends, as root and as `sbxtest`
//! (where an attack needs root, the unprivileged run checks that nothing broke):
//! - `/proc/sys` & co. and `/sys` are read-only, and bwrap gives a UTS namespace of its own;
//! - `/dev` is the small private device set (no host terminals, disks or consoles), with
//!   a working `ptmx` for `openpty()`/`script`;
//! - no set-user-ID or set-group-ID file can be left behind, and running one gains nothing;
//! - nothing the command started outlives `sandbox`;
//! - SIGINT/SIGTERM (and a terminal's Ctrl-C) reach the command's own handler, and a command
//!   killed by signal N makes `sandbox` exit 128+N.
#![cfg(target_os = "linux")]

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{
    as_user, linux_backends, on_a_terminal_typing_ctrl_c, sandbox, sandbox_bin, sandbox_cmd,
    stderr, stdout, users, Dir, User, PYTHON,
};

/// Runs of different users share the placeholder stubs under `/tmp` but not their registry
/// (a documented limitation): the cases here take turns.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `sandbox linux --backend BACKEND FLAGS… -- sh -c SCRIPT` as `user` in `cwd`.
fn sh_in(user: &User, cwd: &Path, backend: &str, flags: &[&str], script: &str) -> Output {
    let mut args = vec!["linux", "--backend", backend];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    sandbox(user, cwd, &args)
}

/// Each preset the cases run under.
const PRESETS: [&[&str]; 2] = [&["--full-auto"], &["-s", "read-only"]];

// ---------------------------------------------------------------------------------------
// Item 1: /proc and /sys

/// Writes back the current value of two host-wide sysctls (changing nothing if it works),
/// tries `hostname`, and lists what under `/proc` (outside the per-process directories) and
/// `/sys` the command may write.
const PROC_SYS_PROBE: &str = r#"
v=$(cat /proc/sys/kernel/hostname)
(echo "$v" > /proc/sys/kernel/hostname) 2>/dev/null && echo WROTE-HOSTNAME-SYSCTL
c=$(cat /proc/sys/kernel/core_pattern)
(printf '%s\n' "$c" > /proc/sys/kernel/core_pattern) 2>/dev/null && echo WROTE-CORE-PATTERN
hostname "$v" 2>/dev/null && echo SET-HOSTNAME
[ -e /proc/sysrq-trigger ] && (: > /proc/sysrq-trigger) 2>/dev/null && echo WROTE-SYSRQ
find /proc -path '/proc/[0-9]*' -prune -o -path /proc/self -prune -o -path /proc/thread-self -prune \
  -o -writable \( -type f -o -type d \) -print 2>/dev/null | sed 's/^/WRITABLE /'
find /sys -writable \( -type f -o -type d \) -print 2>/dev/null | sed 's/^/WRITABLE /'
echo UTS $(readlink /proc/self/ns/uts)
echo DONE
"#;

/// `/proc` entries any process may write by design: PSI triggers (mode 0666, one per open
/// file, nothing host-wide) and the MTRR table (the kernel asks for CAP_SYS_ADMIN).
fn writable_by_design(path: &str) -> bool {
    path.starts_with("/proc/pressure/") || path == "/proc/mtrr"
}

#[test]
fn proc_sys_and_sys_are_read_only_and_bwrap_has_its_own_uts_namespace() {
    let _turn = serial();
    let host_uts = std::fs::read_link("/proc/self/ns/uts").unwrap();
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        for backend in linux_backends(u, &ws.path) {
            for preset in PRESETS {
                let out = sh_in(u, &ws.path, backend, preset, PROC_SYS_PROBE);
                let so = stdout(&out);
                let what = format!("{} {backend} {preset:?}", u.name);
                assert!(so.contains("DONE"), "{what}: {so} {}", stderr(&out));
                for bad in [
                    "WROTE-HOSTNAME-SYSCTL",
                    "WROTE-CORE-PATTERN",
                    "SET-HOSTNAME",
                    "WROTE-SYSRQ",
                ] {
                    assert!(!so.contains(bad), "{what}: {bad} in {so}");
                }
                let writable: Vec<&str> = so
                    .lines()
                    .filter_map(|l| l.strip_prefix("WRITABLE "))
                    .filter(|p| !writable_by_design(p))
                    .collect();
                assert!(writable.is_empty(), "{what}: writable inside: {writable:?}");
                if backend == "bwrap" {
                    let uts = format!("UTS {}", host_uts.display());
                    assert!(
                        !so.contains(&uts),
                        "{what}: shares the host's UTS namespace"
                    );
                }
            }
        }
        // Landlock alone (no mount namespace): Landlock itself refuses the writes.
        let mut cmd = sandbox_cmd(
            u,
            &ws.path,
            &[
                "linux",
                "--backend",
                "landlock",
                "--full-auto",
                "--best-effort",
                "--",
                "sh",
                "-c",
                PROC_SYS_PROBE,
            ],
        );
        cmd.env("SANDBOX_TEST_FORCE_NO_MOUNTNS", "1");
        let so = stdout(&cmd.output().unwrap());
        assert!(so.contains("DONE"), "{}: {so}", u.name);
        for bad in [
            "WROTE-HOSTNAME-SYSCTL",
            "WROTE-CORE-PATTERN",
            "SET-HOSTNAME",
        ] {
            assert!(!so.contains(bad), "{} landlock only: {bad} in {so}", u.name);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Item 4: /dev

/// What a sandbox's `/dev` may hold: bubblewrap's `--dev` set.
const DEV_SET: [&str; 17] = [
    "console",
    "core",
    "fd",
    "full",
    "mqueue",
    "null",
    "ptmx",
    "pts",
    "random",
    "shm",
    "stderr",
    "stdin",
    "stdout",
    "tty",
    "urandom",
    "zero",
    "hugepages",
];

/// Opens a pseudo-terminal as `user` outside any sandbox and keeps it open: the stand-in for
/// the user's other terminal. Returns the process and the terminal's path.
fn other_terminal(user: &User) -> (std::process::Child, String) {
    let mut child = as_user(user, PYTHON)
        .args([
            "-c",
            "import os, sys, time\nm, s = os.openpty()\nprint(os.ttyname(s), flush=True)\ntime.sleep(60)",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_string())
}

#[test]
fn dev_is_the_private_device_set_with_a_working_ptmx() {
    let _turn = serial();
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let (mut holder, tty) = other_terminal(u);
        assert!(tty.starts_with("/dev/pts/"), "{tty}");
        let script = format!(
            "ls -A /dev | sed 's/^/DEV /'; ls -A /dev/pts | sed 's/^/PTS /'
             (exec 3<{tty}) 2>/dev/null && echo OPENED-OTHER-TERMINAL
             script -qc 'echo IN-A-PTY' /dev/null
             {PYTHON} -c 'import os; m, s = os.openpty(); print(\"OPENPTY\", os.ttyname(s))'
             echo x > /dev/null && head -c 1 /dev/urandom >/dev/null && echo DEVICES-OK
             echo DONE"
        );
        for backend in linux_backends(u, &ws.path) {
            for preset in PRESETS {
                let out = sh_in(u, &ws.path, backend, preset, &script);
                let so = stdout(&out);
                let what = format!("{} {backend} {preset:?}", u.name);
                assert!(so.contains("DONE"), "{what}: {so} {}", stderr(&out));
                let extra: Vec<&str> = so
                    .lines()
                    .filter_map(|l| l.strip_prefix("DEV "))
                    .filter(|d| !DEV_SET.contains(d))
                    .collect();
                assert!(extra.is_empty(), "{what}: host devices visible: {extra:?}");
                let pts: Vec<&str> = so.lines().filter_map(|l| l.strip_prefix("PTS ")).collect();
                assert_eq!(pts, ["ptmx"], "{what}: host terminals visible: {so}");
                assert!(
                    !so.contains("OPENED-OTHER-TERMINAL"),
                    "{what}: opened {tty}"
                );
                for want in ["IN-A-PTY", "OPENPTY /dev/pts/", "DEVICES-OK"] {
                    assert!(so.contains(want), "{what}: missing {want} in {so}");
                }
            }
        }
        // Without a mount namespace (accepted with --best-effort for its other gaps) Landlock
        // alone keeps the host /dev out: the standard devices and the caller's terminal only.
        let probe = format!(
            "(exec 3<{tty}) 2>/dev/null && echo OPENED-OTHER-TERMINAL
             for d in /dev/vda /dev/sda /dev/nvme0n1 /dev/tty1 /dev/vcs /dev/loop0 /dev/mem; do
               [ -e $d ] && head -c 1 $d >/dev/null 2>&1 && echo READ-HOST-DEVICE $d
             done
             echo x > /dev/null && head -c 1 /dev/urandom >/dev/null && echo DEVICES-OK
             ls / >/dev/null && cat /etc/hostname >/dev/null && echo READS-OK"
        );
        let mut cmd = sandbox_cmd(
            u,
            &ws.path,
            &[
                "linux",
                "--backend",
                "landlock",
                "-s",
                "read-only",
                "--best-effort",
                "--",
                "sh",
                "-c",
                &probe,
            ],
        );
        cmd.env("SANDBOX_TEST_FORCE_NO_MOUNTNS", "1");
        let out = cmd.output().unwrap();
        let so = stdout(&out);
        let what = format!("{} landlock without a mount namespace", u.name);
        assert!(
            so.contains("DEVICES-OK") && so.contains("READS-OK"),
            "{what}: {so} {}",
            stderr(&out)
        );
        assert!(
            !so.contains("OPENED-OTHER-TERMINAL"),
            "{what}: opened {tty}"
        );
        assert!(!so.contains("READ-HOST-DEVICE"), "{what}: {so}");
        let _ = holder.kill();
        let _ = holder.wait();
    }
}

// ---------------------------------------------------------------------------------------
// Item 5: set-id files

/// Every way the command could try to leave a set-id file (each prints what happened), plus
/// `openat2` (must answer ENOSYS) and a file capability (must be refused).
const SET_ID_ATTACKS: &str = r#"
touch plain && chmod u+s plain 2>/dev/null; chmod g+s plain 2>/dev/null
chmod 4755 plain 2>/dev/null
install -m 4755 /bin/true installed 2>/dev/null
mkdir -m 2755 setgid-dir 2>/dev/null
cp -p "$SRC/suid" copied 2>/dev/null
tar -xpf "$SRC/suid.tar" 2>/dev/null
PYTHON -c '
import ctypes, os, stat, struct
def attempt(name, f):
    try:
        f()
        print(name, "DONE")
    except OSError as e:
        print(name, "REFUSED", e.errno)
attempt("open", lambda: os.close(os.open("py-open", os.O_CREAT | os.O_WRONLY, 0o4755)))
attempt("open-sgid", lambda: os.close(os.open("py-open-g", os.O_CREAT | os.O_WRONLY, 0o2755)))
attempt("mknod", lambda: os.mknod("py-mknod", stat.S_IFREG | 0o4755))
attempt("mkdir", lambda: os.mkdir("py-dir", 0o4755))
open("py-plain", "w").close()
attempt("fchmod", lambda: os.chmod(os.open("py-plain", os.O_RDONLY), 0o4755))
attempt("chmod", lambda: os.chmod("py-plain", 0o6755))
attempt("chmod-high-bits", lambda: os.chmod("py-plain", 0o4755 | 0o1000000))
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
how = struct.pack("QQQ", os.O_CREAT | os.O_WRONLY, 0o4755, 0)
r = libc.syscall(ctypes.c_long(437), ctypes.c_int(-100), b"py-openat2", how, ctypes.c_size_t(24))
print("openat2", "DONE" if r >= 0 else "REFUSED %d" % ctypes.get_errno())
cap = struct.pack("<IIIII", 0x02000001, 1 << 21, 0, 0, 0)
attempt("setxattr-capability", lambda: os.setxattr("py-plain", "security.capability", cap))
'
grep NoNewPrivs /proc/self/status
echo DONE
"#;

/// Set-id files below `dir`, as `find` lists them.
fn set_id_files(dir: &Path) -> String {
    let out = Command::new("find")
        .arg(dir)
        .args(["-perm", "/6000", "-o", "-type", "f", "-perm", "/6000"])
        .output()
        .unwrap();
    stdout(&out)
}

#[test]
fn no_set_id_file_can_be_left_behind() {
    let _turn = serial();
    for u in users() {
        // A set-user-ID file and an archive holding one, outside the workspace.
        let src = Dir::new(&users()[0], Path::new("/tmp"));
        let suid = src.join("suid");
        std::fs::copy("/bin/true", &suid).unwrap();
        std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755)).unwrap();
        let tar = Command::new("tar")
            .args(["-cf", "suid.tar", "suid"])
            .current_dir(&src.path)
            .status()
            .unwrap();
        assert!(tar.success());
        let script = SET_ID_ATTACKS
            .replace("$SRC", src.path.to_str().unwrap())
            .replace("PYTHON", PYTHON);
        for backend in linux_backends(u, Path::new("/tmp")) {
            let ws = Dir::new(u, Path::new("/tmp"));
            let out = sh_in(u, &ws.path, backend, &["--full-auto"], &script);
            let so = stdout(&out);
            let what = format!("{} {backend}", u.name);
            assert!(so.contains("DONE\n"), "{what}: {so} {}", stderr(&out));
            assert!(so.contains("NoNewPrivs:\t1"), "{what}: {so}");
            // What the kernel would have allowed anyway is decided by the mode bits alone;
            // the filter makes every one of these fail, root or not.
            for call in [
                "open",
                "open-sgid",
                "mknod",
                "mkdir",
                "fchmod",
                "chmod",
                "chmod-high-bits",
            ] {
                assert!(
                    so.lines().any(|l| l == format!("{call} REFUSED 1")),
                    "{what}: {call} not refused: {so}"
                );
            }
            assert!(
                so.lines().any(|l| l == "openat2 REFUSED 38"),
                "{what}: {so}"
            );
            assert!(
                so.lines().any(|l| l == "setxattr-capability REFUSED 1"),
                "{what}: {so}"
            );
            let left = set_id_files(&ws.path);
            assert!(left.trim().is_empty(), "{what}: set-id files left: {left}");
        }
    }
}

/// A set-user-ID root program run inside the sandbox by an unprivileged user gains nothing.
#[test]
fn running_a_set_uid_program_inside_gains_nothing() {
    let _turn = serial();
    let Some(u) = users().iter().find(|u| !u.is_root()) else {
        eprintln!("notice: no unprivileged user: nothing to test");
        return;
    };
    if !users()[0].is_root() {
        return;
    }
    let src = Dir::new(&users()[0], Path::new("/tmp"));
    let id = src.join("id");
    std::fs::copy("/usr/bin/id", &id).unwrap();
    std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o4755)).unwrap();
    // Control: outside the sandbox the program runs as root.
    let bare = support::shell_as(u, &src.path, &format!("{} -u", id.display()));
    let bare_uid = stdout(&bare).trim().to_string();
    let ws = Dir::new(u, Path::new("/tmp"));
    for backend in linux_backends(u, &ws.path) {
        let out = sh_in(
            u,
            &ws.path,
            backend,
            &["--full-auto"],
            &format!("{} -u", id.display()),
        );
        assert_eq!(
            stdout(&out).trim(),
            u.uid.to_string(),
            "{backend}: (outside: {bare_uid}) {}",
            stderr(&out)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Item 8: nothing outlives the run

#[test]
fn nothing_the_command_started_outlives_sandbox() {
    let _turn = serial();
    // The leftover holds stdout: if it survived, `output()` would wait for it and get LATE.
    let script = "(sleep 3; echo LATE) & echo STARTED";
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        for backend in linux_backends(u, &ws.path) {
            for preset in PRESETS {
                let what = format!("{} {backend} {preset:?}", u.name);
                let start = Instant::now();
                let out = sh_in(u, &ws.path, backend, preset, script);
                let so = stdout(&out);
                assert!(so.contains("STARTED"), "{what}: {so} {}", stderr(&out));
                assert!(
                    !so.contains("LATE"),
                    "{what}: a leftover process outlived the run"
                );
                assert!(
                    start.elapsed() < Duration::from_secs(3),
                    "{what}: waited for the leftover"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Item 9: signals and exit status

/// Traps SIGINT and SIGTERM, says READY, and exits 3 from the handler.
const TRAPPING: &str = "trap 'echo TRAPPED; exit 3' INT TERM; echo READY; \
                        i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; echo TIMEOUT";

#[test]
fn signals_to_sandbox_reach_the_commands_handler() {
    let _turn = serial();
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        for backend in linux_backends(u, &ws.path) {
            for preset in PRESETS {
                for sig in ["INT", "TERM"] {
                    let what = format!("{} {backend} {preset:?} SIG{sig}", u.name);
                    let mut args = vec!["linux", "--backend", backend];
                    args.extend_from_slice(preset);
                    args.extend_from_slice(&["--", "sh", "-c", TRAPPING]);
                    let mut child = sandbox_cmd(u, &ws.path, &args)
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap();
                    let mut reader = BufReader::new(child.stdout.take().unwrap());
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    assert_eq!(line.trim(), "READY", "{what}");
                    let kill = Command::new("kill")
                        .arg(format!("-{sig}"))
                        .arg(child.id().to_string())
                        .status()
                        .unwrap();
                    assert!(kill.success());
                    let mut rest = String::new();
                    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
                    let status = child.wait().unwrap();
                    assert!(
                        rest.contains("TRAPPED"),
                        "{what}: handler did not run: {rest:?}"
                    );
                    assert_eq!(status.code(), Some(3), "{what}: {status:?}");
                }
            }
        }
    }
}

#[test]
fn a_command_killed_by_signal_n_exits_128_plus_n() {
    let _turn = serial();
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        for backend in linux_backends(u, &ws.path) {
            for preset in PRESETS {
                let what = format!("{} {backend} {preset:?}", u.name);
                let out = sh_in(u, &ws.path, backend, preset, "kill -TERM $$");
                assert_eq!(out.status.code(), Some(143), "{what}: {:?}", out.status);
                let out = sh_in(u, &ws.path, backend, preset, "kill -INT $$");
                assert_eq!(out.status.code(), Some(130), "{what}: {:?}", out.status);
            }
        }
    }
}

/// Ctrl-C typed on a real terminal: the command's handler runs and its status comes back.
#[test]
fn ctrl_c_on_a_terminal_reaches_the_commands_handler() {
    let _turn = serial();
    // `sandbox` runs on a new pty; Ctrl-C is typed once it printed READY.
    let bin = sandbox_bin().to_str().unwrap();
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let ids = [format!("--reuid={}", u.uid), format!("--regid={}", u.gid)];
        for backend in linux_backends(u, &ws.path) {
            for preset in PRESETS {
                let what = format!("{} {backend} {preset:?}", u.name);
                let mut argv: Vec<&str> = Vec::new();
                // As another user only: a non-root runner cannot setpriv to itself
                // (--init-groups needs privilege), and needs no switch anyway.
                if !u.is_current() {
                    argv.extend(["/usr/bin/setpriv", &ids[0], &ids[1], "--init-groups"]);
                }
                argv.extend([bin, "linux", "--backend", backend]);
                argv.extend_from_slice(preset);
                argv.extend(["--", "sh", "-c", TRAPPING]);
                let so = on_a_terminal_typing_ctrl_c(&argv, &ws.path, "READY");
                assert!(so.contains("TRAPPED"), "{what}: handler did not run: {so}");
                assert!(so.contains("STATUS 3"), "{what}: {so}");
            }
        }
    }
}
