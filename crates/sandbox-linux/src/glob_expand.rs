//! Deny-read glob expansion at launch: bubblewrap can only mask concrete paths, so each deny glob
//! is turned into the list of paths that match it *when the command starts*.
//!
//! Each glob is walked from its static prefix (the directories before the first metacharacter)
//! with the `ignore` crate's parallel walker, honouring `glob_scan_max_depth`. A glob whose
//! prefix is `/` (such as `/**/*.env`) would walk the whole machine and is refused with an error
//! that says how to narrow it. A matching directory is masked whole, so the walk does not
//! descend into it; a matching symlink is reported with its canonical target, which is masked too
//! (a mount placed at a link lands on its target anyway).
//!
//! Limitation (Linux only): files created, renamed or linked after launch are not covered. The
//! macOS backend matches globs in the kernel at access time; Linux cannot.

use ignore::{WalkBuilder, WalkState};
use sandbox_core::DenyGlob;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Refuse to mask more paths than this per launch (each file mask costs bwrap an fd).
pub const DEFAULT_MAX_MATCHES: usize = 4096;

/// What a matched path is on the host.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum MatchKind {
    File,
    Dir,
    /// A symlink; `target` is its canonical target when that exists.
    Symlink {
        target: Option<PathBuf>,
    },
}

/// One path that a deny glob matched.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct DenyMatch {
    pub path: PathBuf,
    pub kind: MatchKind,
    /// The absolute pattern that matched.
    pub pattern: String,
}

/// Knobs of one expansion.
#[derive(Clone, Debug)]
pub struct ExpandOptions {
    /// How many directory levels below a glob's static prefix to look (`None`: unlimited).
    pub max_depth: Option<usize>,
    /// Fail when more paths than this match (all globs together).
    pub max_matches: usize,
    /// Walker threads (`0`: let the walker choose).
    pub threads: usize,
}

impl Default for ExpandOptions {
    fn default() -> Self {
        ExpandOptions {
            max_depth: None,
            max_matches: DEFAULT_MAX_MATCHES,
            threads: 0,
        }
    }
}

/// Why deny globs could not be expanded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ExpandError {
    #[error("deny glob `{pattern}` ({origin}) would scan the whole filesystem from `/`; on Linux globs are expanded by walking the directory before the first wildcard")]
    RootWide { pattern: String, origin: String },
    #[error("deny globs matched more than {limit} paths (last pattern `{pattern}`)")]
    TooMany { pattern: String, limit: usize },
}

impl ExpandError {
    /// The way out, for the CLI's hint line.
    pub fn hint(&self) -> &'static str {
        match self {
            ExpandError::RootWide { .. } => {
                "anchor the glob below a directory, e.g. '**/*.env' (relative to the working directory) or '/home/me/**/*.env'"
            }
            ExpandError::TooMany { .. } => {
                "narrow the glob, deny the enclosing directory with a path rule instead, or lower glob_scan_max_depth"
            }
        }
    }
}

/// Expands every glob, sorted by path and de-duplicated. Walk errors inside the tree
/// (unreadable directories) are skipped: the sandboxed command cannot read them either.
pub fn expand(globs: &[DenyGlob], opts: &ExpandOptions) -> Result<Vec<DenyMatch>, ExpandError> {
    let mut all = Vec::new();
    for g in globs {
        let root = g.static_prefix();
        if root == Path::new("/") {
            return Err(ExpandError::RootWide {
                pattern: g.pattern.clone(),
                origin: g.origin.clone(),
            });
        }
        all.extend(walk_one(g, &root, opts));
        if all.len() > opts.max_matches {
            return Err(ExpandError::TooMany {
                pattern: g.pattern.clone(),
                limit: opts.max_matches,
            });
        }
    }
    all.sort();
    all.dedup_by(|a, b| a.path == b.path);
    Ok(all)
}

