//! The compiler: [`ResolvedPolicy`] → [`SeatbeltPlan`] (profile text plus `-D` parameters).
//!
//! Pure and deterministic: the same policy gives byte-identical output on every OS. Paths
//! travel only as parameters; the only text that reaches the profile besides our own
//! constants is deny-glob regexes, built by [`crate::glob_regex`] and [`crate::escape`].
//!
//! Layout, in order (Seatbelt lets the last matching rule decide):
//! base rules, file reads, file writes, network, deny globs, standard devices.

use crate::escape::{sbpl_literal, EscapeError, Literal};
use crate::glob_regex::{glob_to_regex, GlobRegexError};
use sandbox_core::index::prefixes;
use sandbox_core::{Access, NetworkPolicy, ResolvedPolicy, TargetOs, UnixSockets};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Where `sandbox-exec` lives; never looked up on `PATH`.
pub const SANDBOX_EXEC: &str = "/usr/bin/sandbox-exec";

/// Why a policy cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CompileError {
    #[error(transparent)]
    Escape(#[from] EscapeError),
    #[error(transparent)]
    Glob(#[from] GlobRegexError),
    #[error(
        "the policy was resolved for {0:?}; a Seatbelt profile needs paths resolved for macOS"
    )]
    WrongTarget(TargetOs),
    #[error("path `{0}` is not valid UTF-8")]
    NonUtf8(String),
    #[error("{feature} is not supported by the macOS backend")]
    Unsupported {
        feature: &'static str,
        hint: &'static str,
    },
}

impl CompileError {
    /// The way out, when there is one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            CompileError::Unsupported { hint, .. } => Some(hint),
            _ => None,
        }
    }
}

/// Options that change what the compiler accepts.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompileOptions {
    /// Accept documented degradations (each recorded in [`SeatbeltPlan::warnings`]).
    pub best_effort: bool,
}

/// What `sandbox-exec` will be given: the profile text and its `-D` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeatbeltPlan {
    /// `danger-full-access`: no sandbox; the command runs as is.
    pub unrestricted: bool,
    pub profile: String,
    pub params: BTreeMap<String, String>,
    /// Degradations accepted under `--best-effort`, one line each.
    pub warnings: Vec<String>,
}

impl SeatbeltPlan {
    /// The full argv: `/usr/bin/sandbox-exec -p PROFILE -DKEY=VALUE… -- CMD…`, or the command
    /// itself when unrestricted.
    pub fn argv(&self, command: &[OsString]) -> Vec<OsString> {
        if self.unrestricted {
            return command.to_vec();
        }
        let mut argv: Vec<OsString> =
            vec![SANDBOX_EXEC.into(), "-p".into(), (&self.profile).into()];
        argv.extend(self.params.iter().map(|(k, v)| format!("-D{k}={v}").into()));
        argv.push("--".into());
        argv.extend(command.iter().cloned());
        argv
    }
}

/// The devices the oracle always allows (read, write, create, exec; never delete here).
const DEVICES: [&str; 6] = sandbox_core::resolve::STANDARD_DEVICES;

/// Operations that read a file: data and metadata, executing it, mapping it executable.
const READ_OPS: &str = "file-read* process-exec file-map-executable";

fn lit(s: &str) -> Result<String, EscapeError> {
    sbpl_literal(Literal::Str(s))
}

/// The path as a parameter value: absolute, no trailing slash, UTF-8.
fn utf8(p: &Path) -> Result<String, CompileError> {
    let p: PathBuf = p.components().collect();
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| CompileError::NonUtf8(p.to_string_lossy().into_owned()))
}

/// Accumulates profile text and parameters.
struct Out {
    text: String,
    params: BTreeMap<String, String>,
}

