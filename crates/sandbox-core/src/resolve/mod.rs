//! Turns a [`Policy`] into a [`ResolvedPolicy`]: absolute canonical paths, specials expanded,
//! duplicates removed, protected subpaths found under every writable root.

use crate::error::CoreError;
use crate::glob::{DenyGlob, GLOB_META};
use crate::policy::{Access, NetworkPolicy, Policy, Special, Target, UnixSockets};
use serde::Serialize;
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// The operating system a policy is resolved for. Paths are spelled as that OS's kernel sees
/// them (on macOS `/tmp` is `/private/tmp`), so a profile for another OS can be built here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetOs {
    Linux,
    Macos,
    Windows,
}

impl TargetOs {
    /// The OS this binary was built for.
    pub fn host() -> TargetOs {
        if cfg!(target_os = "macos") {
            TargetOs::Macos
        } else if cfg!(windows) {
            TargetOs::Windows
        } else {
            TargetOs::Linux
        }
    }

    /// Default read roots for `:minimal` on this OS.
    pub fn minimal_read_roots(self) -> &'static [&'static str] {
        match self {
            TargetOs::Linux => &[
                "/bin",
                "/sbin",
                "/usr",
                "/etc",
                "/lib",
                "/lib32",
                "/lib64",
                "/proc",
                "/nix/store",
                "/run/current-system/sw",
            ],
            TargetOs::Macos => &[
                "/bin",
                "/sbin",
                "/usr",
                "/System",
                "/Library/Preferences",
                // The xcrun shims in /usr/bin (git, clang, python3) find the developer
                // tools through /private/var/select and run them from these.
                "/Library/Apple",
                "/Library/Developer/CommandLineTools",
                "/private/var/select",
                "/Applications",
                "/private/etc",
                "/private/var/db",
                "/opt/homebrew",
                "/dev",
            ],
            TargetOs::Windows => &[],
        }
    }
}

/// The outside facts resolution depends on. [`ResolveEnv::from_process`] reads them from the
/// running process; tests build one by hand.
#[derive(Clone, Debug)]
pub struct ResolveEnv {
    pub cwd: PathBuf,
    pub tmpdir: Option<OsString>,
    pub home: Option<PathBuf>,
    pub target: TargetOs,
}

impl ResolveEnv {
    /// Reads the cwd, `$TMPDIR` and `$HOME` of this process, for the host OS.
    pub fn from_process() -> Result<ResolveEnv, CoreError> {
        let cwd = std::env::current_dir().map_err(|e| CoreError::Cwd {
            path: ".".into(),
            reason: e.to_string(),
        })?;
        Ok(ResolveEnv {
            cwd,
            tmpdir: std::env::var_os("TMPDIR"),
            home: std::env::var_os("HOME").map(PathBuf::from),
            target: TargetOs::host(),
        })
    }
}

/// Files the sandboxed command may always open for reading and writing.
pub const STANDARD_DEVICES: [&str; 6] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// One concrete path rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub path: PathBuf,
    pub access: Access,
    pub origin: String,
}

/// What is at a protected path when the policy was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PathKind {
    Dir,
    File,
    Missing,
    /// A symbolic link another user owns in a sticky directory, met by root (who bypasses the
    /// sticky bit): held as it is, never followed (see `foreign_link`). Linux only.
    Link,
}

/// A path kept read-only, and not creatable, inside a writable root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Protected {
    pub path: PathBuf,
    pub kind: PathKind,
    /// Why: `.git`, `.codex`, or `gitdir of /ws/.git`.
    pub reason: String,
}

/// A writable root and the protected paths under (or pointed at from) it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WritableRoot {
    pub path: PathBuf,
    pub protected: Vec<Protected>,
}

/// A policy with every path concrete: the input of every backend compiler and of the oracle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedPolicy {
    /// `workspace-write`, `profile NAME`, …
    pub description: String,
    pub target: TargetOs,
    /// Nothing is enforced (`danger-full-access`).
    pub unrestricted: bool,
    pub cwd: PathBuf,
    /// Path rules, sorted by path; the deepest matching rule decides.
    pub rules: Vec<Rule>,
    pub deny_globs: Vec<DenyGlob>,
    /// Paths with write access, sorted, each with its protected subpaths.
    pub writable_roots: Vec<WritableRoot>,
    /// `:minimal` was requested (platform default read roots are among `rules`).
    pub minimal: bool,
    pub network: NetworkPolicy,
    pub unix_sockets: UnixSockets,
    pub glob_scan_max_depth: Option<usize>,
    /// Git mode and the roots searched for repositories ([`crate::git`]).
    pub git: crate::git::GitSettings,
    /// Things skipped or doubtful during resolution; the CLI prints each as a warning.
    pub warnings: Vec<String>,
}

