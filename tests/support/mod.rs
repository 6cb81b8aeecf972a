//! Helpers for the end-to-end tests: run the real `sandbox` binary as root and as the
//! unprivileged user `sbxtest`, in workspaces that user owns.
#![allow(dead_code)]

pub mod stop;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The unprivileged test user (created when missing and running as root).
pub const TEST_USER: &str = "sbxtest";
/// Interpreter outside any home directory, usable by every user.
pub const PYTHON: &str = "/usr/bin/python3";
/// A `CODEX_HOME` with no config in it, so no test reads the developer's own config.
pub const NO_CODEX_HOME: &str = "/nonexistent/sandbox-tests-codex-home";

/// Who runs the sandbox.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

impl User {
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }

    /// The user running the tests (commands for it need no `setpriv`).
    pub fn is_current(&self) -> bool {
        self.uid == euid()
    }
}

fn euid() -> u32 {
    // `id -u` keeps this file free of libc.
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("uid")
}

fn lookup(name: &str) -> Option<User> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 || f[0] != name {
            return None;
        }
        Some(User {
            name: name.into(),
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: PathBuf::from(f[5]),
        })
    })
}

/// The users to run each case as: root and `sbxtest` when running as root (creating the
/// user if needed), otherwise the current user only (with a skip notice).
pub fn users() -> &'static [User] {
    static USERS: OnceLock<Vec<User>> = OnceLock::new();
    USERS.get_or_init(|| {
        let uid = euid();
        if uid != 0 {
            eprintln!("notice: not root: skipping the root and `{TEST_USER}` variants");
            let name = std::env::var("USER").unwrap_or_else(|_| "current".into());
            let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/".into()));
            return vec![User {
                name,
                uid,
                gid: uid,
                home,
            }];
        }
        let mut v = vec![lookup("root").expect("root in /etc/passwd")];
        if lookup(TEST_USER).is_none() {
            let _ = Command::new("useradd").args(["-m", TEST_USER]).status();
        }
        match lookup(TEST_USER) {
            Some(u) => v.push(u),
            None => eprintln!("notice: could not create `{TEST_USER}`: skipping that variant"),
        }
        v
    })
}

/// A copy of the binary every user can execute (the build tree may not be reachable).
pub fn sandbox_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // Remove copies left by earlier test processes that are gone.
        if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("sandbox-e2e-bin-") {
                    if !Path::new("/proc").join(pid).exists() {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        let dir = std::env::temp_dir().join(format!("sandbox-e2e-bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let dst = dir.join("sandbox");
        // Copy in a child process: a write fd held here could leak into a concurrently
        // forked child and make exec fail with ETXTBSY.
        let ok = Command::new("cp")
            .arg(env!("CARGO_BIN_EXE_sandbox"))
            .arg(&dst)
            .status()
            .unwrap();
        assert!(ok.success(), "copy the sandbox binary");
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).unwrap();
        dst
    })
}

/// The sandbox binary run by the test runner itself, in its environment except that no
/// developer config is read (`CODEX_HOME` points nowhere).
pub fn sandbox_as_runner() -> Command {
    let mut c = Command::new(sandbox_bin());
    c.env("CODEX_HOME", NO_CODEX_HOME);
    c
}

/// A fresh directory under /tmp owned by `user`, removed on drop.
pub struct Dir {
    pub path: PathBuf,
}

impl Dir {
    pub fn new(user: &User, base: &Path) -> Dir {
        let t = tempfile::Builder::new()
            .prefix("sbx-e2e-")
            .tempdir_in(base)
            .unwrap();
        let path = t.keep().canonicalize().unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        if euid() == 0 {
            std::os::unix::fs::chown(&path, Some(user.uid), Some(user.gid)).unwrap();
        }
        Dir { path }
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.path.join(p)
    }

    /// Writes a file (as the test runner) and gives it to `user`.
    pub fn write(&self, user: &User, rel: &str, content: &str) -> PathBuf {
        let p = self.path.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
            chown_tree(user, &self.path);
        }
        std::fs::write(&p, content).unwrap();
        chown_tree(user, &self.path);
        p
    }
}

