//! Rewrites a [`std::process::Command`] so it runs under `sandbox-exec` with a plan's profile.
//! Pure (it spawns nothing), so it is tested on every OS; the `launch` module uses it on macOS.

use crate::profile::SeatbeltPlan;
use std::ffi::OsString;
use std::process::Command;

/// A new command running `cmd`'s program and arguments under the plan, with `cmd`'s working
/// directory and explicit environment changes carried over. Stdio settings cannot be read
/// back from a `Command`, so configure them after wrapping.
pub fn wrap(plan: &SeatbeltPlan, cmd: &Command) -> Command {
    let mut original: Vec<OsString> = vec![cmd.get_program().to_os_string()];
    original.extend(cmd.get_args().map(|a| a.to_os_string()));
    let argv = plan.argv(&original);
    let mut out = Command::new(&argv[0]);
    out.args(&argv[1..]);
    if let Some(dir) = cmd.get_current_dir() {
        out.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => out.env(k, v),
            None => out.env_remove(k),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn wraps_program_args_dir_and_env() {
        let plan = SeatbeltPlan {
            unrestricted: false,
            profile: "(version 1)".into(),
            params: BTreeMap::from([("A".to_string(), "/x".to_string())]),
            warnings: vec![],
            env: BTreeMap::new(),
        };
        let mut cmd = Command::new("echo");
        cmd.arg("hi")
            .current_dir("/tmp")
            .env("K", "V")
            .env_remove("GONE");
        let w = wrap(&plan, &cmd);
        assert_eq!(w.get_program(), "/usr/bin/sandbox-exec");
        let args: Vec<_> = w.get_args().collect();
        assert_eq!(args, ["-p", "(version 1)", "-DA=/x", "--", "echo", "hi"]);
        assert_eq!(w.get_current_dir(), Some(std::path::Path::new("/tmp")));
        let envs: Vec<_> = w.get_envs().collect();
        assert!(envs.contains(&(std::ffi::OsStr::new("K"), Some(std::ffi::OsStr::new("V")))));
        assert!(envs.contains(&(std::ffi::OsStr::new("GONE"), None)));
    }
}
