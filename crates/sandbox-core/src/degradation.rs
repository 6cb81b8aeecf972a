//! One vocabulary for "what this host can enforce": the [`Capability`] keys that `doctor`
//! prints, and the [`Degradation`] a backend reports when `--best-effort` accepts a gap.
//!
//! Every backend (Landlock, bwrap, Seatbelt, Windows) names its gaps with these keys, so a
//! caller can match on them instead of parsing text, and `doctor --require KEY` and the
//! `--best-effort` warnings speak the same words.

use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A protection a backend may or may not enforce on a host; `key()` is the `doctor` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Capability {
    /// Writes outside the writable roots are refused.
    WriteRestrict,
    /// Reads outside the readable roots are refused.
    ReadRestrict,
    /// Protected names inside writable roots (`.git`, `.codex`, …) stay read-only.
    ProtectedSubpaths,
    /// Missing protected names cannot be created.
    ProtectedCreate,
    /// Metadata changes (chmod, utime, set-id bits) follow the write rules.
    Metadata,
    /// Read-only rules inside writable roots hold.
    ReadPaths,
    /// Explicit deny rules on paths hold.
    DenyPaths,
    /// Deny-read globs (secrets) hold.
    DenyRead,
    /// The command sees a private `/dev` with the standard devices only.
    PrivateDev,
    /// The command gets a `/proc` of its own (its PID namespace's).
    PrivateProc,
    /// Network off means no socket reaches the outside.
    NetworkDenyAll,
    /// Egress only through the domain-filtering proxy.
    AllowlistEgress,
    /// A private loopback network and nothing else.
    LoopbackOnly,
    /// Host pathname unix sockets are closed unless listed.
    UnixSocketPaths,
    /// Which mechanism closes host unix sockets (a name, not a flag).
    UnixSocketMechanism,
    /// The host's abstract unix sockets are out of reach.
    AbstractUnixClosed,
    /// Signals reach only the command's own processes.
    SignalScope,
    /// `no_new_privs`: set-id programs cannot raise privileges.
    NoNewPrivs,
    /// The command has its own PID namespace.
    PidNamespace,
    /// The command's whole process tree ends with the sandbox (Windows: a kill-on-close job
    /// that no process may leave).
    KillTree,
}

impl Capability {
    /// Every capability, in `doctor`'s order.
    pub const ALL: [Capability; 20] = [
        Capability::WriteRestrict,
        Capability::ReadRestrict,
        Capability::ProtectedSubpaths,
        Capability::ProtectedCreate,
        Capability::Metadata,
        Capability::ReadPaths,
        Capability::DenyPaths,
        Capability::DenyRead,
        Capability::PrivateDev,
        Capability::PrivateProc,
        Capability::NetworkDenyAll,
        Capability::AllowlistEgress,
        Capability::LoopbackOnly,
        Capability::UnixSocketPaths,
        Capability::UnixSocketMechanism,
        Capability::AbstractUnixClosed,
        Capability::SignalScope,
        Capability::NoNewPrivs,
        Capability::PidNamespace,
        Capability::KillTree,
    ];

    /// The `doctor` key, e.g. `filesystem.protected_subpaths`.
    pub const fn key(self) -> &'static str {
        match self {
            Capability::WriteRestrict => "filesystem.write_restrict",
            Capability::ReadRestrict => "filesystem.read_restrict",
            Capability::ProtectedSubpaths => "filesystem.protected_subpaths",
            Capability::ProtectedCreate => "filesystem.protected_create",
            Capability::Metadata => "filesystem.metadata",
            Capability::ReadPaths => "filesystem.read_paths",
            Capability::DenyPaths => "filesystem.deny_paths",
            Capability::DenyRead => "filesystem.deny_read",
            Capability::PrivateDev => "filesystem.private_dev",
            Capability::PrivateProc => "filesystem.private_proc",
            Capability::NetworkDenyAll => "network.deny_all",
            Capability::AllowlistEgress => "network.allowlist_egress",
            Capability::LoopbackOnly => "network.loopback_only",
            Capability::UnixSocketPaths => "network.unix_socket_paths",
            Capability::UnixSocketMechanism => "network.unix_socket_mechanism",
            Capability::AbstractUnixClosed => "network.abstract_unix_closed",
            Capability::SignalScope => "process.signal_scope",
            Capability::NoNewPrivs => "process.no_new_privs",
            Capability::PidNamespace => "process.pid_namespace",
            Capability::KillTree => "process.kill_tree",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The text is not a capability key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a capability key")]
pub struct UnknownCapability(pub String);

impl FromStr for Capability {
    type Err = UnknownCapability;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.key() == s)
            .ok_or_else(|| UnknownCapability(s.to_string()))
    }
}

impl Serialize for Capability {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

/// A protection the policy asks for that this host cannot give, accepted by `--best-effort`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Degradation {
    /// Which protection is weaker than the policy says.
    pub capability: Capability,
    /// What exactly is not enforced, in words (one line, shown as a warning).
    pub detail: String,
}

impl Degradation {
    /// A gap in `capability`, described by `detail`.
    pub fn new(capability: Capability, detail: impl Into<String>) -> Self {
        Degradation {
            capability,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Degradation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.detail, self.capability)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in Capability::ALL {
            assert!(seen.insert(c.key()), "duplicate key {}", c.key());
            assert_eq!(c.key().parse::<Capability>().unwrap(), c);
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.key())
            );
        }
        assert!("filesystem.nope".parse::<Capability>().is_err());
    }

    #[test]
    fn degradation_serializes_with_its_key() {
        let d = Degradation::new(Capability::SignalScope, "signals reach the host");
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["capability"], "process.signal_scope");
        assert_eq!(v["detail"], "signals reach the host");
        assert_eq!(
            d.to_string(),
            "signals reach the host (process.signal_scope)"
        );
    }
}
