//! The Linux sandbox contract: what `sandbox linux` guarantees whichever backend enforces it.
//! Each case runs the real binary on the real kernel for every Linux backend that works here
//! (`--backend landlock`, and `--backend bwrap` where bubblewrap can run) and every test user
//! (root and the unprivileged `sbxtest` when the tests run as root; see `support::linux_cases`).
//! Backend-specific cases live in `linux_landlock.rs` and `linux_bwrap.rs`.
#![cfg(target_os = "linux")]

mod support;

use std::net::{TcpListener, UdpSocket};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use support::*;

const FULL_AUTO: &[&str] = &["--full-auto"];
const READ_ONLY: &[&str] = &["-s", "read-only"];

/// How a failure names the run: backend and user.
fn who(backend: &str, u: &User) -> String {
    format!("{backend} as {}", u.name)
}

#[test]
fn writes_inside_roots_succeed_and_outside_fail_leaving_nothing() {
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        let outside = Dir::new(u, Path::new("/var/tmp"));
        let name = format!("sbx-e2e-{}-{}-{backend}", std::process::id(), u.name);
        let etc = Path::new("/etc").join(&name);
        let home = u.home.join(&name);
        // /tmp is a writable root of workspace-write, shared with the host.
        let tmpfile = Path::new("/tmp").join(format!("{name}.tmp"));
        let script = format!(
            "echo in > a.txt && echo A-OK; \
             echo x > {out}/f || echo OUT-DENIED; \
             echo x > {etc} || echo ETC-DENIED; \
             echo x > {home} || echo HOME-DENIED; \
             mkdir {out}/d || echo MKDIR-DENIED; \
             head -c4 /etc/passwd && echo; \
             echo x > /dev/null && echo DEVNULL-OK; \
             echo tmp-data > {tmp} && cat {tmp} && echo TMP-OK",
            out = outside.path.display(),
            etc = etc.display(),
            home = home.display(),
            tmp = tmpfile.display()
        );
        let out = sh(backend, u, &ws.path, FULL_AUTO, &script);
        assert_ok(&out, &who);
        assert_markers(
            &out,
            &who,
            &[
                "A-OK",
                "OUT-DENIED",
                "ETC-DENIED",
                "HOME-DENIED",
                "MKDIR-DENIED",
                "root",
                "DEVNULL-OK",
                "tmp-data",
                "TMP-OK",
            ],
        );
        // Each of the four denials was the kernel refusing the write (a read-only mount or
        // Landlock), not some other failure such as a missing directory; under bwrap every
        // one is the read-only mount.
        let err = stderr(&out);
        let read_only = err
            .lines()
            .filter(|l| l.contains("Read-only file system"))
            .count();
        let refusals = err
            .lines()
            .filter(|l| l.contains("Read-only file system") || l.contains("Permission denied"))
            .count();
        assert_eq!(refusals, 4, "{who}: {err}");
        if backend == "bwrap" {
            assert_eq!(read_only, 4, "{who}: {err}");
        }
        assert_eq!(std::fs::read_to_string(ws.join("a.txt")).unwrap(), "in\n");
        assert!(!outside.join("f").exists() && !outside.join("d").exists());
        assert!(!etc.exists(), "{who}: {} was created", etc.display());
        assert!(!home.exists(), "{who}: {} was created", home.display());
        assert_eq!(
            std::fs::read_to_string(&tmpfile).ok().as_deref(),
            Some("tmp-data\n"),
            "{who}"
        );
        let _ = std::fs::remove_file(&tmpfile);
        // Placeholders for missing protected names were removed again.
        for n in [".git", ".codex", ".agents"] {
            assert!(!ws.join(n).exists(), "{who}: {n} left behind");
        }
    }
}

