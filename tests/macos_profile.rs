//! End-to-end: `sandbox profile macos` and `sandbox macos` through the real binary.
//! Seatbelt itself only exists on macOS; these tests check the compiled profile, its
//! offline verification, and the refusal to run on other systems.

// A single-link copy of the binary (cargo's build has a second hard link, which a launch
// from a writable root refuses).
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use support::stderr;

fn sandbox(args: &[&str], cwd: &Path) -> Output {
    let mut c = support::sandbox_as_runner();
    c.args(args)
        .current_dir(cwd)
        .env_remove("TMPDIR")
        .output()
        .expect("run sandbox")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// How macOS spells `p`: `/tmp/...` is `/private/tmp/...`.
fn macos_spelling(p: &Path) -> String {
    let c = std::fs::canonicalize(p).unwrap();
    let s = c.to_str().unwrap();
    for (link, real) in [("/tmp", "/private/tmp"), ("/var", "/private/var")] {
        if s == link || s.starts_with(&format!("{link}/")) {
            return format!("{real}{}", &s[link.len()..]);
        }
    }
    s.to_string()
}

fn workspace() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let ws = d.path().join("ws");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    (d, ws)
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap()
}

#[test]
fn text_profile_denies_by_default() {
    let (_d, ws) = workspace();
    let o = sandbox(
        &[
            "profile",
            "macos",
            "--full-auto",
            "-C",
            ws.to_str().unwrap(),
        ],
        &ws,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with(";; Seatbelt profile"), "{out}");
    assert!(out.contains("\n(version 1)\n(deny default)\n"), "{out}");
    assert!(out.contains("(subpath (param \"WRITABLE_ROOT_"), "{out}");
}

