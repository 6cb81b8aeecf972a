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

/// The contract cases of the first user only (root when the tests run as root), for cases
/// that need the test runner's own terminal or spawn many runs at once.
fn first_user_cases() -> impl Iterator<Item = Case> {
    let first = users()[0].uid;
    contract_cases().filter(move |c| c.user.uid == first)
}

#[test]
fn writes_inside_roots_succeed_and_outside_fail_leaving_nothing() {
    for c in contract_cases() {
        let outside = c.dir("/var/tmp");
        let name = format!(
            "sbx-e2e-{}-{}-{}",
            std::process::id(),
            c.user.name,
            c.backend
        );
        let etc = Path::new("/etc").join(&name);
        let home = c.user.home.join(&name);
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
        let out = c.sh_markers(
            FULL_AUTO,
            &script,
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
        assert_eq!(refusals, 4, "{c}: {err}");
        if c.backend == "bwrap" {
            assert_eq!(read_only, 4, "{c}: {err}");
        }
        assert_eq!(std::fs::read_to_string(c.join("a.txt")).unwrap(), "in\n");
        assert!(!outside.join("f").exists() && !outside.join("d").exists());
        assert!(!etc.exists(), "{c}: {} was created", etc.display());
        assert!(!home.exists(), "{c}: {} was created", home.display());
        assert_eq!(
            std::fs::read_to_string(&tmpfile).ok().as_deref(),
            Some("tmp-data\n"),
            "{c}"
        );
        let _ = std::fs::remove_file(&tmpfile);
        // Placeholders for missing protected names were removed again.
        for n in [".git", ".codex", ".agents"] {
            assert!(!c.join(n).exists(), "{c}: {n} left behind");
        }
    }
}

#[test]
fn protected_subpaths_are_unchanged_and_not_creatable() {
    for c in contract_cases() {
        c.write(".git/config", "[core]\n");
        c.write(".codex/config.toml", "model = \"x\"\n");
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
            let out = c.sh(FULL_AUTO, script);
            assert!(
                !out.status.success(),
                "{c}: `{script}` succeeded: {}",
                stderr(&out)
            );
        }
        assert!(!c.join(".git/hooks").exists(), "{c}");
        assert!(!c.join("codex2").exists(), "{c}");
        // The read-only mount point made for the missing `.agents` was removed.
        assert!(!c.join(".agents").exists(), "{c}: stub .agents left behind");

        // With an existing directory inside `.git`, all in one run.
        c.write(".git/hooks/README", "hooks\n");
        let script = "echo evil >> .git/config || echo GITCONFIG-DENIED; \
             echo evil > .codex/config.toml || echo CODEX-DENIED; \
             echo evil > .git/hooks/pre-commit || echo HOOK-DENIED; \
             mkdir .agents || echo AGENTS-DENIED; \
             echo x > .agents/f || echo AGENTSFILE-DENIED; \
             rm -rf .git 2>/dev/null; mv .codex moved 2>/dev/null; \
             echo ok > normal.txt && echo NORMAL-OK";
        c.sh_markers(
            FULL_AUTO,
            script,
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
            std::fs::read_to_string(c.join(".git/config")).unwrap(),
            "[core]\n"
        );
        assert_eq!(
            std::fs::read_to_string(c.join(".codex/config.toml")).unwrap(),
            "model = \"x\"\n"
        );
        assert!(c.join(".git/hooks/README").exists(), "{c}");
        assert!(!c.join(".git/hooks/pre-commit").exists(), "{c}");
        assert!(!c.join(".agents").exists(), "{c}: placeholder left behind");
        assert!(!c.join("moved").exists(), "{c}");
    }
}

#[test]
fn a_signal_to_the_launcher_stops_the_command_and_still_cleans_up() {
    for round in 0..stop::STOP_ROUNDS {
        for c in contract_cases() {
            let _turn = turn();
            let r = stop::stop_round(round, &c.ws.path, |cmd| {
                sandbox_cmd(c.user, &c.ws.path, &linux_args(c.backend, FULL_AUTO, cmd))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            });
            assert_eq!(r, Ok(()), "{c}");
        }
    }
}

