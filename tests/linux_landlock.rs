//! End-to-end tests of `sandbox linux --backend landlock`: the real binary, the real kernel,
//! as root and as the unprivileged user `sbxtest` (issue 3 acceptance cases).
#![cfg(target_os = "linux")]

mod support;

use std::net::{TcpListener, UdpSocket};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use support::*;

const FULL_AUTO: &[&str] = &["--full-auto"];

#[test]
fn writes_inside_roots_succeed_and_outside_fail_leaving_nothing() {
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let outside = Dir::new(u, Path::new("/var/tmp"));
        let name = format!("sbx-e2e-{}-{}", std::process::id(), u.name);
        let etc = Path::new("/etc").join(&name);
        let home = u.home.join(&name);
        let tmpfile = Path::new("/tmp").join(format!("{name}.tmp"));
        let script = format!(
            "echo in > a.txt && echo A-OK; \
             echo x > {out}/f || echo OUT-DENIED; \
             echo x > {etc} || echo ETC-DENIED; \
             echo x > {home} || echo HOME-DENIED; \
             mkdir {out}/d || echo MKDIR-DENIED; \
             head -c4 /etc/passwd && echo; \
             echo x > /dev/null && echo DEVNULL-OK; \
             echo x > {tmp} && echo TMP-OK",
            out = outside.path.display(),
            etc = etc.display(),
            home = home.display(),
            tmp = tmpfile.display()
        );
        let out = sh(u, &ws.path, FULL_AUTO, &script);
        let so = stdout(&out);
        assert_ok(&out, &format!("as {}", u.name));
        for marker in [
            "A-OK",
            "OUT-DENIED",
            "ETC-DENIED",
            "HOME-DENIED",
            "MKDIR-DENIED",
            "root",
            "DEVNULL-OK",
            "TMP-OK",
        ] {
            assert!(
                so.contains(marker),
                "as {}: missing {marker} in {so}",
                u.name
            );
        }
        // Each of the four denials was the kernel refusing the write (a read-only mount or
        // Landlock), not some other failure such as a missing directory.
        let refusals = stderr(&out)
            .lines()
            .filter(|l| l.contains("Read-only file system") || l.contains("Permission denied"))
            .count();
        assert_eq!(refusals, 4, "as {}: {}", u.name, stderr(&out));
        assert_eq!(std::fs::read_to_string(ws.join("a.txt")).unwrap(), "in\n");
        assert!(!outside.join("f").exists() && !outside.join("d").exists());
        assert!(!etc.exists(), "{} was created", etc.display());
        assert!(!home.exists(), "{} was created", home.display());
        assert!(tmpfile.exists());
        let _ = std::fs::remove_file(&tmpfile);
        // Placeholders for missing protected names were removed again.
        for n in [".git", ".codex", ".agents"] {
            assert!(!ws.join(n).exists(), "as {}: {n} left behind", u.name);
        }
    }
}

#[test]
fn protected_subpaths_stay_unchanged() {
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        ws.write(u, ".git/config", "[core]\n");
        ws.write(u, ".git/hooks/README", "hooks\n");
        ws.write(u, ".codex/config.toml", "model = \"x\"\n");
        let script = "echo evil >> .git/config || echo GITCONFIG-DENIED; \
             echo evil > .codex/config.toml || echo CODEX-DENIED; \
             echo evil > .git/hooks/pre-commit || echo HOOK-DENIED; \
             mkdir .agents || echo AGENTS-DENIED; \
             echo x > .agents/f || echo AGENTSFILE-DENIED; \
             rm -rf .git 2>/dev/null; mv .codex moved 2>/dev/null; \
             echo ok > normal.txt && echo NORMAL-OK";
        let out = sh(u, &ws.path, FULL_AUTO, script);
        assert_ok(&out, &format!("as {}", u.name));
        let so = stdout(&out);
        for marker in [
            "GITCONFIG-DENIED",
            "CODEX-DENIED",
            "HOOK-DENIED",
            "AGENTS-DENIED",
            "AGENTSFILE-DENIED",
            "NORMAL-OK",
        ] {
            assert!(
                so.contains(marker),
                "as {}: missing {marker} in {so}",
                u.name
            );
        }
        assert_eq!(
            std::fs::read_to_string(ws.join(".git/config")).unwrap(),
            "[core]\n"
        );
        assert_eq!(
            std::fs::read_to_string(ws.join(".codex/config.toml")).unwrap(),
            "model = \"x\"\n"
        );
        assert!(ws.join(".git/hooks/README").exists());
        assert!(!ws.join(".git/hooks/pre-commit").exists());
        assert!(!ws.join(".agents").exists(), "placeholder left behind");
        assert!(!ws.join("moved").exists());
    }
}