impl Out {
    fn line(&mut self, s: &str) {
        self.text.push_str(s);
        self.text.push('\n');
    }
    fn section(&mut self, comment: &str) {
        self.text.push('\n');
        for l in comment.lines() {
            self.text.push_str(";; ");
            self.text.push_str(l);
            self.text.push('\n');
        }
    }
    /// Defines a parameter and returns the `(param "NAME")` reference.
    fn param(&mut self, name: String, path: &Path) -> Result<String, CompileError> {
        let r = format!("(param {})", lit(&name)?);
        self.params.insert(name, utf8(path)?);
        Ok(r)
    }
}

/// Compiles `policy` into a Seatbelt plan.
pub fn compile(
    policy: &ResolvedPolicy,
    opts: &CompileOptions,
) -> Result<SeatbeltPlan, CompileError> {
    if policy.unrestricted {
        return Ok(SeatbeltPlan {
            unrestricted: true,
            profile: String::new(),
            params: BTreeMap::new(),
            warnings: Vec::new(),
        });
    }
    if policy.target != TargetOs::Macos {
        return Err(CompileError::WrongTarget(policy.target));
    }
    let mut warnings = Vec::new();
    let mut out = Out {
        text: String::new(),
        params: BTreeMap::new(),
    };
    out.line(";; Seatbelt profile generated by `sandbox`. Paths are -D parameters.");
    out.line("(version 1)");
    out.line("(deny default)");
    base(&mut out)?;
    reads(&mut out, policy)?;
    writes(&mut out, policy)?;
    let network = match &policy.network {
        NetworkPolicy::Loopback if opts.best_effort => {
            warnings.push(
                "network loopback: a private loopback is not supported on macOS; the network is off instead".to_string(),
            );
            NetworkPolicy::Off
        }
        NetworkPolicy::Loopback => {
            return Err(CompileError::Unsupported {
                feature: "a private loopback network (--network loopback)",
                hint: "leave the network off, use --network for full access, or pass --best-effort to run with the network off",
            })
        }
        NetworkPolicy::Proxy { .. } if opts.best_effort => {
            warnings.push(
                "network proxy: not supported on macOS; the network is off instead".to_string(),
            );
            NetworkPolicy::Off
        }
        NetworkPolicy::Proxy { .. } => {
            return Err(CompileError::Unsupported {
                feature: "a network proxy (allow/deny host lists)",
                hint: "use --network for full access, leave it off, or pass --best-effort to run with the network off",
            })
        }
        other => other.clone(),
    };
    net(&mut out, &network, &policy.unix_sockets)?;
    deny_globs(&mut out, policy)?;
    devices(&mut out)?;
    Ok(SeatbeltPlan {
        unrestricted: false,
        profile: out.text,
        params: out.params,
        warnings,
    })
}

/// One `(FILTER "name")` line per name, each quoted by [`sbpl_literal`].
fn names(filter: &str, list: &[&str]) -> Result<String, EscapeError> {
    let mut s = String::new();
    for n in list {
        s.push_str(&format!("\n  ({filter} {})", lit(n)?));
    }
    Ok(s)
}

