//! Times `resolve()` of a workspace-write policy as the number of extra writable roots grows.
//!
//! Used by `bench/run` (scaling table). Prints one JSON object per line:
//! `{"stage":"resolve","roots":N,"iterations":I,"median_us":…,"min_us":…}`.
//!
//! ```text
//! cargo run --release -p sandbox-core --example resolve_scaling -- [SCRATCH_DIR] [ROOTS…]
//! ```
//! `SCRATCH_DIR` (default: a fresh dir under the temp dir) receives the workspace and the root
//! directories; `ROOTS` defaults to `1 10 100`.

use sandbox_core::{resolve, Policy, Preset, ResolveEnv, TargetOs};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let scratch = args.next().map(PathBuf::from).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("resolve-scaling-{}", std::process::id()))
    });
    let counts: Vec<usize> = {
        let rest: Vec<usize> = args
            .map(|a| a.parse().expect("ROOTS must be numbers"))
            .collect();
        if rest.is_empty() {
            vec![1, 10, 100]
        } else {
            rest
        }
    };
    let max = counts.iter().copied().max().unwrap_or(1);
    let workspace = scratch.join("ws");
    std::fs::create_dir_all(workspace.join(".git")).expect("create workspace");
    let roots: Vec<PathBuf> = (0..max)
        .map(|i| {
            let dir = scratch.join(format!("root-{i:03}"));
            std::fs::create_dir_all(dir.join(".git")).expect("create root");
            dir
        })
        .collect();

    let env = ResolveEnv {
        cwd: workspace.clone(),
        tmpdir: std::env::var_os("TMPDIR"),
        home: std::env::var_os("HOME").map(PathBuf::from),
        target: TargetOs::host(),
    };
    for n in counts {
        let policy = policy_with_roots(&roots[..n]);
        let samples = time_resolve(&policy, &env);
        let median = samples[samples.len() / 2];
        println!(
            "{{\"stage\":\"resolve\",\"roots\":{n},\"iterations\":{},\"median_us\":{:.2},\"min_us\":{:.2}}}",
            samples.len(),
            micros(median),
            micros(samples[0])
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Workspace-write plus `roots` as extra writable roots, as `--writable-root` would build it.
fn policy_with_roots(roots: &[PathBuf]) -> Policy {
    let mut policy = Policy::preset(Preset::WorkspaceWrite);
    for r in roots {
        policy.add_writable_root(r.clone(), "--writable-root");
    }
    policy
}

/// Runs `resolve` repeatedly for about half a second (at least 20 times); sorted samples.
fn time_resolve(policy: &Policy, env: &ResolveEnv) -> Vec<Duration> {
    let budget = Duration::from_millis(500);
    let start = Instant::now();
    let mut samples = Vec::new();
    while samples.len() < 20 || (start.elapsed() < budget && samples.len() < 10_000) {
        let t = Instant::now();
        let resolved = resolve(policy, env).expect("resolve");
        samples.push(t.elapsed());
        std::hint::black_box(&resolved);
    }
    samples.sort();
    samples
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
