//! The proxy alone, for measuring it without a launcher: `serve PORT PATTERN...` serves
//! 127.0.0.1:PORT, allowing PATTERNs (with `allow_local_binding`, so a loopback origin can be
//! reached), until its standard input closes.
//!
//! `cargo run --release -p sandbox-egress --example serve -- 3129 127.0.0.1:8080 </dev/tty`

use sandbox_core::domain::DomainRules;
use sandbox_egress::{Proxy, ProxyConfig};
use std::io::Read;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((port, allow)) = args.split_first() else {
        eprintln!("usage: serve PORT PATTERN...");
        std::process::exit(2);
    };
    let cfg = ProxyConfig {
        rules: DomainRules::parse(allow, &[]).expect("bad pattern"),
        allow_local_binding: true,
        ..ProxyConfig::default()
    };
    let l = std::net::TcpListener::bind(("127.0.0.1", port.parse().expect("bad port")))
        .expect("cannot listen");
    let proxy = Proxy::start(cfg, vec![l]).expect("cannot start the proxy");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    for d in proxy.stop() {
        eprintln!("{}", d.message);
    }
}
