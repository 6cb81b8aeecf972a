//! Pure tests of the Landlock backend's compilers: a committed golden plan, properties
//! against the core oracle, and the seccomp program run through a small BPF interpreter.
#![cfg(target_os = "linux")]

use proptest::prelude::*;
use sandbox_core::{
    Access, NetworkPolicy, Op, PathKind, Protected, ResolvedPolicy, Rule, TargetOs, UnixSockets,
    WritableRoot,
};
use sandbox_linux::host::probe::Capabilities;
use sandbox_linux::landlock::mountns::{self, MountStep};
use sandbox_linux::landlock::ruleset::{self, RulesetPlan};
use sandbox_linux::seccomp::{self, sock_filter};
use sandbox_linux::Options;
use std::path::{Path, PathBuf};

const WS: &str = "/nonexistent-sbx-ws";

fn rule(path: &str, access: Access) -> Rule {
    Rule {
        path: path.into(),
        access,
        origin: "preset workspace-write".into(),
    }
}

fn protected(path: &str, kind: PathKind, reason: &str) -> Protected {
    Protected {
        path: path.into(),
        kind,
        reason: reason.into(),
    }
}

/// workspace-write for a workspace with a `.git` directory, written out by hand so the
/// test does not depend on the host's filesystem.
fn workspace_write() -> ResolvedPolicy {
    ResolvedPolicy {
        description: "workspace-write".into(),
        target: TargetOs::Linux,
        unrestricted: false,
        cwd: WS.into(),
        rules: vec![
            rule("/", Access::Read),
            rule("/tmp", Access::Write),
            rule(WS, Access::Write),
        ],
        deny_globs: vec![],
        writable_roots: vec![
            WritableRoot {
                path: "/tmp".into(),
                protected: vec![],
            },
            WritableRoot {
                path: WS.into(),
                protected: vec![
                    protected(&format!("{WS}/.agents"), PathKind::Missing, ".agents"),
                    protected(&format!("{WS}/.codex"), PathKind::Dir, ".codex"),
                    protected(&format!("{WS}/.git"), PathKind::Dir, ".git"),
                ],
            },
        ],
        minimal: false,
        network: NetworkPolicy::Off,
        unix_sockets: UnixSockets::All,
        glob_scan_max_depth: None,
        git: Default::default(),
        warnings: vec![],
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn golden_workspace_write_plan() {
    let plan = sandbox_linux::compile(
        &workspace_write(),
        &Capabilities::full(7),
        &best_effort(),
        &[PathBuf::from("/dev/pts/0")],
    )
    .unwrap();
    let json = serde_json::to_string_pretty(&plan).unwrap() + "\n";
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/workspace_write.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &json).unwrap();
    }
    let want = std::fs::read_to_string(&golden).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        json, want,
        "plan changed; review and rerun with UPDATE_GOLDEN=1"
    );
}

#[test]
fn strict_mode_names_the_gap_and_the_way_out() {
    let err = sandbox_linux::compile(
        &workspace_write(),
        &Capabilities::full(7),
        &Options::default(),
        &[],
    )
    .unwrap_err();
    // The workspace does not exist, so the missing `.agents` cannot get a placeholder.
    let msg = err.to_string();
    assert!(msg.contains("filesystem.protected_create"), "{msg}");
    assert!(err.hint().unwrap().contains("--best-effort"));

    let mut caps = Capabilities::full(5);
    caps.mount_namespace = false;
    let err = sandbox_linux::compile(&workspace_write(), &caps, &Options::default(), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("process.signal_scope"), "{err}");
    let plan = sandbox_linux::compile(&workspace_write(), &caps, &best_effort(), &[]).unwrap();
    let gaps: Vec<&str> = plan
        .degradations
        .iter()
        .map(|d| d.capability.key())
        .collect();
    assert_eq!(
        gaps,
        [
            "process.signal_scope",
            "filesystem.protected_subpaths",
            "filesystem.metadata"
        ]
    );
    assert!(plan.mounts.is_none());

    let mut caps = Capabilities::full(7);
    caps.landlock_abi = None;
    let err = sandbox_linux::compile(&workspace_write(), &caps, &best_effort(), &[]).unwrap_err();
    assert!(err.to_string().contains("Landlock"), "{err}");
}

