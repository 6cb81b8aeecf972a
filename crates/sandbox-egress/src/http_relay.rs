//! Plain-HTTP forwarding of the common request, a bodiless `GET`, with the response body
//! relayed by the kernel (`splice(2)` on Linux) instead of through hyper.
//!
//! Why: hyper reads every response byte into this process and writes it out again; on a
//! loopback download those two copies are most of the proxy's CPU time (BENCHMARKS.md §5).
//!
//! Which requests: the head is parsed with `httparse` (the parser hyper itself uses) from
//! bytes *peeked* from the client socket, so nothing is consumed until this module takes the
//! request. It takes only a head that is complete in one peek, of an HTTP/1.1 `GET` with an
//! `http://` absolute-form target and no `Content-Length`, `Transfer-Encoding`, `Expect` or
//! `Upgrade` header: such a request has no body (RFC 9112 §6.3), so where it ends is not in
//! doubt. Anything else (other methods, request bodies, `CONNECT`, an incomplete or malformed
//! head) stays in the socket and hyper serves the connection from there on ([`Step::Hyper`]).
//!
//! Policy is the same as on hyper's path, per request: every request on a kept-alive
//! connection is parsed again (here or by hyper), checked against the domain rules and dialled
//! through the address guard before a byte goes upstream; refusals are recorded and answered
//! with the same 403. The upstream connection carries exactly one request, rebuilt from the
//! parsed head (origin-form target, the checked host as `Host`, `Connection: close`), so no
//! client byte reaches an origin unchecked.
//!
//! Response framing (RFC 9112 §6.3): 204 and 304 have no body; a `Content-Length` (every
//! value equal, digits only) is relayed exactly and the client connection kept alive; a
//! `Transfer-Encoding` (passed on undecoded: the client decodes it) or no length at all is
//! relayed until the origin closes, and then the client connection is closed too, so the
//! client never has to agree with this module on where such a body ended.

use crate::denial::Protocol;
use crate::guard::{check_name, dial, DialError};
use crate::reply::{refused, text, Body};
use crate::state::Shared;
use http_body_util::BodyExt;
use hyper::header::{CONNECTION, CONTENT_LENGTH};
use hyper::{Response, StatusCode, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest request head taken here (a longer one goes to hyper).
const MAX_HEAD: usize = 16 * 1024;
/// The longest response head accepted from an origin.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// The most header lines in a head (hyper's default limit too).
const MAX_HEADERS: usize = 100;

/// What became of the client connection after [`next`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A request was served; the next one may follow on the same connection.
    Next,
    /// The connection is done (closed by the client, or closed after this response).
    Close,
    /// The next request is not one this module takes; nothing of it was consumed, and hyper
    /// serves the connection from here on.
    Hyper,
}

/// Where an absolute-form `http://` request goes, as checked and as sent on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Route {
    /// The host as written in the URI (brackets kept for IPv6), for the domain rules.
    pub host: String,
    pub port: u16,
    /// The `Host` header the origin gets: the checked host, with the port if one was written
    /// (never a userinfo part, whatever `Host` the client sent).
    pub host_header: String,
    /// The origin-form target (`/path?query`).
    pub path: String,
}

/// The route of an absolute `http://` URI; `Err` with the message for the client otherwise.
pub(crate) fn route(uri: &Uri) -> Result<Route, &'static str> {
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Err("sandbox: send https:// requests through CONNECT"),
        _ => return Err("sandbox: this is a proxy: use an absolute http:// URI or CONNECT"),
    }
    let Some(auth) = uri.authority() else {
        return Err("sandbox: the URI has no host");
    };
    let host_header = match auth.port() {
        Some(p) => format!("{}:{}", auth.host(), p.as_str()),
        None => auth.host().to_string(),
    };
    Ok(Route {
        host: auth.host().to_string(),
        port: auth.port_u16().unwrap_or(80),
        host_header,
        // `path()` is `/` when the URI has none (`http://h?x` is `/?x` on the origin).
        path: match uri.query() {
            Some(q) => format!("{}?{q}", uri.path()),
            None => uri.path().to_string(),
        },
    })
}

/// A request this module takes.
#[derive(Debug)]
struct Get {
    /// Bytes of the head (to consume from the client socket).
    head_len: usize,
    route: Route,
    /// The header lines passed on, hop-by-hop ones and `Host` removed.
    headers: Vec<(String, Vec<u8>)>,
    /// The client asked for the connection to be closed after this response.
    close: bool,
}