#[test]
fn a_signal_to_the_launcher_stops_the_command_and_still_cleans_up() {
    for u in users() {
        for round in 0..stop::STOP_ROUNDS {
            let ws = Dir::new(u, Path::new("/tmp"));
            let r = stop::stop_round(round, &ws.path, |cmd| {
                sandbox_cmd(
                    u,
                    &ws.path,
                    &["linux", "--backend", "landlock", "--full-auto", "--"],
                )
                .args(cmd)
                .spawn()
                .unwrap()
            });
            assert_eq!(r, Ok(()), "as {}", u.name);
        }
    }
}

#[test]
fn ctrl_c_on_a_terminal_stops_the_command() {
    // The terminal signals the whole foreground group, launcher and command alike: the
    // command must get it (the launcher does not send a second one) and the run end with 130.
    let u = &users()[0];
    let ws = Dir::new(u, Path::new("/tmp"));
    let bin = sandbox_bin().to_str().unwrap();
    let marker = format!("28.{}", std::process::id());
    let script = format!("touch ran; exec sleep {marker}");
    let argv = [bin, "linux", "--backend", "landlock", "--full-auto", "--"];
    let argv = [&argv[..], &["sh", "-c", &script]].concat();
    let code = stop::ctrl_c_on_a_terminal(&argv, &ws.path, &ws.join("ran"));
    assert_eq!(code, Ok(130));
    assert!(!ws.join(".agents").exists(), "placeholder left behind");
    assert!(
        !stop::still_running(&marker),
        "the command outlived the run"
    );
}

#[test]
fn a_signal_ignored_by_the_caller_stays_ignored_like_nohup() {
    // `nohup` and background jobs start the launcher with SIGHUP/SIGINT ignored; the command
    // must inherit that, as it would without the sandbox, not get the default back.
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let script = format!(
            "trap '' HUP; exec {} linux --backend landlock --full-auto -- \
             sh -c 'kill -HUP $$; echo survived'",
            sandbox_bin().display()
        );
        let out = shell_as(u, &ws.path, &script);
        assert_ok(&out, &u.name);
        assert_eq!(stdout(&out), "survived\n", "as {}", u.name);
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
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let script = format!(
            "{py} -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=2)' 2>/dev/null || echo TCP-DENIED; \
             bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}' 2>/dev/null || echo DEVTCP-DENIED; \
             {py} -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b\"x\", (\"127.0.0.1\", {udp_port}))' 2>/dev/null || echo UDP-DENIED; \
             {py} -c 'import socket; socket.socket(socket.AF_INET6)' 2>/dev/null || echo INET6-DENIED; \
             {py} -c 'import socket; a, b = socket.socketpair(); a.send(b\"ping\"); assert b.recv(4) == b\"ping\"; print(\"PAIR-OK\")'",
            py = PYTHON
        );
        let out = sh(u, &ws.path, FULL_AUTO, &script);
        assert_ok(&out, &format!("as {}", u.name));
        let so = stdout(&out);
        for marker in [
            "TCP-DENIED",
            "DEVTCP-DENIED",
            "UDP-DENIED",
            "INET6-DENIED",
            "PAIR-OK",
        ] {
            assert!(
                so.contains(marker),
                "as {}: missing {marker} in {so}",
                u.name
            );
        }
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
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let script = format!(
            "{PYTHON} -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=2); print(\"TCP-OK\")'"
        );
        let out = sh(u, &ws.path, &["--full-auto", "--network"], &script);
        assert_ok(&out, &format!("as {}", u.name));
        assert!(stdout(&out).contains("TCP-OK"));
    }
}

