//! `sandbox linux` and `sandbox profile linux`.

use crate::args::Backend;
use crate::{exit, ProfileArgs};
use sandbox_core::TargetOs;
use std::process::ExitCode;

pub fn run(a: crate::LinuxArgs) -> ExitCode {
    // TEMPORARY dispatch until the Landlock backend merges (the lead resolves this file).
    if a.backend == Backend::Bwrap {
        let policy = match a.policy.resolve(TargetOs::Linux) {
            Ok(p) => p,
            Err(code) => return code,
        };
        return crate::linux_bwrap::run(&a, policy);
    }
    if a.backend == Backend::Auto {
        let policy = match a.policy.resolve(TargetOs::Linux) {
            Ok(p) => p,
            Err(code) => return code,
        };
        return crate::linux_bwrap::run_auto(&a, policy);
    }
    exit::fail("linux", &"this backend is not implemented yet")
}

pub fn profile(a: ProfileArgs) -> ExitCode {
    // TEMPORARY dispatch until the Landlock backend merges.
    if a.backend == Backend::Bwrap {
        let policy = match a.policy.resolve(TargetOs::Linux) {
            Ok(p) => p,
            Err(code) => return code,
        };
        return crate::linux_bwrap::profile(&a, policy);
    }
    exit::fail("profile linux", &"this backend is not implemented yet")
}