#[test]
fn protected_subpaths_are_unchanged_and_not_creatable() {
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        ws.write(u, ".git/config", "[core]\n");
        ws.write(u, ".codex/config.toml", "model = \"x\"\n");
        // One run per attempt, so that one refusal cannot hide another's success.
        for script in [
            "echo bad >> .git/config",
            "echo bad > .codex/config.toml",
            "mkdir -p .git/hooks && echo bad > .git/hooks/pre-commit",
            "mkdir .agents",
            "echo bad > .agents",
            "rm -rf .git",
            "mv .codex codex2",
        ] {
            let out = sh(backend, u, &ws.path, FULL_AUTO, script);
            assert!(
                !out.status.success(),
                "{who}: `{script}` succeeded: {}",
                stderr(&out)
            );
        }
        assert!(!ws.join(".git/hooks").exists(), "{who}");
        assert!(!ws.join("codex2").exists(), "{who}");
        // The read-only mount point made for the missing `.agents` was removed.
        assert!(
            !ws.join(".agents").exists(),
            "{who}: stub .agents left behind"
        );

        // With an existing directory inside `.git`, all in one run.
        ws.write(u, ".git/hooks/README", "hooks\n");
        let script = "echo evil >> .git/config || echo GITCONFIG-DENIED; \
             echo evil > .codex/config.toml || echo CODEX-DENIED; \
             echo evil > .git/hooks/pre-commit || echo HOOK-DENIED; \
             mkdir .agents || echo AGENTS-DENIED; \
             echo x > .agents/f || echo AGENTSFILE-DENIED; \
             rm -rf .git 2>/dev/null; mv .codex moved 2>/dev/null; \
             echo ok > normal.txt && echo NORMAL-OK";
        let out = sh(backend, u, &ws.path, FULL_AUTO, script);
        assert_ok(&out, &who);
        assert_markers(
            &out,
            &who,
            &[
                "GITCONFIG-DENIED",
                "CODEX-DENIED",
                "HOOK-DENIED",
                "AGENTS-DENIED",
                "AGENTSFILE-DENIED",
                "NORMAL-OK",
            ],
        );
        assert_eq!(
            std::fs::read_to_string(ws.join(".git/config")).unwrap(),
            "[core]\n"
        );
        assert_eq!(
            std::fs::read_to_string(ws.join(".codex/config.toml")).unwrap(),
            "model = \"x\"\n"
        );
        assert!(ws.join(".git/hooks/README").exists(), "{who}");
        assert!(!ws.join(".git/hooks/pre-commit").exists(), "{who}");
        assert!(
            !ws.join(".agents").exists(),
            "{who}: placeholder left behind"
        );
        assert!(!ws.join("moved").exists(), "{who}");
    }
}

#[test]
fn a_signal_to_the_launcher_stops_the_command_and_still_cleans_up() {
    for (backend, u) in linux_cases() {
        for round in 0..stop::STOP_ROUNDS {
            let ws = Dir::new(u, Path::new("/tmp"));
            let _turn = turn();
            let r = stop::stop_round(round, &ws.path, |cmd| {
                sandbox_cmd(u, &ws.path, &linux_args(backend, FULL_AUTO, cmd))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            });
            assert_eq!(r, Ok(()), "{}", who(backend, u));
        }
    }
}

#[test]
fn ctrl_c_on_a_terminal_stops_the_command() {
    // The terminal signals its whole foreground group: the command must get it (the launcher
    // does not send a second one; under bwrap the PID namespace ends with bwrap), and the run
    // ends with 130 leaving nothing behind.
    let first = &users()[0];
    for (backend, u) in linux_cases() {
        if u.uid != first.uid {
            continue;
        }
        let ws = Dir::new(u, Path::new("/tmp"));
        let bin = sandbox_bin().to_str().unwrap();
        let marker = format!("28.{}", std::process::id());
        let script = format!("touch ran; exec sleep {marker}");
        let argv = [bin, "linux", "--backend", backend, "--full-auto", "--"];
        let argv = [&argv[..], &["sh", "-c", &script]].concat();
        let _turn = turn();
        let code = stop::ctrl_c_on_a_terminal(&argv, &ws.path, &ws.join("ran"));
        assert_eq!(code, Ok(130), "{backend}");
        assert!(!ws.join(".agents").exists(), "{backend}: placeholder left");
        assert!(
            !stop::still_running(&marker),
            "{backend}: the command outlived the run"
        );
    }
}

