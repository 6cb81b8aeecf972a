//! The compiler: [`ResolvedPolicy`] → [`SeatbeltPlan`] (profile text plus `-D` parameters).
//!
//! Pure and deterministic: the same policy gives byte-identical output on every OS. Paths
//! travel only as parameters; the only text that reaches the profile besides our own
//! constants is deny-glob regexes, built by [`crate::glob_regex`] and [`crate::escape`].
//!
//! Layout, in order (Seatbelt lets the last matching rule decide): base rules (each group
//! commented with the tools that need it), file reads (plus the metadata of the directories
//! above them), file writes (exclusions in any letter case), rename pins, network, unix
//! sockets, deny globs, standard devices and `/dev/fd`, and last the TIOCSTI denial.

use crate::error::Error;
use crate::escape::{sbpl_literal, EscapeError, Literal};
use crate::glob_regex::glob_subtree_regex;
use crate::network::{self, Mode, PROXY_ENDPOINT};
use crate::Options;
use sandbox_core::index::prefixes;
use sandbox_core::{Access, Degradation, Op, ResolvedPolicy, TargetOs};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::ops::Bound;
use std::path::{Path, PathBuf};

/// Where `sandbox-exec` lives; never looked up on `PATH`.
pub const SANDBOX_EXEC: &str = "/usr/bin/sandbox-exec";

/// What `sandbox-exec` will be given: the profile text and its `-D` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeatbeltPlan {
    /// `danger-full-access`: no sandbox; the command runs as is.
    pub unrestricted: bool,
    pub profile: String,
    pub params: BTreeMap<String, String>,
    /// What the policy asks for and this profile does not enforce, accepted under
    /// `best_effort` (empty otherwise: the compiler refuses instead).
    pub degradations: Vec<Degradation>,
    /// Variables set in the command's environment: the sandbox markers test suites check
    /// (Codex's names, so suites written for Codex skip their network tests here too), and
    /// in proxy mode the proxy variables (`HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, …).
    pub env: BTreeMap<String, String>,
    /// Proxy mode: the `localhost` port the egress proxy listens on (the only destination
    /// the profile lets the command connect to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_port: Option<u16>,
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

pub(crate) fn lit(s: &str) -> Result<String, EscapeError> {
    sbpl_literal(Literal::Str(s))
}

/// The path as a parameter value: absolute, no trailing slash, UTF-8.
fn utf8(p: &Path) -> Result<String, Error> {
    let p: PathBuf = p.components().collect();
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::NonUtf8(p.to_string_lossy().into_owned()))
}

/// Accumulates profile text and parameters.
pub(crate) struct Out {
    text: String,
    params: BTreeMap<String, String>,
}

impl Out {
    pub(crate) fn line(&mut self, s: &str) {
        self.text.push_str(s);
        self.text.push('\n');
    }
    pub(crate) fn section(&mut self, comment: &str) {
        self.text.push('\n');
        for l in comment.lines() {
            self.text.push_str(";; ");
            self.text.push_str(l);
            self.text.push('\n');
        }
    }
    /// Defines a parameter and returns the `(param "NAME")` reference.
    pub(crate) fn param(&mut self, name: String, path: &Path) -> Result<String, Error> {
        let r = format!("(param {})", lit(&name)?);
        self.params.insert(name, utf8(path)?);
        Ok(r)
    }
}

