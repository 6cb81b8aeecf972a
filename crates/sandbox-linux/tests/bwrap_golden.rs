//! Golden tests for the bubblewrap compiler: each case's plan text is committed under
//! `tests/golden/`. Regenerate with `UPDATE_GOLDEN=1 cargo test -p sandbox-linux --test bwrap_golden`
//! and review the diff.
//!
//! Policies are built by hand on a fake filesystem so the output does not depend on the host.

use sandbox_core::{
    Access, DenyGlob, NetworkPolicy, PathKind, Protected, ResolvedPolicy, Rule, TargetOs,
    UnixSockets, WritableRoot,
};
use sandbox_linux::bwrap::{compile, BwrapFeatures, BwrapInput, BwrapPlan};
use sandbox_linux::deny_globs::{DenyMatch, MatchKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn rule(path: &str, access: Access) -> Rule {
    Rule {
        path: path.into(),
        access,
        origin: "test".into(),
    }
}

fn protected(path: &str, kind: PathKind, reason: &str) -> Protected {
    Protected {
        path: path.into(),
        kind,
        reason: reason.into(),
    }
}

/// The three default protected names under `root`, with the kinds given.
fn names(root: &str, git: PathKind, codex: PathKind, agents: PathKind) -> Vec<Protected> {
    vec![
        protected(&format!("{root}/.agents"), agents, ".agents"),
        protected(&format!("{root}/.codex"), codex, ".codex"),
        protected(&format!("{root}/.git"), git, ".git"),
    ]
}

fn policy(rules: Vec<Rule>, roots: Vec<WritableRoot>) -> ResolvedPolicy {
    ResolvedPolicy {
        description: "test".into(),
        target: TargetOs::Linux,
        unrestricted: false,
        cwd: "/ws".into(),
        rules,
        deny_globs: vec![],
        writable_roots: roots,
        minimal: false,
        network: NetworkPolicy::Off,
        unix_sockets: UnixSockets::All,
        glob_scan_max_depth: None,
        git: Default::default(),
        warnings: vec![],
    }
}

fn workspace_write() -> ResolvedPolicy {
    policy(
        vec![
            rule("/", Access::Read),
            rule("/tmp", Access::Write),
            rule("/ws", Access::Write),
        ],
        vec![
            WritableRoot {
                path: "/tmp".into(),
                protected: names(
                    "/tmp",
                    PathKind::Missing,
                    PathKind::Missing,
                    PathKind::Missing,
                ),
            },
            WritableRoot {
                path: "/ws".into(),
                protected: names("/ws", PathKind::Dir, PathKind::Missing, PathKind::Missing),
            },
        ],
    )
}

/// A fake filesystem: listed paths exist with their kind, everything else is missing
/// (except the ancestors of listed paths, which are directories).
fn fake_fs(entries: &[(&str, PathKind)]) -> impl Fn(&Path) -> PathKind {
    let mut map: BTreeMap<PathBuf, PathKind> = BTreeMap::new();
    for (p, k) in entries {
        let p = PathBuf::from(p);
        for a in p.ancestors().skip(1) {
            map.entry(a.to_path_buf()).or_insert(PathKind::Dir);
        }
        map.insert(p, *k);
    }
    move |p: &Path| map.get(p).copied().unwrap_or(PathKind::Missing)
}

fn plan(p: &ResolvedPolicy, matches: &[DenyMatch], fs: &[(&str, PathKind)]) -> BwrapPlan {
    let kind_of = fake_fs(fs);
    let features = BwrapFeatures::assumed();
    let seccomp = [0u8; 16];
    compile(&BwrapInput {
        policy: p,
        deny_matches: matches,
        features: &features,
        seccomp_program: Some(&seccomp),
        kind_of: &kind_of,
        is_empty_dir: &|_| false,
        read_link: &|p: &Path| (p == Path::new("/lib64")).then(|| PathBuf::from("usr/lib64")),
        best_effort: false,
    })
    .expect("compiles")
}

fn check(name: &str, plan: &BwrapPlan) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("bwrap_{name}.txt"));
    let text = plan.to_text();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&file, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&file).unwrap_or_else(|_| {
        panic!(
            "missing golden {}; run with UPDATE_GOLDEN=1",
            file.display()
        )
    });
    assert_eq!(text, want, "golden {} differs", file.display());
}

