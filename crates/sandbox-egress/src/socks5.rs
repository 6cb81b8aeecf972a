//! SOCKS5 (RFC 1928) `CONNECT` without authentication: the byte-level parsers, pure functions
//! over what was received so far, so they can be property-tested; the proxy drives them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Result of parsing a prefix of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parse<T> {
    Incomplete,
    /// Not valid SOCKS5; the reason is for the log.
    Invalid(&'static str),
    /// Parsed, using this many bytes.
    Done(T, usize),
}

/// The client's greeting: whether it offers "no authentication".
pub fn greeting(buf: &[u8]) -> Parse<bool> {
    let Some(&ver) = buf.first() else {
        return Parse::Incomplete;
    };
    if ver != 5 {
        return Parse::Invalid("not SOCKS version 5");
    }
    let Some(&n) = buf.get(1) else {
        return Parse::Incomplete;
    };
    let n = n as usize;
    if n == 0 {
        return Parse::Invalid("no authentication methods offered");
    }
    match buf.get(2..2 + n) {
        None => Parse::Incomplete,
        Some(methods) => Parse::Done(methods.contains(&0), 2 + n),
    }
}

/// The destination of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    Ip(IpAddr),
    /// A host name as sent (ASCII).
    Name(String),
}

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// 1 CONNECT, 2 BIND, 3 UDP ASSOCIATE; only CONNECT is served.
    pub command: u8,
    pub dest: Dest,
    pub port: u16,
}

/// Reply codes used.
pub const REPLY_OK: u8 = 0;
pub const REPLY_FAILURE: u8 = 1;
pub const REPLY_NOT_ALLOWED: u8 = 2;
pub const REPLY_HOST_UNREACHABLE: u8 = 4;
pub const REPLY_COMMAND_UNSUPPORTED: u8 = 7;
pub const REPLY_ADDRESS_UNSUPPORTED: u8 = 8;

/// The request after the greeting: `VER CMD RSV ATYP DST.ADDR DST.PORT`.
pub fn request(buf: &[u8]) -> Parse<Request> {
    if buf.len() < 4 {
        return match buf.first() {
            Some(&v) if v != 5 => Parse::Invalid("not SOCKS version 5"),
            _ => Parse::Incomplete,
        };
    }
    if buf[0] != 5 {
        return Parse::Invalid("not SOCKS version 5");
    }
    if buf[2] != 0 {
        return Parse::Invalid("reserved byte is not zero");
    }
    let command = buf[1];
    let (dest, at) = match buf[3] {
        1 => match buf.get(4..8) {
            None => return Parse::Incomplete,
            Some(a) => (
                Dest::Ip(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))),
                8,
            ),
        },
        4 => match buf.get(4..20) {
            None => return Parse::Incomplete,
            Some(a) => {
                let octets: [u8; 16] = a.try_into().expect("16 bytes");
                (Dest::Ip(IpAddr::V6(Ipv6Addr::from(octets))), 20)
            }
        },
        3 => {
            let Some(&len) = buf.get(4) else {
                return Parse::Incomplete;
            };
            let len = len as usize;
            let Some(name) = buf.get(5..5 + len) else {
                return Parse::Incomplete;
            };
            if len == 0 || !name.is_ascii() {
                return Parse::Invalid("host name is empty or not ASCII");
            }
            (
                Dest::Name(String::from_utf8(name.to_vec()).expect("ASCII")),
                5 + len,
            )
        }
        _ => return Parse::Invalid("unknown address type"),
    };
    match buf.get(at..at + 2) {
        None => Parse::Incomplete,
        Some(p) => Parse::Done(
            Request {
                command,
                dest,
                port: u16::from_be_bytes([p[0], p[1]]),
            },
            at + 2,
        ),
    }
}

/// Encodes a request (for tests and the `connect` helper).
pub fn encode_request(r: &Request) -> Vec<u8> {
    let mut out = vec![5, r.command, 0];
    match &r.dest {
        Dest::Ip(IpAddr::V4(a)) => {
            out.push(1);
            out.extend_from_slice(&a.octets());
        }
        Dest::Ip(IpAddr::V6(a)) => {
            out.push(4);
            out.extend_from_slice(&a.octets());
        }
        Dest::Name(n) => {
            out.push(3);
            out.push(n.len().min(255) as u8);
            out.extend_from_slice(&n.as_bytes()[..n.len().min(255)]);
        }
    }
    out.extend_from_slice(&r.port.to_be_bytes());
    out
}

/// A reply with an all-zero bound address.
pub fn reply(code: u8) -> [u8; 10] {
    [5, code, 0, 1, 0, 0, 0, 0, 0, 0]
}