#[test]
fn proxy_network_gets_a_private_namespace_or_is_refused() {
    let mut p = workspace_write();
    p.network = NetworkPolicy::Proxy {
        allow: vec!["example.com".into()],
        deny: vec![],
        allow_local_binding: false,
    };
    p.writable_roots[1].protected.remove(0);
    let plan =
        sandbox_linux::compile(&p, &Capabilities::full(7), &Options::default(), &[]).unwrap();
    assert_eq!(
        plan.private_network,
        Some(sandbox_linux::netns::PrivateNetwork {
            proxy_port: Some(sandbox_linux::netns::PROXY_PORT)
        })
    );
    // The namespace is the boundary: Landlock does not also refuse TCP on its loopback.
    assert_eq!(plan.landlock.as_ref().unwrap().handled_net.bits, 0);
    assert!(plan.degradations.is_empty());
    let mut no_ns = Capabilities::full(7);
    no_ns.mount_namespace = false;
    let err = sandbox_linux::compile(&p, &no_ns, &Options::default(), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("network.allowlist_egress"), "{err}");
    let plan = sandbox_linux::compile(&p, &no_ns, &best_effort(), &[]).unwrap();
    assert!(plan
        .degradations
        .iter()
        .any(|d| d.capability.key() == "network.allowlist_egress"));
    assert_eq!(plan.private_network, None);
    // Degraded to "off", never to "full".
    assert!(plan.landlock.unwrap().handled_net.bits != 0);
}

// ---- properties against the oracle ----

fn grants(plan: &RulesetPlan, path: &Path, bit: &str) -> bool {
    plan.rules
        .iter()
        .any(|r| path.starts_with(&r.path) && r.access.names().contains(&bit))
}

fn protected_by_mount(steps: &[MountStep], path: &Path) -> bool {
    steps.iter().any(|s| match s {
        MountStep::Protect { path: p, .. } | MountStep::Placeholder { path: p, .. } => {
            path.starts_with(p)
        }
        _ => false,
    })
}

fn arb_path() -> impl Strategy<Value = PathBuf> {
    let base = prop::sample::select(vec![
        "/",
        "/etc",
        "/tmp",
        "/home/u",
        WS,
        "/nonexistent-sbx-ws/.git",
        "/nonexistent-sbx-ws/.codex",
        "/nonexistent-sbx-ws/src",
        "/dev",
    ]);
    let tail = prop::collection::vec(
        prop::sample::select(vec!["a", ".git", "x.txt", "hooks"]),
        0..3,
    );
    (base, tail).prop_map(|(b, t)| {
        let mut p = PathBuf::from(b);
        for c in t {
            p.push(c);
        }
        p
    })
}

proptest! {
    /// Landlock + mount plan together allow exactly what the oracle allows, for reads and
    /// writes, on every path (standard devices included).
    #[test]
    fn plan_agrees_with_oracle(path in arb_path()) {
        let policy = workspace_write();
        let ll = ruleset::compile(&policy, 7, &[]);
        let mounts = mountns::compile(&policy, &[]);
        let read = grants(&ll, &path, "read_file");
        prop_assert_eq!(read, policy.decide_canonical(&path, Op::Read).allowed, "read {:?}", path);
        let write = grants(&ll, &path, "write_file") && !protected_by_mount(&mounts.steps, &path);
        let oracle = policy.decide_canonical(&path, Op::Write).allowed;
        // A missing protected path without a placeholder is a declared gap, not a mismatch.
        let declared_gap = path.starts_with(format!("{WS}/.agents"));
        if !declared_gap {
            prop_assert_eq!(write, oracle, "write {:?}", path);
        }
    }
}

#[test]
fn read_only_grants_no_write_anywhere_but_devices() {
    let mut p = workspace_write();
    p.rules.truncate(1);
    p.writable_roots.clear();
    let ll = ruleset::compile(&p, 7, &[]);
    for r in &ll.rules {
        if r.access.names().contains(&"write_file") {
            assert!(r.path.starts_with("/dev"), "{:?} writable", r.path);
        }
    }
}

// ---- the seccomp program, run through a classic-BPF interpreter ----

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_EPERM: u32 = 0x0005_0000 | 1;

fn host_arch() -> u32 {
    if cfg!(target_arch = "x86_64") {
        AUDIT_ARCH_X86_64
    } else {
        AUDIT_ARCH_AARCH64
    }
}