#[test]
fn no_new_privs_set_and_capabilities_dropped() {
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let out = sh(
            u,
            &ws.path,
            FULL_AUTO,
            "grep -E 'NoNewPrivs|CapEff|CapBnd' /proc/self/status; \
             mknod blk b 7 0 2>/dev/null || echo MKNOD-DENIED; mkfifo fifo && echo FIFO-OK",
        );
        assert_ok(&out, &u.name);
        let so = stdout(&out);
        for line in [
            "NoNewPrivs:\t1",
            "CapEff:\t0000000000000000",
            "CapBnd:\t0000000000000000",
            "MKNOD-DENIED",
            "FIFO-OK",
        ] {
            assert!(so.contains(line), "as {}: missing {line:?} in {so}", u.name);
        }
        assert!(!ws.join("blk").exists());
    }
}

#[test]
fn exit_status_contract() {
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        for extra in [FULL_AUTO, &["-s", "read-only"][..]] {
            let out = sh(u, &ws.path, extra, "exit 42");
            assert_eq!(out.status.code(), Some(42), "{extra:?} as {}", u.name);
            // In place (`exec`) the caller sees the signal itself; when the CLI waits it
            // reports 128+N.
            let out = sh(u, &ws.path, extra, "kill -TERM $$");
            assert!(
                out.status.code() == Some(143) || out.status.signal() == Some(15),
                "{extra:?} as {}: {:?}",
                u.name,
                out.status
            );
            // SIGINT keeps its default disposition inside (it is not inherited as ignored).
            let out = sh(u, &ws.path, extra, "kill -INT $$; echo survived");
            assert!(
                out.status.code() == Some(130) || out.status.signal() == Some(2),
                "{extra:?} as {}: {:?} {}",
                u.name,
                out.status,
                stdout(&out)
            );
            let out = sandbox(
                u,
                &ws.path,
                &[
                    "linux",
                    "--backend",
                    "landlock",
                    "-s",
                    "read-only",
                    "--",
                    "no-such-command-xyz",
                ],
            );
            assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
            assert!(stderr(&out).contains("not found"));
        }
        // Through a shell, a signal death reads as 128+N.
        let script = format!(
            "{} linux --backend landlock -s read-only -- sh -c 'kill -TERM $$'; echo \"rc=$?\"",
            sandbox_bin().display()
        );
        let out = shell_as(u, &ws.path, &script);
        assert!(stdout(&out).contains("rc=143"), "{}", stdout(&out));
        // Found but not executable: 126.
        let f = ws.write(u, "notexec.sh", "#!/bin/sh\necho hi\n");
        let out = sandbox(
            u,
            &ws.path,
            &[
                "linux",
                "--backend",
                "landlock",
                "-s",
                "read-only",
                "--",
                f.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    }
}

#[test]
fn read_only_preset_denies_writes_in_workspace() {
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        ws.write(u, "existing.txt", "orig\n");
        let script = "echo x > new.txt || echo NEW-DENIED; \
             echo x >> existing.txt || echo APPEND-DENIED; \
             mkdir sub || echo MKDIR-DENIED; \
             cat existing.txt; echo x > /dev/null && echo DEVNULL-OK";
        let out = sh(u, &ws.path, &["-s", "read-only"], script);
        assert_ok(&out, &u.name);
        let so = stdout(&out);
        for marker in [
            "NEW-DENIED",
            "APPEND-DENIED",
            "MKDIR-DENIED",
            "orig",
            "DEVNULL-OK",
        ] {
            assert!(
                so.contains(marker),
                "as {}: missing {marker} in {so}",
                u.name
            );
        }
        assert!(!ws.join("new.txt").exists() && !ws.join("sub").exists());
        assert_eq!(
            std::fs::read_to_string(ws.join("existing.txt")).unwrap(),
            "orig\n"
        );
    }
}

