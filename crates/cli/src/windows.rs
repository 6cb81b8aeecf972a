//! `sandbox windows` and `sandbox profile windows`.

use crate::args::Format;
use crate::{exit, ProfileArgs, WindowsArgs};
use sandbox_core::TargetOs;
use sandbox_windows::{AceKind, Identity, WindowsPlan};
use std::process::ExitCode;

/// Refuses to run: the Windows launcher does not exist yet, and nothing runs unsandboxed.
pub fn run(a: WindowsArgs) -> ExitCode {
    if let Err(code) = a.policy.resolve(TargetOs::Windows) {
        return code;
    }
    let why = if cfg!(windows) {
        "the Windows launcher is not implemented in this version"
    } else {
        "the Windows sandbox runs only on Windows"
    };
    exit::fail_hint(
        "windows",
        &why,
        "`sandbox profile windows [POLICY]` prints the plan (token, ACL entries, capabilities) it would apply",
    )
}

pub fn profile(a: ProfileArgs) -> ExitCode {
    let policy = match a.policy.resolve(TargetOs::Windows) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let plan = match sandbox_windows::compile(&policy, a.policy.best_effort) {
        Ok(p) => p,
        Err(e) => return exit::fail("profile windows", &e),
    };
    for d in &plan.degradations {
        exit::warn(&format!(
            "best effort: {} is not enforced: {}",
            d.feature, d.why
        ));
    }
    let text = match a.format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&plan).expect("plan serializes");
            format!("{json}\n")
        }
        Format::Text => render(&plan),
    };
    match exit::print(&text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

fn render(plan: &WindowsPlan) -> String {
    let mut out = String::new();
    match &plan.identity {
        Identity::Unsandboxed => out.push_str("identity: none (danger-full-access: no sandbox)\n"),
        Identity::WriteRestrictedToken { capability_sid } => out.push_str(&format!(
            "identity: write-restricted token, capability SID {capability_sid}\n"
        )),
        Identity::AppContainer {
            profile_name,
            capabilities,
        } => out.push_str(&format!(
            "identity: AppContainer {profile_name}, capabilities [{}]\n",
            capabilities.join(", ")
        )),
    }
    for ace in &plan.aces {
        let kind = match ace.kind {
            AceKind::AllowRead => "allow read",
            AceKind::AllowModify => "allow modify",
            AceKind::DenyWrite => "deny write",
            AceKind::DenyAll => "deny all",
        };
        let inherit = if ace.inherit { " (inherited)" } else { "" };
        out.push_str(&format!(
            "ace: {kind:<12} {}{inherit}  # {}\n",
            ace.path.display(),
            ace.reason
        ));
    }
    out.push_str(&format!(
        "job object kill-on-close: {}\n",
        plan.job_kill_on_close
    ));
    out
}