/// Rules every program needs, grouped by the tools that break without them.
fn base(out: &mut Out) -> Result<(), CompileError> {
    out.section("Processes: children run under this same profile. Signals and process\ninformation reach only processes inside this sandbox (kill, wait, job control).");
    out.line("(allow process-fork)");
    out.line("(allow signal (target same-sandbox))");
    out.line("(allow process-info* (target same-sandbox))");

    out.section("Hardware and OS facts: Node os.cpus()/os.totalmem(), Python os.cpu_count()\nand platform, Rust available_parallelism, Go's runtime, uname.");
    let sysctls = [
        "hw.activecpu",
        "hw.byteorder",
        "hw.cachelinesize",
        "hw.cpufamily",
        "hw.cpufrequency",
        "hw.cpufrequency_max",
        "hw.cpusubtype",
        "hw.cputype",
        "hw.l1dcachesize",
        "hw.l1icachesize",
        "hw.l2cachesize",
        "hw.l3cachesize",
        "hw.logicalcpu",
        "hw.logicalcpu_max",
        "hw.machine",
        "hw.memsize",
        "hw.model",
        "hw.ncpu",
        "hw.nperflevels",
        "hw.packages",
        "hw.pagesize",
        "hw.physicalcpu",
        "hw.physicalcpu_max",
        "hw.tbfrequency",
        "kern.argmax",
        "kern.boottime",
        "kern.hostname",
        "kern.maxfiles",
        "kern.maxfilesperproc",
        "kern.maxproc",
        "kern.ngroups",
        "kern.osproductversion",
        "kern.osrelease",
        "kern.osrevision",
        "kern.ostype",
        "kern.osvariant_status",
        "kern.osversion",
        "kern.secure_kernel",
        "kern.usrstack64",
        "kern.version",
        "machdep.cpu.brand_string",
        "machdep.cpu.core_count",
        "machdep.cpu.thread_count",
        "machdep.cpu.features",
        "machdep.cpu.leaf7_features",
        "machdep.cpu.vendor",
        "machdep.ptrauth_enabled",
        "vm.loadavg",
    ];
    out.line(&format!(
        "(allow sysctl-read{})",
        names("sysctl-name", &sysctls)?
    ));
    out.section("CPU feature probes (hw.optional.*: Rust std_detect, OpenSSL, numpy),\nperformance levels (Apple silicon), and own-process queries (ps -p, Go os/exec).");
    out.line(&format!(
        "(allow sysctl-read{})",
        names(
            "sysctl-name-prefix",
            &[
                "hw.optional.",
                "hw.perflevel",
                "kern.proc.pgrp.",
                "kern.proc.pid."
            ]
        )?
    ));

    out.section("User and group lookup (getpwuid: id, whoami, git, ssh, Python pwd).");
    out.line(&format!(
        "(allow mach-lookup{})",
        names("global-name", &["com.apple.system.opendirectoryd.libinfo"])?
    ));
    out.section("Process listing for ps and top.");
    out.line(&format!(
        "(allow mach-lookup{})",
        names("global-name", &["com.apple.sysmond"])?
    ));
    out.section("Preferences (CoreFoundation tools: defaults read, xcrun, swift): read only.");
    out.line(&format!(
        "(allow mach-lookup{})",
        names(
            "global-name",
            &["com.apple.cfprefsd.agent", "com.apple.cfprefsd.daemon"]
        )?
    ));
    out.line("(allow user-preference-read)");
    out.line(&format!(
        "(allow ipc-posix-shm-read* (ipc-posix-name-prefix {}))",
        lit("apple.cfprefs.")?
    ));
    out.section("POSIX semaphores: Python multiprocessing locks.");
    out.line("(allow ipc-posix-sem)");
    out.section("OpenMP runtime registration (PyTorch, numpy with libomp).");
    out.line(&format!(
        "(allow ipc-posix-shm-read* ipc-posix-shm-write-create ipc-posix-shm-write-unlink (ipc-posix-name-regex {}))",
        sbpl_literal(Literal::Regex("^/__KMP_REGISTERED_LIB_[0-9]+$"))?
    ));
    out.section("Pseudo-terminals (script, expect, Python pty, interactive shells): open the\nmaster; use terminals created inside the sandbox; size ioctls on inherited ones.");
    out.line("(allow pseudo-tty)");
    out.line(&format!(
        "(allow file-read* file-write-data file-ioctl (literal {}))",
        lit("/dev/ptmx")?
    ));
    let ttys = sbpl_literal(Literal::Regex("^/dev/ttys[0-9]+$"))?;
    out.line(&format!(
        "(allow file-read* file-write-data (require-all (regex {ttys}) (extension {})))",
        lit("com.apple.sandbox.pty")?
    ));
    out.line(&format!(
        "(allow file-ioctl (literal {}) (regex {ttys}))",
        lit("/dev/tty")?
    ));
    Ok(())
}

/// The effective access at each rule path (ties: deny > write > read).
fn effective(policy: &ResolvedPolicy) -> BTreeMap<&Path, Access> {
    let mut eff: BTreeMap<&Path, Access> = BTreeMap::new();
    for r in &policy.rules {
        let e = eff.entry(r.path.as_path()).or_insert(r.access);
        *e = (*e).max(r.access);
    }
    eff
}

