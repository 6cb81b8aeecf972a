//! Mismatches the differential suite (tests/differential.rs) found between the oracle and the
//! kernel, each kept as its minimized case: both Linux backends, as root and as `sbxtest`.

mod support;

use support::*;

/// `--deny-read '**/*.env'` and a directory `x.env`: the kernel denies the directory with
/// everything in it, and so must `explain` (it used to allow `x.env/notes.txt`).
#[test]
fn a_glob_matching_a_directory_denies_everything_in_it() {
    for user in users() {
        let ws = Dir::new(user, std::path::Path::new("/tmp"));
        ws.write(user, "x.env/notes.txt", "secret\n");
        ws.write(user, "plain/notes.txt", "public\n");
        let control = shell_as(user, &ws.path, "cat x.env/notes.txt");
        assert_ok(&control, "unsandboxed control");
        let policy = ["--full-auto", "--deny-read", "**/*.env"];
        let mut explain: Vec<&str> = vec!["explain"];
        explain.extend(policy);
        explain.extend(["--op", "read", "x.env/notes.txt", "plain/notes.txt"]);
        let e = sandbox(user, &ws.path, &explain);
        let text = stdout(&e);
        assert!(
            text.lines()
                .any(|l| l.starts_with("deny") && l.contains("x.env/notes.txt")),
            "explain must deny a file inside a matching directory:\n{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("allow") && l.contains("plain/notes.txt")),
            "{text}"
        );
        for backend in linux_backends(user, &ws.path) {
            let mut args: Vec<&str> = vec!["linux", "--backend", backend];
            args.extend(policy);
            args.extend([
                "--",
                "sh",
                "-c",
                "cat x.env/notes.txt; echo rc=$?; cat plain/notes.txt",
            ]);
            let out = sandbox(user, &ws.path, &args);
            let o = stdout(&out);
            assert!(!o.contains("secret"), "{backend} as {}: {o}", user.name);
            assert!(
                o.contains("rc=1") && o.contains("public"),
                "{backend} as {}: {o}",
                user.name
            );
        }
    }
}

/// A working directory the policy denies: both backends refuse alike (125, the rule named);
/// bwrap used to fail inside its own setup with exit 1.
#[test]
fn a_denied_working_directory_is_refused_by_every_backend() {
    for user in users() {
        let base = Dir::new(user, std::path::Path::new("/tmp"));
        let ws = base.join("ws");
        std::fs::create_dir(&ws).unwrap();
        let cfg = base.write(
            user,
            "cfg.toml",
            &format!(
                "default_permissions = \"d\"\n[permissions.d.filesystem]\n\":root\" = \"read\"\n\":project_roots\" = {{ \".\" = \"write\" }}\n\"{}\" = \"none\"\n",
                ws.display()
            ),
        );
        let cfg = cfg.to_str().unwrap();
        let ws_s = ws.to_str().unwrap();
        for backend in linux_backends(user, &base.path) {
            let out = sandbox(
                user,
                &base.path,
                &[
                    "linux",
                    "--backend",
                    backend,
                    "-C",
                    ws_s,
                    "--config",
                    cfg,
                    "--",
                    "true",
                ],
            );
            assert_eq!(
                out.status.code(),
                Some(125),
                "{backend} as {}: {}",
                user.name,
                stderr(&out)
            );
            let err = stderr(&out);
            assert!(
                err.contains("working directory") && err.contains("deny rule"),
                "{backend} as {}: {err}",
                user.name
            );
        }
    }
}

/// A protected directory holding a deny-glob match: the pins that keep the match from being
/// renamed away were fresh (writable) bind mounts inside the read-only directory, so under
/// Landlock the command could write there again. Found by the differential suite (seed 10).
#[test]
fn a_deny_glob_match_inside_a_protected_directory_keeps_it_read_only() {
    for user in users() {
        let ws = Dir::new(user, std::path::Path::new("/tmp"));
        ws.write(user, "docs/sub/.gitx", "hidden\n");
        ws.write(user, "docs/sub/notes", "kept\n");
        for backend in linux_backends(user, &ws.path) {
            let flags = [
                "--full-auto",
                "--deny-read",
                "**/.gitx",
                "-c",
                r#"sandbox.protected_names=[".git","docs"]"#,
            ];
            let script = "echo x >> docs/sub/notes; echo rc=$?";
            let out = sandbox(
                user,
                &ws.path,
                &linux_args(backend, &flags, &["sh", "-c", script]),
            );
            let o = stdout(&out);
            assert!(
                o.contains("rc=") && !o.contains("rc=0"),
                "{backend} as {}: {o}{}",
                user.name,
                stderr(&out)
            );
            assert_eq!(
                std::fs::read_to_string(ws.join("docs/sub/notes")).unwrap(),
                "kept\n",
                "{backend} as {}",
                user.name
            );
        }
    }
}

/// A `.git` pointer file to a gitdir outside the workspace, and an explicit write rule on
/// that gitdir: the oracle lets the command write there (a writable root at a protected path
/// re-grants it). Landlock used to keep it read-only (EROFS) and the Windows plan denied it;
/// bwrap refuses or agrees. Seed 1796577780132 of the differential suite.
#[test]
fn a_gitdir_with_its_own_write_rule_stays_writable() {
    for user in users() {
        let base = Dir::new(user, std::path::Path::new("/tmp"));
        base.write(user, "out/gitdir/config", "[core]\n");
        base.write(user, "ws/.git", "gitdir: ../out/gitdir\n");
        let gitdir = base.path.join("out/gitdir");
        let ws = base.path.join("ws");
        let rule = format!("{}", gitdir.display());
        let policy = ["--full-auto", "--writable-root", rule.as_str()];
        assert!(
            explain_allows(user, &ws, &policy, "write", &gitdir.join("config")),
            "the oracle allows it"
        );
        for backend in linux_backends(user, &ws) {
            let out = sh(
                backend,
                user,
                &ws,
                &policy,
                "echo x >> ../out/gitdir/config && echo WROTE; echo y > .git 2>/dev/null || echo POINTER-KEPT",
            );
            if backend == "bwrap" && out.status.code() == Some(125) {
                continue; // an explicit refusal is allowed
            }
            let o = stdout(&out);
            assert!(
                o.contains("WROTE") && o.contains("POINTER-KEPT"),
                "{backend} as {}: {o}{}",
                user.name,
                stderr(&out)
            );
        }
    }
}
