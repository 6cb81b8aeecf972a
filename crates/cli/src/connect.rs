//! `sandbox connect HOST PORT`: a ProxyCommand for ssh (and so git over ssh) inside a sandbox
//! in proxy mode. Opens a SOCKS5 `CONNECT` through the egress proxy and relays stdin and
//! stdout to it; the proxy applies the domain rules like for any other request.

use crate::exit;
use sandbox_egress::socks5::{self, Dest, Request};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ConnectArgs {
    /// Destination host name (or IP address).
    pub host: String,
    /// Destination port.
    pub port: u16,
    /// The proxy to use; default: `ALL_PROXY` (as set in proxy mode), else 127.0.0.1:3128.
    #[arg(long, value_name = "HOST:PORT")]
    pub proxy: Option<String>,
}

/// `host:port` of the proxy from `--proxy`, `ALL_PROXY`/`all_proxy` (`socks5h://h:p`).
fn proxy_addr(a: &ConnectArgs) -> String {
    if let Some(p) = &a.proxy {
        return p.clone();
    }
    for var in ["ALL_PROXY", "all_proxy"] {
        if let Ok(v) = std::env::var(var) {
            let rest = v.split_once("://").map_or(v.as_str(), |(_, r)| r);
            let rest = rest.trim_end_matches('/');
            if !rest.is_empty() {
                return rest.to_string();
            }
        }
    }
    format!("127.0.0.1:{}", sandbox_egress::NAMESPACE_PORT)
}

fn handshake(s: &mut TcpStream, a: &ConnectArgs) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    s.write_all(&[5, 1, 0]).map_err(io)?;
    let mut g = [0u8; 2];
    s.read_exact(&mut g).map_err(io)?;
    if g != [5, 0] {
        return Err("the proxy does not speak SOCKS5 without authentication".into());
    }
    let dest = match a.host.parse() {
        Ok(ip) => Dest::Ip(ip),
        Err(_) => Dest::Name(a.host.clone()),
    };
    let req = Request {
        command: 1,
        dest,
        port: a.port,
    };
    s.write_all(&socks5::encode_request(&req)).map_err(io)?;
    let mut r = [0u8; 10];
    s.read_exact(&mut r).map_err(io)?;
    match r[1] {
        socks5::REPLY_OK => Ok(()),
        socks5::REPLY_NOT_ALLOWED => Err(format!(
            "the egress proxy refused {}:{} (see the summary after the run; allow it with --allow-domain)",
            a.host, a.port
        )),
        code => Err(format!("the proxy could not connect (SOCKS5 reply {code})")),
    }
}

pub fn run(a: ConnectArgs) -> ExitCode {
    let addr = proxy_addr(&a);
    let mut s = match TcpStream::connect(&addr) {
        Ok(s) => s,
        Err(e) => return exit::fail(&format!("connect: proxy {addr}"), &e),
    };
    if let Err(e) = handshake(&mut s, &a) {
        exit::err!("sandbox: connect {}:{}: {e}", a.host, a.port);
        return ExitCode::from(1);
    }
    let mut up = match s.try_clone() {
        Ok(u) => u,
        Err(e) => return exit::fail("connect", &e),
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut up);
        let _ = up.shutdown(Shutdown::Write);
    });
    let mut out = std::io::stdout().lock();
    let _ = std::io::copy(&mut s, &mut out);
    let _ = out.flush();
    ExitCode::SUCCESS
}
