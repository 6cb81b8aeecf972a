//! `sandbox profile windows` and `sandbox windows` through the real binary. The Windows launcher
//! does not exist yet; these tests pin that it refuses instead of running anything.

use std::process::Command;

fn sandbox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sandbox"))
}

fn workspace() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ws = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    (dir, ws.display().to_string())
}

#[test]
fn strict_profile_refuses_unenforceable_network_off() {
    let (_d, ws) = workspace();
    let o = sandbox()
        .args(["profile", "windows", "--full-auto", "-C", &ws])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("network off") && err.contains("--best-effort"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn best_effort_profile_prints_plan_and_warns() {
    let (_d, ws) = workspace();
    let o = sandbox()
        .args([
            "profile",
            "windows",
            "--full-auto",
            "--best-effort",
            "--format",
            "json",
            "-C",
            &ws,
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(plan["identity"]["kind"], "write_restricted_token");
    let aces = plan["aces"].as_array().unwrap();
    assert!(aces
        .iter()
        .any(|a| a["path"] == ws.as_str() && a["kind"] == "allow_modify"));
    assert!(aces
        .iter()
        .any(|a| a["path"] == format!("{ws}/.git") && a["kind"] == "deny_write"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: best effort: network off is not enforced"),
        "{err}"
    );
}

#[test]
fn windows_run_refuses_and_runs_nothing() {
    let (_d, ws) = workspace();
    let marker = format!("{ws}/ran");
    let o = sandbox()
        .args(["windows", "--full-auto", "-C", &ws, "--", "touch", &marker])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("sandbox: windows: "));
    assert!(!std::path::Path::new(&marker).exists());
}
