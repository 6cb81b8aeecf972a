//! Stopping a running sandbox from outside, as a supervisor (`timeout`, an agent runtime)
//! does: a signal to the launcher, then checks that nothing was left running.

use std::path::Path;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

/// Sends `sig` to `child` the moment `started` exists (the launcher has begun making the
/// sandbox: the earliest point where a lost signal or a leftover placeholder is possible),
/// and waits for it to exit. Panics when `started` never appears or the child outlives the
/// signal by 20 s (it is then killed). Returns the exit status.
pub fn signal_once_started(child: &mut Child, started: &Path, sig: i32) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !started.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    assert!(started.exists(), "the sandbox did not start");
    // Directly, not through `kill(1)`, whose start-up would give the launcher a millisecond.
    // SAFETY: kill(2) on our own unreaped child.
    let sent = unsafe { kill(child.id() as i32, sig) };
    assert_eq!(sent, 0, "kill: {}", std::io::Error::last_os_error());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("signal {sig} was lost: the sandbox still ran 20 s later");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether a process whose command line contains `marker` still runs 3 s from now. Tests that
/// run in parallel must use markers that do not contain one another.
pub fn still_running(marker: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let found = std::fs::read_dir("/proc").unwrap().any(|e| {
            let path = e.unwrap().path().join("cmdline");
            std::fs::read(path).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c).replace('\0', " ");
                c.contains(marker) && !c.contains("cargo")
            })
        });
        if !found || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `argv` in `cwd` on a new pseudo-terminal (through Python's `pty`), types Ctrl-C once
/// `started` exists, and returns the exit code, or an error text when it did not end within
/// 20 s. The terminal, not a process, sends that SIGINT, to its whole foreground group.
pub fn ctrl_c_on_a_terminal(argv: &[&str], cwd: &Path, started: &Path) -> Result<i32, String> {
    const SCRIPT: &str = r#"
import os, pty, sys, time
started, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
os.set_blocking(fd, False)
deadline = time.time() + 10
while not os.path.exists(started) and time.time() < deadline:
    time.sleep(0.005)
os.write(fd, b"\x03")
deadline = time.time() + 20
while time.time() < deadline:
    try:
        os.read(fd, 4096)  # keep the terminal drained
    except OSError:
        pass
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        print(os.waitstatus_to_exitcode(status))
        sys.exit(0)
    time.sleep(0.01)
os.kill(pid, 9)
print("timeout")
"#;
    let out = std::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(started)
        .args(argv)
        .current_dir(cwd)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    text.parse()
        .map_err(|_| format!("{text} {}", String::from_utf8_lossy(&out.stderr)))
}

/// How many rounds [`stop_round`] is run for: the first eight signal at the placeholder, the
/// rest once the command runs.
pub const STOP_ROUNDS: usize = 10;

/// One round of the stop case in workspace `ws`: `spawn` starts `sandbox … --full-auto --`
/// with the command it is given. Rounds alternate SIGTERM (as `timeout` sends it) and SIGINT
/// (as a supervisor sends it with kill(2)); rounds below 8 signal the moment the placeholder
/// for `.agents` appears (the launcher is still starting), later ones once the command runs.
/// Checks the run ends with `128+N`, no placeholder is left and no process outlives it.
pub fn stop_round(
    round: usize,
    ws: &Path,
    spawn: impl FnOnce(&[&str]) -> Child,
) -> Result<(), String> {
    let marker = format!("29.{}{round}", std::process::id());
    let script = format!("touch ran && exec sleep {marker}");
    let mut child = spawn(&["sh", "-c", &script]);
    let sig = [SIGTERM, SIGINT][round % 2];
    let started = ws.join(if round < 8 { ".agents" } else { "ran" });
    let status = signal_once_started(&mut child, &started, sig);
    if status.code() != Some(128 + sig) {
        return Err(format!("round {round}: signal {sig} gave {status:?}"));
    }
    if ws.join(".agents").exists() {
        return Err(format!(
            "round {round}: placeholder left behind after signal {sig}"
        ));
    }
    if still_running(&marker) {
        return Err(format!("round {round}: the command outlived the sandbox"));
    }
    Ok(())
}