#[test]
fn signals_and_abstract_sockets_are_scoped() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    let name = format!("sbx-e2e-abstract-{}", std::process::id());
    let listener =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
    listener.set_nonblocking(true).unwrap();
    for u in users() {
        // A process outside, owned by the same user, that the sandbox must not signal.
        let mut outside = as_user(u, "sleep");
        let mut child = outside.arg("30").spawn().unwrap();
        let ws = Dir::new(u, Path::new("/tmp"));
        let script = format!(
            "kill -0 {pid} 2>/dev/null || echo SIGNAL-DENIED; \
             {PYTHON} -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"\\0{name}\")' 2>/dev/null || echo ABSTRACT-DENIED; \
             sleep 0 & kill $! 2>/dev/null && echo OWN-CHILD-OK",
            pid = child.id()
        );
        let out = sh(u, &ws.path, FULL_AUTO, &script);
        let _ = child.kill();
        let _ = child.wait();
        assert_ok(&out, &u.name);
        let so = stdout(&out);
        for marker in ["SIGNAL-DENIED", "ABSTRACT-DENIED"] {
            assert!(
                so.contains(marker),
                "as {}: missing {marker} in {so}",
                u.name
            );
        }
    }
    assert!(
        listener.accept().is_err(),
        "the abstract socket was reached"
    );
}

#[test]
fn inherited_writable_fd_is_closed() {
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let outside = Dir::new(u, Path::new("/var/tmp"));
        let target = outside.write(u, "log", "orig\n");
        // The shell opens fd 5 for appending without close-on-exec; sandbox inherits it.
        let script = format!(
            "exec 5>>{t}; {bin} linux --backend landlock --full-auto -- sh -c 'echo evil >&5 || echo FD-CLOSED'",
            t = target.display(),
            bin = sandbox_bin().display()
        );
        let out = as_user(u, "sh")
            .args(["-c", &script])
            .current_dir(&ws.path)
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        assert_ok(&out, &u.name);
        assert!(stdout(&out).contains("FD-CLOSED"), "{}", stdout(&out));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "orig\n");
    }
}

#[test]
fn host_without_landlock_refuses_and_never_runs_the_command() {
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let mut cmd = support::sandbox_cmd(
            u,
            &ws.path,
            &[
                "linux",
                "--backend",
                "landlock",
                "--full-auto",
                "--best-effort",
                "--",
                "touch",
                "ran",
            ],
        );
        cmd.env("SANDBOX_TEST_FORCE_NO_LANDLOCK", "1");
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        assert!(stderr(&out).contains("Landlock"), "{}", stderr(&out));
        assert!(!ws.join("ran").exists(), "the command ran unsandboxed");
    }
}

#[test]
fn host_without_mount_namespace_refuses_unless_best_effort() {
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let run = |extra: &[&str]| {
            let mut args = vec!["linux", "--backend", "landlock", "--full-auto"];
            args.extend_from_slice(extra);
            args.extend_from_slice(&["--", "touch", "ran"]);
            let mut cmd = support::sandbox_cmd(u, &ws.path, &args);
            cmd.env("SANDBOX_TEST_FORCE_NO_MOUNTNS", "1");
            cmd.output().unwrap()
        };
        let out = run(&[]);
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        assert!(stderr(&out).contains("filesystem."), "{}", stderr(&out));
        assert!(stderr(&out).contains("--best-effort"));
        assert!(!ws.join("ran").exists());
        let out = run(&["--best-effort"]);
        assert_ok(&out, &u.name);
        assert!(stderr(&out).contains("warning: best effort: filesystem.metadata"));
        assert!(ws.join("ran").exists());
    }
}

#[test]
fn danger_full_access_runs_unsandboxed() {
    let u = &users()[0];
    let ws = Dir::new(u, Path::new("/tmp"));
    let out = sh(
        u,
        &ws.path,
        &["-s", "danger-full-access"],
        "grep NoNewPrivs /proc/self/status",
    );
    assert_ok(&out, &u.name);
    assert!(stdout(&out).contains("NoNewPrivs:\t0"));
}

