//! Concurrent runs of root and `sbxtest`, under both Linux backends, in shared directories
//! (sticky and world-writable as `/tmp`, or a user's own) whose protected names (`.git`,
//! `.agents`, `.codex`, `.aws`) do not exist: every run makes, mounts over and removes the same
//! placeholders while the others do. Each run must start (CI saw `bwrap: Can't find source
//! path /tmp/.agents` and `Can't remount readonly on /newroot/tmp/.git`: bwrap's plan bound a
//! placeholder that another run removed between two looks, so the launcher did not hold it),
//! none may create a protected name, and the placeholders go with the last runs. A race: before
//! the fix, most runs of this test failed, not all. Private directories rather than /tmp
//! itself, so other tests' runs there are not disturbed.
#![cfg(target_os = "linux")]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::*;

/// Shared writable roots: more placeholder names per run, more chances to collide.
const ROOTS: usize = 4;
/// The protected names the command tries to create.
const NAMES: [&str; 4] = [".git", ".agents", ".codex", ".aws"];
/// How long the runs go on (the test stays under 30 s).
const FOR: Duration = Duration::from_secs(20);

/// `sandbox linux` arguments: workspace-write with the shared roots as extra writable roots
/// (standing in for /tmp; the real /tmp stays out, so other tests' runs there are not
/// disturbed), running `sh -c SCRIPT`.
fn args(roots: &[PathBuf], backend: &str, script: &str) -> Vec<String> {
    let mut args: Vec<String> = ["linux", "--backend", backend, "--full-auto"]
        .map(String::from)
        .to_vec();
    args.extend(["-c", "sandbox_workspace_write.exclude_slash_tmp=true"].map(String::from));
    for r in &roots[1..] {
        args.extend(["--writable-root".into(), r.display().to_string()]);
    }
    args.extend(["--", "sh", "-c", script].map(String::from));
    args
}

/// One user's runs under one backend, until `FOR` has passed: how many, and the failures.
fn hammer(u: &User, backend: &str, roots: &[PathBuf]) -> (usize, Vec<String>) {
    // The command tries to create the protected names: it must never manage.
    let script = roots
        .iter()
        .map(|r| {
            format!(
                "for n in {1}; do mkdir '{0}'/$n 2>/dev/null && echo \"OPEN {0}/$n\"; done; ",
                r.display(),
                NAMES.join(" ")
            )
        })
        .collect::<String>()
        + "true";
    let args = args(roots, backend, &script);
    let start = Instant::now();
    let (mut runs, mut failures) = (0, Vec::new());
    while start.elapsed() < FOR {
        let out = sandbox_cmd(u, &roots[0], &args).output().expect("run sandbox");
        runs += 1;
        if !out.status.success() || stdout(&out).contains("OPEN") {
            failures.push(format!(
                "{} {backend}: {:?}: {}{}",
                u.name,
                out.status,
                stdout(&out),
                stderr(&out).trim()
            ));
        }
    }
    (runs, failures)
}

#[test]
fn users_and_backends_share_missing_protected_names_without_failing() {
    let base = Dir::new(&users()[0], Path::new("/tmp"));
    // Pairs of runs taking turns on their own set of shared roots (with two runs per name,
    // the placeholders keep being made and removed): root and `sbxtest` in sticky
    // directories as /tmp, and each user with both backends in a directory of its own.
    let users = users();
    let other = users.last().unwrap();
    let pairs = [
        [(&users[0], "bwrap"), (other, "landlock")],
        [(&users[0], "landlock"), (other, "bwrap")],
        [(&users[0], "bwrap"), (other, "bwrap")],
        [(&users[0], "bwrap"), (&users[0], "landlock")],
        [(other, "bwrap"), (other, "landlock")],
    ];
    let shared = |pair: usize| -> Vec<PathBuf> {
        (0..ROOTS)
            .map(|i| {
                let p = base.join(&format!("pair{pair}-shared{i}"));
                if std::fs::create_dir(&p).is_ok() {
                    let (u, _) = pairs[pair][0];
                    let mode = if pair < 3 { 0o1777 } else { 0o755 };
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
                    if pair >= 3 && users[0].is_root() {
                        std::os::unix::fs::chown(&p, Some(u.uid), Some(u.gid)).unwrap();
                    }
                }
                p
            })
            .collect()
    };
    let mut jobs = Vec::new();
    for (i, pair) in pairs.iter().enumerate() {
        let roots = shared(i);
        for &(u, backend) in pair {
            // Every run works in the first shared root, as in a workspace under /tmp.
            if linux_backends(u, &roots[0]).contains(&backend) {
                jobs.push((u, backend, roots.clone()));
            }
        }
    }
    let results: Vec<(usize, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(u, b, roots)| s.spawn(|| hammer(u, b, roots)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let runs: usize = results.iter().map(|r| r.0).sum();
    let failures: Vec<&String> = results.iter().flat_map(|r| &r.1).collect();
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // A user's placeholder that another user's run still held when this user's last run
    // ended stays (in a sticky directory no one else may remove it) until this user's next
    // run, which removes it once nobody uses it.
    for (i, pair) in pairs.iter().enumerate() {
        let roots = shared(i);
        for &(u, _) in pair {
            let out = sandbox_cmd(u, &roots[0], &args(&roots, "landlock", "true"))
                .output()
                .unwrap();
            assert_ok(&out, "a last run");
        }
        for r in &roots {
            let left: Vec<_> = std::fs::read_dir(r)
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            assert!(left.is_empty(), "left behind in {}: {left:?}", r.display());
        }
    }
    eprintln!("{runs} runs by {} jobs", jobs.len());
}