#[test]
fn ctrl_c_on_a_terminal_stops_the_command() {
    // The terminal signals its whole foreground group: the command must get it (the launcher
    // does not send a second one; under bwrap the PID namespace ends with bwrap), and the run
    // ends with 130 leaving nothing behind.
    for c in first_user_cases() {
        let bin = sandbox_bin().to_str().unwrap();
        let marker = format!("28.{}", std::process::id());
        let script = format!("touch ran; exec sleep {marker}");
        let argv = [bin, "linux", "--backend", c.backend, "--full-auto", "--"];
        let argv = [&argv[..], &["sh", "-c", &script]].concat();
        let _turn = turn();
        let code = stop::ctrl_c_on_a_terminal(&argv, &c.ws.path, &c.join("ran"));
        assert_eq!(code, Ok(130), "{c}");
        assert!(!c.join(".agents").exists(), "{c}: placeholder left");
        assert!(
            !stop::still_running(&marker),
            "{c}: the command outlived the run"
        );
    }
}

#[test]
fn a_signal_ignored_by_the_caller_stays_ignored_like_nohup() {
    // `nohup` and background jobs start the launcher with SIGHUP/SIGINT ignored; the command
    // must inherit that, as it would without the sandbox, not get the default back.
    for c in contract_cases() {
        let script = format!(
            "trap '' HUP; exec {} linux --backend {} --full-auto -- \
             sh -c 'kill -HUP $$; echo survived'",
            sandbox_bin().display(),
            c.backend
        );
        let _turn = turn();
        let out = c.cmd("sh").args(["-c", &script]).output().unwrap();
        c.assert_ok(&out);
        assert_eq!(stdout(&out), "survived\n", "{c}");
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
    for c in contract_cases() {
        c.sh_markers(
            FULL_AUTO,
            &format!(
                "bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}' 2>/dev/null || echo DEVTCP-DENIED"
            ),
            &["DEVTCP-DENIED"],
        );
        let out = c.sh(FULL_AUTO, &format!("exec 3<>/dev/tcp/127.0.0.1/{port}"));
        assert!(!out.status.success(), "{c}: sh /dev/tcp: {}", stderr(&out));

        // Each refused by the kernel (EPERM), not failing for another reason.
        for code in [
            format!("import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)"),
            format!("import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('127.0.0.1', {udp_port}))"),
            "import socket; socket.socket(socket.AF_INET6, socket.SOCK_STREAM)".to_string(),
        ] {
            let out = c.run(FULL_AUTO, &[PYTHON, "-c", &code]);
            assert!(!out.status.success(), "{c}: `{code}` succeeded");
            assert!(
                stderr(&out).contains("PermissionError"),
                "{c}: `{code}` failed for another reason: {}",
                stderr(&out)
            );
        }

        let pair =
            "import socket; a,b=socket.socketpair(); a.send(b'ping'); print(b.recv(4).decode())";
        let out = c.run(FULL_AUTO, &[PYTHON, "-c", pair]);
        c.assert_ok(&out);
        assert_eq!(stdout(&out), "ping\n", "{c}");
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
    for c in contract_cases() {
        let script = format!(
            "{PYTHON} -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM); print(\"SOCKET-OK\")'; \
             {PYTHON} -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=2); print(\"TCP-OK\")'"
        );
        c.sh_markers(
            &["--full-auto", "--network"],
            &script,
            &["SOCKET-OK", "TCP-OK"],
        );
    }
}

#[test]
fn no_new_privs_set_and_capabilities_dropped() {
    for c in contract_cases() {
        let out = c.sh(
            FULL_AUTO,
            "grep -E 'NoNewPrivs|CapEff|CapBnd' /proc/self/status; \
             mknod blk b 7 0 2>/dev/null || echo MKNOD-DENIED; mkfifo fifo && echo FIFO-OK",
        );
        c.assert_ok(&out);
        c.assert_markers(
            &out,
            &[
                "NoNewPrivs:\t1\n",
                "CapEff:\t0000000000000000",
                "CapBnd:\t0000000000000000",
                "MKNOD-DENIED",
                "FIFO-OK",
            ],
        );
        assert!(!c.join("blk").exists(), "{c}");
    }
}

#[test]
fn exit_status_contract() {
    for c in contract_cases() {
        let not_exec = c.write("notexec.sh", "#!/bin/sh\necho hi\n");
        for extra in [FULL_AUTO, READ_ONLY] {
            let out = c.sh(extra, "exit 42");
            assert_eq!(out.status.code(), Some(42), "{extra:?} {c}");
            // In place (`exec`) the caller sees the signal itself; when the CLI waits it
            // reports 128+N (bwrap's launcher always waits).
            let out = c.sh(extra, "kill -TERM $$");
            assert!(
                out.status.code() == Some(143) || out.status.signal() == Some(15),
                "{extra:?} {c}: {:?}",
                out.status
            );
            if c.backend == "bwrap" {
                assert_eq!(out.status.code(), Some(143), "{extra:?} {c}");
            }
            // SIGINT keeps its default disposition inside (it is not inherited as ignored).
            let out = c.sh(extra, "kill -INT $$; echo survived");
            assert!(
                out.status.code() == Some(130) || out.status.signal() == Some(2),
                "{extra:?} {c}: {:?} {}",
                out.status,
                stdout(&out)
            );
            // Not found: 127; found but not executable: 126.
            let out = c.run(extra, &["no-such-command-xyz"]);
            assert_eq!(out.status.code(), Some(127), "{c}: {}", stderr(&out));
            assert!(stderr(&out).contains("not found"), "{c}");
            for path in [not_exec.to_str().unwrap(), "/etc/passwd"] {
                let out = c.run(extra, &[path]);
                assert_eq!(out.status.code(), Some(126), "{c}: {}", stderr(&out));
            }
        }
        // Through a shell, a signal death reads as 128+N.
        let script = format!(
            "{} linux --backend {} -s read-only -- sh -c 'kill -TERM $$'; echo \"rc=$?\"",
            sandbox_bin().display(),
            c.backend
        );
        let _turn = turn();
        let out = c.cmd("sh").args(["-c", &script]).output().unwrap();
        assert!(stdout(&out).contains("rc=143"), "{c}: {}", stdout(&out));
    }
}

#[test]
fn command_status_1_passes_through() {
    // bwrap exits 1 when it cannot set up the sandbox, so a 1 makes its launcher check that
    // bwrap works here; the command's own 1 must still come through, with no diagnosis.
    for c in contract_cases() {
        let out = c.sh(FULL_AUTO, "echo ran > ran; exit 1");
        assert_eq!(out.status.code(), Some(1), "{c}: {}", stderr(&out));
        assert!(c.join("ran").exists(), "{c}: {}", stderr(&out));
        assert!(!stderr(&out).contains("sandbox:"), "{c}: {}", stderr(&out));
    }
}

#[test]
fn read_only_preset_denies_writes_in_workspace() {
    for c in contract_cases() {
        c.write("existing.txt", "orig\n");
        let script = "echo x > new.txt || echo NEW-DENIED; \
             echo x >> existing.txt || echo APPEND-DENIED; \
             mkdir sub || echo MKDIR-DENIED; \
             rm existing.txt || echo RM-DENIED; \
             cat existing.txt; echo x > /dev/null && echo DEVNULL-OK";
        c.sh_markers(
            READ_ONLY,
            script,
            &[
                "NEW-DENIED",
                "APPEND-DENIED",
                "MKDIR-DENIED",
                "RM-DENIED",
                "orig",
                "DEVNULL-OK",
            ],
        );
        assert!(!c.join("new.txt").exists() && !c.join("sub").exists());
        assert_eq!(
            std::fs::read_to_string(c.join("existing.txt")).unwrap(),
            "orig\n"
        );
        let out = c.sh(READ_ONLY, "cat existing.txt");
        c.assert_ok(&out);
        assert_eq!(stdout(&out), "orig\n", "{c}");
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
    for c in contract_cases() {
        // Processes outside, one owned by the same user and one by the test runner, that the
        // sandbox must neither see nor signal.
        let mut same_user = as_user(c.user, "sleep").arg("30").spawn().unwrap();
        let mut runner = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let script = format!(
            "kill -0 {same} 2>/dev/null || echo SIGNAL-DENIED; \
             kill -0 {runner} 2>/dev/null || echo RUNNER-SIGNAL-DENIED; \
             {PYTHON} -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"\\0{name}\")' 2>/dev/null || echo ABSTRACT-DENIED; \
             sleep 5 & kill -0 $! && kill $! && echo OWN-CHILD-OK",
            same = same_user.id(),
            runner = runner.id()
        );
        let out = c.sh(FULL_AUTO, &script);
        for c in [&mut same_user, &mut runner] {
            let _ = c.kill();
            let _ = c.wait();
        }
        c.assert_ok(&out);
        c.assert_markers(
            &out,
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
    for c in contract_cases() {
        let (_outside, target) = c.outside_file("log", "orig\n");
        // The shell opens fd 5 for appending without close-on-exec; sandbox inherits it.
        let script = format!(
            "exec 5>>'{t}'; exec '{bin}' linux --backend {backend} --full-auto -- sh -c 'echo evil >&5 || echo FD-CLOSED'",
            backend = c.backend,
            t = target.display(),
            bin = sandbox_bin().display()
        );
        let _turn = turn();
        let out = c.cmd("sh").args(["-c", &script]).output().unwrap();
        c.assert_ok(&out);
        c.assert_markers(&out, &["FD-CLOSED"]);
        assert!(
            stderr(&out).contains("Bad file descriptor"),
            "{c}: {}",
            stderr(&out)
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "orig\n");
    }
}

#[test]
fn denied_paths_are_masked() {
    for c in contract_cases() {
        let (secret, _key) = c.outside_file("key", "topsecret\n");
        c.write("private.txt", "hidden\n");
        let cfg = c.config(&format!(
            "default_permissions = \"p\"\n[permissions.p.filesystem]\n\":root\" = \"read\"\n\
                 \":project_roots\" = {{ \".\" = \"write\", \"private.txt\" = \"none\" }}\n\
                 \"{}\" = \"deny\"\n",
            secret.path.display()
        ));
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
        let out = c.sh_markers(
            &cfg.args(),
            &script,
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
        assert!(!stdout(&out).contains("topsecret"), "{c}");
        assert_eq!(
            std::fs::read_to_string(c.join("private.txt")).unwrap(),
            "hidden\n"
        );
        assert!(!secret.join("new").exists(), "{c}");
    }
}

#[test]
fn deny_read_glob_masks_matching_files() {
    for c in contract_cases() {
        c.write("sub/a.env", "SECRET=1\n");
        c.write("sub/a.txt", "plain\n");
        let glob = &["--full-auto", "--deny-read", "**/*.env"];
        // Matches existing at launch are masked like deny rules (reads and writes are
        // refused, the host file is untouched); other files work.
        let out = c.sh(
            glob,
            "test -s sub/a.env || echo ENV-EMPTY; cat sub/a.env || echo ENV-REFUSED; \
             echo x > sub/a.env || echo ENV-RO; cat sub/a.txt",
        );
        c.assert_ok(&out);
        c.assert_markers(&out, &["ENV-EMPTY", "ENV-REFUSED", "ENV-RO"]);
        assert!(
            stderr(&out).contains("sub/a.env: Permission denied"),
            "{c}: {}",
            stderr(&out)
        );
        let so = stdout(&out);
        assert!(so.contains("plain") && !so.contains("SECRET"), "{c}: {so}");
        let out = c.sh(glob, "cat sub/a.env");
        assert!(!out.status.success(), "{c} read a.env");
        assert!(!stdout(&out).contains("SECRET"), "{c}");
        let out = c.sh(glob, "cat sub/a.txt");
        c.assert_ok(&out);
        assert_eq!(stdout(&out), "plain\n", "{c}");
        assert_eq!(
            std::fs::read_to_string(c.join("sub/a.env")).unwrap(),
            "SECRET=1\n"
        );

        // A root-wide glob cannot be expanded: refused, nothing runs.
        let out = c.sh(&["--full-auto", "--deny-read", "/**/*.env"], "touch ran");
        assert_eq!(out.status.code(), Some(125), "{c}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("whole filesystem"),
            "{c}: {}",
            stderr(&out)
        );
        assert!(!c.join("ran").exists(), "{c}");
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
    for config in configs {
        for c in contract_cases() {
            let (other, _f) = c.outside_file("f", "outside\n");
            let cfg = c.config(config);
            let run = |script: &str| c.sh(&cfg.args(), script);

            let out = run("echo hi > made.txt && cat made.txt && cat /etc/passwd > /dev/null");
            c.assert_ok(&out);
            assert_eq!(stdout(&out), "hi\n", "{c}");
            let out = run(&format!(
                "cat /etc/hostname > /dev/null && echo ETC-OK; \
                 cat {o}/f 2>/dev/null || echo OTHER-DENIED; \
                 echo ok > a.txt && echo WS-OK",
                o = other.path.display()
            ));
            c.assert_ok(&out);
            c.assert_markers(&out, &["ETC-OK", "OTHER-DENIED", "WS-OK"]);
            // Outside the read roots and the workspace nothing can be read, and `/` is
            // read-only.
            for script in [
                format!("ls '{}'", other.path.display()),
                "ls /home /root".to_string(),
                "touch /newfile".to_string(),
            ] {
                let out = run(&script);
                assert!(!out.status.success(), "{c} `{script}`: {}", stdout(&out));
            }
            assert!(!Path::new("/newfile").exists());
        }
    }
}

#[test]
fn writable_root_under_a_denied_directory_is_regranted() {
    for c in contract_cases() {
        let private = c.join("private");
        std::fs::create_dir_all(private.join("scratch")).unwrap();
        c.write("private/key", "TOPSECRET\n");
        let cfg = c.config(&format!(
                "default_permissions = \"split\"\n[permissions.split.filesystem]\n\":root\" = \"read\"\n\"{ws}\" = \"write\"\n\"{ws}/private\" = \"deny\"\n\"{ws}/private/scratch\" = \"write\"\n",
            ws = c.ws.path.display()
        ));
        let cfg_args = cfg.args();
        for script in ["cat private/key", "ls private", "echo x > private/new"] {
            let out = c.sh(&cfg_args, script);
            assert!(!out.status.success(), "{c} `{script}`: {}", stdout(&out));
            assert!(!stdout(&out).contains("TOPSECRET"), "{c}");
        }
        let out = c.sh(
            &cfg_args,
            "echo note > private/scratch/n.txt && cat private/scratch/n.txt",
        );
        c.assert_ok(&out);
        assert_eq!(stdout(&out), "note\n", "{c}");
        assert!(!private.join("new").exists(), "{c}");
        assert_eq!(
            std::fs::read_to_string(private.join("key")).unwrap(),
            "TOPSECRET\n"
        );
    }
}

#[test]
fn git_pointer_file_and_its_target_are_protected() {
    for c in contract_cases() {
        // A linked worktree: WS/.git is a `gitdir:` file pointing into another writable repo.
        let (out_dir, head) = c.outside_file("repo/.git/worktrees/w/HEAD", "ref: refs/heads/w\n");
        let repo = out_dir.join("repo");
        let wt = head.parent().unwrap();
        c.write(".git", &format!("gitdir: {}\n", wt.display()));
        let root = repo.display().to_string();
        let extra = ["--full-auto", "--writable-root", root.as_str()];
        for script in [
            "echo bad > .git".to_string(),
            format!("echo bad > '{}'", head.display()),
            format!("touch '{root}/.git/evil'"),
        ] {
            let out = c.sh(&extra, &script);
            assert!(!out.status.success(), "{c} `{script}`: {}", stdout(&out));
        }
        let out = c.sh(&extra, &format!("echo ok > '{root}/notes.txt'"));
        c.assert_ok(&out);
        assert_eq!(
            std::fs::read_to_string(&head).unwrap(),
            "ref: refs/heads/w\n"
        );
        assert!(std::fs::read_to_string(c.join(".git"))
            .unwrap()
            .starts_with("gitdir: "));
        assert!(!repo.join(".git/evil").exists(), "{c}");
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
    for c in contract_cases() {
        for (name, args) in &checks {
            let script = format!(
                "{PYTHON} -c 'import ctypes; l = ctypes.CDLL(None, use_errno=True); \
                 r = l.syscall({args}); print(\"RESULT\", r, ctypes.get_errno())'"
            );
            let out = c.sh(READ_ONLY, &script);
            c.assert_ok(&out);
            assert_markers(&out, &format!("{c}: {name}"), &["RESULT -1 1"]);
        }
    }
}

#[test]
fn multiprocessing_works_with_a_private_dev_shm() {
    for c in contract_cases() {
        let marker = format!(
            "sbx-e2e-shm-{}-{}-{}",
            std::process::id(),
            c.user.name,
            c.backend
        );
        let script = format!(
            "{PYTHON} -c 'import multiprocessing as mp, operator\n\
             with mp.Pool(2) as p: print(\"POOL\", p.starmap(operator.mul, [(2, 3), (4, 5)]))\n'; \
             echo x > /dev/shm/{marker} && echo SHM-WRITE-OK"
        );
        let out = c.sh(FULL_AUTO, &script);
        c.assert_ok(&out);
        c.assert_markers(&out, &["POOL [6, 20]", "SHM-WRITE-OK"]);
        assert!(
            !Path::new("/dev/shm").join(&marker).exists(),
            "{c}: the sandbox's /dev/shm reached the host"
        );
    }
}

#[test]
fn danger_full_access_runs_unsandboxed() {
    for c in first_user_cases() {
        c.sh_markers(
            &["-s", "danger-full-access"],
            "grep NoNewPrivs /proc/self/status",
            &["NoNewPrivs:\t0"],
        );
    }
}

#[test]
fn concurrent_runs_share_placeholders_and_leave_none() {
    for c in first_user_cases() {
        let _turn = turn();
        for _round in 0..3 {
            let children: Vec<_> = (0..6)
                .map(|i| {
                    let script = format!(
                        "sleep 0.0{i}; mkdir .agents/x 2>/dev/null && echo BREACH; \
                         mkdir .codex 2>/dev/null && echo BREACH; echo DONE"
                    );
                    sandbox_cmd(
                        c.user,
                        &c.ws.path,
                        &linux_args(c.backend, FULL_AUTO, &["sh", "-c", &script]),
                    )
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
                })
                .collect();
            for child in children {
                let out = child.wait_with_output().unwrap();
                assert_ok(&out, &format!("{c}: concurrent run"));
                assert_eq!(stdout(&out).trim(), "DONE", "{c}: {}", stderr(&out));
            }
        }
        for n in [".git", ".codex", ".agents"] {
            assert!(!c.join(n).exists(), "{c}: {n} left behind");
        }
    }
}
