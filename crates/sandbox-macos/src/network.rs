//! The network section of the profile: which IP traffic each network mode allows.
//!
//! Seatbelt shares the host's network stack, so there is no private loopback: `localhost` in a
//! rule is the host's loopback, where other programs' services listen. Hence:
//!
//! - `off`: no IP socket at all (the default deny).
//! - `proxy`: outbound TCP only to the egress proxy's `localhost` port, passed as the `-D`
//!   parameter [`PROXY_ENDPOINT`] (`localhost:PORT`). No name resolution (mDNSResponder, DNS
//!   mach services) and no network daemons (trustd fetches certificate URLs itself): the proxy
//!   resolves names. No loopback of the command's own, unless `allow_local_binding` opens the
//!   host's loopback (a [`Capability::LoopbackOnly`] degradation).
//! - `loopback`: binding, accepting and connecting on `localhost` only: the host's loopback, so
//!   every service listening there is reachable. That is weaker than the private loopback the
//!   policy promises, so it is a [`Capability::LoopbackOnly`] degradation (refused without
//!   `best_effort`).
//! - `full`: every IP destination, plus the name-resolution and TLS services.
//!
//! Facts this relies on, as other Seatbelt users report them (to confirm on a Mac): an address
//! filter takes `"*"` or `"localhost"` as host (an IP literal makes `sandbox-exec` reject the
//! profile), and a `-D` parameter is accepted as the whole address; `(local ip …)` on
//! `network-outbound` matches the connection's own end, so it would allow every destination
//! and is never emitted.

use crate::emit::{allow_names, lit, Out};
use crate::error::Error;
use sandbox_core::{Capability, Degradation, NetworkPolicy, ResolvedPolicy};

/// The `-D` parameter holding the proxy's address, `localhost:PORT`.
pub const PROXY_ENDPOINT: &str = "PROXY_ENDPOINT";

/// The value of [`PROXY_ENDPOINT`] for `port`.
pub fn endpoint(port: u16) -> String {
    format!("localhost:{port}")
}

/// What the profile allows over IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Off,
    /// The host's loopback: bind, accept and connect on `localhost`.
    Loopback,
    /// Outbound TCP to the proxy only; `local`: the host's loopback too.
    Proxy {
        port: u16,
        local: bool,
    },
    Full,
}

const HOST_LOOPBACK: &str = "Seatbelt has no private loopback: the command would share the host's, so every service listening on the host's 127.0.0.1 and ::1 would be reachable (a local proxy would give it the internet)";

/// The mode for `policy`, and the degradations it accepts under `best_effort`.
/// `proxy_port`: where the egress proxy listens (required in proxy mode).
pub(crate) fn mode(
    policy: &ResolvedPolicy,
    best_effort: bool,
    proxy_port: Option<u16>,
) -> Result<(Mode, Vec<Degradation>), Error> {
    let host_loopback = || -> Result<Vec<Degradation>, Error> {
        if !best_effort {
            return Err(Error::Unsupported {
                feature: "a private loopback network",
                hint: "Seatbelt shares the host's loopback: pass --best-effort to let the command use it (host services on 127.0.0.1 become reachable), or leave the network off",
            });
        }
        Ok(vec![Degradation::new(
            Capability::LoopbackOnly,
            format!("network loopback: {HOST_LOOPBACK}"),
        )])
    };
    Ok(match &policy.network {
        NetworkPolicy::Off => (Mode::Off, Vec::new()),
        NetworkPolicy::Full => (Mode::Full, Vec::new()),
        NetworkPolicy::Loopback => (Mode::Loopback, host_loopback()?),
        NetworkPolicy::Proxy {
            allow_local_binding,
            ..
        } => {
            let port = proxy_port.ok_or_else(|| {
                Error::Proxy("proxy mode needs the localhost port the proxy listens on".into())
            })?;
            if port == 0 {
                // `localhost:0` is rejected by sandbox-exec, and it is no listener anyway.
                return Err(Error::Proxy("port 0 is not a listening port".into()));
            }
            let degradations = if *allow_local_binding {
                host_loopback()?
            } else {
                Vec::new()
            };
            (
                Mode::Proxy {
                    port,
                    local: *allow_local_binding,
                },
                degradations,
            )
        }
    })
}