impl ResolvedPolicy {
    /// True when every path is readable except those denied by rules or globs.
    pub fn reads_everything(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.path == Path::new("/") && r.access != Access::Deny)
            && !self
                .rules
                .iter()
                .any(|r| r.path == Path::new("/") && r.access == Access::Deny)
    }

    /// Paths with an explicit deny rule, sorted.
    pub fn denied_paths(&self) -> Vec<&Path> {
        self.rules
            .iter()
            .filter(|r| r.access == Access::Deny)
            .map(|r| r.path.as_path())
            .collect()
    }

    /// Paths with an explicit read rule (the roots of a restricted read view), sorted.
    pub fn read_roots(&self) -> Vec<&Path> {
        self.rules
            .iter()
            .filter(|r| r.access == Access::Read)
            .map(|r| r.path.as_path())
            .collect()
    }

    /// Every protected path of every writable root, sorted and de-duplicated.
    pub fn protected_paths(&self) -> Vec<&Protected> {
        let mut all: Vec<&Protected> = self
            .writable_roots
            .iter()
            .flat_map(|r| r.protected.iter())
            .collect();
        all.sort_by(|a, b| a.path.cmp(&b.path));
        all.dedup_by(|a, b| a.path == b.path);
        all
    }

    /// Directories the command must not rename while it runs: each ancestor of a protected
    /// path whose own parent lies in a writable root. Renaming one would carry the protected
    /// path's read-only mount away with it and leave the name free for a fresh, writable
    /// copy. Backends make each one a mount point, which cannot be renamed. Shallowest first.
    /// A read or deny rule inside a writable root is carved out the same way, so the
    /// directories leading to it are pinned too.
    pub fn rename_pins(&self) -> Vec<PathBuf> {
        self.rename_pins_with(std::iter::empty())
    }

    /// [`Self::rename_pins`] plus the directories leading to each of `masked`: paths a
    /// backend masks beyond the rules, such as deny-glob matches expanded at launch.
    pub fn rename_pins_with<'a>(
        &'a self,
        masked: impl IntoIterator<Item = &'a Path>,
    ) -> Vec<PathBuf> {
        let in_root = |p: &Path| self.writable_roots.iter().any(|r| p.starts_with(&r.path));
        let carved_rules = self.rules.iter().filter(|r| {
            r.access != Access::Write
                && self
                    .writable_roots
                    .iter()
                    .any(|w| r.path.starts_with(&w.path) && r.path != w.path)
        });
        let carved = self
            .protected_paths()
            .into_iter()
            .map(|p| p.path.as_path())
            .chain(carved_rules.map(|r| r.path.as_path()))
            .chain(masked);
        let mut pins = std::collections::BTreeSet::new();
        for p in carved {
            let mut dir = p.parent();
            while let Some(d) = dir {
                match d.parent() {
                    Some(parent) if in_root(parent) => {
                        // Only a directory the command may write needs pinning: one it may
                        // not write cannot be renamed anyway, and a pin (a fresh bind mount,
                        // writable) inside a read-only or masked one would undo it.
                        if self.allows_canonical(d, crate::policy::Op::Write) {
                            pins.insert(d.to_path_buf());
                        }
                        dir = Some(parent);
                    }
                    _ => break,
                }
            }
        }
        let mut v: Vec<PathBuf> = pins.into_iter().collect();
        v.sort_by_key(|p| p.components().count());
        v
    }
}

