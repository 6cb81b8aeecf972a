//! `--log-denials`: tag the profile's deny rules so Seatbelt's reports of this run can be told
//! apart from every other sandbox on the machine, and pick them out of `log stream` output.
//!
//! Pure (it spawns nothing), so it is tested on every OS; [`crate::launch`] runs `log stream`.
//! A tag replaces following the process tree by pid (which misses short-lived children and
//! anything that calls `setsid`): every process of the run, however short-lived, reports
//! under a rule that carries it.

use crate::escape::{sbpl_literal, EscapeError, Literal};

/// The `log stream` predicate: Seatbelt's violation reports (the kernel's `Sandbox:` lines
/// and the sandbox reporting subsystem). The tag is matched in [`denials`].
pub const LOG_PREDICATE: &str = "((senderImagePath CONTAINS[c] \"sandbox\") AND (eventMessage CONTAINS \"deny(\")) OR (subsystem == \"com.apple.sandbox.reporting\")";

/// `log stream` prints this first, once the stream is attached: the command starts only after
/// it, so no early denial is lost.
pub const READY_BANNER: &str = "Filtering the log data";

/// A tag unique to this run: `sandbox-denial-PID-NANOS` (only letters, digits and `-`).
pub fn new_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("sandbox-denial-{}-{nanos}", std::process::id())
}

/// `profile` with `(with message "TAG")` added to every top-level `(deny …)` rule, including
/// `(deny default)`, so each report of this run carries the tag.
pub fn tag_denials(profile: &str, tag: &str) -> Result<String, EscapeError> {
    let msg = sbpl_literal(Literal::Str(tag))?;
    let mut out = String::with_capacity(profile.len() + 64);
    let (mut depth, mut in_str, mut in_comment, mut deny) = (0usize, false, false, false);
    for (i, c) in profile.char_indices() {
        if in_comment {
            in_comment = c != '\n';
        } else if in_str {
            in_str = c != '"';
        } else {
            match c {
                ';' => in_comment = true,
                '"' => in_str = true,
                '(' => {
                    if depth == 0 {
                        let rest = &profile[i + 1..];
                        deny =
                            rest.starts_with("deny") && rest[4..].starts_with(char::is_whitespace);
                    }
                    depth += 1;
                }
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 && deny {
                        out.push_str(&format!(" (with message {msg})"));
                        deny = false;
                    }
                }
                _ => {}
            }
        }
        out.push(c);
    }
    Ok(out)
}

/// The reports of this run in `log` (one `log stream --style compact` line each), as
/// `NAME(PID) deny(N) OPERATION PATH`, de-duplicated, in order: lines that carry `tag`, and
/// lines from `child` itself in case the system drops the message from the report.
pub fn denials(log: &str, tag: &str, child: u32) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in log.lines() {
        let Some(at) = line.find("Sandbox: ") else {
            continue;
        };
        let msg = &line[at + "Sandbox: ".len()..];
        let pid = msg
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .and_then(|(p, _)| p.parse::<u32>().ok());
        if !line.contains(tag) && pid != Some(child) {
            continue;
        }
        let clean = msg.replace(tag, "").trim_end().to_string();
        if !out.contains(&clean) {
            out.push(clean);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbpl::parse;

    #[test]
    fn every_top_level_deny_is_tagged_and_the_profile_still_reads() {
        let p = "(version 1)\n; (deny in a comment)\n(deny default)\n(allow file-read* (literal \"/x)(deny\"))\n(deny file-write-unlink\n  (literal (param \"A\")))\n(deny file-read* (regex #\"^/a(b)$\"))\n(allow network-outbound (remote unix-socket))\n";
        let t = tag_denials(p, "sandbox-denial-1-2").unwrap();
        assert_eq!(
            t.matches("(with message \"sandbox-denial-1-2\")").count(),
            3,
            "{t}"
        );
        let before = parse(p).unwrap();
        let after = parse(&t).unwrap();
        assert_eq!(before.rules.len(), after.rules.len());
        for (b, a) in before.rules.iter().zip(&after.rules) {
            assert_eq!(
                (b.action, &b.ops, &b.filters),
                (a.action, &a.ops, &a.filters)
            );
            let tagged = a.message.as_deref() == Some("sandbox-denial-1-2");
            assert_eq!(tagged, a.action == crate::sbpl::Action::Deny);
        }
        assert!(tag_denials(p, "bad\"tag").is_err());
    }

    #[test]
    fn tag_is_safe_text() {
        let t = new_tag();
        assert!(
            t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{t}"
        );
        assert!(sbpl_literal(Literal::Str(&t)).is_ok());
    }

    #[test]
    fn denials_of_this_run_only() {
        let tag = "sandbox-denial-9-9";
        let log = format!(
            "Filtering the log data using ...\n\
             2026-01-01 kernel[0]: (Sandbox) Sandbox: touch(4242) deny(1) file-write-create /etc/x {tag}\n\
             2026-01-01 kernel[0]: (Sandbox) Sandbox: touch(4242) deny(1) file-write-create /etc/x {tag}\n\
             2026-01-01 kernel[0]: (Sandbox) Sandbox: other(77) deny(1) file-read-data /y\n\
             2026-01-01 kernel[0]: (Sandbox) Sandbox: sh(100) deny(1) file-read-data /z\n"
        );
        assert_eq!(
            denials(&log, tag, 100),
            [
                "touch(4242) deny(1) file-write-create /etc/x",
                "sh(100) deny(1) file-read-data /z"
            ]
        );
    }
}
