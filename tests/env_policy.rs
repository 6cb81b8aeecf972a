//! End to end: `[shell_environment_policy]` decides which environment variables the command
//! sees, under both Linux backends, as root and as the unprivileged `sbxtest`. The command
//! is `env` itself, so the assertions are on exactly what the kernel handed to `execve`.
#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use support::{assert_ok, linux_backends, sandbox_cmd, stderr, stdout, users, Dir, User};

/// Secrets and other variables the caller has, next to the PATH/HOME/LANG of `sandbox_cmd`.
const CALLER: &[(&str, &str)] = &[
    ("FOO_TOKEN", "tok"),
    ("AWS_SECRET_ACCESS_KEY", "secret"),
    ("api_key", "key"),
    ("MY_VAR", "mine"),
    ("EDITOR", "vi"),
];

/// Runs `sandbox linux --backend BACKEND EXTRA… -- PROGRAM` with the caller's variables and
/// gives `env`'s lines, sorted, without the `PWD` that bwrap sets for its `--chdir`.
fn env_seen(user: &User, ws: &Path, backend: &str, extra: &[&str], program: &str) -> Vec<String> {
    let mut args = vec!["linux", "--backend", backend];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", program]);
    let mut cmd = sandbox_cmd(user, ws, &args);
    cmd.envs(CALLER.iter().copied());
    let out = cmd.output().unwrap();
    assert_ok(&out, &format!("{} {backend} {extra:?}", user.name));
    let mut lines: Vec<String> = stdout(&out)
        .lines()
        // (CODEX_HOME is what `sandbox_cmd` sets so no developer's ~/.codex is read.)
        .filter(|l| !l.starts_with("PWD=") && !l.starts_with("CODEX_HOME="))
        .map(String::from)
        .collect();
    lines.sort();
    lines
}

const PATH: &str = "PATH=/usr/local/bin:/usr/bin:/bin";

/// Calls `case(user, workspace, backend)` for every user and every backend that runs here.
fn each_run(case: impl Fn(&User, &Dir, &str)) {
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        for backend in linux_backends(u, &ws.path) {
            case(u, &ws, backend);
        }
    }
}

fn home(u: &User) -> String {
    format!("HOME={}", u.home.display())
}

#[test]
fn default_passes_the_environment_unchanged() {
    each_run(|u, ws, backend| {
        let mut want: Vec<String> = CALLER.iter().map(|(k, v)| format!("{k}={v}")).collect();
        want.extend([home(u), "LANG=C".into(), PATH.into()]);
        want.sort();
        let seen = env_seen(u, &ws.path, backend, &[], "/usr/bin/env");
        assert_eq!(seen, want, "{} {backend}", u.name);
    });
}

#[test]
fn inherit_core_keeps_only_core_variables_plus_set() {
    each_run(|u, ws, backend| {
        let extra = [
            "-c",
            "shell_environment_policy.inherit=core",
            "-c",
            "shell_environment_policy.set={CI=\"1\"}",
        ];
        let seen = env_seen(u, &ws.path, backend, &extra, "/usr/bin/env");
        assert_eq!(
            seen,
            ["CI=1".into(), home(u), PATH.into()],
            "{} {backend}",
            u.name
        );
    });
}

#[test]
fn config_file_excludes_secrets_and_patterns() {
    each_run(|u, ws, backend| {
        let cfg = ws.write(
            u,
            "config.toml",
            "[shell_environment_policy]\nignore_default_excludes = false\nexclude = [\"my_*\"]\n",
        );
        let extra = ["--config", cfg.to_str().unwrap()];
        let seen = env_seen(u, &ws.path, backend, &extra, "/usr/bin/env");
        let want = ["EDITOR=vi".into(), home(u), "LANG=C".into(), PATH.into()];
        assert_eq!(seen, want, "{} {backend}", u.name);
    });
}

#[test]
fn inherit_none_gives_an_empty_environment_and_still_finds_the_command() {
    each_run(|u, ws, backend| {
        // `env` by name: with no PATH left it is found on the default search path, as
        // `env -i env` finds it.
        let extra = ["-c", "shell_environment_policy.inherit=none"];
        let seen = env_seen(u, &ws.path, backend, &extra, "env");
        assert_eq!(seen, Vec::<String>::new(), "{} {backend}", u.name);
    });
}

#[test]
fn bad_environment_policy_fails_before_running_anything() {
    for u in users() {
        let ws = Dir::new(u, Path::new("/tmp"));
        let marker = ws.join("ran");
        let script = format!("touch {}", marker.display());
        let out = sandbox_cmd(
            u,
            &ws.path,
            &[
                "linux",
                "--full-auto",
                "-c",
                "shell_environment_policy.inherit=some",
                "--",
                "sh",
                "-c",
                &script,
            ],
        )
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with("sandbox: ")
                && err.contains("shell_environment_policy.inherit")
                && err.contains("\"none\""),
            "{err}"
        );
        assert!(!marker.exists(), "the command ran");
    }
}