const WS_FS: &[(&str, PathKind)] = &[
    ("/ws/.git/config", PathKind::File),
    ("/ws/src/main.rs", PathKind::File),
    ("/tmp", PathKind::Dir),
    ("/etc/passwd", PathKind::File),
];

#[test]
fn read_only() {
    let p = policy(vec![rule("/", Access::Read)], vec![]);
    let plan = plan(&p, &[], WS_FS);
    assert!(plan.args.windows(3).any(|w| w == ["--ro-bind", "/", "/"]));
    assert!(!plan.args.iter().any(|a| a == "--bind"));
    check("read_only", &plan);
}

#[test]
fn workspace_write_binds_roots_and_masks_protected_names() {
    let plan = plan(&workspace_write(), &[], WS_FS);
    let text = plan.to_text();
    // Writable roots are bound by the fd the launcher opens (no link followed on the way).
    assert!(plan
        .args
        .windows(3)
        .any(|w| w[0] == "--bind-fd" && w[2] == "/ws"));
    assert!(!plan.args.iter().any(|a| a == "--bind"));
    // A protected path inside a writable root is bound by fd too: a link swapped in there
    // before bwrap mounts cannot choose what gets bound.
    assert!(plan
        .args
        .windows(3)
        .any(|w| w[0] == "--ro-bind-fd" && w[2] == "/ws/.git"));
    assert!(!text.contains("--ro-bind\n/ws/.git\n"));
    assert!(text.contains("--perms\n0555\n--tmpfs\n/ws/.codex\n"));
    assert!(plan.unshare_net);
    assert!(plan.host_stubs.contains(&PathBuf::from("/ws/.agents")));
    check("workspace_write", &plan);
}

#[test]
fn extra_root() {
    let mut p = workspace_write();
    p.rules.push(rule("/data/cache", Access::Write));
    p.rules.sort_by(|a, b| a.path.cmp(&b.path));
    p.writable_roots.insert(
        0,
        WritableRoot {
            path: "/data/cache".into(),
            protected: names(
                "/data/cache",
                PathKind::Missing,
                PathKind::Missing,
                PathKind::Missing,
            ),
        },
    );
    let mut fs = WS_FS.to_vec();
    fs.push(("/data/cache/x", PathKind::File));
    check("extra_root", &plan(&p, &[], &fs));
}

#[test]
fn protected_subpath_and_nested_regrant() {
    let mut p = workspace_write();
    p.rules.push(rule("/ws/private", Access::Deny));
    p.rules.push(rule("/ws/private/scratch", Access::Write));
    p.rules.sort_by(|a, b| a.path.cmp(&b.path));
    p.writable_roots.push(WritableRoot {
        path: "/ws/private/scratch".into(),
        protected: names(
            "/ws/private/scratch",
            PathKind::Missing,
            PathKind::Missing,
            PathKind::Missing,
        ),
    });
    p.writable_roots[1].protected = names("/ws", PathKind::Dir, PathKind::File, PathKind::Missing);
    let mut fs = WS_FS.to_vec();
    fs.extend([
        ("/ws/.codex", PathKind::File),
        ("/ws/private/scratch/notes", PathKind::File),
        ("/ws/private/key", PathKind::File),
    ]);
    let plan = plan(&p, &[], &fs);
    // The re-granted root is mounted after (inside) the mask of its denied parent.
    let pos = |needle: &str| plan.args.iter().position(|a| a == needle).unwrap();
    assert!(pos("/ws/private") < pos("/ws/private/scratch"));
    assert_eq!(plan.access(Path::new("/ws/private/key")), (false, false));
    assert_eq!(
        plan.access(Path::new("/ws/private/scratch/notes")),
        (true, true)
    );
    check("protected_subpath", &plan);
}

#[test]
fn git_pointer_file() {
    let mut p = workspace_write();
    p.rules.push(rule("/repo", Access::Write));
    p.rules.sort_by(|a, b| a.path.cmp(&b.path));
    p.writable_roots.insert(
        0,
        WritableRoot {
            path: "/repo".into(),
            protected: names("/repo", PathKind::Dir, PathKind::Missing, PathKind::Missing),
        },
    );
    let ws = p
        .writable_roots
        .iter_mut()
        .find(|r| r.path == Path::new("/ws"))
        .unwrap();
    ws.protected = names("/ws", PathKind::File, PathKind::Missing, PathKind::Missing);
    ws.protected.push(protected(
        "/repo/.git/worktrees/w",
        PathKind::Dir,
        "gitdir of /ws/.git",
    ));
    let fs = [
        ("/ws/.git", PathKind::File),
        ("/repo/.git/worktrees/w/HEAD", PathKind::File),
        ("/tmp", PathKind::Dir),
    ];
    let plan = plan(&p, &[], &fs);
    assert_eq!(plan.access(Path::new("/ws/.git")), (true, false));
    // Already read-only through /repo/.git: no separate mount needed for the target.
    assert_eq!(
        plan.access(Path::new("/repo/.git/worktrees/w/HEAD")),
        (true, false)
    );
    check("git_pointer_file", &plan);
}

