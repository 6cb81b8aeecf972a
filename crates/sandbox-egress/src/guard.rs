//! The decision and the dial for one destination: check the name against the domain rules,
//! resolve it once, check every address, then connect to a checked address (never resolve
//! again), so DNS rebinding cannot swap in an address that was not checked.

use crate::addr::local_kind;
use crate::denial::{Denial, Protocol, Reason};
use sandbox_core::domain::{normalize_host, DomainDecision, DomainRules, Host};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::TcpStream;

/// How long a connection to an origin may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(15);

/// What the proxy enforces.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    pub rules: DomainRules,
    /// Dial loopback/private/link-local/own addresses too (Codex's `allow_local_binding`).
    pub allow_local_binding: bool,
    /// Tunnel ports whose first bytes must be a TLS ClientHello naming the tunnel's host
    /// (`[443]`; tests use their own port).
    pub tls_ports: Vec<u16>,
}

impl Default for ProxyConfig {
    fn default() -> ProxyConfig {
        ProxyConfig {
            rules: DomainRules::default(),
            allow_local_binding: false,
            tls_ports: vec![443],
        }
    }
}

impl ProxyConfig {
    /// The proxy configuration for a `proxy` network policy; `None` for any other mode. The
    /// patterns were checked when the policy was loaded; a bad one here is an error anyway.
    pub fn from_policy(
        network: &sandbox_core::NetworkPolicy,
    ) -> Option<Result<ProxyConfig, String>> {
        let sandbox_core::NetworkPolicy::Proxy {
            allow,
            deny,
            allow_local_binding,
        } = network
        else {
            return None;
        };
        Some(
            DomainRules::parse(allow, deny)
                .map(|rules| ProxyConfig {
                    rules,
                    allow_local_binding: *allow_local_binding,
                    ..ProxyConfig::default()
                })
                .map_err(|(is_allow, i, e)| {
                    format!(
                        "{} pattern {}: {e}",
                        if is_allow { "allowed" } else { "denied" },
                        i + 1
                    )
                }),
        )
    }
}

/// A destination that passed the domain rules.
#[derive(Clone, Debug)]
pub struct Target {
    pub host: Host,
    /// As the client wrote it (for messages).
    pub shown: String,
    pub port: u16,
}

/// Checks `host:port` against the domain rules only.
pub fn check_name(
    cfg: &ProxyConfig,
    host: &str,
    port: u16,
    proto: Protocol,
) -> Result<Target, Box<Denial>> {
    let deny = |r: Reason| Box::new(Denial::new(host, port, proto, r));
    let Some(h) = normalize_host(host) else {
        return Err(deny(Reason::BadRequest {
            what: format!("`{host}` is not a host name or IP address"),
        }));
    };
    if port == 0 {
        return Err(deny(Reason::BadRequest {
            what: "port 0".into(),
        }));
    }
    let shown = h.to_string();
    let deny = |r: Reason| Box::new(Denial::new(&shown, port, proto, r));
    match cfg.rules.decide(&h, port) {
        DomainDecision::Allowed(_) => Ok(Target {
            host: h.clone(),
            shown: shown.clone(),
            port,
        }),
        DomainDecision::Denied(pattern) => Err(deny(Reason::Denied { pattern })),
        DomainDecision::NotAllowed if matches!(h, Host::Ip(_)) => Err(deny(Reason::IpLiteral)),
        DomainDecision::NotAllowed => Err(deny(Reason::NotAllowed)),
    }
}

/// Why a dial failed.
#[derive(Debug)]
pub enum DialError {
    /// Refused by policy (a checked address is local).
    Denied(Box<Denial>),
    /// Name resolution or every connection attempt failed.
    Failed(String),
}

/// Resolves `t` once, refuses when any address is local (unless allowed), then connects to
/// the checked addresses in order.
pub async fn dial(
    cfg: &ProxyConfig,
    own: &[IpAddr],
    t: &Target,
    proto: Protocol,
) -> Result<TcpStream, DialError> {
    let addrs: Vec<SocketAddr> = match &t.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, t.port)],
        Host::Name(n) => match tokio::net::lookup_host((n.as_str(), t.port)).await {
            Ok(a) => a.collect(),
            Err(e) => return Err(DialError::Failed(format!("cannot resolve {n}: {e}"))),
        },
    };
    if addrs.is_empty() {
        return Err(DialError::Failed(format!("{} has no address", t.shown)));
    }
    if !cfg.allow_local_binding {
        for a in &addrs {
            if let Some(kind) = local_kind(a.ip(), own) {
                return Err(DialError::Denied(Box::new(Denial::new(
                    &t.shown,
                    t.port,
                    proto,
                    Reason::LocalAddress {
                        address: a.ip().to_string(),
                        kind: kind.describe().to_string(),
                    },
                ))));
            }
        }
    }
    let mut last = String::new();
    for a in addrs {
        match tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(a)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => last = format!("{a}: {e}"),
            Err(_) => last = format!("{a}: timed out"),
        }
    }
    Err(DialError::Failed(format!(
        "cannot connect to {}:{} ({last})",
        t.shown, t.port
    )))
}

/// Splits a CONNECT authority (`host:port`, `[v6]:port`) into host and port.
pub fn split_authority(auth: &str) -> Option<(&str, u16)> {
    let (host, port) = auth.rsplit_once(':')?;
    if host.is_empty() || (host.contains(':') && !(host.starts_with('[') && host.ends_with(']'))) {
        return None;
    }
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((host, port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        assert_eq!(split_authority("pypi.org:443"), Some(("pypi.org", 443)));
        assert_eq!(split_authority("[::1]:80"), Some(("[::1]", 80)));
        assert_eq!(split_authority("::1:80"), None);
        assert_eq!(split_authority("pypi.org"), None);
        assert_eq!(split_authority("pypi.org:+1"), None);
        assert_eq!(split_authority("pypi.org:99999"), None);
        assert_eq!(split_authority(":80"), None);
    }
}
