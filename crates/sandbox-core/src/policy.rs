//! What the user asked for: presets, filesystem entries, deny globs and network rules.
//!
//! A [`Policy`] is still relative to the world (it says `:cwd`, `$TMPDIR`, `~/x`); turn it into
//! concrete absolute paths with [`crate::resolve()`].

use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// The three sandbox modes users type (`-s MODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Read everything, write nothing (`/dev/null` and the tty stay usable).
    ReadOnly,
    /// Read everything, write the cwd, `/tmp`, `$TMPDIR` and extra roots, minus protected names.
    WorkspaceWrite,
    /// No sandbox at all.
    DangerFullAccess,
}

impl Preset {
    /// Parses the name a user types; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Preset> {
        match name {
            "read-only" | ":read-only" => Some(Preset::ReadOnly),
            "workspace-write" | ":workspace" => Some(Preset::WorkspaceWrite),
            "danger-full-access" | ":danger-full-access" => Some(Preset::DangerFullAccess),
            _ => None,
        }
    }

    /// The canonical spelling.
    pub fn name(self) -> &'static str {
        match self {
            Preset::ReadOnly => "read-only",
            Preset::WorkspaceWrite => "workspace-write",
            Preset::DangerFullAccess => "danger-full-access",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Access granted by one filesystem entry. The order is the tie-break order: `Deny > Write > Read`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    Read,
    Write,
    Deny,
}

impl Access {
    /// Parses `read`, `write`, `deny` and the legacy alias `none`.
    pub fn from_name(name: &str) -> Option<Access> {
        match name {
            "read" => Some(Access::Read),
            "write" => Some(Access::Write),
            "deny" | "none" => Some(Access::Deny),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Deny => "deny",
        }
    }
}

/// An operation the oracle can be asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Read,
    Write,
    /// Creating a path that may not exist yet (a file, a directory, a link).
    Create,
    Exec,
}

impl Op {
    pub const ALL: [Op; 4] = [Op::Read, Op::Write, Op::Create, Op::Exec];

    pub fn from_name(name: &str) -> Option<Op> {
        match name {
            "read" => Some(Op::Read),
            "write" => Some(Op::Write),
            "create" => Some(Op::Create),
            "exec" => Some(Op::Exec),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Create => "create",
            Op::Exec => "exec",
        }
    }

    /// Whether the operation modifies the filesystem.
    pub fn is_write(self) -> bool {
        matches!(self, Op::Write | Op::Create)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Named locations that resolve differently per host and invocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Special {
    /// The filesystem root `/`.
    Root,
    /// The working directory (alias `:project_roots`), optionally a subpath below it.
    Cwd { subpath: Option<PathBuf> },
    /// `$TMPDIR`, when set to an absolute path.
    Tmpdir,
    /// `/tmp`, when it is a directory.
    SlashTmp,
    /// The platform's default read roots (`/usr`, `/etc`, … on Linux).
    Minimal,
}

impl Special {
    /// Parses `:root`, `:cwd`, `:project_roots`, `:tmpdir`, `:slash_tmp`, `:minimal`.
    pub fn from_name(name: &str) -> Option<Special> {
        match name {
            ":root" => Some(Special::Root),
            ":cwd" | ":project_roots" | ":current_working_directory" => {
                Some(Special::Cwd { subpath: None })
            }
            ":tmpdir" => Some(Special::Tmpdir),
            ":slash_tmp" => Some(Special::SlashTmp),
            ":minimal" => Some(Special::Minimal),
            _ => None,
        }
    }
}

/// What a filesystem entry points at, before resolution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Special(Special),
    /// An absolute path, or one starting with `~/`.
    Path(PathBuf),
    /// A git-style glob (only with [`Access::Deny`]); relative globs are anchored at the cwd.
    Glob(String),
}

/// One `target → access` rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub target: Target,
    pub access: Access,
    /// Where the entry came from, for messages (`--writable-root`, `config.toml: permissions.x`).
    pub origin: String,
}

impl Entry {
    pub fn new(target: Target, access: Access, origin: impl Into<String>) -> Entry {
        Entry {
            target,
            access,
            origin: origin.into(),
        }
    }
}

/// Network rule, independent of the filesystem rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum NetworkPolicy {
    /// No network except unix sockets as allowed by [`UnixSockets`].
    #[default]
    Off,
    /// Unrestricted network.
    Full,
    /// A private loopback only: the command's own `127.0.0.1`/`::1` works, nothing else (not
    /// even the host's loopback services) is reachable.
    Loopback,
    /// Egress only through a filtering proxy the launcher runs outside the sandbox (host allow
    /// and deny patterns, see [`crate::domain`]), plus the private loopback.
    Proxy {
        allow: Vec<String>,
        deny: Vec<String>,
        /// Let allowed names that resolve to loopback, private or link-local addresses (or this
        /// host's own) be dialled (Codex's `allow_local_binding`).
        allow_local_binding: bool,
    },
}

