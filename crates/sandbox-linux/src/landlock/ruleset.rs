//! Compiles a [`ResolvedPolicy`] into a [`RulesetPlan`]: which access rights the ruleset
//! handles for the negotiated ABI, and which rights each path grants. Pure: builds on every
//! OS; the launcher turns the plan into a kernel ruleset.
//!
//! Landlock only adds rights along a path (a deeper rule cannot take away what an ancestor
//! grants), so deny rules and protected subpaths are left to the mount plan.

use sandbox_core::resolve::STANDARD_DEVICES;
use sandbox_core::{Access, NetworkPolicy, ResolvedPolicy, UnixSockets};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Filesystem access rights (`LANDLOCK_ACCESS_FS_*`), with the ABI that introduced each.
pub const FS_RIGHTS: [(u64, &str, u32); 17] = [
    (1 << 0, "execute", 1),
    (1 << 1, "write_file", 1),
    (1 << 2, "read_file", 1),
    (1 << 3, "read_dir", 1),
    (1 << 4, "remove_dir", 1),
    (1 << 5, "remove_file", 1),
    (1 << 6, "make_char", 1),
    (1 << 7, "make_dir", 1),
    (1 << 8, "make_reg", 1),
    (1 << 9, "make_sock", 1),
    (1 << 10, "make_fifo", 1),
    (1 << 11, "make_block", 1),
    (1 << 12, "make_sym", 1),
    (1 << 13, "refer", 2),
    (1 << 14, "truncate", 3),
    (1 << 15, "ioctl_dev", 5),
    (1 << 16, "resolve_unix", 9),
];
/// Network rights (`LANDLOCK_ACCESS_NET_*`).
pub const NET_RIGHTS: [(u64, &str, u32); 2] = [(1 << 0, "bind_tcp", 4), (1 << 1, "connect_tcp", 4)];
/// IPC scopes (`LANDLOCK_SCOPE_*`).
pub const SCOPES: [(u64, &str, u32); 2] =
    [(1 << 0, "abstract_unix_socket", 6), (1 << 1, "signal", 6)];

/// The rights that only make sense on directories; a rule on a file must leave them out.
pub const DIR_ONLY: u64 = (1 << 3) | (1 << 4) | (1 << 5) | ((1 << 13) - (1 << 6)) | (1 << 13);

const EXECUTE: u64 = 1 << 0;
const WRITE_FILE: u64 = 1 << 1;
const READ_FILE: u64 = 1 << 2;
const READ_DIR: u64 = 1 << 3;
const TRUNCATE: u64 = 1 << 14;
const IOCTL_DEV: u64 = 1 << 15;
const MAKE_CHAR: u64 = 1 << 6;
const MAKE_BLOCK: u64 = 1 << 11;
/// `LANDLOCK_ACCESS_FS_RESOLVE_UNIX` (ABI 9): connect and send to a pathname unix socket
/// made outside the domain. Granted only where the policy allows host sockets; sockets the
/// command binds itself are always reachable.
const RESOLVE_UNIX: u64 = 1 << 16;

/// The highest ABI this code knows; newer kernels are used at this level. (ABI 8 adds only
/// a flag this code does not use.)
pub const MAX_KNOWN_ABI: u32 = 9;

/// A set of rights of one kind, printed as names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rights {
    pub bits: u64,
    table: &'static [(u64, &'static str, u32)],
}

impl Rights {
    fn all(table: &'static [(u64, &'static str, u32)], abi: u32) -> Rights {
        let bits = table
            .iter()
            .filter(|(_, _, since)| *since <= abi)
            .fold(0, |acc, (b, _, _)| acc | b);
        Rights { bits, table }
    }

    fn fs(bits: u64) -> Rights {
        Rights {
            bits,
            table: &FS_RIGHTS,
        }
    }

    /// The names of the rights in this set, in bit order.
    pub fn names(&self) -> Vec<&'static str> {
        self.table
            .iter()
            .filter(|(b, _, _)| self.bits & b != 0)
            .map(|(_, n, _)| *n)
            .collect()
    }
}

impl Serialize for Rights {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(s)
    }
}

/// Rights granted beneath one path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PathRule {
    pub path: PathBuf,
    pub access: Rights,
    /// Where the rule came from (policy rule origin, `standard device`, `terminal`).
    pub why: String,
}

