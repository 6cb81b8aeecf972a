//! End-to-end: path rules the policy states are what the kernel enforces, on both Linux
//! backends, as root and as `sbxtest` (issue 9, items 2, 3, 6, 7, 10 and 11). Each case also
//! asks `sandbox explain` and checks it agrees with what happened.
#![cfg(target_os = "linux")]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::*;

/// The backends to run a case under: both Linux backends where bwrap can run, plus `auto`
/// forced to fall back to Landlock (as on a host without user namespaces).
fn backends(user: &User, ws: &Path) -> Vec<(&'static str, bool)> {
    let mut v: Vec<(&'static str, bool)> = linux_backends(user, ws)
        .into_iter()
        .map(|b| (b, false))
        .collect();
    v.push(("auto", true));
    v
}

/// `sandbox linux --backend B ARGS… -- sh -c SCRIPT` as `user` in `cwd`.
fn run(user: &User, cwd: &Path, backend: (&str, bool), args: &[&str], script: &str) -> Output {
    run_bin(sandbox_bin(), user, cwd, backend, args, script)
}

/// [`run`] with the launcher at `bin` (a copy placed for the case).
fn run_bin(
    bin: &Path,
    user: &User,
    cwd: &Path,
    backend: (&str, bool),
    args: &[&str],
    script: &str,
) -> Output {
    let mut cmd = clean_cmd(user, cwd, bin);
    cmd.args(linux_args(backend.0, args, &["sh", "-c", script]));
    if backend.1 {
        cmd.env("SANDBOX_TEST_FORCE_NO_USERNS", "1");
    }
    let _turn = turn();
    cmd.output().unwrap()
}

/// A workspace as `user` (holding a file `marker`) with a copy of the launcher at
/// `target/release/sandbox`, as cargo leaves it; returns the workspace and the copy.
fn ws_with_launcher(user: &User) -> (Dir, PathBuf) {
    let ws = Dir::new(user, Path::new("/tmp"));
    let bin_dir = ws.join("target/release");
    std::fs::create_dir_all(bin_dir.join("deps")).unwrap();
    let bin = bin_dir.join("sandbox");
    let ok = std::process::Command::new("cp")
        .arg(sandbox_bin())
        .arg(&bin)
        .status()
        .unwrap();
    assert!(ok.success());
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    ws.write(user, "marker", "");
    (ws, bin)
}

/// A fresh world-writable sticky directory (mode 1777, as /tmp), removed with the `TempDir`.
fn sticky_dir() -> (tempfile::TempDir, PathBuf) {
    let shared = tempfile::Builder::new()
        .prefix("sbx-e2e-sticky-")
        .tempdir_in("/tmp")
        .unwrap();
    let sd = shared.path().canonicalize().unwrap();
    std::fs::set_permissions(&sd, std::fs::Permissions::from_mode(0o1777)).unwrap();
    (shared, sd)
}

/// A config file (outside the workspace) owned by `user`.
fn config(user: &User, text: &str) -> (Dir, String) {
    let d = Dir::new(user, Path::new("/tmp"));
    let p = d.write(user, "config.toml", text);
    let s = p.to_str().unwrap().to_string();
    (d, s)
}

/// A policy stated in a config file: a workspace as `user` holding `files` (each `orig\n`),
/// and the config file, outside it, giving profile `p` the project root's `rules`.
struct Stated {
    user: &'static User,
    ws: Dir,
    _cfg: Dir,
    cfg: String,
}

impl Stated {
    /// `rules` is the project root's inline table (the whole filesystem stays readable),
    /// possibly followed by further config sections.
    fn new(user: &'static User, rules: &str, files: &[&str]) -> Stated {
        let toml = format!(
            "default_permissions = \"p\"\n[permissions.p.filesystem]\n\":root\" = \"read\"\n\":project_roots\" = {rules}\n"
        );
        let (_cfg, cfg) = config(user, &toml);
        let ws = Dir::new(user, Path::new("/tmp"));
        for f in files {
            ws.write(user, f, "orig\n");
        }
        Stated {
            user,
            ws,
            _cfg,
            cfg,
        }
    }

    /// `--config FILE -C WS`.
    fn args(&self) -> [&str; 4] {
        ["--config", &self.cfg, "-C", self.ws.path.to_str().unwrap()]
    }

    /// Runs `script` under `be`, panics unless it exited 0, and returns the output with a
    /// description of the run (user, backend, stderr) for failure messages.
    fn run_ok(&self, be: (&str, bool), script: &str) -> (Output, String) {
        let o = run(self.user, &self.ws.path, be, &self.args(), script);
        let what = format!("{} {be:?}: {}", self.user.name, stderr(&o));
        assert_ok(&o, &what);
        (o, what)
    }

    /// Whether `sandbox explain` allows `op` on `rel` in the workspace.
    fn allows(&self, op: &str, rel: &str) -> bool {
        explain_allows(
            self.user,
            &self.ws.path,
            &self.args(),
            op,
            &self.ws.join(rel),
        )
    }
}

const CARVED: &str = r#"{ "." = "write", "docs" = "read", "docs/gen" = "write", "lib/vendor" = "read", ".git" = "write", ".git/hooks" = "read" }"#;

/// Item 2: a `read` rule inside a writable root is read-only under every backend, a `write`
/// rule inside it writable again (deepest wins), and the directories leading to it cannot be
/// renamed to carry the rule away.
#[test]
fn read_rules_inside_writable_roots_are_enforced() {
    for user in users() {
        let files = [
            "docs/a",
            "docs/gen/a",
            "lib/vendor/a",
            ".git/hooks/a",
            ".git/a",
        ];
        let s = Stated::new(user, CARVED, &files);
        let (ws, args) = (&s.ws, s.args());
        for be in backends(user, &ws.path) {
            let script = "echo x > docs/new; echo x >> docs/a; echo x > docs/gen/new; \
                          echo x > lib/vendor/new; mv lib lib2; mv lib2/vendor lib2/v2; \
                          echo x > .git/hooks/new; echo x > .git/new; mv docs docs2; true";
            let (_, what) = s.run_ok(be, script);
            assert!(!ws.join("docs/new").exists(), "docs/new created: {what}");
            assert_eq!(
                std::fs::read_to_string(ws.join("docs/a")).unwrap(),
                "orig\n",
                "{what}"
            );
            assert!(
                ws.join("docs/gen/new").exists(),
                "docs/gen not writable: {what}"
            );
            assert!(
                !ws.join("lib/vendor/new").exists(),
                "lib/vendor/new created: {what}"
            );
            assert!(ws.join("lib/vendor/a").exists(), "lib renamed away: {what}");
            assert!(
                !ws.join(".git/hooks/new").exists(),
                ".git/hooks/new created: {what}"
            );
            assert!(ws.join(".git/new").exists(), ".git not writable: {what}");
            assert!(ws.join("docs/a").exists(), "docs renamed: {what}");
            for f in ["docs/gen/new", ".git/new"] {
                let _ = std::fs::remove_file(ws.join(f));
            }
        }
        // Without a private mount namespace Landlock cannot carve them out: refused, and
        // named as a gap with --best-effort.
        for best_effort in [false, true] {
            let mut a = vec!["linux", "--backend", "landlock"];
            if best_effort {
                a.push("--best-effort");
            }
            a.extend_from_slice(&args);
            a.extend_from_slice(&["--", "true"]);
            let mut cmd = sandbox_cmd(user, &ws.path, &a);
            cmd.env("SANDBOX_TEST_FORCE_NO_MOUNTNS", "1");
            let o = {
                let _turn = turn();
                cmd.output().unwrap()
            };
            let what = format!("{} no mount namespace: {}", user.name, stderr(&o));
            if best_effort {
                assert_ok(&o, &what);
                assert!(stderr(&o).contains("filesystem.read_paths"), "{what}");
            } else {
                assert_eq!(code(&o), 125, "{what}");
            }
        }
        // The oracle says the same.
        let ex = |op, rel: &str| s.allows(op, rel);
        assert!(!ex("create", "docs/new"));
        assert!(!ex("write", "docs/a"));
        assert!(ex("create", "docs/gen/new"));
        assert!(!ex("create", "lib/vendor/new"));
        assert!(!ex("create", ".git/hooks/new"));
        assert!(ex("create", ".git/new"));
    }
}

const MISSING: &str = r#"{ "." = "write", "later" = "read", "secret" = "deny" }
[sandbox]
protected_names = [".git", ".env"]
"#;

/// Item 3: read and deny rules, and protected names, on paths that do not exist yet inside a
/// writable root stay uncreatable (and a denied one unreadable), on every backend.
#[test]
fn rules_on_missing_paths_keep_them_uncreatable() {
    for user in users() {
        let s = Stated::new(user, MISSING, &[]);
        let ws = &s.ws;
        for be in backends(user, &ws.path) {
            let script = "mkdir later; echo x > later/f; echo x > later; \
                          mkdir secret; echo x > secret/f; echo x > secret; \
                          echo x > .env; mkdir .env; echo x > .env/f; \
                          if ls secret >/dev/null 2>&1; then echo LISTED-SECRET; fi; \
                          echo x > ok";
            let (o, what) = s.run_ok(be, script);
            assert!(ws.join("ok").exists(), "the command did not run: {what}");
            assert!(!stdout(&o).contains("LISTED-SECRET"), "{what}");
            for p in ["later", "secret", ".env"] {
                assert!(
                    !ws.join(p).exists(),
                    "{p} created, or its placeholder left behind: {what}"
                );
            }
            assert!(!stderr(&o).contains("is skipped"), "{what}");
            let _ = std::fs::remove_file(ws.join("ok"));
        }
        let ex = |op, rel: &str| s.allows(op, rel);
        for p in ["later", "later/f", "secret", "secret/f", ".env", ".env/f"] {
            assert!(!ex("create", p), "explain allows creating {p}");
        }
        assert!(!ex("read", "secret/f"));
        assert!(ex("read", "later/f"));
    }
}

/// Item 6: the `sandbox` executable inside a writable root cannot be replaced, rewritten or
/// renamed away by the command (nor the directories leading to it), and `explain` says so.
#[test]
fn the_launcher_inside_a_writable_root_is_read_only() {
    for user in users() {
        let (ws, bin) = ws_with_launcher(user);
        let before = std::fs::read(&bin).unwrap();
        let w = ws.path.to_str().unwrap();
        for be in backends(user, &ws.path) {
            let script = "echo evil > target/release/sandbox; \
                          mv target/release/sandbox target/release/old; \
                          mv target/release target/rel2; mv target target2; \
                          rm -f target/release/sandbox; true";
            let o = run_bin(&bin, user, &ws.path, be, &["--full-auto", "-C", w], script);
            assert_ok(&o, &format!("{} {be:?}", user.name));
            let what = format!("{} {be:?}: {}", user.name, stderr(&o));
            assert!(bin.exists(), "the launcher was moved away: {what}");
            assert!(
                std::fs::read(&bin).unwrap() == before,
                "the launcher was rewritten: {what}"
            );
            assert!(
                !ws.join("target2").exists() && !ws.join("target/rel2").exists(),
                "{what}"
            );
        }
        let o = as_user(user, &bin)
            .args(["explain", "--full-auto", "-C", w, "--op", "write"])
            .arg(&bin)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        assert_eq!(code(&o), 1, "{}", stdout(&o));
        assert_contains(&stdout(&o), "the sandbox executable");
    }
}

/// Red team: a launcher inside a writable root with a second hard link (cargo links
/// `target/release/sandbox` to `target/release/deps/sandbox-HASH`) could be changed through the
/// other name, so the launch is refused (125, with the way out) before the command runs.
#[test]
fn a_hard_linked_launcher_inside_a_writable_root_is_refused() {
    for user in users() {
        let (ws, bin) = ws_with_launcher(user);
        std::fs::hard_link(&bin, ws.join("target/release/deps/sandbox-0123")).unwrap();
        let w = ws.path.to_str().unwrap();
        for be in backends(user, &ws.path) {
            let script = "chmod 777 target/release/deps/sandbox-*; echo ran > ran";
            let o = run_bin(&bin, user, &ws.path, be, &["--full-auto", "-C", w], script);
            let what = format!("{} {be:?}: {}", user.name, stderr(&o));
            assert_eq!(code(&o), 125, "{what}");
            assert!(
                stderr(&o).contains("hard links")
                    && stderr(&o).contains("outside the writable roots"),
                "{what}"
            );
            assert!(!ws.join("ran").exists(), "the command ran: {what}");
            let mode = std::fs::metadata(&bin).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, 0o755, "{what}");
        }
    }
}

