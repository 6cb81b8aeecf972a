//! Host patterns of the egress allowlist (`--allow-domain`, `allowed_domains`, …) and the
//! decision for one destination.
//!
//! A pattern is an exact host (`pypi.org`), a wildcard (`*.example.com`, which also matches
//! the apex `example.com`, as Codex does), `*` (any host name), or an IP literal (`10.0.0.7`,
//! `[2001:db8::1]`), each with an optional `:port`. Host names are compared case-insensitively
//! and without a trailing dot. A deny pattern always wins; an empty allowlist allows nothing.

use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// The host part of a parsed pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
#[non_exhaustive]
pub enum HostMatch {
    /// Exactly this host name (lowercase, no trailing dot).
    Exact(String),
    /// This name and every name below it (`*.example.com` → `example.com`).
    Suffix(String),
    /// Any host name (`*`); never an IP literal.
    AnyName,
    /// Exactly this address.
    Ip(IpAddr),
}

/// One parsed pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DomainPattern {
    /// As the user wrote it, for messages.
    pub raw: String,
    pub host: HostMatch,
    /// `None`: any port.
    pub port: Option<u16>,
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Longest host name DNS allows.
const MAX_NAME: usize = 253;
/// Longest DNS label.
const MAX_LABEL: usize = 63;

impl DomainPattern {
    /// Parses one pattern; the error says what is wrong and what is expected.
    pub fn parse(raw: &str) -> Result<DomainPattern, String> {
        const EXPECTED: &str =
            "expected a host (`pypi.org`), `*.example.com`, or an IP literal, with an optional `:port`";
        let text = raw.trim();
        if text.is_empty() {
            return Err(format!("empty pattern; {EXPECTED}"));
        }
        if !text.is_ascii() {
            return Err(format!(
                "`{raw}` is not ASCII; write internationalised names in their punycode (xn--) form"
            ));
        }
        if text.contains("://") || text.contains('/') {
            return Err(format!("`{raw}` looks like a URL; {EXPECTED}"));
        }
        // `[v6]` or `[v6]:port`
        if let Some(rest) = text.strip_prefix('[') {
            let (addr, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("`{raw}`: unterminated `[`; {EXPECTED}"))?;
            let ip: std::net::Ipv6Addr = addr
                .parse()
                .map_err(|_| format!("`{raw}`: `{addr}` is not an IPv6 address"))?;
            let port = match after {
                "" => None,
                p => Some(parse_port(
                    raw,
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("`{raw}`: expected `:port` after `]`"))?,
                )?),
            };
            return Ok(DomainPattern {
                raw: raw.to_string(),
                host: HostMatch::Ip(IpAddr::V6(ip)),
                port,
            });
        }
        if text.matches(':').count() > 1 {
            return Err(format!(
                "`{raw}`: write an IPv6 address in brackets (`[2001:db8::1]:443`)"
            ));
        }
        let (host, port) = match text.split_once(':') {
            Some((h, p)) => (h, Some(parse_port(raw, p)?)),
            None => (text, None),
        };
        let host = host.to_ascii_lowercase();
        let host = host.strip_suffix('.').unwrap_or(&host);
        let matcher = if host == "*" {
            HostMatch::AnyName
        } else if let Some(suffix) = host.strip_prefix("*.") {
            check_name(raw, suffix)?;
            if suffix.parse::<IpAddr>().is_ok() || all_numeric(suffix) {
                return Err(format!("`{raw}`: a wildcard cannot apply to an IP address"));
            }
            HostMatch::Suffix(suffix.to_string())
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            HostMatch::Ip(ip)
        } else {
            check_name(raw, host)?;
            if all_numeric(host) {
                return Err(format!(
                    "`{raw}` is neither a host name nor an IPv4 address"
                ));
            }
            HostMatch::Exact(host.to_string())
        };
        Ok(DomainPattern {
            raw: raw.to_string(),
            host: matcher,
            port,
        })
    }

    /// Whether this pattern covers `host` (already normalised by [`normalize_host`]) on `port`.
    pub fn matches(&self, host: &Host, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match (&self.host, host) {
            (HostMatch::Exact(e), Host::Name(n)) => e == n,
            (HostMatch::Suffix(s), Host::Name(n)) => {
                n == s
                    || (n.len() > s.len()
                        && n.ends_with(s.as_str())
                        && n.as_bytes()[n.len() - s.len() - 1] == b'.')
            }
            (HostMatch::AnyName, Host::Name(_)) => true,
            (HostMatch::Ip(a), Host::Ip(b)) => canonical_ip(*a) == canonical_ip(*b),
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address compares equal to its IPv4 form.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn all_numeric(name: &str) -> bool {
    name.split('.')
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_port(raw: &str, p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 && !p.starts_with('+') => Ok(n),
        _ => Err(format!(
            "`{raw}`: port `{p}` is not a number from 1 to 65535"
        )),
    }
}

/// Checks a host name: dot-separated labels of letters, digits, `-` and `_`.
fn check_name(raw: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "`{raw}`: a host name has 1 to {MAX_NAME} characters"
        ));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL {
            return Err(format!(
                "`{raw}`: empty or over-long label in `{name}` (labels have 1 to {MAX_LABEL} characters)"
            ));
        }
        if label.contains('*') {
            return Err(format!(
                "`{raw}`: `*` is only allowed as the whole first label (`*.example.com`)"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "`{raw}`: `{c}` cannot appear in a host name (letters, digits, `-`, `_` and `.` only)"
            ));
        }
    }
    Ok(())
}

