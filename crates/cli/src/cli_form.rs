//! The command-line forms accepted besides the subcommands of DESIGN.md §5, and the usage
//! error for an unknown option.
//!
//! - Codex's `codex sandbox [-c …] [-P NAME] [-C DIR] -- CMD` (no OS word) is `sandbox run …`:
//!   when the first word is an option, `run` is put in front of it.
//! - A word starting with `-` before the command that is no option of `sandbox` is refused
//!   (exit 125, naming it), so a typo such as `--full-atuo` is never run as the command, whose
//!   "command not found" (127) would read as a missing tool.

use crate::exit;
use std::ffi::OsString;
use std::process::ExitCode;

/// Options that stay top-level: `sandbox --help`, `sandbox -V`.
const TOP_LEVEL: &[&str] = &["-h", "--help", "-V", "--version"];

/// `sandbox -P dev -- CMD` → `sandbox run -P dev -- CMD`; anything else unchanged.
pub fn normalize(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let starts_with_option = args.get(1).is_some_and(|a| {
        let a = a.to_string_lossy();
        a.starts_with('-') && !TOP_LEVEL.contains(&a.as_ref())
    });
    if starts_with_option {
        args.insert(1, OsString::from("run"));
    }
    args
}

/// For clap's "unexpected argument" error: prints `sandbox: OPTION: unknown option` and a hint
/// (the similar option clap suggests, or `--` before the command) and gives exit code 125.
pub fn unknown_option(e: &clap::Error) -> Option<ExitCode> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => return None,
    };
    if !arg.starts_with('-') {
        return None;
    }
    let suggested = match e.get(ContextKind::SuggestedArg) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    let hint = match suggested {
        Some(s) if s.starts_with('-') => format!(
            "did you mean {}? A command starting with `-` goes after `--`",
            s.split_whitespace().next().unwrap_or(&s)
        ),
        _ => "see `sandbox help`; a command starting with `-` goes after `--`".to_string(),
    };
    Some(exit::fail_hint(&arg, &"unknown option", &hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        normalize(args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn codex_form_becomes_run() {
        assert_eq!(
            norm(&["sandbox", "-P", "dev", "--", "ls"]),
            ["sandbox", "run", "-P", "dev", "--", "ls"]
        );
        assert_eq!(
            norm(&["sandbox", "--full-auto", "--", "ls"]),
            ["sandbox", "run", "--full-auto", "--", "ls"]
        );
        assert_eq!(norm(&["sandbox", "--help"]), ["sandbox", "--help"]);
        assert_eq!(
            norm(&["sandbox", "linux", "--", "ls"]),
            ["sandbox", "linux", "--", "ls"]
        );
    }
}
