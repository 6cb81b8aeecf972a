//! The egress proxy of `sandbox`'s `proxy` network mode.
//!
//! The sandboxed command runs where it has no route out (on Linux, its own network namespace
//! with only loopback); the launcher hands this crate a listener the command can reach and
//! serves it from one thread with a current-thread tokio runtime, so nothing of tokio or hyper
//! runs on the plain launch path.
//!
//! For every request: the host must pass the domain rules ([`sandbox_core::domain`]: deny
//! wins, empty allowlist denies); the name is resolved once and every address checked
//! ([`addr`]: loopback, private, link-local, metadata and this host's addresses are refused
//! unless `allow_local_binding`); the connection goes to a checked address; and a tunnel to
//! port 443 must begin with a TLS ClientHello naming the same host ([`sni`]). Each refusal is
//! a [`Denial`], answered with a 403 (or a SOCKS5 "not allowed") carrying a one-line reason.
//!
//! Served protocols: HTTP/1.1 absolute-form requests (`http://` only), `CONNECT`, and SOCKS5
//! `CONNECT` without authentication (for `ssh` via a ProxyCommand). Not done: TLS
//! interception, so the host inside a TLS stream (true domain fronting) is not checked.
//!
//! Admitted bytes are relayed by the kernel where they need no looking at (`splice(2)` on
//! Linux): tunnels, and the response body of a bodiless `GET` (`http_relay.rs`, which parses
//! that request itself with `httparse`); every other request goes through hyper.

pub mod addr;
pub mod denial;
pub mod guard;
mod http_relay;
mod reply;
pub mod server;
pub mod sni;
pub mod socks5;
#[cfg(target_os = "linux")]
mod splice;
mod state;

pub use denial::{summary, write_json_lines, Denial, Protocol, Reason};
pub use guard::ProxyConfig;
pub use server::{Observer, Proxy};

/// The port the proxy listens on inside the command's network namespace.
pub const NAMESPACE_PORT: u16 = 3128;

/// The environment a command gets so that proxy-aware tools use `proxy` (`http://127.0.0.1:PORT`).
pub fn proxy_env(port: u16) -> Vec<(String, String)> {
    let http = format!("http://127.0.0.1:{port}");
    let socks = format!("socks5h://127.0.0.1:{port}");
    let mut env = Vec::new();
    for (name, value) in [
        ("HTTP_PROXY", &http),
        ("HTTPS_PROXY", &http),
        ("ALL_PROXY", &socks),
        ("NO_PROXY", &"localhost,127.0.0.1,::1".to_string()),
    ] {
        env.push((name.to_string(), value.clone()));
        env.push((name.to_ascii_lowercase(), value.clone()));
    }
    for name in [
        "npm_config_proxy",
        "npm_config_https_proxy",
        "NPM_CONFIG_PROXY",
        "NPM_CONFIG_HTTPS_PROXY",
        "YARN_HTTP_PROXY",
        "YARN_HTTPS_PROXY",
        "PIP_PROXY",
    ] {
        env.push((name.to_string(), http.clone()));
    }
    env.push((
        "npm_config_noproxy".into(),
        "localhost,127.0.0.1,::1".into(),
    ));
    env
}

/// `GIT_SSH_COMMAND` for proxy mode: ssh with `CONNECT_EXE connect %h %p` (the `sandbox
/// connect` subcommand) as its ProxyCommand, so git over ssh goes through the proxy. `None`
/// when the path contains a quote or a space (it would need quoting inside ssh's option).
pub fn git_ssh_command(connect_exe: &std::path::Path) -> Option<String> {
    let me = connect_exe.to_str()?;
    if me.contains(['\'', '"', ' ']) {
        return None;
    }
    Some(format!("ssh -o ProxyCommand='{me} connect %h %p'"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn git_ssh_command_only_for_plain_paths() {
        assert_eq!(
            super::git_ssh_command("/usr/local/bin/sandbox".as_ref()).as_deref(),
            Some("ssh -o ProxyCommand='/usr/local/bin/sandbox connect %h %p'")
        );
        assert_eq!(super::git_ssh_command("/a b/sandbox".as_ref()), None);
        assert_eq!(super::git_ssh_command("/a'b/sandbox".as_ref()), None);
    }
}
