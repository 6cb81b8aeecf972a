//! `sandbox_core::config::load`: sources and precedence, Codex's keys, and the error messages
//! (file, key, what was expected, what was found).

mod network;
mod shell_env;

use sandbox_core::{
    load, Access, CoreError, Entry, LoadRequest, Loaded, NetworkPolicy, Preset, Special, Target,
};

/// Loads `text` as the config file `config.toml`, with `req`.
fn with_config(text: &str, req: LoadRequest) -> Result<Loaded, CoreError> {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("config.toml");
    std::fs::write(&f, text).unwrap();
    load(&LoadRequest {
        config_file: Some(f),
        ..req
    })
}

/// The error message of loading `text` as a config file.
fn config_err(text: &str) -> String {
    with_config(text, LoadRequest::default())
        .unwrap_err()
        .to_string()
}

#[test]
fn no_config_is_read_only() {
    let l = load(&LoadRequest::default()).unwrap();
    assert_eq!(l.policy.preset, Some(Preset::ReadOnly));
    assert_eq!(l.policy.network, NetworkPolicy::Off);
}

#[test]
fn legacy_workspace_write() {
    let l = with_config(
        "sandbox_mode = \"workspace-write\"\n[sandbox_workspace_write]\nwritable_roots = [\"/opt/cache\"]\nnetwork_access = true\nexclude_slash_tmp = true\n",
        LoadRequest::default(),
    )
    .unwrap();
    let p = &l.policy;
    assert_eq!(p.preset, Some(Preset::WorkspaceWrite));
    assert_eq!(p.network, NetworkPolicy::Full);
    assert!(p
        .entries
        .iter()
        .any(|e| e.target == Target::Path("/opt/cache".into()) && e.access == Access::Write));
    assert!(!p
        .entries
        .iter()
        .any(|e| e.target == Target::Special(Special::SlashTmp)));
    assert!(p
        .entries
        .iter()
        .any(|e| e.target == Target::Special(Special::Tmpdir)));
}

#[test]
fn wrong_type_names_file_and_key() {
    let e = with_config("sandbox_mode = 42\n", LoadRequest::default()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("config.toml"), "{msg}");
    assert!(msg.contains("`sandbox_mode`"), "{msg}");
    assert!(msg.contains("expected a string"), "{msg}");
    assert!(msg.contains("found integer 42"), "{msg}");
}

#[test]
fn invalid_toml_names_file() {
    let e = with_config("sandbox_mode = \n", LoadRequest::default()).unwrap_err();
    assert!(matches!(e, CoreError::ConfigSyntax { .. }));
    assert!(e.to_string().contains("config.toml"));
}

