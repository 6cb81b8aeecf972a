//! Differential enforcement testing: the kernel against the oracle, on generated policies.
//!
//! For each seed the harness builds a real tree and a policy over it, asks `sandbox explain`
//! (the oracle) about every operation, performs all of them in ONE sandbox launch through a
//! small probe, performs them again unsandboxed on an identical tree (the control), and
//! compares:
//! - an operation the oracle allows must do what it does unsandboxed;
//! - one it denies must fail and leave its paths as they were.
//!
//! Every Linux backend runs as root and as the unprivileged test user. The same corpus of
//! policies and paths is then fed to the Seatbelt and Windows plan evaluators (their launches
//! cannot run here). A mismatch prints a reproducer (policy, operation, both answers), shrunk
//! to the one operation and the fewest policy parts that still disagree.
//!
//! `cargo test --test differential` runs fixed seeds plus one time-seeded batch within a time
//! budget; `-- --seed N` replays one seed; `-- --soak SECS` runs random seeds for that long.

#[path = "support/mod.rs"]
mod support;

#[path = "differential/check.rs"]
mod check;
#[path = "differential/gen.rs"]
mod gen;
#[path = "differential/offline.rs"]
mod offline;

use check::{Outcome, Stats};
use std::time::{Duration, Instant};
use support::User;

/// Fixed seeds every run checks, then time-seeded ones until the budget is spent.
const FIXED_SEEDS: std::ops::Range<u64> = 1..21;
/// Time-seeded cases run until this many decisions were checked per backend and user, or
/// this much time has passed (a slow host then fails the count, loudly).
const BUDGET: Duration = Duration::from_secs(150);
/// Decisions per backend and user that a normal run must reach.
const MIN_DECISIONS: usize = 20_000;

struct Cli {
    seed: Option<u64>,
    soak: Option<Duration>,
    backend: Option<String>,
}

fn cli() -> Cli {
    let mut c = Cli {
        seed: None,
        soak: None,
        backend: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => c.seed = it.next().and_then(|s| s.parse().ok()),
            "--soak" => {
                c.soak = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .map(Duration::from_secs)
            }
            "--backend" => c.backend = it.next(),
            // cargo test passes its own flags (--nocapture, filters…): ignore them.
            _ => {}
        }
    }
    c
}

fn main() {
    let cli = cli();
    let time_seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let users = support::users();
    let probe_user = &users[0];
    let probe_dir = std::env::temp_dir();
    let mut backends = support::linux_backends(probe_user, &probe_dir);
    if let Some(b) = &cli.backend {
        backends.retain(|x| x == b);
    }
    println!(
        "differential: backends {backends:?}, users {:?}, time seed {time_seed}",
        users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>()
    );
    let mut failed = 0usize;
    let mut total = Stats::default();
    for backend in &backends {
        for user in users {
            let stats = run_for(&cli, backend, user, time_seed);
            println!(
                "differential: {backend} as {}: {} cases, {} decisions checked, {} known degradations, {} refused launches, {} mismatches ({:.1}s)",
                user.name,
                stats.cases,
                stats.decisions,
                stats.known.values().sum::<usize>(),
                stats.refused,
                stats.mismatches,
                stats.elapsed.as_secs_f64()
            );
            let enough =
                cli.seed.is_some() || cli.soak.is_some() || stats.decisions >= MIN_DECISIONS;
            if !enough {
                println!(
                    "differential: {backend} as {}: only {} decisions (at least {MIN_DECISIONS} wanted)",
                    user.name, stats.decisions
                );
                failed += 1;
            }
            for (why, n) in &stats.known {
                println!("differential:   known difference ×{n}: {why}");
            }
            failed += stats.mismatches;
            total.add(&stats);
        }
    }
    let offline = offline::run(&cli_seeds(&cli, time_seed));
    println!(
        "differential: offline evaluators: {} Seatbelt and {} Windows decisions checked, {} mismatches",
        offline.seatbelt, offline.windows, offline.mismatches
    );
    failed += offline.mismatches;
    println!(
        "differential: {} decisions checked in all, {} mismatches",
        total.decisions + offline.seatbelt + offline.windows,
        total.mismatches + offline.mismatches
    );
    if failed > 0 {
        println!("0 passed, 1 failed");
        std::process::exit(1);
    }
    println!("1 passed, 0 failed");
}

/// The seeds the offline evaluators get: the fixed ones and one time-seeded batch.
fn cli_seeds(cli: &Cli, time_seed: u64) -> Vec<u64> {
    if let Some(s) = cli.seed {
        return vec![s];
    }
    FIXED_SEEDS
        .chain((0..200).map(|i| time_seed.wrapping_mul(1000) + i))
        .collect()
}

fn run_for(cli: &Cli, backend: &str, user: &User, time_seed: u64) -> Stats {
    let start = Instant::now();
    let mut stats = Stats::default();
    let run_seed = |seed: u64, stats: &mut Stats| match check::case(seed, backend, user) {
        Outcome::Checked(s) => {
            for m in &s.reports {
                println!("{m}");
            }
            stats.add(&s.stats);
        }
        Outcome::Refused(why) => {
            stats.cases += 1;
            if let Some(reason) = check::documented_refusal(&why) {
                stats.refused += 1;
                if std::env::var_os("DIFFERENTIAL_VERBOSE").is_some() {
                    println!("differential: seed {seed}: refused ({reason}): {why}");
                }
            } else {
                // Failing closed is fine only where the README says this policy cannot run;
                // any other refusal is a backend enforcing less than the oracle describes.
                stats.mismatches += 1;
                println!(
                    "MISMATCH seed {seed} backend {backend} user {}: the launch was refused, but no documented limit explains it (replay: cargo test --test differential -- --seed {seed} --backend {backend}):\n  {why}",
                    user.name
                );
            }
        }
    };
    if let Some(seed) = cli.seed {
        run_seed(seed, &mut stats);
    } else if let Some(soak) = cli.soak {
        let mut seed = time_seed.wrapping_mul(1_000_003);
        while start.elapsed() < soak {
            run_seed(seed, &mut stats);
            seed = seed.wrapping_add(1);
        }
    } else {
        for seed in FIXED_SEEDS {
            run_seed(seed, &mut stats);
        }
        let mut seed = time_seed.wrapping_mul(1000);
        while start.elapsed() < BUDGET && stats.decisions < MIN_DECISIONS {
            run_seed(seed, &mut stats);
            seed = seed.wrapping_add(1);
        }
        println!(
            "differential: {backend} as {}: time-seeded cases from seed {}",
            user.name,
            time_seed.wrapping_mul(1000)
        );
    }
    stats.elapsed = start.elapsed();
    stats
}