fn walk_one(g: &DenyGlob, root: &Path, opts: &ExpandOptions) -> Vec<DenyMatch> {
    if std::fs::symlink_metadata(root).is_err() {
        return Vec::new();
    }
    let found = Mutex::new(Vec::new());
    let walker = WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
        .max_depth(opts.max_depth)
        .threads(opts.threads)
        .build_parallel();
    walker.run(|| {
        let found = &found;
        Box::new(move |entry| {
            let Ok(entry) = entry else {
                return WalkState::Continue;
            };
            let path = entry.path();
            if !g.is_match(path) {
                return WalkState::Continue;
            }
            let ft = entry.file_type();
            let (kind, state) = if entry.path_is_symlink() {
                let target = std::fs::canonicalize(path).ok();
                (MatchKind::Symlink { target }, WalkState::Continue)
            } else if ft.is_some_and(|t| t.is_dir()) {
                // A masked directory hides everything below it: no need to look inside.
                (MatchKind::Dir, WalkState::Skip)
            } else {
                (MatchKind::File, WalkState::Continue)
            };
            found.lock().expect("walker mutex").push(DenyMatch {
                path: path.to_path_buf(),
                kind,
                pattern: g.pattern.clone(),
            });
            state
        })
    });
    found.into_inner().expect("walker mutex")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        fs::create_dir_all(p.join("sub/deep/er")).unwrap();
        fs::write(p.join("a.env"), "x").unwrap();
        fs::write(p.join("sub/b.env"), "x").unwrap();
        fs::write(p.join("sub/b.txt"), "x").unwrap();
        fs::write(p.join("sub/deep/er/c.env"), "x").unwrap();
        fs::create_dir_all(p.join("sub/dir.env/inner")).unwrap();
        fs::write(p.join("sub/dir.env/inner/d.env"), "x").unwrap();
        d
    }

    fn glob(root: &Path, rel: &str) -> DenyGlob {
        let root = fs::canonicalize(root).unwrap();
        DenyGlob::new(&format!("{}/{rel}", root.display()), "test").unwrap()
    }

    fn names(root: &Path, m: &[DenyMatch]) -> Vec<String> {
        let root = fs::canonicalize(root).unwrap();
        m.iter()
            .map(|m| m.path.strip_prefix(&root).unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn finds_matches_at_every_depth_and_skips_inside_matched_dirs() {
        let d = tree();
        let m = expand(&[glob(d.path(), "**/*.env")], &ExpandOptions::default()).unwrap();
        assert_eq!(
            names(d.path(), &m),
            ["a.env", "sub/b.env", "sub/deep/er/c.env", "sub/dir.env"]
        );
        assert_eq!(m[3].kind, MatchKind::Dir);
        assert_eq!(m[0].kind, MatchKind::File);
    }

    #[test]
    fn max_depth_limits_the_walk() {
        let d = tree();
        let opts = ExpandOptions {
            max_depth: Some(2),
            ..Default::default()
        };
        let m = expand(&[glob(d.path(), "**/*.env")], &opts).unwrap();
        assert_eq!(names(d.path(), &m), ["a.env", "sub/b.env", "sub/dir.env"]);
    }

    #[test]
    fn root_wide_pattern_is_refused() {
        let g = DenyGlob::new("/**/*.env", "--deny-read").unwrap();
        let e = expand(&[g], &ExpandOptions::default()).unwrap_err();
        assert!(matches!(e, ExpandError::RootWide { .. }));
        assert!(e.to_string().contains("whole filesystem"), "{e}");
    }

    #[test]
    fn too_many_matches_is_an_error() {
        let d = tree();
        let opts = ExpandOptions {
            max_matches: 2,
            ..Default::default()
        };
        let e = expand(&[glob(d.path(), "**/*.env")], &opts).unwrap_err();
        assert!(matches!(e, ExpandError::TooMany { limit: 2, .. }));
    }

    #[test]
    fn symlink_match_reports_its_canonical_target() {
        let d = tree();
        std::os::unix::fs::symlink(d.path().join("sub/b.txt"), d.path().join("link.env")).unwrap();
        let m = expand(&[glob(d.path(), "*.env")], &ExpandOptions::default()).unwrap();
        let link = m.iter().find(|m| m.path.ends_with("link.env")).unwrap();
        assert_eq!(
            link.kind,
            MatchKind::Symlink {
                target: Some(fs::canonicalize(d.path().join("sub/b.txt")).unwrap())
            }
        );
    }

    #[test]
    fn missing_prefix_matches_nothing() {
        let d = tree();
        let m = expand(
            &[glob(d.path(), "nope/**/*.env")],
            &ExpandOptions::default(),
        )
        .unwrap();
        assert!(m.is_empty());
    }
}
