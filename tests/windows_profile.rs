//! `sandbox profile windows` and `sandbox windows` through the real binary. Off Windows the
//! launcher refuses (nothing runs unsandboxed); the plan it would execute is printed and checked
//! here. What a Windows host enforces is not tested by this file (see the crate README).

// A single-link copy of the binary (cargo's build has a second hard link, which a launch
// from a writable root refuses).
mod support;

use std::process::Output;
use support::sandbox_as_runner as sandbox;
use support::stderr;

/// A canonical temp workspace; with `git`, it holds a `.git` directory.
fn workspace(git: bool) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ws = std::fs::canonicalize(dir.path()).unwrap();
    if git {
        std::fs::create_dir_all(ws.join(".git")).unwrap();
    }
    (dir, ws.display().to_string())
}

fn profile(args: &[&str]) -> Output {
    sandbox()
        .args(["profile", "windows"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn strict_profile_refuses_unenforceable_network_off() {
    let (_d, ws) = workspace(true);
    let o = profile(&["--full-auto", "-C", &ws]);
    assert_eq!(o.status.code(), Some(125));
    let err = stderr(&o);
    assert!(
        err.contains("network off") && err.contains("--best-effort"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn best_effort_profile_prints_plan_and_warns() {
    let (_d, ws) = workspace(true);
    let o = profile(&[
        "--full-auto",
        "--best-effort",
        "--format",
        "json",
        "-C",
        &ws,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(plan["identity"]["kind"], "write_restricted_token");
    let aces = plan["aces"].as_array().unwrap();
    assert!(aces
        .iter()
        .any(|a| a["path"] == ws.as_str() && a["kind"] == "allow_modify"));
    assert!(aces
        .iter()
        .any(|a| a["path"] == format!("{ws}/.git") && a["kind"] == "deny_write"));
    assert_eq!(plan["job"]["kill_on_close"], true);
    assert_eq!(plan["job"]["breakaway_allowed"], false);
    let err = stderr(&o);
    assert!(
        err.contains("warning: best effort: network off is not enforced"),
        "{err}"
    );
}

#[test]
fn fresh_workspace_with_network_needs_no_best_effort() {
    let (_d, ws) = workspace(false);
    let o = profile(&["--full-auto", "--network", "-C", &ws]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("best effort"), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for name in [".git", ".codex", ".agents"] {
        assert!(
            text.contains(&format!("placeholder: {ws}/{name} ")),
            "{name}: {text}"
        );
        assert!(
            text.lines().any(|l| l.starts_with("ace: deny write")
                && l.contains(&format!(" {ws}/{name} (inherited)"))),
            "{name}: {text}"
        );
    }
    // Identity, masks, job limits and standing limits are all shown.
    assert!(text.contains("identity: write-restricted token"), "{text}");
    assert!(
        text.contains("restricting SIDs: run SID (fresh per run)"),
        "{text}"
    );
    // allow modify: read | write | execute | DELETE, without FILE_DELETE_CHILD (0x40).
    assert!(
        text.contains(&format!("ace: allow modify 0x001301bf {ws} (inherited)")),
        "{text}"
    );
    assert!(text.contains("job: kill-on-close true"), "{text}");
    assert!(
        text.contains("job UI restrictions: handles, read_clipboard"),
        "{text}"
    );
    assert!(text.contains("limit: reads are never restricted"), "{text}");
    assert!(!text.contains("degradation:"), "{text}");
}

#[test]
fn deny_read_under_the_token_is_refused_or_declared() {
    let (_d, ws) = workspace(true);
    std::fs::create_dir_all(format!("{ws}/secret")).unwrap();
    let cfg_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cfg = cfg_dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "default_permissions = \"p\"\n[permissions.p.filesystem]\n\":root\" = \"read\"\n\":cwd\" = \"write\"\n\"{ws}/secret\" = \"none\"\n[permissions.p.network]\nenabled = true\n"
        ),
    )
    .unwrap();
    let cfg = cfg.display().to_string();
    let o = profile(&["--config", &cfg, "-C", &ws]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with("sandbox: profile windows: ")
            && err.contains(&format!("deny-read of {ws}/secret"))
            && err.contains("only for writes"),
        "{err}"
    );
    assert!(o.stdout.is_empty());

    let o = profile(&["--config", &cfg, "-C", &ws, "--best-effort"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "warning: best effort: deny-read of {ws}/secret is not enforced"
        )),
        "{}",
        stderr(&o)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!(
            "degradation: deny-read of {ws}/secret is not enforced"
        )),
        "{text}"
    );
    // Writes there are still denied, by a deny-write entry; no deny-all pretends to stop reads.
    assert!(text.contains("ace: deny write"), "{text}");
    assert!(!text.contains("deny all"), "{text}");
}

#[test]
fn deny_read_globs_under_the_token_are_refused() {
    let (_d, ws) = workspace(true);
    let o = profile(&[
        "--full-auto",
        "--network",
        "--deny-read",
        "**/*.env",
        "-C",
        &ws,
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("deny-read globs"), "{}", stderr(&o));
}

#[test]
fn restricted_reads_use_an_appcontainer_without_network() {
    let (_d, ws) = workspace(true);
    let cfg_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cfg = cfg_dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "default_permissions = \"p\"\n[permissions.p.filesystem]\n\":cwd\" = \"write\"\n",
    )
    .unwrap();
    let o = profile(&[
        "--config",
        cfg.to_str().unwrap(),
        "-C",
        &ws,
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(plan["identity"]["kind"], "app_container");
    assert_eq!(plan["identity"]["capabilities"], serde_json::json!([]));
}

#[cfg(not(windows))]
#[test]
fn windows_run_refuses_and_runs_nothing() {
    let (_d, ws) = workspace(true);
    let marker = format!("{ws}/ran");
    let o = sandbox()
        .args(["windows", "--full-auto", "-C", &ws, "--", "touch", &marker])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    let err = stderr(&o);
    assert!(
        err.starts_with("sandbox: windows: the Windows sandbox runs only on Windows"),
        "{err}"
    );
    assert!(!std::path::Path::new(&marker).exists());
}