#[test]
fn a_signal_ignored_by_the_caller_stays_ignored_like_nohup() {
    // `nohup` and background jobs start the launcher with SIGHUP/SIGINT ignored; the command
    // must inherit that, as it would without the sandbox, not get the default back.
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        let script = format!(
            "trap '' HUP; exec {} linux --backend {backend} --full-auto -- \
             sh -c 'kill -HUP $$; echo survived'",
            sandbox_bin().display()
        );
        let _turn = turn();
        let out = clean_cmd(u, &ws.path, "sh")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert_ok(&out, &who);
        assert_eq!(stdout(&out), "survived\n", "{who}");
    }
}

#[test]
fn network_is_off_but_socketpair_works() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    udp.set_nonblocking(true).unwrap();
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        let out = sh(
            backend,
            u,
            &ws.path,
            FULL_AUTO,
            &format!(
                "bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}' 2>/dev/null || echo DEVTCP-DENIED"
            ),
        );
        assert_ok(&out, &who);
        assert_markers(&out, &who, &["DEVTCP-DENIED"]);
        let out = sh(
            backend,
            u,
            &ws.path,
            FULL_AUTO,
            &format!("exec 3<>/dev/tcp/127.0.0.1/{port}"),
        );
        assert!(
            !out.status.success(),
            "{who}: sh /dev/tcp: {}",
            stderr(&out)
        );

        // Each refused by the kernel (EPERM), not failing for another reason.
        for code in [
            format!("import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)"),
            format!("import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('127.0.0.1', {udp_port}))"),
            "import socket; socket.socket(socket.AF_INET6, socket.SOCK_STREAM)".to_string(),
        ] {
            let out = sandbox(u, &ws.path, &linux_args(backend, FULL_AUTO, &[PYTHON, "-c", &code]));
            assert!(!out.status.success(), "{who}: `{code}` succeeded");
            assert!(
                stderr(&out).contains("PermissionError"),
                "{who}: `{code}` failed for another reason: {}",
                stderr(&out)
            );
        }

        let pair =
            "import socket; a,b=socket.socketpair(); a.send(b'ping'); print(b.recv(4).decode())";
        let out = sandbox(
            u,
            &ws.path,
            &linux_args(backend, FULL_AUTO, &[PYTHON, "-c", pair]),
        );
        assert_ok(&out, &who);
        assert_eq!(stdout(&out), "ping\n", "{who}");
    }
    assert!(
        listener.accept().is_err(),
        "a connection reached the listener"
    );
    let mut buf = [0u8; 8];
    assert!(udp.recv_from(&mut buf).is_err(), "a datagram got out");
}

#[test]
fn network_flag_allows_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        let script = format!(
            "{PYTHON} -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM); print(\"SOCKET-OK\")'; \
             {PYTHON} -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=2); print(\"TCP-OK\")'"
        );
        let out = sh(backend, u, &ws.path, &["--full-auto", "--network"], &script);
        assert_ok(&out, &who);
        assert_markers(&out, &who, &["SOCKET-OK", "TCP-OK"]);
    }
}

#[test]
fn no_new_privs_set_and_capabilities_dropped() {
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        let out = sh(
            backend,
            u,
            &ws.path,
            FULL_AUTO,
            "grep -E 'NoNewPrivs|CapEff|CapBnd' /proc/self/status; \
             mknod blk b 7 0 2>/dev/null || echo MKNOD-DENIED; mkfifo fifo && echo FIFO-OK",
        );
        assert_ok(&out, &who);
        assert_markers(
            &out,
            &who,
            &[
                "NoNewPrivs:\t1\n",
                "CapEff:\t0000000000000000",
                "CapBnd:\t0000000000000000",
                "MKNOD-DENIED",
                "FIFO-OK",
            ],
        );
        assert!(!ws.join("blk").exists(), "{who}");
    }
}

