//! Proxy mode's listening port: a free port on the host's loopback, held on both 127.0.0.1
//! and ::1.
//!
//! The profile lets the command connect to `localhost:PORT`, and Seatbelt's `localhost` is
//! both loopback addresses. Holding the port on both means no other program can listen on
//! the other address at the same port and be reached from inside. The listeners are created
//! close-on-exec (std does so on every Unix), so the command never inherits them.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

/// How many ports to try before giving up when ::1 has the chosen port taken.
const ATTEMPTS: usize = 32;

/// Binds `127.0.0.1:0` and the same port on `[::1]` (where IPv6 exists). Returns the
/// listeners, IPv4 first.
pub fn reserve() -> io::Result<Vec<TcpListener>> {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let port = v4.local_addr()?.port();
        match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))) {
            Ok(v6) => return Ok(vec![v4, v6]),
            // No IPv6 loopback on this host: nobody can listen there either.
            Err(e) if e.kind() == io::ErrorKind::AddrNotAvailable => return Ok(vec![v4]),
            Err(e) if is_unsupported(&e) => return Ok(vec![v4]),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free port")))
}

/// IPv6 switched off entirely (`EAFNOSUPPORT`).
fn is_unsupported(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Unsupported || e.raw_os_error().is_some_and(|c| c == EAFNOSUPPORT)
}

#[cfg(any(target_os = "macos", target_os = "ios"))]
const EAFNOSUPPORT: i32 = 47;
#[cfg(not(any(target_os = "macos", target_os = "ios")))]
const EAFNOSUPPORT: i32 = 97;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_loopbacks_hold_the_same_port() {
        let ls = reserve().unwrap();
        let port = ls[0].local_addr().unwrap().port();
        assert_ne!(port, 0);
        assert!(ls[0].local_addr().unwrap().ip().is_loopback());
        for l in &ls {
            assert_eq!(l.local_addr().unwrap().port(), port);
            assert!(l.local_addr().unwrap().ip().is_loopback());
        }
        // Taken: nobody else can listen there while the sandbox holds it.
        assert!(TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).is_err());
    }
}
