//! `sandbox macos` and `sandbox profile macos`.

use crate::{exit, ProfileArgs};
use std::process::ExitCode;

pub fn run(_a: crate::MacosArgs) -> ExitCode {
    exit::fail("macos", &"this backend is not implemented yet")
}

pub fn profile(_a: ProfileArgs) -> ExitCode {
    exit::fail("profile macos", &"this backend is not implemented yet")
}