/// Request headers that are not passed on (besides those a `Connection` header lists).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
    "host",
];

/// The tokens of a `Connection` header, lower-cased.
fn connection_tokens(value: &[u8]) -> Option<Vec<String>> {
    let v = std::str::from_utf8(value).ok()?;
    Some(
        v.split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect(),
    )
}

/// The request at the start of `bytes`, if it is one this module takes.
fn parse_get(bytes: &[u8]) -> Option<Get> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let head_len = match req.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return None,
    };
    if req.method != Some("GET") || req.version != Some(1) {
        return None;
    }
    let uri: Uri = req.path?.parse().ok()?;
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let route = route(&uri).ok()?;
    let mut close = false;
    let mut listed = Vec::new();
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        match name.as_str() {
            "content-length" | "transfer-encoding" | "expect" | "upgrade" => return None,
            "connection" => {
                for t in connection_tokens(h.value)? {
                    if t == "close" {
                        close = true;
                    } else {
                        listed.push(t);
                    }
                }
            }
            _ => {}
        }
    }
    let headers = req
        .headers
        .iter()
        .filter(|h| {
            let name = h.name.to_ascii_lowercase();
            !HOP_BY_HOP.contains(&name.as_str()) && !listed.contains(&name)
        })
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    Some(Get {
        head_len,
        route,
        headers,
        close,
    })
}

impl Get {
    /// The head sent upstream.
    fn upstream_head(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(self.route.path.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        out.extend_from_slice(self.route.host_header.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"connection: close\r\n\r\n");
        out
    }
}

/// How the response body ends.
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    /// Chunked (passed on as is) or unframed: until the origin closes.
    UntilClose,
}

/// An origin's response head.
#[derive(Debug)]
struct Head {
    len: usize,
    code: u16,
    reason: String,
    headers: Vec<(String, Vec<u8>)>,
}

/// The response head at the start of `bytes`: `Ok(None)` while incomplete, `Err` if malformed.
fn parse_response(bytes: &[u8]) -> Result<Option<Head>, ()> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    match resp.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => Ok(Some(Head {
            len,
            code: resp.code.ok_or(())?,
            reason: resp.reason.unwrap_or("").to_string(),
            headers: resp
                .headers
                .iter()
                .map(|h| (h.name.to_string(), h.value.to_vec()))
                .collect(),
        })),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(_) => Err(()),
    }
}

