//! Errors from loading and resolving a policy. Each names the file, key or value at fault.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CoreError {
    #[error("{file}: cannot read config: {reason}")]
    ConfigRead { file: String, reason: String },

    #[error("{file}: invalid TOML: {reason}")]
    ConfigSyntax { file: String, reason: String },

    #[error("{file}: key `{key}`: expected {expected}, found {found}")]
    ConfigType {
        file: String,
        key: String,
        expected: String,
        found: String,
    },

    #[error("{file}: key `{key}`: {reason}")]
    ConfigValue {
        file: String,
        key: String,
        reason: String,
    },

    /// Two settings that select different policies: the one would silently drop the other's
    /// rules, so neither is picked.
    #[error("{first} conflicts with {second}: {why}")]
    Conflict {
        first: String,
        second: String,
        why: String,
        hint: String,
    },

    #[error("-c {spec}: {reason}")]
    Override { spec: String, reason: String },

    #[error("{origin}: path `{value}` is relative; use an absolute path, `~/…`, or a special such as `:cwd`")]
    RelativePath { origin: String, value: String },

    #[error("{origin}: path `{value}` is not valid UTF-8")]
    NonUtf8 { origin: String, value: String },

    #[error("working directory `{path}`: {reason}")]
    Cwd { path: String, reason: String },

    #[error("cannot protect `{path}`: it is a symlink (to `{target}`) inside writable root `{root}`, and a link the sandboxed command can replace cannot be protected reliably; remove the link or make `{path}` a real directory")]
    SymlinkedProtected {
        path: String,
        target: String,
        root: String,
    },

    #[error("--writable-root `{root}`: the read-only sandbox mode writes nowhere; use --full-auto (workspace-write) or a permissions profile to make it writable")]
    WritableRootInReadOnly { root: String },

    #[error("{what} `{given}` changed while the policy was resolved (it led to `{used}`, now to `{now}`): another process is replacing a directory on its way; refusing rather than guess which one to use")]
    PathChanged {
        what: String,
        given: String,
        used: String,
        now: String,
    },

    #[error("{what} `{given}` is reached through the symlink `{link}` (to `{target}`), which lies inside writable root `{root}`: a command run earlier could have planted it; give the real directory if that is what you mean")]
    PlantedLink {
        what: String,
        given: String,
        link: String,
        target: String,
        root: String,
    },

    #[error("{origin}: invalid glob `{pattern}`: {reason}")]
    BadGlob {
        origin: String,
        pattern: String,
        reason: String,
    },

    #[error("{origin}: glob `{pattern}` can only be used to deny (`\"none\"` or `\"deny\"`), not `{access}`")]
    GlobNotDeny {
        origin: String,
        pattern: String,
        access: String,
    },

    #[error("{what} `{path}` lies inside writable root `{root}` and has {links} hard links: the command could change it through another of its names, and the next launch would run that; install or copy it outside the writable roots (`cargo install --path crates/cli`, or `cp` it elsewhere) and run that copy")]
    HardLinkedLauncher {
        what: String,
        path: String,
        root: String,
        links: u64,
    },
}

impl CoreError {
    /// The way out, for the `hint:` line under the message, where one is known.
    pub fn hint(&self) -> Option<&str> {
        match self {
            CoreError::Conflict { hint, .. } => Some(hint),
            _ => None,
        }
    }
}
