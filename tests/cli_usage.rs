//! The command line and the config a run reads, end to end through the real binary: an
//! unknown option is a usage error (never the command), Codex's `sandbox [POLICY] -- CMD`
//! form, a mode and a `[permissions]` profile that would drop the profile's rules are refused,
//! and `$CODEX_HOME/config.toml` (default `~/.codex/config.toml`) is found and obeyed.

// A single-link copy of the binary (cargo's build has a second hard link, which a launch
// from a writable root refuses).
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{code, stderr};

/// `sandbox ARGS…` in `cwd` with `HOME` (and no `CODEX_HOME` unless set by the caller).
fn sandbox(home: &Path, cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(support::sandbox_bin());
    c.args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home)
        .env("LANG", "C");
    c
}

/// A home directory with a secret key and a `.codex/`, and a workspace beside it.
struct Home {
    _dir: tempfile::TempDir,
    home: PathBuf,
    ws: PathBuf,
}

impl Home {
    /// `sandbox ARGS…` in the workspace with this home.
    fn run(&self, args: &[&str]) -> Output {
        sandbox(&self.home, &self.ws, args).output().unwrap()
    }
}

fn home() -> Home {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let home = base.join("home");
    let ws = base.join("ws");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::create_dir_all(home.join(".codex")).unwrap();
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(home.join(".ssh/id_rsa"), "SECRET KEY\n").unwrap();
    Home {
        _dir: dir,
        home,
        ws,
    }
}

const DEV_PROFILE: &str = "default_permissions = \"dev\"\n\
    [permissions.dev.filesystem]\n\
    \":root\" = \"read\"\n\
    \":project_roots\" = \"write\"\n\
    \"~/.ssh\" = \"deny\"\n";

#[test]
fn a_typo_in_an_option_is_a_usage_error_naming_it() {
    let h = home();
    let o = h.run(&["linux", "--full-atuo", "--", "true"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "sandbox: --full-atuo: unknown option\n\
         hint: did you mean --full-auto? A command starting with `-` goes after `--`\n"
    );
    // Without `--` too, and for an option nothing resembles.
    let o = h.run(&["linux", "--frobnicate", "true"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "sandbox: --frobnicate: unknown option\n\
         hint: see `sandbox help`; a command starting with `-` goes after `--`\n"
    );
    // After `--` a word starting with `-` is the command (and not found: 127).
    let o = h.run(&["linux", "--", "--frobnicate"]);
    assert_eq!(code(&o), 127, "{}", stderr(&o));
}

#[test]
fn codex_form_without_an_os_word_runs_the_native_sandbox() {
    let h = home();
    let ws = h.ws.to_str().unwrap();
    let o = sandbox(
        &h.home,
        Path::new("/"),
        &[
            "--full-auto",
            "-C",
            ws,
            "--",
            "sh",
            "-c",
            "pwd; echo x > f; echo y > /etc/sbx-no",
        ],
    )
    .output()
    .unwrap();
    assert_ne!(code(&o), 0, "the write to /etc must fail: {}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), ws);
    assert_eq!(std::fs::read_to_string(h.ws.join("f")).unwrap(), "x\n");
    assert!(!Path::new("/etc/sbx-no").exists());
}

#[test]
fn a_mode_and_a_profile_with_deny_rules_are_refused_naming_both() {
    let h = home();
    let cfg = h.home.join("cfg.toml");
    std::fs::write(&cfg, DEV_PROFILE).unwrap();
    let c = cfg.to_str().unwrap();
    let key = h.home.join(".ssh/id_rsa");
    let key = key.to_str().unwrap();

    let o = sandbox(
        &h.home,
        &h.ws,
        &["linux", "--full-auto", "--config", c, "--", "cat", key],
    )
    .output()
    .unwrap();
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "the key was printed");
    assert_eq!(
        stderr(&o),
        format!(
            "sandbox: config: --full-auto conflicts with default_permissions = \"dev\" ({c}): \
             the mode would replace profile `dev` and drop its rules\n\
             hint: drop --full-auto to run profile `dev`, or select a profile with -P NAME\n"
        )
    );

    let o = sandbox(
        &h.home,
        &h.ws,
        &[
            "linux",
            "-s",
            "workspace-write",
            "--config",
            c,
            "--",
            "cat",
            key,
        ],
    )
    .output()
    .unwrap();
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(stderr(&o).starts_with(&format!(
        "sandbox: config: --sandbox workspace-write conflicts with default_permissions = \"dev\" ({c})"
    )));

    // `sandbox_mode` in the same file: Codex would apply it and ignore the profile.
    std::fs::write(
        &cfg,
        format!("sandbox_mode = \"workspace-write\"\n{DEV_PROFILE}"),
    )
    .unwrap();
    let o = h.run(&["linux", "--config", c, "--", "cat", key]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "sandbox: config: sandbox_mode = \"workspace-write\" ({c}) conflicts with \
             default_permissions = \"dev\" ({c}): the mode would replace profile `dev` and drop its rules\n\
             hint: remove one of the two keys, or select the profile with -P dev\n"
        )
    );
    // Selecting the profile explicitly applies it (the key stays unreadable), with a warning.
    let o = sandbox(
        &h.home,
        &h.ws,
        &["linux", "--config", c, "-P", "dev", "--", "cat", key],
    )
    .output()
    .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains(&format!(
        "sandbox: warning: {c}: `sandbox_mode = \"workspace-write\"` is not applied: -P dev selects a [permissions] profile"
    )), "{}", stderr(&o));
}