/// Compiles `policy` into a Seatbelt plan. Pure: in proxy mode the proxy's port comes from
/// `opts.proxy_port` (required then); [`crate::Sandbox::new`] reserves one when it is unset.
pub fn compile(policy: &ResolvedPolicy, opts: &Options) -> Result<SeatbeltPlan, Error> {
    if policy.unrestricted {
        return Ok(SeatbeltPlan {
            unrestricted: true,
            profile: String::new(),
            params: BTreeMap::new(),
            degradations: Vec::new(),
            env: BTreeMap::new(),
            proxy_port: None,
        });
    }
    if policy.target != TargetOs::Macos {
        return Err(Error::WrongTarget(policy.target));
    }
    let (mode, degradations) = network::mode(policy, opts.best_effort, opts.proxy_port)?;
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
    rename_pins_section(&mut out, policy)?;
    network::rules(&mut out, mode, keychain_closed(policy))?;
    let full = mode == Mode::Full;
    crate::unix_sockets::rules(&mut out, policy, full)?;
    deny_globs(&mut out, policy)?;
    devices(&mut out)?;
    terminal(&mut out)?;
    let mut env = BTreeMap::from([("CODEX_SANDBOX".to_string(), "seatbelt".to_string())]);
    if !full {
        env.insert("CODEX_SANDBOX_NETWORK_DISABLED".into(), "1".into());
    }
    let proxy_port = match mode {
        Mode::Proxy { port, .. } => {
            out.params
                .insert(PROXY_ENDPOINT.to_string(), network::endpoint(port));
            env.extend(sandbox_egress::proxy_env(port));
            Some(port)
        }
        _ => None,
    };
    Ok(SeatbeltPlan {
        unrestricted: false,
        profile: out.text,
        params: out.params,
        degradations,
        env,
        proxy_port,
    })
}

/// One `(FILTER "name")` line per name, each quoted by [`sbpl_literal`].
pub(crate) fn names(filter: &str, list: &[&str]) -> Result<String, EscapeError> {
    let mut s = String::new();
    for n in list {
        s.push_str(&format!("\n  ({filter} {})", lit(n)?));
    }
    Ok(s)
}

/// `(allow OP\n  (FILTER "a")\n  (FILTER "b"))`, each name quoted by [`sbpl_literal`].
pub(crate) fn allow_names(
    out: &mut Out,
    op: &str,
    filter: &str,
    list: &[&str],
) -> Result<(), Error> {
    out.line(&format!("(allow {op}{})", names(filter, list)?));
    Ok(())
}

