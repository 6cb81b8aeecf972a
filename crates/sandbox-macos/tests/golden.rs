//! Golden profiles: the exact text for the main policy shapes, committed under
//! `tests/golden/` and reviewed like code. Temp paths are shown as `<TMP>`.
//! Regenerate with `UPDATE_GOLDEN=1 cargo test -p sandbox-macos --test golden`.

mod common;

use sandbox_core::{resolve, NetworkPolicy, Policy, Preset, ResolveEnv, TargetOs};
use sandbox_macos::escape::regex_quote;
use sandbox_macos::{compile, verify, Options};
use std::path::{Path, PathBuf};

struct Tree {
    _dir: tempfile::TempDir,
    base: PathBuf,
}

/// A temp tree outside `/tmp` (so `/tmp` stays a separate root): `ws/` with a `.git`
/// directory, `extra/`, and `real/.git/worktrees/w` for pointer files.
fn tree() -> Tree {
    let dir = tempfile::tempdir_in(common::temp_parent()).unwrap();
    // One level more, so the tree is never as shallow as `/private/tmp` (depth 2): the
    // depth-based regexes of a tree root are normalised to `<TMP>`, and a tree at depth 2
    // (a temp dir in a `HOME` of `/root`, when the checkout lies under /tmp) would turn
    // `/private/tmp`'s into `<TMP>` as well.
    let base = std::fs::canonicalize(dir.path()).unwrap().join("t");
    std::fs::create_dir_all(base.join("ws/.git")).unwrap();
    std::fs::create_dir_all(base.join("extra")).unwrap();
    std::fs::create_dir_all(base.join("real/.git/worktrees/w")).unwrap();
    Tree { _dir: dir, base }
}

fn env(cwd: &Path) -> ResolveEnv {
    ResolveEnv {
        cwd: cwd.to_path_buf(),
        tmpdir: None,
        home: None,
        target: TargetOs::Macos,
    }
}

fn render(t: &Tree, policy: &Policy) -> String {
    render_with(t, policy, &Options::default())
}

