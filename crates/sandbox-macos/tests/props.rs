//! Property tests: the evaluated profile agrees with the core oracle over generated policies,
//! the glob translation agrees with the core's glob matcher, and no input to the escaping
//! functions can change the structure of a profile (a proptest-driven fuzz).

mod common;

use proptest::prelude::*;
use sandbox_core::{
    resolve, Access, DenyGlob, Entry, NetworkPolicy, Policy, Preset, ResolveEnv, Special, Target,
    TargetOs, UnixSockets,
};
use sandbox_macos::escape::{regex_quote, sbpl_literal, Literal};
use sandbox_macos::glob_regex::glob_to_regex;
use sandbox_macos::sbpl::{parse, Evaluator, Filter, Value};
use sandbox_macos::{compile, verify, Options};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `a/b/c`, `a/.git/`, `d/.codex/`, a file `e`, and `g/.git` as a pointer to `a/.git`.
fn tree() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir_in(common::temp_parent()).unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    for d in ["a/b/c", "a/.git", "d/.codex", "g"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    std::fs::write(base.join("e"), "x").unwrap();
    std::fs::write(
        base.join("g/.git"),
        format!("gitdir: {}\n", base.join("a/.git").display()),
    )
    .unwrap();
    (dir, base)
}

const POOL: [&str; 12] = [
    "",
    "a",
    "a/b",
    "a/b/c",
    "d",
    "a/.git",
    "d/.codex",
    "e",
    "g",
    "missing",
    "a/b/missing",
    "/",
];
const GLOBS: [&str; 9] = [
    "**/*.env",
    "a/*",
    "a/**",
    "**/c",
    "a/b/[0-9]*",
    "**/[!x]?",
    "{a,d}/**/*.txt",
    "d/.codex/**",
    "g/.git",
];

use sandbox_core::testing::access;

#[derive(Debug, Clone)]
struct Gen {
    preset: Option<Preset>,
    minimal: bool,
    entries: Vec<(usize, Access)>,
    globs: Vec<usize>,
    /// Off, full, loopback, proxy, proxy with allow_local_binding.
    network: u8,
    proxy_port: u16,
    unix: u8,
}

fn gen() -> impl Strategy<Value = Gen> {
    (
        prop_oneof![
            Just(None),
            Just(Some(Preset::ReadOnly)),
            Just(Some(Preset::WorkspaceWrite))
        ],
        any::<bool>(),
        prop::collection::vec((0..POOL.len(), access()), 0..7),
        prop::collection::vec(0..GLOBS.len(), 0..3),
        (0u8..5, 1u16..),
        0u8..3,
    )
        .prop_map(
            |(preset, minimal, entries, globs, (network, proxy_port), unix)| Gen {
                preset,
                minimal,
                entries,
                globs,
                network,
                proxy_port,
                unix,
            },
        )
}