#[test]
fn profile_prints_text_and_json() {
    let u = &users()[0];
    let ws = Dir::new(u, Path::new("/tmp"));
    let out = sandbox(
        u,
        &ws.path,
        &["profile", "linux", "--backend", "landlock", "--full-auto"],
    );
    assert_ok(&out, "profile text");
    let text = stdout(&out);
    assert!(text.contains("landlock ABI"), "{text}");
    assert!(
        text.contains("EPERM when socket: domain is not AF_UNIX"),
        "{text}"
    );
    assert!(
        text.contains(&format!("keep writable {}", ws.path.display())),
        "{text}"
    );
    let out = sandbox(
        u,
        &ws.path,
        &[
            "profile",
            "linux",
            "--backend",
            "landlock",
            "--full-auto",
            "--format",
            "json",
        ],
    );
    assert_ok(&out, "profile json");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["backend"], "landlock");
    assert_eq!(v["no_new_privs"], true);
    let rules = v["landlock"]["rules"].as_array().unwrap();
    let ws_rule = rules
        .iter()
        .find(|r| r["path"] == ws.path.to_str().unwrap())
        .expect("a rule for the workspace");
    assert!(ws_rule["access"]
        .as_array()
        .unwrap()
        .contains(&serde_json::Value::from("make_reg")));
}

#[test]
fn doctor_reports_and_requires() {
    let u = &users()[0];
    let out = sandbox(u, Path::new("/"), &["doctor", "--json"]);
    assert_ok(&out, "doctor");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "filesystem.write_restrict",
        "filesystem.protected_subpaths",
        "filesystem.deny_read",
        "network.deny_all",
        "network.allowlist_egress",
        "process.pid_namespace",
        "landlock.abi",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    // Both need the command's own network namespace: true together, or false together.
    let egress = v["network.allowlist_egress"] == true;
    assert_eq!(v["network.loopback_only"], egress);
    // This machine can make one (user namespaces work): the acceptance of issue 13.
    assert!(egress || v["namespaces.user"] == false, "{v}");
    let ok = sandbox(
        u,
        Path::new("/"),
        &["doctor", "--require", "filesystem.write_restrict"],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let no = sandbox(
        u,
        Path::new("/"),
        &["doctor", "--require", "network.allowlist_egress"],
    );
    assert_eq!(no.status.code(), Some(if egress { 0 } else { 1 }));
    // An unknown key is bad input (125), told apart from a missing capability (1).
    let unknown = sandbox(u, Path::new("/"), &["doctor", "--require", "no.such.key"]);
    assert_eq!(unknown.status.code(), Some(125));
    assert!(stderr(&unknown).contains("unknown capability"));
    // Without Landlock, `auto` still has bwrap here; without both, nothing is enforced.
    let mut forced = support::sandbox_cmd(u, Path::new("/"), &["doctor", "--json"]);
    forced.env("SANDBOX_TEST_FORCE_NO_LANDLOCK", "1");
    let v: serde_json::Value = serde_json::from_slice(&forced.output().unwrap().stdout).unwrap();
    assert_eq!(v["landlock.abi"], false);
    assert_eq!(v["backend"], "bwrap");
    assert_eq!(v["filesystem.write_restrict"], true);
    let mut forced = support::sandbox_cmd(u, Path::new("/"), &["doctor", "--json"]);
    forced.env("SANDBOX_TEST_FORCE_NO_LANDLOCK", "1");
    forced.env("SANDBOX_TEST_FORCE_NO_USERNS", "1");
    let v: serde_json::Value = serde_json::from_slice(&forced.output().unwrap().stdout).unwrap();
    assert_eq!(v["backend"], serde_json::Value::Null);
    assert_eq!(v["filesystem.write_restrict"], false);
    let no = support::sandbox_cmd(
        u,
        Path::new("/"),
        &["doctor", "--require", "filesystem.write_restrict"],
    )
    .env("SANDBOX_TEST_FORCE_NO_LANDLOCK", "1")
    .env("SANDBOX_TEST_FORCE_NO_USERNS", "1")
    .output()
    .unwrap();
    assert_eq!(no.status.code(), Some(1));
}

#[test]
fn denied_paths_and_deny_glob_matches_are_masked() {
    for u in users() {
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
        // Masks refuse like bwrap's: the denied directory cannot be listed, the denied file
        // cannot be read or written, and nothing reaches the host.
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
            u,
            &ws.path,
            &["--config", cfg_file.to_str().unwrap()],
            &script,
        );
        assert_ok(&out, &u.name);
        let so = stdout(&out);
        for marker in [
            "SECRET-HIDDEN",
            "DIR-REFUSED",
            "SECRET-RO",
            "PRIVATE-EMPTY",
            "READ-REFUSED",
            "WRITE-REFUSED",
            "WS-OK",
        ] {
            assert!(
                so.contains(marker),
                "as {}: missing {marker} in {so}",
                u.name
            );
        }
        assert!(!so.contains("topsecret"));
        assert_eq!(
            std::fs::read_to_string(ws.join("private.txt")).unwrap(),
            "hidden\n"
        );
        assert!(!secret.join("new").exists());

        // Deny globs: matches existing at launch are masked like deny rules (reads and writes
        // are refused, the host file is untouched); other files work.
        ws.write(u, "sub/a.env", "SECRET=1\n");
        ws.write(u, "sub/a.txt", "plain\n");
        let out = sh(
            u,
            &ws.path,
            &["--full-auto", "--deny-read", "**/*.env"],
            "test -s sub/a.env || echo ENV-EMPTY; cat sub/a.env || echo ENV-REFUSED; \
             echo x > sub/a.env || echo ENV-RO; cat sub/a.txt",
        );
        assert_ok(&out, &u.name);
        let so = stdout(&out);
        for marker in ["ENV-EMPTY", "ENV-REFUSED", "ENV-RO"] {
            assert!(
                so.contains(marker),
                "as {}: missing {marker} in {so}",
                u.name
            );
        }
        assert!(
            stderr(&out).contains("sub/a.env: Permission denied"),
            "as {}: {}",
            u.name,
            stderr(&out)
        );
        assert!(
            so.contains("plain") && !so.contains("SECRET"),
            "as {}: {so}",
            u.name
        );
        assert_eq!(
            std::fs::read_to_string(ws.join("sub/a.env")).unwrap(),
            "SECRET=1\n"
        );

        // A root-wide glob cannot be expanded: refused, nothing runs.
        let out = sh(
            u,
            &ws.path,
            &["--full-auto", "--deny-read", "/**/*.env"],
            "touch ran",
        );
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("whole filesystem"),
            "{}",
            stderr(&out)
        );
        assert!(!ws.join("ran").exists());
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
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        for (name, args) in &checks {
            let script = format!(
                "{PYTHON} -c 'import ctypes; l = ctypes.CDLL(None, use_errno=True); \
                 r = l.syscall({args}); print(\"RESULT\", r, ctypes.get_errno())'"
            );
            let out = sh(u, &ws.path, &["-s", "read-only"], &script);
            assert_ok(&out, &u.name);
            assert!(
                stdout(&out).contains("RESULT -1 1"),
                "as {}: {name}: {}",
                u.name,
                stdout(&out)
            );
        }
    }
}

