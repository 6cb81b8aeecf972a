//! The operating system a policy is resolved for, and what each one always needs: the read
//! roots of `:minimal` and the standard devices.

use serde::Serialize;

/// The operating system a policy is resolved for. Paths are spelled as that OS's kernel sees
/// them (on macOS `/tmp` is `/private/tmp`), so a profile for another OS can be built here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetOs {
    Linux,
    Macos,
    Windows,
}

impl TargetOs {
    /// The OS this binary was built for.
    pub fn host() -> TargetOs {
        if cfg!(target_os = "macos") {
            TargetOs::Macos
        } else if cfg!(windows) {
            TargetOs::Windows
        } else {
            TargetOs::Linux
        }
    }

    /// Default read roots for `:minimal` on this OS.
    pub fn minimal_read_roots(self) -> &'static [&'static str] {
        match self {
            TargetOs::Linux => &[
                "/bin",
                "/sbin",
                "/usr",
                "/etc",
                "/lib",
                "/lib32",
                "/lib64",
                "/proc",
                "/nix/store",
                "/run/current-system/sw",
            ],
            TargetOs::Macos => &[
                "/bin",
                "/sbin",
                "/usr",
                "/System",
                "/Library/Preferences",
                // The xcrun shims in /usr/bin (git, clang, python3) find the developer
                // tools through /private/var/select and run them from these.
                "/Library/Apple",
                "/Library/Developer/CommandLineTools",
                "/private/var/select",
                "/Applications",
                "/private/etc",
                "/private/var/db",
                "/opt/homebrew",
                "/dev",
            ],
            TargetOs::Windows => &[],
        }
    }
}

/// Files the sandboxed command may always open for reading and writing.
pub const STANDARD_DEVICES: [&str; 6] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];
