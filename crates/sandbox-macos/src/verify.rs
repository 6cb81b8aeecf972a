//! Offline verification: evaluate a compiled profile with [`crate::sbpl`] on generated paths
//! and operations, and compare every answer with the core oracle
//! ([`ResolvedPolicy::decide_canonical`]).

use crate::profile::SeatbeltPlan;
use crate::sbpl::{eval::EvalError, parse, Evaluator, ReadError};
use sandbox_core::{Op, ResolvedPolicy};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error("the policy is danger-full-access: there is no profile to verify")]
    Unrestricted,
}

/// The Seatbelt operations checked, and the oracle operation each corresponds to. Unlinking
/// is a write: wherever writing is refused, deleting must be refused too.
pub const OPS: [(&str, Op); 5] = [
    ("file-read-data", Op::Read),
    ("file-write-data", Op::Write),
    ("file-write-create", Op::Create),
    ("file-write-unlink", Op::Write),
    ("process-exec", Op::Exec),
];

/// Where the profile differs from the oracle on purpose, as `(paths, operations, why)`.
pub const KNOWN_DIFFERENCES: [(&[&str], &[&str], &str); 2] = [
    (
        &["/dev/ptmx"],
        &["file-read-data", "file-write-data"],
        "extra grant: the pseudo-terminal master, needed to create a pty (script, expect, Python pty)",
    ),
    (
        &sandbox_core::resolve::STANDARD_DEVICES,
        &["file-write-unlink"],
        "narrower: the standard devices are writable but may not be deleted",
    ),
];

/// Why the profile differs from the oracle for `op` on `path`, if it does so on purpose.
pub fn known_difference(path: &str, op: &str) -> Option<&'static str> {
    KNOWN_DIFFERENCES
        .iter()
        .find(|(ps, ops, _)| ops.contains(&op) && ps.contains(&path))
        .map(|(_, _, why)| *why)
}

/// One disagreement between the profile and the oracle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub path: String,
    pub op: String,
    pub oracle: bool,
    pub oracle_rule: String,
    pub profile: bool,
    /// Line of the profile rule that decided (0: the default).
    pub profile_line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Number of (path, operation) decisions compared.
    pub checked: usize,
    pub mismatches: Vec<Mismatch>,
    /// Disagreements listed in [`KNOWN_DIFFERENCES`].
    pub known: Vec<Mismatch>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Names chosen to break naive profile writers and regex translators.
pub const HOSTILE_NAMES: [&str; 22] = [
    "\")(allow file-write* (subpath \"/\"))",
    "new\nline",
    "back\\slash",
    "a.b",
    "(paren)",
    "[br]",
    "star*",
    "q?",
    "dollar$",
    "caret^",
    "plus+",
    "pipe|",
    "{brace}",
    "sp ace",
    "ünï",
    ".env",
    "x.env",
    "a\"b",
    ";semi",
    "#hash",
    ".gitx",
    "tab\tx",
];

/// Evaluates `plan` for `policy` on generated paths and compares with the oracle.
pub fn verify(policy: &ResolvedPolicy, plan: &SeatbeltPlan) -> Result<VerifyReport, VerifyError> {
    if plan.unrestricted {
        return Err(VerifyError::Unrestricted);
    }
    let evaluator = Evaluator::new(&parse(&plan.profile)?, &plan.params)?;
    let mut report = VerifyReport {
        checked: 0,
        mismatches: Vec::new(),
        known: Vec::new(),
    };
    for path in sample_paths(policy) {
        for (sb_op, op) in OPS {
            report.checked += 1;
            let oracle = policy.decide_canonical(Path::new(&path), op);
            let verdict = evaluator.decide(sb_op, &path);
            if oracle.allowed == verdict.allowed {
                continue;
            }
            let m = Mismatch {
                path: path.clone(),
                op: sb_op.to_string(),
                oracle: oracle.allowed,
                oracle_rule: oracle.rule,
                profile: verdict.allowed,
                profile_line: verdict.line,
            };
            if known_difference(&path, sb_op).is_some() {
                report.known.push(m);
            } else {
                report.mismatches.push(m);
            }
        }
    }
    Ok(report)
}

fn join(base: &str, name: &str) -> String {
    if base == "/" {
        format!("/{name}")
    } else {
        format!("{base}/{name}")
    }
}