fn build(g: &Gen, base: &Path) -> Policy {
    let mut p = match g.preset {
        Some(pr) => Policy::preset_with(pr, true, true),
        None => {
            let mut p = Policy::preset(Preset::ReadOnly);
            p.entries.clear();
            p.preset = None;
            p
        }
    };
    if g.minimal {
        p.entries.push(Entry::new(
            Target::Special(Special::Minimal),
            Access::Read,
            "test",
        ));
    }
    for (i, a) in &g.entries {
        let path = if POOL[*i] == "/" {
            PathBuf::from("/")
        } else if POOL[*i].is_empty() {
            base.to_path_buf()
        } else {
            base.join(POOL[*i])
        };
        p.entries.push(Entry::new(Target::Path(path), *a, "test"));
    }
    for gi in &g.globs {
        p.add_deny_glob(GLOBS[*gi].to_string(), "test");
    }
    p.network = match g.network {
        0 => NetworkPolicy::Off,
        1 => NetworkPolicy::Full,
        2 => NetworkPolicy::Loopback,
        n => NetworkPolicy::Proxy {
            allow: vec!["pypi.org".into()],
            deny: vec![],
            allow_local_binding: n == 4,
        },
    };
    p.unix_sockets = match g.unix {
        0 => UnixSockets::All,
        1 => UnixSockets::None,
        _ => UnixSockets::Paths(vec![base.join("sock")]),
    };
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn profile_agrees_with_oracle(g in gen()) {
        let (_dir, base) = tree();
        let policy = build(&g, &base);
        let env = ResolveEnv { cwd: base.clone(), tmpdir: None, home: None, target: TargetOs::Macos };
        let resolved = resolve(&policy, &env).unwrap();
        // best_effort: loopback (and proxy with allow_local_binding) open the host's loopback.
        let opts = Options::default().with_best_effort(true).with_proxy_port(Some(g.proxy_port));
        let plan = compile(&resolved, &opts).unwrap();
        let report = verify(&resolved, &plan).unwrap();
        prop_assert!(report.checked > 500);
        prop_assert!(report.ok(), "policy {:#?}\nprofile:\n{}\nparams {:#?}\nmismatches {:#?}",
            resolved, plan.profile, plan.params, &report.mismatches[..report.mismatches.len().min(8)]);
    }

    /// The regex matches exactly the paths the core's glob matches.
    #[test]
    fn glob_regex_agrees_with_core(
        pat in "[ab/*?\\[\\]!{},.0-]{1,12}",
        paths in prop::collection::vec("[ab/.0x\\[\\]{}-]{0,10}", 1..12),
    ) {
        let pattern = format!("/r/{pat}");
        let (Ok(glob), Ok(re)) = (DenyGlob::new(&pattern, "t"), glob_to_regex(&pattern)) else {
            return Ok(());
        };
        let re = regex::Regex::new(&format!("(?s){re}")).unwrap();
        for p in paths {
            let path = format!("/r/{p}");
            if path.contains("//") || path.ends_with('/') {
                continue;
            }
            prop_assert_eq!(glob.is_match(Path::new(&path)), re.is_match(&path),
                "pattern {} regex {} path {}", pattern, re, path);
        }
    }

    /// Fuzz: whatever the text, a literal either is refused or reads back as exactly one
    /// literal with the same value, inside exactly one rule.
    #[test]
    fn literals_cannot_inject(s in any::<String>()) {
        if let Ok(lit) = sbpl_literal(Literal::Str(&s)) {
            let p = parse(&format!("(version 1)(allow file-read* (literal {lit}))")).unwrap();
            prop_assert_eq!(p.rules.len(), 1);
            prop_assert_eq!(&p.rules[0].filters, &vec![Filter::Literal(Value::Str(s.clone()))]);
        }
        if let Ok(q) = regex_quote(&s) {
            let lit = sbpl_literal(Literal::Regex(&format!("^{q}$"))).unwrap();
            let p = parse(&format!("(version 1)(deny default)(allow file-read* (regex {lit}))")).unwrap();
            prop_assert_eq!(p.rules.len(), 2);
            let e = Evaluator::new(&p, &BTreeMap::new()).unwrap();
            prop_assert!(e.decide("file-read-data", &s).allowed);
            let longer = format!("{s}x");
            prop_assert!(!e.decide("file-read-data", &longer).allowed);
        }
        if let Ok(re) = glob_to_regex(&format!("/{s}")) {
            let lit = sbpl_literal(Literal::Regex(&re)).unwrap();
            let p = parse(&format!("(version 1)(deny file-read* (regex {lit}))")).unwrap();
            prop_assert_eq!(p.rules.len(), 1);
            prop_assert_eq!(&p.rules[0].filters, &vec![Filter::Regex(re.clone())]);
        }
    }

    /// Hostile characters in paths never reach the profile: writable roots go by parameter.
    #[test]
    fn hostile_root_names_stay_out_of_the_profile(name in "[a-z\")( ;#\\\\*.\n]{1,16}") {
        let (_dir, base) = tree();
        // Prefixed so it never collides with the tree's own entries (`e` is a file there).
        let root = base.join(format!("root-{name}"));
        std::fs::create_dir_all(&root).unwrap();
        let mut p = Policy::preset_with(Preset::WorkspaceWrite, true, true);
        p.add_writable_root(root.clone(), "test");
        let env = ResolveEnv { cwd: base.clone(), tmpdir: None, home: None, target: TargetOs::Macos };
        let resolved = resolve(&p, &env).unwrap();
        let plan = compile(&resolved, &Options::default()).unwrap();
        prop_assert!(!plan.profile.contains(base.to_str().unwrap()));
        prop_assert!(plan.params.values().any(|v| v == root.to_str().unwrap()));
        prop_assert!(verify(&resolved, &plan).unwrap().ok());
    }
}

#[test]
fn glob_property_patterns_do_compile() {
    // Guards against the glob property passing vacuously: typical shapes compile both ways.
    for p in [
        "/r/*",
        "/r/a?",
        "/r/[!a]b",
        "/r/**/a",
        "/r/{a,b}*",
        "/r/[0-9]",
        "/r/a/**",
    ] {
        assert!(DenyGlob::new(p, "t").is_ok(), "{p}");
        assert!(glob_to_regex(p).is_ok(), "{p}");
    }
}