/// Resolves `policy` against `env`.
pub fn resolve(policy: &Policy, env: &ResolveEnv) -> Result<ResolvedPolicy, CoreError> {
    let cwd = resolve_cwd(&env.cwd, env.target)?;
    let mut out = ResolvedPolicy {
        description: policy.describe(),
        target: env.target,
        unrestricted: policy.unrestricted,
        cwd: cwd.clone(),
        rules: Vec::new(),
        deny_globs: Vec::new(),
        writable_roots: Vec::new(),
        minimal: false,
        network: policy.network.clone(),
        unix_sockets: UnixSockets::None,
        glob_scan_max_depth: policy.glob_scan_max_depth,
        git: crate::git::GitSettings {
            scan_roots: Vec::new(),
            audit_roots: Vec::new(),
            found: Vec::new(),
            ..policy.git.clone()
        },
        warnings: Vec::new(),
    };

    let mut missing_reads: Vec<(PathBuf, &str)> = Vec::new();
    for entry in &policy.entries {
        let origin = entry.origin.as_str();
        let path = match &entry.target {
            Target::Glob(pattern) => {
                if entry.access != Access::Deny {
                    return Err(CoreError::GlobNotDeny {
                        origin: origin.into(),
                        pattern: pattern.clone(),
                        access: entry.access.name().into(),
                    });
                }
                if pattern.trim().is_empty() {
                    return Err(CoreError::BadGlob {
                        origin: origin.into(),
                        pattern: pattern.clone(),
                        reason: "the pattern is empty".into(),
                    });
                }
                let abs = anchor_glob(pattern, &cwd, env, origin)?;
                out.deny_globs.push(DenyGlob::new(&abs, origin)?);
                continue;
            }
            Target::Special(Special::Minimal) => {
                out.minimal = true;
                for root in env.target.minimal_read_roots() {
                    let p = Path::new(root);
                    if p.exists() {
                        push_rule(
                            &mut out.rules,
                            canonical(p, env.target),
                            entry.access,
                            ":minimal",
                        );
                    }
                }
                continue;
            }
            Target::Special(Special::Root) => PathBuf::from("/"),
            Target::Special(Special::Cwd { subpath: None }) => cwd.clone(),
            Target::Special(Special::Cwd { subpath: Some(sub) }) => {
                if sub.is_absolute() {
                    return Err(CoreError::ConfigValue {
                        file: origin.into(),
                        key: sub.display().to_string(),
                        reason: "a path under `:project_roots` must be relative".into(),
                    });
                }
                // `../../etc` would name a path outside the project: refused, not resolved.
                if sub
                    .components()
                    .any(|c| c == std::path::Component::ParentDir)
                {
                    return Err(CoreError::ConfigValue {
                        file: origin.into(),
                        key: sub.display().to_string(),
                        reason: "a path under `:project_roots` must not contain `..`".into(),
                    });
                }
                canonical(&cwd.join(sub), env.target)
            }
            Target::Special(Special::Tmpdir) => match &env.tmpdir {
                Some(t) if !t.is_empty() => {
                    let p = PathBuf::from(t);
                    if !p.is_absolute() {
                        out.warnings.push(format!(
                            "$TMPDIR `{}` is not absolute; it is not a writable root",
                            p.display()
                        ));
                        continue;
                    }
                    check_utf8(&p, "$TMPDIR")?;
                    canonical(&p, env.target)
                }
                _ => continue,
            },
            Target::Special(Special::SlashTmp) => {
                if !Path::new("/tmp").is_dir() {
                    continue;
                }
                canonical(Path::new("/tmp"), env.target)
            }
            Target::Path(p) => {
                let p = expand_home(p, env, origin)?;
                canonical(&p, env.target)
            }
        };
        check_utf8(&path, origin)?;
        // A read rule on a missing path that the command could create: kept (backends keep
        // it uncreatable), decided once every rule is in.
        if entry.access == Access::Read && !exists(&path, env.target) {
            missing_reads.push((path, origin));
            continue;
        }
        if entry.access != Access::Deny && !exists(&path, env.target) {
            out.warnings.push(format!(
                "{origin}: `{}` does not exist; its {} rule is skipped",
                path.display(),
                entry.access.name()
            ));
            continue;
        }
        push_rule(&mut out.rules, path, entry.access, origin);
    }

    for (path, origin) in missing_reads {
        if out.allows_canonical(&path, crate::policy::Op::Create) {
            push_rule(&mut out.rules, path, Access::Read, origin);
        } else {
            out.warnings.push(format!(
                "{origin}: `{}` does not exist; its read rule is skipped",
                path.display()
            ));
        }
    }

    // Stable sort, then drop repeats: the first rule given for a (path, access) is kept.
    out.rules
        .sort_by(|a, b| a.path.cmp(&b.path).then(a.access.cmp(&b.access)));
    out.rules
        .dedup_by(|later, first| later.path == first.path && later.access == first.access);
    out.deny_globs.sort_by(|a, b| a.pattern.cmp(&b.pattern));
    out.deny_globs.dedup_by(|a, b| a.pattern == b.pattern);

    out.unix_sockets = match &policy.unix_sockets {
        UnixSockets::Paths(paths) => {
            let mut v = Vec::new();
            for p in paths {
                let p = expand_home(p, env, "unix_sockets")?;
                let c = canonical(&p, env.target);
                check_utf8(&c, "unix_sockets")?;
                v.push(c);
            }
            v.sort();
            v.dedup();
            if v.is_empty() {
                UnixSockets::None
            } else {
                UnixSockets::Paths(v)
            }
        }
        other => other.clone(),
    };
    out.warnings
        .extend(out.dangerous_socket_warnings(env.home.as_deref()));

    if !out.unrestricted {
        let mut warnings = Vec::new();
        let temp = temp_roots(env);
        let git = crate::git::prepare(&mut out, &policy.protected_names, &temp, &mut warnings);
        out.writable_roots =
            writable_roots(&out, &policy.protected_names, env.target, &mut warnings)?;
        if let Some(scan) = git {
            crate::git::protect(&mut out, &scan)?;
        }
        add_home_files(&mut out, policy, env)?;
        out.warnings.extend(warnings);
        #[cfg(test)]
        if SKIP_PLANTED.with(|s| s.get()) {
            return Ok(out);
        }
        crate::planted::check(&policy.entries, env, &out)?;
    }
    Ok(out)
}

