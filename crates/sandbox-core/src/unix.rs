//! Unix-domain sockets: the oracle's answer for `connect`/`sendto` to a pathname socket, and
//! the warnings for allowed sockets that hand out power over the host.
//!
//! The model ([`UnixSockets`]) only ever speaks about sockets that exist outside the sandbox
//! (bound by host processes). Three things hold whatever it says, and are not asked here:
//! `socketpair` and fd passing over it work; sockets the command binds itself (in its
//! writable roots) answer its own clients; abstract sockets of the host are unreachable.

use crate::decide::Decision;
use crate::policy::{Op, UnixSockets};
use crate::resolve::{canonical, ResolvedPolicy};
use std::path::{Path, PathBuf};

/// Host sockets whose peer acts with far more power than the sandboxed command: allowing one
/// (directly, below an allowed directory, or through `"all"`) prints a warning naming it.
/// `~/` is the caller's home directory; a path ending in `/` stands for every socket below it.
pub const DANGEROUS_SOCKETS: [(&str, &str); 10] = [
    ("/run/docker.sock", "the Docker daemon: root on the host"),
    (
        "/var/run/docker.sock",
        "the Docker daemon: root on the host",
    ),
    (
        "~/.docker/run/docker.sock",
        "Docker Desktop: root in its VM and host file sharing",
    ),
    ("/run/podman/", "the root Podman service: root on the host"),
    ("/run/containerd/", "containerd: root on the host"),
    (
        "/run/libvirt/",
        "libvirt: virtual machines and host devices",
    ),
    (
        "/var/run/libvirt/",
        "libvirt: virtual machines and host devices",
    ),
    (
        "/run/dbus/system_bus_socket",
        "the system D-Bus: host services (systemd, polkit, NetworkManager)",
    ),
    (
        "/var/run/dbus/system_bus_socket",
        "the system D-Bus: host services (systemd, polkit, NetworkManager)",
    ),
    (
        "/run/systemd/private",
        "systemd's private bus: start and stop any host service",
    ),
];

impl ResolvedPolicy {
    /// The oracle for connecting (or sending a datagram) to the pathname socket at `path`,
    /// one that exists outside the sandbox. Relative paths are taken from the policy's cwd;
    /// links are followed as the kernel would.
    pub fn decide_connect(&self, path: &Path) -> Decision {
        let abs = if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.cwd.join(path)
        };
        self.decide_connect_canonical(&canonical(&abs, self.target))
    }

    /// [`ResolvedPolicy::decide_connect`] for a canonical path; touches no filesystem.
    ///
    /// Allowed when the socket is allowed by `unix_sockets` (`all`, or at or below a listed
    /// path) and the filesystem rules let the command see the path (read allowed): a socket
    /// hidden by a deny rule, a deny glob or a restricted read view cannot be reached.
    pub fn decide_connect_canonical(&self, path: &Path) -> Decision {
        if self.unrestricted {
            return Decision::allow("danger-full-access: no sandbox");
        }
        let granted = match &self.unix_sockets {
            UnixSockets::All => "unix_sockets = \"all\"".to_string(),
            UnixSockets::Paths(paths) => match paths.iter().find(|p| path.starts_with(p)) {
                Some(p) => format!("unix socket allowed: {}", p.display()),
                None => return Decision::deny(closed_reason(path)),
            },
            UnixSockets::None => return Decision::deny(closed_reason(path)),
        };
        let read = self.decide_canonical(path, Op::Read);
        if read.allowed {
            Decision::allow(granted)
        } else {
            Decision::deny(format!("{granted}, but the path is hidden: {}", read.rule))
        }
    }

    /// Warnings for allowed host sockets listed in [`DANGEROUS_SOCKETS`], one per socket:
    /// each allowed path that is, contains or lies below one. Under `"all"`, the listed sockets
    /// that exist on this host. `home` expands `~/`.
    pub fn dangerous_socket_warnings(&self, home: Option<&Path>) -> Vec<String> {
        // The default allows no host socket: nothing to look at (and no cost on that path).
        if self.unrestricted || self.unix_sockets == UnixSockets::None {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (spelled, grants) in DANGEROUS_SOCKETS {
            let Some(danger) = expand(spelled, home) else {
                continue;
            };
            let danger = canonical(&danger, self.target);
            let is_dir = spelled.ends_with('/');
            let hit = match &self.unix_sockets {
                UnixSockets::None => None,
                UnixSockets::All => danger
                    .exists()
                    .then(|| "unix_sockets = \"all\"".to_string()),
                UnixSockets::Paths(paths) => paths
                    .iter()
                    .find(|p| danger.starts_with(p) || (is_dir && p.starts_with(&danger)))
                    .map(|p| format!("allowed path {}", p.display())),
            };
            if let Some(why) = hit {
                let line = format!(
                    "unix socket {} is reachable inside the sandbox ({why}): it grants {grants}",
                    danger.display()
                );
                if !out.contains(&line) {
                    out.push(line);
                }
            }
        }
        out
    }
}

