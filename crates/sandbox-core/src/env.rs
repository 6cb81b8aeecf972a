//! Which environment variables the command sees: Codex's `[shell_environment_policy]`.
//!
//! The filesystem and network rules cannot stop a command from reading a secret it was handed
//! in its environment, so the environment is filtered before launch, in Codex's order:
//! 1. start from `inherit`: every variable (`all`, the default), a short `core` list, or none;
//! 2. unless `ignore_default_excludes` (default `true`), drop names matching `*KEY*`,
//!    `*SECRET*` or `*TOKEN*`;
//! 3. drop names matching any `exclude` pattern;
//! 4. insert the `set` variables;
//! 5. when `include_only` is not empty, keep only names matching one of its patterns.
//!
//! Patterns are matched against the whole name, ignoring ASCII case: `*` is any run of
//! characters, `?` one character, everything else itself.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// Where the environment starts from (step 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inherit {
    /// Every variable of the caller.
    #[default]
    All,
    /// Only [`CORE_VARS`].
    Core,
    /// Nothing: only `set` variables reach the command.
    None,
}

impl Inherit {
    /// Parses the config spelling: `all`, `core` or `none`.
    pub fn from_name(s: &str) -> Option<Inherit> {
        match s {
            "all" => Some(Inherit::All),
            "core" => Some(Inherit::Core),
            "none" => Some(Inherit::None),
            _ => None,
        }
    }
}

/// The variables `inherit = "core"` keeps (Codex's list).
pub const CORE_VARS: &[&str] = &[
    "HOME", "LOGNAME", "PATH", "SHELL", "USER", "USERNAME", "TMPDIR", "TEMP", "TMP",
];

/// Names dropped unless `ignore_default_excludes` is true.
pub const DEFAULT_EXCLUDES: &[&str] = &["*KEY*", "*SECRET*", "*TOKEN*"];

/// The environment policy; [`EnvPolicy::default`] passes the caller's environment unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvPolicy {
    pub inherit: Inherit,
    /// `false` drops [`DEFAULT_EXCLUDES`] (step 2).
    pub ignore_default_excludes: bool,
    pub exclude: Vec<String>,
    pub set: BTreeMap<String, String>,
    pub include_only: Vec<String>,
}

impl Default for EnvPolicy {
    fn default() -> Self {
        EnvPolicy {
            inherit: Inherit::All,
            ignore_default_excludes: true,
            exclude: Vec::new(),
            set: BTreeMap::new(),
            include_only: Vec::new(),
        }
    }
}

impl EnvPolicy {
    /// True when [`EnvPolicy::build`] would return its input unchanged.
    pub fn is_passthrough(&self) -> bool {
        *self == EnvPolicy::default()
    }