/// Rules every program needs, grouped by the tools that break without them. Each group's
/// comment names the tools; a rule without a tool that needs it does not belong here.
fn base(out: &mut Out) -> Result<(), Error> {
    out.section("Processes: children run under this same profile. Signals and process\ninformation reach only processes inside this sandbox (kill, wait, job control).");
    out.line("(allow process-fork)");
    out.line("(allow signal (target same-sandbox))");
    out.line("(allow process-info* (target same-sandbox))");
    out.section("Debuggers and profilers on the command's own children (lldb ./a.out, sample,\npy-spy, rbspy): the task port of a process inside this sandbox only.");
    out.line("(allow mach-priv-task-port (target same-sandbox))");
    out.section("ps is setuid root: Seatbelt refuses to exec set-id programs (forbidden-exec-sugid),\nso `ps` fails here; pgrep, psutil and `ps -p` through sysctl (below) work. Running it\noutside the sandbox (Codex's `with no-sandbox`) would show every process's environment.");

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
    allow_names(out, "sysctl-read", "sysctl-name", &sysctls)?;
    out.section("Arch and Rosetta detection (uname -m under Rosetta, Go, Python platform), cache\ngeometry (JVM, numpy), and the *_compat names older runtimes read.");
    allow_names(
        out,
        "sysctl-read",
        "sysctl-name",
        &[
            "hw.busfrequency_compat",
            "hw.cacheconfig",
            "hw.cpufrequency_compat",
            "hw.tbfrequency_compat",
            "hw.vectorunit",
            "sysctl.proc_cputype",
            "sysctl.proc_translated",
        ],
    )?;
    out.section("The process table: pgrep, pkill, killall, psutil process_iter, Node's\nprocess list helpers (kern.proc.all); own-process queries (ps -p, Go os/exec).");
    allow_names(out, "sysctl-read", "sysctl-name", &["kern.proc.all"])?;
    out.section("CPU feature probes (hw.optional.*: Rust std_detect, OpenSSL, numpy),\nperformance levels (Apple silicon), and own-process queries (ps -p, Go os/exec).");
    allow_names(
        out,
        "sysctl-read",
        "sysctl-name-prefix",
        &[
            "hw.optional.",
            "hw.perflevel",
            "kern.proc.pgrp.",
            "kern.proc.pid.",
        ],
    )?;
    out.section("JVM startup (kern.grade_cputype is written to ask which slice to run) and V8's\nthread setup (kern.tcsm_*): per-process answers, no host state changes.");
    allow_names(
        out,
        "sysctl-read",
        "sysctl-name",
        &[
            "kern.grade_cputype",
            "kern.tcsm_available",
            "kern.tcsm_enable",
        ],
    )?;
    allow_names(
        out,
        "sysctl-write",
        "sysctl-name",
        &["kern.grade_cputype", "kern.tcsm_enable"],
    )?;

    out.section("User and group lookup (getpwuid: id, whoami, git, ssh, Python pwd).");
    allow_names(
        out,
        "mach-lookup",
        "global-name",
        &["com.apple.system.opendirectoryd.libinfo"],
    )?;
    out.section("Group membership (id -Gn, groups, Security framework checks) and the first-use\ncreation of the per-user temp and cache directories (confstr: xcrun, clang, swift).");
    allow_names(
        out,
        "mach-lookup",
        "global-name",
        &[
            "com.apple.bsd.dirhelper",
            "com.apple.system.opendirectoryd.membership",
        ],
    )?;
    out.section("Process listing for top and Activity-style tools.");
    allow_names(out, "mach-lookup", "global-name", &["com.apple.sysmond"])?;
    out.section("File watchers: fswatch, watchman, chokidar/fsevents (Vite, webpack, jest and tsc\n--watch), cargo watch, Python watchdog.");
    allow_names(out, "mach-lookup", "global-name", &["com.apple.FSEvents"])?;
    out.section("Power assertions: caffeinate -i make, xcodebuild and long test runners keeping\nthe machine awake (IOPMAssertion); IOKit property reads for ioreg,\nsystem_profiler, node-machine-id and gopsutil host.Info.");
    allow_names(
        out,
        "mach-lookup",
        "global-name",
        &["com.apple.PowerManagement.control"],
    )?;
    out.line(&format!(
        "(allow iokit-open (iokit-registry-entry-class {}))",
        lit("RootDomainUserClient")?
    ));
    out.line("(allow iokit-get-properties)");
    out.section("Preferences (CoreFoundation tools: defaults read, xcrun, swift): read only.");
    allow_names(
        out,
        "mach-lookup",
        "global-name",
        &["com.apple.cfprefsd.agent", "com.apple.cfprefsd.daemon"],
    )?;
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
    out.section("Pseudo-terminals (script, expect, Python pty, interactive shells): open the\nmaster; use terminals created inside the sandbox; size ioctls on inherited ones\n(TIOCSTI is taken away again at the end).");
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
pub(crate) fn effective(policy: &ResolvedPolicy) -> BTreeMap<&Path, Access> {
    let mut eff: BTreeMap<&Path, Access> = BTreeMap::new();
    for r in &policy.rules {
        let e = eff.entry(r.path.as_path()).or_insert(r.access);
        *e = (*e).max(r.access);
    }
    eff
}

/// Rule paths strictly above `p`, deepest first. Looks up `p`'s own prefixes (one per depth)
/// instead of scanning every rule.
pub(crate) fn ancestors<'a>(eff: &BTreeMap<&'a Path, Access>, p: &Path) -> Vec<(&'a Path, Access)> {
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
/// With `caseless`, each exclusion also excludes its case variants
/// ([`crate::casefold::variants_regex`]): a new name is checked as the caller spells it.
fn root_filter(
    out: &mut Out,
    prefix: &str,
    root: &Path,
    ex: &[PathBuf],
    caseless: bool,
) -> Result<String, Error> {
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
        if caseless {
            let rel = e.strip_prefix(root).unwrap_or(e);
            let re = crate::casefold::variants_regex(crate::casefold::depth(root), rel);
            s.push_str(&format!(
                "\n    (require-not (regex {}))",
                sbpl_literal(Literal::Regex(&re))?
            ));
        }
    }
    s.push(')');
    Ok(s)
}

