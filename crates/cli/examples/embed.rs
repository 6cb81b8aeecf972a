//! Embedding the sandbox: runs `sh -c SCRIPT` under each Linux backend through the
//! cross-platform API, in a scratch workspace, and prints what happened.
//!
//! `cargo run -p sandbox-cli --example embed -- [auto|bwrap|landlock]...` (default: all three).
//! For each backend it prints `BACKEND: status=N wrote-inside=BOOL wrote-outside=BOOL` and the
//! command's output; a backend this host cannot run prints `BACKEND: refused: WHY`.

use sandbox::{Backend, Options, Policy, PolicyBuilder, Preset, Sandbox};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let names: Vec<String> = std::env::args().skip(1).collect();
    let names = if names.is_empty() {
        vec!["auto".into(), "bwrap".into(), "landlock".into()]
    } else {
        names
    };
    for name in names {
        let backend = match name.as_str() {
            "auto" => Backend::Auto,
            "bwrap" => Backend::Bwrap,
            "landlock" => Backend::Landlock,
            other => return Err(format!("unknown backend {other}").into()),
        };
        run(&name, backend)?;
    }
    Ok(())
}

/// One sandboxed run: a write inside the workspace (allowed) and one beside it (denied).
fn run(name: &str, backend: Backend) -> Result<(), Box<dyn std::error::Error>> {
    let scratch = tempfile::tempdir()?;
    let scratch = std::fs::canonicalize(scratch.path())?;
    let ws = scratch.join("ws");
    std::fs::create_dir(&ws)?;
    let outside = scratch.join("outside.txt");
    // workspace-write without /tmp and $TMPDIR, so the scratch tree beside `ws` is read-only.
    let policy =
        PolicyBuilder::from_policy(Policy::preset_with(Preset::WorkspaceWrite, true, true))
            .cwd(&ws)
            .build()?;
    let sandbox = match Sandbox::new(&policy, Options::with_backend(backend)) {
        Ok(s) => s,
        Err(e) => {
            println!("{name}: refused: {e}");
            return Ok(());
        }
    };
    let script = format!(
        "echo inside > ok.txt && echo wrote-inside; echo outside > '{}' 2>/dev/null || echo outside-denied; \
         grep -q '^Seccomp:[[:space:]]*2' /proc/self/status && echo seccomp-on",
        outside.display()
    );
    let (mut cmd, applied) = sandbox.command("sh")?;
    cmd.arg("-c").arg(script).current_dir(&ws);
    let out = cmd.output()?;
    let status = applied.finish(out.status)?;
    println!(
        "{name}: backend={} status={} wrote-inside={} wrote-outside={}",
        sandbox.backend(),
        status.code().unwrap_or(-1),
        exists(&ws.join("ok.txt")),
        exists(&outside)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
    Ok(())
}

fn exists(p: &Path) -> bool {
    p.exists()
}
