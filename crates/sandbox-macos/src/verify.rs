//! Offline verification: evaluate a compiled profile with [`crate::sbpl`] on generated paths
//! and operations, and compare every answer with the core oracle
//! ([`ResolvedPolicy::decide_canonical`]).

use crate::casefold::same_name;
use crate::profile::{rename_points, SeatbeltPlan};
use crate::sbpl::eval::{Endpoint, EvalError, IpQuery, Proto, Verdict};
use crate::sbpl::{parse, Evaluator, ReadError};
use sandbox_core::{NetworkPolicy, Op, ResolvedPolicy};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error("the policy is danger-full-access: there is no profile to verify")]
    Unrestricted,
}

/// The Seatbelt file operations checked, and the oracle operation each corresponds to.
/// `file-write-unlink` (delete, or rename away) is checked against [`unlink_expected`].
pub const OPS: [(&str, Op); 5] = [
    ("file-read-data", Op::Read),
    ("file-write-data", Op::Write),
    ("file-write-create", Op::Create),
    ("file-write-unlink", Op::Write),
    ("process-exec", Op::Exec),
];

/// The unix-socket checks: connecting (or sending) to a host socket, and binding one.
pub const SOCKET_OPS: [&str; 2] = ["network-outbound", "network-bind"];

/// Where the profile differs from the oracle on purpose, as `(path matcher, operations, why)`.
/// A path matcher ending in `/` covers every path below it.
pub const KNOWN_DIFFERENCES: [(&[&str], &[&str], &str); 4] = [
    (
        &["/dev/ptmx"],
        &["file-read-data", "file-write-data"],
        "extra grant: the pseudo-terminal master, needed to create a pty (script, expect, Python pty)",
    ),
    (
        &sandbox_core::resolve::STANDARD_DEVICES,
        &["file-write-unlink", "rename", "network-bind", "network-outbound"],
        "narrower: the standard devices are writable but may not be deleted, bound over or connected to (they are not sockets)",
    ),
    (
        &["/dev/fd/", "/dev/stdin", "/dev/stdout", "/dev/stderr"],
        &["file-read-data", "file-write-data"],
        "extra grant: reopening a descriptor the command already holds (>/dev/stderr, <(…))",
    ),
    (
        &[crate::unix_sockets::MDNS_RESPONDER],
        &["network-outbound"],
        "extra grant with the network on: name resolution goes through mDNSResponder's socket",
    ),
];

/// Why the profile differs from the oracle for `op` on `path`, if it does so on purpose.
pub fn known_difference(path: &str, op: &str) -> Option<&'static str> {
    let hit = |m: &&str| match m.strip_suffix('/') {
        Some(dir) => path.strip_prefix(dir).is_some_and(|r| r.starts_with('/')),
        None => path == *m,
    };
    KNOWN_DIFFERENCES
        .iter()
        .find(|(ps, ops, _)| ops.contains(&op) && ps.iter().any(hit))
        .map(|(_, _, why)| *why)
}

/// The rename model: deleting or renaming `path` away is allowed when writing it is, and no
/// point a rename must not carry away ([`rename_points`]: a path the oracle refuses to
/// write, or a deny glob's fixed directory) lies at or below it. Seatbelt sees a rename as
/// a `file-write-unlink` of the old name; the oracle decides one path at a time, so moving
/// a directory would otherwise carry its protected contents out of their rules' reach.
pub fn unlink_expected(policy: &ResolvedPolicy, points: &[PathBuf], path: &Path) -> bool {
    policy.allows_canonical(path, Op::Write) && !points.iter().any(|x| x.starts_with(path))
}

/// The oracle for connecting or sending to the host's unix socket at `path`: allowed when
/// `unix_sockets` grants it (`all`, or at or below a listed path) and the command may read
/// the path (a hidden socket cannot be reached).
// The core's `ResolvedPolicy::decide_connect_canonical` (unix-socket work, not yet on this
// branch's base) answers the same; switch to it once both are merged.
pub fn connect_expected(policy: &ResolvedPolicy, path: &Path) -> bool {
    let granted = match &policy.unix_sockets {
        sandbox_core::UnixSockets::All => true,
        sandbox_core::UnixSockets::Paths(ps) => ps.iter().any(|p| path.starts_with(p)),
        sandbox_core::UnixSockets::None => false,
    };
    granted && policy.allows_canonical(path, Op::Read)
}

