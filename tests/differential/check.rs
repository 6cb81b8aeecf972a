//! Runs one generated case under a real backend and compares every result with the oracle.

use crate::gen::{self, CasePolicy, Op, Part, Rng};
use crate::support::{self, User};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const PROBE: &str = include_str!("probe.py");
/// Operations per case (reads of the whole tree come on top).
const OPS_BUDGET: usize = 900;

#[derive(Default, Clone, Debug)]
pub struct Stats {
    pub cases: usize,
    pub decisions: usize,
    /// Documented differences met, by what the documentation says.
    pub known: BTreeMap<&'static str, usize>,
    pub refused: usize,
    pub mismatches: usize,
    pub elapsed: Duration,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.cases += o.cases;
        self.decisions += o.decisions;
        for (k, n) in &o.known {
            *self.known.entry(k).or_default() += n;
        }
        self.refused += o.refused;
        self.mismatches += o.mismatches;
    }
}

pub struct Checked {
    pub stats: Stats,
    /// One printable reproducer per mismatch.
    pub reports: Vec<String>,
}

pub enum Outcome {
    Checked(Checked),
    /// The launch was refused (exit 125): fail-closed, nothing to compare.
    Refused(String),
}

/// Refusals the README documents as limits, by the words of their message: the launch fails
/// closed (125) for a policy that backend cannot enforce.
const DOCUMENTED_REFUSALS: [(&str, &str); 4] = [
    (
        "the policy denies reading it",
        "a command cannot start in a working directory it may not read",
    ),
    (
        "not valid UTF-8",
        "bwrap cannot take a path that is not UTF-8 (auto uses Landlock)",
    ),
    (
        "parent directory does not exist",
        "Landlock cannot keep a path uncreatable below a missing directory",
    ),
    (
        "holding the symbolic link",
        "bwrap cannot hold another user's link at a protected name",
    ),
];

/// Which documented limit a refusal message is, if any.
pub fn documented_refusal(why: &str) -> Option<&'static str> {
    DOCUMENTED_REFUSALS
        .iter()
        .find(|(words, _)| why.contains(words))
        .map(|(_, reason)| *reason)
}

/// The oracle's operations, as `sandbox explain --op` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Q {
    Read,
    Write,
    Create,
    Exec,
}

impl Q {
    fn name(self) -> &'static str {
        match self {
            Q::Read => "read",
            Q::Write => "write",
            Q::Create => "create",
            Q::Exec => "exec",
        }
    }
}

/// One oracle answer.
#[derive(Clone, Debug)]
struct Answer {
    q: Q,
    path: PathBuf,
    allowed: bool,
    rule: String,
}

/// What is at a path, for the unchanged-tree check.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    kind: &'static str,
    mode: u32,
    size: u64,
    content: Vec<u8>,
    link: Option<PathBuf>,
}

fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(m) = p.symlink_metadata() else {
            continue;
        };
        let ft = m.file_type();
        let (kind, content, link) = if ft.is_symlink() {
            ("link", Vec::new(), std::fs::read_link(&p).ok())
        } else if ft.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                for e in rd.flatten() {
                    stack.push(e.path());
                }
            }
            ("dir", Vec::new(), None)
        } else if ft.is_file() {
            ("file", std::fs::read(&p).unwrap_or_default(), None)
        } else {
            ("other", Vec::new(), None)
        };
        out.insert(
            p,
            Entry {
                kind,
                mode: m.mode() & 0o7777,
                size: m.size(),
                content,
                link,
            },
        );
    }
    out
}

fn fresh_root(user: &User) -> PathBuf {
    let d = support::Dir::new(user, Path::new("/tmp"));
    let p = d.path.clone();
    std::mem::forget(d); // removed by `cleanup`
    p
}

fn cleanup(root: &Path) {
    let _ = std::fs::remove_dir_all(root);
}

fn give(user: &User, root: &Path) {
    if !support::users()[0].is_root() {
        return;
    }
    let _ = Command::new("chown")
        .arg("-R")
        .arg("-h")
        .arg(format!("{}:{}", user.uid, user.gid))
        .arg(root)
        .status();
}