/// Rule paths strictly above `p`, deepest first. Looks up `p`'s own prefixes (one per depth)
/// instead of scanning every rule.
fn ancestors<'a>(eff: &BTreeMap<&'a Path, Access>, p: &Path) -> Vec<(&'a Path, Access)> {
    prefixes(p)
        .skip(1)
        .filter_map(|a| eff.get_key_value(a).map(|(k, acc)| (*k, *acc)))
        .collect()
}

/// The entries of `map` strictly below `w`. `Path` orders by components, so they are the run
/// of keys right after `w` that start with it.
fn below<'a, V: Copy>(map: &BTreeMap<&'a Path, V>, w: &Path) -> Vec<(&'a Path, V)> {
    map.range::<Path, _>((Bound::Excluded(w), Bound::Unbounded))
        .take_while(|(p, _)| p.starts_with(w))
        .map(|(p, v)| (*p, *v))
        .collect()
}

/// Drops exclusions that lie under another exclusion of the same root.
fn minimal_exclusions(mut ex: Vec<PathBuf>) -> Vec<PathBuf> {
    ex.sort();
    ex.dedup();
    let all: HashSet<PathBuf> = ex.iter().cloned().collect();
    ex.retain(|e| !prefixes(e).skip(1).any(|o| all.contains(o)));
    ex
}

/// `(require-all (subpath ROOT) (require-not (literal X)) (require-not (subpath X)) …)`.
fn root_filter(
    out: &mut Out,
    prefix: &str,
    root: &Path,
    ex: &[PathBuf],
) -> Result<String, CompileError> {
    let r = out.param(prefix.to_string(), root)?;
    if ex.is_empty() {
        return Ok(format!("(subpath {r})"));
    }
    let mut s = format!("(require-all\n    (subpath {r})");
    for (j, e) in ex.iter().enumerate() {
        let x = out.param(format!("{prefix}_EXCLUDED_{j}"), e)?;
        s.push_str(&format!(
            "\n    (require-not (literal {x}))\n    (require-not (subpath {x}))"
        ));
    }
    s.push(')');
    Ok(s)
}

/// Reads: one allow per outermost readable rule, minus the denied paths below it.
fn reads(out: &mut Out, policy: &ResolvedPolicy) -> Result<(), CompileError> {
    let eff = effective(policy);
    let grant = |a: Access| a != Access::Deny;
    // A readable rule needs its own allow unless a readable ancestor already covers it.
    let emitted: Vec<&Path> = eff
        .iter()
        .filter(|(p, a)| {
            grant(**a) && !ancestors(&eff, p).first().is_some_and(|(_, aa)| grant(*aa))
        })
        .map(|(p, _)| *p)
        .collect();
    let is_emitted: HashSet<&Path> = emitted.iter().copied().collect();
    let mut excl: BTreeMap<&Path, Vec<PathBuf>> = BTreeMap::new();
    for (d, a) in &eff {
        if *a != Access::Deny {
            continue;
        }
        for (anc, acc) in ancestors(&eff, d) {
            if acc == Access::Deny {
                break;
            }
            if is_emitted.contains(anc) {
                excl.entry(anc).or_default().push(d.to_path_buf());
                break;
            }
        }
    }
    if policy.minimal {
        out.section("Reads, exec and code mapping: only the platform's default roots (:minimal)\nand the listed paths.");
    } else {
        out.section("Reads, exec and code mapping: the readable rules of the policy, minus denied\npaths (a program that cannot be read cannot be run either).");
    }
    if emitted.is_empty() {
        out.line(";; (nothing is readable)");
    }
    for (k, root) in emitted.iter().enumerate() {
        let ex = minimal_exclusions(excl.remove(root).unwrap_or_default());
        if *root == Path::new("/") && ex.is_empty() {
            out.line(&format!("(allow {READ_OPS})"));
            continue;
        }
        let f = root_filter(out, &format!("READABLE_ROOT_{k}"), root, &ex)?;
        out.line(&format!("(allow {READ_OPS}\n  {f})"));
    }
    Ok(())
}

