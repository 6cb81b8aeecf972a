//! Property tests of the byte-level parsers a sandboxed client feeds: SOCKS5 requests, the TLS
//! ClientHello SNI reader, and CONNECT authorities. Arbitrary input never panics; valid input
//! round-trips; every strict prefix of a valid message is "incomplete", never a wrong answer.

use proptest::prelude::*;
use sandbox_egress::guard::split_authority;
use sandbox_egress::sni::{build_client_hello, client_hello, Hello};
use sandbox_egress::socks5::{self, Dest, Parse, Request};

fn host_name() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?){0,3}"
}

fn dest() -> impl Strategy<Value = Dest> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| Dest::Ip(std::net::Ipv4Addr::from(o).into())),
        any::<[u8; 16]>().prop_map(|o| Dest::Ip(std::net::Ipv6Addr::from(o).into())),
        host_name().prop_map(Dest::Name),
    ]
}

proptest! {
    #[test]
    fn socks_requests_round_trip(command in 1u8..=3, d in dest(), port in any::<u16>(), tail in prop::collection::vec(any::<u8>(), 0..8)) {
        let req = Request { command, dest: d, port };
        let mut bytes = socks5::encode_request(&req);
        let len = bytes.len();
        for cut in 0..len {
            prop_assert_eq!(socks5::request(&bytes[..cut]), Parse::Incomplete);
        }
        bytes.extend_from_slice(&tail);
        prop_assert_eq!(socks5::request(&bytes), Parse::Done(req, len));
    }

    #[test]
    fn socks_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Parse::Done(_, n) = socks5::request(&bytes) {
            prop_assert!(n <= bytes.len());
        }
        if let Parse::Done(_, n) = socks5::greeting(&bytes) {
            prop_assert!(n <= bytes.len());
        }
    }

    #[test]
    fn greeting_reports_no_auth(methods in prop::collection::vec(any::<u8>(), 1..10)) {
        let mut g = vec![5, methods.len() as u8];
        g.extend_from_slice(&methods);
        prop_assert_eq!(socks5::greeting(&g), Parse::Done(methods.contains(&0), g.len()));
        prop_assert_eq!(socks5::greeting(&g[..g.len() - 1]), Parse::Incomplete);
    }

    #[test]
    fn client_hello_names_round_trip(name in host_name()) {
        let rec = build_client_hello(Some(&name));
        prop_assert_eq!(client_hello(&rec), Hello::Sni(name.clone()));
        for cut in 0..rec.len() {
            prop_assert_eq!(client_hello(&rec[..cut]), Hello::Incomplete);
        }
    }

    #[test]
    fn sni_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = client_hello(&bytes);
        // The same bytes behind a plausible record header.
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        rec.extend_from_slice(&bytes);
        prop_assert_ne!(client_hello(&rec), Hello::Incomplete);
    }

    #[test]
    fn mutated_hellos_never_panic(name in host_name(), at in any::<prop::sample::Index>(), v in any::<u8>()) {
        let mut rec = build_client_hello(Some(&name));
        let i = at.index(rec.len());
        rec[i] = v;
        let _ = client_hello(&rec);
    }

    #[test]
    fn authorities_split_or_refuse(s in "[a-z0-9.:\\[\\]+-]{0,30}") {
        if let Some((host, port)) = split_authority(&s) {
            prop_assert_eq!(format!("{host}:{port}").len() <= s.len(), true);
            prop_assert!(!host.is_empty());
        }
    }

    #[test]
    fn authorities_round_trip(name in host_name(), port in any::<u16>()) {
        let auth = format!("{name}:{port}");
        prop_assert_eq!(split_authority(&auth), Some((name.as_str(), port)));
    }
}
