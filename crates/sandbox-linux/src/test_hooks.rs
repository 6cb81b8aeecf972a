//! Test hooks: environment variables that make this host look like one that refuses a
//! feature (user namespaces, `/proc`, Landlock, mount namespaces), so the e2e tests can show
//! the diagnoses, refusals and fallbacks on a host where everything works.
//!
//! They are read only in builds with the `testing` feature (the workspace's test builds, where
//! `sandbox-cli`'s dev-dependencies enable it); in any other build [`forced`] is always false.

/// Whether the hook `var` is set to `1` (and hooks are compiled in).
pub(crate) fn forced(var: &str) -> bool {
    #[cfg(feature = "testing")]
    return std::env::var_os(var).is_some_and(|v| v == "1");
    #[cfg(not(feature = "testing"))]
    {
        let _ = var;
        false
    }
}