/// A destination host, normalised for matching.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum Host {
    /// A lowercase name without a trailing dot.
    Name(String),
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Normalises a destination as a client sent it (`Example.COM.`, `[::1]`, `10.0.0.1`). `None`
/// for something that is neither a valid host name nor an IP literal.
pub fn normalize_host(host: &str) -> Option<Host> {
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = inner.parse::<IpAddr>() {
        return Some(Host::Ip(ip));
    }
    if host.starts_with('[') || !host.is_ascii() {
        return None;
    }
    let lower = host.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    if check_name(host, name).is_err() || all_numeric(name) {
        return None;
    }
    Some(Host::Name(name.to_string()))
}

/// The allow and deny lists, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DomainRules {
    pub allow: Vec<DomainPattern>,
    pub deny: Vec<DomainPattern>,
}

/// Why a destination was allowed or refused by the lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision", content = "pattern")]
pub enum DomainDecision {
    /// Allowed by this allow pattern.
    Allowed(String),
    /// Refused by this deny pattern (deny always wins).
    Denied(String),
    /// No allow pattern matches.
    NotAllowed,
}

impl DomainRules {
    /// Parses both lists; the error names the list (`allow`/`deny`), the index and the reason.
    pub fn parse(allow: &[String], deny: &[String]) -> Result<DomainRules, (bool, usize, String)> {
        let parse_all = |list: &[String], is_allow: bool| {
            list.iter()
                .enumerate()
                .map(|(i, p)| DomainPattern::parse(p).map_err(|e| (is_allow, i, e)))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(DomainRules {
            allow: parse_all(allow, true)?,
            deny: parse_all(deny, false)?,
        })
    }

    /// The decision for `host:port`: a matching deny pattern refuses, else a matching allow
    /// pattern allows, else refused.
    pub fn decide(&self, host: &Host, port: u16) -> DomainDecision {
        if let Some(d) = self.deny.iter().find(|p| p.matches(host, port)) {
            return DomainDecision::Denied(d.raw.clone());
        }
        match self.allow.iter().find(|p| p.matches(host, port)) {
            Some(a) => DomainDecision::Allowed(a.raw.clone()),
            None => DomainDecision::NotAllowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: &[&str], deny: &[&str]) -> DomainRules {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        DomainRules::parse(&s(allow), &s(deny)).unwrap()
    }

    fn name(n: &str) -> Host {
        normalize_host(n).unwrap()
    }

    #[test]
    fn wildcard_matches_apex_and_below_but_not_lookalikes() {
        let r = rules(&["*.example.com"], &[]);
        for ok in ["example.com", "a.example.com", "a.b.Example.COM."] {
            assert!(
                matches!(r.decide(&name(ok), 443), DomainDecision::Allowed(_)),
                "{ok}"
            );
        }
        for no in [
            "badexample.com",
            "example.com.evil.org",
            "com",
            "xexample.com",
        ] {
            assert_eq!(r.decide(&name(no), 443), DomainDecision::NotAllowed, "{no}");
        }
    }

    #[test]
    fn deny_wins_and_empty_allowlist_allows_nothing() {
        let r = rules(&["*.example.com"], &["evil.example.com"]);
        assert_eq!(
            r.decide(&name("evil.example.com"), 443),
            DomainDecision::Denied("evil.example.com".into())
        );
        assert_eq!(
            rules(&[], &[]).decide(&name("pypi.org"), 443),
            DomainDecision::NotAllowed
        );
    }

    #[test]
    fn ports_restrict_only_when_given() {
        let r = rules(&["pypi.org:443"], &[]);
        assert!(matches!(
            r.decide(&name("pypi.org"), 443),
            DomainDecision::Allowed(_)
        ));
        assert_eq!(r.decide(&name("pypi.org"), 80), DomainDecision::NotAllowed);
    }

    #[test]
    fn ip_literals_match_only_ip_patterns() {
        let r = rules(&["*", "10.0.0.7", "[2001:db8::1]:443"], &[]);
        assert_eq!(
            r.decide(&name("10.0.0.8"), 80),
            DomainDecision::NotAllowed,
            "`*` covers names, not addresses"
        );
        assert!(matches!(
            r.decide(&name("10.0.0.7"), 80),
            DomainDecision::Allowed(_)
        ));
        assert!(matches!(
            r.decide(&name("[2001:db8::1]"), 443),
            DomainDecision::Allowed(_)
        ));
        assert!(matches!(
            r.decide(&name("::ffff:10.0.0.7"), 80),
            DomainDecision::Allowed(_)
        ));
    }

    #[test]
    fn bad_patterns_are_refused_with_a_reason() {
        for bad in [
            "",
            "http://pypi.org",
            "pypi.org/simple",
            "a*.example.com",
            "*.*.example.com",
            "pypi.org:0",
            "pypi.org:70000",
            "pypi.org:x",
            "::1",
            "[::1",
            "*.10.0.0.1",
            "exa mple.com",
            "ex..ample.com",
            "bücher.de",
            "1.2.3",
        ] {
            let e = DomainPattern::parse(bad).expect_err(bad);
            assert!(!e.is_empty());
        }
    }
}