#[test]
fn exit_status_contract() {
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        let not_exec = ws.write(u, "notexec.sh", "#!/bin/sh\necho hi\n");
        for extra in [FULL_AUTO, READ_ONLY] {
            let out = sh(backend, u, &ws.path, extra, "exit 42");
            assert_eq!(out.status.code(), Some(42), "{extra:?} {who}");
            // In place (`exec`) the caller sees the signal itself; when the CLI waits it
            // reports 128+N (bwrap's launcher always waits).
            let out = sh(backend, u, &ws.path, extra, "kill -TERM $$");
            assert!(
                out.status.code() == Some(143) || out.status.signal() == Some(15),
                "{extra:?} {who}: {:?}",
                out.status
            );
            if backend == "bwrap" {
                assert_eq!(out.status.code(), Some(143), "{extra:?} {who}");
            }
            // SIGINT keeps its default disposition inside (it is not inherited as ignored).
            let out = sh(backend, u, &ws.path, extra, "kill -INT $$; echo survived");
            assert!(
                out.status.code() == Some(130) || out.status.signal() == Some(2),
                "{extra:?} {who}: {:?} {}",
                out.status,
                stdout(&out)
            );
            // Not found: 127; found but not executable: 126.
            let out = sandbox(
                u,
                &ws.path,
                &linux_args(backend, extra, &["no-such-command-xyz"]),
            );
            assert_eq!(out.status.code(), Some(127), "{who}: {}", stderr(&out));
            assert!(stderr(&out).contains("not found"), "{who}");
            for path in [not_exec.to_str().unwrap(), "/etc/passwd"] {
                let out = sandbox(u, &ws.path, &linux_args(backend, extra, &[path]));
                assert_eq!(out.status.code(), Some(126), "{who}: {}", stderr(&out));
            }
        }
        // Through a shell, a signal death reads as 128+N.
        let script = format!(
            "{} linux --backend {backend} -s read-only -- sh -c 'kill -TERM $$'; echo \"rc=$?\"",
            sandbox_bin().display()
        );
        let _turn = turn();
        let out = clean_cmd(u, &ws.path, "sh")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(stdout(&out).contains("rc=143"), "{who}: {}", stdout(&out));
    }
}

#[test]
fn command_status_1_passes_through() {
    // bwrap exits 1 when it cannot set up the sandbox, so a 1 makes its launcher check that
    // bwrap works here; the command's own 1 must still come through, with no diagnosis.
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        let out = sh(backend, u, &ws.path, FULL_AUTO, "echo ran > ran; exit 1");
        assert_eq!(out.status.code(), Some(1), "{who}: {}", stderr(&out));
        assert!(ws.join("ran").exists(), "{who}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("sandbox:"),
            "{who}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn read_only_preset_denies_writes_in_workspace() {
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        ws.write(u, "existing.txt", "orig\n");
        let script = "echo x > new.txt || echo NEW-DENIED; \
             echo x >> existing.txt || echo APPEND-DENIED; \
             mkdir sub || echo MKDIR-DENIED; \
             rm existing.txt || echo RM-DENIED; \
             cat existing.txt; echo x > /dev/null && echo DEVNULL-OK";
        let out = sh(backend, u, &ws.path, READ_ONLY, script);
        assert_ok(&out, &who);
        assert_markers(
            &out,
            &who,
            &[
                "NEW-DENIED",
                "APPEND-DENIED",
                "MKDIR-DENIED",
                "RM-DENIED",
                "orig",
                "DEVNULL-OK",
            ],
        );
        assert!(!ws.join("new.txt").exists() && !ws.join("sub").exists());
        assert_eq!(
            std::fs::read_to_string(ws.join("existing.txt")).unwrap(),
            "orig\n"
        );
        let out = sh(backend, u, &ws.path, READ_ONLY, "cat existing.txt");
        assert_ok(&out, &who);
        assert_eq!(stdout(&out), "orig\n", "{who}");
    }
}

