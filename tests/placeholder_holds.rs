//! Mount points inside a writable root that a run makes or shares with other runs
//! (placeholders for missing protected or denied names, and the directories leading to them)
//! must stay where the command cannot move or free them: each is a mount point of its own
//! and held by every run that mounts over it ([`sandbox_linux::placeholder`]'s protocol), so no
//! run removes one that another live sandbox still has a mount on. Found by a red-team review.
#![cfg(target_os = "linux")]

mod support;

use std::os::unix::fs::PermissionsExt;
use support::*;

/// `":root" = "read"`, the workspace writable, and two rules below a directory `a`/`c` that
/// does not exist.
const MISSING_PARENTS: &str = r#"
default_permissions = "t"
[permissions.t.filesystem]
":root" = "read"
":project_roots" = { "." = "write", "a/b" = "deny", "c/d" = "read" }
"#;

/// bwrap makes a rule's missing parent directory (`a` of `"a/b" = "deny"`) for the run. It
/// must be a mount point, as the directories leading to an existing rule's path are: before,
/// the command renamed it away (carrying the mask along) and created the denied path (and the
/// read-only one) in its place, writable.
#[test]
fn a_rules_missing_parent_cannot_be_renamed_away() {
    for c in backend_cases("bwrap") {
        let cfg = c.config(MISSING_PARENTS);
        let script = "mv a z 2>/dev/null && echo MOVED-A; mv c y 2>/dev/null && echo MOVED-C; \
                      mkdir -p a/b c/d 2>/dev/null; \
                      echo x > a/b/f 2>/dev/null && echo WROTE-DENIED; \
                      echo x > c/d/f 2>/dev/null && echo WROTE-READ; \
                      test -d a && test -d c && echo SEEN";
        let out = c.sh_markers(&cfg.args(), script, &["SEEN"]);
        let so = stdout(&out);
        for bad in ["MOVED-A", "MOVED-C", "WROTE-DENIED", "WROTE-READ"] {
            assert!(!so.contains(bad), "{c}: {bad}\n{so}\n{}", stderr(&out));
        }
        // The directories made for the run are gone with it.
        let left: Vec<_> = std::fs::read_dir(&c.ws.path)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{c}: left {left:?}");
    }
}

/// Shell words that wait (at most 20 s) until `name` exists.
fn wait_in_sh(name: &str) -> String {
    format!("i=0; while [ ! -e {name} ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done")
}