/// The ruleset to build: handled rights, path rules, scopes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RulesetPlan {
    /// ABI the ruleset is built for (the kernel's, capped at [`MAX_KNOWN_ABI`]).
    pub abi: u32,
    /// Filesystem rights the ruleset restricts (everything this ABI knows).
    pub handled_fs: Rights,
    /// TCP rights restricted with no port allowed (network off, ABI ≥ 4), else empty.
    pub handled_net: Rights,
    /// Scopes (ABI ≥ 6): signals and abstract unix sockets stay inside the sandbox.
    pub scoped: Rights,
    pub rules: Vec<PathRule>,
}

/// Read and execute.
fn read_rights() -> u64 {
    EXECUTE | READ_FILE | READ_DIR
}

/// Compiles `policy` for Landlock `abi`. `terminals` are the terminal devices of the caller's
/// stdio (opened by path, e.g. `/dev/pts/3`), which stay usable like `/dev/tty`.
pub fn compile(policy: &ResolvedPolicy, abi: u32, terminals: &[PathBuf]) -> RulesetPlan {
    let abi = abi.min(MAX_KNOWN_ABI);
    let handled_fs = Rights::all(&FS_RIGHTS, abi);
    // loopback/proxy: the command's own network namespace (only loopback) is the boundary.
    let handled_net = if matches!(
        policy.network,
        NetworkPolicy::Full | NetworkPolicy::Loopback | NetworkPolicy::Proxy { .. }
    ) {
        Rights {
            bits: 0,
            table: &NET_RIGHTS,
        }
    } else {
        Rights::all(&NET_RIGHTS, abi)
    };
    let scoped = Rights::all(&SCOPES, abi);

    let mut collected = Collected::default();
    let mut push = |path: &Path, bits: u64, why: String| {
        collected.add(path, bits & handled_fs.bits, why);
    };
    // Device nodes are never creatable: one made in a writable root would open the device.
    // Host sockets are reached only through the unix-socket rules below.
    let write = handled_fs.bits & !(MAKE_CHAR | MAKE_BLOCK | RESOLVE_UNIX);
    for rule in &policy.rules {
        let bits = match rule.access {
            Access::Read => read_rights(),
            Access::Write => write,
            Access::Deny => continue,
        };
        push(
            &rule.path,
            bits,
            format!("{} rule ({})", rule.access.name(), rule.origin),
        );
    }
    for root in &policy.writable_roots {
        push(&root.path, write, "writable root".into());
    }
    let device = READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV;
    for dev in STANDARD_DEVICES {
        push(Path::new(dev), device, "standard device".into());
    }
    for tty in terminals {
        push(tty, device, "terminal of the caller".into());
    }
    for (path, why) in unix_socket_rules(policy) {
        push(&path, RESOLVE_UNIX, why);
    }
    let mut rules = collected.rules;
    rules.sort_by(|a, b| a.path.cmp(&b.path));
    RulesetPlan {
        abi,
        handled_fs,
        handled_net,
        scoped,
        rules,
    }
}

/// Where host unix sockets may be reached (the `resolve_unix` grants, on ABI ≥ 9): `/` for
/// `unix_sockets = "all"`, else each allowed path the oracle lets the command connect to.
pub fn unix_socket_rules(policy: &ResolvedPolicy) -> Vec<(PathBuf, String)> {
    match &policy.unix_sockets {
        UnixSockets::None => Vec::new(),
        UnixSockets::All => vec![(PathBuf::from("/"), "unix_sockets = \"all\"".into())],
        UnixSockets::Paths(paths) => paths
            .iter()
            .filter(|p| policy.decide_connect_canonical(p).allowed)
            .map(|p| (p.clone(), "allowed unix socket".into()))
            .collect(),
    }
}

/// Path rules as they are gathered: one per path, a repeated path adding its rights to the
/// first rule for it (whose `why` stays).
#[derive(Default)]
struct Collected {
    rules: Vec<PathRule>,
    /// Where each path's rule is in `rules`, so a repeat merges without a scan of them.
    at: BTreeMap<PathBuf, usize>,
}

impl Collected {
    fn add(&mut self, path: &Path, bits: u64, why: String) {
        if let Some(&i) = self.at.get(path) {
            self.rules[i].access.bits |= bits;
        } else {
            self.at.insert(path.to_path_buf(), self.rules.len());
            self.rules.push(PathRule {
                path: path.to_path_buf(),
                access: Rights::fs(bits),
                why,
            });
        }
    }
}