impl Head {
    /// The body's framing; `Err` for a `Content-Length` that is not one plain number.
    fn framing(&self) -> Result<Framing, ()> {
        if self.code == 204 || self.code == 304 {
            return Ok(Framing::Empty);
        }
        let named = |n: &'static str| {
            self.headers
                .iter()
                .filter(move |(name, _)| name.eq_ignore_ascii_case(n))
        };
        if named("transfer-encoding").next().is_some() {
            return Ok(Framing::UntilClose);
        }
        let mut len = None;
        for (_, value) in named("content-length") {
            for v in std::str::from_utf8(value).map_err(|_| ())?.split(',') {
                let v = v.trim();
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(());
                }
                let n: u64 = v.parse().map_err(|_| ())?;
                if len.is_some_and(|l| l != n) {
                    return Err(());
                }
                len = Some(n);
            }
        }
        Ok(len.map_or(Framing::UntilClose, Framing::Length))
    }

    /// The head sent to the client: hop-by-hop headers removed (and `Content-Length` beside a
    /// `Transfer-Encoding`), `connection: close` added when the connection ends after it.
    fn client_head(&self, close: bool) -> Vec<u8> {
        let mut listed = Vec::new();
        let mut chunked = false;
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("connection") {
                listed.extend(connection_tokens(value).unwrap_or_default());
            }
            chunked |= name.eq_ignore_ascii_case("transfer-encoding");
        }
        let reason = match self.reason.as_str() {
            "" => StatusCode::from_u16(self.code)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or(""),
            r => r,
        };
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(format!("HTTP/1.1 {} {reason}\r\n", self.code).as_bytes());
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "connection" | "keep-alive" | "proxy-connection" | "upgrade"
            ) || listed.contains(&lower)
                || (chunked && lower == "content-length")
            {
                continue;
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if close {
            out.extend_from_slice(b"connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// Serves the next request on `client` if it is one this module takes (see the module doc).
/// `buf` is scratch space kept across the requests of one connection.
pub(crate) async fn next(client: &mut TcpStream, sh: &Shared, buf: &mut Vec<u8>) -> Step {
    buf.resize(MAX_HEAD, 0);
    let n = match client.peek(buf).await {
        Ok(0) | Err(_) => return Step::Close,
        Ok(n) => n,
    };
    let Some(get) = parse_get(&buf[..n]) else {
        return Step::Hyper;
    };
    // Taken: the head leaves the socket (it is all there: it was just peeked).
    if client.read_exact(&mut buf[..get.head_len]).await.is_err() {
        return Step::Close;
    }
    let target = match check_name(&sh.cfg, &get.route.host, get.route.port, Protocol::Http) {
        Ok(t) => t,
        Err(d) => return answer(client, refused(sh, &d)).await,
    };
    let mut upstream = match dial(&sh.cfg, &sh.own, &target, Protocol::Http).await {
        Ok(s) => s,
        Err(DialError::Denied(d)) => return answer(client, refused(sh, &d)).await,
        Err(DialError::Failed(m)) => {
            return answer(
                client,
                text(StatusCode::BAD_GATEWAY, &format!("sandbox: {m}")),
            )
            .await
        }
    };
    if upstream.write_all(&get.upstream_head()).await.is_err() {
        return bad_gateway(client, "the origin closed the connection").await;
    }
    let mut got = Vec::with_capacity(8 * 1024);
    let head = loop {
        match parse_response(&got) {
            // Interim responses (100, 103) are dropped, as hyper's client does; 101 was not
            // asked for (no Upgrade is passed on).
            Ok(Some(h)) if (100..200).contains(&h.code) && h.code != 101 => {
                got.drain(..h.len);
                continue;
            }
            Ok(Some(h)) if h.code >= 200 => break h,
            Ok(Some(_)) | Err(()) => {
                return bad_gateway(client, "the origin sent a malformed response").await
            }
            Ok(None) if got.len() >= MAX_RESPONSE_HEAD => {
                return bad_gateway(client, "the origin's response head is too long").await
            }
            Ok(None) => {}
        }
        got.reserve(8 * 1024);
        match upstream.read_buf(&mut got).await {
            Ok(0) | Err(_) => return bad_gateway(client, "the origin closed the connection").await,
            Ok(_) => {}
        }
    };
    let Ok(framing) = head.framing() else {
        return bad_gateway(client, "the origin sent an invalid Content-Length").await;
    };
    let close = get.close || framing == Framing::UntilClose;
    let mut out = head.client_head(close);
    let early = &got[head.len..];
    let rest = match framing {
        Framing::Empty => 0,
        Framing::Length(n) => {
            let now = early.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            out.extend_from_slice(&early[..now]);
            n - now as u64
        }
        Framing::UntilClose => {
            out.extend_from_slice(early);
            u64::MAX
        }
    };
    if client.write_all(&out).await.is_err() {
        return Step::Close;
    }
    if rest > 0 {
        match relay_body(&mut upstream, client, rest).await {
            Ok(n) if n == rest || framing == Framing::UntilClose => {}
            // The origin ended early or failed: the client sees a short body and the end.
            _ => return end(client).await,
        }
    }
    if close {
        return end(client).await;
    }
    Step::Next
}

/// Moves `len` bytes of body (`u64::MAX`: until the origin closes) to the client.
#[cfg(target_os = "linux")]
async fn relay_body(
    upstream: &mut TcpStream,
    client: &mut TcpStream,
    len: u64,
) -> std::io::Result<u64> {
    crate::splice::copy(upstream, client, len).await
}

#[cfg(not(target_os = "linux"))]
async fn relay_body(
    upstream: &mut TcpStream,
    client: &mut TcpStream,
    len: u64,
) -> std::io::Result<u64> {
    tokio::io::copy(&mut upstream.take(len), client).await
}

async fn bad_gateway(client: &mut TcpStream, what: &str) -> Step {
    answer(
        client,
        text(StatusCode::BAD_GATEWAY, &format!("sandbox: {what}")),
    )
    .await
}

/// Sends `resp` (a refusal or an error: a short, complete body) and ends the connection.
async fn answer(client: &mut TcpStream, resp: Response<Body>) -> Step {
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let status = parts.status;
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        if name != CONNECTION && name != CONTENT_LENGTH {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&body);
    if client.write_all(&out).await.is_ok() {
        return end(client).await;
    }
    Step::Close
}

/// Tells the client this connection ends (the caller drops the socket).
async fn end(client: &mut TcpStream) -> Step {
    let _ = client.shutdown().await;
    Step::Close
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(head: &str) -> Option<Get> {
        parse_get(head.as_bytes())
    }

    #[test]
    fn only_bodiless_http11_gets_in_absolute_form_are_taken() {
        let g =
            get("GET http://a.example:8080/x?y HTTP/1.1\r\nHost: evil\r\nAccept: */*\r\n\r\nGET ")
                .unwrap();
        assert_eq!(g.head_len, 67);
        assert_eq!(
            g.route,
            Route {
                host: "a.example".into(),
                port: 8080,
                host_header: "a.example:8080".into(),
                path: "/x?y".into()
            }
        );
        assert!(!g.close);
        assert_eq!(
            String::from_utf8(g.upstream_head()).unwrap(),
            "GET /x?y HTTP/1.1\r\nhost: a.example:8080\r\nAccept: */*\r\nconnection: close\r\n\r\n"
        );
        for taken_elsewhere in [
            "POST http://a/ HTTP/1.1\r\n\r\n",
            "GET http://a/ HTTP/1.0\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET https://a/ HTTP/1.1\r\n\r\n",
            "CONNECT a:443 HTTP/1.1\r\n\r\n",
            "GET http://a/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "GET http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET http://a/ HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            "GET http://a/ HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "GET http://a/ HTTP/1.1\r\nHost: a\r\n",
            "GET http://a/ HTTP/1.1\r\nBad Header: x\r\n\r\n",
            "GET http://a/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
        ] {
            assert!(get(taken_elsewhere).is_none(), "{taken_elsewhere:?}");
        }
    }

    #[test]
    fn routes() {
        let r = |s: &str| route(&s.parse().unwrap());
        assert_eq!(r("http://h?x").unwrap().path, "/?x");
        assert_eq!(r("http://h").unwrap().path, "/");
        let x = r("http://u:p@[::1]:8080/a/b?c=d").unwrap();
        assert_eq!(
            x,
            Route {
                host: "[::1]".into(),
                port: 8080,
                host_header: "[::1]:8080".into(),
                path: "/a/b?c=d".into()
            }
        );
        assert!(r("https://h/").is_err());
        assert!(r("/relative").is_err());
    }

    #[test]
    fn hop_by_hop_request_headers_are_not_passed_on() {
        let g = get("GET http://a/ HTTP/1.1\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nProxy-Authorization: basic x\r\nKeep-Alive: 5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nX-Kept: 2\r\n\r\n").unwrap();
        assert!(g.close);
        assert_eq!(g.headers, vec![("X-Kept".to_string(), b"2".to_vec())]);
        assert_eq!(g.route.host_header, "a");
        assert_eq!(g.route.port, 80);
    }

    fn head(s: &str) -> Head {
        parse_response(s.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn response_framing() {
        let f = |s: &str| head(s).framing();
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\ncontent-length: 5\r\n\r\n"),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            Err(())
        );
        assert_eq!(f("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n"), Err(()));
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            Err(())
        );
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
            Ok(Framing::UntilClose)
        );
        assert_eq!(f("HTTP/1.1 200 OK\r\n\r\n"), Ok(Framing::UntilClose));
        assert_eq!(
            f("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"),
            Ok(Framing::Empty)
        );
        assert_eq!(f("HTTP/1.1 304 Not Modified\r\n\r\n"), Ok(Framing::Empty));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-")
            .unwrap()
            .is_none());
        assert!(parse_response(b"HTTP/1.1 2000 OK\r\n\r\n").is_err());
    }

    #[test]
    fn the_client_gets_the_response_head_without_hop_by_hop_headers() {
        let h = head("HTTP/1.1 200 Fine\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\nX-Kept: 2\r\n\r\n");
        assert_eq!(
            String::from_utf8(h.client_head(true)).unwrap(),
            "HTTP/1.1 200 Fine\r\nTransfer-Encoding: chunked\r\nX-Kept: 2\r\nconnection: close\r\n\r\n"
        );
        let h = head("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            String::from_utf8(h.client_head(false)).unwrap(),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        );
    }
}