#[test]
fn outside_processes_and_abstract_sockets_are_out_of_reach() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    let name = format!("sbx-e2e-abstract-{}", std::process::id());
    let listener =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
    listener.set_nonblocking(true).unwrap();
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        // Processes outside, one owned by the same user and one by the test runner, that the
        // sandbox must neither see nor signal.
        let mut same_user = as_user(u, "sleep").arg("30").spawn().unwrap();
        let mut runner = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let ws = Dir::new(u, Path::new("/tmp"));
        let script = format!(
            "kill -0 {same} 2>/dev/null || echo SIGNAL-DENIED; \
             kill -0 {runner} 2>/dev/null || echo RUNNER-SIGNAL-DENIED; \
             {PYTHON} -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"\\0{name}\")' 2>/dev/null || echo ABSTRACT-DENIED; \
             sleep 5 & kill -0 $! && kill $! && echo OWN-CHILD-OK",
            same = same_user.id(),
            runner = runner.id()
        );
        let out = sh(backend, u, &ws.path, FULL_AUTO, &script);
        for c in [&mut same_user, &mut runner] {
            let _ = c.kill();
            let _ = c.wait();
        }
        assert_ok(&out, &who);
        assert_markers(
            &out,
            &who,
            &[
                "SIGNAL-DENIED",
                "RUNNER-SIGNAL-DENIED",
                "ABSTRACT-DENIED",
                "OWN-CHILD-OK",
            ],
        );
    }
    assert!(
        listener.accept().is_err(),
        "the abstract socket was reached"
    );
}

#[test]
fn inherited_writable_fd_is_closed() {
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        let outside = Dir::new(u, Path::new("/var/tmp"));
        let target = outside.write(u, "log", "orig\n");
        // The shell opens fd 5 for appending without close-on-exec; sandbox inherits it.
        let script = format!(
            "exec 5>>'{t}'; exec '{bin}' linux --backend {backend} --full-auto -- sh -c 'echo evil >&5 || echo FD-CLOSED'",
            t = target.display(),
            bin = sandbox_bin().display()
        );
        let _turn = turn();
        let out = clean_cmd(u, &ws.path, "sh")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert_ok(&out, &who);
        assert_markers(&out, &who, &["FD-CLOSED"]);
        assert!(
            stderr(&out).contains("Bad file descriptor"),
            "{who}: {}",
            stderr(&out)
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "orig\n");
    }
}

#[test]
fn denied_paths_are_masked() {
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        let secret = Dir::new(u, Path::new("/var/tmp"));
        secret.write(u, "key", "topsecret\n");
        ws.write(u, "private.txt", "hidden\n");
        let cfg = Dir::new(u, Path::new("/tmp"));
        let cfg_file = cfg.write(
            u,
            "c.toml",
            &format!(
                "default_permissions = \"p\"\n[permissions.p.filesystem]\n\":root\" = \"read\"\n\
                 \":project_roots\" = {{ \".\" = \"write\", \"private.txt\" = \"none\" }}\n\
                 \"{}\" = \"deny\"\n",
                secret.path.display()
            ),
        );
        // The denied directory cannot be listed, the denied file cannot be read or written,
        // and nothing reaches the host.
        let script = format!(
            "cat {s}/key 2>/dev/null || echo SECRET-HIDDEN; \
             ls {s} 2>&1 | grep -q 'Permission denied' && echo DIR-REFUSED; \
             echo x > {s}/new 2>/dev/null || echo SECRET-RO; \
             test -s private.txt || echo PRIVATE-EMPTY; \
             cat private.txt 2>&1 | grep -q 'Permission denied' && echo READ-REFUSED; \
             (echo evil > private.txt) 2>&1 | grep -q 'Read-only' && echo WRITE-REFUSED; \
             echo ok > a.txt && echo WS-OK",
            s = secret.path.display()
        );
        let out = sh(
            backend,
            u,
            &ws.path,
            &["--config", cfg_file.to_str().unwrap()],
            &script,
        );
        assert_ok(&out, &who);
        assert_markers(
            &out,
            &who,
            &[
                "SECRET-HIDDEN",
                "DIR-REFUSED",
                "SECRET-RO",
                "PRIVATE-EMPTY",
                "READ-REFUSED",
                "WRITE-REFUSED",
                "WS-OK",
            ],
        );
        assert!(!stdout(&out).contains("topsecret"), "{who}");
        assert_eq!(
            std::fs::read_to_string(ws.join("private.txt")).unwrap(),
            "hidden\n"
        );
        assert!(!secret.join("new").exists(), "{who}");
    }
}