#[test]
fn restricted_read_view_hides_the_rest() {
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let other = Dir::new(u, Path::new("/var/tmp"));
        other.write(u, "f", "outside\n");
        let cfg = Dir::new(u, Path::new("/tmp"));
        let cfg_file = cfg.write(
            u,
            "m.toml",
            "default_permissions = \"m\"\n[permissions.m.filesystem]\n\":minimal\" = \"read\"\n\
             \":project_roots\" = { \".\" = \"write\" }\n",
        );
        let script = format!(
            "cat /etc/hostname > /dev/null && echo ETC-OK; \
             cat {o}/f 2>/dev/null || echo OTHER-DENIED; \
             echo ok > a.txt && echo WS-OK",
            o = other.path.display()
        );
        let out = sh(
            u,
            &ws.path,
            &["--config", cfg_file.to_str().unwrap()],
            &script,
        );
        assert_ok(&out, &u.name);
        let so = stdout(&out);
        for marker in ["ETC-OK", "OTHER-DENIED", "WS-OK"] {
            assert!(
                so.contains(marker),
                "as {}: missing {marker} in {so}",
                u.name
            );
        }
    }
}

#[test]
fn multiprocessing_works_with_a_private_dev_shm() {
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let marker = format!("sbx-e2e-shm-{}-{}", std::process::id(), u.name);
        let script = format!(
            "{PYTHON} -c 'import multiprocessing as mp, operator\n\
             with mp.Pool(2) as p: print(\"POOL\", p.starmap(operator.mul, [(2, 3), (4, 5)]))\n'; \
             echo x > /dev/shm/{marker} && echo SHM-WRITE-OK"
        );
        let out = sh(u, &ws.path, FULL_AUTO, &script);
        assert_ok(&out, &u.name);
        let so = stdout(&out);
        assert!(so.contains("POOL [6, 20]"), "as {}: {so}", u.name);
        assert!(so.contains("SHM-WRITE-OK"), "as {}: {so}", u.name);
        assert!(
            !Path::new("/dev/shm").join(&marker).exists(),
            "the sandbox's /dev/shm reached the host"
        );
    }
}