    /// The environment the command gets, from the caller's `vars`, sorted by name.
    pub fn build(
        &self,
        vars: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Vec<(OsString, OsString)> {
        let matches_any =
            |name: &str, patterns: &[&str]| patterns.iter().any(|p| name_matches(p, name));
        let exclude: Vec<&str> = self.exclude.iter().map(String::as_str).collect();
        let include_only: Vec<&str> = self.include_only.iter().map(String::as_str).collect();

        let mut env: BTreeMap<OsString, OsString> = vars
            .into_iter()
            .filter(|(name, _)| {
                let name = name.to_string_lossy();
                match self.inherit {
                    Inherit::All => true,
                    Inherit::Core => CORE_VARS.contains(&name.as_ref()),
                    Inherit::None => false,
                }
            })
            .filter(|(name, _)| {
                self.ignore_default_excludes
                    || !matches_any(&name.to_string_lossy(), DEFAULT_EXCLUDES)
            })
            .filter(|(name, _)| !matches_any(&name.to_string_lossy(), &exclude))
            .collect();
        for (k, v) in &self.set {
            env.insert(k.into(), v.into());
        }
        if !include_only.is_empty() {
            env.retain(|name, _| matches_any(&name.to_string_lossy(), &include_only));
        }
        env.into_iter().collect()
    }
}

/// Whole-name wildcard match ignoring ASCII case: `*` any run (also empty), `?` one character.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().map(|c| c.to_ascii_uppercase()).collect();
    let n: Vec<char> = name.chars().map(|c| c.to_ascii_uppercase()).collect();
    // Greedy match with backtracking to the last `*`: linear in practice, never exponential.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs.iter().map(|(k, v)| (k.into(), v.into())).collect()
    }

    fn names(env: &[(OsString, OsString)]) -> Vec<String> {
        env.iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect()
    }

    const HOST: &[(&str, &str)] = &[
        ("PATH", "/usr/bin:/bin"),
        ("HOME", "/home/u"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
        ("GITHUB_TOKEN", "t"),
        ("api_key", "k"),
        ("EDITOR", "vi"),
        ("LANG", "C.UTF-8"),
    ];

    #[test]
    fn wildcard_matching() {
        assert!(name_matches("*KEY*", "api_key"));
        assert!(name_matches("*KEY*", "KEY"));
        assert!(name_matches("AWS_*", "aws_region"));
        assert!(!name_matches("AWS_*", "MY_AWS_X"));
        assert!(name_matches("L?NG", "LANG"));
        assert!(!name_matches("L?NG", "LNG"));
        assert!(name_matches("*", ""));
        assert!(!name_matches("", "A"));
        assert!(name_matches("A*B*C", "AxxBxxBxC"));
        assert!(!name_matches("A*B*C", "AxxBxxBx"));
        // Brackets and braces are plain characters, as in Codex.
        assert!(name_matches("[A]", "[a]"));
        assert!(!name_matches("[A]", "A"));
    }

    #[test]
    fn default_passes_everything_unchanged() {
        let p = EnvPolicy::default();
        assert!(p.is_passthrough());
        let mut want = names(&vars(HOST));
        want.sort();
        assert_eq!(names(&p.build(vars(HOST))), want);
    }

    #[test]
    fn default_excludes_drop_secrets_ignoring_case() {
        let p = EnvPolicy {
            ignore_default_excludes: false,
            ..EnvPolicy::default()
        };
        assert!(!p.is_passthrough());
        assert_eq!(
            names(&p.build(vars(HOST))),
            ["EDITOR", "HOME", "LANG", "PATH"]
        );
    }

    #[test]
    fn core_keeps_only_the_core_list() {
        let p = EnvPolicy {
            inherit: Inherit::Core,
            ..EnvPolicy::default()
        };
        assert_eq!(names(&p.build(vars(HOST))), ["HOME", "PATH"]);
    }

    #[test]
    fn none_keeps_only_set() {
        let p = EnvPolicy {
            inherit: Inherit::None,
            set: [("CI".to_string(), "1".to_string())].into(),
            ..EnvPolicy::default()
        };
        assert_eq!(p.build(vars(HOST)), vars(&[("CI", "1")]));
    }

    #[test]
    fn steps_run_in_codex_order() {
        // `exclude` runs before `set` (a set variable survives its own exclude pattern), and
        // `include_only` runs last (it can drop a set variable).
        let p = EnvPolicy {
            exclude: vec!["EDITOR".into(), "ci".into()],
            set: [
                ("CI".to_string(), "1".to_string()),
                ("DROPPED".to_string(), "x".to_string()),
            ]
            .into(),
            include_only: vec!["PATH".into(), "C?".into(), "*ITOR".into()],
            ..EnvPolicy::default()
        };
        assert_eq!(
            p.build(vars(HOST)),
            vars(&[("CI", "1"), ("PATH", "/usr/bin:/bin")])
        );
    }

    #[test]
    fn set_overrides_an_inherited_value() {
        let p = EnvPolicy {
            set: [("LANG".to_string(), "C".to_string())].into(),
            ..EnvPolicy::default()
        };
        let env = p.build(vars(HOST));
        assert!(env.contains(&("LANG".into(), "C".into())));
        assert_eq!(env.len(), HOST.len());
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_names_and_values_pass_through() {
        use std::os::unix::ffi::OsStringExt;
        let odd = OsString::from_vec(vec![b'X', 0xff]);
        let env = EnvPolicy::default().build([(odd.clone(), odd.clone())]);
        assert_eq!(env, [(odd.clone(), odd)]);
    }
}