#[test]
fn deny_read_glob_masks_matching_files() {
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        ws.write(u, "sub/a.env", "SECRET=1\n");
        ws.write(u, "sub/a.txt", "plain\n");
        let glob = &["--full-auto", "--deny-read", "**/*.env"];
        // Matches existing at launch are masked like deny rules (reads and writes are
        // refused, the host file is untouched); other files work.
        let out = sh(
            backend,
            u,
            &ws.path,
            glob,
            "test -s sub/a.env || echo ENV-EMPTY; cat sub/a.env || echo ENV-REFUSED; \
             echo x > sub/a.env || echo ENV-RO; cat sub/a.txt",
        );
        assert_ok(&out, &who);
        assert_markers(&out, &who, &["ENV-EMPTY", "ENV-REFUSED", "ENV-RO"]);
        assert!(
            stderr(&out).contains("sub/a.env: Permission denied"),
            "{who}: {}",
            stderr(&out)
        );
        let so = stdout(&out);
        assert!(
            so.contains("plain") && !so.contains("SECRET"),
            "{who}: {so}"
        );
        let out = sh(backend, u, &ws.path, glob, "cat sub/a.env");
        assert!(!out.status.success(), "{who} read a.env");
        assert!(!stdout(&out).contains("SECRET"), "{who}");
        let out = sh(backend, u, &ws.path, glob, "cat sub/a.txt");
        assert_ok(&out, &who);
        assert_eq!(stdout(&out), "plain\n", "{who}");
        assert_eq!(
            std::fs::read_to_string(ws.join("sub/a.env")).unwrap(),
            "SECRET=1\n"
        );

        // A root-wide glob cannot be expanded: refused, nothing runs.
        let out = sh(
            backend,
            u,
            &ws.path,
            &["--full-auto", "--deny-read", "/**/*.env"],
            "touch ran",
        );
        assert_eq!(out.status.code(), Some(125), "{who}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("whole filesystem"),
            "{who}: {}",
            stderr(&out)
        );
        assert!(!ws.join("ran").exists(), "{who}");
    }
}

#[test]
fn minimal_read_view_hides_the_rest_of_the_host() {
    // The workspace written two ways: as `:cwd` and as a project root.
    let configs = [
        "default_permissions = \"m\"\n[permissions.m.filesystem]\n\":minimal\" = \"read\"\n\":cwd\" = \"write\"\n",
        "default_permissions = \"m\"\n[permissions.m.filesystem]\n\":minimal\" = \"read\"\n\
         \":project_roots\" = { \".\" = \"write\" }\n",
    ];
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        for config in configs {
            let ws = Dir::new(u, Path::new("/tmp"));
            let other = Dir::new(u, Path::new("/var/tmp"));
            other.write(u, "f", "outside\n");
            let cfg = Dir::new(u, Path::new("/tmp"));
            let cfg_file = cfg.write(u, "m.toml", config);
            let cfg_args = ["--config", cfg_file.to_str().unwrap()];
            let run = |script: &str| sh(backend, u, &ws.path, &cfg_args, script);

            let out = run("echo hi > made.txt && cat made.txt && cat /etc/passwd > /dev/null");
            assert_ok(&out, &who);
            assert_eq!(stdout(&out), "hi\n", "{who}");
            let out = run(&format!(
                "cat /etc/hostname > /dev/null && echo ETC-OK; \
                 cat {o}/f 2>/dev/null || echo OTHER-DENIED; \
                 echo ok > a.txt && echo WS-OK",
                o = other.path.display()
            ));
            assert_ok(&out, &who);
            assert_markers(&out, &who, &["ETC-OK", "OTHER-DENIED", "WS-OK"]);
            // Outside the read roots and the workspace nothing can be read, and `/` is
            // read-only.
            for script in [
                format!("ls '{}'", other.path.display()),
                "ls /home /root".to_string(),
                "touch /newfile".to_string(),
            ] {
                let out = run(&script);
                assert!(!out.status.success(), "{who} `{script}`: {}", stdout(&out));
            }
            assert!(!Path::new("/newfile").exists());
        }
    }
}