/// Runs `prog` on a `struct seccomp_data` and returns the action.
fn eval(prog: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = Vec::new();
    data.extend_from_slice(&nr.to_ne_bytes());
    data.extend_from_slice(&arch.to_ne_bytes());
    data.extend_from_slice(&0u64.to_ne_bytes());
    for a in args {
        data.extend_from_slice(&a.to_ne_bytes());
    }
    let (mut acc, mut pc) = (0u32, 0usize);
    loop {
        let ins = &prog[pc];
        pc += 1;
        match ins.code {
            0x20 => {
                let o = ins.k as usize;
                acc = u32::from_ne_bytes(data[o..o + 4].try_into().unwrap());
            }
            0x54 => acc &= ins.k,
            0x05 => pc += ins.k as usize,
            0x15 | 0x25 | 0x35 | 0x45 => {
                let t = match ins.code {
                    0x15 => acc == ins.k,
                    0x25 => acc > ins.k,
                    0x35 => acc >= ins.k,
                    _ => acc & ins.k != 0,
                };
                pc += if t { ins.jt } else { ins.jf } as usize;
            }
            0x06 => return ins.k,
            c => panic!("instruction {c:#x} not modelled"),
        }
    }
}

fn policy_with(network: NetworkPolicy, unix: UnixSockets) -> ResolvedPolicy {
    let mut p = workspace_write();
    p.network = network;
    p.unix_sockets = unix;
    p
}