/// Rights on a private tmpfs the sandbox gets for itself (`/dev/shm`): everything but
/// device nodes.
pub fn private_tmpfs_rights(plan: &RulesetPlan) -> u64 {
    plan.handled_fs.bits & !(MAKE_CHAR | MAKE_BLOCK)
}

/// For a run without a private `/dev` (no mount namespace): a rule on `/` would grant the
/// whole host `/dev` (the user's other terminals; as root consoles and disks). The rule on `/`
/// keeps only `read_dir`, and its rights go to each entry of `/` (`children`, read from the
/// host) except `/dev`, where only the device rules (standard devices, the caller's terminal)
/// grant anything. Entries made in `/` after the launch are not covered (stricter).
pub fn keep_out_of_host_dev(plan: &mut RulesetPlan, children: &[PathBuf]) {
    let Some(i) = plan.rules.iter().position(|r| r.path == Path::new("/")) else {
        return;
    };
    let root = plan.rules.remove(i);
    let mut collected = Collected::default();
    for r in plan.rules.drain(..) {
        collected.add(&r.path, r.access.bits, r.why);
    }
    for c in children {
        if c != Path::new("/dev") {
            collected.add(
                c,
                root.access.bits,
                format!("{} (an entry of /: /dev left out)", root.why),
            );
        }
    }
    collected.add(
        Path::new("/"),
        root.access.bits & READ_DIR,
        format!("{} (listing only: /dev left out)", root.why),
    );
    plan.rules = collected.rules;
    plan.rules.sort_by(|a, b| a.path.cmp(&b.path));
}

/// Rights on the sandbox's own `devpts` instance (its `ptmx` and the terminals the command
/// opens there): reading, writing and terminal ioctls.
pub fn devpts_rights(plan: &RulesetPlan) -> u64 {
    plan.handled_fs.bits & (READ_FILE | WRITE_FILE | READ_DIR | TRUNCATE | IOCTL_DEV)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Merging through the map gives the rules a scan for an equal path gives.
        #[test]
        fn collected_matches_scan(
            adds in prop::collection::vec(
                (prop::sample::select(vec!["/a", "/a/", "/a/./", "/a/b", "/b", "/", "a"]), 0..16u64),
                0..12,
            ),
        ) {
            let mut collected = Collected::default();
            let mut scanned: Vec<PathRule> = Vec::new();
            for (i, (path, bits)) in adds.iter().enumerate() {
                let (path, why) = (Path::new(path), format!("add {i}"));
                collected.add(path, *bits, why.clone());
                match scanned.iter_mut().find(|r| r.path == path) {
                    Some(r) => r.access.bits |= bits,
                    None => scanned.push(PathRule {
                        path: path.to_path_buf(),
                        access: Rights::fs(*bits),
                        why,
                    }),
                }
            }
            prop_assert_eq!(collected.rules, scanned);
        }
    }

    #[test]
    fn host_dev_is_left_out_of_a_rule_on_root() {
        let rule = |p: &str, bits: u64| PathRule {
            path: p.into(),
            access: Rights::fs(bits),
            why: "w".into(),
        };
        let read = read_rights();
        let mut plan = RulesetPlan {
            abi: 6,
            handled_fs: Rights::all(&FS_RIGHTS, 6),
            handled_net: Rights::all(&NET_RIGHTS, 6),
            scoped: Rights::all(&SCOPES, 6),
            rules: vec![
                rule("/", read),
                rule("/dev/null", WRITE_FILE),
                rule("/tmp", WRITE_FILE),
            ],
        };
        let children: Vec<PathBuf> = ["/dev", "/tmp", "/usr"].iter().map(PathBuf::from).collect();
        keep_out_of_host_dev(&mut plan, &children);
        let got: Vec<(String, u64)> = plan
            .rules
            .iter()
            .map(|r| (r.path.display().to_string(), r.access.bits))
            .collect();
        assert_eq!(
            got,
            [
                ("/".into(), READ_DIR),
                ("/dev/null".into(), WRITE_FILE),
                ("/tmp".into(), WRITE_FILE | read),
                ("/usr".into(), read),
            ]
        );
    }

    #[test]
    fn dir_only_rights_are_the_directory_rights() {
        let names = Rights::fs(DIR_ONLY).names();
        assert_eq!(
            names,
            [
                "read_dir",
                "remove_dir",
                "remove_file",
                "make_char",
                "make_dir",
                "make_reg",
                "make_sock",
                "make_fifo",
                "make_block",
                "make_sym",
                "refer"
            ]
        );
    }

    #[test]
    fn abi_levels_add_rights() {
        assert_eq!(Rights::all(&FS_RIGHTS, 1).bits, (1 << 13) - 1);
        assert_eq!(Rights::all(&FS_RIGHTS, 2).bits, (1 << 14) - 1);
        assert_eq!(Rights::all(&FS_RIGHTS, 4).bits, (1 << 15) - 1);
        assert_eq!(Rights::all(&FS_RIGHTS, 7).bits, (1 << 16) - 1);
        assert_eq!(Rights::all(&FS_RIGHTS, 8).bits, (1 << 16) - 1);
        assert_eq!(Rights::all(&FS_RIGHTS, 9).bits, (1 << 17) - 1);
        assert_eq!(Rights::all(&NET_RIGHTS, 3).bits, 0);
        assert_eq!(Rights::all(&SCOPES, 5).bits, 0);
        assert_eq!(Rights::all(&SCOPES, 6).bits, 3);
    }
}