#[test]
fn links_cannot_move_files_between_trees() {
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let outside = Dir::new(u, Path::new("/var/tmp"));
        let src = outside.write(u, "owned", "outside\n");
        let script = format!(
            "ln {src} stolen 2>/dev/null || echo LINK-IN-DENIED; \
             echo hi > f && ln f g && echo LINK-WITHIN-OK; \
             mkdir d && mv f d/ && echo MOVE-WITHIN-OK; \
             mv d/f {out}/ 2>/dev/null || echo MOVE-OUT-DENIED",
            src = src.display(),
            out = outside.path.display()
        );
        // With the mount namespace, and with Landlock alone (REFER does the work there).
        for force_no_mountns in [false, true] {
            let mut args = vec!["linux", "--backend", "landlock", "--full-auto"];
            if force_no_mountns {
                args.push("--best-effort");
            }
            args.extend_from_slice(&["--", "sh", "-c", &script]);
            let mut cmd = support::sandbox_cmd(u, &ws.path, &args);
            if force_no_mountns {
                cmd.env("SANDBOX_TEST_FORCE_NO_MOUNTNS", "1");
            }
            let out = cmd.output().unwrap();
            assert_ok(&out, &u.name);
            let so = stdout(&out);
            for marker in [
                "LINK-IN-DENIED",
                "LINK-WITHIN-OK",
                "MOVE-WITHIN-OK",
                "MOVE-OUT-DENIED",
            ] {
                assert!(
                    so.contains(marker),
                    "as {} (no mountns: {force_no_mountns}): missing {marker} in {so}",
                    u.name
                );
            }
            assert!(!ws.join("stolen").exists());
            assert!(!outside.join("f").exists());
            for p in ["f", "g", "d"] {
                let _ = std::fs::remove_dir_all(ws.join(p))
                    .or_else(|_| std::fs::remove_file(ws.join(p)));
            }
        }
    }
}

