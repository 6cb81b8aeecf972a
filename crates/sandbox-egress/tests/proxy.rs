//! The proxy against a real origin on loopback: allowed and refused names over HTTP, CONNECT
//! and SOCKS5, the address guard, the SNI check, and the recorded denials.

use sandbox_core::domain::DomainRules;
use sandbox_egress::{sni, socks5, Proxy, ProxyConfig, Reason};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// An origin on 127.0.0.1: answers HTTP with `hello from HOST` (its Host header), and echoes
/// `tls:` plus the byte count for anything starting like a TLS record.
fn origin() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                loop {
                    let n = s.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if got[0] == 0x16 {
                        let _ = s.write_all(format!("tls:{}", got.len()).as_bytes());
                        return;
                    }
                    if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&got[..end]).to_string();
                        let host = head
                            .lines()
                            .find_map(|l| l.strip_prefix("host: ").or(l.strip_prefix("Host: ")))
                            .unwrap_or("")
                            .to_string();
                        let first = head.lines().next().unwrap_or("").to_string();
                        let body = format!("hello from {host} for {first}");
                        let _ = s.write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            )
                            .as_bytes(),
                        );
                        return;
                    }
                }
            });
        }
    });
    port
}

fn proxy(allow: &[&str], deny: &[&str], local: bool, tls_port: u16) -> (Proxy, u16) {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cfg = ProxyConfig {
        rules: DomainRules::parse(&s(allow), &s(deny)).unwrap(),
        allow_local_binding: local,
        tls_ports: vec![tls_port],
    };
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (Proxy::start(cfg, vec![l]).unwrap(), port)
}

