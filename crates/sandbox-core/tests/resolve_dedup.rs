//! Resolution keeps one rule per (path, access): the first one given, whatever its spelling,
//! and rules stay sorted by path, then access.

use sandbox_core::{resolve, Access, Entry, Policy, Preset, ResolveEnv, Target, TargetOs};
use std::os::unix::fs::symlink;

#[test]
fn repeated_rules_keep_the_first_origin() {
    let t = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(t.path()).unwrap();
    for d in ["ws", "x", "y"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    symlink(base.join("x"), base.join("x-link")).unwrap();

    let mut p = Policy::preset_with(Preset::WorkspaceWrite, true, true);
    p.add_writable_root(base.join("y"), "first y");
    p.add_writable_root(base.join("x-link"), "first x (via link)");
    p.entries.push(Entry::new(
        Target::Path(base.join("x")),
        Access::Read,
        "read x",
    ));
    p.add_writable_root(base.join("x/."), "second x");
    p.add_writable_root(base.join("y"), "second y");
    p.add_writable_root(base.join("ws"), "ws again");
    p.entries.push(Entry::new(
        Target::Path(base.join("x-link")),
        Access::Read,
        "read x again",
    ));
    let env = ResolveEnv {
        cwd: base.join("ws"),
        tmpdir: None,
        home: None,
        target: TargetOs::Linux,
    };
    let r = resolve(&p, &env).unwrap();

    let under: Vec<(String, Access, &str)> = r
        .rules
        .iter()
        .filter(|rule| rule.path.starts_with(&base))
        .map(|rule| {
            let rel = rule.path.strip_prefix(&base).unwrap().display().to_string();
            (rel, rule.access, rule.origin.as_str())
        })
        .collect();
    let ws_origin = under
        .iter()
        .find(|(p, a, _)| p == "ws" && *a == Access::Write)
        .map(|(_, _, o)| *o)
        .expect("the workspace write rule");
    assert_ne!(ws_origin, "ws again", "the preset's rule came first");
    assert_eq!(
        under,
        vec![
            ("ws".to_string(), Access::Write, ws_origin),
            ("x".to_string(), Access::Read, "read x"),
            ("x".to_string(), Access::Write, "first x (via link)"),
            ("y".to_string(), Access::Write, "first y"),
        ]
    );
    let mut sorted = r.rules.clone();
    sorted.sort_by(|a, b| a.path.cmp(&b.path).then(a.access.cmp(&b.access)));
    assert_eq!(sorted, r.rules);
}