impl NetworkPolicy {
    pub fn name(&self) -> &'static str {
        match self {
            NetworkPolicy::Off => "off",
            NetworkPolicy::Full => "full",
            NetworkPolicy::Loopback => "loopback",
            NetworkPolicy::Proxy { .. } => "proxy",
        }
    }
}

/// Which pathname unix-domain sockets that exist outside the sandbox (made by host
/// processes) the command may connect or send to. Whatever the choice, `socketpair`, fd
/// passing over it, and sockets the command binds itself in its writable roots keep working,
/// and abstract sockets of the host are never reachable ([`crate::unix`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode", content = "paths")]
pub enum UnixSockets {
    /// No host socket (the default).
    #[default]
    None,
    /// Only host sockets at or below these paths (a socket path grants that socket alone).
    Paths(Vec<PathBuf>),
    /// Every host socket the filesystem rules let the command see (explicit opt-in).
    All,
}

/// The default protected names under every writable root.
pub const DEFAULT_PROTECTED_NAMES: [&str; 4] = [".git", ".codex", ".agents", ".aws"];

/// A complete, unresolved policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// `Some` when the policy came from a preset (shown in messages); `None` for a profile.
    pub preset: Option<Preset>,
    /// Name of the `[permissions.NAME]` profile, when one was used.
    pub profile: Option<String>,
    /// True for `danger-full-access`: nothing is enforced.
    pub unrestricted: bool,
    pub entries: Vec<Entry>,
    pub network: NetworkPolicy,
    pub unix_sockets: UnixSockets,
    /// Names kept read-only (and not creatable) directly under every writable root.
    pub protected_names: Vec<String>,
    /// Paths relative to `HOME` kept read-only (and not creatable) inside any writable root
    /// that contains them: the startup files of [`crate::home_files`].
    pub protected_home_files: Vec<String>,
    /// Maximum depth when expanding deny globs on hosts that snapshot them (Linux).
    pub glob_scan_max_depth: Option<usize>,
    /// `[sandbox] git`, `git_scan_max_depth`, `--allow-git-commit` ([`crate::git`]).
    pub git: crate::git::settings::GitSettings,
}

impl Policy {
    /// The entries a preset expands into.
    pub fn preset(preset: Preset) -> Policy {
        Policy::preset_with(preset, false, false)
    }

    /// A preset with Codex's `exclude_tmpdir_env_var` / `exclude_slash_tmp` switches.
    pub fn preset_with(preset: Preset, exclude_tmpdir: bool, exclude_slash_tmp: bool) -> Policy {
        let origin = format!("preset {preset}");
        let mut entries = vec![Entry::new(
            Target::Special(Special::Root),
            Access::Read,
            &origin,
        )];
        if preset == Preset::WorkspaceWrite {
            entries.push(Entry::new(
                Target::Special(Special::Cwd { subpath: None }),
                Access::Write,
                &origin,
            ));
            if !exclude_slash_tmp {
                entries.push(Entry::new(
                    Target::Special(Special::SlashTmp),
                    Access::Write,
                    &origin,
                ));
            }
            if !exclude_tmpdir {
                entries.push(Entry::new(
                    Target::Special(Special::Tmpdir),
                    Access::Write,
                    &origin,
                ));
            }
        }
        Policy {
            preset: Some(preset),
            profile: None,
            unrestricted: preset == Preset::DangerFullAccess,
            entries,
            network: if preset == Preset::DangerFullAccess {
                NetworkPolicy::Full
            } else {
                NetworkPolicy::Off
            },
            unix_sockets: UnixSockets::None,
            protected_names: DEFAULT_PROTECTED_NAMES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            protected_home_files: crate::home_files::DEFAULT_PROTECTED_HOME_FILES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            glob_scan_max_depth: None,
            git: crate::git::settings::GitSettings::default(),
        }
    }

    /// Adds an extra writable root (`--writable-root`).
    pub fn add_writable_root(&mut self, path: PathBuf, origin: impl Into<String>) {
        self.entries
            .push(Entry::new(Target::Path(path), Access::Write, origin));
    }

    /// Adds a deny-read glob (`--deny-read`).
    pub fn add_deny_glob(&mut self, glob: String, origin: impl Into<String>) {
        self.entries
            .push(Entry::new(Target::Glob(glob), Access::Deny, origin));
    }

    /// A short human name: the preset, or `profile NAME`.
    pub fn describe(&self) -> String {
        match (&self.preset, &self.profile) {
            (_, Some(name)) => format!("profile {name}"),
            (Some(p), None) => p.name().to_string(),
            (None, None) => "custom".to_string(),
        }
    }
}