#[test]
fn deny_read_masks_matches() {
    let mut p = workspace_write();
    p.deny_globs = vec![DenyGlob::new("/ws/**/*.env", "--deny-read").unwrap()];
    let m = |path: &str, kind: MatchKind| DenyMatch {
        path: path.into(),
        kind,
        pattern: "/ws/**/*.env".into(),
    };
    let matches = [
        m("/ws/a.env", MatchKind::File),
        m("/ws/conf.env", MatchKind::Dir),
        m(
            "/ws/link.env",
            MatchKind::Symlink {
                target: Some("/etc/shared.secret".into()),
            },
        ),
        m("/ws/sub/b.env", MatchKind::File),
    ];
    let mut fs = WS_FS.to_vec();
    fs.extend([
        ("/ws/a.env", PathKind::File),
        ("/ws/sub/b.env", PathKind::File),
        ("/ws/conf.env", PathKind::Dir),
        ("/etc/shared.secret", PathKind::File),
    ]);
    let plan = plan(&p, &matches, &fs);
    assert_eq!(plan.access(Path::new("/ws/sub/b.env")), (false, false));
    assert_eq!(plan.access(Path::new("/ws/sub/b.txt")), (true, true));
    assert_eq!(plan.access(Path::new("/etc/shared.secret")), (false, false));
    // seccomp + one empty fd per masked file (a.env, b.env, the link target)
    let masks = plan
        .fds
        .iter()
        .filter(|f| !matches!(f.content, sandbox_linux::bwrap::FdContent::Dir { .. }))
        .count();
    assert_eq!(masks, 4);
    check("deny_read", &plan);
}

#[test]
fn network_on_keeps_the_host_network() {
    let mut p = workspace_write();
    p.network = NetworkPolicy::Full;
    let plan = plan(&p, &[], WS_FS);
    assert!(!plan.args.iter().any(|a| a == "--unshare-net"));
    check("network_on", &plan);
}

#[test]
fn minimal_read_view() {
    let mut p = workspace_write();
    p.minimal = true;
    p.rules.retain(|r| r.path != Path::new("/"));
    for r in ["/usr", "/etc", "/bin"] {
        p.rules.push(rule(r, Access::Read));
    }
    p.rules.sort_by(|a, b| a.path.cmp(&b.path));
    let mut fs = WS_FS.to_vec();
    fs.extend([("/usr/bin/sh", PathKind::File), ("/bin", PathKind::Dir)]);
    let plan = plan(&p, &[], &fs);
    assert_eq!(plan.access(Path::new("/home/me/.ssh/id")), (false, false));
    assert_eq!(plan.access(Path::new("/usr/bin/sh")), (true, false));
    check("minimal", &plan);
}

#[test]
fn proxy_network_gets_its_own_namespace() {
    let mut p = workspace_write();
    p.network = NetworkPolicy::Proxy {
        allow: vec!["example.com".into()],
        deny: vec![],
        allow_local_binding: false,
    };
    let kind_of = fake_fs(WS_FS);
    let features = BwrapFeatures::assumed();
    let input = BwrapInput {
        policy: &p,
        deny_matches: &[],
        features: &features,
        seccomp_program: None,
        kind_of: &kind_of,
        is_empty_dir: &|_| false,
        read_link: &|p: &Path| (p == Path::new("/lib64")).then(|| PathBuf::from("usr/lib64")),
        best_effort: false,
    };
    // The launcher's egress proxy is the only way out of it (BwrapSandbox::run_gated).
    let plan = compile(&input).unwrap();
    assert!(plan.unshare_net);
    assert!(plan.degradations.is_empty());
}