/// Item 6, bwrap: a bwrap binary inside a writable root is never used; the launch is refused.
#[test]
fn a_bwrap_inside_a_writable_root_is_refused() {
    if !Path::new("/usr/bin/bwrap").exists() {
        eprintln!("notice: no /usr/bin/bwrap here: skipped");
        return;
    }
    for user in users() {
        let ws = Dir::new(user, Path::new("/tmp"));
        let o = sandbox(
            user,
            &ws.path,
            &[
                "linux",
                "--backend",
                "bwrap",
                "--full-auto",
                "--writable-root",
                "/usr/bin",
                "--",
                "true",
            ],
        );
        assert_eq!(code(&o), 125, "{}: {}", user.name, stderr(&o));
        assert_contains(&stderr(&o), "directories the sandbox can write are skipped");
    }
}

/// Item 7: run 1 plants a symlink inside a writable root pointing at a directory outside
/// it; run 2 naming that link as `-C` or `--writable-root` is refused (125, naming link and
/// target). A symlink outside every writable root keeps working.
#[test]
fn a_planted_link_does_not_widen_the_next_run() {
    for user in users() {
        // Outside every writable root of the runs below (as `$HOME` is).
        let outside = Dir::new(user, &user.home);
        let ws = Dir::new(user, Path::new("/tmp"));
        let w = ws.path.to_str().unwrap();
        let target = outside.path.to_str().unwrap();
        for be in backends(user, &ws.path) {
            // Run 1: the command plants `WS/demo -> OUTSIDE` (it may: WS is writable).
            let o = run(
                user,
                &ws.path,
                be,
                &["--full-auto", "-C", w],
                &format!("ln -sfn {target} demo"),
            );
            assert_ok(&o, "plant");
            let demo = ws.join("demo");
            let d = demo.to_str().unwrap();
            for args in [
                vec!["--full-auto", "-C", d],
                vec!["--full-auto", "-C", w, "--writable-root", d],
            ] {
                let o = run(user, &ws.path, be, &args, "echo x > planted-write");
                let what = format!("{} {be:?} {args:?}: {}", user.name, stderr(&o));
                assert_eq!(code(&o), 125, "{what}");
                assert!(
                    stderr(&o).contains(d) && stderr(&o).contains(target),
                    "{what}"
                );
                assert!(!outside.join("planted-write").exists(), "{what}");
            }
            let o = sandbox(user, &ws.path, &["explain", "--full-auto", "-C", d, "/x"]);
            assert_eq!(code(&o), 125, "explain: {}", stderr(&o));
            let _ = std::fs::remove_file(&demo);
        }
        // A link outside every writable root (/tmp excluded here) is followed as before.
        let links = Dir::new(user, Path::new("/tmp"));
        let link = links.join("proj");
        std::os::unix::fs::symlink(&ws.path, &link).unwrap();
        let l = link.to_str().unwrap();
        let args = [
            "--full-auto",
            "-c",
            "sandbox_workspace_write.exclude_slash_tmp=true",
            "-C",
            l,
        ];
        for be in backends(user, &ws.path) {
            let o = run(user, &ws.path, be, &args, "echo x > via-link");
            assert_ok(&o, &format!("{} {be:?} link elsewhere", user.name));
            assert!(ws.join("via-link").exists());
            let _ = std::fs::remove_file(ws.join("via-link"));
        }
    }
}