/// Paths around every place the policy mentions: each root itself, inside, outside, prefix
/// look-alikes, protected names (existing or not), deny-glob matches and near misses, hostile
/// names, and the devices.
pub fn sample_paths(policy: &ResolvedPolicy) -> BTreeSet<String> {
    let mut anchors: BTreeSet<PathBuf> = BTreeSet::new();
    anchors.insert("/".into());
    anchors.insert(policy.cwd.clone());
    for fixed in [
        "/private/tmp",
        "/private/etc/passwd",
        "/usr/bin/true",
        "/Users",
    ] {
        anchors.insert(fixed.into());
    }
    anchors.extend(policy.rules.iter().map(|r| r.path.clone()));
    for w in &policy.writable_roots {
        anchors.insert(w.path.clone());
        anchors.extend(w.protected.iter().map(|p| p.path.clone()));
    }
    anchors.extend(policy.deny_globs.iter().map(|g| g.static_prefix()));
    if let sandbox_core::UnixSockets::Paths(ps) = &policy.unix_sockets {
        anchors.extend(ps.iter().cloned());
    }

    let mut out = BTreeSet::new();
    for a in &anchors {
        let Some(a) = a.to_str() else { continue };
        out.insert(a.to_string());
        if let Some(parent) = Path::new(a).parent().and_then(|p| p.to_str()) {
            out.insert(parent.to_string());
        }
        if a != "/" {
            out.insert(format!("{a}x"));
            out.insert(format!("{a}.bak"));
        }
        for rel in [
            "child",
            "child/grand",
            ".git",
            ".git/config",
            ".git/hooks/pre-commit",
            ".codex",
            ".codex/config.toml",
            ".agents",
            ".agents/x",
            ".aws",
            ".aws/credentials",
            "sub/.git",
            "sub/.env",
        ] {
            out.insert(join(a, rel));
        }
        for h in HOSTILE_NAMES {
            out.insert(join(a, h));
            out.insert(join(&join(a, h), "inner"));
        }
    }
    for g in &policy.deny_globs {
        for sample in glob_samples(&g.pattern) {
            out.insert(format!("{sample}x"));
            out.insert(join(&sample, "child"));
            if let Some(parent) = Path::new(&sample).parent().and_then(|p| p.to_str()) {
                out.insert(parent.to_string());
            }
            out.insert(sample);
        }
    }
    for d in sandbox_core::resolve::STANDARD_DEVICES {
        out.insert(d.to_string());
    }
    for d in ["/dev/ptmx", "/dev/ttys000", "/dev/fd/1", "/dev"] {
        out.insert(d.to_string());
    }
    out.retain(|p| p.starts_with('/') && !p.contains("//"));
    out
}

/// A few concrete paths a glob matches (and some it nearly matches): each `*` as empty, `a`
/// or a hostile name, each `**/` as zero, one or two directories, each class as a member.
pub fn glob_samples(pattern: &str) -> Vec<String> {
    let stars = ["", "a", "x.y", "n\nl", "(p)"];
    let globstars = ["", "d1/", "d1/d2/"];
    let mut v = Vec::new();
    for (k, star) in stars.iter().enumerate() {
        v.push(instantiate(
            pattern,
            star,
            globstars[k % globstars.len()],
            k,
        ));
    }
    v
}

fn instantiate(pattern: &str, star: &str, globstar: &str, alt: usize) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut s = String::new();
    let mut i = 0;
    // In `{a,b}`, keep alternative number `alt` modulo the count.
    let mut brace: Option<(usize, usize)> = None; // (current index, wanted)
    while i < chars.len() {
        let c = chars[i];
        let keep = !matches!(brace, Some((cur, want)) if cur != want);
        match c {
            '\\' if i + 1 < chars.len() => {
                if keep {
                    s.push(chars[i + 1]);
                }
                i += 2;
                continue;
            }
            '*' if chars.get(i + 1) == Some(&'*') && chars.get(i + 2) == Some(&'/') => {
                if keep {
                    s.push_str(globstar);
                }
                i += 3;
                continue;
            }
            '*' => {
                if keep {
                    s.push_str(star);
                }
            }
            '?' => {
                if keep {
                    s.push('q');
                }
            }
            '[' => {
                if let Some(end) = chars[i + 1..].iter().position(|&c| c == ']' || c == '/') {
                    let end = i + 1 + end;
                    if chars[end] == ']' && end > i + 1 {
                        let body = &chars[i + 1..end];
                        let negated = matches!(body[0], '!' | '^');
                        if keep {
                            s.push(if negated { 'Z' } else { body[0] });
                        }
                        i = end + 1;
                        continue;
                    }
                }
                if keep {
                    s.push('[');
                }
            }
            '{' => {
                let count = chars[i..]
                    .iter()
                    .take_while(|&&c| c != '}')
                    .filter(|&&c| c == ',')
                    .count()
                    + 1;
                brace = Some((0, alt % count));
            }
            ',' if brace.is_some() => {
                if let Some((cur, _)) = brace.as_mut() {
                    *cur += 1;
                }
            }
            '}' if brace.is_some() => brace = None,
            c => {
                if keep {
                    s.push(c);
                }
            }
        }
        i += 1;
    }
    s
}
