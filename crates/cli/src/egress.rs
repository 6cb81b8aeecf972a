//! The `proxy` network mode around a run: the proxy's environment for the command, the
//! listener made inside the sandbox's network namespace once it exists (the only way out),
//! and after the run one summary line per blocked host plus `--denials-json`.

use crate::exit;
use sandbox_core::ResolvedPolicy;
use sandbox_egress::{Denial, Proxy, ProxyConfig};
use sandbox_linux::netns::PROXY_PORT as NAMESPACE_PORT;
use std::path::PathBuf;

/// The proxy side of one `sandbox linux` run.
pub struct EgressRun {
    config: Option<ProxyConfig>,
    proxies: Vec<Proxy>,
    denials_json: Option<PathBuf>,
}

impl EgressRun {
    /// `None` config unless the policy's network mode is `proxy`.
    /// A relative `denials_json` is taken from the current directory (call before changing
    /// it to the policy's).
    pub fn new(
        policy: &ResolvedPolicy,
        denials_json: Option<PathBuf>,
    ) -> Result<EgressRun, String> {
        let config = match ProxyConfig::from_policy(&policy.network) {
            Some(Ok(c)) if !policy.unrestricted => Some(c),
            Some(Err(e)) => return Err(e),
            _ => None,
        };
        let denials_json = match denials_json {
            Some(p) if p.is_relative() => Some(
                std::env::current_dir()
                    .map_err(|e| format!("working directory: {e}"))?
                    .join(p),
            ),
            other => other,
        };
        Ok(EgressRun {
            config,
            proxies: Vec::new(),
            denials_json,
        })
    }

    /// No proxy for this run after all (the backend degraded the policy to network off).
    pub fn disable(&mut self) {
        self.config = None;
    }

    /// Whether this run needs the proxy.
    pub fn active(&self) -> bool {
        self.config.is_some()
    }

    /// Sets the proxy variables in this process's environment, which the command inherits.
    /// Called before any thread is started. Keeps a `GIT_SSH_COMMAND` the caller set.
    pub fn set_env(&self) {
        if !self.active() {
            return;
        }
        for (k, v) in sandbox_egress::proxy_env(NAMESPACE_PORT) {
            std::env::set_var(k, v);
        }
        if std::env::var_os("GIT_SSH_COMMAND").is_none() {
            if let Some(cmd) = std::env::current_exe()
                .ok()
                .and_then(|me| sandbox_egress::git_ssh_command(&me))
            {
                std::env::set_var("GIT_SSH_COMMAND", cmd);
            }
        }
    }

    /// The bwrap start hook: makes the listener inside the network namespace of `pid` and
    /// serves the proxy on it.
    pub fn on_start(&mut self, pid: i32) -> Result<(), String> {
        if !self.active() {
            return Ok(());
        }
        let l = sandbox_linux::netns::listener::listen_in_netns_of(pid, NAMESPACE_PORT)
            .map_err(|e| format!("egress proxy listener: {e}"))?;
        self.serve(l)
    }

    /// Serves the proxy on `l`, a listener inside the command's network namespace.
    pub fn serve(&mut self, l: std::net::TcpListener) -> Result<(), String> {
        let Some(cfg) = &self.config else {
            return Ok(());
        };
        let p = Proxy::start(cfg.clone(), vec![l]).map_err(|e| format!("egress proxy: {e}"))?;
        self.proxies.push(p);
        Ok(())
    }

    /// Stops the proxy, prints the summary and writes `--denials-json` (JSON lines; empty
    /// when nothing was refused). A file that cannot be written is an error (an agent runtime
    /// relies on it).
    pub fn finish(self) -> Result<(), String> {
        let mut denials: Vec<Denial> = Vec::new();
        let mut dropped = 0;
        for p in self.proxies {
            let (d, n) = p.stop_counted();
            denials.extend(d);
            dropped += n;
        }
        for line in sandbox_egress::summary(&denials) {
            exit::err!("sandbox: {line}");
        }
        if dropped > 0 {
            exit::err!("sandbox: {dropped} more refused requests were not recorded");
        }
        if let Some(path) = &self.denials_json {
            if let Err(e) = sandbox_egress::write_json_lines(path, &denials) {
                return Err(format!("--denials-json {}: {e}", path.display()));
            }
        }
        Ok(())
    }
}
