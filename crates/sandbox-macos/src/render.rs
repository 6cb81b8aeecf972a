//! Plans and verification reports as text for people (`sandbox profile macos`).

use crate::profile::SeatbeltPlan;
use crate::verify::{known_difference, VerifyReport};
use std::fmt::Write;

impl SeatbeltPlan {
    /// The profile, then its `-D` parameters, the variables added to the command's
    /// environment and the accepted degradations, each as `;;` comment lines (so the whole
    /// text is still a profile).
    pub fn to_text(&self) -> String {
        if self.unrestricted {
            return ";; danger-full-access: no sandbox is applied; the command runs as is\n".into();
        }
        let mut text = self.profile.clone();
        text.push_str("\n;; Parameters (each passed as -DKEY=VALUE):\n");
        for (k, v) in &self.params {
            let _ = writeln!(text, ";;   {k}={}", v.escape_debug());
        }
        if let Some(port) = self.proxy_port {
            let _ = writeln!(
                text,
                ";;   (the egress proxy's port {port}: `sandbox macos` serves a free port of its own on each run)"
            );
        }
        text.push_str("\n;; Environment added to the command's:\n");
        for (k, v) in &self.env {
            let _ = writeln!(text, ";;   {k}={}", v.escape_debug());
        }
        if !self.degradations.is_empty() {
            text.push_str("\n;; Not enforced (accepted with --best-effort):\n");
            for d in &self.degradations {
                let _ = writeln!(text, ";;   {d}");
            }
        }
        text
    }
}

impl VerifyReport {
    /// A summary line, then one line per known difference and per mismatch.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "verified {} decisions against the policy oracle: {} mismatches, {} known differences",
            self.checked,
            self.mismatches.len(),
            self.known.len()
        );
        for m in &self.known {
            let why = known_difference(&m.path, &m.op).unwrap_or("");
            let _ = writeln!(
                text,
                "known: {} {}: profile {}, oracle {} ({why})",
                m.op,
                m.path.escape_debug(),
                if m.profile { "allows" } else { "denies" },
                if m.oracle { "allows" } else { "denies" },
            );
        }
        for m in &self.mismatches {
            let _ = writeln!(
                text,
                "MISMATCH: {} {}: oracle {} ({}), profile {} (line {})",
                m.op,
                m.path.escape_debug(),
                if m.oracle { "allows" } else { "denies" },
                m.oracle_rule,
                if m.profile { "allows" } else { "denies" },
                m.profile_line
            );
        }
        text
    }
}
