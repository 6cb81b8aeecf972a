//! A run removes a placeholder another run made only when a record the sandboxed command
//! cannot write says a run of its user made that very directory
//! ([`sandbox_linux::placeholder::records`]). Before, a `user.sandbox.placeholder` xattr on
//! the directory said so, and the command could set it on any empty directory it may write: a
//! later run that mounted over that path removed the directory when it ended.
#![cfg(target_os = "linux")]

mod support;

use support::*;

/// Policy B: the workspace writable, `foo` in it read-only.
const FOO_READ_ONLY: &str = r#"
default_permissions = "t"
[permissions.t.filesystem]
":root" = "read"
":project_roots" = { "." = "write", "foo" = "read" }
"#;

/// Run 1 (`--full-auto`, `foo` writable) makes an empty `foo`, marks it as earlier versions
/// marked placeholders, and tries to forge the record a launcher writes for a placeholder it
/// made (the records directory is read-only in every run). Run 2 (`foo` read-only) holds
/// `foo` and mounts over it; when it ends, `foo` must still be there.
#[test]
fn a_directory_the_command_dressed_up_as_a_placeholder_stays() {
    for c in contract_cases() {
        let forge = format!(
            "mkdir foo || exit 1; \
             {PYTHON} -c 'import os; os.setxattr(\"foo\", \"user.sandbox.placeholder\", b\"1\")' \
               && echo MARKED; \
             ns=$(stat -c %w foo | sed -E 's/^[^.]*\\.0*([0-9]+) .*/\\1/'); \
             enc=$(printf %s \"$PWD/foo\" | sed 's/%/%25/g; s|/|%2F|g'); \
             touch \"/tmp/sandbox-$(id -u)/placeholder.$(stat -c %d.%i.%W foo).${{ns:-0}}.$enc\" \
               && echo FORGED; \
             echo DONE"
        );
        let out = c.sh_markers(&["--full-auto"], &forge, &["DONE"]);
        let so = stdout(&out);
        assert!(
            so.contains("MARKED"),
            "{c}: could not set the xattr\n{so}\n{}",
            stderr(&out)
        );
        let cfg = c.config(FOO_READ_ONLY);
        let second = c.sh_markers(
            &cfg.args(),
            "touch foo/f 2>/dev/null || echo READ-ONLY",
            &["READ-ONLY"],
        );
        assert!(
            c.join("foo").is_dir(),
            "{c}: the second run removed the command's directory\n{so}\n{}",
            stderr(&second)
        );
        assert!(
            !so.contains("FORGED"),
            "{c}: the command wrote into the records directory"
        );
    }
}

/// The records directory is read-only for the command, also where `/tmp` is a writable root,
/// and `explain` says so; a policy that makes it a writable root of its own is refused.
#[test]
fn the_records_directory_is_read_only_for_the_command() {
    for c in contract_cases() {
        let dir = format!("/tmp/sandbox-{}", c.user.uid);
        let script = format!(
            "touch {dir}/placeholder.1.2.3.4 2>/dev/null && echo WROTE; \
             mv {dir} {dir}.moved 2>/dev/null && echo MOVED; echo DONE"
        );
        let out = c.sh_markers(&["--full-auto"], &script, &["DONE"]);
        let so = stdout(&out);
        assert!(!so.contains("WROTE") && !so.contains("MOVED"), "{c}: {so}");
        let file = std::path::PathBuf::from(format!("{dir}/placeholder.1.2.3.4"));
        assert!(!file.exists());
        assert!(
            !explain_allows(c.user, &c.ws.path, &["--full-auto"], "write", &file),
            "{c}: explain lets the command write {}",
            file.display()
        );
        // A root cannot be read-only under itself: the directory as a writable root is
        // refused.
        let out = c.run(&["--full-auto", "--writable-root", &dir], &["true"]);
        assert_eq!(code(&out), 125, "{c}: {}", stderr(&out));
        assert_contains(&stderr(&out), "placeholder records");
    }
}

/// Two overlapping runs of one user: the first makes the placeholder `.agents` (missing in the
/// workspace, protected by `--full-auto`) and ends first, while the second still holds it; the
/// second, which did not make it, finds the first run's record and removes it when it ends.
#[test]
fn the_last_run_of_the_user_removes_a_recorded_placeholder() {
    for c in contract_cases() {
        let _turn = turn();
        let spawn = |script: &str| {
            sandbox_cmd(
                c.user,
                &c.ws.path,
                &linux_args(c.backend, &["--full-auto"], &["sh", "-c", script]),
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn sandbox")
        };
        let wait = |name: &str| {
            format!("i=0; while [ ! -e {name} ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done")
        };
        let first = spawn(&format!("touch first-up; {}", wait("second-up")));
        assert!(
            wait_for(&c.join("first-up")),
            "{c}: the first run did not start"
        );
        assert!(c.join(".agents").is_dir(), "{c}: no placeholder");
        let second = spawn(&format!("touch second-up; {}", wait("first-done")));
        let first = first.wait_with_output().unwrap();
        c.assert_ok(&first);
        assert!(
            c.join(".agents").is_dir(),
            "{c}: the first run removed the placeholder the second holds"
        );
        std::fs::write(c.join("first-done"), "").unwrap();
        let second = second.wait_with_output().unwrap();
        c.assert_ok(&second);
        assert!(
            !c.join(".agents").exists(),
            "{c}: the last run left the placeholder"
        );
    }
}
