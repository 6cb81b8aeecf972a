//! The git part of a policy: the mode, how deep repositories are searched, and the roots and
//! repositories `resolve` found (types only; the search is in [`super`]).

use serde::Serialize;
use std::path::PathBuf;

/// `[sandbox] git` / `--allow-git-commit`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum GitMode {
    /// Every repository's gitdir is read-only.
    #[default]
    ReadOnly,
    /// Commits work; config and hooks stay read-only.
    Commit,
}

impl GitMode {
    pub fn from_name(name: &str) -> Option<GitMode> {
        match name {
            "read-only" => Some(GitMode::ReadOnly),
            "commit" => Some(GitMode::Commit),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            GitMode::ReadOnly => "read-only",
            GitMode::Commit => "commit",
        }
    }
}

/// How many directories below one root are searched for repositories at most.
pub const GIT_SCAN_MAX_DIRS: usize = 20_000;

/// How many levels below `/tmp` and `$TMPDIR` repositories are looked for. Every
/// `--full-auto` run can write there, so the user's repositories there need the same
/// protection as the workspace's; a search 4 levels deep protects them, but a repository that
/// another process deletes between the search and the mount then fails the launch (bwrap
/// exit 1, Landlock 125), which made concurrent runs flaky. Until the mounts tolerate a
/// vanished repository, only the top of those roots is searched (0); see README "Git".
pub const TEMP_SCAN_MAX_DEPTH: usize = 0;

/// The origin of the write rules commit mode adds (shown by `explain` and `profile`).
pub const COMMIT_RULE_ORIGIN: &str = "git commit mode: objects";

/// The git settings of a policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GitSettings {
    pub mode: GitMode,
    /// `[sandbox] git_scan_max_depth` (`None`: no depth limit, only [`GIT_SCAN_MAX_DIRS`]).
    pub scan_max_depth: Option<usize>,
    /// Filled by `resolve`: each root searched for repositories, and how deep.
    pub scan_roots: Vec<ScanRoot>,
    /// Filled by `resolve`: the roots the post-run check searches: [`Self::scan_roots`] with
    /// the temporary ones at their top only. Their deeper repositories are protected, not
    /// checked: other host processes change repositories there during a run, and a check
    /// would report their changes as the command's.
    #[serde(skip)]
    pub audit_roots: Vec<ScanRoot>,
    /// Filled by `resolve`: the repositories of the search within [`Self::audit_roots`] (the
    /// post-run check's first snapshot starts from them instead of searching again).
    #[serde(skip)]
    pub found: Vec<FoundRepo>,
}

impl Default for GitSettings {
    fn default() -> Self {
        GitSettings {
            mode: GitMode::ReadOnly,
            scan_max_depth: None,
            scan_roots: Vec::new(),
            audit_roots: Vec::new(),
            found: Vec::new(),
        }
    }
}

/// A directory searched for repositories, to `max_depth` levels below it (`None`: as deep as
/// [`GIT_SCAN_MAX_DIRS`] allows).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ScanRoot {
    pub path: PathBuf,
    pub max_depth: Option<usize>,
}

/// The files and directories of a gitdir that make git run things, with the reason shown for
/// each (`protected: git config`).
pub const SENSITIVE: [(&str, &str); 5] = [
    ("config", "git config"),
    ("config.worktree", "git config"),
    ("commondir", "git commondir"),
    ("hooks", "git hooks"),
    ("info", "git info"),
];

/// How a repository was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RepoKind {
    /// A `.git` directory.
    Dir,
    /// A `.git` file `gitdir: PATH`.
    Pointer,
    /// A directory that is itself a gitdir (HEAD, objects/, refs/): git uses it as a bare
    /// repository when run inside it.
    Bare,
}

/// A repository found below a root.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub struct FoundRepo {
    /// The `.git` entry, or the bare repository's directory.
    pub at: PathBuf,
    pub kind: RepoKind,
    /// Levels below the root of the directory holding `.git` (0: the root itself).
    pub depth: usize,
}

impl FoundRepo {
    /// The gitdir: the `.git` directory, the pointer's target (when it parses), or the bare
    /// directory.
    pub fn gitdir(&self) -> Option<PathBuf> {
        match self.kind {
            RepoKind::Dir | RepoKind::Bare => Some(self.at.clone()),
            RepoKind::Pointer => crate::resolve::gitdir::gitdir_target(&self.at),
        }
    }
}