#[test]
fn writable_root_under_a_denied_directory_is_regranted() {
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        let private = ws.join("private");
        std::fs::create_dir_all(private.join("scratch")).unwrap();
        ws.write(u, "private/key", "TOPSECRET\n");
        let cfg = Dir::new(u, Path::new("/var/tmp"));
        let cfg_file = cfg.write(
            u,
            "config.toml",
            &format!(
                "default_permissions = \"split\"\n[permissions.split.filesystem]\n\":root\" = \"read\"\n\"{ws}\" = \"write\"\n\"{ws}/private\" = \"deny\"\n\"{ws}/private/scratch\" = \"write\"\n",
                ws = ws.path.display()
            ),
        );
        let cfg_args = ["--config", cfg_file.to_str().unwrap()];
        for script in ["cat private/key", "ls private", "echo x > private/new"] {
            let out = sh(backend, u, &ws.path, &cfg_args, script);
            assert!(!out.status.success(), "{who} `{script}`: {}", stdout(&out));
            assert!(!stdout(&out).contains("TOPSECRET"), "{who}");
        }
        let out = sh(
            backend,
            u,
            &ws.path,
            &cfg_args,
            "echo note > private/scratch/n.txt && cat private/scratch/n.txt",
        );
        assert_ok(&out, &who);
        assert_eq!(stdout(&out), "note\n", "{who}");
        assert!(!private.join("new").exists(), "{who}");
        assert_eq!(
            std::fs::read_to_string(private.join("key")).unwrap(),
            "TOPSECRET\n"
        );
    }
}

#[test]
fn git_pointer_file_and_its_target_are_protected() {
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        // A linked worktree: WS/.git is a `gitdir:` file pointing into another writable repo.
        let out_dir = Dir::new(u, Path::new("/var/tmp"));
        let head = out_dir.write(u, "repo/.git/worktrees/w/HEAD", "ref: refs/heads/w\n");
        let repo = out_dir.join("repo");
        let wt = head.parent().unwrap();
        ws.write(u, ".git", &format!("gitdir: {}\n", wt.display()));
        let root = repo.display().to_string();
        let extra = ["--full-auto", "--writable-root", root.as_str()];
        for script in [
            "echo bad > .git".to_string(),
            format!("echo bad > '{}'", head.display()),
            format!("touch '{root}/.git/evil'"),
        ] {
            let out = sh(backend, u, &ws.path, &extra, &script);
            assert!(!out.status.success(), "{who} `{script}`: {}", stdout(&out));
        }
        let out = sh(
            backend,
            u,
            &ws.path,
            &extra,
            &format!("echo ok > '{root}/notes.txt'"),
        );
        assert_ok(&out, &who);
        assert_eq!(
            std::fs::read_to_string(&head).unwrap(),
            "ref: refs/heads/w\n"
        );
        assert!(std::fs::read_to_string(ws.join(".git"))
            .unwrap()
            .starts_with("gitdir: "));
        assert!(!repo.join(".git/evil").exists(), "{who}");
    }
}

