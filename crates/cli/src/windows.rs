//! `sandbox windows` and `sandbox profile windows`.

use crate::{exit, ProfileArgs};
use std::process::ExitCode;

pub fn run(_a: crate::WindowsArgs) -> ExitCode {
    exit::fail("windows", &"this backend is not implemented yet")
}

pub fn profile(_a: ProfileArgs) -> ExitCode {
    exit::fail("profile windows", &"this backend is not implemented yet")
}