fn chown_tree(user: &User, root: &Path) {
    if euid() != 0 {
        return;
    }
    let _ = Command::new("chown")
        .arg("-R")
        .arg(format!("{}:{}", user.uid, user.gid))
        .arg(root)
        .status();
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A `Command` running `program` as `user` (through `setpriv` when that is another user).
pub fn as_user(user: &User, program: impl AsRef<OsStr>) -> Command {
    if user.uid == euid() {
        Command::new(program)
    } else {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", user.uid))
            .arg(format!("--regid={}", user.gid))
            .arg("--init-groups")
            .arg(program);
        c
    }
}

/// Runs `sh -c SCRIPT` as `user` in `cwd` (outside any sandbox) and collects the output.
pub fn shell_as(user: &User, cwd: &Path, script: &str) -> Output {
    as_user(user, "sh")
        .args(["-c", script])
        .current_dir(cwd)
        .output()
        .expect("run sh")
}

/// A `Command` that runs `program` as `user` in `cwd`, with a clean, predictable environment
/// (no TMPDIR, a PATH without home directories, no developer config).
pub fn clean_cmd(user: &User, cwd: &Path, program: impl AsRef<OsStr>) -> Command {
    let mut cmd = as_user(user, program);
    cmd.current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &user.home)
        // Never the developer's own ~/.codex/config.toml (tests that want one set CODEX_HOME).
        .env("CODEX_HOME", NO_CODEX_HOME)
        .env("LANG", "C");
    cmd
}

/// A `Command` that runs `sandbox ARGS…` as `user` in `cwd` (environment as [`clean_cmd`]).
/// Spawning it directly bypasses the turn [`sandbox`] takes: hold [`turn`] around such runs.
pub fn sandbox_cmd<S: AsRef<OsStr>>(user: &User, cwd: &Path, args: &[S]) -> Command {
    let mut cmd = clean_cmd(user, cwd, sandbox_bin());
    cmd.args(args);
    cmd
}

/// This test binary's turn to run sandboxes, so that one case's runs do not see another's
/// placeholders under /tmp (`/tmp/.agents`, …) or host sockets come and go (concurrent runs
/// must cope, and `placeholder_race` checks that they do; the other cases check one thing
/// each). [`sandbox`] takes it for each run; a test that starts the binary another
/// way (through a shell, on a terminal, as a child it signals) holds it for those runs and
/// must not call [`sandbox`] meanwhile.
pub fn turn() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whole test cases one at a time in this test binary, for suites whose cases interleave
/// runs of root and `sbxtest` in ways a per-run [`turn`] does not cover (a host step between
/// two runs). Taken before any [`turn`], never inside one.
pub fn one_case_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE_CASE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_CASE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `sandbox ARGS…` as `user` in `cwd` and collects the output, one run at a time per
/// test binary (see [`turn`]).
pub fn sandbox<S: AsRef<OsStr>>(user: &User, cwd: &Path, args: &[S]) -> Output {
    let _turn = turn();
    sandbox_cmd(user, cwd, args).output().expect("run sandbox")
}

/// `linux --backend BACKEND EXTRA… -- ARGV…`: the arguments of one Linux run.
pub fn linux_args<'a>(backend: &'a str, extra: &[&'a str], argv: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["linux", "--backend", backend];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(argv);
    args
}

/// `sandbox linux --backend BACKEND EXTRA… -- sh -c SCRIPT` as `user` in `cwd`.
pub fn sh(backend: &str, user: &User, cwd: &Path, extra: &[&str], script: &str) -> Output {
    sandbox(
        user,
        cwd,
        &linux_args(backend, extra, &["sh", "-c", script]),
    )
}

/// `sandbox explain ARGS… --op OP PATH` as `user`: whether the oracle allows it (panics on
/// anything but the answers 0 and 1).
pub fn explain_allows(user: &User, cwd: &Path, args: &[&str], op: &str, path: &Path) -> bool {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    let p = path.to_str().unwrap();
    all.extend_from_slice(&["--op", op, p]);
    let o = sandbox(user, cwd, &all);
    match o.status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => panic!("explain {all:?}: {:?}\n{}", o.status, stderr(&o)),
    }
}

