//! What this machine offers, probed read-only and shared by both backends: kernel features
//! ([`probe`]), the per-user cache of those facts and of bwrap's ([`cache`]), and the host's
//! listening unix sockets ([`sockets`]).

pub mod sockets;

#[cfg(target_os = "linux")]
pub mod cache;
#[cfg(target_os = "linux")]
pub mod probe;