fn expand(spelled: &str, home: Option<&Path>) -> Option<PathBuf> {
    match spelled.strip_prefix("~/") {
        Some(rest) => home.filter(|h| h.is_absolute()).map(|h| h.join(rest)),
        None => Some(PathBuf::from(spelled)),
    }
}

fn closed_reason(path: &Path) -> String {
    format!(
        "host unix sockets are closed (unix_sockets = \"none\"); allow this one with --allow-unix-socket {} (sockets the command binds itself stay reachable)",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{resolve, Policy, Preset, ResolveEnv, TargetOs};

    fn policy(unix: UnixSockets) -> ResolvedPolicy {
        let mut p = Policy::preset(Preset::ReadOnly);
        p.unix_sockets = unix;
        let env = ResolveEnv {
            cwd: "/".into(),
            tmpdir: None,
            home: Some("/home/u".into()),
            target: TargetOs::Linux,
        };
        resolve(&p, &env).unwrap()
    }

    #[test]
    fn default_closes_host_sockets() {
        let p = policy(UnixSockets::default());
        let d = p.decide_connect_canonical(Path::new("/run/x.sock"));
        assert!(!d.allowed);
        assert!(
            d.rule.contains("--allow-unix-socket /run/x.sock"),
            "{}",
            d.rule
        );
    }

    #[test]
    fn a_listed_path_allows_itself_and_below_only() {
        let p = policy(UnixSockets::Paths(vec![
            "/nonexistent-dir/agent.sock".into()
        ]));
        assert!(
            p.decide_connect_canonical(Path::new("/nonexistent-dir/agent.sock"))
                .allowed
        );
        assert!(
            !p.decide_connect_canonical(Path::new("/nonexistent-dir/other.sock"))
                .allowed
        );
        assert!(
            !p.decide_connect_canonical(Path::new("/nonexistent-dir/agent.sock2"))
                .allowed
        );
    }

    #[test]
    fn all_allows_what_can_be_seen() {
        let mut p = policy(UnixSockets::All);
        assert!(p.decide_connect_canonical(Path::new("/run/x.sock")).allowed);
        p.rules.push(crate::Rule {
            path: "/run".into(),
            access: crate::Access::Deny,
            origin: "test".into(),
        });
        p.rules.sort_by(|a, b| a.path.cmp(&b.path));
        let d = p.decide_connect_canonical(Path::new("/run/x.sock"));
        assert!(!d.allowed && d.rule.contains("hidden"), "{}", d.rule);
    }

    #[test]
    fn dangerous_sockets_warn_when_listed_or_below_a_listed_dir() {
        let p = policy(UnixSockets::Paths(vec!["/nonexistent-run/".into()]));
        assert!(p.dangerous_socket_warnings(None).is_empty());
        let p = ResolvedPolicy {
            unix_sockets: UnixSockets::Paths(vec!["/run/systemd".into()]),
            ..policy(UnixSockets::None)
        };
        let w = p.dangerous_socket_warnings(None);
        assert!(
            w.iter().any(|l| l.contains("/run/systemd/private")),
            "{w:?}"
        );
        let p = ResolvedPolicy {
            unix_sockets: UnixSockets::Paths(vec!["/run/podman/podman.sock".into()]),
            ..policy(UnixSockets::None)
        };
        let w = p.dangerous_socket_warnings(None);
        assert!(w.iter().any(|l| l.contains("Podman")), "{w:?}");
        let p = ResolvedPolicy {
            unix_sockets: UnixSockets::Paths(vec!["/home/u/.docker/run/docker.sock".into()]),
            ..policy(UnixSockets::None)
        };
        let w = p.dangerous_socket_warnings(Some(Path::new("/home/u")));
        assert!(w.iter().any(|l| l.contains("Docker Desktop")), "{w:?}");
    }
}