#[cfg(test)]
thread_local! {
    static SKIP_PLANTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// [`resolve`] without the planted-link checks: a resolution that followed a link the
/// checks then raced past, for their tests.
#[cfg(test)]
pub(crate) fn resolve_unchecked_for_test(
    policy: &Policy,
    env: &ResolveEnv,
) -> Result<ResolvedPolicy, CoreError> {
    SKIP_PLANTED.with(|s| s.set(true));
    let out = resolve(policy, env);
    SKIP_PLANTED.with(|s| s.set(false));
    out
}

/// The shared temporary directories (`/tmp`, `$TMPDIR`), canonical: searched for git
/// repositories to a bounded depth only ([`crate::git::TEMP_SCAN_MAX_DEPTH`]).
fn temp_roots(env: &ResolveEnv) -> Vec<PathBuf> {
    let mut v = vec![canonical(Path::new("/tmp"), env.target)];
    if let Some(t) = env.tmpdir.as_ref().map(PathBuf::from) {
        if t.is_absolute() {
            v.push(canonical(&t, env.target));
        }
    }
    v
}

/// Adds the startup files of `policy.protected_home_files` ([`crate::home_files`]) under each
/// writable root that contains them.
fn add_home_files(
    out: &mut ResolvedPolicy,
    policy: &Policy,
    env: &ResolveEnv,
) -> Result<(), CoreError> {
    let Some(home) = env.home.as_ref().filter(|h| h.is_absolute()) else {
        return Ok(());
    };
    let granted: HashSet<&Path> = out
        .rules
        .iter()
        .filter(|r| r.access == Access::Write)
        .map(|r| r.path.as_path())
        .collect();
    let mut added = Vec::new();
    for (i, root) in out.writable_roots.iter().enumerate() {
        let extra = crate::home_files::protected_under(
            &root.path,
            home,
            &policy.protected_home_files,
            &|p| granted.contains(p),
            env.target,
        )?;
        added.push((i, extra));
    }
    for (i, extra) in added {
        let protected = &mut out.writable_roots[i].protected;
        for p in extra {
            if !protected.iter().any(|q| q.path == p.path) {
                protected.push(p);
            }
        }
        protected.sort_by(|a, b| a.path.cmp(&b.path));
    }
    Ok(())
}

/// Adds a rule; repeats of a (path, access) are dropped once all rules are in (see [`resolve`]).
fn push_rule(rules: &mut Vec<Rule>, path: PathBuf, access: Access, origin: &str) {
    rules.push(Rule {
        path,
        access,
        origin: origin.to_string(),
    });
}

pub(crate) fn resolve_cwd(cwd: &Path, target: TargetOs) -> Result<PathBuf, CoreError> {
    let shown = cwd.display().to_string();
    if !cwd.is_absolute() {
        return Err(CoreError::Cwd {
            path: shown,
            reason: "not an absolute path".into(),
        });
    }
    let c = std::fs::canonicalize(cwd).map_err(|e| CoreError::Cwd {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    if !c.is_dir() {
        return Err(CoreError::Cwd {
            path: shown,
            reason: "not a directory".into(),
        });
    }
    check_utf8(&c, "working directory")?;
    Ok(platform_alias(&c, target))
}

/// Finds every writable root and what is protected under it.
fn writable_roots(
    p: &ResolvedPolicy,
    names: &[String],
    target: TargetOs,
    warnings: &mut Vec<String>,
) -> Result<Vec<WritableRoot>, CoreError> {
    // Looked up once per rule and per protected name: a set, not a scan of the rules.
    let has_rule: HashSet<(&Path, Access)> = p
        .rules
        .iter()
        .map(|r| (r.path.as_path(), r.access))
        .collect();
    let mut roots: Vec<PathBuf> = p
        .rules
        .iter()
        .filter(|r| r.access == Access::Write)
        .filter(|r| !has_rule.contains(&(r.path.as_path(), Access::Deny)))
        .map(|r| r.path.clone())
        .collect();
    roots.sort();
    roots.dedup();

    let mut out = Vec::new();
    for root in roots {
        let mut protected = Vec::new();
        // A writable root that is a file has nothing below it to protect (nothing can be
        // created under a file); naming protected paths there only made every launch refuse.
        let is_file = std::fs::metadata(host_spelling(&root, target)).is_ok_and(|m| !m.is_dir());
        for name in names.iter().filter(|_| !is_file) {
            let path = root.join(name);
            // An explicit write rule at the protected path is the user's choice to allow it.
            if has_rule.contains(&(path.as_path(), Access::Write)) {
                continue;
            }
            let host_path = host_spelling(&path, target);
            let meta = std::fs::symlink_metadata(&host_path);
            // Only a regular file can be a pointer (a FIFO or device is never opened).
            let regular = meta.as_ref().is_ok_and(|m| m.is_file());
            let kind = match meta {
                Ok(m) if m.file_type().is_symlink() => {
                    let hold = target == TargetOs::Linux && cfg!(target_os = "linux");
                    if let Some(owner) = crate::foreign_link::held(&host_path, &m).filter(|_| hold)
                    {
                        // Root could remove it and make a real `.codex`: the backend mounts
                        // over the link itself so it stays as it is.
                        warnings.push(format!(
                            "`{}` is a symbolic link owned by uid {owner} in a sticky directory; it is held as it is (not followed; a mount over the link keeps the command from removing or replacing it)",
                            path.display()
                        ));
                        protected.push(Protected {
                            path,
                            kind: PathKind::Link,
                            reason: format!("{name}: uid {owner}'s link, held as it is"),
                        });
                        continue;
                    }
                    if let Some(owner) = crate::foreign_link::owner(&host_path, &m) {
                        // Not followed, not a reason to refuse: the command cannot replace it.
                        warnings.push(format!(
                            "`{}` is a symbolic link owned by uid {owner} in a sticky directory; it is left alone (not followed, not protected): the command cannot remove or replace it",
                            path.display()
                        ));
                        continue;
                    }
                    let target = std::fs::read_link(&host_path)
                        .map(|t| t.display().to_string())
                        .unwrap_or_else(|_| "?".into());
                    return Err(CoreError::SymlinkedProtected {
                        path: path.display().to_string(),
                        target,
                        root: root.display().to_string(),
                    });
                }
                Ok(m) if m.is_dir() => PathKind::Dir,
                Ok(_) => PathKind::File,
                Err(_) => PathKind::Missing,
            };
            if name == ".git" && regular {
                match gitdir_target(&host_path) {
                    Some(t) if t.exists() => {
                        let t = canonical(&t, target);
                        let kind = if t.is_dir() { PathKind::Dir } else { PathKind::File };
                        protected.push(Protected {
                            reason: format!("gitdir of {}", path.display()),
                            path: t,
                            kind,
                        });
                    }
                    Some(t) => warnings.push(format!(
                        "`{}` points at `{}`, which does not exist; only the pointer file is protected",
                        path.display(),
                        t.display()
                    )),
                    None => {}
                }
            }
            protected.push(Protected {
                path,
                kind,
                reason: name.clone(),
            });
        }
        protected.sort_by(|a, b| a.path.cmp(&b.path));
        out.push(WritableRoot {
            path: root,
            protected,
        });
    }
    Ok(out)
}

/// Reads a `gitdir: PATH` pointer file; relative targets are taken from the file's directory.
/// Only a small regular file counts: a FIFO or device named `.git` is never read (it could
/// block or never end), and the path is taken byte for byte (it need not be UTF-8).
pub fn gitdir_target(dot_git_file: &Path) -> Option<PathBuf> {
    use std::io::Read as _;
    const MAX: u64 = 4096;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // Opening a FIFO for reading would wait for a writer.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(dot_git_file).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(MAX + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > MAX {
        return None;
    }
    let text = bytes.trim_ascii();
    let colon = text.iter().position(|&b| b == b':')?;
    if text[..colon].trim_ascii() != b"gitdir" {
        return None;
    }
    let value = text[colon + 1..].trim_ascii();
    if value.is_empty() {
        return None;
    }
    let target = path_from_bytes(value);
    Some(if target.is_absolute() {
        target
    } else {
        dot_git_file.parent().unwrap_or(Path::new("/")).join(target)
    })
}

#[cfg(unix)]
fn path_from_bytes(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt as _;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(not(unix))]
fn path_from_bytes(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

pub(crate) fn expand_home(p: &Path, env: &ResolveEnv, origin: &str) -> Result<PathBuf, CoreError> {
    let s = p.to_string_lossy();
    if s == "~" || s.starts_with("~/") {
        let home = env.home.as_ref().ok_or_else(|| CoreError::RelativePath {
            origin: origin.into(),
            value: format!("{s} (HOME is not set)"),
        })?;
        // An empty or relative HOME would make `~/x` relative to wherever `sandbox` runs.
        if !home.is_absolute() {
            return Err(CoreError::RelativePath {
                origin: origin.into(),
                value: format!("{s} (HOME is `{}`, not an absolute path)", home.display()),
            });
        }
        let rest = s.trim_start_matches('~').trim_start_matches('/');
        return Ok(if rest.is_empty() {
            home.clone()
        } else {
            home.join(rest)
        });
    }
    if !p.is_absolute() {
        return Err(CoreError::RelativePath {
            origin: origin.into(),
            value: s.into_owned(),
        });
    }
    Ok(p.to_path_buf())
}

fn anchor_glob(
    pattern: &str,
    cwd: &Path,
    env: &ResolveEnv,
    origin: &str,
) -> Result<String, CoreError> {
    let abs = if pattern.starts_with('/') {
        pattern.to_string()
    } else if pattern == "~" || pattern.starts_with("~/") {
        expand_home(Path::new(pattern), env, origin)?
            .to_string_lossy()
            .into_owned()
    } else {
        let rel = pattern.trim_start_matches("./");
        format!("{}/{}", cwd.to_string_lossy().trim_end_matches('/'), rel)
    };
    // Canonicalize the literal directory part so links (e.g. `/tmp` on macOS) match.
    let comps: Vec<&str> = abs.split('/').filter(|c| !c.is_empty()).collect();
    let split = comps
        .iter()
        .position(|c| c.contains(GLOB_META) || c.contains('\\'));
    Ok(match split {
        Some(i) if i > 0 => {
            let prefix: PathBuf = std::iter::once("/")
                .chain(comps[..i].iter().copied())
                .collect();
            let prefix = canonical(&prefix, env.target);
            format!(
                "{}/{}",
                prefix.to_string_lossy().trim_end_matches('/'),
                comps[i..].join("/")
            )
        }
        Some(_) => format!("/{}", comps.join("/")),
        None => canonical(Path::new(&abs), env.target)
            .to_string_lossy()
            .into_owned(),
    })
}

fn check_utf8(p: &Path, origin: &str) -> Result<(), CoreError> {
    if p.to_str().is_none() {
        return Err(CoreError::NonUtf8 {
            origin: origin.into(),
            value: p.to_string_lossy().into_owned(),
        });
    }
    Ok(())
}

/// Canonicalizes the longest existing prefix of `p` (following links) and appends the rest,
/// with `.` and `..` removed lexically; then spells it as `target` would.
pub fn canonical(p: &Path, target: TargetOs) -> PathBuf {
    let host = host_spelling(&normalize(p), target);
    let mut existing = host.clone();
    let mut tail: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(c) = std::fs::canonicalize(&existing) {
            let mut out = c;
            for t in tail.iter().rev() {
                out.push(t);
            }
            return platform_alias(&out, target);
        }
        match (
            existing.file_name().map(|s| s.to_os_string()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                tail.push(name);
                existing = parent.to_path_buf();
            }
            _ => return platform_alias(&host, target),
        }
    }
}

/// Removes `.` and resolves `..` lexically.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push("/");
    }
    out
}