#[test]
fn codex_home_config_is_read_without_config_flag() {
    let h = home();
    let key = h.home.join(".ssh/id_rsa");
    let key = key.to_str().unwrap();
    let cfg = h.home.join(".codex/config.toml");
    std::fs::write(&cfg, DEV_PROFILE).unwrap();

    let o = h.run(&["linux", "-v", "--", "cat", key]);
    assert_eq!(
        code(&o),
        1,
        "the deny rule of ~/.codex/config.toml applies: {}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
    assert!(
        stderr(&o).contains(&format!(
            "sandbox: config: {} (found; --no-config skips it)",
            cfg.display()
        )),
        "{}",
        stderr(&o)
    );

    // --no-config reads nothing (the default read-only preset reads the key).
    let o = h.run(&["linux", "--no-config", "--", "cat", key]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // $CODEX_HOME beats ~/.codex; an empty one there means no config.
    let ch = h.home.join("elsewhere");
    std::fs::create_dir_all(&ch).unwrap();
    let o = sandbox(&h.home, &h.ws, &["linux", "-v", "--", "cat", key])
        .env("CODEX_HOME", &ch)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "sandbox: config: none ({}/config.toml does not exist)",
            ch.display()
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_found_config_inside_a_writable_root_is_refused() {
    let h = home();
    // CODEX_HOME inside the workspace: the command could rewrite its own next policy.
    let ch = h.ws.join("codex-home");
    std::fs::create_dir_all(&ch).unwrap();
    std::fs::write(
        ch.join("config.toml"),
        "sandbox_mode = \"workspace-write\"\n",
    )
    .unwrap();
    let o = sandbox(&h.home, &h.ws, &["linux", "--", "true"])
        .env("CODEX_HOME", &ch)
        .output()
        .unwrap();
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "sandbox: config: `{}/config.toml` is inside a writable root of this run: the command could write its own next policy\n\
             hint: pass the file with --config to use it anyway, --no-config to skip it, or set CODEX_HOME to a directory outside the writable roots\n",
            ch.display()
        )
    );
}

#[test]
fn a_profile_without_any_config_says_none_was_read() {
    let h = home();
    let o = h.run(&["linux", "-P", "dev", "--", "true"]);
    assert_eq!(code(&o), 125);
    assert_eq!(
        stderr(&o),
        "sandbox: config: command line: key `permissions.dev`: no profile `dev` is defined (from --permissions); \
         no config file was read (pass --config FILE, or see `sandbox linux -v`)\n"
    );
}

#[test]
fn verbose_says_how_to_allow_the_network() {
    let h = home();
    let o = h.run(&["linux", "-v", "--", "true"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "sandbox: network: off (a download or registry fetch fails); allow it with --network, \
         or `network_access = true` under [sandbox_workspace_write] or `enabled = true` under \
         [permissions.NAME.network] in the config\n"
        ),
        "{}",
        stderr(&o)
    );
    let o = h.run(&["linux", "-v", "--network", "--", "true"]);
    assert!(
        stderr(&o).contains("sandbox: network: full\n"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn explain_names_the_startup_file_rule_and_the_list_is_configurable() {
    let h = home();
    std::fs::write(h.home.join(".bashrc"), "# mine\n").unwrap();
    let home = h.home.to_str().unwrap();
    let bashrc = format!("{home}/.bashrc");
    // `explain --full-auto -C HOME EXTRA… --op write ~/.bashrc`.
    let write_bashrc = |extra: &[&str]| {
        let mut args = vec!["explain", "--full-auto", "-C", home];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--op", "write", &bashrc]);
        h.run(&args)
    };
    let o = write_bashrc(&[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    // (The root named is the first that contains it: /tmp, or the home itself.)
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with(&format!(
            "deny  write  {bashrc}  (protected path {bashrc} (protected_home_files ~/.bashrc) in writable root "
        )),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = write_bashrc(&["-c", "sandbox.protected_home_files=[]"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stdout));
    let o = h.run(&[
        "explain",
        "-c",
        "sandbox.protected_home_files=[\"../x\"]",
        "/",
    ]);
    assert_eq!(code(&o), 125);
    assert_eq!(
        stderr(&o),
        "sandbox: config: -c: key `sandbox.protected_home_files[0]`: `../x` must not contain `.` or `..`\n"
    );
}

#[test]
fn doctor_prints_a_verdict_first_and_the_config_it_would_read() {
    let h = home();
    std::fs::write(h.home.join(".codex/config.toml"), "").unwrap();
    let o = h.run(&["doctor"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let mut lines = text.lines();
    let verdict = lines.next().unwrap();
    assert!(
        verdict.starts_with("verdict: a --full-auto run here is ")
            || verdict.starts_with("verdict: nothing can enforce a sandbox here"),
        "{verdict}"
    );
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "config: {}/.codex/config.toml (found; --no-config skips it) (without --config)",
            h.home.display()
        )
    );
}
