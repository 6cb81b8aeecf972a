//! Reads the server name (SNI) from the first TLS record a client sends after `CONNECT`, so
//! the proxy can refuse a tunnel whose TLS names another host than the one allowed. No TLS is
//! terminated; record parsing is `tls-parser`'s.

use tls_parser::{
    parse_tls_extensions, parse_tls_plaintext, SNIType, TlsExtension, TlsMessage,
    TlsMessageHandshake,
};

/// Largest first record read: the TLS plaintext maximum plus the header.
pub const MAX_RECORD: usize = 5 + (1 << 14);

/// What the first bytes of a tunnel are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hello {
    /// More bytes are needed to see a whole record.
    Incomplete,
    /// Not a TLS handshake record.
    NotTls,
    /// A TLS record that is not one well-formed ClientHello (or one split across records).
    Malformed,
    /// A ClientHello without a host name (server_name absent).
    NoSni,
    /// A ClientHello naming this host (lowercase, as sent).
    Sni(String),
}

/// Classifies `buf`, the bytes received so far.
pub fn client_hello(buf: &[u8]) -> Hello {
    if buf.is_empty() {
        return Hello::Incomplete;
    }
    // A handshake record: type 22, major version 3.
    if buf[0] != 0x16 || (buf.len() >= 2 && buf[1] != 3) {
        return Hello::NotTls;
    }
    if buf.len() < 5 {
        return Hello::Incomplete;
    }
    let len = u16::from_be_bytes([buf[3], buf[4]]) as usize;
    if 5 + len > MAX_RECORD {
        return Hello::Malformed;
    }
    if buf.len() < 5 + len {
        return Hello::Incomplete;
    }
    let Ok((_, record)) = parse_tls_plaintext(&buf[..5 + len]) else {
        return Hello::Malformed;
    };
    let [TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch))] = record.msg.as_slice()
    else {
        return Hello::Malformed;
    };
    let Some(ext) = ch.ext else {
        return Hello::NoSni;
    };
    let Ok((rest, exts)) = parse_tls_extensions(ext) else {
        return Hello::Malformed;
    };
    if !rest.is_empty() {
        return Hello::Malformed;
    }
    let mut names = exts.iter().filter_map(|e| match e {
        TlsExtension::SNI(list) => Some(list),
        _ => None,
    });
    let Some(list) = names.next() else {
        return Hello::NoSni;
    };
    if names.next().is_some() {
        return Hello::Malformed; // two server_name extensions: a server may read either
    }
    let hosts: Vec<&[u8]> = list
        .iter()
        .filter(|(t, _)| *t == SNIType::HostName)
        .map(|(_, n)| *n)
        .collect();
    match hosts.as_slice() {
        [] => Hello::NoSni,
        [one] => match std::str::from_utf8(one) {
            Ok(s) if s.is_ascii() && !s.is_empty() => Hello::Sni(s.to_ascii_lowercase()),
            _ => Hello::Malformed,
        },
        _ => Hello::Malformed, // RFC 6066: at most one host_name
    }
}

/// A minimal ClientHello record naming `sni` (or none), for tests and fuzzing seeds.
#[doc(hidden)]
pub fn build_client_hello(sni: Option<&str>) -> Vec<u8> {
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let name = name.as_bytes();
        let list_len = 3 + name.len();
        exts.extend_from_slice(&0u16.to_be_bytes()); // server_name
        exts.extend_from_slice(&((list_len + 2) as u16).to_be_bytes());
        exts.extend_from_slice(&(list_len as u16).to_be_bytes());
        exts.push(0); // host_name
        exts.extend_from_slice(&(name.len() as u16).to_be_bytes());
        exts.extend_from_slice(name);
    }
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x11; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&2u16.to_be_bytes());
    body.extend_from_slice(&[0x13, 0x01]); // TLS_AES_128_GCM_SHA256
    body.extend_from_slice(&[1, 0]); // null compression
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_name_and_needs_the_whole_record() {
        let rec = build_client_hello(Some("Pypi.Org"));
        assert_eq!(client_hello(&rec), Hello::Sni("pypi.org".into()));
        for cut in 0..rec.len() {
            assert_eq!(client_hello(&rec[..cut]), Hello::Incomplete, "cut {cut}");
        }
        assert_eq!(client_hello(&build_client_hello(None)), Hello::NoSni);
    }

    #[test]
    fn other_bytes_are_not_tls() {
        assert_eq!(client_hello(b"GET / HTTP/1.1\r\n"), Hello::NotTls);
        assert_eq!(client_hello(b"SSH-2.0-OpenSSH"), Hello::NotTls);
        assert_eq!(
            client_hello(&[0x16, 3, 1, 0, 4, 1, 0, 0, 0]),
            Hello::Malformed
        );
    }
}