#[test]
fn bypass_syscalls_and_x32_fail_with_eperm() {
    // Outside a sandbox: x32 getpid -> ENOSYS (or a pid), io_uring_setup(1, NULL) -> EFAULT,
    // ptrace(PTRACE_TRACEME) -> 0. Inside, each must be refused with EPERM (errno 1).
    let x86 = cfg!(target_arch = "x86_64");
    let ptrace = if x86 {
        "101, 0, 0, 0, 0"
    } else {
        "117, 0, 0, 0, 0"
    };
    let mut checks = vec![("io_uring_setup", "425, 1, None"), ("ptrace", ptrace)];
    if x86 {
        checks.push(("x32 getpid", "0x40000000 + 39"));
    }
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        for (name, args) in &checks {
            let script = format!(
                "{PYTHON} -c 'import ctypes; l = ctypes.CDLL(None, use_errno=True); \
                 r = l.syscall({args}); print(\"RESULT\", r, ctypes.get_errno())'"
            );
            let out = sh(backend, u, &ws.path, READ_ONLY, &script);
            assert_ok(&out, &who);
            assert_markers(&out, &format!("{who}: {name}"), &["RESULT -1 1"]);
        }
    }
}

#[test]
fn multiprocessing_works_with_a_private_dev_shm() {
    for (backend, u) in linux_cases() {
        let who = who(backend, u);
        let ws = Dir::new(u, Path::new("/tmp"));
        let marker = format!("sbx-e2e-shm-{}-{}-{backend}", std::process::id(), u.name);
        let script = format!(
            "{PYTHON} -c 'import multiprocessing as mp, operator\n\
             with mp.Pool(2) as p: print(\"POOL\", p.starmap(operator.mul, [(2, 3), (4, 5)]))\n'; \
             echo x > /dev/shm/{marker} && echo SHM-WRITE-OK"
        );
        let out = sh(backend, u, &ws.path, FULL_AUTO, &script);
        assert_ok(&out, &who);
        assert_markers(&out, &who, &["POOL [6, 20]", "SHM-WRITE-OK"]);
        assert!(
            !Path::new("/dev/shm").join(&marker).exists(),
            "{who}: the sandbox's /dev/shm reached the host"
        );
    }
}

#[test]
fn danger_full_access_runs_unsandboxed() {
    let first = &users()[0];
    for (backend, u) in linux_cases() {
        if u.uid != first.uid {
            continue;
        }
        let ws = Dir::new(u, Path::new("/tmp"));
        let out = sh(
            backend,
            u,
            &ws.path,
            &["-s", "danger-full-access"],
            "grep NoNewPrivs /proc/self/status",
        );
        assert_ok(&out, backend);
        assert_markers(&out, backend, &["NoNewPrivs:\t0"]);
    }
}

#[test]
fn concurrent_runs_share_placeholders_and_leave_none() {
    let first = &users()[0];
    for (backend, u) in linux_cases() {
        if u.uid != first.uid {
            continue;
        }
        let ws = Dir::new(u, Path::new("/tmp"));
        let _turn = turn();
        for _round in 0..3 {
            let children: Vec<_> = (0..6)
                .map(|i| {
                    let script = format!(
                        "sleep 0.0{i}; mkdir .agents/x 2>/dev/null && echo BREACH; \
                         mkdir .codex 2>/dev/null && echo BREACH; echo DONE"
                    );
                    sandbox_cmd(
                        u,
                        &ws.path,
                        &linux_args(backend, FULL_AUTO, &["sh", "-c", &script]),
                    )
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
                })
                .collect();
            for c in children {
                let out = c.wait_with_output().unwrap();
                assert_ok(&out, &format!("{backend}: concurrent run"));
                assert_eq!(stdout(&out).trim(), "DONE", "{backend}: {}", stderr(&out));
            }
        }
        for n in [".git", ".codex", ".agents"] {
            assert!(!ws.join(n).exists(), "{backend}: {n} left behind");
        }
    }
}