/// Writes: one allow per writable root, minus protected paths and non-writable rules below it.
fn writes(out: &mut Out, policy: &ResolvedPolicy) -> Result<(), CompileError> {
    let eff = effective(policy);
    let protected: BTreeMap<&Path, ()> = policy
        .protected_paths()
        .into_iter()
        .map(|p| (p.path.as_path(), ()))
        .collect();
    out.section("Writes: each writable root, minus its protected paths (.git, .codex, .agents, .aws,\na .git pointer's target) whether they exist or not, and read-only rules below it.");
    if policy.writable_roots.is_empty() {
        out.line(";; (nothing is writable)");
    }
    for (i, root) in policy.writable_roots.iter().enumerate() {
        let w = root.path.as_path();
        let ex: Vec<PathBuf> = below(&eff, w)
            .into_iter()
            .filter(|(_, a)| *a != Access::Write)
            .map(|(p, _)| p.to_path_buf())
            .chain(
                below(&protected, w)
                    .into_iter()
                    .map(|(p, _)| p.to_path_buf()),
            )
            .collect();
        let ex = minimal_exclusions(ex);
        let f = root_filter(out, &format!("WRITABLE_ROOT_{i}"), w, &ex)?;
        out.line(&format!("(allow file-write*\n  {f})"));
    }
    Ok(())
}

fn net(out: &mut Out, network: &NetworkPolicy, unix: &UnixSockets) -> Result<(), CompileError> {
    let full = matches!(network, NetworkPolicy::Full);
    if full {
        out.section("Network: full access, plus what name resolution and TLS need (DNS\nconfiguration, trust evaluation for curl/git/pip, routing tables).");
        out.line("(allow network-outbound)");
        out.line("(allow network-inbound)");
        out.line("(allow network-bind)");
        out.line("(allow system-socket)");
        out.line(&format!(
            "(allow mach-lookup{})",
            names(
                "global-name",
                &[
                    "com.apple.SecurityServer",
                    "com.apple.SystemConfiguration.DNSConfiguration",
                    "com.apple.SystemConfiguration.configd",
                    "com.apple.dnssd.service",
                    "com.apple.networkd",
                    "com.apple.ocspd",
                    "com.apple.trustd.agent",
                ]
            )?
        ));
        out.line(&format!(
            "(allow sysctl-read (sysctl-name-prefix {}))",
            lit("net.routetable.")?
        ));
    } else {
        out.section("Network: off (the default deny blocks every socket but those below).");
    }
    match (unix, full) {
        (UnixSockets::All, true) => {}
        (UnixSockets::All, false) => {
            out.section("Unix-domain sockets: any path (build tools and runtimes talk locally).");
            out.line("(allow system-socket (socket-domain AF_UNIX))");
            out.line("(allow network-bind (local unix-socket))");
            out.line("(allow network-outbound (remote unix-socket))");
        }
        (UnixSockets::None, false) => {
            out.section("Unix-domain sockets: none.");
        }
        (UnixSockets::None, true) | (UnixSockets::Paths(_), true) => {
            out.section("Unix-domain sockets: not covered by full network access.");
            out.line("(deny network-bind (local unix-socket))");
            out.line("(deny network-outbound (remote unix-socket))");
        }
        (UnixSockets::Paths(_), false) => {}
    }
    if let UnixSockets::Paths(paths) = unix {
        out.section("Unix-domain sockets: only at or below the listed paths.");
        out.line("(allow system-socket (socket-domain AF_UNIX))");
        for (i, p) in paths.iter().enumerate() {
            let r = out.param(format!("UNIX_SOCKET_PATH_{i}"), p)?;
            out.line(&format!(
                "(allow network-bind (local unix-socket (subpath {r})))"
            ));
            out.line(&format!(
                "(allow network-outbound (remote unix-socket (subpath {r})))"
            ));
        }
    }
    Ok(())
}