/// The same case laid out twice: `a` for the sandbox, `b` for the unsandboxed control.
struct Layout {
    a: gen::Tree,
    b: gen::Tree,
    policy: CasePolicy,
    ops: Vec<Op>,
}

fn layout(seed: u64, user: &User) -> Layout {
    let (ra, rb) = (fresh_root(user), fresh_root(user));
    let mut rng = Rng::new(seed);
    let a = gen::tree(&mut rng, &ra);
    let b = gen::tree(&mut Rng::new(seed), &rb);
    let policy = gen::policy(&mut rng, &a);
    let ops = gen::ops(&mut rng, &a, OPS_BUDGET);
    Layout { a, b, policy, ops }
}

/// Writes the config (if any) and hands both trees to the user.
fn prepare(l: &Layout, policy: &CasePolicy, user: &User) {
    if let (Some(path), Some(text)) = (&policy.config_path, policy.config()) {
        std::fs::write(path, text).unwrap();
    }
    give(user, &l.a.root);
    give(user, &l.b.root);
}

fn rebase(p: &Path, from: &Path, to: &Path) -> PathBuf {
    match p.strip_prefix(from) {
        Ok(rel) if rel.as_os_str().is_empty() => to.to_path_buf(),
        Ok(rel) => to.join(rel),
        Err(_) => p.to_path_buf(),
    }
}

fn map_op(op: &Op, from: &Path, to: &Path) -> Op {
    let m = |p: &Path| rebase(p, from, to);
    match op {
        Op::Read(p) => Op::Read(m(p)),
        Op::Exec(p) => Op::Exec(m(p)),
        Op::Write(p) => Op::Write(m(p)),
        Op::Truncate(p) => Op::Truncate(m(p)),
        Op::Chmod(p) => Op::Chmod(m(p)),
        Op::Create(p) => Op::Create(m(p)),
        Op::Mkdir(p) => Op::Mkdir(m(p)),
        Op::Symlink(p) => Op::Symlink(m(p)),
        Op::Unlink(p) => Op::Unlink(m(p)),
        Op::Link { src, new } => Op::Link {
            src: m(src),
            new: m(new),
        },
        Op::Rename { from: f, to: t } => Op::Rename {
            from: m(f),
            to: m(t),
        },
    }
}

fn is_link(p: &Path) -> bool {
    p.symlink_metadata()
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false)
}

fn parent(p: &Path) -> PathBuf {
    p.parent().unwrap_or(Path::new("/")).to_path_buf()
}

/// The oracle questions an operation depends on: it is allowed when all of them are.
fn questions(op: &Op, before: &BTreeMap<PathBuf, Entry>) -> Vec<(Q, PathBuf)> {
    // Removing a name changes its directory; removing a symlink touches nothing else (the
    // oracle would follow the link, so ask only about the directory).
    let mut qs = questions_for_object(op, before);
    // Reaching a path through a symlink also reads the directory that holds the link: the
    // oracle answers for the link's target, the kernel walks the link's own directory first.
    for p in op.paths() {
        for prefix in p.ancestors().skip(1).collect::<Vec<_>>().into_iter().rev() {
            if is_link(prefix) {
                qs.push((Q::Read, parent(prefix)));
            }
        }
        if is_link(p)
            && matches!(
                op,
                Op::Read(_) | Op::Exec(_) | Op::Write(_) | Op::Truncate(_) | Op::Chmod(_)
            )
        {
            qs.push((Q::Read, parent(p)));
        }
    }
    qs
}

