//! The unix-domain socket rules of the profile.
//!
//! The policy ([`UnixSockets`]) speaks about sockets that exist outside the sandbox: none
//! (the default), the listed paths (each grants the socket at that path, or the sockets
//! below it when it is a directory; never its parent), or all. A socket the policy grants is
//! reachable only where the command may also read the path (a deny rule, deny glob or
//! restricted read view hides it), as the core oracle says.
//!
//! Seatbelt checks `connect`/`sendto` to a path as `network-outbound (remote unix-socket …)`
//! and `bind` as `network-bind (local unix-socket …)`. It cannot tell a socket the command
//! bound from one a host process bound at the same path, so the command's own servers are
//! not reachable unless listed: binding works in the writable roots (Node, ssh
//! ControlMaster, gpg-agent start), connecting needs `--allow-unix-socket PATH`.

use crate::emit::{ancestors, effective, lit, Out};
use crate::error::Error;
use sandbox_core::{Access, ResolvedPolicy, UnixSockets};
use std::path::Path;

/// Where DNS answers come from on macOS (getaddrinfo talks to mDNSResponder here).
pub const MDNS_RESPONDER: &str = "/private/var/run/mDNSResponder";

/// Emits the unix-socket section. `full`: the network section allowed all of
/// `network-outbound` and `network-bind`, so unix sockets are taken back first.
pub(crate) fn rules(out: &mut Out, policy: &ResolvedPolicy, full: bool) -> Result<(), Error> {
    out.section("Unix-domain sockets: socketpair and local socket() always (libuv child stdio,\nPython multiprocessing, fd passing). Binding and accepting on a socket file: inside the\nwritable roots (ssh ControlMaster, gpg-agent, test servers).");
    out.line("(allow system-socket (socket-domain AF_UNIX))");
    if full {
        out.line("(deny network-bind network-inbound (local unix-socket))");
        out.line("(deny network-outbound (remote unix-socket))");
    }
    if !policy.writable_roots.is_empty() {
        // network-inbound: the command's own server accepting on the socket it bound.
        let mut s = String::from("(allow network-bind network-inbound");
        for (i, root) in policy.writable_roots.iter().enumerate() {
            let r = out.param(format!("WRITABLE_ROOT_{i}"), &root.path)?;
            s.push_str(&format!("\n  (local unix-socket (subpath {r}))"));
        }
        s.push(')');
        out.line(&s);
    }
    if full {
        out.section("Name resolution with the network on: getaddrinfo (curl, git, pip) asks\nmDNSResponder over its unix socket.");
        out.line(&format!(
            "(allow network-outbound (remote unix-socket (literal {})))",
            lit(MDNS_RESPONDER)?
        ));
    }
    let grants: Vec<Option<&Path>> = match &policy.unix_sockets {
        UnixSockets::None => {
            out.section("Host unix sockets: none (tmux, ssh-agent, Docker, launchd listeners are\nunreachable; list one with --allow-unix-socket PATH).");
            return Ok(());
        }
        UnixSockets::All => {
            out.section(
                "Host unix sockets: all that the read rules let the command see (explicit opt-in).",
            );
            vec![None]
        }
        UnixSockets::Paths(ps) => {
            out.section("Host unix sockets: only the listed sockets (or the sockets below a listed\ndirectory), where the read rules let the command see them.");
            ps.iter().map(|p| Some(p.as_path())).collect()
        }
    };
    let mut listed = Vec::new();
    for (i, g) in grants.iter().enumerate() {
        listed.push(match g {
            Some(p) => Some(out.param(format!("UNIX_SOCKET_PATH_{i}"), p)?),
            None => None,
        });
    }
    // Mirrors the read rules in path order (parents first, so with "last match wins" the
    // deepest rule decides): where a rule makes a path visible, the grants within it are
    // allowed; where one hides it, everything below is denied.
    let eff = effective(policy);
    let visible = |a: Access| a != Access::Deny;
    let mut k = 0;
    for (path, acc) in &eff {
        let parent = ancestors(&eff, path)
            .first()
            .is_some_and(|(_, a)| visible(*a));
        if visible(*acc) == parent {
            continue;
        }
        // `(remote unix-socket (subpath P))`, or every socket for `/`.
        let mut region = |out: &mut Out, p: &Path| -> Result<String, Error> {
            if p == Path::new("/") {
                return Ok("(remote unix-socket)".into());
            }
            k += 1;
            let r = out.param(format!("UNIX_SOCKET_RULE_{}", k - 1), p)?;
            Ok(format!("(remote unix-socket (subpath {r}))"))
        };
        if !visible(*acc) {
            let r = region(out, path)?;
            out.line(&format!("(deny network-outbound {r})"));
            continue;
        }
        let mut filters = Vec::new();
        for (g, param) in grants.iter().zip(&listed) {
            match (g, param) {
                (None, _) => filters.push(region(out, path)?),
                (Some(g), Some(param)) if g.starts_with(path) => {
                    filters.push(format!("(remote unix-socket (subpath {param}))"))
                }
                (Some(g), _) if path.starts_with(g) => filters.push(region(out, path)?),
                _ => {}
            }
        }
        filters.dedup();
        if !filters.is_empty() {
            let mut s = String::from("(allow network-outbound");
            for f in filters {
                s.push_str(&format!("\n  {f}"));
            }
            s.push(')');
            out.line(&s);
        }
    }
    for g in &policy.deny_globs {
        let re = crate::escape::sbpl_literal(crate::escape::Literal::Regex(
            &crate::glob_regex::glob_subtree_regex(&g.pattern)?,
        ))?;
        out.line(&format!(
            "(deny network-outbound (remote unix-socket (regex {re})))"
        ));
    }
    Ok(())
}