/// Reads: one allow per outermost readable rule, minus the denied paths below it.
fn reads(out: &mut Out, policy: &ResolvedPolicy) -> Result<(), Error> {
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
        let f = root_filter(out, &format!("READABLE_ROOT_{k}"), root, &ex, false)?;
        out.line(&format!("(allow {READ_OPS}\n  {f})"));
    }
    // realpath(), getcwd() and every `canonicalize` lstat each component on the way down,
    // so a readable path below a denied or unreadable directory needs its ancestors'
    // metadata (Python os.path.realpath, Node fs.realpathSync, Rust canonicalize). Only
    // these directories' own metadata: their contents stay as the rules above say.
    let mut parents: Vec<&Path> = Vec::new();
    for root in &emitted {
        parents.extend(prefixes(root).skip(1).filter(|p| !p.as_os_str().is_empty()));
    }
    // Deepest first, so the numbering of a directory does not depend on how deep it lies.
    parents.sort_by(|a, b| b.cmp(a));
    parents.dedup();
    if !parents.is_empty() {
        out.section("Metadata of the directories above each readable root (realpath, getcwd).");
        let mut s = String::from("(allow file-read-metadata");
        let mut j = 0;
        for p in &parents {
            let r = if *p == Path::new("/") {
                lit("/")?
            } else {
                j += 1;
                out.param(format!("READABLE_PARENT_{}", j - 1), p)?
            };
            s.push_str(&format!("\n  (literal {r})"));
        }
        s.push(')');
        out.line(&s);
    }
    if !policy.reads_everything() {
        out.section("The /tmp, /var and /etc links themselves (realpath /tmp/x, shells, xcrun).");
        out.line(&format!(
            "(allow file-read-metadata{})",
            names("literal", &["/etc", "/tmp", "/var"])?
        ));
    }
    Ok(())
}

/// Writes: one allow per writable root, minus protected paths and non-writable rules below it.
fn writes(out: &mut Out, policy: &ResolvedPolicy) -> Result<(), Error> {
    let eff = effective(policy);
    let protected: BTreeMap<&Path, ()> = policy
        .protected_paths()
        .into_iter()
        .map(|p| (p.path.as_path(), ()))
        .collect();
    out.section("Writes: each writable root, minus its protected paths (.git, .codex, .agents, .aws,\na .git pointer's target) whether they exist or not, and read-only rules below it,\neach in any letter case (APFS is case-insensitive: a new `.GIT` would be `.git`).");
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
        let f = root_filter(out, &format!("WRITABLE_ROOT_{i}"), w, &ex, true)?;
        out.line(&format!("(allow file-write*\n  {f})"));
    }
    Ok(())
}

