//! `sandbox doctor`: what this host can enforce.

use crate::{exit, DoctorArgs};
use std::process::ExitCode;

pub fn run(_a: DoctorArgs) -> ExitCode {
    exit::fail("doctor", &"not implemented yet")
}
