//! The embedding example (`crates/cli/examples/embed.rs`) runs `sh -c` through the
//! cross-platform library API under each Linux backend; this checks what it reports, which
//! it reads from the filesystem after the run: the write inside the workspace exists, the one
//! beside it does not.

#![cfg(target_os = "linux")]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use support::User;

/// `target/debug/examples/embed`: `cargo test` builds examples only when run unfiltered, so
/// this builds it (a no-op when it is current).
fn example() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "sandbox-cli",
                "--example",
                "embed",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building the embed example failed");
    });
    let mut p = std::env::current_exe().unwrap();
    p.pop();
    if p.ends_with("deps") {
        p.pop();
    }
    p.join("examples/embed")
}

/// A copy of the example every user can execute (the build tree may not be reachable).
fn example_for_all() -> PathBuf {
    static COPY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    COPY.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sandbox-e2e-embed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let dst = dir.join("embed");
        let ok = Command::new("cp")
            .arg(example())
            .arg(&dst)
            .status()
            .unwrap();
        assert!(ok.success(), "copy the embed example");
        dst
    })
    .clone()
}

/// The cases take turns: some bind and remove host sockets, and a socket removed while
/// another case's bwrap starts can make that bwrap fail (README, Known limits).
fn turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn run(backend: &str) -> String {
    run_as(&support::users()[0], backend)
}