#[test]
fn verify_catches_a_broken_profile() {
    let (_dir, base) = tree();
    let mut p = Policy::preset_with(Preset::WorkspaceWrite, true, true);
    p.add_deny_glob("**/*.env".into(), "test");
    let env = ResolveEnv {
        cwd: base.clone(),
        tmpdir: None,
        home: None,
        target: TargetOs::Macos,
    };
    let resolved = resolve(&p, &env).unwrap();
    let good = compile(&resolved, &Options::default()).unwrap();
    assert!(verify(&resolved, &good).unwrap().ok());

    // The profile with every case-variant exclusion made to match nothing.
    let without_variants = |plan: &sandbox_macos::SeatbeltPlan| {
        let mut bad = plan.clone();
        let re = regex::Regex::new(r#"\(require-not \(regex #"[^"]*"\)\)"#).unwrap();
        bad.profile = re
            .replace_all(
                &bad.profile,
                r#"(require-not (regex #"^/nonexistent-variant$"))"#,
            )
            .into_owned();
        assert_ne!(bad.profile, plan.profile);
        bad
    };

    // Pointing the protected-path exclusions elsewhere (and dropping their case-variant
    // regexes, which would still cover the exact spelling) must be caught.
    let mut bad = without_variants(&good);
    for (k, v) in bad.params.iter_mut() {
        if k.contains("_EXCLUDED_") {
            *v = "/nonexistent-excluded".into();
        }
    }
    let r = verify(&resolved, &bad).unwrap();
    assert!(
        r.mismatches
            .iter()
            .any(|m| m.path.ends_with("/.git/config") && m.profile && !m.oracle),
        "{r:#?}"
    );

    // Dropping the deny-glob rule must be caught.
    let mut bad = good.clone();
    bad.profile = bad
        .profile
        .lines()
        .filter(|l| !l.starts_with("(deny file-read* process-exec"))
        .collect::<Vec<_>>()
        .join("\n");
    let r = verify(&resolved, &bad).unwrap();
    assert!(r
        .mismatches
        .iter()
        .any(|m| m.path.ends_with(".env") && m.op == "file-read-data"));

    // Without the case-variant regexes, creating `.GIT` where `.git` is protected is a hole.
    let r = verify(&resolved, &without_variants(&good)).unwrap();
    assert!(
        r.mismatches
            .iter()
            .any(|m| m.path.ends_with("/.GIT")
                && m.op.starts_with("file-write-create (case variant")),
        "{r:#?}"
    );

    // Without the rename pins, moving the workspace (carrying `.git` along) is a hole.
    let mut bad = good.clone();
    for (k, v) in bad.params.iter_mut() {
        if k.starts_with("RENAME_PIN_") {
            *v = "/nonexistent-pin".into();
        }
    }
    let r = verify(&resolved, &bad).unwrap();
    let ws = base.to_str().unwrap();
    assert!(
        r.mismatches
            .iter()
            .any(|m| m.path == ws && m.op == "file-write-unlink" && m.profile),
        "{r:#?}"
    );

    // A profile outside the subset is refused, not half-evaluated.
    let mut bad = good;
    bad.profile
        .push_str("(allow file-write* (with no-sandbox))\n");
    assert!(verify(&resolved, &bad).is_err());
}

#[test]
fn verify_catches_a_broken_socket_rule() {
    let (_dir, base) = tree();
    let mut p = Policy::preset(Preset::ReadOnly);
    p.unix_sockets = UnixSockets::Paths(vec![base.join("a/agent.sock")]);
    p.entries.push(Entry::new(
        Target::Path(base.join("a/b")),
        Access::Deny,
        "test",
    ));
    let env = ResolveEnv {
        cwd: base.clone(),
        tmpdir: None,
        home: None,
        target: TargetOs::Macos,
    };
    let resolved = resolve(&p, &env).unwrap();
    let good = compile(&resolved, &Options::default()).unwrap();
    let r = verify(&resolved, &good).unwrap();
    assert!(r.ok(), "{r:#?}");

    // Widening the listed socket to its directory (Codex's form) is caught.
    let mut bad = good.clone();
    *bad.params.get_mut("UNIX_SOCKET_PATH_0").unwrap() = base.join("a").to_str().unwrap().into();
    let r = verify(&resolved, &bad).unwrap();
    assert!(
        r.mismatches
            .iter()
            .any(|m| m.op == "network-outbound" && m.profile && !m.oracle),
        "{r:#?}"
    );

    // A grant without the read rules' hiding is caught: a socket under the denied `a/b`.
    let mut p2 = p.clone();
    p2.unix_sockets = UnixSockets::All;
    let resolved = resolve(&p2, &env).unwrap();
    let good = compile(&resolved, &Options::default()).unwrap();
    assert!(verify(&resolved, &good).unwrap().ok());
    let mut bad = good.clone();
    bad.profile = bad.profile.replace(
        "(deny network-outbound (remote unix-socket (subpath",
        "(allow network-outbound (remote unix-socket (subpath",
    );
    let r = verify(&resolved, &bad).unwrap();
    assert!(
        r.mismatches
            .iter()
            .any(|m| m.op == "network-outbound" && m.path.contains("/a/b") && m.profile),
        "{r:#?}"
    );
}