#[test]
fn concurrent_runs_share_placeholders_and_leave_none() {
    let u = &users()[0];
    let ws = Dir::new(u, Path::new("/tmp"));
    for _round in 0..3 {
        let children: Vec<_> = (0..6)
            .map(|i| {
                let script = format!(
                    "sleep 0.0{i}; mkdir .agents/x 2>/dev/null && echo BREACH; \
                     mkdir .codex 2>/dev/null && echo BREACH; echo DONE"
                );
                support::sandbox_cmd(
                    u,
                    &ws.path,
                    &[
                        "linux",
                        "--backend",
                        "landlock",
                        "--full-auto",
                        "--",
                        "sh",
                        "-c",
                        &script,
                    ],
                )
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert_ok(&out, "concurrent run");
            assert_eq!(stdout(&out).trim(), "DONE", "{}", stderr(&out));
        }
    }
    for n in [".git", ".codex", ".agents"] {
        assert!(!ws.join(n).exists(), "{n} left behind");
    }
}

/// The runtime directory holding the per-user cache (and so the mount namespace marker) for
/// one test: private to `user`, removed on drop.
fn private_runtime_dir(user: &User) -> Dir {
    let d = Dir::new(user, Path::new("/tmp"));
    std::fs::set_permissions(&d.path, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    d
}

/// `sandbox ARGS…` as `user` with its own cache directory; `no_sys_admin` drops
/// CAP_SYS_ADMIN from the bounding set first, so root cannot make a mount namespace at all.
fn run_with_runtime(
    user: &User,
    ws: &Path,
    rt: &Path,
    args: &[&str],
    no_sys_admin: bool,
    force_no_mountns: bool,
) -> std::process::Output {
    let mut cmd = if no_sys_admin {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--bounding-set", "-sys_admin"]).arg(sandbox_bin());
        c
    } else {
        as_user(user, sandbox_bin())
    };
    cmd.args(args)
        .current_dir(ws)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &user.home)
        .env("LANG", "C")
        .env("XDG_RUNTIME_DIR", rt);
    if force_no_mountns {
        cmd.env("SANDBOX_TEST_FORCE_NO_MOUNTNS", "1");
    }
    cmd.output().unwrap()
}

/// A launch remembers that the mount namespace works (so later launches fork no trial), and
/// a wrong marker (forged, or stale after the host changed) weakens nothing: the run refuses
/// or degrades exactly like a fresh probe on a host without the namespace, nothing runs
/// before that decision, and the marker is forgotten. The test hook ignores the marker.
#[test]
fn a_wrong_mount_namespace_marker_fails_closed_or_degrades_as_before() {
    for u in users() {
        for preset in [&["--full-auto"][..], &["-s", "read-only"][..]] {
            let ws = Dir::new(u, Path::new("/tmp"));
            let rt = private_runtime_dir(u);
            let marker = rt.join("sandbox/mountns-ok");
            let args = |extra: &[&'static str]| {
                let mut v = vec!["linux", "--backend", "landlock"];
                v.extend_from_slice(preset);
                v.extend_from_slice(extra);
                v.extend_from_slice(&["--", "sh", "-c", "echo RAN"]);
                v
            };
            let run = |extra: &[&'static str], no_sys_admin, force| {
                run_with_runtime(u, &ws.path, &rt.path, &args(extra), no_sys_admin, force)
            };
            let out = run(&[], false, false);
            assert_ok(&out, &u.name);
            assert!(stdout(&out).contains("RAN"));
            let forged = std::fs::read(&marker).expect("a working launch leaves the marker");
            assert!(String::from_utf8_lossy(&forged).contains(&format!("uid={}", u.uid)));

            // The test hook is decided before the marker: same refusal and degradation.
            let hooked = run(&[], false, true);
            assert_eq!(hooked.status.code(), Some(125), "{}", stderr(&hooked));
            assert!(!stdout(&hooked).contains("RAN"));
            assert!(
                stderr(&hooked).contains("--best-effort"),
                "{}",
                stderr(&hooked)
            );
            let hooked_be = run(&["--best-effort"], false, true);
            assert_ok(&hooked_be, &u.name);
            assert!(stderr(&hooked_be).contains("warning: best effort: filesystem.metadata"));

            if !u.is_root() {
                continue;
            }
            // Root without CAP_SYS_ADMIN really cannot make a mount namespace. First what a
            // fresh probe says there (no marker)…
            std::fs::remove_file(&marker).unwrap();
            let fresh = run(&[], true, false);
            assert_eq!(fresh.status.code(), Some(125), "{}", stderr(&fresh));
            assert!(!marker.exists(), "a negative answer is never remembered");
            let fresh_be = run(&["--best-effort"], true, false);
            assert_ok(&fresh_be, "root without CAP_SYS_ADMIN");
            assert!(stdout(&fresh_be).contains("RAN"));
            // …and the same with a forged marker: identical messages, nothing ran, and the
            // marker is gone afterwards.
            std::fs::write(&marker, &forged).unwrap();
            let out = run(&[], true, false);
            assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
            assert_eq!(stderr(&out), stderr(&fresh));
            assert!(!stdout(&out).contains("RAN"), "the command ran");
            assert!(!marker.exists(), "the wrong marker is forgotten");
            std::fs::write(&marker, &forged).unwrap();
            let out = run(&["--best-effort"], true, false);
            assert_ok(&out, "root without CAP_SYS_ADMIN, forged marker");
            assert_eq!(stderr(&out), stderr(&fresh_be));
            assert_eq!(stdout(&out), "RAN\n");
            assert!(!marker.exists(), "the wrong marker is forgotten");
            // The hook gives the same answer as the real host.
            assert_eq!(stderr(&hooked), stderr(&fresh));
        }
    }
}
