//! Which resolved addresses the proxy refuses to dial unless `allow_local_binding` is set:
//! loopback, private (RFC 1918, RFC 4193), link-local, cloud metadata endpoints, unspecified,
//! multicast/broadcast, and this host's own interface addresses. IPv4 embedded in IPv6
//! (mapped, compatible, NAT64 `64:ff9b::/96`) is judged as the IPv4 address it carries.
//!
//! Ranges reserved for documentation or benchmarking are deliberately NOT refused: on the
//! machines this runs on, real registries resolve into them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalKind {
    Loopback,
    Private,
    LinkLocal,
    Metadata,
    Unspecified,
    Multicast,
    ThisHost,
}

impl LocalKind {
    pub fn describe(self) -> &'static str {
        match self {
            LocalKind::Loopback => "a loopback address",
            LocalKind::Private => "a private address",
            LocalKind::LinkLocal => "a link-local address",
            LocalKind::Metadata => "a cloud metadata endpoint",
            LocalKind::Unspecified => "an unspecified address",
            LocalKind::Multicast => "a multicast or broadcast address",
            LocalKind::ThisHost => "an address of this host",
        }
    }
}

/// Metadata endpoints outside the link-local range (Alibaba Cloud).
const METADATA_V4: [Ipv4Addr; 1] = [Ipv4Addr::new(100, 100, 100, 200)];

fn v4_kind(a: Ipv4Addr) -> Option<LocalKind> {
    let o = a.octets();
    if METADATA_V4.contains(&a) || a == Ipv4Addr::new(169, 254, 169, 254) {
        Some(LocalKind::Metadata)
    } else if a.is_loopback() {
        Some(LocalKind::Loopback)
    } else if a.is_private() {
        Some(LocalKind::Private)
    } else if a.is_link_local() {
        Some(LocalKind::LinkLocal)
    } else if o[0] == 0 {
        Some(LocalKind::Unspecified) // 0.0.0.0/8: "this network"
    } else if a.is_multicast() || a.is_broadcast() {
        Some(LocalKind::Multicast)
    } else {
        None
    }
}

/// The IPv4 address carried inside an IPv6 one, where routing would reach it.
fn embedded_v4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = a.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = a.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    // NAT64 well-known prefix, and the deprecated IPv4-compatible form (not ::, ::1).
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || (s[..6] == [0; 6] && (s[6] != 0 || s[7] > 1)) {
        return Some(tail);
    }
    None
}

fn v6_kind(a: Ipv6Addr) -> Option<LocalKind> {
    if let Some(v4) = embedded_v4(a) {
        return v4_kind(v4);
    }
    let s0 = a.segments()[0];
    if a.is_loopback() {
        Some(LocalKind::Loopback)
    } else if a.is_unspecified() {
        Some(LocalKind::Unspecified)
    } else if s0 & 0xfe00 == 0xfc00 {
        // fc00::/7 unique local, which holds AWS's fd00:ec2::254 metadata endpoint too.
        if a == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
            Some(LocalKind::Metadata)
        } else {
            Some(LocalKind::Private)
        }
    } else if s0 & 0xffc0 == 0xfe80 || s0 & 0xffc0 == 0xfec0 {
        Some(LocalKind::LinkLocal) // link-local, and the deprecated site-local
    } else if a.is_multicast() {
        Some(LocalKind::Multicast)
    } else {
        None
    }
}

/// Classifies `ip`; `own` are this host's interface addresses.
pub fn local_kind(ip: IpAddr, own: &[IpAddr]) -> Option<LocalKind> {
    let kind = match ip {
        IpAddr::V4(a) => v4_kind(a),
        IpAddr::V6(a) => v6_kind(a),
    };
    if kind.is_some() {
        return kind;
    }
    let canon = |i: IpAddr| match i {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(i, IpAddr::V4),
        v4 => v4,
    };
    own.iter()
        .any(|o| canon(*o) == canon(ip))
        .then_some(LocalKind::ThisHost)
}

/// This host's interface addresses (empty where they cannot be listed).
pub fn host_addresses() -> Vec<IpAddr> {
    #[cfg(unix)]
    {
        let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
            return Vec::new();
        };
        addrs
            .filter_map(|a| {
                let sa = a.address?;
                if let Some(v4) = sa.as_sockaddr_in() {
                    Some(IpAddr::V4(v4.ip()))
                } else {
                    sa.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
                }
            })
            .collect()
    }
    #[cfg(not(unix))]
    {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Option<LocalKind> {
        local_kind(s.parse().unwrap(), &["203.0.113.9".parse().unwrap()])
    }

    #[test]
    fn dangerous_ranges_are_refused() {
        for (a, want) in [
            ("127.0.0.1", LocalKind::Loopback),
            ("127.9.9.9", LocalKind::Loopback),
            ("10.1.2.3", LocalKind::Private),
            ("172.16.0.1", LocalKind::Private),
            ("192.168.1.1", LocalKind::Private),
            ("169.254.169.254", LocalKind::Metadata),
            ("100.100.100.200", LocalKind::Metadata),
            ("169.254.3.4", LocalKind::LinkLocal),
            ("0.0.0.0", LocalKind::Unspecified),
            ("::1", LocalKind::Loopback),
            ("::", LocalKind::Unspecified),
            ("fd12::1", LocalKind::Private),
            ("fd00:ec2::254", LocalKind::Metadata),
            ("fe80::1", LocalKind::LinkLocal),
            ("::ffff:127.0.0.1", LocalKind::Loopback),
            ("::ffff:10.0.0.1", LocalKind::Private),
            ("64:ff9b::a9fe:a9fe", LocalKind::Metadata),
            ("::127.0.0.1", LocalKind::Loopback),
            ("224.0.0.1", LocalKind::Multicast),
            ("203.0.113.9", LocalKind::ThisHost),
            ("::ffff:203.0.113.9", LocalKind::ThisHost),
        ] {
            assert_eq!(k(a), Some(want), "{a}");
        }
    }

    #[test]
    fn public_and_documentation_ranges_pass() {
        for a in [
            "8.8.8.8",
            "151.101.0.223",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.10",
            "198.18.0.5",
            "100.64.0.1",
            "2001:db8::1",
            "2a04:4e42::223",
        ] {
            assert_eq!(k(a), None, "{a}");
        }
    }
}
