//! End to end: a sandboxed command cannot type into the terminal it was started from
//! (`TIOCSTI`), which would let it queue commands for the caller's shell to run unsandboxed
//! once it exits. Both Linux backends, as root and as `sbxtest`, on a real pseudo-terminal.
#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use support::{linux_backends, on_a_terminal, sandbox_bin, users, Dir, User, PYTHON};

/// Tries `TIOCSTI` on stdin, plainly and with a high bit set in the request (the tty layer
/// reads only the low 32 bits), and prints what happened.
const PROBE: &str = "import fcntl, termios
for name, req in (('LOW', termios.TIOCSTI), ('HIGH', termios.TIOCSTI | (1 << 32))):
    try:
        fcntl.ioctl(0, req, b'x')
        print(name, 'INJECTED')
    except OSError as e:
        print(name, 'REFUSED', e.errno)
";

/// `argv` run as `user` (through `setpriv` for another user).
fn as_user_argv<'a>(user: &User, argv: &[&'a str], ids: &'a [String; 2]) -> Vec<&'a str> {
    if user.is_root() {
        return argv.to_vec();
    }
    let mut v = vec!["/usr/bin/setpriv", &ids[0], &ids[1], "--init-groups"];
    v.extend_from_slice(argv);
    v
}

#[test]
fn sandboxed_command_cannot_type_into_the_terminal() {
    let bin = sandbox_bin().to_str().unwrap();
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let ids = [format!("--reuid={}", u.uid), format!("--regid={}", u.gid)];
        // Control: outside a sandbox the probe works, so the check below can fail.
        let bare = on_a_terminal(&as_user_argv(u, &[PYTHON, "-c", PROBE], &ids), &ws.path);
        if !bare.contains("LOW INJECTED") {
            eprintln!(
                "notice: this kernel refuses TIOCSTI itself (dev.tty.legacy_tiocsti=0): \
                 nothing to test as {} ({})",
                u.name,
                bare.trim()
            );
            continue;
        }
        for backend in linux_backends(u, &ws.path) {
            let argv = [
                bin,
                "linux",
                "--backend",
                backend,
                "--full-auto",
                "--",
                PYTHON,
                "-c",
                PROBE,
            ];
            let out = on_a_terminal(&as_user_argv(u, &argv, &ids), &ws.path);
            for want in ["LOW REFUSED 1", "HIGH REFUSED 1"] {
                assert!(
                    out.contains(want),
                    "{} {backend}: missing {want:?} in {out:?}",
                    u.name
                );
            }
            assert!(!out.contains("INJECTED"), "{} {backend}: {out:?}", u.name);
        }
    }
}
