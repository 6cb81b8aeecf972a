//! Times deny-read glob expansion, the launch-time cost of `--deny-read` on Linux.
//!
//! ```text
//! cargo run --release -p sandbox-linux --example glob_expand_bench -- DIR [PATTERN] [--generate N] [--max-depth D] [--threads T] [--repeat R]
//! ```
//! `PATTERN` is relative to `DIR` (default `**/*.env`). `--generate N` first fills `DIR` with a
//! tree of `N` files (100 files per directory, three levels deep, one in 50 named `*.env`).
//! Prints one JSON object per repetition: `{"files":…, "matches":…, "elapsed_ms":…}`.

use sandbox_core::DenyGlob;
use sandbox_linux::deny_globs::{expand, ExpandOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

fn generate(dir: &Path, n: usize) -> std::io::Result<()> {
    for i in 0..n {
        let d = dir.join(format!(
            "d{}/e{}/f{}",
            i / 10_000,
            (i / 1_000) % 10,
            (i / 100) % 10
        ));
        if i % 100 == 0 {
            std::fs::create_dir_all(&d)?;
        }
        let name = if i % 50 == 0 {
            format!("s{i}.env")
        } else {
            format!("f{i}.txt")
        };
        std::fs::write(d.join(name), b"x")?;
    }
    Ok(())
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(_) => n += 1,
                Err(_) => {}
            }
        }
    }
    n
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = None;
    let mut pattern = "**/*.env".to_string();
    let mut generate_n = None;
    let mut opts = ExpandOptions {
        max_matches: usize::MAX,
        ..ExpandOptions::default()
    };
    let mut repeat = 1;
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> Option<usize> {
            let v = args.next().and_then(|v| v.parse().ok());
            if v.is_none() {
                eprintln!("glob_expand_bench: {name} needs a number");
            }
            v
        };
        match a.as_str() {
            "--generate" => generate_n = num("--generate"),
            "--max-depth" => opts.max_depth = num("--max-depth"),
            "--threads" => opts.threads = num("--threads").unwrap_or(0),
            "--repeat" => repeat = num("--repeat").unwrap_or(1),
            _ if dir.is_none() => dir = Some(PathBuf::from(a)),
            _ => pattern = a,
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: glob_expand_bench DIR [PATTERN] [--generate N] [--max-depth D] [--threads T] [--repeat R]");
        return ExitCode::from(2);
    };
    if let Some(n) = generate_n {
        if let Err(e) = generate(&dir, n) {
            eprintln!("glob_expand_bench: generating {}: {e}", dir.display());
            return ExitCode::from(1);
        }
    }
    let dir = match std::fs::canonicalize(&dir) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("glob_expand_bench: {}: {e}", dir.display());
            return ExitCode::from(1);
        }
    };
    let glob = match DenyGlob::new(&format!("{}/{pattern}", dir.display()), "bench") {
        Ok(g) => g,
        Err(e) => {
            eprintln!("glob_expand_bench: {e}");
            return ExitCode::from(2);
        }
    };
    let files = count_files(&dir);
    for _ in 0..repeat {
        let start = Instant::now();
        match expand(std::slice::from_ref(&glob), &opts) {
            Ok(m) => println!(
                "{{\"files\":{files},\"matches\":{},\"elapsed_ms\":{:.3}}}",
                m.matches.len(),
                start.elapsed().as_secs_f64() * 1e3
            ),
            Err(e) => {
                eprintln!("glob_expand_bench: {e}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}