fn render_with(t: &Tree, policy: &Policy, opts: &Options) -> String {
    let resolved = resolve(policy, &env(&t.base.join("ws"))).unwrap();
    let plan = compile(&resolved, opts).unwrap();
    let report = verify(&resolved, &plan).unwrap();
    assert!(
        report.ok(),
        "profile disagrees with the oracle: {:#?}",
        report.mismatches
    );
    assert!(report.checked > 1000, "only {} decisions", report.checked);
    // The `--log-denials` form of the profile reads as the same rules, every deny tagged.
    let tagged = sandbox_macos::denials::tag_denials(&plan.profile, "sandbox-denial-1-2").unwrap();
    let (a, b) = (
        sandbox_macos::sbpl::parse(&plan.profile).unwrap().rules,
        sandbox_macos::sbpl::parse(&tagged).unwrap().rules,
    );
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            (x.action, &x.ops, &x.filters),
            (y.action, &y.ops, &y.filters)
        );
        assert_eq!(
            y.message.is_some(),
            y.action == sandbox_macos::sbpl::Action::Deny
        );
    }
    let base = t.base.to_str().unwrap();
    // Parameters naming the directories above the temp tree depend on the checkout: their
    // lines are shown as one placeholder.
    let above: Vec<&String> = plan
        .params
        .iter()
        .filter(|(_, v)| t.base.starts_with(v.as_str()) && v.as_str() != base)
        .map(|(k, _)| k)
        .collect();
    let mut out = String::new();
    let mut placeholder = false;
    for line in plan.profile.lines() {
        if above
            .iter()
            .any(|k| line.contains(&format!("(param \"{k}\")")))
        {
            if !placeholder {
                out.push_str("  ;; <one literal per directory above <TMP>>\n");
                placeholder = true;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("\n;; ---- -D parameters ----\n");
    for (k, v) in &plan.params {
        if !above.contains(&k) {
            out.push_str(&format!(";; {k}={v}\n"));
        }
    }
    // Case-variant regexes name a root by its depth: `^` and one `/[^/]+` per component.
    // The temp tree's depth depends on the checkout, so it is shown as `<TMP>` too.
    let depth = format!(
        "^{}",
        "/[^/]+".repeat(sandbox_macos::casefold::depth(&t.base))
    );
    out.replace(&regex_quote(base).unwrap(), "<TMP>")
        .replace(base, "<TMP>")
        .replace(&depth, "^<TMP>")
}

fn check(name: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.sb"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(
        text, want,
        "golden {name} differs; review and run with UPDATE_GOLDEN=1"
    );
}

/// Workspace-write without the `/tmp` root. Roots are numbered in path order, so with
/// `/private/tmp` in the mix the numbering would depend on where the checkout lies (a tree
/// under `/home` sorts before it, one under `/work` after it). `/tmp` has its own golden.
fn workspace_write() -> Policy {
    Policy::preset_with(Preset::WorkspaceWrite, true, true)
}

#[test]
fn read_only() {
    let t = tree();
    check("read-only", &render(&t, &Policy::preset(Preset::ReadOnly)));
}

#[test]
fn workspace_write_profile() {
    let t = tree();
    // The full preset: the workspace and `/tmp` (spelled `/private/tmp` on macOS), in
    // whichever order their paths sort here.
    let full = render(
        &t,
        &Policy::preset_with(Preset::WorkspaceWrite, true, false),
    );
    let roots: Vec<&str> = full
        .lines()
        .filter_map(|l| l.strip_prefix(";; WRITABLE_ROOT_"))
        .filter_map(|l| l.split_once('=').filter(|(k, _)| !k.contains('_')))
        .map(|(_, v)| v)
        .collect();
    let mut sorted = roots.clone();
    sorted.sort();
    assert_eq!(sorted, ["/private/tmp", "<TMP>/ws"], "{full}");
    assert!(full.contains("=/private/tmp/.git\n"), "{full}");

    let text = render(&t, &workspace_write());
    assert!(text.contains(";; WRITABLE_ROOT_0=<TMP>/ws\n"), "{text}");
    assert!(!text.contains("WRITABLE_ROOT_1"), "{text}");
    // Missing protected names are parameters too, so creating them is denied.
    assert!(text.contains("=<TMP>/ws/.agents\n"));
    assert!(text.contains("=<TMP>/ws/.codex\n"));
    check("workspace-write", &text);
}

#[test]
fn slash_tmp() {
    let t = tree();
    let mut p = Policy::preset(Preset::ReadOnly);
    p.entries.push(sandbox_core::Entry::new(
        sandbox_core::Target::Special(sandbox_core::Special::SlashTmp),
        sandbox_core::Access::Write,
        "test",
    ));
    let text = render(&t, &p);
    assert!(text.contains(";; WRITABLE_ROOT_0=/private/tmp\n"), "{text}");
    assert!(text.contains("=/private/tmp/.git\n"), "{text}");
    check("slash-tmp", &text);
}

#[test]
fn extra_root() {
    let t = tree();
    let mut p = workspace_write();
    p.add_writable_root(t.base.join("extra"), "--writable-root");
    let text = render(&t, &p);
    assert!(text.contains("WRITABLE_ROOT_0=<TMP>/extra\n"), "{text}");
    assert!(text.contains("WRITABLE_ROOT_1=<TMP>/ws\n"), "{text}");
    check("extra-root", &text);
}

#[test]
fn git_pointer_file() {
    let t = tree();
    std::fs::remove_dir_all(t.base.join("ws/.git")).unwrap();
    let target = t.base.join("extra/gitdir-w");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(
        t.base.join("ws/.git"),
        format!("gitdir: {}\n", target.display()),
    )
    .unwrap();
    // The pointer's target is inside another writable root: it must be carved out there.
    let mut p = workspace_write();
    p.add_writable_root(t.base.join("extra"), "--writable-root");
    let text = render(&t, &p);
    assert!(
        text.contains("_EXCLUDED_4=<TMP>/extra/gitdir-w\n"),
        "{text}"
    );
    assert!(text.contains("=<TMP>/ws/.git\n"), "{text}");
    check("git-pointer", &text);
}

#[test]
fn deny_glob() {
    let t = tree();
    let mut p = workspace_write();
    p.add_deny_glob("**/*.env".into(), "--deny-read");
    let text = render(&t, &p);
    assert!(
        text.contains("(regex #\"^<TMP>/ws/(.*/)?[^/]*\\.env(/.*)?$\")"),
        "{text}"
    );
    check("deny-glob", &text);
}

#[test]
fn network_on() {
    let t = tree();
    let mut p = workspace_write();
    p.network = NetworkPolicy::Full;
    let text = render(&t, &p);
    assert!(text.contains("(allow network-outbound)\n"));
    assert!(text.contains("com.apple.SystemConfiguration.DNSConfiguration"));
    check("network-on", &text);
}

/// The egress proxy's fixed port in the goldens (a run uses a free one).
const PROXY_PORT: u16 = 3128;

fn proxy(allow_local_binding: bool) -> NetworkPolicy {
    NetworkPolicy::Proxy {
        allow: vec!["pypi.org".into(), "*.pythonhosted.org".into()],
        deny: vec![],
        allow_local_binding,
    }
}

#[test]
fn network_proxy() {
    let t = tree();
    let mut p = workspace_write();
    p.network = proxy(false);
    let text = render_with(
        &t,
        &p,
        &Options::default().with_proxy_port(Some(PROXY_PORT)),
    );
    assert!(text.contains("(allow network-outbound (remote tcp (param \"PROXY_ENDPOINT\")))\n"));
    assert!(
        text.contains(";; PROXY_ENDPOINT=localhost:3128\n"),
        "{text}"
    );
    assert!(!text.contains("(allow network-outbound)\n"));
    assert!(!text.contains("localhost:*"));
    assert!(!text.contains("com.apple.trustd.agent"));
    check("network-proxy", &text);
}

#[test]
fn network_loopback() {
    let t = tree();
    let mut p = workspace_write();
    p.network = NetworkPolicy::Loopback;
    let opts = Options::default().with_best_effort(true);
    let text = render_with(&t, &p, &opts);
    assert!(text.contains("(allow network-outbound (remote ip \"localhost:*\"))\n"));
    assert!(!text.contains("PROXY_ENDPOINT"));
    check("network-loopback", &text);
    // With allow_local_binding, proxy mode adds the same loopback rules.
    p.network = proxy(true);
    let local = render_with(&t, &p, &opts.with_proxy_port(Some(PROXY_PORT)));
    assert!(local.contains("(allow network-outbound (remote ip \"localhost:*\"))\n"));
    check("network-proxy-local", &local);
}

#[test]
fn unix_socket_paths() {
    let t = tree();
    let mut p = Policy::preset(Preset::ReadOnly);
    p.unix_sockets = sandbox_core::UnixSockets::Paths(vec![t.base.join("ws/sock")]);
    let text = render(&t, &p);
    assert!(
        text.contains("UNIX_SOCKET_PATH_0=<TMP>/ws/sock\n"),
        "{text}"
    );
    assert!(!text.contains("(allow network-outbound)\n"));
    check("unix-socket-paths", &text);
}

#[test]
fn output_is_deterministic() {
    let t = tree();
    let mut p = workspace_write();
    p.add_deny_glob("**/*.env".into(), "--deny-read");
    p.add_writable_root(t.base.join("extra"), "--writable-root");
    assert_eq!(render(&t, &p), render(&t, &p));
}

/// A restricted read view with nested rules: reads only the workspace (so the metadata of
/// the directories above it and of the `/tmp`-style links is granted), writes to `ws/out`
/// with a denied `ws/out/secret` below it (rename pins from `ws/out` down), a listed socket
/// inside the view, and the network on with a deny rule (the keychain stays closed).
#[test]
fn restricted_view_with_nested_rules() {
    use sandbox_core::{Access, Entry, Target};
    let t = tree();
    std::fs::create_dir_all(t.base.join("ws/out/secret")).unwrap();
    let mut p = Policy::preset(Preset::ReadOnly);
    p.entries.clear();
    p.preset = None;
    for (rel, access) in [
        ("ws", Access::Read),
        ("ws/out", Access::Write),
        ("ws/out/secret", Access::Deny),
    ] {
        p.entries
            .push(Entry::new(Target::Path(t.base.join(rel)), access, "test"));
    }
    p.network = NetworkPolicy::Full;
    p.unix_sockets = sandbox_core::UnixSockets::Paths(vec![t.base.join("ws/agent.sock")]);
    let text = render(&t, &p);
    assert!(text.contains("(literal \"/\")"), "{text}");
    assert!(text.contains("RENAME_PIN_0=<TMP>/ws/out\n"), "{text}");
    assert!(!text.contains("com.apple.SecurityServer"), "{text}");
    assert!(
        text.contains("UNIX_SOCKET_PATH_0=<TMP>/ws/agent.sock\n"),
        "{text}"
    );
    check("restricted-view", &text);
}