/// Emits the network section for `mode`.
pub(crate) fn rules(out: &mut Out, mode: Mode, keychain_closed: bool) -> Result<(), Error> {
    match mode {
        Mode::Off => {
            out.section("Network: off (the default deny blocks every socket but those below).");
            Ok(())
        }
        Mode::Loopback => {
            out.section("Network: loopback only. Seatbelt has no private loopback: `localhost` is the host's,\nso binding, accepting and connecting there also reach the host's own loopback services\n(accepted under --best-effort). No other address, no name resolution.");
            inet_sockets(out);
            host_loopback(out)
        }
        Mode::Proxy { local, .. } => {
            out.section(&format!("Network: through the egress proxy only. Outbound TCP to the proxy's localhost port\n(-D{PROXY_ENDPOINT}=localhost:PORT) and nowhere else; the proxy resolves names and\napplies the domain rules, so no DNS or network service is reachable from here."));
            inet_sockets(out);
            if local {
                out.section(
                    "allow_local_binding: the host's loopback too (accepted under --best-effort).",
                );
                host_loopback(out)?;
            }
            out.line(&format!(
                "(allow network-outbound (remote tcp (param {})))",
                lit(PROXY_ENDPOINT)?
            ));
            Ok(())
        }
        Mode::Full => full(out, keychain_closed),
    }
}

/// IP sockets may be created (what they may reach is decided by the rules around them).
fn inet_sockets(out: &mut Out) {
    out.line("(allow system-socket (socket-domain AF_INET) (socket-domain AF_INET6))");
}

fn host_loopback(out: &mut Out) -> Result<(), Error> {
    let localhost = lit("localhost:*")?;
    out.line(&format!(
        "(allow network-bind network-inbound (local ip {localhost}))"
    ));
    out.line(&format!("(allow network-outbound (remote ip {localhost}))"));
    Ok(())
}

fn full(out: &mut Out, keychain_closed: bool) -> Result<(), Error> {
    out.section("Network: full access to IP. Sockets: AF_INET/AF_INET6 (every client), AF_UNIX\n(below), and AF_SYSTEM's control protocol (the network stack's own queries: getifaddrs,\nnetwork reachability in curl/git/Python); no other domain (AF_ROUTE, AF_NDRV, PF_KEY).");
    out.line("(allow network-outbound)");
    out.line("(allow network-inbound)");
    out.line("(allow network-bind)");
    inet_sockets(out);
    out.line("(allow system-socket (require-all (socket-domain AF_SYSTEM) (socket-protocol 2)))");
    out.section("Name resolution and TLS (curl, git, pip, Go net/http): DNS configuration,\nmDNSResponder, trust evaluation, routing tables.");
    allow_names(
        out,
        "mach-lookup",
        "global-name",
        &[
            "com.apple.SystemConfiguration.DNSConfiguration",
            "com.apple.SystemConfiguration.configd",
            "com.apple.dnssd.service",
            "com.apple.networkd",
            "com.apple.ocspd",
            "com.apple.trustd.agent",
        ],
    )?;
    out.line(&format!(
        "(allow sysctl-read (sysctl-name-prefix {}))",
        lit("net.routetable.")?
    ));
    if keychain_closed {
        out.section("Keychain (SecurityServer): closed, because the policy denies paths and keychain\nitems would be readable through it (security find-generic-password -w).");
    } else {
        out.section("Keychain (SecurityServer): certificate and identity look-ups of TLS clients.");
        allow_names(
            out,
            "mach-lookup",
            "global-name",
            &["com.apple.SecurityServer"],
        )?;
    }
    Ok(())
}