/// The IP socket operations checked: connecting or sending, binding, accepting.
pub const IP_OPS: [&str; 3] = ["network-outbound", "network-bind", "network-inbound"];

/// The oracle for IP traffic: what the network mode lets the command do, as Seatbelt can
/// say it (its `localhost` is the host's loopback). `off`: nothing; `loopback`: bind, accept
/// and connect on the loopback only; `proxy`: TCP connections to the proxy's port on the
/// loopback only (plus the loopback with `allow_local_binding`); `full`: everything.
/// `proxy_port` is the port the launcher serves the proxy on.
pub fn ip_expected(
    network: &NetworkPolicy,
    proxy_port: Option<u16>,
    op: &str,
    q: &IpQuery,
) -> (bool, String) {
    let outbound = op == "network-outbound";
    // The end the operation is about: the peer when connecting, the own end otherwise.
    let end = if outbound { q.remote } else { Some(q.local) };
    let on_loopback = end.is_some_and(|e| e.loopback);
    match network {
        NetworkPolicy::Off => (false, "network off".into()),
        NetworkPolicy::Full => (true, "network full".into()),
        NetworkPolicy::Loopback => (on_loopback, "network loopback: the loopback only".into()),
        NetworkPolicy::Proxy {
            allow_local_binding,
            ..
        } => {
            let to_proxy = outbound
                && q.proto == Proto::Tcp
                && end.is_some_and(|e| e.loopback && Some(e.port) == proxy_port);
            let local = *allow_local_binding && on_loopback;
            (
                to_proxy || local,
                format!(
                    "network proxy: TCP to the proxy at localhost:{}{}",
                    proxy_port.map_or("?".into(), |p| p.to_string()),
                    if *allow_local_binding {
                        ", and the loopback (allow_local_binding)"
                    } else {
                        " only"
                    }
                ),
            )
        }
    }
}

/// The IP endpoints tried: well-known ports, the proxy's and its neighbours, on the loopback
/// and off it, over TCP and UDP.
pub fn sample_ip_queries(proxy_port: Option<u16>) -> Vec<(String, IpQuery, IpQuery)> {
    let mut ports: BTreeSet<u16> = [1, 22, 53, 80, 443, 3128, 8080, 65535].into();
    if let Some(p) = proxy_port {
        ports.extend([p, p.saturating_sub(1).max(1), p.saturating_add(1)]);
    }
    let mut out = Vec::new();
    for proto in [Proto::Tcp, Proto::Udp] {
        for loopback in [true, false] {
            for &port in &ports {
                let e = Endpoint { loopback, port };
                let shown = format!(
                    "{} {}:{port}",
                    if proto == Proto::Tcp { "tcp" } else { "udp" },
                    if loopback { "localhost" } else { "<internet>" }
                );
                out.push((shown, IpQuery::connect(proto, e), IpQuery::bind(proto, e)));
            }
        }
    }
    out
}

/// One disagreement between the profile and the oracle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub path: String,
    pub op: String,
    pub oracle: bool,
    pub oracle_rule: String,
    pub profile: bool,
    /// Line of the profile rule that decided (0: the default).
    pub profile_line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Number of (path, operation) decisions compared.
    pub checked: usize,
    pub mismatches: Vec<Mismatch>,
    /// Disagreements listed in [`KNOWN_DIFFERENCES`].
    pub known: Vec<Mismatch>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Names chosen to break naive profile writers and regex translators.
pub const HOSTILE_NAMES: [&str; 22] = [
    "\")(allow file-write* (subpath \"/\"))",
    "new\nline",
    "back\\slash",
    "a.b",
    "(paren)",
    "[br]",
    "star*",
    "q?",
    "dollar$",
    "caret^",
    "plus+",
    "pipe|",
    "{brace}",
    "sp ace",
    "ünï",
    ".env",
    "x.env",
    "a\"b",
    ";semi",
    "#hash",
    ".gitx",
    "tab\tx",
];