/// Panics with the full output unless the run exited 0.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Panics unless `text` contains `needle`, showing the whole text.
pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
}

/// The exit code; panics when the process was killed by a signal.
pub fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {:?}", out.status))
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The Linux backends to test as `user` in `ws`: Landlock always; bwrap when it can run here
/// (`scripts/test` installs it; a host without user namespaces skips it with a notice).
pub fn linux_backends(user: &User, ws: &Path) -> Vec<&'static str> {
    let probe = sandbox_cmd(user, ws, &["linux", "--backend", "bwrap", "--", "true"])
        .output()
        .unwrap();
    if probe.status.success() {
        vec!["landlock", "bwrap"]
    } else {
        eprintln!(
            "notice: bwrap cannot run here as {}: testing Landlock only ({})",
            user.name,
            stderr(&probe).trim()
        );
        vec!["landlock"]
    }
}

/// Every (backend, user) pair a Linux contract case runs as: each of [`users`] with Landlock,
/// and with bwrap where bwrap can run as that user (probed once per test binary).
pub fn linux_cases() -> Vec<(&'static str, &'static User)> {
    static CASES: OnceLock<Vec<(&'static str, &'static User)>> = OnceLock::new();
    CASES
        .get_or_init(|| {
            let mut cases = Vec::new();
            for u in users() {
                let ws = Dir::new(u, Path::new("/tmp"));
                let _turn = turn();
                for backend in linux_backends(u, &ws.path) {
                    cases.push((backend, u));
                }
            }
            cases
        })
        .clone()
}

/// One run of a Linux contract case: a backend, a user, and a fresh workspace under /tmp owned
/// by that user. Displays as `BACKEND as USER`, for failure messages.
pub struct Case {
    pub backend: &'static str,
    pub user: &'static User,
    pub ws: Dir,
}

impl Case {
    /// `sandbox linux --backend BACKEND EXTRA… -- sh -c SCRIPT` in the workspace.
    pub fn sh(&self, extra: &[&str], script: &str) -> Output {
        sh(self.backend, self.user, &self.ws.path, extra, script)
    }

    /// [`Case::sh`], then panics unless the run exited 0 and printed every marker (see
    /// [`assert_markers`]); returns the output for further checks.
    pub fn sh_markers(&self, extra: &[&str], script: &str, markers: &[&str]) -> Output {
        let out = self.sh(extra, script);
        self.assert_ok(&out);
        self.assert_markers(&out, markers);
        out
    }

    /// [`assert_ok`], naming this case.
    pub fn assert_ok(&self, out: &Output) {
        assert_ok(out, &self.to_string());
    }

    /// [`assert_markers`], naming this case.
    pub fn assert_markers(&self, out: &Output, markers: &[&str]) {
        assert_markers(out, &self.to_string(), markers);
    }

    /// `sandbox linux --backend BACKEND EXTRA… -- ARGV…` in the workspace.
    pub fn run(&self, extra: &[&str], argv: &[&str]) -> Output {
        sandbox(
            self.user,
            &self.ws.path,
            &linux_args(self.backend, extra, argv),
        )
    }

    /// `program` as the user in the workspace, environment as [`clean_cmd`] (hold [`turn`]
    /// while it runs a sandbox).
    pub fn cmd(&self, program: impl AsRef<OsStr>) -> Command {
        clean_cmd(self.user, &self.ws.path, program)
    }

    /// [`Case::run`] with extra environment variables (test hooks, `XDG_RUNTIME_DIR`).
    pub fn run_env(&self, extra: &[&str], argv: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = sandbox_cmd(
            self.user,
            &self.ws.path,
            &linux_args(self.backend, extra, argv),
        );
        cmd.envs(env.iter().copied());
        let _turn = turn();
        cmd.output().expect("run sandbox")
    }

    /// `sandbox ARGS…` in the workspace (any subcommand).
    pub fn sandbox(&self, args: &[&str]) -> Output {
        sandbox(self.user, &self.ws.path, args)
    }

    /// Another fresh directory under `base`, owned by the user.
    pub fn dir(&self, base: &str) -> Dir {
        Dir::new(self.user, Path::new(base))
    }

