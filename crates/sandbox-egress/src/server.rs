//! The proxy itself: one thread running a current-thread tokio runtime that serves HTTP/1.1
//! (absolute-form requests and `CONNECT`, via hyper) and SOCKS5 `CONNECT` on listeners the
//! caller made, and records every refusal.

use crate::addr::host_addresses;
use crate::denial::{Denial, Protocol, Reason};
use crate::guard::{check_name, dial, split_authority, DialError, ProxyConfig, Target};
use crate::http_relay::{self, route, Step};
use crate::reply::{refused, text, Body};
use crate::sni::{client_hello, Hello, MAX_RECORD};
use crate::socks5;
pub use crate::state::Observer;
use crate::state::Shared;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, HOST};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sandbox_core::domain::{DomainDecision, Host};
use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a client may take to send its SOCKS5 request or its TLS ClientHello.
const CLIENT_DEADLINE: Duration = Duration::from_secs(10);
/// Copy buffer per direction of a tunnel that is not relayed by `splice(2)`.
const TUNNEL_BUFFER: usize = 64 * 1024;

/// A running proxy. Dropping it stops it too.
pub struct Proxy {
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Serves `cfg` on `listeners` (already listening) from a new thread.
    pub fn start(cfg: ProxyConfig, listeners: Vec<std::net::TcpListener>) -> io::Result<Proxy> {
        Proxy::start_observed(cfg, listeners, None)
    }