/// Evaluates `plan` for `policy` on generated paths and compares with the oracle.
pub fn verify(policy: &ResolvedPolicy, plan: &SeatbeltPlan) -> Result<VerifyReport, VerifyError> {
    if plan.unrestricted {
        return Err(VerifyError::Unrestricted);
    }
    let evaluator = Evaluator::new(&parse(&plan.profile)?, &plan.params)?;
    let mut report = VerifyReport {
        checked: 0,
        mismatches: Vec::new(),
        known: Vec::new(),
    };
    let points = rename_points(policy);
    let record = |report: &mut VerifyReport,
                  path: &str,
                  op: &str,
                  oracle: (bool, String),
                  verdict: Verdict| {
        report.checked += 1;
        if oracle.0 == verdict.allowed {
            return;
        }
        let m = Mismatch {
            path: path.to_string(),
            op: op.to_string(),
            oracle: oracle.0,
            oracle_rule: oracle.1,
            profile: verdict.allowed,
            profile_line: verdict.line,
        };
        if known_difference(path, op).is_some() {
            report.known.push(m);
        } else {
            report.mismatches.push(m);
        }
    };
    let samples = sample_paths(policy);
    for path in &samples {
        let p = Path::new(path);
        for (sb_op, op) in OPS {
            let oracle = if sb_op == "file-write-unlink" {
                let ok = unlink_expected(policy, &points, p);
                let why = if ok {
                    "writable, nothing protected below".to_string()
                } else {
                    format!(
                        "rename/delete: {}",
                        policy.decide_canonical(p, Op::Write).rule
                    )
                };
                (ok, why)
            } else {
                let d = policy.decide_canonical(p, op);
                (d.allowed, d.rule)
            };
            record(
                &mut report,
                path,
                sb_op,
                oracle,
                evaluator.decide(sb_op, path),
            );
        }
        // Renaming to a fresh sibling name: allowed when the old name may go (the rename
        // model above) and the new one may be created.
        if path != "/" {
            let to = format!("{path}.moved");
            let create = policy.decide_canonical(Path::new(&to), Op::Create);
            let ok = unlink_expected(policy, &points, p) && create.allowed;
            record(
                &mut report,
                path,
                "rename",
                (ok, format!("rename to {to}: {}", create.rule)),
                evaluator.rename(path, &to),
            );
        }
        // Unix sockets: connect against the connect oracle; bind needs the socket file to
        // be creatable, so it is checked together with file-write-create.
        let connect = connect_expected(policy, p);
        record(
            &mut report,
            path,
            "network-outbound",
            (connect, format!("unix socket {:?}", policy.unix_sockets)),
            evaluator.decide_unix_socket("network-outbound", path),
        );
        let create = policy.decide_canonical(p, Op::Create);
        let bind = evaluator.decide_unix_socket("network-bind", path);
        let create_v = evaluator.decide("file-write-create", path);
        record(
            &mut report,
            path,
            "network-bind",
            (create.allowed, create.rule),
            Verdict {
                allowed: bind.allowed && create_v.allowed,
                line: if bind.allowed {
                    create_v.line
                } else {
                    bind.line
                },
            },
        );
    }
    // IP: every operation on every sample endpoint against the network mode.
    for (shown, connect, bind) in sample_ip_queries(plan.proxy_port) {
        for op in IP_OPS {
            let q = if op == "network-outbound" {
                &connect
            } else {
                &bind
            };
            let oracle = ip_expected(&policy.network, plan.proxy_port, op, q);
            record(&mut report, &shown, op, oracle, evaluator.decide_ip(op, q));
        }
    }
    // Case variants of names the policy mentions, as a case-insensitive volume sees them:
    // a new name is checked in the caller's spelling, so creating or writing a variant must
    // never be allowed where the name it aliases is refused. (An existing object is
    // reported under its on-disk name, so only names being created are at stake; a variant
    // refused where the alias is allowed is narrower, not a hole, and is not counted.)
    // Deny globs match case-sensitively, in the core and on every backend, so they are left
    // out of this comparison; write exclusions (protected names, read-only and denied rules)
    // are what a variant must not get around.
    let aliases = Aliases::new(policy);
    let no_globs = ResolvedPolicy {
        deny_globs: Vec::new(),
        ..policy.clone()
    };
    for path in case_variants(policy) {
        let canonical = aliases.resolve(&path);
        for (sb_op, op) in [
            ("file-write-create", Op::Create),
            ("file-write-data", Op::Write),
        ] {
            let d = no_globs.decide_canonical(Path::new(&canonical), op);
            let v = evaluator.decide(sb_op, &path);
            report.checked += 1;
            if v.allowed && !d.allowed {
                report.mismatches.push(Mismatch {
                    path: path.clone(),
                    op: format!("{sb_op} (case variant of {canonical})"),
                    oracle: false,
                    oracle_rule: d.rule,
                    profile: true,
                    profile_line: v.line,
                });
            }
        }
    }
    Ok(report)
}

