//! The same generated cases, fed to the backends that cannot launch here: the Seatbelt
//! profile (through the offline SBPL evaluator) and the Windows plan (evaluated as a DACL).
//! Each answer is compared with the oracle resolved for that OS.

use crate::gen::{self, Rng};
use crate::support;
use sandbox_core::{LoadRequest, Op, PathKind, ResolveEnv, ResolvedPolicy, TargetOs};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[derive(Default)]
pub struct Offline {
    pub seatbelt: usize,
    pub windows: usize,
    pub mismatches: usize,
}

/// Turns a case's flags into the request the CLI would build from them.
fn request(args: &[OsString]) -> (LoadRequest, PathBuf) {
    let mut req = LoadRequest::default();
    let mut cwd = PathBuf::from("/");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || PathBuf::from(it.next().expect("flag value"));
        match a.to_str() {
            Some("-C") => cwd = value(),
            Some("--full-auto") => req.full_auto = true,
            Some("-s") => req.sandbox_mode = Some(value().display().to_string()),
            Some("--writable-root") => req.writable_roots.push(value()),
            Some("--deny-read") => req.deny_read.push(value().display().to_string()),
            Some("-c") => req.overrides.push(value().display().to_string()),
            Some("--config") => req.config_file = Some(value()),
            other => panic!("the generator made a flag the offline run does not know: {other:?}"),
        }
    }
    (req, cwd)
}

fn resolve_for(req: &LoadRequest, cwd: &Path, target: TargetOs) -> Option<ResolvedPolicy> {
    let loaded = sandbox_core::load(req).ok()?;
    let env = ResolveEnv {
        cwd: cwd.to_path_buf(),
        tmpdir: None,
        home: std::env::var_os("HOME").map(PathBuf::from),
        target,
    };
    sandbox_core::resolve(&loaded.policy, &env).ok()
}

/// Runs every seed through both evaluators; prints each mismatch.
pub fn run(seeds: &[u64]) -> Offline {
    let mut out = Offline::default();
    let me = &support::users()[0];
    for &seed in seeds {
        let d = support::Dir::new(me, Path::new("/tmp"));
        let mut rng = Rng::new(seed);
        let t = gen::tree(&mut rng, &d.path);
        let policy = gen::policy(&mut rng, &t);
        let ops = gen::ops(&mut rng, &t, 900);
        if let (Some(p), Some(text)) = (&policy.config_path, policy.config()) {
            std::fs::write(p, text).unwrap();
        }
        let mut corpus: Vec<PathBuf> = ops
            .iter()
            .flat_map(|o| o.paths().into_iter().map(Path::to_path_buf))
            .collect();
        corpus.sort();
        corpus.dedup();
        let (req, cwd) = request(&policy.args());
        if let Some(r) = resolve_for(&req, &cwd, TargetOs::Macos) {
            seatbelt(seed, &policy, &r, &corpus, &mut out);
        }
        if let Some(r) = resolve_for(&req, &cwd, TargetOs::Windows) {
            windows(seed, &policy, &r, &corpus, &mut out);
        }
    }
    out
}

fn seatbelt(
    seed: u64,
    policy: &gen::CasePolicy,
    r: &ResolvedPolicy,
    corpus: &[PathBuf],
    out: &mut Offline,
) {
    use sandbox_macos::profile::rename_points;
    use sandbox_macos::sbpl::{parse, Evaluator};
    use sandbox_macos::verify::{known_difference, unlink_expected, OPS};
    let Ok(plan) =
        sandbox_macos::compile(r, &sandbox_macos::Options::default().with_best_effort(true))
    else {
        return;
    };
    if plan.unrestricted {
        return;
    }
    let eval = Evaluator::new(
        &parse(&plan.profile).expect("our profile parses"),
        &plan.params,
    )
    .expect("our profile evaluates");
    // Unlinking or renaming a directory away also moves what is below it: the rename model
    // of the Seatbelt verifier (and of the Linux comparison's directory renames).
    let points = rename_points(r);
    for p in corpus {
        let canon = sandbox_core::resolve::canonical(p, TargetOs::Macos);
        let Some(s) = canon.to_str() else { continue };
        for (sb_op, op) in OPS {
            let mut want = r.decide_canonical(&canon, op);
            if sb_op == "file-write-unlink" {
                // Narrower on purpose: a writable root itself cannot be removed or renamed
                // (Seatbelt pins it; on Linux it is a mount point, EBUSY).
                if r.writable_roots.iter().any(|w| w.path == canon) {
                    continue;
                }
                want.allowed = unlink_expected(r, &points, &canon);
            }
            out.seatbelt += 1;
            let got = eval.decide(sb_op, s);
            if got.allowed != want.allowed && known_difference(s, sb_op).is_none() {
                out.mismatches += 1;
                println!(
                    "MISMATCH (Seatbelt evaluator) seed {seed}: {sb_op} {s}: oracle {} ({}), profile line {} {}\n  policy: {}",
                    want.allowed, want.rule, got.line, got.allowed, policy.describe()
                );
            }
        }
    }
}

fn windows(
    seed: u64,
    policy: &gen::CasePolicy,
    r: &ResolvedPolicy,
    corpus: &[PathBuf],
    out: &mut Offline,
) {
    let Ok(plan) = sandbox_windows::compile(r, true) else {
        return;
    };
    // Declared degradation: missing protected names are not held by ACLs.
    let missing: Vec<&Path> = r
        .protected_paths()
        .into_iter()
        .filter(|p| p.kind == PathKind::Missing)
        .map(|p| p.path.as_path())
        .collect();
    // Declared degradation: deny globs are not turned into ACEs.
    let globs_degraded = plan
        .degradations
        .iter()
        .any(|d| d.capability == sandbox_core::Capability::DenyRead);
    for p in corpus {
        let canon = sandbox_core::resolve::canonical(p, TargetOs::Windows);
        if missing.iter().any(|m| canon.starts_with(m)) {
            continue;
        }
        for op in Op::ALL {
            let want = r.decide_canonical(&canon, op);
            if globs_degraded && want.rule.starts_with("deny glob") {
                continue;
            }
            // Declared degradation: reads the token tier cannot deny.
            if !op.is_write() && plan.read_unenforced(&canon) {
                continue;
            }
            out.windows += 1;
            if plan.allows(&canon, op) != want.allowed {
                out.mismatches += 1;
                println!(
                    "MISMATCH (Windows plan) seed {seed}: {} {}: oracle {} ({})\n  policy: {}",
                    op.name(),
                    canon.display(),
                    want.allowed,
                    want.rule,
                    policy.describe()
                );
            }
        }
    }
}