/// Deny globs: every operation on a matching path is refused, whatever allowed it above.
fn deny_globs(out: &mut Out, policy: &ResolvedPolicy) -> Result<(), CompileError> {
    if policy.deny_globs.is_empty() {
        return Ok(());
    }
    out.section("Deny globs: no read, write, unlink or exec of a matching path (so a denied\nfile cannot be probed by deleting or replacing it).");
    for g in &policy.deny_globs {
        let re = sbpl_literal(Literal::Regex(&glob_to_regex(&g.pattern)?))?;
        out.line(&format!("(deny {READ_OPS} file-write* (regex {re}))"));
    }
    Ok(())
}

/// The standard devices stay usable whatever came before (`2>/dev/null`, reading urandom).
fn devices(out: &mut Out) -> Result<(), CompileError> {
    out.section("Standard devices: always readable and writable (shell redirections, entropy).");
    let mut s = String::from("(allow file-read* file-write-data file-write-create process-exec");
    for d in DEVICES {
        s.push_str(&format!("\n  (literal {})", lit(d)?));
    }
    s.push(')');
    out.line(&s);
    Ok(())
}

#[cfg(test)]
mod lookup_tests {
    //! The prefix and range lookups above against the scans they replaced.
    use super::*;
    use proptest::prelude::*;

    use sandbox_core::testing::odd_path as path;

    use sandbox_core::testing::access;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        #[test]
        fn ancestors_and_below_match_scans(
            rules in prop::collection::vec((path(), access()), 0..10),
            query in path(),
        ) {
            let mut eff: BTreeMap<&Path, Access> = BTreeMap::new();
            for (p, a) in &rules {
                eff.entry(p.as_path()).or_insert(*a);
            }
            let mut want: Vec<(&Path, Access)> = eff
                .iter()
                .filter(|(a, _)| **a != query && query.starts_with(a))
                .map(|(a, acc)| (*a, *acc))
                .collect();
            want.sort_by_key(|(a, _)| std::cmp::Reverse(a.components().count()));
            let got = ancestors(&eff, &query);
            // Same entries, same spelling of each key, same order.
            let spell = |v: &[(&Path, Access)]| -> Vec<(std::ffi::OsString, Access)> {
                v.iter().map(|(p, a)| (p.as_os_str().to_owned(), *a)).collect()
            };
            prop_assert_eq!(spell(&got), spell(&want));

            let want: Vec<(&Path, Access)> = eff
                .iter()
                .filter(|(p, _)| **p != query && p.starts_with(&query))
                .map(|(p, a)| (*p, *a))
                .collect();
            prop_assert_eq!(spell(&below(&eff, &query)), spell(&want));
        }