#[cfg(test)]
mod resolve_unix_tests {
    use super::*;
    use sandbox_core::{resolve, Policy, Preset, ResolveEnv, TargetOs};

    fn policy(unix: UnixSockets) -> ResolvedPolicy {
        let mut p = Policy::preset(Preset::WorkspaceWrite);
        p.unix_sockets = unix;
        let env = ResolveEnv {
            cwd: "/tmp".into(),
            tmpdir: None,
            home: None,
            target: TargetOs::Linux,
        };
        resolve(&p, &env).unwrap()
    }

    fn granted(plan: &RulesetPlan) -> Vec<&Path> {
        plan.rules
            .iter()
            .filter(|r| r.access.bits & RESOLVE_UNIX != 0)
            .map(|r| r.path.as_path())
            .collect()
    }

    /// Below ABI 9 the right is neither handled nor granted: the ruleset stays valid there.
    #[test]
    fn resolve_unix_is_off_below_abi_9() {
        for unix in [UnixSockets::None, UnixSockets::All] {
            for abi in 1..=8 {
                let plan = compile(&policy(unix.clone()), abi, &[]);
                assert_eq!(plan.handled_fs.bits & RESOLVE_UNIX, 0, "abi {abi}");
                assert!(granted(&plan).is_empty(), "abi {abi}");
            }
        }
    }

    /// At ABI 9 it is handled; the default grants it nowhere (writable roots included), a
    /// list grants exactly the listed sockets, and "all" grants it from `/`.
    #[test]
    fn resolve_unix_rules_follow_the_allowlist() {
        let plan = compile(&policy(UnixSockets::None), 9, &[]);
        assert_ne!(plan.handled_fs.bits & RESOLVE_UNIX, 0);
        assert!(granted(&plan).is_empty());
        assert!(plan.handled_fs.names().contains(&"resolve_unix"));

        let sock = PathBuf::from("/tmp/agent.sock");
        let plan = compile(&policy(UnixSockets::Paths(vec![sock.clone()])), 9, &[]);
        assert_eq!(granted(&plan), [sock.as_path()]);
        let rule = plan.rules.iter().find(|r| r.path == sock).unwrap();
        // /tmp is a writable root; the socket's own rule carries resolve_unix, the root's not.
        let tmp = plan
            .rules
            .iter()
            .find(|r| r.path == Path::new("/tmp"))
            .unwrap();
        assert_eq!(tmp.access.bits & RESOLVE_UNIX, 0);
        assert_ne!(rule.access.bits & RESOLVE_UNIX, 0);

        let plan = compile(&policy(UnixSockets::All), 9, &[]);
        assert_eq!(granted(&plan), [Path::new("/")]);
    }

    /// resolve_unix is a file right (a rule on the socket file itself keeps it).
    #[test]
    fn resolve_unix_is_not_a_directory_only_right() {
        assert_eq!(DIR_ONLY & RESOLVE_UNIX, 0);
    }
}
