//! The Windows plan as text, for `sandbox profile windows`.

use crate::plan::{Identity, WindowsPlan, TOKEN_RESTRICTING_SIDS};
use std::fmt::Write;

impl WindowsPlan {
    /// The plan as text (what `sandbox profile windows` prints): identity, ACEs (with their
    /// masks), placeholders, job limits, degradations, and the identity's standing limits.
    pub fn to_text(&self) -> String {
        let plan = self;
        let mut out = String::new();
        match &plan.identity {
            Identity::Unsandboxed => {
                out.push_str("identity: none (danger-full-access: no sandbox)\n")
            }
            Identity::WriteRestrictedToken => {
                out.push_str("identity: write-restricted token (DISABLE_MAX_PRIVILEGE | LUA_TOKEN | WRITE_RESTRICTED)\n");
                let _ = writeln!(
                    out,
                    "restricting SIDs: {} (checked for writes only)",
                    TOKEN_RESTRICTING_SIDS.join(", ")
                );
            }
            Identity::AppContainer { capabilities } => {
                let caps = if capabilities.is_empty() {
                    "none (no network, no loopback)".to_string()
                } else {
                    capabilities.join(", ")
                };
                let _ = writeln!(
                    out,
                    "identity: AppContainer sandbox-<run id> (fresh per run), capabilities: {caps}"
                );
            }
        }
        if !plan.aces.is_empty() {
            out.push_str(
                "ACEs for the run's SID (journaled, stamped before the start, revoked after):\n",
            );
        }
        for ace in &plan.aces {
            let inherit = if ace.inherit { " (inherited)" } else { "" };
            let _ = writeln!(
                out,
                "ace: {:<12} {:#010x} {}{inherit}  # {}",
                ace.kind.label(),
                ace.kind.mask(),
                ace.path.display(),
                ace.reason
            );
        }
        for p in &plan.placeholders {
            let _ = writeln!(
                out,
                "placeholder: {} (empty directory for the run, removed after if still empty)",
                p.display()
            );
        }
        let j = &plan.job;
        let _ = writeln!(
        out,
        "job: kill-on-close {}, die-on-unhandled-exception {}, breakaway {}, joined at creation {}",
        j.kill_on_close, j.die_on_unhandled_exception, j.breakaway_allowed, j.joined_at_creation
    );
        let ui = if j.ui_restrictions.is_empty() {
            "none".to_string()
        } else {
            j.ui_restrictions.join(", ")
        };
        let _ = writeln!(out, "job UI restrictions: {ui}");
        for d in &plan.degradations {
            let _ = writeln!(out, "degradation: {}", d.detail);
        }
        for l in &plan.limits {
            let _ = writeln!(out, "limit: {l}");
        }
        out
    }
}
