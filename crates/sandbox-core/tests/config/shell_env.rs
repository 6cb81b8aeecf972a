//! `[shell_environment_policy]`.

use super::{config_err, with_config};
use sandbox_core::env::Inherit;
use sandbox_core::{load, LoadRequest};

#[test]
fn shell_environment_policy_keys() {
    let l = with_config(
        "[shell_environment_policy]\ninherit = \"core\"\nignore_default_excludes = false\nexclude = [\"AWS_*\"]\ninclude_only = [\"PATH\", \"CI\"]\n[shell_environment_policy.set]\nCI = \"1\"\n",
        LoadRequest::default(),
    )
    .unwrap();
    assert_eq!(l.env.inherit, Inherit::Core);
    assert!(!l.env.ignore_default_excludes);
    assert_eq!(l.env.exclude, ["AWS_*"]);
    assert_eq!(l.env.include_only, ["PATH", "CI"]);
    assert_eq!(l.env.set.get("CI").map(String::as_str), Some("1"));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    // Absent: the environment passes unchanged.
    assert!(load(&LoadRequest::default()).unwrap().env.is_passthrough());
}

#[test]
fn shell_environment_policy_from_overrides() {
    let l = load(&LoadRequest {
        overrides: vec![
            "shell_environment_policy.inherit=none".into(),
            "shell_environment_policy.set.A=\"x y\"".into(),
        ],
        ..LoadRequest::default()
    })
    .unwrap();
    assert_eq!(l.env.inherit, Inherit::None);
    assert_eq!(l.env.set.get("A").map(String::as_str), Some("x y"));
}

#[test]
fn shell_environment_policy_errors_name_the_key() {
    let cases = [
        (
            "inherit = \"some\"",
            "shell_environment_policy.inherit",
            "expected \"all\", \"core\" or \"none\"",
        ),
        (
            "inherit = 1",
            "shell_environment_policy.inherit",
            "a string",
        ),
        (
            "ignore_default_excludes = \"no\"",
            "shell_environment_policy.ignore_default_excludes",
            "a boolean",
        ),
        (
            "exclude = \"AWS_*\"",
            "shell_environment_policy.exclude",
            "an array of strings",
        ),
        (
            "include_only = [1]",
            "shell_environment_policy.include_only[0]",
            "a string",
        ),
        (
            "set = { N = 1 }",
            "shell_environment_policy.set.N",
            "a string",
        ),
        (
            "set = { \"A=B\" = \"x\" }",
            "shell_environment_policy.set.A=B",
            "not a valid variable name",
        ),
    ];
    for (body, key, want) in cases {
        let e = config_err(&format!("[shell_environment_policy]\n{body}\n"));
        assert!(e.contains("config.toml"), "{body}: {e}");
        assert!(e.contains(key), "{body}: {e}");
        assert!(e.contains(want), "{body}: {e}");
    }
    let e = config_err("shell_environment_policy = 3\n");
    assert!(
        e.contains("shell_environment_policy") && e.contains("a table"),
        "{e}"
    );
}

#[test]
fn shell_environment_policy_unknown_keys_warn() {
    let l = with_config(
        "[shell_environment_policy]\nexperimental_use_profile = true\nfilters = {}\n",
        LoadRequest::default(),
    )
    .unwrap();
    assert!(l.env.is_passthrough());
    assert_eq!(l.warnings.len(), 2, "{:?}", l.warnings);
    assert!(l.warnings[0].contains("experimental_use_profile"));
    assert!(l.warnings[1].contains("shell_environment_policy.filters"));
}