/// The macOS top-level links, as `(link, target)`.
const MACOS_ALIASES: [(&str, &str); 3] = [
    ("/tmp", "/private/tmp"),
    ("/var", "/private/var"),
    ("/etc", "/private/etc"),
];

/// Spells `p` as `target`'s kernel reports it: on macOS `/tmp/x` is `/private/tmp/x`.
pub fn platform_alias(p: &Path, target: TargetOs) -> PathBuf {
    if target == TargetOs::Macos {
        for (link, real) in MACOS_ALIASES {
            if let Ok(rest) = p.strip_prefix(link) {
                // `join("")` would leave a trailing slash (`/private/tmp/`).
                if rest.as_os_str().is_empty() {
                    return PathBuf::from(real);
                }
                return Path::new(real).join(rest);
            }
        }
    }
    p.to_path_buf()
}

/// The inverse of [`platform_alias`] when resolving for macOS on another OS: where to look on
/// this host for a path spelled the macOS way.
fn host_spelling(p: &Path, target: TargetOs) -> PathBuf {
    if target == TargetOs::Macos && TargetOs::host() != TargetOs::Macos {
        for (link, real) in MACOS_ALIASES {
            if let Ok(rest) = p.strip_prefix(real) {
                if !Path::new(real).exists() {
                    return Path::new(link).join(rest);
                }
            }
        }
    }
    p.to_path_buf()
}