#[test]
fn missing_file_names_file() {
    let e = load(&LoadRequest {
        config_file: Some("/nonexistent/sandbox.toml".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e
        .to_string()
        .starts_with("/nonexistent/sandbox.toml: cannot read config"));
}

#[test]
fn unknown_keys_warn() {
    let l = with_config(
        "model = \"o3\"\nfrobnicate = 1\nsandbox_mode = \"read-only\"\n[sandbox_workspace_write]\nwat = true\n",
        LoadRequest::default(),
    )
    .unwrap();
    assert_eq!(l.warnings.len(), 2, "{:?}", l.warnings);
    assert!(l.warnings[0].contains("frobnicate"));
    assert!(l.warnings[1].contains("sandbox_workspace_write.wat"));
}

#[test]
fn permissions_profile() {
    let l = with_config(
        "default_permissions = \"ws\"\n[permissions.ws.filesystem]\n\":root\" = \"read\"\n\":project_roots\" = { \".\" = \"write\", \"**/*.env\" = \"none\" }\n\"/srv/private\" = \"deny\"\nglob_scan_max_depth = 3\n[permissions.ws.network]\nenabled = true\n",
        LoadRequest::default(),
    )
    .unwrap();
    let p = &l.policy;
    assert_eq!(p.profile.as_deref(), Some("ws"));
    assert_eq!(p.network, NetworkPolicy::Full);
    assert_eq!(p.glob_scan_max_depth, Some(3));
    assert!(p.entries.contains(&Entry {
        target: Target::Glob("**/*.env".into()),
        access: Access::Deny,
        origin: p
            .entries
            .iter()
            .find(|e| matches!(e.target, Target::Glob(_)))
            .unwrap()
            .origin
            .clone(),
    }));
    assert!(p.entries.iter().any(
        |e| e.target == Target::Special(Special::Cwd { subpath: None })
            && e.access == Access::Write
    ));
    assert!(p
        .entries
        .iter()
        .any(|e| e.target == Target::Path("/srv/private".into()) && e.access == Access::Deny));
}

#[test]
fn missing_profile_is_an_error() {
    let e = with_config("default_permissions = \"nope\"\n", LoadRequest::default()).unwrap_err();
    assert!(e.to_string().contains("permissions.nope"), "{e}");
}

#[test]
fn overrides_apply_toml_values() {
    let l = load(&LoadRequest {
        overrides: vec![
            "sandbox_mode=\"workspace-write\"".into(),
            "sandbox_workspace_write.network_access=true".into(),
        ],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(l.policy.preset, Some(Preset::WorkspaceWrite));
    assert_eq!(l.policy.network, NetworkPolicy::Full);
    // A bare word is taken as a string.
    let l = load(&LoadRequest {
        overrides: vec!["sandbox_mode=read-only".into()],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(l.policy.preset, Some(Preset::ReadOnly));
    let e = load(&LoadRequest {
        overrides: vec!["nokey".into()],
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(e, CoreError::Override { .. }));
}

#[test]
fn flags_beat_config() {
    let l = with_config(
        "sandbox_mode = \"read-only\"\n",
        LoadRequest {
            full_auto: true,
            network: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(l.policy.preset, Some(Preset::WorkspaceWrite));
    assert_eq!(l.policy.network, NetworkPolicy::Full);
}

#[test]
fn protected_names_configurable_and_checked() {
    let l = with_config(
        "[sandbox]\nprotected_names = [\".git\", \".env\"]\n",
        LoadRequest::default(),
    )
    .unwrap();
    assert_eq!(l.policy.protected_names, vec![".git", ".env"]);
    let e = with_config(
        "[sandbox]\nprotected_names = [\"a/b\"]\n",
        LoadRequest::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("sandbox.protected_names[0]"), "{e}");
}

#[test]
fn glob_with_write_access_is_rejected_at_resolve() {
    let l = with_config(
        "default_permissions = \"x\"\n[permissions.x.filesystem]\n\"/a/*.txt\" = \"write\"\n",
        LoadRequest::default(),
    )
    .unwrap();
    let env = sandbox_core::ResolveEnv {
        cwd: "/".into(),
        tmpdir: None,
        home: None,
        target: sandbox_core::TargetOs::Linux,
    };
    let e = sandbox_core::resolve(&l.policy, &env).unwrap_err();
    assert!(matches!(e, CoreError::GlobNotDeny { .. }), "{e}");
}

#[test]
fn config_profile_sandbox_mode_wins_over_the_top_level() {
    let cfg = "sandbox_mode = \"workspace-write\"\nprofile = \"review\"\n\
               [profiles.review]\nsandbox_mode = \"read-only\"\nmodel = \"x\"\n\
               [profiles.other]\nsandbox_mode = \"danger-full-access\"\n";
    let l = with_config(cfg, LoadRequest::default()).unwrap();
    assert_eq!(l.policy.preset, Some(Preset::ReadOnly));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    // Flags still beat the config.
    let l = with_config(
        cfg,
        LoadRequest {
            full_auto: true,
            ..LoadRequest::default()
        },
    )
    .unwrap();
    assert_eq!(l.policy.preset, Some(Preset::WorkspaceWrite));
    // A profile without `sandbox_mode` leaves the top-level one in force.
    let l = with_config(
        "sandbox_mode = \"workspace-write\"\nprofile = \"p\"\n[profiles.p]\nmodel = \"x\"\n",
        LoadRequest::default(),
    )
    .unwrap();
    assert_eq!(l.policy.preset, Some(Preset::WorkspaceWrite));
}

#[test]
fn config_profile_errors_and_warnings() {
    let e = config_err("profile = \"gone\"\n");
    assert!(
        e.contains("config.toml") && e.contains("`profile`") && e.contains("[profiles.gone]"),
        "{e}"
    );
    // A newer Codex profile file next to the config is named, not ignored.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("config.toml");
    std::fs::write(&f, "profile = \"ci\"\n").unwrap();
    std::fs::write(
        dir.path().join("ci.config.toml"),
        "sandbox_mode = \"read-only\"\n",
    )
    .unwrap();
    let e = load(&LoadRequest {
        config_file: Some(f),
        ..LoadRequest::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("ci.config.toml") && e.contains("does not layer"),
        "{e}"
    );
    let e = config_err("profile = \"p\"\n[profiles.p]\nsandbox_mode = \"rw\"\n");
    assert!(
        e.contains("profiles.p.sandbox_mode") && e.contains("`rw`"),
        "{e}"
    );
    let e = config_err("profile = \"p\"\nprofiles = { p = 1 }\n");
    assert!(e.contains("profiles.p") && e.contains("a table"), "{e}");
    let l = with_config(
        "profile = \"p\"\n[profiles.p.sandbox_workspace_write]\nnetwork_access = true\n",
        LoadRequest::default(),
    )
    .unwrap();
    assert_eq!(l.policy.network, NetworkPolicy::Off);
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    assert!(l.warnings[0].contains("profiles.p.sandbox_workspace_write"));
}

#[test]
fn oversized_inputs_are_refused_not_read() {
    // An endless device is cut off at the size limit.
    let e = load(&LoadRequest {
        config_file: Some("/dev/zero".into()),
        ..LoadRequest::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("/dev/zero") && e.contains("larger than"), "{e}");
    // A `-c` key with thousands of dotted parts (a stack overflow once) is refused, and
    // the message quotes only the start of it.
    let key = vec!["a"; 60_000].join(".");
    let e = load(&LoadRequest {
        overrides: vec![format!("{key}=1")],
        ..LoadRequest::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("more than 32 dotted parts"),
        "{}",
        &e[..200.min(e.len())]
    );
    assert!(e.len() < 400, "{} bytes", e.len());
}

#[test]
fn deny_read_under_danger_full_access_warns() {
    let l = load(&LoadRequest {
        sandbox_mode: Some("danger-full-access".into()),
        deny_read: vec!["**/*.env".into()],
        ..LoadRequest::default()
    })
    .unwrap();
    assert!(l.policy.unrestricted);
    assert!(
        l.warnings
            .iter()
            .any(|w| w.contains("--deny-read is not enforced")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn toml_syntax_errors_say_why() {
    let e = config_err("sandbox_mode = \"read-only\"\nsandbox_mode = \"read-only\"\n");
    assert!(e.contains("line 2") && e.contains("duplicate key"), "{e}");
}

#[test]
fn messages_about_an_override_name_dash_c_not_the_file() {
    let req = LoadRequest {
        overrides: vec!["sandbox_mode=1".into()],
        ..LoadRequest::default()
    };
    let e = with_config("sandbox_mode = \"read-only\"\n", req)
        .unwrap_err()
        .to_string();
    assert!(e.contains("-c") && !e.contains("config.toml"), "{e}");
    // A wrong value in the file itself still names the file.
    let e = config_err("sandbox_mode = 1\n");
    assert!(e.contains("config.toml"), "{e}");
    let l = with_config(
        "sandbox_mode = \"read-only\"\n",
        LoadRequest {
            overrides: vec!["no_such_key=1".into()],
            ..LoadRequest::default()
        },
    )
    .unwrap();
    assert!(
        l.warnings.iter().any(|w| w.starts_with("-c: unknown key")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn unused_sections_are_still_checked_for_shape() {
    for (cfg, key) in [
        ("permissions = \"x\"\n", "`permissions`"),
        ("permissions = { a = 5 }\n", "`permissions.a`"),
        ("profiles = 5\n", "`profiles`"),
        ("sandbox_workspace_write = 5\n", "`sandbox_workspace_write`"),
    ] {
        let e = config_err(cfg);
        assert!(e.contains(key) && e.contains("a table"), "{cfg}: {e}");
    }
}
