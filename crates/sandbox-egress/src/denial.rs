//! Refusal events: one [`Denial`] per refused request, the line a client sees in the 403, and
//! the per-host summary printed after the run.

use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// How the client reached the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// A plain HTTP request in absolute form (`GET http://host/…`).
    Http,
    /// An HTTP `CONNECT` tunnel.
    Connect,
    /// A SOCKS5 `CONNECT`.
    Socks5,
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Reason {
    /// No allow pattern matches the host.
    NotAllowed,
    /// A deny pattern matches.
    Denied { pattern: String },
    /// The target is an IP literal that is not allowlisted itself.
    IpLiteral,
    /// The name resolved to an address the proxy does not dial.
    LocalAddress { address: String, kind: String },
    /// The TLS ClientHello names another host than the tunnel's.
    SniMismatch { sni: String },
    /// A tunnel to port 443 that did not start with a TLS ClientHello naming its host.
    NotTls { what: String },
    /// The request itself is unusable (not a host name, not absolute form, …).
    BadRequest { what: String },
}

/// One refused request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Denial {
    pub host: String,
    pub port: u16,
    pub protocol: Protocol,
    #[serde(flatten)]
    pub reason: Reason,
    /// The config key (or flag) that would allow it, when one would.
    pub key: Option<String>,
    /// The one-line reason sent to the client.
    pub message: String,
}

impl Denial {
    pub fn new(host: &str, port: u16, protocol: Protocol, reason: Reason) -> Denial {
        let (why, key) = match &reason {
            Reason::NotAllowed => (
                "not in allowed_domains".to_string(),
                Some(format!(
                    "--allow-domain {host} (network_proxy.policy.allowed_domains)"
                )),
            ),
            Reason::Denied { pattern } => (
                format!("matches denied_domains pattern `{pattern}`"),
                Some("remove it from network_proxy.policy.denied_domains / --deny-domain".into()),
            ),
            Reason::IpLiteral => (
                "an IP address that is not itself in allowed_domains".to_string(),
                Some(format!(
                    "--allow-domain {host} (network_proxy.policy.allowed_domains)"
                )),
            ),
            Reason::LocalAddress { address, kind } => (
                format!("resolves to {address}, {kind}"),
                Some("network_proxy.policy.allow_local_binding = true".into()),
            ),
            Reason::SniMismatch { sni } => (
                format!("the TLS ClientHello names `{sni}`, not the tunnel's host"),
                None,
            ),
            Reason::NotTls { what } => (what.clone(), None),
            Reason::BadRequest { what } => (what.clone(), None),
        };
        let message = match &key {
            Some(k) => format!("sandbox: blocked {host}:{port}: {why}; allow it with {k}"),
            None => format!("sandbox: blocked {host}:{port}: {why}"),
        };
        Denial {
            host: host.to_string(),
            port,
            protocol,
            reason,
            key,
            message,
        }
    }

    /// The short reason used in summaries (`not in allowed_domains`).
    pub fn short_reason(&self) -> String {
        match &self.reason {
            Reason::NotAllowed => "not in allowed_domains".into(),
            Reason::Denied { pattern } => format!("denied by `{pattern}`"),
            Reason::IpLiteral => "IP literal not in allowed_domains".into(),
            Reason::LocalAddress { kind, .. } => format!("resolves to {kind}"),
            Reason::SniMismatch { sni } => format!("TLS names `{sni}`"),
            Reason::NotTls { .. } => "not a TLS ClientHello naming the host".into(),
            Reason::BadRequest { .. } => "bad request".into(),
        }
    }
}

/// One line per blocked host and reason: `blocked 3 requests to evil.com (not in
/// allowed_domains)`, in host order. Without the `sandbox: ` prefix.
pub fn summary(denials: &[Denial]) -> Vec<String> {
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for d in denials {
        *counts
            .entry((d.host.clone(), d.short_reason()))
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((host, why), n)| {
            let noun = if n == 1 { "request" } else { "requests" };
            format!("blocked {n} {noun} to {host} ({why})")
        })
        .collect()
}

/// Writes `denials` to `path` as JSON lines, one object per refusal (an empty file when
/// there are none): `--denials-json`, for agent runtimes.
pub fn write_json_lines(path: &Path, denials: &[Denial]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for d in denials {
        let line = serde_json::to_string(d).map_err(std::io::Error::other)?;
        writeln!(f, "{line}")?;
    }
    f.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_per_host() {
        let d = |h: &str| Denial::new(h, 443, Protocol::Connect, Reason::NotAllowed);
        let lines = summary(&[d("evil.com"), d("evil.com"), d("evil.com"), d("a.org")]);
        assert_eq!(
            lines,
            [
                "blocked 1 request to a.org (not in allowed_domains)",
                "blocked 3 requests to evil.com (not in allowed_domains)"
            ]
        );
        assert!(d("evil.com").message.contains("--allow-domain evil.com"));
    }

    #[test]
    fn json_lines_one_object_per_refusal() {
        let dir = std::env::temp_dir().join(format!("egress-json-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.jsonl");
        let d = Denial::new("evil.com", 443, Protocol::Connect, Reason::NotAllowed);
        write_json_lines(&path, &[d.clone(), d]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["host"], "evil.com");
        assert_eq!(lines[0]["rule"], "not_allowed");
        write_json_lines(&path, &[]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
