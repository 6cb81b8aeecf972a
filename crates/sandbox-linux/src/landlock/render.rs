//! The Landlock plan as text, one section per layer (ruleset, mount namespace, network
//! namespace, seccomp, process), like [`crate::bwrap::BwrapPlan::to_text`].

use super::mountns::MountStep;
use super::plan::LandlockPlan;

impl LandlockPlan {
    /// The plan for humans: one section per layer (what `sandbox profile linux` prints).
    pub fn to_text(&self) -> String {
        let plan = self;
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "backend: {} (policy {})", plan.backend, plan.policy);
        if plan.unrestricted {
            let _ = writeln!(s, "unrestricted: no sandbox is applied");
            return s;
        }
        if let Some(ll) = &plan.landlock {
            let _ = writeln!(s, "landlock ABI {}", ll.abi);
            let _ = writeln!(s, "  handled fs: {}", ll.handled_fs.names().join(" "));
            let net = ll.handled_net.names();
            let _ = writeln!(
                s,
                "  handled net: {}",
                if net.is_empty() {
                    "none (network not restricted by Landlock)".to_string()
                } else {
                    format!("{} (no port allowed)", net.join(" "))
                }
            );
            let sc = ll.scoped.names();
            let _ = writeln!(
                s,
                "  scoped: {}",
                if sc.is_empty() {
                    "none".to_string()
                } else {
                    sc.join(" ")
                }
            );
            let _ = writeln!(s, "  rules:");
            for r in &ll.rules {
                let _ = writeln!(
                    s,
                    "    {}  [{}]  # {}",
                    r.path.display(),
                    r.access.names().join(" "),
                    r.why
                );
            }
        }
        match &plan.mounts {
            Some(m) => {
                let _ = writeln!(
                    s,
                    "mount and IPC namespaces{}:",
                    if plan.user_namespace {
                        " (inside a user namespace)"
                    } else {
                        ""
                    }
                );
                for step in &m.steps {
                    let line = match step {
                    MountStep::KeepWritable { path } => {
                        format!("keep writable {}", path.display())
                    }
                    MountStep::Pin { path } => {
                        format!(
                            "pin {} (cannot be renamed: leads to a protected or denied path)",
                            path.display()
                        )
                    }
                    MountStep::ReadOnlyBase => {
                        "remount every other mount read-only".to_string()
                    }
                    MountStep::Protect { path, reason } => {
                        format!("read-only {} ({reason})", path.display())
                    }
                    MountStep::Placeholder { path, reason } => {
                        format!(
                            "read-only empty placeholder {} ({reason}, missing; removed after the run)",
                            path.display()
                        )
                    }
                    MountStep::PrivateDev(d) => {
                        format!(
                            "private /dev: {} bound from the host, its own devpts (pts, ptmx), shm{}",
                            d.devices
                                .iter()
                                .filter_map(|p| p.file_name())
                                .map(|n| n.to_string_lossy())
                                .collect::<Vec<_>>()
                                .join(" "),
                            d.keep
                                .iter()
                                .map(|p| format!(", writable {}", p.display()))
                                .collect::<String>()
                        )
                    }
                    MountStep::PrivateTmpfs { path } => {
                        format!("private writable tmpfs on {}", path.display())
                    }
                    MountStep::MaskDir { path } => {
                        format!("mask directory {}", path.display())
                    }
                    MountStep::MaskFile { path } => {
                        format!("mask file {}", path.display())
                    }
                    MountStep::MaskPlaceholder { path } => {
                        format!(
                            "mask directory {} (denied, missing: an empty placeholder, removed after the run)",
                            path.display()
                        )
                    }
                    MountStep::Reexpose {
                        path,
                        mask,
                        read_only,
                        ..
                    } => format!(
                        "bind {} back over the mask of {}{}",
                        path.display(),
                        mask.display(),
                        if *read_only { ", read-only" } else { "" }
                    ),
                    MountStep::HoldLink { path } => format!(
                        "hold the symbolic link {} as it is (another user's, in a sticky directory)",
                        path.display()
                    ),
                    MountStep::MaskSocket { path } => {
                        format!("close host unix socket {}", path.display())
                    }
                };
                    let _ = writeln!(s, "  {line}");
                }
            }
            None => {
                let _ = writeln!(s, "mount namespace: none");
            }
        }
        if let Some(n) = &plan.private_network {
            let _ = writeln!(
                s,
                "network namespace: private, loopback only{}",
                match n.proxy_port {
                    Some(p) =>
                        format!("; the launcher's egress proxy listens on 127.0.0.1:{p} inside it"),
                    None => String::new(),
                }
            );
        }
        if let Some(sc) = &plan.seccomp {
            let sum = &sc.summary;
            let _ = writeln!(
                s,
                "seccomp ({}, {} instructions{}):",
                sum.arch,
                sum.instructions,
                if sum.x32_refused { ", x32 refused" } else { "" }
            );
            let _ = writeln!(s, "  EPERM: {}", sum.denied.join(" "));
            for w in &sum.denied_when {
                let _ = writeln!(s, "  EPERM when {w}");
            }
            for l in &sum.limits {
                let _ = writeln!(s, "  limit: {l}");
            }
        }
        let _ = writeln!(
            s,
            "no_new_privs: {}; capabilities: {}; inherited fds above 2: {}",
            if plan.no_new_privs { "yes" } else { "no" },
            if plan.drop_capabilities {
                "all dropped"
            } else {
                "kept"
            },
            if plan.close_inherited_fds {
                "close-on-exec"
            } else {
                "kept"
            }
        );
        for w in &plan.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        for d in &plan.degradations {
            let _ = writeln!(s, "degraded: {}: {}", d.capability, d.detail);
        }
        s
    }
}