fn exists(p: &Path, target: TargetOs) -> bool {
    host_spelling(p, target).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macos_aliases_tmp_and_var() {
        assert_eq!(
            platform_alias(Path::new("/tmp/x"), TargetOs::Macos),
            PathBuf::from("/private/tmp/x")
        );
        assert_eq!(
            platform_alias(Path::new("/var/folders/a"), TargetOs::Macos),
            PathBuf::from("/private/var/folders/a")
        );
        assert_eq!(
            platform_alias(Path::new("/private/tmp/x"), TargetOs::Macos),
            PathBuf::from("/private/tmp/x")
        );
        assert_eq!(
            platform_alias(Path::new("/tmp/x"), TargetOs::Linux),
            PathBuf::from("/tmp/x")
        );
        assert_eq!(
            platform_alias(Path::new("/tmp"), TargetOs::Macos)
                .to_str()
                .unwrap(),
            "/private/tmp"
        );
        assert_eq!(
            platform_alias(Path::new("/tmpx"), TargetOs::Macos),
            PathBuf::from("/tmpx")
        );
    }

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/..")), PathBuf::from("/"));
    }

    #[test]
    fn gitdir_pointer_parsing() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join(".git");
        std::fs::write(&f, "gitdir: ../real/.git/worktrees/w\n").unwrap();
        assert_eq!(
            gitdir_target(&f).unwrap(),
            d.path().join("../real/.git/worktrees/w")
        );
        std::fs::write(&f, "gitdir:/abs/path").unwrap();
        assert_eq!(gitdir_target(&f).unwrap(), PathBuf::from("/abs/path"));
        std::fs::write(&f, "not a pointer").unwrap();
        assert!(gitdir_target(&f).is_none());
    }
}
