//! The caller's choices beyond the policy ([`Options`]), shared by the compiler and
//! [`crate::Sandbox`].

/// What the caller may choose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Accept documented degradations (each listed in [`SeatbeltPlan::degradations`])
    /// instead of refusing the policy.
    pub best_effort: bool,
    /// Proxy mode: the `localhost` port of an egress proxy the caller serves itself. Unset,
    /// [`Sandbox::new`] reserves a free port (and [`Sandbox::start_proxy`] serves it).
    pub proxy_port: Option<u16>,
}

impl Options {
    pub fn with_best_effort(mut self, yes: bool) -> Self {
        self.best_effort = yes;
        self
    }

    pub fn with_proxy_port(mut self, port: Option<u16>) -> Self {
        self.proxy_port = port;
        self
    }
}
