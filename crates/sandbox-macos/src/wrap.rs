//! Rewrites a [`std::process::Command`] so it runs under `sandbox-exec` with a plan's profile.
//! Pure (it spawns nothing), so it is tested on every OS; the `launch` module uses it on macOS.

use crate::profile::SeatbeltPlan;
use std::ffi::OsString;
use std::process::Command;

/// A new command running `cmd`'s program and arguments under the plan, with `cmd`'s working
/// directory and environment: exactly the variables `cmd` would have passed (`env_clear()`,
/// `env`, `env_remove` all kept), plus the plan's sandbox markers. Stdio, `arg0`, `pre_exec`,
/// uid/gid and process group cannot be read back from a `Command`: set them after wrapping.
pub fn wrap(plan: &SeatbeltPlan, cmd: &Command) -> Command {
    let mut original: Vec<OsString> = vec![cmd.get_program().to_os_string()];
    original.extend(cmd.get_args().map(|a| a.to_os_string()));
    let argv = plan.argv(&original);
    let mut out = Command::new(&argv[0]);
    out.args(&argv[1..]);
    if let Some(dir) = cmd.get_current_dir() {
        out.current_dir(dir);
    }
    // The new command gets an explicit, complete environment, so nothing depends on whether
    // the caller cleared theirs: start from the parent's unless `cmd` was cleared.
    out.env_clear();
    if !env_cleared(cmd) {
        out.envs(std::env::vars_os());
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => out.env(k, v),
            None => out.env_remove(k),
        };
    }
    if !plan.unrestricted {
        out.envs(&plan.env);
    }
    out
}

/// Whether `env_clear()` was called on `cmd`. `Command` has no getter for it; its `Debug`
/// text starts with `env -i ` (after an optional `cd DIR && `) exactly when it was. The unit
/// tests pin that rendering, so a change in std fails them instead of leaking the
/// environment a caller meant to drop.
pub fn env_cleared(cmd: &Command) -> bool {
    let text = format!("{cmd:?}");
    let rest = match cmd.get_current_dir() {
        Some(dir) => text
            .strip_prefix(&format!("cd {dir:?} && "))
            .unwrap_or(&text),
        None => &text,
    };
    rest.starts_with("env -i ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::ffi::OsStr;

    fn plan() -> SeatbeltPlan {
        SeatbeltPlan {
            unrestricted: false,
            profile: "(version 1)".into(),
            params: BTreeMap::from([("A".to_string(), "/x".to_string())]),
            warnings: vec![],
            env: BTreeMap::from([("CODEX_SANDBOX".to_string(), "seatbelt".to_string())]),
        }
    }

    fn envs(c: &Command) -> BTreeMap<OsString, Option<OsString>> {
        c.get_envs()
            .map(|(k, v)| (k.to_owned(), v.map(OsStr::to_owned)))
            .collect()
    }

    #[test]
    fn wraps_program_args_dir_and_env() {
        let mut cmd = Command::new("echo");
        cmd.arg("hi")
            .current_dir("/tmp")
            .env("K", "V")
            .env_remove("GONE");
        let w = wrap(&plan(), &cmd);
        assert_eq!(w.get_program(), "/usr/bin/sandbox-exec");
        let args: Vec<_> = w.get_args().collect();
        assert_eq!(args, ["-p", "(version 1)", "-DA=/x", "--", "echo", "hi"]);
        assert_eq!(w.get_current_dir(), Some(std::path::Path::new("/tmp")));
        let e = envs(&w);
        assert_eq!(e.get(OsStr::new("K")), Some(&Some("V".into())));
        assert!(!e.contains_key(OsStr::new("GONE")));
        assert_eq!(
            e.get(OsStr::new("CODEX_SANDBOX")),
            Some(&Some("seatbelt".into()))
        );
        // Not cleared: the parent's environment is passed on explicitly.
        if let Some(path) = std::env::var_os("PATH") {
            assert_eq!(e.get(OsStr::new("PATH")), Some(&Some(path)));
        }
    }

    #[test]
    fn a_cleared_environment_stays_cleared() {
        let mut cmd = Command::new("env");
        cmd.env_clear()
            .env("ONLY", "1")
            .current_dir("/a \" && env -i x");
        assert!(env_cleared(&cmd));
        let w = wrap(&plan(), &cmd);
        assert!(env_cleared(&w));
        let keys: Vec<OsString> = envs(&w).into_keys().collect();
        assert_eq!(keys, [OsString::from("CODEX_SANDBOX"), "ONLY".into()]);
    }

    #[test]
    fn cleared_is_detected_only_when_cleared() {
        let mut cmd = Command::new("x");
        assert!(!env_cleared(&cmd));
        cmd.env("A", "env -i ").current_dir("env -i ");
        assert!(!env_cleared(&cmd));
        cmd.env_clear();
        assert!(env_cleared(&cmd));
    }
}