fn run_as(user: &User, backend: &str) -> String {
    let out = support::as_user(user, example_for_all())
        .arg(backend)
        .current_dir("/")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{backend}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn every_linux_backend_runs_sh_through_the_library() {
    let _turn = turn();
    for (user, backend) in support::users()
        .iter()
        .flat_map(|u| ["bwrap", "landlock", "auto"].map(|b| (u, b)))
    {
        let text = run_as(user, backend);
        let backend = backend.to_string();
        let backend = backend.as_str();
        assert!(
            !text.contains("refused"),
            "{backend} is refused on this host: {text}"
        );
        let line = text.lines().next().unwrap_or_default();
        assert!(
            line.contains("status=0")
                && line.contains("wrote-inside=true")
                && line.contains("wrote-outside=false"),
            "{backend}: {text}"
        );
        assert!(
            text.contains("wrote-inside")
                && text.contains("outside-denied")
                && text.contains("seccomp-on"),
            "{backend}: {text}"
        );
        if backend != "auto" {
            assert!(line.contains(&format!("backend={backend}")), "{text}");
        }
    }
}

#[test]
fn the_example_names_the_backend_auto_chose() {
    let _turn = turn();
    let text = run("auto");
    assert!(
        text.starts_with("auto: backend=bwrap") || text.starts_with("auto: backend=landlock"),
        "{text}"
    );
}

/// A scratch tree `ROOT/ws` (the workspace, with a `.git`) and a sandbox for it through the
/// library, `workspace-write` without `/tmp`, so the rest of `ROOT` is read-only.
fn scratch_sandbox(backend: sandbox::Backend) -> (tempfile::TempDir, PathBuf, sandbox::Sandbox) {
    use sandbox::{Options, Policy, PolicyBuilder, Preset, Sandbox};
    let t = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(t.path()).unwrap();
    let ws = root.join("ws");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    let policy =
        PolicyBuilder::from_policy(Policy::preset_with(Preset::WorkspaceWrite, true, true))
            .cwd(&ws)
            .build()
            .unwrap();
    let sb = Sandbox::new(&policy, Options::with_backend(backend)).unwrap();
    (t, root, sb)
}

/// A sandbox is made once and used for many commands: a host socket bound after `new` (an
/// agent's own IPC socket, an ssh-agent started later) must be closed for the next command
/// as one bound before it is (the oracle closes both).
#[test]
fn a_host_socket_bound_after_construction_is_closed_too() {
    let _turn = turn();
    for backend in [sandbox::Backend::Bwrap, sandbox::Backend::Landlock] {
        let (_t, root, sb) = scratch_sandbox(backend);
        let sock = root.join("late.sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let (mut cmd, applied) = sb.command("sh").unwrap();
        cmd.arg("-c")
            .arg(format!(
                "[ -S '{}' ] && echo SOCKET-REACHABLE || echo closed",
                sock.display()
            ))
            .current_dir(root.join("ws"));
        let out = cmd.output().unwrap();
        applied.finish(out.status).unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.trim(),
            "closed",
            "{backend:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `let (cmd, _) = sandbox.command(..)` drops the `Applied` before the spawn; the fds the
/// child places for bwrap must still be the plan's, not whatever the host program opened
/// at the freed numbers meanwhile (here: a directory outside the workspace, which bwrap
/// would otherwise bind writable as the workspace).
#[test]
fn dropping_applied_before_spawn_does_not_hand_bwrap_other_fds() {
    let _turn = turn();
    let (_t, root, sb) = scratch_sandbox(sandbox::Backend::Bwrap);
    let other = root.join("other");
    std::fs::create_dir(&other).unwrap();
    let (mut cmd, _) = sb.command("sh").unwrap();
    cmd.arg("-c")
        .arg("echo x > mine.txt && echo wrote-inside")
        .current_dir(root.join("ws"));
    let _reused: Vec<std::fs::File> = (0..8)
        .map(|_| std::fs::File::open(&other).unwrap())
        .collect();
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("wrote-inside"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(root.join("ws/mine.txt").exists());
    assert_eq!(
        std::fs::read_dir(&other).unwrap().count(),
        0,
        "bwrap wrote into {}",
        other.display()
    );
}

/// Each denied file is one plan fd (`--ro-bind-data`): a deny glob matching many files must
/// not make the embedded bwrap command fail where the CLI runs (the child places every fd,
/// not a fixed number of them).
#[test]
fn many_denied_files_still_run_under_embedded_bwrap() {
    let _turn = turn();
    use sandbox::{Options, Policy, PolicyBuilder, Preset, Sandbox};
    let t = tempfile::tempdir().unwrap();
    let ws = std::fs::canonicalize(t.path()).unwrap().join("ws");
    std::fs::create_dir_all(ws.join("keys")).unwrap();
    for i in 0..80 {
        std::fs::write(ws.join(format!("keys/k{i}.pem")), "SECRET").unwrap();
    }
    let policy =
        PolicyBuilder::from_policy(Policy::preset_with(Preset::WorkspaceWrite, true, true))
            .cwd(&ws)
            .deny_read(format!("{}/keys/*.pem", ws.display()))
            .build()
            .unwrap();
    let sb = Sandbox::new(&policy, Options::with_backend(sandbox::Backend::Bwrap)).unwrap();
    let (mut cmd, applied) = sb.command("sh").unwrap();
    cmd.arg("-c")
        .arg("cat keys/k0.pem keys/k79.pem 2>/dev/null; echo ran");
    let out = cmd.output().unwrap();
    applied.finish(out.status).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        "ran",
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The other half: a host socket that existed at construction and is gone when the command
/// starts must not be masked any more (bwrap cannot make a mount point for it in a read-only
/// directory and exits 1 before the command runs, every time).
#[test]
fn a_host_socket_removed_after_construction_does_not_fail_later_commands() {
    let _turn = turn();
    for backend in [sandbox::Backend::Bwrap, sandbox::Backend::Landlock] {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        let sock = root.join("gone.sock");
        let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let ws = root.join("ws");
        std::fs::create_dir(&ws).unwrap();
        let policy = sandbox::PolicyBuilder::from_policy(sandbox::Policy::preset_with(
            sandbox::Preset::WorkspaceWrite,
            true,
            true,
        ))
        .cwd(&ws)
        .build()
        .unwrap();
        let sb = sandbox::Sandbox::new(&policy, sandbox::Options::with_backend(backend)).unwrap();
        drop(l);
        std::fs::remove_file(&sock).unwrap();
        let (mut cmd, applied) = sb.command("sh").unwrap();
        cmd.arg("-c").arg("echo ran");
        let out = cmd.output().unwrap();
        applied.finish(out.status).unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ran"),
            "{backend:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