/// One user's run makes a placeholder for the missing `name` (a rule in `toml`) in a shared
/// sticky workspace; while it runs, the other user's run with the same policy starts and finds
/// an (empty) directory there, mounts over it, and waits until the first run has ended; then
/// its command tries to write `name/f`. The first run removes its placeholder only if nobody
/// holds it: the second run must hold every directory it mounts over inside a writable root
/// (the test turns the look at other mount namespaces off, so only the lock keeps it).
/// `root_second`: root's run is the second (else `sbxtest`'s). Root's bwrap run is never the
/// second: bwrap refuses to mount over another user's entry in a sticky directory, which its
/// owner could swap for a link while bwrap mounts it (`bwrap::swappable`). Before, the
/// bwrap plan held such a directory only when protected or masked, and the Landlock backend
/// did not hold a masked one: the placeholder went, the mount over it with it, and the
/// command created and wrote the read-only or denied path. (Runs now also look at every
/// process's mount table before removing a placeholder; the test turns that look off, so it
/// shows what the locks alone do.)
fn another_users_placeholder_stays_under_the_mount(
    first_backend: &'static str,
    second_backend: &'static str,
    root_second: bool,
    toml: &str,
    name: &str,
) {
    let users = users();
    let [root, other] = users else {
        eprintln!("SKIP: needs root and `{TEST_USER}`");
        return;
    };
    let (first_user, second_user) = if root_second {
        (other, root)
    } else {
        (root, other)
    };
    let _turn = turn();
    for (u, b) in [(second_user, second_backend), (first_user, first_backend)] {
        let probe = Dir::new(u, std::path::Path::new("/tmp"));
        if !linux_backends(u, &probe.path).contains(&b) {
            eprintln!("SKIP: {b} cannot run as {}", u.name);
            return;
        }
    }
    // Writable by both (root's command has no capabilities to write `sbxtest`'s directory),
    // root's and sticky like `/tmp`.
    let ws = Dir::new(root, std::path::Path::new("/tmp"));
    std::fs::set_permissions(&ws.path, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let cfg_dir = Dir::new(other, std::path::Path::new("/var/tmp"));
    let cfg = cfg_dir.write(other, "config.toml", toml);
    let cfg = cfg.to_str().unwrap();
    let run = |u: &User, backend: &str, script: &str| {
        sandbox_cmd(
            u,
            &ws.path,
            &[
                "linux",
                "--backend",
                backend,
                "--config",
                cfg,
                "--",
                "sh",
                "-c",
                script,
            ],
        )
        // The locks alone (the release's look at the other namespaces would see root's
        // mount too, where `/proc` is not mounted `hidepid`).
        .env("SANDBOX_TEST_NO_MOUNT_LOOK", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sandbox")
    };
    let first = run(
        first_user,
        first_backend,
        &format!("touch first-up; {}", wait_in_sh("second-up")),
    );
    assert!(
        wait_for(&ws.join("first-up")),
        "the first run did not start"
    );
    let second = run(
        second_user,
        second_backend,
        &format!(
            "touch second-up; {}; \
             mkdir {name} 2>/dev/null; echo x > {name}/f 2>/dev/null && echo WROTE; true",
            wait_in_sh("first-done")
        ),
    );
    let first = first.wait_with_output().unwrap();
    assert_ok(&first, "the first run");
    std::fs::write(ws.join("first-done"), "").unwrap();
    let second = second.wait_with_output().unwrap();
    assert_ok(&second, "the second run");
    let who = format!(
        "{first_backend} as {} then {second_backend} as {}",
        first_user.name, second_user.name
    );
    assert!(
        !stdout(&second).contains("WROTE") && !ws.join(name).join("f").exists(),
        "{who}: the command wrote {name}/f\n{}",
        stderr(&second)
    );
}

/// bwrap binds an existing directory at a read rule's path read-only; it may be another
/// run's placeholder.
#[test]
fn bwrap_holds_a_read_only_directory_that_may_be_another_runs_placeholder() {
    const READ: &str = r#"
default_permissions = "t"
[permissions.t.filesystem]
":root" = "read"
":project_roots" = { "." = "write", "r" = "read" }
"#;
    another_users_placeholder_stays_under_the_mount("landlock", "bwrap", false, READ, "r");
}

/// The Landlock backend masks an existing directory at a deny rule's path; it may be another
/// run's placeholder.
#[test]
fn landlock_holds_a_masked_directory_that_may_be_another_runs_placeholder() {
    const DENY: &str = r#"
default_permissions = "t"
[permissions.t.filesystem]
":root" = "read"
":project_roots" = { "." = "write", "d" = "deny" }
"#;
    another_users_placeholder_stays_under_the_mount("bwrap", "landlock", true, DENY, "d");
}

/// The command's survivor (a process it started, still running after `sandbox` was killed
/// with SIGKILL, which only the Landlock backend leaves) that made itself non-dumpable. A
/// non-dumpable process's `/proc/PID/ns/mnt` is unreadable to other processes of its user
/// unless they hold `CAP_SYS_PTRACE` over its memory's user namespace; the survivor's is the
/// one the launch made, which its user owns, so a later run of that user still sees the
/// mount it has over the workspace's `.git` placeholder and leaves the placeholder (the
/// release skips processes whose namespace it cannot read as other users'). Were the command
/// ever run outside a user namespace of its own (as a non-root user), this would fail: the
/// survivor would create `.git` once the later run removed it.
#[test]
fn a_non_dumpable_survivor_keeps_its_placeholder() {
    let script = survivor("ctypes.CDLL(None).prctl(4, 0)  # PR_SET_DUMPABLE: 0");
    let u = users().last().unwrap();
    if u.is_root() {
        eprintln!("SKIP: needs a user other than root (root reads every namespace)");
        return;
    }
    let _turn = turn();
    let ws = Dir::new(u, std::path::Path::new("/tmp"));
    if !linux_backends(u, &ws.path).contains(&"landlock") {
        eprintln!("SKIP: Landlock cannot run as {}", u.name);
        return;
    }
    let args = |argv: &[&str]| {
        let mut a = vec!["linux", "--backend", "landlock", "--full-auto", "--"];
        a.extend_from_slice(argv);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let mut first = sandbox_cmd(u, &ws.path, &args(&[PYTHON, "-c", &script]))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn sandbox");
    assert!(
        wait_for(&ws.join("survivor-up")),
        "the command did not start"
    );
    first.kill().unwrap();
    let _ = first.wait();
    let later = sandbox_cmd(u, &ws.path, &args(&["true"])).output().unwrap();
    assert_ok(&later, "the later run");
    std::fs::write(ws.join("go"), "").unwrap();
    assert!(wait_for(&ws.join("result")), "the survivor did not answer");
    let result = std::fs::read_to_string(ws.join("result")).unwrap();
    // The survivor is gone now: a run removes the placeholder.
    let last = sandbox_cmd(u, &ws.path, &args(&["true"])).output().unwrap();
    assert_ok(&last, "the last run");
    assert!(result.starts_with("BLOCKED"), "the survivor: {result}");
    assert!(
        !ws.join(".git").exists(),
        "the placeholder stayed after the survivor"
    );
}

/// Root's command survives its `sandbox` (killed with SIGKILL; Landlock) under its mount over
/// `.git`, a placeholder that a run of `sbxtest` made in a workspace both use. When that run
/// ends, nobody holds the lock any more; its user cannot read root's `/proc/PID/ns/mnt`, but it
/// can read root's `mountinfo`, and must, to see the mount and leave `.git`. Before, it
/// removed `.git`, the mount over it went, and root's command created `.git`.
#[test]
fn another_users_survivor_keeps_the_placeholder_it_is_under() {
    let script = survivor("pass");
    let users = users();
    let [root, other] = users else {
        eprintln!("SKIP: needs root and `{TEST_USER}`");
        return;
    };
    let _turn = turn();
    let ws = Dir::new(other, std::path::Path::new("/tmp"));
    std::fs::set_permissions(&ws.path, std::fs::Permissions::from_mode(0o777)).unwrap();
    if !linux_backends(other, &ws.path).contains(&"landlock") {
        eprintln!("SKIP: Landlock cannot run as {}", other.name);
        return;
    }
    let args = |argv: &[&str]| {
        let mut a = vec!["linux", "--backend", "landlock", "--full-auto", "--"];
        a.extend_from_slice(argv);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let wait_go = format!("touch first-up; {}", wait_in_sh("first-go"));
    let first = sandbox_cmd(other, &ws.path, &args(&["sh", "-c", &wait_go]))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn sandbox");
    assert!(
        wait_for(&ws.join("first-up")),
        "the first run did not start"
    );
    let mut root_run = sandbox_cmd(root, &ws.path, &args(&[PYTHON, "-c", &script]))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn sandbox");
    assert!(
        wait_for(&ws.join("survivor-up")),
        "root's command did not start"
    );
    root_run.kill().unwrap();
    let _ = root_run.wait();
    std::fs::write(ws.join("first-go"), "").unwrap();
    let first = first.wait_with_output().unwrap();
    assert_ok(&first, "the first run");
    std::fs::write(ws.join("go"), "").unwrap();
    assert!(wait_for(&ws.join("result")), "the survivor did not answer");
    let result = std::fs::read_to_string(ws.join("result")).unwrap();
    // The survivor is gone now: a run of the placeholder's user removes it.
    let last = sandbox_cmd(other, &ws.path, &args(&["true"]))
        .output()
        .unwrap();
    assert_ok(&last, "the last run");
    assert!(result.starts_with("BLOCKED"), "root's survivor: {result}");
    assert!(
        !ws.join(".git").exists(),
        "the placeholder stayed after the survivor"
    );
}

/// A Python command that leaves a child behind: the child runs `setup`, says `survivor-up`,
/// waits for `go`, then tries to create `.git/hooks` and writes `CREATED` or `BLOCKED …` to
/// `result`; the parent sleeps until killed.
fn survivor(setup: &str) -> String {
    format!(
        r#"
import ctypes, os, time
if os.fork() == 0:
    {setup}
    open("survivor-up", "w").close()
    for _ in range(400):
        if os.path.exists("go"):
            break
        time.sleep(0.05)
    try:
        os.mkdir(".git")
        os.mkdir(".git/hooks")
        what = "CREATED"
    except OSError as e:
        what = "BLOCKED " + str(e)
    with open("result.tmp", "w") as f:
        f.write(what)
    os.rename("result.tmp", "result")
    os._exit(0)
time.sleep(60)
"#
    )
}
