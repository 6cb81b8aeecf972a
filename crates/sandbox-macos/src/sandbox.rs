//! The embedding API: [`Sandbox::new`] compiles a policy (and in proxy mode reserves the
//! proxy's port), [`Sandbox::plan`] shows what will be enforced, [`Sandbox::command`] builds
//! the `std::process::Command` that runs a program under it.
//!
//! Everything here builds and runs on every OS (a Linux test checks the argv); only running
//! the command needs macOS.
//!
//! Lifetimes: the `Command` from [`Sandbox::command`] is self-contained (the profile and
//! parameters are in its arguments). In proxy mode the proxy must serve the reserved port
//! for as long as the command runs: call [`Sandbox::start_proxy`] before spawning and keep
//! the returned [`sandbox_egress::Proxy`] alive until the command has exited (dropping it
//! stops the proxy; the command's connections then fail, nothing else opens). Until the
//! proxy is started the `Sandbox` holds the port; a command started without the proxy
//! running connects to a listener that never answers. No global state, no signal handlers,
//! no threads (the proxy has its own one).

use crate::command::sandboxed;
use crate::error::Error;
use crate::options::Options;
use crate::profile::{compile, SeatbeltPlan};
use sandbox_core::{Degradation, NetworkPolicy, ResolvedPolicy};
use sandbox_egress::{Proxy, ProxyConfig};
use std::ffi::OsStr;
use std::net::TcpListener;
use std::process::Command;
use std::sync::Mutex;

/// A compiled Seatbelt sandbox.
#[derive(Debug)]
pub struct Sandbox {
    plan: SeatbeltPlan,
    /// Proxy mode: the proxy's rules (from the policy's domain lists).
    proxy_config: Option<ProxyConfig>,
    /// Proxy mode with a port reserved here: its listeners, until the proxy takes them.
    listeners: Mutex<Vec<TcpListener>>,
}

impl Sandbox {
    /// Compiles `policy`. In proxy mode without `options.proxy_port`, reserves a free port on
    /// the host's loopback for the proxy ([`Sandbox::start_proxy`] serves it).
    pub fn new(policy: &ResolvedPolicy, options: &Options) -> Result<Sandbox, Error> {
        let proxy_config = match ProxyConfig::from_policy(&policy.network) {
            Some(Ok(c)) if !policy.unrestricted => Some(c),
            Some(Err(e)) if !policy.unrestricted => return Err(Error::Proxy(e)),
            _ => None,
        };
        let mut options = options.clone();
        let mut listeners = Vec::new();
        let proxy_mode = matches!(policy.network, NetworkPolicy::Proxy { .. });
        if proxy_mode && !policy.unrestricted && options.proxy_port.is_none() {
            listeners = crate::proxy_port::reserve()
                .map_err(|e| Error::Proxy(format!("cannot listen on the host's loopback: {e}")))?;
            let port = listeners[0]
                .local_addr()
                .map_err(|e| Error::Proxy(e.to_string()))?
                .port();
            options.proxy_port = Some(port);
        }
        Ok(Sandbox {
            plan: compile(policy, &options)?,
            proxy_config,
            listeners: Mutex::new(listeners),
        })
    }

    /// What will be enforced: the profile, its `-D` parameters, the environment added.
    pub fn plan(&self) -> &SeatbeltPlan {
        &self.plan
    }

    /// What the policy asks for and this sandbox does not enforce (only with `best_effort`).
    pub fn degradations(&self) -> &[Degradation] {
        &self.plan.degradations
    }

    /// `/usr/bin/sandbox-exec -p PROFILE -DKEY=VALUE… -- PROGRAM`, with the plan's variables
    /// in its environment (sandbox markers; proxy variables in proxy mode). Add arguments,
    /// environment, stdio and working directory to it as to any `Command`; `env_clear()`
    /// also drops the plan's variables (set [`SeatbeltPlan::env`] again after it). With
    /// `danger-full-access` it is `PROGRAM` itself. Works with
    /// `tokio::process::Command::from`.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        sandboxed(&self.plan, program.as_ref())
    }

    /// Proxy mode: the domain rules the proxy must apply.
    pub fn proxy_config(&self) -> Option<&ProxyConfig> {
        self.proxy_config.as_ref()
    }

    /// Proxy mode: the listeners reserved by [`Sandbox::new`], for a caller that serves them
    /// itself (e.g. with [`sandbox_egress::Proxy::start_observed`]). Empty after the first
    /// call, outside proxy mode, and when the caller gave the port.
    pub fn take_proxy_listeners(&self) -> Vec<TcpListener> {
        std::mem::take(&mut *self.listeners.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Proxy mode: serves the reserved port with the policy's domain rules, from a thread of
    /// its own. Keep the returned proxy until the command has exited; its
    /// [`Proxy::stop_counted`] returns the refused requests. `None` outside proxy mode.
    pub fn start_proxy(&self) -> Result<Option<Proxy>, Error> {
        let Some(cfg) = &self.proxy_config else {
            return Ok(None);
        };
        let listeners = self.take_proxy_listeners();
        if listeners.is_empty() {
            return Err(Error::Proxy(
                "no reserved listener to serve (already started, or the caller gave the port)"
                    .into(),
            ));
        }
        Proxy::start(cfg.clone(), listeners)
            .map(Some)
            .map_err(|e| Error::Proxy(e.to_string()))
    }
}