fn roundtrip(port: u16, req: &[u8]) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(req).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn http_forwarding_checks_the_name_and_rewrites_host() {
    let o = origin();
    let (p, port) = proxy(&["localhost"], &[], true, 443);
    let r = roundtrip(
        port,
        format!("GET http://localhost:{o}/x?y HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(
        r.contains(&format!("hello from localhost:{o} for GET /x?y HTTP/1.1")),
        "{r}"
    );
    let r = roundtrip(
        port,
        format!("GET http://other.localhost:{o}/ HTTP/1.1\r\nHost: other.localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    assert!(r.contains("not in allowed_domains"), "{r}");
    assert!(r.contains("x-sandbox-denial: not_allowed"), "{r}");
    let d = p.stop();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].host, "other.localhost");
    assert_eq!(d[0].reason, Reason::NotAllowed);
}

#[test]
fn local_addresses_need_allow_local_binding_and_ip_literals_an_exact_rule() {
    let o = origin();
    let (p, port) = proxy(&["localhost", "*.example.com"], &[], false, 443);
    let r = roundtrip(
        port,
        format!("CONNECT localhost:{o} HTTP/1.1\r\nHost: localhost:{o}\r\n\r\n").as_bytes(),
    );
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    assert!(r.contains("allow_local_binding"), "{r}");
    let r = roundtrip(
        port,
        format!("CONNECT 127.0.0.1:{o} HTTP/1.1\r\nHost: 127.0.0.1:{o}\r\n\r\n").as_bytes(),
    );
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    let d = p.stop();
    assert!(matches!(d[0].reason, Reason::LocalAddress { .. }), "{d:?}");
    assert_eq!(d[1].reason, Reason::IpLiteral);
}

#[test]
fn deny_wins() {
    let (p, port) = proxy(&["*.localhost"], &["bad.localhost"], true, 443);
    let r = roundtrip(port, b"CONNECT bad.localhost:80 HTTP/1.1\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    assert!(r.contains("denied_domains"), "{r}");
    assert!(matches!(p.stop()[0].reason, Reason::Denied { .. }));
}

fn connect_then(port: u16, target: &str, payload: &[u8]) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    c.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if c.read(&mut b).unwrap_or(0) == 0 {
            break;
        }
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    c.write_all(payload).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn connect_to_a_tls_port_needs_a_client_hello_naming_the_host() {
    let o = origin();
    let (p, port) = proxy(&["localhost", "other.example"], &[], true, o);
    let target = format!("localhost:{o}");
    let good = sni::build_client_hello(Some("localhost"));
    assert_eq!(
        connect_then(port, &target, &good),
        format!("tls:{}", good.len())
    );
    assert_eq!(
        connect_then(
            port,
            &target,
            &sni::build_client_hello(Some("other.example"))
        ),
        ""
    );
    assert_eq!(connect_then(port, &target, b"GET / HTTP/1.1\r\n\r\n"), "");
    let d = p.stop();
    assert_eq!(
        d[0].reason,
        Reason::SniMismatch {
            sni: "other.example".into()
        }
    );
    assert!(matches!(d[1].reason, Reason::NotTls { .. }));
}

#[test]
fn connect_to_other_ports_is_a_plain_tunnel() {
    let o = origin();
    let (p, port) = proxy(&["localhost"], &[], true, 443);
    let r = connect_then(
        port,
        &format!("localhost:{o}"),
        b"GET /t HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(r.contains("hello from x for GET /t"), "{r}");
    assert!(p.stop().is_empty());
}

fn socks(port: u16, dest: socks5::Dest, dport: u16) -> (u8, TcpStream) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(&[5, 1, 0]).unwrap();
    let mut g = [0u8; 2];
    c.read_exact(&mut g).unwrap();
    assert_eq!(g, [5, 0]);
    let req = socks5::Request {
        command: 1,
        dest,
        port: dport,
    };
    c.write_all(&socks5::encode_request(&req)).unwrap();
    let mut r = [0u8; 10];
    c.read_exact(&mut r).unwrap();
    (r[1], c)
}

#[test]
fn socks5_connect_is_checked_like_connect() {
    let o = origin();
    let (p, port) = proxy(&["localhost"], &[], true, 443);
    let (code, mut c) = socks(port, socks5::Dest::Name("localhost".into()), o);
    assert_eq!(code, socks5::REPLY_OK);
    c.write_all(b"GET / HTTP/1.1\r\nHost: s\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    assert!(out.contains("hello from s"), "{out}");
    let (code, _) = socks(port, socks5::Dest::Name("evil.example".into()), o);
    assert_eq!(code, socks5::REPLY_NOT_ALLOWED);
    let (code, _) = socks(port, socks5::Dest::Ip("127.0.0.1".parse().unwrap()), o);
    assert_eq!(code, socks5::REPLY_NOT_ALLOWED);
    let d = p.stop();
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].host, "evil.example");
}

/// An origin that echoes every byte back and closes its side once the client has ended its
/// stream (a half-close the tunnel must pass on in both directions).
fn echo_origin() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut w = s.try_clone().unwrap();
                let _ = std::io::copy(&mut s, &mut w);
                let _ = w.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

/// Sends `payload` (then ends the stream) on `c` from another thread while reading everything
/// that comes back.
fn send_and_drain(mut c: TcpStream, payload: Vec<u8>) -> Vec<u8> {
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = c.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        w.write_all(&payload).unwrap();
        w.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut out = Vec::new();
    c.read_to_end(&mut out).unwrap();
    writer.join().unwrap();
    out
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 4099) as u8).collect()
}

#[test]
fn tunnels_relay_bulk_data_both_ways_and_pass_on_the_end_of_stream() {
    let o = echo_origin();
    let (p, port) = proxy(&["localhost"], &[], true, 443);
    // CONNECT, with the first bytes of the tunnel in the same write as the request (hyper has
    // read them already: they must still reach the origin, first).
    let payload = pattern(8 << 20);
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut first =
        format!("CONNECT localhost:{o} HTTP/1.1\r\nHost: localhost:{o}\r\n\r\n").into_bytes();
    first.extend_from_slice(&payload[..1000]);
    c.write_all(&first).unwrap();
    let out = send_and_drain(c, payload[1000..].to_vec());
    let head_end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response")
        + 4;
    assert!(out.starts_with(b"HTTP/1.1 200"));
    assert_eq!(out.len() - head_end, payload.len());
    assert!(out[head_end..] == payload[..], "the echoed bytes differ");
    // SOCKS5.
    let (code, c) = socks(port, socks5::Dest::Name("localhost".into()), o);
    assert_eq!(code, socks5::REPLY_OK);
    let back = send_and_drain(c, payload.clone());
    assert_eq!(back.len(), payload.len());
    assert!(back == payload, "the echoed bytes differ");
    assert!(p.stop().is_empty());
}