#[test]
fn seccomp_network_off_allows_only_unix_sockets() {
    let plan = seccomp::compile(&policy_with(NetworkPolicy::Off, UnixSockets::All)).unwrap();
    let prog = plan.program();
    let a = host_arch();
    let sock = libc::SYS_socket as u32;
    assert_eq!(
        eval(prog, a, sock, [libc::AF_UNIX as u64, 1, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(
        eval(prog, a, sock, [libc::AF_INET as u64, 1, 0, 0, 0, 0]),
        RET_EPERM
    );
    assert_eq!(
        eval(prog, a, sock, [libc::AF_INET6 as u64, 2, 0, 0, 0, 0]),
        RET_EPERM
    );
    assert_eq!(
        eval(prog, a, sock, [libc::AF_NETLINK as u64, 2, 0, 0, 0, 0]),
        RET_EPERM
    );
    // Garbage in the upper half of an int argument does not matter to the kernel.
    assert_eq!(
        eval(
            prog,
            a,
            sock,
            [(1 << 32) | libc::AF_UNIX as u64, 1, 0, 0, 0, 0]
        ),
        RET_ALLOW
    );
    for nr in [
        libc::SYS_ptrace,
        libc::SYS_io_uring_setup,
        libc::SYS_process_vm_readv,
    ] {
        assert_eq!(eval(prog, a, nr as u32, [0; 6]), RET_EPERM);
    }
    assert_eq!(
        eval(prog, a, libc::SYS_socketpair as u32, [1, 1, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(eval(prog, a, libc::SYS_read as u32, [0; 6]), RET_ALLOW);
    assert_eq!(plan.to_bytes().len(), prog.len() * 8);
}

#[test]
fn seccomp_wrong_arch_is_killed_and_x32_refused() {
    let plan = seccomp::compile(&policy_with(NetworkPolicy::Full, UnixSockets::All)).unwrap();
    let prog = plan.program();
    let other = if host_arch() == AUDIT_ARCH_X86_64 {
        AUDIT_ARCH_AARCH64
    } else {
        AUDIT_ARCH_X86_64
    };
    assert_eq!(eval(prog, other, 0, [0; 6]), 0x8000_0000, "kill process");
    if cfg!(target_arch = "x86_64") {
        assert!(plan.summary.x32_refused);
        assert_eq!(eval(prog, host_arch(), 0x4000_0000 | 41, [0; 6]), RET_EPERM);
    }
    // Network full: sockets of every family.
    let sock = libc::SYS_socket as u32;
    assert_eq!(
        eval(
            prog,
            host_arch(),
            sock,
            [libc::AF_INET as u64, 1, 0, 0, 0, 0]
        ),
        RET_ALLOW
    );
    assert_eq!(
        eval(prog, host_arch(), libc::SYS_ptrace as u32, [0; 6]),
        RET_EPERM
    );
}

#[test]
fn seccomp_no_unix_sockets_keeps_socketpair_and_send() {
    // The fallback where no mechanism can close host sockets.
    let plan =
        seccomp::compile_with(&policy_with(NetworkPolicy::Off, UnixSockets::None), true).unwrap();
    let prog = plan.program();
    let a = host_arch();
    let sock = libc::SYS_socket as u32;
    assert_eq!(
        eval(prog, a, sock, [libc::AF_UNIX as u64, 1, 0, 0, 0, 0]),
        RET_EPERM
    );
    assert_eq!(
        eval(prog, a, libc::SYS_socketpair as u32, [1, 1, 0, 0, 0, 0]),
        RET_ALLOW
    );
    for nr in [
        libc::SYS_connect,
        libc::SYS_bind,
        libc::SYS_listen,
        libc::SYS_accept4,
        libc::SYS_sendmmsg,
    ] {
        assert_eq!(eval(prog, a, nr as u32, [3, 0, 0, 0, 0, 0]), RET_EPERM);
    }
    let sendto = libc::SYS_sendto as u32;
    // send() is sendto(fd, buf, len, flags, NULL, 0).
    assert_eq!(eval(prog, a, sendto, [3, 0x1000, 1, 0, 0, 0]), RET_ALLOW);
    assert_eq!(
        eval(prog, a, sendto, [3, 0x1000, 1, 0, 0x2000, 16]),
        RET_EPERM
    );
    assert_eq!(
        eval(prog, a, sendto, [3, 0x1000, 1, 0, 1 << 40, 16]),
        RET_EPERM
    );
    assert_eq!(
        eval(prog, a, libc::SYS_sendmsg as u32, [3, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(
        eval(prog, a, libc::SYS_recvfrom as u32, [3, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
}

/// Below a masked deny, the allowed paths directly under it (no rule between) are bound back
/// with their rule's access; deeper ones come along with them. A protected link is held.
#[test]
fn mount_plan_reexposes_allowed_paths_below_a_deny_and_holds_links() {
    let t = tempfile::tempdir().unwrap();
    let base = t.path().canonicalize().unwrap();
    for d in ["private/pub", "private/docs/gen", "private/gone"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    std::fs::write(base.join("private/key"), "k").unwrap();
    let b = base.to_str().unwrap();
    let mut p = workspace_write();
    p.rules = vec![
        rule("/", Access::Read),
        rule(b, Access::Write),
        rule(&format!("{b}/private"), Access::Deny),
        rule(&format!("{b}/private/pub"), Access::Write),
        rule(&format!("{b}/private/docs"), Access::Read),
        rule(&format!("{b}/private/docs/gen"), Access::Write),
        rule(&format!("{b}/private/key"), Access::Read),
        rule(&format!("{b}/private/gone"), Access::Write),
        rule(&format!("{b}/private/gone"), Access::Deny),
        rule(&format!("{b}/private/missing"), Access::Write),
    ];
    p.writable_roots = vec![WritableRoot {
        path: base.clone(),
        protected: vec![protected(&format!("{b}/.codex"), PathKind::Link, ".codex")],
    }];
    let steps = mountns::compile(&p, &[]).steps;
    let re: Vec<(PathBuf, bool, bool)> = steps
        .iter()
        .filter_map(|s| match s {
            MountStep::Reexpose {
                path,
                mask,
                dir,
                read_only,
            } => {
                assert_eq!(mask, &base.join("private"));
                Some((path.clone(), *dir, *read_only))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        re,
        vec![
            (base.join("private/docs"), true, true),
            (base.join("private/key"), false, true),
            (base.join("private/pub"), true, false),
        ]
    );
    // Each comes right after its mask.
    let mask_at = steps
        .iter()
        .position(|s| matches!(s, MountStep::MaskDir { path } if path == &base.join("private")))
        .unwrap();
    assert!(matches!(steps[mask_at + 1], MountStep::Reexpose { .. }));
    assert!(steps.contains(&MountStep::HoldLink {
        path: base.join(".codex")
    }));
    assert!(!steps.iter().any(
        |s| matches!(s, MountStep::Protect { path, .. } | MountStep::Placeholder { path, .. } if path == &base.join(".codex"))
    ));
}

/// The default (no host socket) is enforced by the unix-socket mechanism, not by refusing
/// unix sockets: the command's own servers keep working.
#[test]
fn seccomp_default_unix_sockets_allows_unix_sockets() {
    let plan = seccomp::compile(&policy_with(NetworkPolicy::Off, UnixSockets::None)).unwrap();
    let (prog, a) = (plan.program(), host_arch());
    let sock = libc::SYS_socket as u32;
    assert_eq!(
        eval(prog, a, sock, [libc::AF_UNIX as u64, 1, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(
        eval(prog, a, libc::SYS_connect as u32, [3, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    // With full network, the fallback refuses unix sockets (only socketpair stays).
    let plan =
        seccomp::compile_with(&policy_with(NetworkPolicy::Full, UnixSockets::None), true).unwrap();
    let prog = plan.program();
    assert_eq!(
        eval(prog, a, sock, [libc::AF_UNIX as u64, 1, 0, 0, 0, 0]),
        RET_EPERM
    );
    assert_eq!(
        eval(prog, a, sock, [libc::AF_INET as u64, 1, 0, 0, 0, 0]),
        RET_ALLOW
    );
}

/// Options that accept documented degradations.
fn best_effort() -> Options {
    let mut o = Options::default();
    o.best_effort = true;
    o
}