    /// [`Proxy::start`], calling `observer` with each refusal as it happens.
    pub fn start_observed(
        cfg: ProxyConfig,
        listeners: Vec<std::net::TcpListener>,
        observer: Option<Observer>,
    ) -> io::Result<Proxy> {
        for l in &listeners {
            l.set_nonblocking(true)?;
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let shared = Arc::new(Shared::new(cfg, host_addresses(), observer));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("sandbox-egress".into())
            .spawn(move || {
                rt.block_on(async move {
                    for l in listeners {
                        match tokio::net::TcpListener::from_std(l) {
                            Ok(l) => {
                                tokio::spawn(accept_loop(l, sh.clone()));
                            }
                            Err(_) => continue,
                        }
                    }
                    let _ = rx.await;
                });
                rt.shutdown_timeout(Duration::from_millis(200));
            })?;
        Ok(Proxy {
            shared,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// The refusals so far (the first 100,000).
    pub fn denials(&self) -> Vec<Denial> {
        self.shared.denials()
    }

    /// How many refusals were not kept because the log was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped()
    }

    /// Stops serving (open tunnels are closed) and gives the refusals kept.
    pub fn stop(mut self) -> Vec<Denial> {
        self.shutdown();
        self.denials()
    }

    /// [`Proxy::stop`], also giving [`Proxy::dropped`].
    pub fn stop_counted(mut self) -> (Vec<Denial>, u64) {
        self.shutdown();
        (self.denials(), self.dropped())
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(l: tokio::net::TcpListener, sh: Arc<Shared>) {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                let _ = s.set_nodelay(true);
                tokio::spawn(serve_connection(s, sh.clone()));
            }
            // Out of fds and the like: wait rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// SOCKS5 starts with byte 5; anything else is taken as HTTP: bodiless `GET`s by
/// [`http_relay`] (the response body relayed by the kernel) until a request comes that it does
/// not take, then everything else by hyper.
async fn serve_connection(mut s: TcpStream, sh: Arc<Shared>) {
    let mut first = [0u8; 1];
    match tokio::time::timeout(CLIENT_DEADLINE, s.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        _ => return,
    }
    if first[0] == 5 {
        serve_socks(s, sh).await;
    } else {
        let mut scratch = Vec::new();
        loop {
            match http_relay::next(&mut s, &sh, &mut scratch).await {
                Step::Next => continue,
                Step::Close => return,
                Step::Hyper => break,
            }
        }
        drop(scratch);
        let svc = hyper::service::service_fn(move |req| {
            let sh = sh.clone();
            async move { Ok::<_, Infallible>(serve_http(req, sh).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(s), svc)
            .with_upgrades()
            .await;
    }
}

async fn serve_http(req: Request<Incoming>, sh: Arc<Shared>) -> Response<Body> {
    if req.method() == Method::CONNECT {
        let Some((host, port)) = req
            .uri()
            .authority()
            .and_then(|a| split_authority(a.as_str()))
        else {
            return text(StatusCode::BAD_REQUEST, "sandbox: CONNECT needs host:port");
        };
        let target = match check_name(&sh.cfg, host, port, Protocol::Connect) {
            Ok(t) => t,
            Err(d) => return refused(&sh, &d),
        };
        let upstream = match dial(&sh.cfg, &sh.own, &target, Protocol::Connect).await {
            Ok(s) => s,
            Err(DialError::Denied(d)) => return refused(&sh, &d),
            Err(DialError::Failed(m)) => {
                return text(StatusCode::BAD_GATEWAY, &format!("sandbox: {m}"))
            }
        };
        tokio::spawn(async move {
            let Ok(up) = hyper::upgrade::on(req).await else {
                return;
            };
            // The client's own socket back from hyper (with what hyper read past the CONNECT
            // request), so the tunnel can be relayed like a SOCKS5 one.
            match up.downcast::<TokioIo<TcpStream>>() {
                Ok(parts) => {
                    tunnel(
                        parts.io.into_inner(),
                        upstream,
                        target,
                        parts.read_buf.to_vec(),
                        &sh,
                        Protocol::Connect,
                    )
                    .await
                }
                Err(up) => {
                    tunnel(
                        TokioIo::new(up),
                        upstream,
                        target,
                        Vec::new(),
                        &sh,
                        Protocol::Connect,
                    )
                    .await
                }
            }
        });
        return Response::new(http_body_util::Empty::new().map_err(|n| match n {}).boxed());
    }
    forward(req, sh).await
}

/// An absolute-form `http://` request: check, dial, send it on with an origin-form target.
async fn forward(req: Request<Incoming>, sh: Arc<Shared>) -> Response<Body> {
    let r = match route(req.uri()) {
        Ok(r) => r,
        Err(msg) => return text(StatusCode::BAD_REQUEST, msg),
    };
    let target = match check_name(&sh.cfg, &r.host, r.port, Protocol::Http) {
        Ok(t) => t,
        Err(d) => return refused(&sh, &d),
    };
    let upstream = match dial(&sh.cfg, &sh.own, &target, Protocol::Http).await {
        Ok(s) => s,
        Err(DialError::Denied(d)) => return refused(&sh, &d),
        Err(DialError::Failed(m)) => {
            return text(StatusCode::BAD_GATEWAY, &format!("sandbox: {m}"))
        }
    };
    let (mut sender, conn) =
        match hyper::client::conn::http1::handshake(TokioIo::new(upstream)).await {
            Ok(x) => x,
            Err(e) => return text(StatusCode::BAD_GATEWAY, &format!("sandbox: {e}")),
        };
    tokio::spawn(conn);
    let (mut parts, body) = req.into_parts();
    parts.uri = match r.path.parse() {
        Ok(u) => u,
        Err(_) => return text(StatusCode::BAD_REQUEST, "sandbox: bad request path"),
    };
    for h in ["proxy-connection", "proxy-authorization", "keep-alive"] {
        parts.headers.remove(h);
    }
    // The origin sees the host that was checked, whatever Host header the client sent (and
    // never a userinfo part of the URI).
    if let Ok(v) = HeaderValue::from_str(&r.host_header) {
        parts.headers.insert(HOST, v);
    }
    match sender.send_request(Request::from_parts(parts, body)).await {
        Ok(resp) => resp.map(|b| b.boxed()),
        Err(e) => text(StatusCode::BAD_GATEWAY, &format!("sandbox: {e}")),
    }
}

async fn serve_socks(mut s: TcpStream, sh: Arc<Shared>) {
    let mut buf = Vec::with_capacity(64);
    let Some((no_auth, used)) = read_parsed(&mut s, &mut buf, socks5::greeting).await else {
        return;
    };
    buf.drain(..used);
    if !no_auth {
        let _ = s.write_all(&[5, 0xff]).await;
        return;
    }
    if s.write_all(&[5, 0]).await.is_err() {
        return;
    }
    let Some((req, used)) = read_parsed(&mut s, &mut buf, socks5::request).await else {
        let _ = s.write_all(&socks5::reply(socks5::REPLY_FAILURE)).await;
        return;
    };
    buf.drain(..used);
    if req.command != 1 {
        let _ = s
            .write_all(&socks5::reply(socks5::REPLY_COMMAND_UNSUPPORTED))
            .await;
        return;
    }
    let host = match &req.dest {
        socks5::Dest::Ip(ip) => ip.to_string(),
        socks5::Dest::Name(n) => n.clone(),
    };
    let target = match check_name(&sh.cfg, &host, req.port, Protocol::Socks5) {
        Ok(t) => t,
        Err(d) => {
            sh.record(&d);
            let _ = s.write_all(&socks5::reply(socks5::REPLY_NOT_ALLOWED)).await;
            return;
        }
    };
    let upstream = match dial(&sh.cfg, &sh.own, &target, Protocol::Socks5).await {
        Ok(u) => u,
        Err(DialError::Denied(d)) => {
            sh.record(&d);
            let _ = s.write_all(&socks5::reply(socks5::REPLY_NOT_ALLOWED)).await;
            return;
        }
        Err(DialError::Failed(_)) => {
            let _ = s
                .write_all(&socks5::reply(socks5::REPLY_HOST_UNREACHABLE))
                .await;
            return;
        }
    };
    if s.write_all(&socks5::reply(socks5::REPLY_OK)).await.is_err() {
        return;
    }
    tunnel(s, upstream, target, buf, &sh, Protocol::Socks5).await;
}

/// Reads until `parse` is done, within [`CLIENT_DEADLINE`]; `None` on EOF, timeout or
/// invalid input.
async fn read_parsed<T>(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    parse: fn(&[u8]) -> socks5::Parse<T>,
) -> Option<(T, usize)> {
    let work = async {
        loop {
            match parse(buf) {
                socks5::Parse::Done(v, n) => return Some((v, n)),
                socks5::Parse::Invalid(_) => return None,
                socks5::Parse::Incomplete => {}
            }
            if buf.len() > 1024 {
                return None;
            }
            let mut chunk = [0u8; 512];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(CLIENT_DEADLINE, work)
        .await
        .ok()
        .flatten()
}

/// Whether a ClientHello's server name is acceptable for a tunnel to `t`: the same name, or,
/// for a tunnel to an IP literal, any name the rules allow (or none).
fn sni_verdict(sh: &Shared, t: &Target, hello: &Hello) -> Result<(), Reason> {
    match (hello, &t.host) {
        (Hello::Sni(sni), Host::Name(n)) => {
            if sni.strip_suffix('.').unwrap_or(sni) == n {
                Ok(())
            } else {
                Err(Reason::SniMismatch { sni: sni.clone() })
            }
        }
        (Hello::Sni(sni), Host::Ip(_)) => match sandbox_core::domain::normalize_host(sni) {
            Some(h) if matches!(sh.cfg.rules.decide(&h, t.port), DomainDecision::Allowed(_)) => {
                Ok(())
            }
            _ => Err(Reason::SniMismatch { sni: sni.clone() }),
        },
        (Hello::NoSni, Host::Ip(_)) => Ok(()),
        (Hello::NoSni, Host::Name(_)) => Err(Reason::NotTls {
            what: "the TLS ClientHello names no server (SNI)".into(),
        }),
        (Hello::NotTls, _) => Err(Reason::NotTls {
            what: "a tunnel to port 443 that does not start with a TLS ClientHello".into(),
        }),
        (Hello::Malformed, _) => Err(Reason::NotTls {
            what: "a malformed TLS ClientHello (or one split across records)".into(),
        }),
        (Hello::Incomplete, _) => Err(Reason::NotTls {
            what: "no complete TLS ClientHello arrived in time".into(),
        }),
    }
}

/// A tunnel's client side: relayed by `splice(2)` when it is a plain socket (Linux), else by
/// copying through buffers.
trait Client: AsyncRead + AsyncWrite + Unpin + Send {
    /// Relays between `self` and `upstream` until both directions end.
    async fn relay(self, upstream: TcpStream);
}

impl Client for TcpStream {
    #[cfg(target_os = "linux")]
    async fn relay(self, upstream: TcpStream) {
        let _ = crate::splice::relay(&self, &upstream).await;
    }

    #[cfg(not(target_os = "linux"))]
    async fn relay(mut self, mut upstream: TcpStream) {
        copy(&mut self, &mut upstream).await;
    }
}

impl Client for TokioIo<hyper::upgrade::Upgraded> {
    async fn relay(mut self, mut upstream: TcpStream) {
        copy(&mut self, &mut upstream).await;
    }
}

async fn copy<C: AsyncRead + AsyncWrite + Unpin>(client: &mut C, upstream: &mut TcpStream) {
    let _ =
        tokio::io::copy_bidirectional_with_sizes(client, upstream, TUNNEL_BUFFER, TUNNEL_BUFFER)
            .await;
}

/// Relays between the client and the origin. To a TLS port (443) the client's first record must be a
/// ClientHello naming the tunnel's host, else the tunnel is closed and the refusal recorded.
/// `head` holds what was already read from the client.
async fn tunnel<C: Client>(
    mut client: C,
    mut upstream: TcpStream,
    t: Target,
    mut head: Vec<u8>,
    sh: &Shared,
    proto: Protocol,
) {
    if sh.cfg.tls_ports.contains(&t.port) {
        let read_hello = async {
            loop {
                let h = client_hello(&head);
                if h != Hello::Incomplete || head.len() >= MAX_RECORD {
                    return h;
                }
                let mut chunk = vec![0u8; MAX_RECORD - head.len()];
                match client.read(&mut chunk).await {
                    Ok(0) | Err(_) => return Hello::Incomplete,
                    Ok(n) => head.extend_from_slice(&chunk[..n]),
                }
            }
        };
        let hello = tokio::time::timeout(CLIENT_DEADLINE, read_hello)
            .await
            .unwrap_or(Hello::Incomplete);
        if let Err(reason) = sni_verdict(sh, &t, &hello) {
            // A client that hung up before sending anything was not refused anything.
            if !(head.is_empty() && hello == Hello::Incomplete) {
                sh.record(&Denial::new(&t.shown, t.port, proto, reason));
            }
            return;
        }
    }
    if !head.is_empty() && upstream.write_all(&head).await.is_err() {
        return;
    }
    client.relay(upstream).await;
}