/// The names the policy mentions, so a path in any case can be mapped to the spelling the
/// policy uses (what a case-insensitive volume would open).
struct Aliases {
    /// (parent, name) for every component of every path the policy names.
    names: BTreeSet<(String, String)>,
}

impl Aliases {
    fn new(policy: &ResolvedPolicy) -> Aliases {
        let mut names = BTreeSet::new();
        for p in policy_paths(policy) {
            let mut parent = String::new();
            for c in p.components() {
                let std::path::Component::Normal(n) = c else {
                    continue;
                };
                let n = n.to_string_lossy().into_owned();
                names.insert((parent.clone(), n.clone()));
                parent = format!("{parent}/{n}");
            }
        }
        Aliases { names }
    }

    /// `path` with each component replaced by the policy's spelling of the same name.
    fn resolve(&self, path: &str) -> String {
        let mut out = String::new();
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            let known = self
                .names
                .range((out.clone(), String::new())..)
                .take_while(|(p, _)| *p == out)
                .find(|(_, n)| same_name(n, comp))
                .map(|(_, n)| n.clone());
            out = format!("{out}/{}", known.unwrap_or_else(|| comp.to_string()));
        }
        if out.is_empty() {
            "/".into()
        } else {
            out
        }
    }
}

/// Every path the policy names: rules, writable roots, protected paths.
fn policy_paths(policy: &ResolvedPolicy) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = policy.rules.iter().map(|r| r.path.clone()).collect();
    for w in &policy.writable_roots {
        v.push(w.path.clone());
        v.extend(w.protected.iter().map(|p| p.path.clone()));
    }
    v
}

/// Case variants of the part of each policy path below a writable root (all upper case,
/// and only the first letter swapped), with children.
pub fn case_variants(policy: &ResolvedPolicy) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in policy_paths(policy) {
        for w in &policy.writable_roots {
            let Ok(rel) = p.strip_prefix(&w.path) else {
                continue;
            };
            let (Some(root), Some(rel)) = (w.path.to_str(), rel.to_str()) else {
                continue;
            };
            if rel.is_empty() {
                continue;
            }
            let upper = rel.to_uppercase();
            let mut first = String::new();
            let mut swapped = false;
            for c in rel.chars() {
                if !swapped && c.is_alphabetic() {
                    swapped = true;
                    if c.is_uppercase() {
                        first.extend(c.to_lowercase());
                    } else {
                        first.extend(c.to_uppercase());
                    }
                } else {
                    first.push(c);
                }
            }
            for v in [upper, first] {
                if v == rel {
                    continue;
                }
                let v = join(root, &v);
                out.insert(join(&v, "child"));
                out.insert(join(&v, "hooks/pre-commit"));
                out.insert(v);
            }
        }
    }
    out.retain(|p| p.starts_with('/') && !p.contains("//"));
    out
}

fn join(base: &str, name: &str) -> String {
    if base == "/" {
        format!("/{name}")
    } else {
        format!("{base}/{name}")
    }
}