/// Item 10: a link another user planted at a protected name in a shared sticky directory
/// neither stops the run nor is followed, and the command cannot remove it. (Root bypasses
/// the sticky bit: its runs still refuse, and root can remove the link.)
#[test]
fn a_foreign_link_in_a_sticky_directory_does_not_block_the_run() {
    // Planting a link owned by another user (chown) takes root; as any other user, users()
    // holds only that user, so look for root among them first.
    let root = users().iter().any(|u| u.is_root());
    let Some(user) = users().iter().find(|u| root && !u.is_root()) else {
        eprintln!("notice: not root: cannot plant another user's link: skipped");
        return;
    };
    // A shared sticky directory like /tmp (the real /tmp is shared with other test runs).
    let (_shared, sd) = sticky_dir();
    let link = sd.join(".codex");
    std::os::unix::fs::symlink("elsewhere", &link).unwrap();
    let nobody = std::process::Command::new("chown")
        .args(["-h", "nobody"])
        .arg(&link)
        .status()
        .unwrap();
    assert!(nobody.success());
    let ws = Dir::new(user, Path::new("/tmp"));
    let w = ws.path.to_str().unwrap();
    let s = sd.to_str().unwrap();
    let args = ["--full-auto", "-C", w, "--writable-root", s];
    for be in backends(user, &ws.path) {
        let script = format!(
            "rm -f {s}/.codex; mv {s}/.codex {s}/moved; mkdir {s}/elsewhere; echo x > {s}/.codex/f; echo ran > ran"
        );
        let o = run(user, &ws.path, be, &args, &script);
        let what = format!("{} {be:?}: {}", user.name, stderr(&o));
        assert_ok(&o, &what);
        assert!(ws.join("ran").exists(), "{what}");
        assert!(stderr(&o).contains("sticky"), "no warning: {what}");
        let meta = std::fs::symlink_metadata(&link).unwrap();
        assert!(
            meta.file_type().is_symlink(),
            "the link was replaced: {what}"
        );
        assert!(!sd.join("moved").exists(), "{what}");
        // Not followed by the launcher: no placeholder was made at the link's target.
        let _ = std::fs::remove_dir_all(sd.join("elsewhere"));
        let _ = std::fs::remove_file(ws.join("ran"));
    }
    let o = sandbox(
        user,
        &ws.path,
        &[
            "explain",
            "--full-auto",
            "-C",
            w,
            "--writable-root",
            s,
            "--op",
            "write",
            &format!("{s}/x"),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// Item 11: `.aws` under a writable root is read-only (and not creatable) by default, and
/// `-s read-only --writable-root X` is refused instead of making X writable.
#[test]
fn dot_aws_is_protected_and_read_only_refuses_writable_roots() {
    for user in users() {
        let ws = Dir::new(user, Path::new("/tmp"));
        let with = Dir::new(user, Path::new("/tmp"));
        with.write(user, ".aws/credentials", "secret\n");
        let w = ws.path.to_str().unwrap();
        let x = with.path.to_str().unwrap();
        let args = ["--full-auto", "-C", w, "--writable-root", x];
        for be in backends(user, &ws.path) {
            let script = format!(
                "mkdir .aws; echo x > .aws/config; echo x >> {x}/.aws/credentials; \
                 echo x > {x}/.aws/new; mv {x}/.aws {x}/aws2; cat {x}/.aws/credentials"
            );
            let o = run(user, &ws.path, be, &args, &script);
            let what = format!("{} {be:?}: {}", user.name, stderr(&o));
            assert_ok(&o, &what);
            assert!(stdout(&o).contains("secret"), "not readable: {what}");
            assert!(!ws.join(".aws").exists(), ".aws created: {what}");
            assert_eq!(
                std::fs::read_to_string(with.join(".aws/credentials")).unwrap(),
                "secret\n",
                "{what}"
            );
            assert!(
                !with.join(".aws/new").exists() && !with.join("aws2").exists(),
                "{what}"
            );
        }
        let ex = |op, p: PathBuf| explain_allows(user, &ws.path, &args, op, &p);
        assert!(!ex("create", ws.join(".aws")));
        assert!(!ex("write", with.join(".aws/credentials")));

        for mode in [vec!["-s", "read-only"], vec![]] {
            let mut a = vec!["linux"];
            a.extend_from_slice(&mode);
            a.extend_from_slice(&["--writable-root", w, "--", "sh", "-c", "echo x > f"]);
            let o = sandbox(user, &ws.path, &a);
            let what = format!("{} {a:?}: {}", user.name, stderr(&o));
            assert_eq!(code(&o), 125, "{what}");
            assert!(
                stderr(&o).contains("read-only") && stderr(&o).contains(w),
                "{what}"
            );
            assert!(!ws.join("f").exists(), "{what}");
        }
    }
}

/// Item 10 for root, who bypasses the sticky bit: another user's link at a protected name in
/// a sticky directory neither stops the run nor is followed; the Landlock backend mounts over
/// the link itself so root cannot remove or replace it, `--backend auto` chooses Landlock for
/// this policy (`-v` says why), and `--backend bwrap`, which follows links when mounting,
/// refuses with a hint naming `--backend landlock`. Unsandboxed, the same script removes it.
#[test]
fn a_foreign_link_is_held_as_it_is_for_root() {
    let Some(root) = users().iter().find(|u| u.is_root()) else {
        eprintln!("notice: not root: cannot test root's runs: skipped");
        return;
    };
    // A private sticky directory (not the real /tmp, shared with other test runs).
    let (_shared, sd) = sticky_dir();
    let link = sd.join(".codex");
    let plant = || {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("elsewhere", &link).unwrap();
        let nobody = std::process::Command::new("chown")
            .args(["-h", "nobody"])
            .arg(&link)
            .status()
            .unwrap();
        assert!(nobody.success());
    };
    plant();
    let ws = Dir::new(root, Path::new("/tmp"));
    let w = ws.path.to_str().unwrap();
    let s = sd.to_str().unwrap();
    let args = ["-v", "--full-auto", "-C", w, "--writable-root", s];
    let script = format!(
        "rm -f {s}/.codex; mv {s}/.codex {s}/moved; mkdir {s}/elsewhere; echo x > {s}/.codex/f; echo ran > ran"
    );
    let mut bes = backends(root, &ws.path);
    for be in [("bwrap", false), ("auto", false)] {
        if !bes.contains(&be) {
            bes.push(be);
        }
    }
    for be in bes {
        let o = run(root, &ws.path, be, &args, &script);
        let what = format!("{be:?}: {}", stderr(&o));
        if be == ("bwrap", false) {
            assert_eq!(code(&o), 125, "{what}");
            assert!(stderr(&o).contains("--backend landlock"), "no hint: {what}");
            assert!(!ws.join("ran").exists(), "{what}");
        } else {
            assert_ok(&o, &what);
            assert!(ws.join("ran").exists(), "{what}");
            assert!(stderr(&o).contains("held as it is"), "no warning: {what}");
            if be == ("auto", false) {
                assert!(
                    stderr(&o).contains("holds the symbolic link"),
                    "no -v reason: {what}"
                );
            }
            // Written through the link (not followed by the launcher: nothing was made at
            // its target before the command made it).
            assert!(sd.join("elsewhere/f").exists(), "{what}");
        }
        let meta = std::fs::symlink_metadata(&link).unwrap();
        assert!(
            meta.file_type().is_symlink(),
            "the link was replaced: {what}"
        );
        assert!(!sd.join("moved").exists(), "{what}");
        let _ = std::fs::remove_dir_all(sd.join("elsewhere"));
        let _ = std::fs::remove_file(ws.join("ran"));
    }
    // The oracle: the link itself is protected (held), writing beside it allowed.
    let ex = |path: &Path| explain_allows(root, &ws.path, &args[1..], "write", path);
    assert!(!ex(&link));
    assert!(ex(&sd.join("x")));
    // Unsandboxed control: the same script removes the link.
    let o = shell_as(root, &ws.path, &script);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "control kept the link"
    );
    let _ = std::fs::remove_dir_all(sd.join("elsewhere"));
    let _ = std::fs::remove_file(ws.join("ran"));
}

const NESTED: &str = r#"{ "." = "write", "private" = "deny", "private/pub" = "write", "private/docs" = "read", "private/inner" = "deny", "private/pub/deep" = "deny" }"#;

/// A path a deeper rule allows below a denied directory (`"private" = "deny"`, `"private/pub"
/// = "write"`, `"private/docs" = "read"`) is reachable with that rule's access under every
/// backend, while the rest of the denied directory stays hidden, as `explain` says. Deny rules
/// nested below (`private/inner`, `private/pub/deep`) hold too, and do not fail the launch.
#[test]
fn paths_allowed_below_a_denied_directory_are_reachable() {
    for user in users() {
        let files = [
            "private/secret",
            "private/pub/a",
            "private/docs/a",
            "private/inner/a",
            "private/pub/deep/a",
        ];
        let s = Stated::new(user, NESTED, &files);
        let ws = &s.ws;
        for be in backends(user, &ws.path) {
            let script = "cat private/docs/a > read-docs; cat private/secret > read-secret; \
                          cat private/pub/deep/a > read-deep; \
                          ls private > listed; echo x > private/pub/new; \
                          echo x > private/docs/new; echo x >> private/docs/a; \
                          echo x > private/new; true";
            let (_, what) = s.run_ok(be, script);
            let read = |f: &str| std::fs::read_to_string(ws.join(f)).unwrap();
            assert_eq!(read("read-docs"), "orig\n", "docs not readable: {what}");
            assert_eq!(read("read-secret"), "", "secret read: {what}");
            assert_eq!(read("read-deep"), "", "pub/deep read: {what}");
            assert_eq!(read("listed"), "", "private listed: {what}");
            assert!(
                ws.join("private/pub/new").exists(),
                "pub not writable: {what}"
            );
            assert!(
                !ws.join("private/docs/new").exists(),
                "docs writable: {what}"
            );
            assert_eq!(read("private/docs/a"), "orig\n", "docs written: {what}");
            assert!(!ws.join("private/new").exists(), "private writable: {what}");
            for f in [
                "read-docs",
                "read-secret",
                "read-deep",
                "listed",
                "private/pub/new",
            ] {
                let _ = std::fs::remove_file(ws.join(f));
            }
        }
        let ex = |op, rel: &str| s.allows(op, rel);
        assert!(ex("read", "private/docs/a"));
        assert!(!ex("read", "private/secret"));
        assert!(!ex("read", "private/pub/deep/a"));
        assert!(ex("create", "private/pub/new"));
        assert!(!ex("create", "private/docs/new"));
        assert!(!ex("create", "private/new"));
    }
}
