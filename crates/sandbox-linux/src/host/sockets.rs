//! The host's pathname unix sockets, read at launch from the kernel's socket table, and the
//! ones a policy closes: on hosts without Landlock `resolve_unix` (ABI < 9) both Linux
//! backends cover each closed socket with a read-only `/dev/null` in the sandbox's mount
//! namespace, so `connect` and `sendto`/`sendmsg` to that path find no socket
//! (`ECONNREFUSED`), for every socket type and through `socketpair` too.
//!
//! What the table cannot show (documented limits of this mechanism): sockets bound on the
//! host after the launch; sockets bound in another network namespace (a container's); sockets
//! bound with a relative path; a socket renamed or hard-linked after its bind (only the bound
//! name is listed).
//!
//! [`parse`] and [`closed`] are pure; [`scan`] reads `/proc/net/unix` and checks each path.

use sandbox_core::{ResolvedPolicy, UnixSockets};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// How host unix sockets are kept out of reach on this host, for `doctor` and `-v`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// Landlock ABI ≥ 9 `resolve_unix`: the kernel checks each connect against the rules.
    LandlockResolveUnix,
    /// Host sockets listed at launch are covered in the sandbox's mount namespace.
    MountMask,
    /// Nothing to enforce: `unix_sockets = "all"` with every path visible, or no sandbox.
    NotNeeded,
    /// This host offers no mechanism (no mount namespace, Landlock below ABI 9).
    Unavailable,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::LandlockResolveUnix => "landlock-resolve-unix",
            Mechanism::MountMask => "mount-mask",
            Mechanism::NotNeeded => "not-needed",
            Mechanism::Unavailable => "unavailable",
        }
    }
}

/// The absolute paths bound by pathname sockets in a `/proc/net/unix` table, de-duplicated,
/// in order. Abstract (`@…`) and relative names are left out. Bytes, not text: a name that
/// is not UTF-8 must still be found exactly.
pub fn parse(table: &[u8]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for line in table.split(|&b| b == b'\n').skip(1) {
        // Num RefCount Protocol Flags Type St Inode [Path]: the path is the rest of the line
        // after the seventh field (it may hold spaces).
        let mut rest = line;
        let mut fields = 0;
        while fields < 7 {
            let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
            rest = &rest[start..];
            if rest.is_empty() {
                break;
            }
            let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
            rest = &rest[end..];
            fields += 1;
        }
        let rest = rest.strip_prefix(b" ").unwrap_or(rest);
        if fields < 7 || !rest.starts_with(b"/") {
            continue;
        }
        let p = sandbox_core::resolve::path_from_bytes(rest);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Whether a policy needs the host's socket table at all: not when nothing is enforced, nor
/// when every socket is allowed and every path visible.
pub fn needed(policy: &ResolvedPolicy) -> bool {
    let all_visible = policy.unix_sockets == UnixSockets::All
        && policy.reads_everything()
        && policy.denied_paths().is_empty()
        && policy.deny_globs.is_empty();
    !policy.unrestricted && !all_visible
}

/// The host sockets (canonical paths) the policy closes: those the oracle denies a connect to.
pub fn closed(policy: &ResolvedPolicy, sockets: &[PathBuf]) -> Vec<PathBuf> {
    sockets
        .iter()
        .filter(|s| !policy.decide_connect_canonical(s).allowed)
        .cloned()
        .collect()
}

/// The host's pathname sockets now: each listed path resolved (links followed) and kept only
/// if a socket is there. Paths this user cannot reach are left out: they are out of reach
/// inside the sandbox too.
#[cfg(target_os = "linux")]
pub fn scan() -> std::io::Result<Vec<PathBuf>> {
    use std::io::Read as _;
    use std::os::unix::fs::FileTypeExt;
    // procfs reports size 0: start with a buffer that holds a typical table in one read.
    let mut table = Vec::with_capacity(64 * 1024);
    std::fs::File::open("/proc/net/unix")?.read_to_end(&mut table)?;
    let mut out = Vec::new();
    for p in parse(&table) {
        let Ok(real) = std::fs::canonicalize(&p) else {
            continue;
        };
        if std::fs::metadata(&real).is_ok_and(|m| m.file_type().is_socket()) && !out.contains(&real)
        {
            out.push(real);
        }
    }
    out.sort();
    Ok(out)
}

/// Whether `path` lies under `/dev` or `/proc` (bwrap mounts fresh ones there).
pub(crate) fn under_fresh_mount(path: &Path) -> bool {
    path.starts_with("/dev") || path.starts_with("/proc")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 12345 /run/dbus/system_bus_socket
0000000000000000: 00000003 00000000 00000000 0001 03 12346 /run/dbus/system_bus_socket
0000000000000000: 00000002 00000000 00010000 0001 01  9876 @/tmp/.X11-unix/X0
0000000000000000: 00000002 00000000 00000000 0002 01   111
0000000000000000: 00000002 00000000 00010000 0005 01 12347 /tmp/dir with space/s.sock
0000000000000000: 00000002 00000000 00010000 0001 01 12348 relative.sock
";

    #[test]
    fn parses_paths_and_skips_abstract_unnamed_and_relative() {
        assert_eq!(
            parse(TABLE.as_bytes()),
            [
                PathBuf::from("/run/dbus/system_bus_socket"),
                PathBuf::from("/tmp/dir with space/s.sock")
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_name_that_is_not_utf8_is_kept_exactly() {
        use std::os::unix::ffi::OsStrExt;
        let table =
            b"Num RefCount Protocol Flags Type St Inode Path\n0: 2 0 10000 1 1 5 /tmp/\xfe.sock\n";
        assert_eq!(
            parse(table),
            [PathBuf::from(std::ffi::OsStr::from_bytes(
                b"/tmp/\xfe.sock"
            ))]
        );
    }

    #[test]
    fn mechanism_names_are_stable() {
        assert_eq!(Mechanism::MountMask.name(), "mount-mask");
        assert_eq!(
            Mechanism::LandlockResolveUnix.name(),
            "landlock-resolve-unix"
        );
    }
}
