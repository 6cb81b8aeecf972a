//! What every connection of one proxy shares: the configuration, this host's own addresses
//! (for the address guard) and the log of refusals, with the embedder's observer.

use crate::denial::Denial;
use crate::guard::ProxyConfig;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Called with each refusal as it happens (for embedders that stream events).
pub type Observer = Arc<dyn Fn(&Denial) + Send + Sync>;

/// Most refusals kept in memory; a command refused more often than this cannot make the
/// launcher grow without bound (the rest are counted, see [`Shared::dropped`]).
const MAX_LOGGED: usize = 100_000;

pub(crate) struct Shared {
    pub(crate) cfg: ProxyConfig,
    pub(crate) own: Vec<IpAddr>,
    log: Mutex<(Vec<Denial>, u64)>,
    observer: Option<Observer>,
}

impl Shared {
    pub(crate) fn new(cfg: ProxyConfig, own: Vec<IpAddr>, observer: Option<Observer>) -> Shared {
        Shared {
            cfg,
            own,
            log: Mutex::new((Vec::new(), 0)),
            observer,
        }
    }

    /// Tells the observer and keeps the refusal (the first [`MAX_LOGGED`]).
    pub(crate) fn record(&self, d: &Denial) {
        if let Some(o) = &self.observer {
            o(d);
        }
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if log.0.len() < MAX_LOGGED {
            log.0.push(d.clone());
        } else {
            log.1 += 1;
        }
    }

    /// The refusals kept so far.
    pub(crate) fn denials(&self) -> Vec<Denial> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    /// How many refusals were not kept because the log was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}
