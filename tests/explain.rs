//! `sandbox explain` end to end: the acceptance cases of the foundation issue, through the real
//! binary, on real temp trees.

// A single-link copy of the binary (cargo's build has a second hard link, which a launch
// from a writable root refuses).
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use support::code;
use support::sandbox_as_runner as sandbox;

/// A workspace with `.git/`, `.codex/config.toml` and `sub/`, outside `/tmp`'s implicit root.
struct Ws {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

fn workspace() -> Ws {
    // Under the target dir rather than /tmp, so `/tmp` being writable does not mask results.
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tempfile::tempdir_in(parent).unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap().join("WS");
    std::fs::create_dir_all(root.join(".git/hooks")).unwrap();
    std::fs::create_dir_all(root.join(".codex")).unwrap();
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join(".codex/config.toml"), "x = 1\n").unwrap();
    Ws { _dir: dir, root }
}

fn explain(args: &[&str]) -> Output {
    sandbox().arg("explain").args(args).output().unwrap()
}

#[test]
fn full_auto_acceptance_cases() {
    let ws = workspace();
    let w = ws.root.to_str().unwrap();
    let p = |rel: &str| format!("{w}/{rel}");
    let cases: Vec<(&str, String, i32)> = vec![
        ("write", p("a.txt"), 0),
        ("write", p(".git/config"), 1),
        ("create", p(".git/hooks/pre-commit"), 1),
        ("write", p(".codex/config.toml"), 1),
        ("create", p(".agents"), 1),
        ("write", "/etc/passwd".into(), 1),
        ("read", "/etc/passwd".into(), 0),
        ("write", "/tmp/x".into(), 0),
    ];
    for (op, path, want) in cases {
        let o = explain(&["--full-auto", "-C", w, "--op", op, &path]);
        assert_eq!(
            code(&o),
            want,
            "{op} {path}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        let line = String::from_utf8_lossy(&o.stdout);
        assert!(
            line.starts_with(if want == 0 { "allow" } else { "deny" }),
            "{line}"
        );
        assert!(line.contains(&path), "{line}");
    }
}

#[test]
fn presets_and_deny_globs() {
    let ws = workspace();
    let w = ws.root.to_str().unwrap();
    let a = format!("{w}/a.txt");
    assert_eq!(
        code(&explain(&["-s", "read-only", "-C", w, "--op", "write", &a])),
        1
    );
    assert_eq!(
        code(&explain(&["-s", "read-only", "-C", w, "--op", "read", &a])),
        0
    );
    assert_eq!(
        code(&explain(&[
            "-s",
            "danger-full-access",
            "-C",
            w,
            "--op",
            "write",
            "/etc/passwd"
        ])),
        0
    );
    let env = format!("{w}/sub/x.env");
    let txt = format!("{w}/sub/x.txt");
    let read_with_env_glob = |p: &str| {
        explain(&[
            "--full-auto",
            "-C",
            w,
            "--deny-read",
            "**/*.env",
            "--op",
            "read",
            p,
        ])
    };
    let o = read_with_env_glob(&env);
    assert_eq!(code(&o), 1);
    assert!(String::from_utf8_lossy(&o.stdout).contains("files created later are not masked"));
    let o = read_with_env_glob(&txt);
    assert_eq!(code(&o), 0);
}

#[test]
fn json_output_has_the_documented_fields() {
    let ws = workspace();
    let w = ws.root.to_str().unwrap();
    let o = explain(&[
        "--full-auto",
        "-C",
        w,
        "--json",
        "--op",
        "write",
        &format!("{w}/a.txt"),
        &format!("{w}/.git/config"),
    ]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["allowed"], true);
    assert_eq!(rows[0]["op"], "write");
    assert_eq!(rows[1]["allowed"], false);
    assert!(rows[1]["rule"].as_str().unwrap().contains(".git"));
    assert!(rows[1]["path"].as_str().unwrap().ends_with(".git/config"));
}

#[test]
fn gitdir_pointer_and_extra_root() {
    let ws = workspace();
    let w = ws.root.to_str().unwrap();
    let base = ws.root.parent().unwrap();
    // A worktree-style `.git` pointer file in an extra root.
    let wt = base.join("wt");
    let gitdir = base.join("main-repo/.git/worktrees/wt");
    std::fs::create_dir_all(&wt).unwrap();
    std::fs::create_dir_all(&gitdir).unwrap();
    std::fs::write(wt.join(".git"), format!("gitdir: {}\n", gitdir.display())).unwrap();
    let wt_s = wt.to_str().unwrap();
    let args = |op: &'static str, path: String| {
        explain(&[
            "--full-auto",
            "-C",
            w,
            "--writable-root",
            wt_s,
            "--op",
            op,
            &path,
        ])
    };
    assert_eq!(code(&args("write", format!("{wt_s}/f"))), 0);
    assert_eq!(code(&args("write", format!("{wt_s}/.git"))), 1);
    assert_eq!(
        code(&args("write", format!("{}/config", gitdir.display()))),
        1
    );
    assert_eq!(code(&args("create", format!("{wt_s}/.agents"))), 1);

    // --writable-root DIR: DIR/f writable, DIR/.git not creatable.
    let extra = base.join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    let e = extra.to_str().unwrap();
    let o = |op, path: String| {
        explain(&[
            "--full-auto",
            "-C",
            w,
            "--writable-root",
            e,
            "--op",
            op,
            &path,
        ])
    };
    assert_eq!(code(&o("write", format!("{e}/f"))), 0);
    assert_eq!(code(&o("create", format!("{e}/.git"))), 1);
}