/// Paths around every place the policy mentions: each root itself, inside, outside, prefix
/// look-alikes, protected names (existing or not), deny-glob matches and near misses, hostile
/// names, and the devices.
pub fn sample_paths(policy: &ResolvedPolicy) -> BTreeSet<String> {
    let mut anchors: BTreeSet<PathBuf> = BTreeSet::new();
    anchors.insert("/".into());
    anchors.insert(policy.cwd.clone());
    for fixed in [
        "/private/tmp",
        "/private/etc/passwd",
        "/usr/bin/true",
        "/Users",
    ] {
        anchors.insert(fixed.into());
    }
    anchors.extend(policy.rules.iter().map(|r| r.path.clone()));
    for w in &policy.writable_roots {
        anchors.insert(w.path.clone());
        anchors.extend(w.protected.iter().map(|p| p.path.clone()));
    }
    anchors.extend(policy.deny_globs.iter().map(|g| g.static_prefix()));
    if let sandbox_core::UnixSockets::Paths(ps) = &policy.unix_sockets {
        anchors.extend(ps.iter().cloned());
    }

    let mut out = BTreeSet::new();
    for a in &anchors {
        let Some(a) = a.to_str() else { continue };
        out.insert(a.to_string());
        // Every ancestor: renaming any of them could carry the anchor away.
        for parent in Path::new(a).ancestors().skip(1).filter_map(|p| p.to_str()) {
            out.insert(parent.to_string());
        }
        if a != "/" {
            out.insert(format!("{a}x"));
            out.insert(format!("{a}.bak"));
        }
        for rel in [
            "child",
            "child/grand",
            ".git",
            ".git/config",
            ".git/hooks/pre-commit",
            ".codex",
            ".codex/config.toml",
            ".agents",
            ".agents/x",
            ".aws",
            ".aws/credentials",
            "sub/.git",
            "sub/.env",
        ] {
            out.insert(join(a, rel));
        }
        for h in HOSTILE_NAMES {
            out.insert(join(a, h));
            out.insert(join(&join(a, h), "inner"));
        }
    }
    for g in &policy.deny_globs {
        for sample in glob_samples(&g.pattern) {
            out.insert(format!("{sample}x"));
            out.insert(join(&sample, "child"));
            if let Some(parent) = Path::new(&sample).parent().and_then(|p| p.to_str()) {
                out.insert(parent.to_string());
            }
            out.insert(sample);
        }
    }
    for d in sandbox_core::resolve::STANDARD_DEVICES {
        out.insert(d.to_string());
    }
    for d in [
        "/dev/ptmx",
        "/dev/ttys000",
        "/dev/fd/1",
        "/dev/stdout",
        "/dev/stderr",
        "/dev",
        crate::unix_sockets::MDNS_RESPONDER,
    ] {
        out.insert(d.to_string());
    }
    out.retain(|p| p.starts_with('/') && !p.contains("//"));
    out
}

/// A few concrete paths a glob matches (and some it nearly matches): each `*` as empty, `a`
/// or a hostile name, each `**/` as zero, one or two directories, each class as a member.
pub fn glob_samples(pattern: &str) -> Vec<String> {
    let stars = ["", "a", "x.y", "n\nl", "(p)"];
    let globstars = ["", "d1/", "d1/d2/"];
    let mut v = Vec::new();
    for (k, star) in stars.iter().enumerate() {
        v.push(instantiate(
            pattern,
            star,
            globstars[k % globstars.len()],
            k,
        ));
    }
    v
}

fn instantiate(pattern: &str, star: &str, globstar: &str, alt: usize) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut s = String::new();
    let mut i = 0;
    // In `{a,b}`, keep alternative number `alt` modulo the count.
    let mut brace: Option<(usize, usize)> = None; // (current index, wanted)
    while i < chars.len() {
        let c = chars[i];
        let keep = !matches!(brace, Some((cur, want)) if cur != want);
        match c {
            '\\' if i + 1 < chars.len() => {
                if keep {
                    s.push(chars[i + 1]);
                }
                i += 2;
                continue;
            }
            '*' if chars.get(i + 1) == Some(&'*') && chars.get(i + 2) == Some(&'/') => {
                if keep {
                    s.push_str(globstar);
                }
                i += 3;
                continue;
            }
            '*' => {
                if keep {
                    s.push_str(star);
                }
            }
            '?' => {
                if keep {
                    s.push('q');
                }
            }
            '[' => {
                if let Some(end) = chars[i + 1..].iter().position(|&c| c == ']' || c == '/') {
                    let end = i + 1 + end;
                    if chars[end] == ']' && end > i + 1 {
                        let body = &chars[i + 1..end];
                        let negated = matches!(body[0], '!' | '^');
                        if keep {
                            s.push(if negated { 'Z' } else { body[0] });
                        }
                        i = end + 1;
                        continue;
                    }
                }
                if keep {
                    s.push('[');
                }
            }
            '{' => {
                let count = chars[i..]
                    .iter()
                    .take_while(|&&c| c != '}')
                    .filter(|&&c| c == ',')
                    .count()
                    + 1;
                brace = Some((0, alt % count));
            }
            ',' if brace.is_some() => {
                if let Some((cur, _)) = brace.as_mut() {
                    *cur += 1;
                }
            }
            '}' if brace.is_some() => brace = None,
            c => {
                if keep {
                    s.push(c);
                }
            }
        }
        i += 1;
    }
    s
}
