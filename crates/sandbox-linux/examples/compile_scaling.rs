//! Times policy resolve + compile for both Linux backends as extra writable roots grow.
//!
//! Used by `bench/run` (scaling table). Prints one JSON object per line, e.g.
//! `{"stage":"landlock","roots":10,"iterations":…,"median_us":…,"min_us":…}`, for the stages
//! `resolve`, `landlock` (resolve + the Landlock backend's whole plan: ruleset, mounts, seccomp)
//! and `bwrap` (resolve + `bwrap::compile`). Every root holds a `.git` directory, so every root
//! adds protected paths, as a real checkout would.
//!
//! ```text
//! cargo run --release -p sandbox-linux --example compile_scaling -- [SCRATCH_DIR] [ROOTS…]
//! ```

#[cfg(target_os = "linux")]
fn main() {
    bench::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("compile_scaling: Linux only");
}

#[cfg(target_os = "linux")]
mod bench {
    use sandbox_core::{resolve, Policy, Preset, ResolveEnv, TargetOs};
    use sandbox_linux::bwrap::{self, BwrapFeatures, BwrapInput};
    use sandbox_linux::host::probe::Capabilities;
    use sandbox_linux::Options;
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    pub fn main() {
        let mut args = std::env::args().skip(1);
        let scratch = args.next().map(PathBuf::from).unwrap_or_else(|| {
            std::env::temp_dir().join(format!("compile-scaling-{}", std::process::id()))
        });
        let mut counts: Vec<usize> = args
            .map(|a| a.parse().expect("ROOTS must be numbers"))
            .collect();
        if counts.is_empty() {
            counts = vec![1, 10, 100];
        }
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
            cwd: workspace,
            tmpdir: std::env::var_os("TMPDIR"),
            home: std::env::var_os("HOME").map(PathBuf::from),
            target: TargetOs::Linux,
        };
        let caps = Capabilities::full(sandbox_linux::landlock::ruleset::MAX_KNOWN_ABI);
        let features = BwrapFeatures::assumed();
        for n in counts {
            let mut policy = Policy::preset(Preset::WorkspaceWrite);
            for r in &roots[..n] {
                policy.add_writable_root(r.clone(), "--writable-root");
            }
            let resolved = || resolve(&policy, &env).expect("resolve");
            report("resolve", n, time(|| drop(resolved())));
            report(
                "landlock",
                n,
                time(|| {
                    let plan = sandbox_linux::compile(&resolved(), &caps, &Options::default(), &[]);
                    drop(plan.expect("landlock compile"));
                }),
            );
            report(
                "bwrap",
                n,
                time(|| {
                    let r = resolved();
                    let input = BwrapInput {
                        policy: &r,
                        deny_matches: &[],
                        features: &features,
                        seccomp_program: None,
                        kind_of: &bwrap::host_kind_of,
                        is_empty_dir: &bwrap::host_is_empty_dir,
                        read_link: &|p: &Path| std::fs::read_link(p).ok(),
                        best_effort: false,
                    };
                    drop(bwrap::compile(&input).expect("bwrap compile"));
                }),
            );
        }
        let _ = std::fs::remove_dir_all(&scratch);
    }

    /// Runs `f` for about half a second (at least 20 times); sorted samples.
    fn time(mut f: impl FnMut()) -> Vec<Duration> {
        let start = Instant::now();
        let mut samples = Vec::new();
        while samples.len() < 20
            || (start.elapsed() < Duration::from_millis(500) && samples.len() < 10_000)
        {
            let t = Instant::now();
            f();
            samples.push(t.elapsed());
        }
        samples.sort();
        samples
    }

    fn report(stage: &str, roots: usize, samples: Vec<Duration>) {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "{{\"stage\":\"{stage}\",\"roots\":{roots},\"iterations\":{},\"median_us\":{:.2},\"min_us\":{:.2}}}",
            samples.len(),
            us(samples[samples.len() / 2]),
            us(samples[0])
        );
    }
}