fn with_config(text: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, text).unwrap();
    let mut all = vec!["--config", cfg.to_str().unwrap()];
    all.extend_from_slice(args);
    explain(&all)
}

#[test]
fn codex_legacy_config() {
    let ws = workspace();
    let w = ws.root.to_str().unwrap();
    let extra = ws.root.parent().unwrap().join("cache");
    std::fs::create_dir_all(&extra).unwrap();
    let cfg = format!(
        "sandbox_mode = \"workspace-write\"\n[sandbox_workspace_write]\nwritable_roots = [\"{}\"]\n",
        extra.display()
    );
    let f = format!("{}/f", extra.display());
    assert_eq!(code(&with_config(&cfg, &["-C", w, "--op", "write", &f])), 0);
    assert_eq!(
        code(&with_config(
            &cfg,
            &["-C", w, "--op", "write", &format!("{w}/a")]
        )),
        0
    );
    assert_eq!(
        code(&with_config(&cfg, &["-C", w, "--op", "write", "/etc/x"])),
        1
    );
    // Without the config, the default is read-only.
    assert_eq!(code(&explain(&["-C", w, "--op", "write", &f])), 1);
}

#[test]
fn codex_config_profile_selects_sandbox_mode() {
    let ws = workspace();
    let w = ws.root.to_str().unwrap();
    let a = format!("{w}/a");
    let cfg = "sandbox_mode = \"workspace-write\"\nprofile = \"review\"\n\
               [profiles.review]\nsandbox_mode = \"read-only\"\n";
    // The selected profile's read-only wins over the top-level workspace-write.
    let o = with_config(cfg, &["-C", w, "--op", "write", &a]);
    assert_eq!(code(&o), 1, "{}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stdout).contains("preset read-only"));
    // A profile that does not exist is a config error: nothing is decided.
    let o = with_config("profile = \"gone\"\n", &["-C", w, &a]);
    assert_eq!(code(&o), 125);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("[profiles.gone]"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn codex_permissions_profile() {
    let ws = workspace();
    let w = ws.root.to_str().unwrap();
    std::fs::write(ws.root.join("sub/x.env"), "SECRET=1\n").unwrap();
    let cfg = "default_permissions = \"dev\"\n\
               [permissions.dev.filesystem]\n\
               \":root\" = \"read\"\n\
               \":project_roots\" = { \".\" = \"write\", \"**/*.env\" = \"none\" }\n";
    let cases = [
        ("write", format!("{w}/a.txt"), 0),
        ("read", format!("{w}/sub/x.env"), 1),
        ("write", format!("{w}/sub/x.env"), 1),
        ("read", format!("{w}/sub/x.txt"), 0),
        ("write", format!("{w}/.git/config"), 1),
        ("write", "/etc/passwd".to_string(), 1),
        ("write", "/tmp/x".to_string(), 1),
    ];
    for (op, path, want) in cases {
        let o = with_config(cfg, &["-C", w, "--op", op, &path]);
        assert_eq!(
            code(&o),
            want,
            "{op} {path}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    // -P selects a profile explicitly; an unknown one is a config error.
    let o = with_config(cfg, &["-P", "nope", "-C", w, "/etc/passwd"]);
    assert_eq!(code(&o), 125);
    assert!(String::from_utf8_lossy(&o.stderr).contains("permissions.nope"));
}

/// Red team: a `:project_roots` subpath with `..` (`"../../etc" = "write"`) would name a path
/// outside the project: refused naming the file and the key, for plain and glob subpaths.
#[test]
fn project_roots_subpaths_with_dotdot_are_refused() {
    for sub in ["../../etc", "a/../../etc", "../**/x"] {
        let text = format!(
            "default_permissions = \"ws\"\n[permissions.ws.filesystem]\n\":root\" = \"read\"\n\":project_roots\" = {{ \".\" = \"write\", \"{sub}\" = \"write\" }}\n"
        );
        let o = with_config(&text, &["--op", "write", "/etc/passwd"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(code(&o), 125, "{sub}: {err}");
        assert!(err.starts_with("sandbox: config:"), "{sub}: {err}");
        assert!(
            err.contains("config.toml") && err.contains(sub) && err.contains("`..`"),
            "{sub}: {err}"
        );
        assert!(o.stdout.is_empty(), "{sub}");
    }
}

#[test]
fn config_errors_exit_125_naming_file_and_key() {
    let o = explain(&["--config", "/nonexistent/dir/config.toml", "/etc/passwd"]);
    assert_eq!(code(&o), 125);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.starts_with("sandbox: "), "{err}");
    assert!(err.contains("/nonexistent/dir/config.toml"), "{err}");
    assert!(o.stdout.is_empty());

    let o = with_config(
        "sandbox_mode = \"workspace-write\"\n[oops\n",
        &["/etc/passwd"],
    );
    assert_eq!(code(&o), 125);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("config.toml") && err.contains("invalid TOML"),
        "{err}"
    );

    let o = with_config("sandbox_mode = 42\n", &["/etc/passwd"]);
    assert_eq!(code(&o), 125);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("config.toml"), "{err}");
    assert!(
        err.contains("`sandbox_mode`") && err.contains("integer"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line, no backtrace: {err}");
}

#[test]
fn bad_flags_exit_125_without_panic() {
    for args in [
        vec!["-s", "bogus", "/"],
        vec!["-C", "/nonexistent-dir-xyz", "/"],
        vec!["--writable-root", "/x", "--deny-read", "{a,b", "/"],
        vec!["-c", "novalue", "/"],
        vec!["--op", "delete", "/"],
    ] {
        let o = explain(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(code(&o), 125, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}

/// Each bad input this tool guards against, fed through the real binary: exit 125, one
/// `sandbox: …` line naming what was wrong, nothing on stdout, no panic.
#[test]
fn hostile_input_is_125_with_a_message_naming_it() {
    let deep = format!("{}b{}", "{a,".repeat(125), "}".repeat(125));
    let key = vec!["a"; 40].join(".");
    let dash_c = format!("{key}=1");
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (vec!["--deny-read", "", "/"], None, "the pattern is empty"),
        (vec!["--deny-read", &deep, "/"], None, "nested more than 8"),
        (vec!["--deny-read", "{a,}b", "/"], None, "empty alternative"),
        (vec!["-c", &dash_c, "/"], None, "more than 32 dotted parts"),
        (
            vec!["--config", "/dev/zero", "/"],
            None,
            "larger than 16 MiB",
        ),
        (
            vec!["/"],
            Some("sandbox_mode = \"read-only\"\nsandbox_mode = \"read-only\"\n"),
            "duplicate key",
        ),
        (
            vec!["/"],
            Some("permissions = \"x\"\n"),
            "`permissions`: expected a table",
        ),
        (
            vec!["-c", "sandbox_mode=1", "/"],
            Some("sandbox_mode = \"read-only\"\n"),
            "-c: key `sandbox_mode`",
        ),
    ];
    for (args, config, want) in cases {
        let o = match config {
            Some(text) => with_config(text, &args),
            None => explain(&args),
        };
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(code(&o), 125, "{want}: {err}");
        assert!(
            err.starts_with("sandbox: ") && err.contains(want),
            "{want}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{want}: {err}");
        assert!(o.stdout.is_empty(), "{want}");
    }
    // `~` against an empty HOME would be relative to wherever `sandbox` runs.
    let o = sandbox()
        .env("HOME", "")
        .args([
            "explain",
            "--full-auto",
            "-c",
            "sandbox_workspace_write.writable_roots=[\"~/x\"]",
            "/",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), 125, "{err}");
    assert!(err.contains("not an absolute path"), "{err}");
}

#[test]
fn unknown_config_keys_warn_but_work() {
    let o = with_config(
        "sandbox_mode = \"read-only\"\nfuture_key = true\n",
        &["/etc/passwd"],
    );
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown key `future_key`"));
}

#[test]
fn override_flag_sets_keys() {
    let ws = workspace();
    let w = ws.root.to_str().unwrap();
    let a = format!("{w}/a");
    let o = explain(&[
        "-c",
        "sandbox_mode=\"workspace-write\"",
        "-C",
        w,
        "--op",
        "write",
        &a,
    ]);
    assert_eq!(code(&o), 0);
    let o = explain(&["-c", "sandbox_mode=42", "-C", w, "--op", "write", &a]);
    assert_eq!(code(&o), 125);
    assert!(String::from_utf8_lossy(&o.stderr).contains("sandbox_mode"));
}