/// The questions about the objects an operation acts on.
fn questions_for_object(op: &Op, before: &BTreeMap<PathBuf, Entry>) -> Vec<(Q, PathBuf)> {
    let remove = |p: &Path| -> Vec<(Q, PathBuf)> {
        if is_link(p) {
            vec![(Q::Write, parent(p))]
        } else {
            vec![(Q::Write, p.to_path_buf()), (Q::Write, parent(p))]
        }
    };
    match op {
        Op::Read(p) => vec![(Q::Read, p.clone())],
        Op::Exec(p) => vec![(Q::Exec, p.clone())],
        Op::Write(p) | Op::Truncate(p) | Op::Chmod(p) => vec![(Q::Write, p.clone())],
        Op::Create(p) | Op::Mkdir(p) | Op::Symlink(p) => vec![(Q::Create, p.clone())],
        Op::Link { src, new } => vec![(Q::Create, new.clone()), (Q::Write, src.clone())],
        Op::Unlink(p) => remove(p),
        Op::Rename { from, to } => {
            let mut q = remove(from);
            q.push((Q::Create, to.clone()));
            // Moving a directory moves everything in it: each must be writable.
            if !is_link(from) && from.is_dir() {
                for p in before.keys().filter(|p| p.starts_with(from) && *p != from) {
                    if !is_link(p) {
                        q.push((Q::Write, p.clone()));
                    }
                }
            }
            q
        }
    }
}

/// Asks `sandbox explain` (as `user`, with the case's flags) about every question.
fn oracle(
    user: &User,
    cwd: &Path,
    policy: &CasePolicy,
    qs: &[(Q, PathBuf)],
) -> Result<BTreeMap<(Q, PathBuf), Answer>, String> {
    let mut out = BTreeMap::new();
    for q in [Q::Read, Q::Write, Q::Create, Q::Exec] {
        let mut paths: Vec<&PathBuf> = qs.iter().filter(|(k, _)| *k == q).map(|(_, p)| p).collect();
        paths.sort();
        paths.dedup();
        if paths.is_empty() {
            continue;
        }
        let mut args: Vec<OsString> = vec!["explain".into()];
        args.extend(policy.args());
        args.extend(["--json".into(), "--op".into(), q.name().into(), "--".into()]);
        args.extend(paths.iter().map(|p| p.as_os_str().to_os_string()));
        let o = support::sandbox(user, cwd, &args);
        // 0: all allowed, 1: some denied; anything else is a failure.
        if !matches!(o.status.code(), Some(0 | 1)) {
            return Err(format!(
                "explain failed ({:?}): {}",
                o.status,
                support::stderr(&o)
            ));
        }
        let rows: serde_json::Value = serde_json::from_slice(&o.stdout)
            .map_err(|e| format!("explain printed no JSON ({e}): {}", support::stdout(&o)))?;
        let rows = rows.as_array().ok_or("explain JSON is not a list")?;
        if rows.len() != paths.len() {
            return Err(format!(
                "explain answered {} of {} paths",
                rows.len(),
                paths.len()
            ));
        }
        for (p, r) in paths.iter().zip(rows) {
            out.insert(
                (q, (*p).clone()),
                Answer {
                    q,
                    path: (*p).clone(),
                    allowed: r["allowed"].as_bool().ok_or("no `allowed`")?,
                    rule: r["rule"].as_str().unwrap_or("").to_string(),
                },
            );
        }
    }
    Ok(out)
}

