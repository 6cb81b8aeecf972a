//! The embedding example (`crates/cli/examples/embed.rs`) runs `sh -c` through the
//! cross-platform library API under each Linux backend; this checks what it reports, which
//! it reads from the filesystem after the run: the write inside the workspace exists, the one
//! beside it does not.

#![cfg(target_os = "linux")]

use std::path::PathBuf;
use std::process::Command;

/// `target/debug/examples/embed`: `cargo test` builds examples only when run unfiltered, so
/// this builds it (a no-op when it is current).
fn example() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "sandbox-cli",
                "--example",
                "embed",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building the embed example failed");
    });
    let mut p = std::env::current_exe().unwrap();
    p.pop();
    if p.ends_with("deps") {
        p.pop();
    }
    p.join("examples/embed")
}

fn run(backend: &str) -> String {
    let out = Command::new(example()).arg(backend).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{backend}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn every_linux_backend_runs_sh_through_the_library() {
    for backend in ["bwrap", "landlock", "auto"] {
        let text = run(backend);
        assert!(
            !text.contains("refused"),
            "{backend} is refused on this host: {text}"
        );
        let line = text.lines().next().unwrap_or_default();
        assert!(
            line.contains("status=0")
                && line.contains("wrote-inside=true")
                && line.contains("wrote-outside=false"),
            "{backend}: {text}"
        );
        assert!(
            text.contains("wrote-inside")
                && text.contains("outside-denied")
                && text.contains("seccomp-on"),
            "{backend}: {text}"
        );
        if backend != "auto" {
            assert!(line.contains(&format!("backend={backend}")), "{text}");
        }
    }
}

#[test]
fn the_example_names_the_backend_auto_chose() {
    let text = run("auto");
    assert!(
        text.starts_with("auto: backend=bwrap") || text.starts_with("auto: backend=landlock"),
        "{text}"
    );
}