    /// A file `rel` the user owns in a fresh directory under /var/tmp, outside every writable
    /// root (the directory is removed when the returned `Dir` is dropped).
    pub fn outside_file(&self, rel: &str, content: &str) -> (Dir, PathBuf) {
        let dir = self.dir("/var/tmp");
        let file = dir.write(self.user, rel, content);
        (dir, file)
    }

    /// Writes `toml` to a config file the user owns, outside the workspace.
    pub fn config(&self, toml: &str) -> ConfigFile {
        let dir = self.dir("/var/tmp");
        let path = dir.write(self.user, "config.toml", toml);
        ConfigFile {
            path: path.to_str().expect("UTF-8 temp path").to_owned(),
            _dir: dir,
        }
    }

    /// Writes a file in the workspace and gives it to the user.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        self.ws.write(self.user, rel, content)
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.ws.join(rel)
    }
}

/// A config file written by [`Case::config`], removed on drop.
pub struct ConfigFile {
    pub path: String,
    _dir: Dir,
}

impl ConfigFile {
    /// `--config FILE`.
    pub fn args(&self) -> [&str; 2] {
        ["--config", &self.path]
    }
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} as {}", self.backend, self.user.name)
    }
}

/// The case of the first user (root when the tests run as root) with `backend`, if that
/// backend runs here.
pub fn first_case(backend: &str) -> Option<Case> {
    let first = users()[0].uid;
    contract_cases().find(|c| c.backend == backend && c.user.uid == first)
}

/// The cases of one backend (none where it cannot run here).
pub fn backend_cases(backend: &'static str) -> impl Iterator<Item = Case> {
    contract_cases().filter(move |c| c.backend == backend)
}

/// Each of [`linux_cases`] with a fresh workspace (made when the loop reaches it).
pub fn contract_cases() -> impl Iterator<Item = Case> {
    linux_cases().into_iter().map(|(backend, user)| Case {
        backend,
        user,
        ws: Dir::new(user, Path::new("/tmp")),
    })
}

/// Panics unless stdout holds every marker (the `…-DENIED`/`…-OK` lines a script echoes),
/// naming the first one missing, the run (`who`) and the full output.
pub fn assert_markers(out: &Output, who: &str, markers: &[&str]) {
    let so = stdout(out);
    for m in markers {
        assert!(
            so.contains(m),
            "{who}: missing {m} in stdout: {so}\nstderr: {}",
            stderr(out)
        );
    }
}

/// Runs `argv` in `cwd` with a new pseudo-terminal as its controlling terminal and stdio
/// (through Python's `pty`), and returns what it wrote there, once it has exited, followed by
/// a line `STATUS N` (its exit code, negative for a signal).
pub fn on_a_terminal(argv: &[&str], cwd: &Path) -> String {
    on_a_terminal_typing_ctrl_c(argv, cwd, "")
}

/// [`on_a_terminal`], typing Ctrl-C on the terminal once the output shows `after` (waiting
/// up to 20 s for it, then 0.3 s more); an empty `after` types nothing.
pub fn on_a_terminal_typing_ctrl_c(argv: &[&str], cwd: &Path, after: &str) -> String {
    const SCRIPT: &str = r#"
import os, pty, sys, time
after, argv = sys.argv[1].encode(), sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out = b""
if after:
    deadline = time.time() + 20
    while after not in out and time.time() < deadline:
        out += os.read(fd, 4096)
    time.sleep(0.3)
    os.write(fd, b"\x03")
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
print(out.decode(errors="replace"))
print("STATUS", os.waitstatus_to_exitcode(status))
"#;
    let out = Command::new(PYTHON)
        .arg("-c")
        .arg(SCRIPT)
        .arg(after)
        .args(argv)
        .current_dir(cwd)
        .output()
        .expect("run python3 with a pty");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits (at most 20 s) until `path` exists.
pub fn wait_for(path: &std::path::Path) -> bool {
    let start = std::time::Instant::now();
    while !path.exists() {
        if start.elapsed() > std::time::Duration::from_secs(20) {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    true
}
