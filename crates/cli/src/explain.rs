//! `sandbox explain`: the oracle's answer for each path, with the rule that decided.

use crate::{exit, ExplainArgs};
use sandbox_core::{Op, TargetOs};
use std::fmt::Write;
use std::process::ExitCode;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpArg {
    Read,
    Write,
    Create,
    Exec,
    /// Connect or send to a pathname unix socket that exists outside the sandbox.
    Connect,
}

impl OpArg {
    fn name(self) -> &'static str {
        match self {
            OpArg::Read => "read",
            OpArg::Write => "write",
            OpArg::Create => "create",
            OpArg::Exec => "exec",
            OpArg::Connect => "connect",
        }
    }

    /// The filesystem operation, or `None` for `connect` (answered by
    /// `ResolvedPolicy::decide_connect`).
    fn fs_op(self) -> Option<Op> {
        match self {
            OpArg::Read => Some(Op::Read),
            OpArg::Write => Some(Op::Write),
            OpArg::Create => Some(Op::Create),
            OpArg::Exec => Some(Op::Exec),
            OpArg::Connect => None,
        }
    }
}

#[derive(serde::Serialize)]
struct Row {
    path: String,
    op: &'static str,
    allowed: bool,
    rule: String,
}

pub fn run(a: ExplainArgs) -> ExitCode {
    let policy = match a.policy.resolve(TargetOs::host()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let op = a.op;
    // Paths are relative to where `sandbox` was started, like any command-line path.
    let start = std::env::current_dir().unwrap_or_else(|_| policy.cwd.clone());
    let rows: Vec<Row> = a
        .paths
        .iter()
        .map(|p| {
            let d = match op.fs_op() {
                Some(fs) => policy.decide(&start.join(p), fs),
                None => policy.decide_connect(&start.join(p)),
            };
            Row {
                path: p.display().to_string(),
                op: op.name(),
                allowed: d.allowed,
                rule: d.rule,
            }
        })
        .collect();
    let text = if a.json {
        let json = serde_json::to_string_pretty(&rows).expect("rows serialize");
        format!("{json}\n")
    } else {
        let mut text = String::new();
        for r in &rows {
            let verdict = if r.allowed { "allow" } else { "deny " };
            let _ = writeln!(
                text,
                "{verdict} {:<6} {}  ({})",
                r.op,
                escape_controls(&r.path),
                escape_controls(&r.rule)
            );
        }
        if !policy.deny_globs.is_empty() {
            text.push_str(
                "note: on Linux, deny globs cover the files that exist when the command starts; files created later are not masked\n",
            );
        }
        text
    };
    if let Err(code) = exit::print(&text) {
        return code;
    }
    if rows.iter().all(|r| r.allowed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `s` with the characters a terminal would act on (newline, tab, escape, other controls and
/// invisible format characters) escaped as Rust's `{:?}` does, so one path stays on one line
/// and cannot forge another; quotes and backslashes are kept as they are, so ordinary paths
/// print unchanged.
fn escape_controls(s: &str) -> String {
    let kept = |c: char| matches!(c, '\\' | '\'' | '"');
    let mut out = String::with_capacity(s.len());
    for piece in s.split_inclusive(kept) {
        match piece.strip_suffix(kept) {
            Some(before) => {
                out.extend(before.escape_debug());
                out.push_str(&piece[before.len()..]);
            }
            None => out.extend(piece.escape_debug()),
        }
    }
    out
}
