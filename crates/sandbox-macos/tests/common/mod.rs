//! Shared by the macOS profile tests.

use sandbox_core::resolve::platform_alias;
use sandbox_core::TargetOs;
use std::path::PathBuf;

/// Where test trees go: cargo's temp dir, or `$HOME` when the checkout lies under a path
/// macOS spells differently (`/tmp`, `/var`, `/etc`). There the profile's paths would gain a
/// `/private` prefix, and under `/tmp` a tree would sit inside the `/tmp` writable root.
pub fn temp_parent() -> PathBuf {
    let candidates = [
        Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR"))),
        std::env::var_os("HOME").map(PathBuf::from),
    ];
    candidates
        .into_iter()
        .flatten()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .find(|p| platform_alias(p, TargetOs::Macos) == *p)
        .expect("the macOS profile tests need a temp dir outside /tmp, /var and /etc")
}