/// Runs the probe on `ops` in `cwd`: sandboxed with `backend`, or bare when `backend` is None.
fn probe(
    user: &User,
    cwd: &Path,
    backend: Option<&str>,
    policy: &CasePolicy,
    ops: &[Op],
) -> Result<Vec<String>, Result<String, String>> {
    let mut cmd = match backend {
        Some(b) => {
            let mut args: Vec<OsString> = vec!["linux".into(), "--backend".into(), b.into()];
            args.extend(policy.args());
            args.extend([
                "--".into(),
                support::PYTHON.into(),
                "-c".into(),
                PROBE.into(),
            ]);
            support::sandbox_cmd(user, cwd, &args)
        }
        None => {
            let mut c = support::as_user(user, support::PYTHON);
            c.args(["-c", PROBE])
                .current_dir(cwd)
                .env_clear()
                .env("PATH", "/usr/local/bin:/usr/bin:/bin")
                .env("HOME", &user.home);
            c
        }
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the probe");
    let input: String = ops.iter().map(|o| o.line() + "\n").collect();
    if std::env::var_os("DIFFERENTIAL_DUMP").is_some() {
        for o in ops {
            println!("op: {}", o.describe());
        }
    }
    {
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child.wait_with_output().expect("wait for the probe");
    if out.status.code() == Some(125) {
        return Err(Ok(support::stderr(&out)));
    }
    let lines: Vec<String> = support::stdout(&out).lines().map(str::to_string).collect();
    if lines.len() != ops.len() {
        return Err(Err(format!(
            "the probe answered {} of {} operations ({:?}); stderr: {}",
            lines.len(),
            ops.len(),
            out.status,
            support::stderr(&out)
        )));
    }
    Ok(lines)
}

/// How a compared operation came out.
enum Verdict {
    Agree,
    /// A difference the project documents, named.
    Known(&'static str),
    Mismatch(String),
}

fn judge(
    root: &Path,
    op: &Op,
    answers: &[&Answer],
    sandboxed: &str,
    control: &str,
    unchanged: bool,
    was_missing: bool,
) -> Verdict {
    let allowed = answers.iter().all(|a| a.allowed);
    let ok = |s: &str| s.starts_with("ok");
    // A directory listing: which of the real names it shows.
    let names = |s: &str| -> Option<Vec<Vec<u8>>> {
        let hex = s.strip_prefix("ok dir:")?;
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
            .collect();
        Some(
            bytes
                .split(|&b| b == 0)
                .filter(|n| !n.is_empty())
                .map(<[u8]>::to_vec)
                .collect(),
        )
    };
    if let (Some(inside), Some(real)) = (names(sandboxed), names(control)) {
        let shown = real.iter().filter(|n| inside.contains(n)).count();
        if allowed && shown == real.len() {
            return Verdict::Agree;
        }
        if !allowed && (shown == 0 || real.is_empty()) {
            return Verdict::Agree;
        }
        if !allowed && shown < real.len() && !matches!(op, Op::Read(p) if !p.starts_with(root)) {
            return Verdict::Known(
                "under bwrap, a denied directory on the way to a path a deeper rule allows lists only the names on that way",
            );
        }
        return Verdict::Mismatch(format!(
            "the oracle {} listing it, but sandboxed the listing shows {shown} of its {} names",
            if allowed { "allows" } else { "denies" },
            real.len()
        ));
    }
    // Reads inside the tree compare content: a masked file reads differently from the real
    // one. Elsewhere (/proc, /etc) the content is not the case's to compare.
    let compare_content = matches!(op, Op::Read(p) if p.starts_with(root));
    if allowed {
        if sandboxed == control || (ok(sandboxed) && ok(control) && !compare_content) {
            return Verdict::Agree;
        }
        if sandboxed == "err EXDEV"
            && ok(control)
            && matches!(op, Op::Rename { .. } | Op::Link { .. })
        {
            return Verdict::Known(
                "a rename or hard link across the sandbox's mount points (writable roots, pinned directories) fails with EXDEV; mv and cp fall back to copying",
            );
        }
        if sandboxed == "err EBUSY"
            && ok(control)
            && matches!(op, Op::Rename { .. } | Op::Unlink(_))
        {
            return Verdict::Known(
                "a writable root or pinned directory is a mount point: removing or renaming it fails with EBUSY",
            );
        }
        if matches!(op, Op::Read(_)) && was_missing && ok(sandboxed) && !ok(control) {
            return Verdict::Known(
                "a missing protected path is held by an empty read-only placeholder while the command runs",
            );
        }
        return Verdict::Mismatch(format!(
            "the oracle allows it, but sandboxed it gave `{sandboxed}` where unsandboxed it gave `{control}`"
        ));
    }
    let denied_by = answers.iter().find(|a| !a.allowed).unwrap();
    let effective = ok(sandboxed) && (sandboxed == control || !compare_content);
    if !effective && unchanged {
        return Verdict::Agree;
    }
    let creates = matches!(
        op,
        Op::Create(_) | Op::Mkdir(_) | Op::Symlink(_) | Op::Link { .. } | Op::Rename { .. }
    );
    if creates && denied_by.q == Q::Create && denied_by.rule.starts_with("deny glob") {
        return Verdict::Known(
            "deny globs cover the files that exist when the command starts (explain says so)",
        );
    }
    Verdict::Mismatch(format!(
        "the oracle denies it ({} {}: {}), but sandboxed it gave `{sandboxed}`{}",
        denied_by.q.name(),
        gen::shell_quote(denied_by.path.as_os_str()),
        denied_by.rule,
        if unchanged {
            ""
        } else {
            " and the tree changed"
        }
    ))
}

/// Everything one comparison needs, for the report and for shrinking.
struct Found {
    op_index: usize,
    text: String,
}

/// Runs `ops` (a subset of the layout's, by index) under `policy` and compares.
fn compare(
    l: &Layout,
    policy: &CasePolicy,
    ops: &[usize],
    backend: &str,
    user: &User,
) -> Result<(Stats, Vec<Found>), Result<String, String>> {
    let ws = l.a.ws();
    let run_ops: Vec<Op> = ops.iter().map(|&i| l.ops[i].clone()).collect();
    let before = snapshot(&l.a.root);
    let mut qs = Vec::new();
    let per_op: Vec<Vec<(Q, PathBuf)>> = run_ops.iter().map(|o| questions(o, &before)).collect();
    for q in &per_op {
        qs.extend(q.iter().cloned());
    }
    let t0 = std::time::Instant::now();
    let answers = oracle(user, &ws, policy, &qs).map_err(Err)?;
    let t1 = std::time::Instant::now();
    let sandboxed = probe(user, &ws, Some(backend), policy, &run_ops)?;
    let t2 = std::time::Instant::now();
    let control_ops: Vec<Op> = run_ops
        .iter()
        .map(|o| map_op(o, &l.a.root, &l.b.root))
        .collect();
    let control = probe(user, &l.b.ws(), None, policy, &control_ops).map_err(|e| match e {
        Ok(s) | Err(s) => Err(format!("control run failed: {s}")),
    })?;
    let t3 = std::time::Instant::now();
    let after = snapshot(&l.a.root);
    if std::env::var_os("DIFFERENTIAL_TIMING").is_some() {
        println!(
            "timing: oracle {:?}, sandboxed probe {:?}, control {:?}, snapshot {:?}",
            t1 - t0,
            t2 - t1,
            t3 - t2,
            t3.elapsed()
        );
    }
    let mut stats = Stats {
        cases: 1,
        ..Stats::default()
    };
    let mut found = Vec::new();
    for (k, op) in run_ops.iter().enumerate() {
        let ans: Vec<&Answer> = per_op[k].iter().map(|q| &answers[q]).collect();
        let mut touched: Vec<&PathBuf> = Vec::new();
        for p in op.paths() {
            touched.extend(before.keys().filter(|k| k.starts_with(p)));
            touched.extend(after.keys().filter(|k| k.starts_with(p)));
        }
        // Reads and execs change nothing (other operations may change what they looked at).
        let unchanged = matches!(op, Op::Read(_) | Op::Exec(_))
            || touched.iter().all(|p| before.get(*p) == after.get(*p));
        let was_missing = op.paths().iter().any(|p| !before.contains_key(*p));
        stats.decisions += 1;
        match judge(
            &l.a.root,
            op,
            &ans,
            &sandboxed[k],
            &control[k],
            unchanged,
            was_missing,
        ) {
            Verdict::Agree => {}
            Verdict::Known(why) => *stats.known.entry(why).or_default() += 1,
            Verdict::Mismatch(why) => {
                stats.mismatches += 1;
                let rules: Vec<String> = ans
                    .iter()
                    .map(|a| {
                        format!(
                            "{} {} -> {} ({})",
                            a.q.name(),
                            gen::shell_quote(a.path.as_os_str()),
                            if a.allowed { "allow" } else { "deny" },
                            a.rule
                        )
                    })
                    .collect();
                found.push(Found {
                    op_index: ops[k],
                    text: format!("{}: {why}\n    oracle: {}", op.describe(), rules.join("; ")),
                });
            }
        }
    }
    Ok((stats, found))
}

/// Runs one seed; on a mismatch, shrinks it to a reproducer.
pub fn case(seed: u64, backend: &str, user: &User) -> Outcome {
    let t0 = std::time::Instant::now();
    let l = layout(seed, user);
    prepare(&l, &l.policy, user);
    if std::env::var_os("DIFFERENTIAL_TIMING").is_some() {
        println!("timing: layout {:?}", t0.elapsed());
    }
    let all: Vec<usize> = (0..l.ops.len()).collect();
    let result = compare(&l, &l.policy, &all, backend, user);
    let roots = [l.a.root.clone(), l.b.root.clone()];
    let out = match result {
        Err(Ok(refused)) => Outcome::Refused(refused.trim().to_string()),
        Err(Err(broken)) => Outcome::Checked(Checked {
            stats: Stats {
                cases: 1,
                mismatches: 1,
                ..Stats::default()
            },
            reports: vec![format!(
                "MISMATCH seed {seed} backend {backend} user {}: the case could not be compared: {broken}\n  policy: {}",
                user.name,
                l.policy.describe()
            )],
        }),
        Ok((stats, found)) => {
            let reports = found
                .iter()
                .take(3)
                .map(|f| shrink(seed, backend, user, f))
                .chain(
                    (found.len() > 3)
                        .then(|| format!("  … and {} more mismatches in seed {seed}", found.len() - 3)),
                )
                .collect();
            Outcome::Checked(Checked { stats, reports })
        }
    };
    for r in roots {
        cleanup(&r);
    }
    out
}

/// Replays one mismatching operation alone on a fresh copy of the case, then drops policy
/// parts one at a time while the mismatch persists, and prints what is left.
fn shrink(seed: u64, backend: &str, user: &User, f: &Found) -> String {
    let still = |policy: &CasePolicy| -> Option<String> {
        let l = layout(seed, user);
        let mut p = policy.clone();
        p.base = rebase_args(&p.base, &l);
        p.parts = p.parts.iter().map(|x| rebase_part(x, &l)).collect();
        p.config_path = p
            .config_path
            .as_ref()
            .map(|_| l.a.root.join("cfg/policy.toml"));
        prepare(&l, &p, user);
        let r = compare(&l, &p, &[f.op_index], backend, user);
        cleanup(&l.a.root);
        cleanup(&l.b.root);
        match r {
            Ok((_, found)) if !found.is_empty() => {
                Some(format!("{}\n  policy: {}", found[0].text, p.describe()))
            }
            _ => None,
        }
    };
    let original = layout(seed, user);
    cleanup(&original.a.root);
    cleanup(&original.b.root);
    let mut policy = original.policy.clone();
    let Some(mut text) = still(&policy) else {
        return format!(
            "MISMATCH seed {seed} backend {backend} user {} (only with the other operations of the case):\n  {}\n  policy: {}",
            user.name,
            f.text,
            policy.describe()
        );
    };
    let mut i = 0;
    while i < policy.parts.len() {
        let mut smaller = policy.clone();
        smaller.parts.remove(i);
        if let Some(t) = still(&smaller) {
            policy = smaller;
            text = t;
        } else {
            i += 1;
        }
    }
    format!(
        "MISMATCH seed {seed} backend {backend} user {} (replay: cargo test --test differential -- --seed {seed} --backend {backend}):\n  {text}",
        user.name
    )
}

/// Each layout has fresh roots: move a policy's paths from the first layout to a new one.
fn rebase_args(args: &[OsString], l: &Layout) -> Vec<OsString> {
    args.iter().map(|a| rebase_os(a, l)).collect()
}

fn rebase_os(a: &OsString, l: &Layout) -> OsString {
    // Roots are `/tmp/sbx-e2e-XXXX`: swap whatever root a path names for this layout's.
    let bytes = a.as_bytes();
    let prefix = b"/tmp/sbx-e2e-";
    if bytes.starts_with(prefix) {
        let rest = &bytes[prefix.len()..];
        let cut = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
        let mut v = l.a.root.as_os_str().as_bytes().to_vec();
        v.extend_from_slice(&rest[cut..]);
        return std::os::unix::ffi::OsStringExt::from_vec(v);
    }
    a.clone()
}

fn rebase_part(p: &Part, l: &Layout) -> Part {
    match p {
        Part::Flags(f) => Part::Flags(rebase_args(f, l)),
        Part::Sub(k, v) => Part::Sub(k.clone(), v),
        Part::Abs(k, v) => Part::Abs(
            rebase_os(&OsString::from(k), l)
                .to_string_lossy()
                .into_owned(),
            v,
        ),
    }
}