#[test]
fn json_has_profile_params_and_argv() {
    let (_d, ws) = workspace();
    let v = json(&sandbox(
        &[
            "profile",
            "macos",
            "--full-auto",
            "-C",
            ws.to_str().unwrap(),
            "--format",
            "json",
        ],
        &ws,
    ));
    assert!(v["profile"].as_str().unwrap().contains("(deny default)"));
    let params = v["params"].as_object().unwrap();
    let want = macos_spelling(&ws);
    assert!(
        params.values().any(|p| p.as_str() == Some(want.as_str())),
        "no param is {want}: {params:#?}"
    );
    // The workspace-write preset's /tmp is spelled the macOS way.
    assert!(
        params.values().any(|p| p.as_str() == Some("/private/tmp")),
        "{params:#?}"
    );
    assert!(params.values().all(|p| !p.as_str().unwrap().ends_with('/')));
    let argv: Vec<&str> = v["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(&argv[..2], ["/usr/bin/sandbox-exec", "-p"]);
    assert_eq!(argv[2], v["profile"].as_str().unwrap());
    assert_eq!(argv.last(), Some(&"--"));
    for (k, val) in params {
        let flag = format!("-D{k}={}", val.as_str().unwrap());
        assert!(argv.contains(&flag.as_str()), "{flag} missing from argv");
    }
}

#[test]
fn output_is_byte_identical_across_runs() {
    let (_d, ws) = workspace();
    let w = ws.to_str().unwrap();
    for format in ["text", "json"] {
        let args = [
            "profile",
            "macos",
            "--full-auto",
            "-C",
            w,
            "--deny-read",
            "**/*.env",
            "--network",
            "--format",
            format,
        ];
        let a = sandbox(&args, &ws);
        let b = sandbox(&args, &ws);
        assert!(a.status.success(), "{}", stderr(&a));
        assert_eq!(a.stdout, b.stdout, "{format} output differs");
    }
}

#[test]
fn hostile_writable_root_travels_only_as_a_parameter() {
    let (d, ws) = workspace();
    let name = "x\")(allow file-write* (subpath \"/\"))";
    let hostile = d.path().join(name);
    std::fs::create_dir_all(&hostile).unwrap();
    let v = json(&sandbox(
        &[
            "profile",
            "macos",
            "--full-auto",
            "-C",
            ws.to_str().unwrap(),
            "--writable-root",
            hostile.to_str().unwrap(),
            "--format",
            "json",
        ],
        &ws,
    ));
    let profile = v["profile"].as_str().unwrap();
    assert!(
        !profile.contains(name),
        "hostile name leaked into the profile"
    );
    assert!(!profile.contains("(subpath \"/\")"));
    let want = macos_spelling(&hostile);
    assert!(v["params"]
        .as_object()
        .unwrap()
        .values()
        .any(|p| p.as_str() == Some(want.as_str())));
}

#[test]
fn verify_checks_over_a_thousand_decisions() {
    let (d, ws) = workspace();
    let r = d.path().join("r");
    std::fs::create_dir_all(&r).unwrap();
    let o = sandbox(
        &[
            "profile",
            "macos",
            "--full-auto",
            "-C",
            ws.to_str().unwrap(),
            "--deny-read",
            "**/*.env",
            "--writable-root",
            r.to_str().unwrap(),
            "--verify",
        ],
        &ws,
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    let n: usize = out
        .strip_prefix("verified ")
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {out}"));
    assert!(n >= 1000, "only {n} decisions checked");
    assert!(out.contains(": 0 mismatches"), "{out}");
}

#[test]
fn macos_run_refuses_on_other_systems() {
    if cfg!(target_os = "macos") {
        eprintln!("skip: this checks the refusal on non-macOS hosts");
        return;
    }
    let (_d, ws) = workspace();
    let marker = ws.join("ran");
    let o = sandbox(&["macos", "--", "touch", marker.to_str().unwrap()], &ws);
    assert_eq!(o.status.code(), Some(125));
    let err = stderr(&o);
    assert!(err.contains("only on macOS"), "{err}");
    assert!(!marker.exists(), "the command ran");
    let o = sandbox(&["macos", "--", "true"], &ws);
    assert_eq!(o.status.code(), Some(125));
}

#[test]
fn unsafe_glob_text_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let ws = d.path().join("quote\"dir");
    std::fs::create_dir_all(&ws).unwrap();
    let o = sandbox(
        &[
            "profile",
            "macos",
            "--full-auto",
            "-C",
            ws.to_str().unwrap(),
            "--deny-read",
            "*.env",
        ],
        &ws,
    );
    assert_eq!(o.status.code(), Some(125));
    let err = stderr(&o);
    assert!(err.contains("double quote"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn danger_full_access_has_no_profile() {
    let (_d, ws) = workspace();
    let v = json(&sandbox(
        &[
            "profile",
            "macos",
            "-s",
            "danger-full-access",
            "--format",
            "json",
        ],
        &ws,
    ));
    assert_eq!(v["unrestricted"], true);
    assert_eq!(v["profile"], "");
}

#[test]
fn loopback_needs_best_effort_and_says_what_it_gives_up() {
    let (_d, ws) = workspace();
    let w = ws.to_str().unwrap();
    let o = sandbox(
        &[
            "profile",
            "macos",
            "--full-auto",
            "-C",
            w,
            "--network",
            "loopback",
        ],
        &ws,
    );
    assert_eq!(o.status.code(), Some(125), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("private loopback"), "{err}");
    assert!(err.contains("--best-effort"), "{err}");
    let o = sandbox(
        &[
            "profile",
            "macos",
            "--full-auto",
            "-C",
            w,
            "--network",
            "loopback",
            "--best-effort",
            "--verify",
        ],
        &ws,
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains(": 0 mismatches"), "{}", stdout(&o));
    // One warning, naming the capability that is weaker.
    let err = stderr(&o);
    assert_eq!(err.matches("network.loopback_only").count(), 1, "{err}");
}

#[test]
fn proxy_mode_profile_allows_only_the_proxy_endpoint() {
    let (_d, ws) = workspace();
    let w = ws.to_str().unwrap();
    let base = [
        "profile",
        "macos",
        "--full-auto",
        "-C",
        w,
        "--allow-domain",
        "pypi.org",
    ];
    let v = json(&sandbox(&[&base[..], &["--format", "json"]].concat(), &ws));
    assert_eq!(v["params"]["PROXY_ENDPOINT"], "localhost:3128");
    assert_eq!(v["proxy_port"], 3128);
    assert_eq!(v["env"]["HTTPS_PROXY"], "http://127.0.0.1:3128");
    assert_eq!(v["env"]["NO_PROXY"], "localhost,127.0.0.1,::1");
    assert_eq!(v["degradations"], serde_json::json!([]));
    let profile = v["profile"].as_str().unwrap();
    assert!(profile.contains("(allow network-outbound (remote tcp (param \"PROXY_ENDPOINT\")))"));
    assert!(!profile.contains("(allow network-outbound)"));
    let argv: Vec<&str> = v["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(argv.contains(&"-DPROXY_ENDPOINT=localhost:3128"));
    let o = sandbox(&[&base[..], &["--verify"]].concat(), &ws);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains(": 0 mismatches"), "{}", stdout(&o));
    let text = stdout(&sandbox(&base, &ws));
    assert!(
        text.contains(";;   PROXY_ENDPOINT=localhost:3128"),
        "{text}"
    );
    assert!(text.contains("a free port of its own"), "{text}");
    assert!(
        text.contains(";;   HTTP_PROXY=http://127.0.0.1:3128"),
        "{text}"
    );
}