/// An origin for plain-HTTP forwarding: one request per connection (the proxy asks for
/// `Connection: close`), answered by path:
/// `/big/N` N pattern bytes with a Content-Length; `/head` the request head it got, as the
/// body; `/chunked` a chunked body and then the end; `/short` a Content-Length of 1000 with
/// 10 bytes and the end; `/extra` 5 bytes with a Content-Length of 5, then a forged second
/// response on the same connection; `/nolength` a body ended by closing.
fn http_origin() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&got).into_owned();
                let target = head.split(' ').nth(1).unwrap_or("");
                let path = target.split('?').next().unwrap_or("").to_string();
                let mut out = Vec::new();
                if let Some(n) = path.strip_prefix("/big/") {
                    let body = pattern(n.parse().unwrap());
                    out.extend(
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                            .bytes(),
                    );
                    out.extend(body);
                } else if path == "/head" {
                    out.extend(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}", head.len()).bytes());
                } else if path == "/chunked" {
                    out.extend(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
                } else if path == "/short" {
                    out.extend(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
                } else if path == "/extra" {
                    out.extend(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged");
                } else if path == "/nolength" {
                    out.extend(b"HTTP/1.1 200 OK\r\n\r\nuntil the end");
                } else {
                    out.extend(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                }
                let _ = s.write_all(&out);
            });
        }
    });
    port
}

/// Reads one response with a Content-Length (or none: then to the end) from `c`.
fn read_response(c: &mut TcpStream) -> (String, Vec<u8>) {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if c.read(&mut b).unwrap_or(0) == 0 {
            break;
        }
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let len = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().unwrap())
    });
    let mut body = Vec::new();
    match len {
        Some(n) => {
            body.resize(n, 0);
            c.read_exact(&mut body).unwrap();
        }
        None => {
            let _ = c.read_to_end(&mut body);
        }
    }
    (head, body)
}

fn get(host: &str, path: &str) -> String {
    format!("GET http://{host}{path} HTTP/1.1\r\nHost: {host}\r\n\r\n")
}

/// Sends a `GET` of `path` at `host` on `c` and reads its response (head, body).
fn request(c: &mut TcpStream, host: &str, path: &str) -> (String, Vec<u8>) {
    c.write_all(get(host, path).as_bytes()).unwrap();
    read_response(c)
}

fn client(port: u16) -> TcpStream {
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    c
}

#[test]
fn every_request_on_a_kept_alive_connection_is_checked() {
    let o = http_origin();
    let (p, port) = proxy(&["localhost"], &[], true, 443);
    let mut c = client(port);
    // One after the other, then two in one write (pipelined): the second is refused.
    let (head, body) = request(&mut c, &format!("localhost:{o}"), "/big/3");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, pattern(3));
    let two =
        get(&format!("localhost:{o}"), "/big/4") + &get(&format!("evil.localhost:{o}"), "/big/4");
    c.write_all(two.as_bytes()).unwrap();
    let (head, body) = read_response(&mut c);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, pattern(4));
    let (head, body) = read_response(&mut c);
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(head.contains("x-sandbox-denial: not_allowed"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("not in allowed_domains"));
    // A refusal ends the connection.
    assert_eq!(c.read(&mut [0u8; 1]).unwrap_or(0), 0);
    let d = p.stop();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].host, "evil.localhost");
    assert_eq!(d[0].protocol, sandbox_egress::Protocol::Http);
}