#[test]
fn json_form_is_valid_and_names_mounts() {
    let plan = plan(&workspace_write(), &[], WS_FS);
    let v = serde_json::to_value(&plan).unwrap();
    assert_eq!(v["unshare_net"], true);
    assert!(v["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["op"] == "bind" && m["path"] == "/ws"));
    assert_eq!(v["fds"][0]["content"], "seccomp");
}

#[test]
fn old_bwrap_without_required_flags_is_refused() {
    let p = workspace_write();
    let kind_of = fake_fs(WS_FS);
    for strip in ["perms", "cap_drop", "seccomp"] {
        let mut features = BwrapFeatures::assumed();
        match strip {
            "perms" => features.perms = false,
            "cap_drop" => features.cap_drop = false,
            _ => features.seccomp = false,
        }
        let e = compile(&BwrapInput {
            policy: &p,
            deny_matches: &[],
            features: &features,
            seccomp_program: Some(&[0u8; 8]),
            kind_of: &kind_of,
            is_empty_dir: &|_| false,
            read_link: &|_| None,
            best_effort: true,
        })
        .unwrap_err();
        let flag = format!("--{}", strip.replace('_', "-"));
        assert!(e.to_string().contains(&flag), "{e}");
    }
}

/// Host sockets the policy closes get a `/dev/null` cover after every other mount; allowed
/// ones, ones under the fresh /dev, and ones the mount table hides already get none.
#[test]
fn host_sockets_closed_by_the_policy_are_covered_last() {
    let mut p = workspace_write();
    p.rules.push(rule("/secret", Access::Deny));
    p.rules.sort_by(|a, b| a.path.cmp(&b.path));
    p.unix_sockets = UnixSockets::Paths(vec!["/run/agent.sock".into()]);
    let mut plan = plan(
        &p,
        &[],
        &[("/ws/.git", PathKind::Dir), ("/secret", PathKind::Dir)],
    );
    let sockets: Vec<PathBuf> = [
        "/dev/log",
        "/run/agent.sock",
        "/run/docker.sock",
        "/secret/s.sock",
        "/tmp/tmux-0/default",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    sandbox_linux::bwrap::mask_host_sockets(&mut plan, &p, &sockets).unwrap();
    let covered: Vec<&Path> = plan
        .mounts
        .iter()
        .filter_map(|m| match &m.mount {
            sandbox_linux::bwrap::Mount::MaskSocket { path } => Some(path.as_path()),
            _ => None,
        })
        .collect();
    assert_eq!(
        covered,
        [
            Path::new("/run/docker.sock"),
            Path::new("/tmp/tmux-0/default")
        ]
    );
    // After every other mount (the /tmp bind among them), so nothing uncovers them.
    let n = plan.mounts.len();
    assert!(matches!(
        plan.mounts[n - 2].mount,
        sandbox_linux::bwrap::Mount::MaskSocket { .. }
    ));
    let text = plan.args.join(" ");
    assert!(
        text.contains("--ro-bind /dev/null /tmp/tmux-0/default --remount-ro"),
        "{text}"
    );
    // "all" covers nothing that can be seen.
    p.unix_sockets = UnixSockets::All;
    let mut all = self::plan(
        &p,
        &[],
        &[("/ws/.git", PathKind::Dir), ("/secret", PathKind::Dir)],
    );
    let before = all.args.clone();
    sandbox_linux::bwrap::mask_host_sockets(&mut all, &p, &sockets).unwrap();
    assert_eq!(all.args, before);
}

/// A host socket gone between the plan and the launch loses its mask (bwrap could not make
/// its mount point in a read-only directory and would not start); one still there keeps it.
#[test]
fn masks_of_sockets_gone_before_launch_are_left_out() {
    let t = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(t.path()).unwrap();
    let here = dir.join("here.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&here).unwrap();
    let gone = dir.join("gone/gone.sock");
    let mut p = workspace_write();
    p.unix_sockets = UnixSockets::Paths(Vec::new());
    let mut plan = plan(&p, &[], &[("/ws/.git", PathKind::Dir)]);
    sandbox_linux::bwrap::mask_host_sockets(&mut plan, &p, &[here.clone(), gone.clone()]).unwrap();
    let all = plan.args.join(" ");
    let now = plan.launch_args().join(" ");
    let mask = |p: &Path| format!("--ro-bind /dev/null {}", p.display());
    assert!(
        all.contains(&mask(&here)) && all.contains(&mask(&gone)),
        "{all}"
    );
    assert!(now.contains(&mask(&here)), "{now}");
    assert!(!now.contains(&gone.display().to_string()), "{now}");
    assert_eq!(
        plan.args.len() - 3,
        plan.launch_args().len(),
        "exactly the one mask is left out"
    );
}

/// A protected directory that was there when the plan looked at its kind and is gone when it
/// looks at its content (another run's placeholder, removed meanwhile) is planned as a
/// placeholder the launcher holds, not bound from a path that no longer exists (CI saw
/// `bwrap: Can't find source path /tmp/.agents`).
#[test]
fn a_protected_directory_gone_meanwhile_is_a_held_placeholder() {
    let ws = tempfile::tempdir().unwrap();
    let gone = ws.path().join(".agents");
    let root = gone.parent().unwrap().to_str().unwrap().to_string();
    let p = policy(
        vec![rule("/", Access::Read), rule(&root, Access::Write)],
        vec![WritableRoot {
            path: root.clone().into(),
            protected: vec![protected(gone.to_str().unwrap(), PathKind::Dir, ".agents")],
        }],
    );
    // The kind comes from the first look (a directory); the content from the host, now.
    let was_there = |p: &Path| {
        if p == gone {
            PathKind::Dir
        } else {
            sandbox_linux::bwrap::host_kind_of(p)
        }
    };
    let plan = compile_racing(&p, &was_there, &sandbox_linux::bwrap::host_is_empty_dir);
    let at = gone.to_str().unwrap();
    assert!(
        plan.args
            .windows(4)
            .any(|w| w == ["--perms", "0555", "--tmpfs", at]),
        "{}",
        plan.to_text()
    );
    assert!(plan
        .mounts
        .iter()
        .filter(|m| m.mount.path() == gone)
        .all(|m| matches!(m.mount, sandbox_linux::bwrap::Mount::EmptyDir { .. })));
    assert!(plan.host_stubs.contains(&gone));
}

/// The reverse race: protected names missing when the plan first looked and made by another
/// run (its placeholders) before any later look. The plan holds every one of them all the
/// same. It once asked again, left out those it then found, and bwrap mounted over them
/// unheld: the other run, ending, removed them under the command, which detached the
/// mounts, and the command created `.git` and `.codex` (root's bwrap run, in a sticky
/// directory shared with `sbxtest`'s runs).
#[test]
fn protected_names_made_meanwhile_by_another_run_are_held() {
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().to_str().unwrap().to_string();
    let names = [".git", ".codex", ".agents"];
    let p = policy(
        vec![rule("/", Access::Read), rule(&root, Access::Write)],
        vec![WritableRoot {
            path: root.clone().into(),
            protected: names
                .iter()
                .map(|n| protected(&format!("{root}/{n}"), PathKind::Missing, n))
                .collect(),
        }],
    );
    // Each path is missing at its first look and a directory at every later one.
    let looked = std::cell::RefCell::new(std::collections::HashSet::new());
    let made_meanwhile = |p: &Path| {
        if p.starts_with(ws.path())
            && p != ws.path()
            && !looked.borrow_mut().insert(p.to_path_buf())
        {
            PathKind::Dir
        } else {
            sandbox_linux::bwrap::host_kind_of(p)
        }
    };
    let plan = compile_racing(&p, &made_meanwhile, &|_| true);
    for n in names {
        let path = ws.path().join(n);
        let at = path.to_str().unwrap();
        assert!(
            plan.args
                .windows(4)
                .any(|w| w == ["--perms", "0555", "--tmpfs", at]),
            "{n} is not covered:\n{}",
            plan.to_text()
        );
        assert!(
            plan.host_stubs.contains(&path),
            "{n} is mounted over but not held:\n{}",
            plan.to_text()
        );
    }
}

/// The plan for `p` with the host's answers given by the test (a host changing between looks).
fn compile_racing(
    p: &ResolvedPolicy,
    kind_of: &dyn Fn(&Path) -> PathKind,
    is_empty_dir: &dyn Fn(&Path) -> bool,
) -> BwrapPlan {
    let features = BwrapFeatures::assumed();
    compile(&BwrapInput {
        policy: p,
        deny_matches: &[],
        features: &features,
        seccomp_program: None,
        kind_of,
        is_empty_dir,
        read_link: &|_| None,
        best_effort: false,
    })
    .expect("compiles")
}
