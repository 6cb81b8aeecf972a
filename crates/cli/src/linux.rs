//! `sandbox linux` and `sandbox profile linux`.

use crate::{exit, ProfileArgs};
use std::process::ExitCode;

pub fn run(_a: crate::LinuxArgs) -> ExitCode {
    exit::fail("linux", &"this backend is not implemented yet")
}

pub fn profile(_a: ProfileArgs) -> ExitCode {
    exit::fail("profile linux", &"this backend is not implemented yet")
}
