//! The `std::process::Command` that runs a program under a plan: `/usr/bin/sandbox-exec -p
//! PROFILE -DKEY=VALUE… -- PROGRAM`, with the plan's variables in its environment. Pure (it
//! spawns nothing), so its argv is tested on every OS.
//!
//! It starts from a fresh `Command` and leaves everything else to the caller: arguments
//! (after `PROGRAM`), environment, stdio, working directory, process group. Nothing of the
//! caller's is read back from another `Command`, so nothing is lost on the way.

use crate::profile::{SeatbeltPlan, SANDBOX_EXEC};
use std::ffi::OsStr;
use std::process::Command;

/// `program` under `plan`, or `program` itself when the plan is unrestricted.
pub fn sandboxed(plan: &SeatbeltPlan, program: &OsStr) -> Command {
    if plan.unrestricted {
        return Command::new(program);
    }
    let mut cmd = Command::new(SANDBOX_EXEC);
    cmd.arg("-p").arg(&plan.profile);
    cmd.args(plan.params.iter().map(|(k, v)| format!("-D{k}={v}")));
    cmd.arg("--").arg(program);
    cmd.envs(&plan.env);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn plan(unrestricted: bool) -> SeatbeltPlan {
        SeatbeltPlan {
            unrestricted,
            profile: "(version 1)".into(),
            params: BTreeMap::from([
                ("A".to_string(), "/x y".to_string()),
                ("B".to_string(), "-- z".to_string()),
            ]),
            degradations: vec![],
            env: BTreeMap::from([("CODEX_SANDBOX".to_string(), "seatbelt".to_string())]),
            proxy_port: None,
        }
    }

    #[test]
    fn the_same_argv_as_the_plan() {
        let p = plan(false);
        let mut cmd = sandboxed(&p, OsStr::new("-echo"));
        cmd.arg("hi").current_dir("/tmp").env("K", "V");
        let mut argv = vec![cmd.get_program().to_owned()];
        argv.extend(cmd.get_args().map(OsStr::to_owned));
        assert_eq!(argv, p.argv(&["-echo".into(), "hi".into()]));
        let envs: Vec<_> = cmd.get_envs().collect();
        assert_eq!(
            envs,
            [
                (OsStr::new("CODEX_SANDBOX"), Some(OsStr::new("seatbelt"))),
                (OsStr::new("K"), Some(OsStr::new("V"))),
            ]
        );
        assert_eq!(cmd.get_current_dir(), Some(std::path::Path::new("/tmp")));
    }

    #[test]
    fn unrestricted_is_the_program_itself() {
        let mut cmd = sandboxed(&plan(true), OsStr::new("ls"));
        cmd.arg("-l");
        assert_eq!(cmd.get_program(), "ls");
        assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["-l"]);
        assert_eq!(cmd.get_envs().count(), 0);
    }
}