/// The points a rename must not carry away, each inside a writable root: read-only and
/// denied rules, protected paths, and each deny glob's fixed leading directory (moving it
/// would move every match out of the pattern's reach).
pub fn rename_points(policy: &ResolvedPolicy) -> Vec<PathBuf> {
    let in_root = |p: &Path| policy.writable_roots.iter().any(|r| p.starts_with(&r.path));
    let mut v: Vec<PathBuf> = policy
        .rules
        .iter()
        .filter(|r| r.access != Access::Write)
        .map(|r| r.path.clone())
        .chain(policy.protected_paths().into_iter().map(|p| p.path.clone()))
        .chain(policy.deny_globs.iter().map(|g| g.static_prefix()))
        .filter(|p| in_root(p))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Directories that must not be renamed or deleted: every directory from a writable root
/// down to each [`rename_points`] entry (the entry itself too), where writing is allowed at
/// all. Seatbelt matches paths, so `mv ws/a ws/b` would make a rule on `ws/a/secret` miss
/// `ws/b/secret`; a rename or delete is a `file-write-unlink` of the old name.
pub fn rename_pins(policy: &ResolvedPolicy) -> Vec<PathBuf> {
    let in_root = |p: &Path| policy.writable_roots.iter().any(|r| p.starts_with(&r.path));
    let mut pins: Vec<PathBuf> = Vec::new();
    for x in rename_points(policy) {
        for a in prefixes(&x) {
            if a.as_os_str().is_empty() || !in_root(a) {
                break;
            }
            if policy.allows_canonical(a, Op::Write) {
                pins.push(a.to_path_buf());
            }
        }
    }
    pins.sort();
    pins.dedup();
    pins
}

fn rename_pins_section(out: &mut Out, policy: &ResolvedPolicy) -> Result<(), Error> {
    let pins = rename_pins(policy);
    if pins.is_empty() {
        return Ok(());
    }
    out.section("No renaming or deleting of the directories that lead to a protected, read-only\nor denied path (mv ws/a ws/b would carry ws/a/secret out of its rule's reach).");
    let mut s = String::from("(deny file-write-unlink");
    for (i, p) in pins.iter().enumerate() {
        let r = out.param(format!("RENAME_PIN_{i}"), p)?;
        s.push_str(&format!("\n  (literal {r})"));
    }
    s.push(')');
    out.line(&s);
    Ok(())
}

/// True when the keychain must stay closed: the policy denies some paths (credentials are
/// being kept from the command), and keychain items that trust `/usr/bin/security` (gh and
/// go-keyring tokens) are readable through `SecurityServer` whatever the file rules say.
pub fn keychain_closed(policy: &ResolvedPolicy) -> bool {
    !policy.denied_paths().is_empty() || !policy.deny_globs.is_empty()
}

/// Deny globs: every operation on a matching path is refused, whatever allowed it above.
fn deny_globs(out: &mut Out, policy: &ResolvedPolicy) -> Result<(), Error> {
    if policy.deny_globs.is_empty() {
        return Ok(());
    }
    out.section("Deny globs: no read, write, unlink or exec of a matching path (so a denied\nfile cannot be probed by deleting or replacing it).");
    for g in &policy.deny_globs {
        let re = sbpl_literal(Literal::Regex(&glob_subtree_regex(&g.pattern)?))?;
        out.line(&format!("(deny {READ_OPS} file-write* (regex {re}))"));
    }
    Ok(())
}

/// The standard devices stay usable whatever came before (`2>/dev/null`, reading urandom).
fn devices(out: &mut Out) -> Result<(), Error> {
    out.section("Standard devices: always readable and writable (shell redirections, entropy).");
    let mut s = String::from("(allow file-read* file-write-data file-write-create process-exec");
    for d in DEVICES {
        s.push_str(&format!("\n  (literal {})", lit(d)?));
    }
    s.push(')');
    out.line(&s);
    out.section("The command's own open descriptors by name: echo x >/dev/stderr, tee /dev/stderr,\nbash process substitution <(…) and >(…). Opening /dev/fd/N duplicates descriptor N,\nwhich the command already holds, so this grants no new file.");
    out.line(&format!(
        "(allow file-read* file-write-data (subpath {}){})",
        lit("/dev/fd")?,
        names("literal", &["/dev/stderr", "/dev/stdin", "/dev/stdout"])?
    ));
    Ok(())
}

/// Last, so no allow above can bring it back: no typing into the terminal's input queue.
fn terminal(out: &mut Out) -> Result<(), Error> {
    out.section("Terminal injection: TIOCSTI would queue input for the shell that reads the\nterminal after the command exits (`id` typed into the user's unsandboxed shell).\nLast, so no ioctl allowance above brings it back. Needs macOS 13 or later.");
    out.line("(deny file-ioctl (ioctl-command TIOCSTI))");
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
    use sandbox_core::{
        resolve, Entry, NetworkPolicy, Policy, Preset, ResolveEnv, Target, UnixSockets,
    };

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

    fn proxy(allow_local_binding: bool) -> NetworkPolicy {
        NetworkPolicy::Proxy {
            allow: vec!["example.com".into()],
            deny: vec![],
            allow_local_binding,
        }
    }

    #[test]
    fn proxy_mode_allows_only_the_proxy_endpoint() {
        let mut p = Policy::preset(Preset::ReadOnly);
        p.network = proxy(false);
        let (_d, r) = resolved(&p, TargetOs::Macos);
        // The pure compiler needs the port; Sandbox::new reserves one.
        let e = compile(&r, &Options::default()).unwrap_err();
        assert!(matches!(e, Error::Proxy(_)), "{e}");
        let plan = compile(&r, &Options::default().with_proxy_port(Some(40123))).unwrap();
        assert!(plan.degradations.is_empty());
        assert_eq!(plan.proxy_port, Some(40123));
        assert_eq!(plan.params["PROXY_ENDPOINT"], "localhost:40123");
        assert!(plan
            .profile
            .contains("(allow network-outbound (remote tcp (param \"PROXY_ENDPOINT\")))\n"));
        assert!(!plan.profile.contains("(allow network-outbound)"));
        assert!(!plan.profile.contains("localhost:*"));
        assert!(!plan.profile.contains("com.apple.dnssd.service"));
        assert!(!plan.profile.contains("mDNSResponder\")))"));
        assert_eq!(plan.env["HTTPS_PROXY"], "http://127.0.0.1:40123");
        assert_eq!(plan.env["all_proxy"], "socks5h://127.0.0.1:40123");
        assert_eq!(plan.env["NO_PROXY"], "localhost,127.0.0.1,::1");
        assert_eq!(plan.env["CODEX_SANDBOX_NETWORK_DISABLED"], "1");
        let report = crate::verify(&r, &plan).unwrap();
        assert!(report.ok(), "{:#?}", report.mismatches);
    }

    #[test]
    fn the_host_loopback_is_a_degradation() {
        for network in [NetworkPolicy::Loopback, proxy(true)] {
            let mut p = Policy::preset(Preset::ReadOnly);
            p.network = network.clone();
            let (_d, r) = resolved(&p, TargetOs::Macos);
            let opts = Options::default().with_proxy_port(Some(40123));
            let e = compile(&r, &opts).unwrap_err();
            assert!(e.to_string().contains("private loopback"), "{e}");
            assert!(e.hint().unwrap().contains("--best-effort"));
            let plan = compile(&r, &opts.clone().with_best_effort(true)).unwrap();
            assert_eq!(plan.degradations.len(), 1, "{network:?}");
            assert_eq!(
                plan.degradations[0].capability,
                sandbox_core::Capability::LoopbackOnly
            );
            assert!(plan
                .profile
                .contains("(allow network-outbound (remote ip \"localhost:*\"))\n"));
            assert!(plan
                .profile
                .contains("(allow network-bind network-inbound (local ip \"localhost:*\"))\n"));
            assert!(!plan.profile.contains("(allow network-outbound)"));
            assert!(!plan.profile.contains("\"*:"));
            let report = crate::verify(&r, &plan).unwrap();
            assert!(report.ok(), "{network:?}: {:#?}", report.mismatches);
        }
    }

    #[test]
    fn a_policy_resolved_for_linux_is_refused() {
        let (_d, r) = resolved(&Policy::preset(Preset::ReadOnly), TargetOs::Linux);
        assert!(matches!(
            compile(&r, &Options::default()).unwrap_err(),
            Error::WrongTarget(TargetOs::Linux)
        ));
    }

    #[test]
    fn unrestricted_runs_the_command_as_is() {
        let (_d, r) = resolved(&Policy::preset(Preset::DangerFullAccess), TargetOs::Macos);
        let plan = compile(&r, &Options::default()).unwrap();
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
        let plan = compile(&r, &Options::default()).unwrap();
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
        let report = crate::verify(&r, &plan).unwrap();
        assert!(
            report.ok(),
            "{:#?}",
            &report.mismatches[..report.mismatches.len().min(6)]
        );
    }

    #[test]
    fn unix_socket_modes() {
        let compiled = |mode: UnixSockets, network: NetworkPolicy| {
            let mut p = Policy::preset(Preset::ReadOnly);
            p.unix_sockets = mode;
            p.network = network;
            let (_d, r) = resolved(&p, TargetOs::Macos);
            let plan = compile(&r, &Options::default()).unwrap();
            let report = crate::verify(&r, &plan).unwrap();
            assert!(report.ok(), "{:#?}", report.mismatches);
            plan.profile
        };
        // socketpair always; no host socket by default, with or without the network.
        for net in [NetworkPolicy::Off, NetworkPolicy::Full] {
            let none = compiled(UnixSockets::None, net.clone());
            assert!(none.contains("(allow system-socket (socket-domain AF_UNIX))"));
            assert!(!none.contains("(allow network-outbound\n  (remote unix-socket"));
            assert!(!none.contains("(allow network-outbound (remote unix-socket))"));
        }
        let all = compiled(UnixSockets::All, NetworkPolicy::Off);
        assert!(
            all.contains("(allow network-outbound\n  (remote unix-socket))"),
            "{all}"
        );
        // With full network, unix sockets are taken away again before any grant, and only
        // DNS's socket comes back.
        let full = compiled(UnixSockets::None, NetworkPolicy::Full);
        let deny = full
            .find("(deny network-outbound (remote unix-socket))")
            .unwrap();
        assert!(full.find("(allow network-outbound)").unwrap() < deny);
        assert!(full[deny..].contains("mDNSResponder"));
        assert!(!full.contains("(allow system-socket)\n"));
    }

    #[test]
    fn tiocsti_is_denied_by_the_last_rule() {
        for preset in [Preset::ReadOnly, Preset::WorkspaceWrite] {
            let mut p = Policy::preset(preset);
            p.network = NetworkPolicy::Full;
            let (_d, r) = resolved(&p, TargetOs::Macos);
            let plan = compile(&r, &Options::default()).unwrap();
            let rules = crate::sbpl::parse(&plan.profile).unwrap().rules;
            let last = rules.last().unwrap();
            assert_eq!(last.action, crate::sbpl::Action::Deny);
            assert_eq!(last.ops, ["file-ioctl"]);
            assert!(
                matches!(&last.filters[..], [crate::sbpl::Filter::Other { name, args, .. }]
                    if name == "ioctl-command" && args == &["TIOCSTI"]),
                "{last:?}"
            );
        }
    }

    #[test]
    fn network_on_allows_only_the_needed_socket_domains_and_closes_the_keychain_with_denies() {
        let mut p = Policy::preset(Preset::ReadOnly);
        p.network = NetworkPolicy::Full;
        let (d, r) = resolved(&p, TargetOs::Macos);
        let open = compile(&r, &Options::default()).unwrap().profile;
        assert!(!open.contains("(allow system-socket)"), "{open}");
        assert!(open.contains("(socket-domain AF_INET6)"));
        assert!(open.contains("(require-all (socket-domain AF_SYSTEM) (socket-protocol 2))"));
        assert!(open.contains("com.apple.SecurityServer"));
        p.entries.push(Entry::new(
            Target::Path(d.path().join("secrets")),
            Access::Deny,
            "t",
        ));
        let (_d2, r) = resolved(&p, TargetOs::Macos);
        let closed = compile(&r, &Options::default()).unwrap().profile;
        assert!(!closed.contains("com.apple.SecurityServer"), "{closed}");
        let mut g = Policy::preset(Preset::ReadOnly);
        g.network = NetworkPolicy::Full;
        g.add_deny_glob("**/*.pem".into(), "t");
        let (_d3, r) = resolved(&g, TargetOs::Macos);
        let globbed = compile(&r, &Options::default()).unwrap().profile;
        assert!(!globbed.contains("com.apple.SecurityServer"));
    }

    #[test]
    fn markers_say_whether_the_network_is_off() {
        let mut p = Policy::preset(Preset::ReadOnly);
        let (_d, r) = resolved(&p, TargetOs::Macos);
        let env = compile(&r, &Options::default()).unwrap().env;
        assert_eq!(
            env.get("CODEX_SANDBOX").map(String::as_str),
            Some("seatbelt")
        );
        assert_eq!(
            env.get("CODEX_SANDBOX_NETWORK_DISABLED")
                .map(String::as_str),
            Some("1")
        );
        p.network = NetworkPolicy::Full;
        let (_d, r) = resolved(&p, TargetOs::Macos);
        let env = compile(&r, &Options::default()).unwrap().env;
        assert!(!env.contains_key("CODEX_SANDBOX_NETWORK_DISABLED"));
    }
}