        #[test]
        fn minimal_exclusions_matches_scan(ex in prop::collection::vec(path(), 0..10)) {
            let mut want = ex.clone();
            want.sort();
            want.dedup();
            let all = want.clone();
            want.retain(|e| !all.iter().any(|o| o != e && e.starts_with(o)));
            let spell = |v: &[PathBuf]| -> Vec<std::ffi::OsString> {
                v.iter().map(|p| p.as_os_str().to_owned()).collect()
            };
            prop_assert_eq!(spell(&minimal_exclusions(ex)), spell(&want));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_core::{resolve, Entry, Policy, Preset, ResolveEnv, Target};

    fn resolved(policy: &Policy, target: TargetOs) -> (tempfile::TempDir, ResolvedPolicy) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("ws/docs/out")).unwrap();
        let env = ResolveEnv {
            cwd: d.path().join("ws"),
            tmpdir: None,
            home: None,
            target,
        };
        let r = resolve(policy, &env).unwrap();
        (d, r)
    }

    #[test]
    fn proxy_is_refused_unless_best_effort() {
        let mut p = Policy::preset(Preset::ReadOnly);
        p.network = NetworkPolicy::Proxy {
            allow: vec!["example.com".into()],
            deny: vec![],
            allow_local_binding: false,
        };
        let (_d, r) = resolved(&p, TargetOs::Macos);
        let e = compile(&r, &CompileOptions::default()).unwrap_err();
        assert!(e.to_string().contains("proxy"), "{e}");
        assert!(e.hint().unwrap().contains("--best-effort"));
        let plan = compile(&r, &CompileOptions { best_effort: true }).unwrap();
        assert_eq!(plan.warnings.len(), 1);
        assert!(!plan.profile.contains("(allow network-outbound)"));
    }

    #[test]
    fn a_policy_resolved_for_linux_is_refused() {
        let (_d, r) = resolved(&Policy::preset(Preset::ReadOnly), TargetOs::Linux);
        assert_eq!(
            compile(&r, &CompileOptions::default()).unwrap_err(),
            CompileError::WrongTarget(TargetOs::Linux)
        );
    }

    #[test]
    fn unrestricted_runs_the_command_as_is() {
        let (_d, r) = resolved(&Policy::preset(Preset::DangerFullAccess), TargetOs::Macos);
        let plan = compile(&r, &CompileOptions::default()).unwrap();
        assert!(plan.unrestricted);
        assert_eq!(plan.argv(&["ls".into()]), vec![OsString::from("ls")]);
    }

    #[test]
    fn read_only_rules_inside_a_writable_root_are_carved_out() {
        let mut p = Policy::preset_with(Preset::WorkspaceWrite, true, true);
        let (d, _) = resolved(&p, TargetOs::Macos);
        let ws = std::fs::canonicalize(d.path().join("ws")).unwrap();
        p.entries
            .push(Entry::new(Target::Path(ws.join("docs")), Access::Read, "t"));
        p.entries.push(Entry::new(
            Target::Path(ws.join("docs/out")),
            Access::Write,
            "t",
        ));
        let env = ResolveEnv {
            cwd: ws.clone(),
            tmpdir: None,
            home: None,
            target: TargetOs::Macos,
        };
        let r = resolve(&p, &env).unwrap();
        let plan = compile(&r, &CompileOptions::default()).unwrap();
        let ws_s = |rel: &str| {
            sandbox_core::resolve::canonical(&ws.join(rel), TargetOs::Macos)
                .to_str()
                .unwrap()
                .to_string()
        };
        // docs is excluded from the workspace root; docs/out is its own root again.
        assert!(plan.params.values().any(|v| *v == ws_s("docs")));
        assert_eq!(
            plan.params
                .iter()
                .filter(|(k, v)| k.starts_with("WRITABLE_ROOT_")
                    && !k.contains("_EXCLUDED_")
                    && **v == ws_s("docs/out"))
                .count(),
            1
        );
        assert!(crate::verify(&r, &plan).unwrap().ok());
    }

    #[test]
    fn unix_socket_modes() {
        for (mode, want, not) in [
            (
                UnixSockets::All,
                "(allow network-outbound (remote unix-socket))",
                "UNIX_SOCKET",
            ),
            (
                UnixSockets::None,
                "Unix-domain sockets: none.",
                "(allow system-socket",
            ),
        ] {
            let mut p = Policy::preset(Preset::ReadOnly);
            p.unix_sockets = mode;
            let (_d, r) = resolved(&p, TargetOs::Macos);
            let plan = compile(&r, &CompileOptions::default()).unwrap();
            assert!(plan.profile.contains(want), "{}", plan.profile);
            assert!(!plan.profile.contains(not), "{}", plan.profile);
        }
        // With full network, "none" must take unix sockets away again.
        let mut p = Policy::preset(Preset::ReadOnly);
        p.unix_sockets = UnixSockets::None;
        p.network = NetworkPolicy::Full;
        let (_d, r) = resolved(&p, TargetOs::Macos);
        let plan = compile(&r, &CompileOptions::default()).unwrap();
        let deny = plan
            .profile
            .find("(deny network-outbound (remote unix-socket))")
            .unwrap();
        assert!(plan.profile.find("(allow network-outbound)").unwrap() < deny);
    }
}
