//! Generates one differential case from a seed: a real directory tree under a fresh root, a
//! policy over it (flags, or a `[permissions]` profile in a config file), and the operations
//! the probe performs inside one sandbox launch.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// A small deterministic generator (splitmix64): the same seed gives the same case.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Names for generated entries: plain, spaced, with a newline, a leading dash, not UTF-8,
/// look-alikes of protected names, and names the deny globs aim at.
const NAMES: &[&[u8]] = &[
    b"a",
    b"b",
    b"docs",
    b"src",
    b"sp ace",
    b"new\nline",
    b"-dash",
    b"--rf",
    b"\xff\xfe-latin1",
    b"x.env",
    b".env",
    b"secret.key",
    b"key",
    b".gitx",
    b"git",
    b".codex",
    b".agents",
    b"notes.txt",
    b"tab\tx",
    b"u\xc3\xafn",
];

/// What kind of entry a tree path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Link,
}

/// One entry the generator made (or left missing on purpose).
#[derive(Clone, Debug)]
pub struct Node {
    pub path: PathBuf,
    pub kind: Kind,
}

/// The generated tree: `root/ws` (the working directory), `root/extra` (sometimes a second
/// writable root), `root/out` (outside every writable root), `root/cfg` (the config file).
pub struct Tree {
    pub root: PathBuf,
    pub nodes: Vec<Node>,
    /// Paths that do not exist, next to existing ones (for create and for rules).
    pub missing: Vec<PathBuf>,
}

impl Tree {
    pub fn ws(&self) -> PathBuf {
        self.root.join("ws")
    }
    pub fn of_kind(&self, kind: Kind) -> Vec<&Node> {
        self.nodes.iter().filter(|n| n.kind == kind).collect()
    }
}

fn join(dir: &Path, name: &[u8]) -> PathBuf {
    dir.join(OsStr::from_bytes(name))
}

/// Builds the tree on disk (as the current process; the harness gives it to the test user).
pub fn tree(rng: &mut Rng, root: &Path) -> Tree {
    let mut t = Tree {
        root: root.to_path_buf(),
        nodes: Vec::new(),
        missing: Vec::new(),
    };
    let mut counter = 0u32;
    for top in ["ws", "extra", "out", "cfg"] {
        let d = root.join(top);
        std::fs::create_dir_all(&d).unwrap();
        t.nodes.push(Node {
            path: d.clone(),
            kind: Kind::Dir,
        });
        if top != "cfg" {
            fill(rng, &mut t, &d, 0, &mut counter);
        }
    }
    let ws = t.ws();
    // A repository: a `.git` directory, or a `gitdir:` pointer to one outside the workspace.
    match rng.below(3) {
        0 => {
            let g = ws.join(".git");
            std::fs::create_dir_all(g.join("hooks")).unwrap();
            file(&mut t, &g.join("config"), &mut counter);
            file(&mut t, &g.join("hooks/pre-commit"), &mut counter);
            t.nodes.push(Node {
                path: g.clone(),
                kind: Kind::Dir,
            });
            t.nodes.push(Node {
                path: g.join("hooks"),
                kind: Kind::Dir,
            });
        }
        1 => {
            let gd = root.join("out/gitdir");
            std::fs::create_dir_all(gd.join("hooks")).unwrap();
            t.nodes.push(Node {
                path: gd.clone(),
                kind: Kind::Dir,
            });
            file(&mut t, &gd.join("config"), &mut counter);
            let ptr = ws.join(".git");
            // Relative, so the sandboxed tree and the control tree read the same bytes.
            std::fs::write(&ptr, "gitdir: ../out/gitdir\n").unwrap();
            t.nodes.push(Node {
                path: ptr,
                kind: Kind::File,
            });
        }
        _ => t.missing.push(ws.join(".git")),
    }
    // Symlinks inside the workspace, to the workspace, to the extra root and outside.
    let targets: Vec<PathBuf> = t
        .nodes
        .iter()
        .filter(|n| n.kind != Kind::Link && !n.path.ends_with("cfg"))
        .map(|n| n.path.clone())
        .collect();
    for _ in 0..4 {
        let target = rng.pick(&targets).clone();
        let dirs: Vec<PathBuf> = t
            .nodes
            .iter()
            .filter(|n| n.kind == Kind::Dir && n.path.starts_with(root.join("ws")))
            .map(|n| n.path.clone())
            .collect();
        let dir = rng.pick(&dirs).clone();
        counter += 1;
        let link = dir.join(format!("ln{counter}"));
        if std::os::unix::fs::symlink(&target, &link).is_ok() {
            t.nodes.push(Node {
                path: link,
                kind: Kind::Link,
            });
        }
    }
    t
}