#[test]
fn requests_after_one_hyper_serves_are_still_checked() {
    let o = http_origin();
    let (p, port) = proxy(&["localhost"], &[], true, 443);
    let mut c = client(port);
    // A GET the fast path takes, then one with a body (hyper's from there on), then a refused
    // GET: hyper checks it.
    assert_eq!(
        request(&mut c, &format!("localhost:{o}"), "/big/10").1,
        pattern(10)
    );
    c.write_all(
        format!(
            "POST http://localhost:{o}/big/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
        )
        .as_bytes(),
    )
    .unwrap();
    let (head, body) = read_response(&mut c);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, pattern(7));
    let (head, _) = request(&mut c, &format!("evil.localhost:{o}"), "/");
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert_eq!(p.stop().len(), 1);
}

#[test]
fn a_get_to_a_local_address_needs_allow_local_binding() {
    let o = http_origin();
    let (p, port) = proxy(&["localhost"], &[], false, 443);
    let mut c = client(port);
    let (head, body) = request(&mut c, &format!("localhost:{o}"), "/big/3");
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(head.contains("x-sandbox-denial: local_address"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("allow_local_binding"));
    assert!(matches!(p.stop()[0].reason, Reason::LocalAddress { .. }));
}

#[test]
fn the_origin_gets_a_rebuilt_head_without_the_clients_hop_by_hop_headers() {
    let o = http_origin();
    let (p, port) = proxy(&["localhost"], &[], true, 443);
    let mut c = client(port);
    c.write_all(
        format!("GET http://user:pw@localhost:{o}/head?q HTTP/1.1\r\nHost: evil.example\r\nProxy-Authorization: Basic c2VjcmV0\r\nConnection: X-Hop\r\nX-Hop: 1\r\nAccept: */*\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let (head, body) = read_response(&mut c);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let sent = String::from_utf8(body).unwrap();
    assert_eq!(
        sent,
        format!("GET /head?q HTTP/1.1\r\nhost: localhost:{o}\r\nAccept: */*\r\nconnection: close\r\n\r\n")
    );
    // The origin's `Connection: close` is not passed on: the client connection stays.
    assert!(!head.to_ascii_lowercase().contains("connection"), "{head}");
    assert_eq!(
        request(&mut c, &format!("localhost:{o}"), "/big/2").1,
        pattern(2)
    );
    assert!(p.stop().is_empty());
}

#[test]
fn response_bodies_end_where_their_framing_says() {
    let o = http_origin();
    let (p, port) = proxy(&["localhost"], &[], true, 443);
    let host = format!("localhost:{o}");
    // A large body of known length, twice on one connection.
    let mut c = client(port);
    for _ in 0..2 {
        let (head, body) = request(&mut c, &host, &format!("/big/{}", 5 << 20));
        assert!(
            head.contains(&format!("Content-Length: {}", 5 << 20)),
            "{head}"
        );
        assert!(body == pattern(5 << 20), "the body differs");
    }
    // Bytes past the Content-Length never reach the client as a response.
    c.write_all((get(&host, "/extra") + &get(&host, "/big/3")).as_bytes())
        .unwrap();
    assert_eq!(read_response(&mut c).1, b"hello");
    assert_eq!(read_response(&mut c).1, pattern(3));
    // Chunked and unframed bodies: relayed as they are, then the connection ends.
    let out = String::from_utf8(until_closed(port, &get(&host, "/chunked"))).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nconnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        "{out}"
    );
    let out = String::from_utf8(until_closed(port, &get(&host, "/nolength"))).unwrap();
    assert!(
        out.ends_with("connection: close\r\n\r\nuntil the end"),
        "{out}"
    );
    // An origin that ends early: the client gets what came, then the end.
    let out = until_closed(port, &get(&host, "/short"));
    assert!(
        out.ends_with(b"\r\n\r\n0123456789"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(p.stop().is_empty());
}

/// Sends `request` on a new connection to the proxy and reads until the proxy closes it.
fn until_closed(port: u16, request: &str) -> Vec<u8> {
    let mut c = client(port);
    c.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    out
}
