//! A concurrent process swaps the workspace directory with a symbolic link to a directory
//! outside every writable root (`renameat2(RENAME_EXCHANGE)`, in a loop) while `sandbox` is
//! launched again and again with that workspace as `-C`, as a second sandboxed run sharing
//! `/tmp` could. Each launch must either refuse (125) or make only the real workspace
//! writable: the link's target must never be written. Both Linux backends, as root and as
//! `sbxtest`. The race is timing-dependent: before the fix about 1 launch in 75 wrote the
//! target, so a bounded loop catches a regression often, not always.
#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// Swaps `a` and `b` with `renameat2(RENAME_EXCHANGE)` until killed.
const SWAPPER: &str = r#"
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = sys.argv[1].encode(), sys.argv[2].encode()
AT_FDCWD, RENAME_EXCHANGE = -100, 2
open(sys.argv[3], "w").close()
while True:
    libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
"#;

const LAUNCHES: usize = 100;
const TIME_LIMIT: Duration = Duration::from_secs(20);

struct Swapper(Child);

impl Drop for Swapper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_swapper(user: &User, a: &Path, b: &Path, started: &Path) -> Swapper {
    let child = as_user(user, PYTHON)
        .args(["-c", SWAPPER])
        .arg(a)
        .arg(b)
        .arg(started)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the swapper");
    let t0 = Instant::now();
    while !started.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "swapper did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    Swapper(child)
}

#[test]
fn a_workspace_swapped_for_a_link_never_makes_the_link_target_writable() {
    for user in users() {
        let shared = Dir::new(user, Path::new("/tmp"));
        // Outside every writable root of `--full-auto` (cwd, /tmp, $TMPDIR).
        let outside = Dir::new(user, Path::new("/var/tmp"));
        let ws = shared.join("ws");
        let lnk = shared.join("lnk");
        std::fs::create_dir(&ws).unwrap();
        std::os::unix::fs::symlink(&outside.path, &lnk).unwrap();
        if !user.is_root() || users().len() == 1 {
            // The swapper runs as `user`: it must own the entries it renames.
            for p in [&ws, &lnk] {
                let _ = std::os::unix::fs::lchown(p, Some(user.uid), Some(user.gid));
            }
        }
        let pwn = outside.path.join("PWN");
        for backend in linux_backends(user, &shared.path) {
            let started = shared.join(&format!("started-{backend}"));
            let swapper = start_swapper(user, &ws, &lnk, &started);
            let (mut ran, mut refused, mut other) = (0, 0, 0);
            let t0 = Instant::now();
            for _ in 0..LAUNCHES {
                if t0.elapsed() > TIME_LIMIT {
                    break;
                }
                let out = sandbox(
                    user,
                    &shared.path,
                    &[
                        "linux",
                        "--backend",
                        backend,
                        "--full-auto",
                        "-C",
                        ws.to_str().unwrap(),
                        "--",
                        "touch",
                        pwn.to_str().unwrap(),
                    ],
                );
                match out.status.code() {
                    Some(125) => refused += 1,
                    // touch failed (the target is read-only inside): the sandbox held
                    Some(1) => ran += 1,
                    Some(0) => ran += 1,
                    _ => other += 1,
                }
                assert!(
                    !pwn.exists(),
                    "{} / {backend}: the link's target was written (launch {}: {:?}, stderr: {})",
                    user.name,
                    ran + refused + other,
                    out.status,
                    stderr(&out)
                );
            }
            drop(swapper);
            eprintln!(
                "{} / {backend}: {ran} ran, {refused} refused, {other} other, none wrote outside",
                user.name
            );
            assert!(
                ran + refused > 0,
                "{} / {backend}: no launch completed",
                user.name
            );
            // Put the directory back in place for the next backend.
            if std::fs::symlink_metadata(&ws)
                .map(|m| m.file_type().is_symlink())
                .unwrap_or(false)
            {
                std::fs::rename(&ws, shared.join("tmp")).unwrap();
                std::fs::rename(&lnk, &ws).unwrap();
                std::fs::rename(shared.join("tmp"), &lnk).unwrap();
            }
        }
    }
}