/// Fills `dir` with files, subdirectories (two levels at most) and missing siblings.
fn fill(rng: &mut Rng, t: &mut Tree, dir: &Path, depth: usize, counter: &mut u32) {
    let n = 5 + rng.below(8);
    for _ in 0..n {
        let name = *rng.pick(NAMES);
        let p = join(dir, name);
        if p.symlink_metadata().is_ok() || t.missing.contains(&p) {
            continue;
        }
        if depth < 2 && rng.chance(35) {
            std::fs::create_dir(&p).unwrap();
            t.nodes.push(Node {
                path: p.clone(),
                kind: Kind::Dir,
            });
            fill(rng, t, &p, depth + 1, counter);
        } else if rng.chance(80) {
            file(t, &p, counter);
        } else if !t.missing.contains(&p) {
            t.missing.push(p);
        }
    }
}

/// A regular executable file with unique content (so a masked read is told from the real one).
fn file(t: &mut Tree, p: &Path, counter: &mut u32) {
    *counter += 1;
    std::fs::write(p, format!("#!/bin/sh\n# file {counter}\nexit 0\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    t.nodes.push(Node {
        path: p.to_path_buf(),
        kind: Kind::File,
    });
}

/// One part of a generated policy; reproducers are shrunk by dropping parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Flags given as they are (`--writable-root X`, `--deny-read G`, `-c k=v`).
    Flags(Vec<OsString>),
    /// `":project_roots" = { KEY = ACCESS }` in the profile.
    Sub(String, &'static str),
    /// `KEY = ACCESS` at the top of the profile's filesystem table.
    Abs(String, &'static str),
}

/// The policy of a case: the flags given to both `sandbox explain` and `sandbox linux`, and
/// the config file they may name (a `[permissions]` profile, when `profile` is set).
#[derive(Clone, Debug)]
pub struct CasePolicy {
    pub base: Vec<OsString>,
    pub parts: Vec<Part>,
    /// Where the profile's config file goes, when the policy is a profile.
    pub config_path: Option<PathBuf>,
}

impl CasePolicy {
    /// The command-line flags.
    pub fn args(&self) -> Vec<OsString> {
        let mut a = self.base.clone();
        for p in &self.parts {
            if let Part::Flags(f) = p {
                a.extend(f.iter().cloned());
            }
        }
        if let Some(c) = &self.config_path {
            a.push("--config".into());
            a.push(c.clone().into());
        }
        a
    }

    /// The config file's text, when the policy is a profile.
    pub fn config(&self) -> Option<String> {
        self.config_path.as_ref()?;
        let mut toml = String::from(
            "default_permissions = \"d\"\n[permissions.d.filesystem]\n\":root\" = \"read\"\n",
        );
        let sub: Vec<String> = std::iter::once(("\".\"".to_string(), "write"))
            .chain(self.parts.iter().filter_map(|p| match p {
                Part::Sub(k, v) => Some((toml_key(k), *v)),
                _ => None,
            }))
            .map(|(k, v)| format!("{k} = \"{v}\""))
            .collect();
        toml.push_str(&format!("\":project_roots\" = {{ {} }}\n", sub.join(", ")));
        for p in &self.parts {
            if let Part::Abs(k, v) = p {
                toml.push_str(&format!("{} = \"{v}\"\n", toml_key(k)));
            }
        }
        toml.push_str("[permissions.d.network]\nenabled = false\n");
        Some(toml)
    }

    /// A copy-pasteable form for reproducers.
    pub fn describe(&self) -> String {
        let mut s = String::from("flags:");
        for a in self.args() {
            s.push(' ');
            s.push_str(&shell_quote(&a));
        }
        if let Some(c) = self.config() {
            s.push_str("\nconfig file:\n");
            s.push_str(&c);
        }
        s
    }
}

pub fn shell_quote(a: &OsStr) -> String {
    let s = a.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,".contains(c))
    {
        s.into_owned()
    } else {
        format!("{:?}", a)
    }
}

fn utf8_rel(root: &Path, p: &Path) -> Option<String> {
    let rel = p.strip_prefix(root).ok()?;
    let s = rel.to_str()?;
    // TOML keys and deny globs take plain names; leave odd ones to the tree and the ops.
    if s.is_empty() || s.contains(['\n', '\t', '"', '\\', '*', '?', '[', '{']) {
        return None;
    }
    Some(s.to_string())
}

const GLOBS: &[&str] = &[
    "**/*.env",
    "**/secret*",
    "**/k?y",
    "ws/**/notes.txt",
    "**/.gitx",
];

fn flags(items: &[&OsStr]) -> Part {
    Part::Flags(items.iter().map(|s| s.to_os_string()).collect())
}

/// Generates a policy over `t`: a preset with flags, or a permissions profile.
pub fn policy(rng: &mut Rng, t: &Tree) -> CasePolicy {
    let ws = t.ws();
    let mut base: Vec<OsString> = vec!["-C".into(), ws.clone().into()];
    let mut parts = Vec::new();
    if rng.chance(45) {
        // A preset, with flags.
        if rng.chance(20) {
            base.extend(["-s".into(), "read-only".into()]);
        } else {
            base.push("--full-auto".into());
            if rng.chance(50) {
                let extra = t.root.join("extra");
                parts.push(flags(&["--writable-root".as_ref(), extra.as_os_str()]));
            }
            if rng.chance(60) {
                // /tmp is a writable root of the preset; leave it out so `out` stays outside.
                parts.push(flags(&[
                    "-c".as_ref(),
                    "sandbox_workspace_write.exclude_slash_tmp=true".as_ref(),
                ]));
            }
        }
        if rng.chance(50) {
            let g = t.root.join(rng.pick(GLOBS));
            parts.push(flags(&["--deny-read".as_ref(), g.as_os_str()]));
        }
        if rng.chance(30) {
            parts.push(flags(&[
                "-c".as_ref(),
                r#"sandbox.protected_names=[".git",".codex",".agents","docs"]"#.as_ref(),
            ]));
        }
        return CasePolicy {
            base,
            parts,
            config_path: None,
        };
    }
    // A permissions profile with nested rules on existing and missing paths.
    let candidates: Vec<PathBuf> = t
        .nodes
        .iter()
        .filter(|n| n.kind != Kind::Link)
        .map(|n| n.path.clone())
        .chain(t.missing.iter().cloned())
        .collect();
    let rules = 1 + rng.below(5);
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..rules {
        let p = rng.pick(&candidates).clone();
        let access = *rng.pick(&["read", "write", "none", "read", "none"]);
        if p.starts_with(&ws) && p != ws {
            if let Some(rel) = utf8_rel(&ws, &p) {
                if !seen.contains(&rel) {
                    seen.push(rel.clone());
                    parts.push(Part::Sub(rel, access));
                }
            }
        } else if let Some(rel) = utf8_rel(&t.root, &p) {
            let a = t.root.join(rel).display().to_string();
            if !seen.contains(&a) && !a.contains("/cfg") {
                seen.push(a.clone());
                parts.push(Part::Abs(a, access));
            }
        }
    }
    // Shapes the backends have got wrong before, made likely rather than left to chance: a
    // read rule on a directory inside the writable workspace, a rule on a missing path there,
    // and a writable path below a denied directory.
    let in_ws = |kind: Option<Kind>, seen: &[String]| -> Vec<String> {
        t.nodes
            .iter()
            .filter(|n| n.path.starts_with(&ws) && n.path != ws)
            .filter(|n| kind.is_none_or(|k| n.kind == k) && n.kind != Kind::Link)
            .filter_map(|n| utf8_rel(&ws, &n.path))
            .filter(|r| !seen.contains(r))
            .collect()
    };
    let dirs = in_ws(Some(Kind::Dir), &seen);
    if rng.chance(70) && !dirs.is_empty() {
        let d = rng.pick(&dirs).clone();
        seen.push(d.clone());
        parts.push(Part::Sub(d, "read"));
    }
    let missing: Vec<String> = t
        .missing
        .iter()
        .filter(|m| m.starts_with(&ws))
        .filter_map(|m| utf8_rel(&ws, m))
        .filter(|r| !seen.contains(r))
        .collect();
    if rng.chance(50) && !missing.is_empty() {
        let m = rng.pick(&missing).clone();
        seen.push(m.clone());
        let access: &'static str = if rng.chance(50) { "read" } else { "none" };
        parts.push(Part::Sub(m, access));
    }
    let dirs = in_ws(Some(Kind::Dir), &seen);
    if rng.chance(40) && !dirs.is_empty() {
        let d = rng.pick(&dirs).clone();
        let below: Vec<String> = in_ws(None, &seen)
            .into_iter()
            .filter(|r| r.starts_with(&format!("{d}/")))
            .collect();
        seen.push(d.clone());
        parts.push(Part::Sub(d, "none"));
        if !below.is_empty() {
            let b = rng.pick(&below).clone();
            seen.push(b.clone());
            let access: &'static str = if rng.chance(50) { "write" } else { "read" };
            parts.push(Part::Sub(b, access));
        }
    }
    if rng.chance(40) {
        let g = *rng.pick(&["**/*.env", "**/secret*", "**/k?y"]);
        parts.push(Part::Sub(g.into(), "none"));
    }
    if rng.chance(40) && !seen.iter().any(|s| s.ends_with("/extra")) {
        parts.push(Part::Abs(
            t.root.join("extra").display().to_string(),
            "write",
        ));
    }
    CasePolicy {
        base,
        parts,
        config_path: Some(t.root.join("cfg/policy.toml")),
    }
}

fn toml_key(k: &str) -> String {
    format!("\"{}\"", k.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One operation for the probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Read(PathBuf),
    Exec(PathBuf),
    Write(PathBuf),
    Truncate(PathBuf),
    Chmod(PathBuf),
    Create(PathBuf),
    Mkdir(PathBuf),
    Symlink(PathBuf),
    Link { src: PathBuf, new: PathBuf },
    Unlink(PathBuf),
    Rename { from: PathBuf, to: PathBuf },
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Read(_) => "read",
            Op::Exec(_) => "exec",
            Op::Write(_) => "write",
            Op::Truncate(_) => "truncate",
            Op::Chmod(_) => "chmod",
            Op::Create(_) => "create",
            Op::Mkdir(_) => "mkdir",
            Op::Symlink(_) => "symlink",
            Op::Link { .. } => "link",
            Op::Unlink(_) => "unlink",
            Op::Rename { .. } => "rename",
        }
    }

    /// The paths the operation acts on (for the unchanged-tree check).
    pub fn paths(&self) -> Vec<&Path> {
        match self {
            Op::Link { src, new } => vec![src, new],
            Op::Rename { from, to } => vec![from, to],
            Op::Read(p)
            | Op::Exec(p)
            | Op::Write(p)
            | Op::Truncate(p)
            | Op::Chmod(p)
            | Op::Create(p)
            | Op::Mkdir(p)
            | Op::Symlink(p)
            | Op::Unlink(p) => vec![p],
        }
    }

    /// The probe's input line.
    pub fn line(&self) -> String {
        let hex = |p: &Path| -> String {
            p.as_os_str()
                .as_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        match self {
            Op::Link { src, new } => format!("link\t{}\t{}", hex(src), hex(new)),
            Op::Rename { from, to } => format!("rename\t{}\t{}", hex(from), hex(to)),
            Op::Symlink(p) => format!("symlink\t{}\t{}", hex(p), hex(Path::new("/etc/hostname"))),
            other => format!("{}\t{}", other.name(), hex(other.paths()[0])),
        }
    }

    pub fn describe(&self) -> String {
        let q = |p: &Path| shell_quote(p.as_os_str());
        match self {
            Op::Link { src, new } => format!("link {} -> {}", q(src), q(new)),
            Op::Rename { from, to } => format!("rename {} -> {}", q(from), q(to)),
            other => format!("{} {}", other.name(), q(other.paths()[0])),
        }
    }
}

/// Fresh names next to existing directories (never existing, never reused).
fn fresh(rng: &mut Rng, t: &Tree, used: &mut Vec<PathBuf>, tag: &str) -> PathBuf {
    let dirs: Vec<&Node> = t.of_kind(Kind::Dir);
    loop {
        let d = &rng.pick(&dirs).path;
        let name: Vec<u8> = if rng.chance(70) {
            format!("new-{tag}-{}", rng.below(1_000_000)).into_bytes()
        } else {
            // Names the policy speaks of: protected names, glob targets, odd bytes.
            let mut n = rng.pick(NAMES).to_vec();
            if rng.chance(30) {
                n.extend_from_slice(format!("{}", rng.below(100)).as_bytes());
            }
            n
        };
        let p = d.join(OsString::from_vec(name));
        if p.symlink_metadata().is_err() && !used.contains(&p) {
            used.push(p.clone());
            return p;
        }
    }
}

/// Operations in an order where none can change what a later one sees: reads and execs
/// first, then content changes, then structure changes on paths no other operation uses, and
/// at most one directory rename, last, on a subtree nothing else touches.
pub fn ops(rng: &mut Rng, t: &Tree, budget: usize) -> Vec<Op> {
    let files: Vec<PathBuf> = t
        .of_kind(Kind::File)
        .iter()
        .map(|n| n.path.clone())
        .collect();
    let links: Vec<PathBuf> = t
        .of_kind(Kind::Link)
        .iter()
        .map(|n| n.path.clone())
        .collect();
    let dirs: Vec<PathBuf> = t
        .of_kind(Kind::Dir)
        .iter()
        .map(|n| n.path.clone())
        .collect();
    let mut used: Vec<PathBuf> = t.missing.clone();
    let mut out = Vec::new();
    // A directory rename, decided first so that its subtree is kept away from the rest.
    let tops: Vec<PathBuf> = ["ws", "extra", "out", "cfg"]
        .iter()
        .map(|d| t.root.join(d))
        .collect();
    let renamed: Option<PathBuf> = if rng.chance(60) {
        let candidates: Vec<&PathBuf> = dirs.iter().filter(|d| !tops.contains(d)).collect();
        if candidates.is_empty() {
            None
        } else {
            Some((*rng.pick(&candidates)).clone())
        }
    } else {
        None
    };
    let free = |p: &Path| renamed.as_ref().is_none_or(|r| !p.starts_with(r));
    let all: Vec<PathBuf> = files
        .iter()
        .chain(&dirs)
        .chain(&links)
        .chain(&t.missing)
        .cloned()
        .collect();
    // 1. Reads and execs of every existing path (and of missing ones), outside paths too.
    for p in &all {
        out.push(Op::Read(p.clone()));
    }
    // Each exec starts a process: a sample of them keeps a case fast.
    let runnable: Vec<&PathBuf> = files
        .iter()
        .chain(&links)
        .filter(|p| executable(p))
        .collect();
    for _ in 0..runnable.len().min(8) {
        out.push(Op::Exec(rng.pick(&runnable).to_path_buf()));
    }
    for p in ["/etc/hostname", "/usr/bin/env", "/proc/self/cmdline"] {
        out.push(Op::Read(PathBuf::from(p)));
    }
    // 2. Content changes, each on its own file; 3. structure changes on the others.
    let mut mutable: Vec<PathBuf> = files.iter().filter(|p| free(p)).cloned().collect();
    // Shuffle (Fisher-Yates) so every kind of change meets every kind of file.
    for i in (1..mutable.len()).rev() {
        let j = rng.below(i + 1);
        mutable.swap(i, j);
    }
    let mut structural: Vec<Op> = Vec::new();
    for (i, p) in mutable.iter().enumerate() {
        let op = match i % 6 {
            0 => Op::Write(p.clone()),
            1 => Op::Truncate(p.clone()),
            2 => Op::Chmod(p.clone()),
            3 => {
                structural.push(Op::Unlink(p.clone()));
                continue;
            }
            4 => {
                let to = fresh(rng, t, &mut used, "mv");
                if !free(&to) {
                    continue;
                }
                structural.push(Op::Rename {
                    from: p.clone(),
                    to,
                });
                continue;
            }
            _ => {
                let new = fresh(rng, t, &mut used, "ln");
                if !free(&new) {
                    continue;
                }
                structural.push(Op::Link {
                    src: p.clone(),
                    new,
                });
                continue;
            }
        };
        out.push(op);
    }
    for l in links.iter().filter(|p| free(p)) {
        if rng.chance(50) {
            structural.push(Op::Unlink(l.clone()));
        }
    }
    while out.len() + structural.len() < budget {
        let p = fresh(rng, t, &mut used, "c");
        if !free(&p) {
            continue;
        }
        structural.push(match rng.below(3) {
            0 => Op::Create(p),
            1 => Op::Mkdir(p),
            _ => Op::Symlink(p),
        });
    }
    // Missing paths the tree set aside (protected names, rule targets): create them.
    for m in &t.missing {
        if free(m) {
            structural.push(if rng.chance(50) {
                Op::Create(m.clone())
            } else {
                Op::Mkdir(m.clone())
            });
        }
    }
    out.extend(structural);
    if let Some(r) = renamed {
        let to = fresh(rng, t, &mut used, "mvdir");
        if !to.starts_with(&r) {
            out.push(Op::Rename { from: r, to });
        }
    }
    out
}

/// Only executables can be run: every generated regular file is one, a `gitdir:` pointer or a
/// link to a directory is not.
fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
