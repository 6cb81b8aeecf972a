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
//! A directory the walk cannot list is checked for search permission: when the command could
//! still open files inside it by name (mode 0711, say), its files cannot be checked against the
//! glob, so the expansion fails ([`ExpandError::Unlistable`]) rather than leave them readable.
//! A directory that can be neither listed nor traversed is skipped: the command cannot reach
//! inside either. A fully literal pattern needs no listing: its path is looked up directly.
//!
//! Limitation (Linux only): files created, renamed or linked after launch are not covered. The
//! macOS backend matches globs in the kernel at access time; Linux cannot.

use ignore::{WalkBuilder, WalkState};
use sandbox_core::glob::GLOB_META;
use sandbox_core::DenyGlob;
use serde::Serialize;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
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

/// The paths the directories above which must not be renamed while `matches` are masked
/// ([`sandbox_core::ResolvedPolicy::rename_pins_with`]): each match, and a matched link's
/// target (the path that is masked for it).
pub fn pinned_paths(matches: &[DenyMatch]) -> impl Iterator<Item = &Path> {
    matches.iter().flat_map(|m| {
        let target = match &m.kind {
            MatchKind::Symlink { target } => target.as_deref(),
            _ => None,
        };
        std::iter::once(m.path.as_path()).chain(target)
    })
}

/// The result of [`expand`]: the matches, and the globs whose walk the depth limit cut short.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Expansion {
    /// Every match, sorted by path and de-duplicated.
    pub matches: Vec<DenyMatch>,
    /// Patterns for which a directory at `max_depth` had entries the walk did not look at, so
    /// deeper matches (if any) are not masked.
    pub depth_cut: Vec<String>,
    /// The depth limit that was applied.
    pub max_depth: Option<usize>,
}

impl Expansion {
    /// One warning line per glob the depth limit cut short.
    pub fn warnings(&self) -> Vec<String> {
        let depth = self.max_depth.unwrap_or_default();
        self.depth_cut
            .iter()
            .map(|p| {
                format!("deny glob '{p}' was scanned to depth {depth} only (glob_scan_max_depth): deeper matches are not masked")
            })
            .collect()
    }
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
    /// A directory the command can traverse but the walk cannot list.
    #[error("cannot list {} ({reason}) but it can be traversed: files inside could not be checked against deny glob `{pattern}`", dir.display())]
    Unlistable {
        dir: PathBuf,
        reason: String,
        pattern: String,
    },
    /// Any other failure to read a directory or entry during the walk.
    #[error("cannot read {} ({reason}): files there could not be checked against deny glob `{pattern}`", path.display())]
    Walk {
        path: PathBuf,
        reason: String,
        pattern: String,
    },
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
            ExpandError::Unlistable { .. } | ExpandError::Walk { .. } => {
                "deny the exact file instead (a --deny-read path without wildcards, or a config deny rule such as \"/dir/secret.env\" = \"deny\") or the whole directory: none of these needs a listing"
            }
        }
    }
}

/// Expands every glob into the paths that match it now. Fails when a directory that may hold
/// a match cannot be read ([`ExpandError::Unlistable`], [`ExpandError::Walk`]).
pub fn expand(globs: &[DenyGlob], opts: &ExpandOptions) -> Result<Expansion, ExpandError> {
    let mut all = Vec::new();
    let mut depth_cut = Vec::new();
    for g in globs {
        if let Some(found) = literal_match(g)? {
            all.extend(found);
        } else {
            let root = g.static_prefix();
            if root == Path::new("/") {
                return Err(ExpandError::RootWide {
                    pattern: g.pattern.clone(),
                    origin: g.origin.clone(),
                });
            }
            let (found, cut) = walk_one(g, &root, opts)?;
            all.extend(found);
            if cut {
                depth_cut.push(g.pattern.clone());
            }
        }
        if all.len() > opts.max_matches {
            return Err(ExpandError::TooMany {
                pattern: g.pattern.clone(),
                limit: opts.max_matches,
            });
        }
    }
    all.sort();
    all.dedup_by(|a, b| a.path == b.path);
    Ok(Expansion {
        matches: all,
        depth_cut,
        max_depth: opts.max_depth,
    })
}

/// A pattern without metacharacters names one path: look it up instead of listing its parent.
/// `Ok(None)` when it is not a literal; else its match, if it names something the command
/// could reach.
fn literal_match(g: &DenyGlob) -> Result<Option<Option<DenyMatch>>, ExpandError> {
    let rel = g.relative_pattern();
    if rel.contains(GLOB_META) || rel.contains('\\') {
        return Ok(None);
    }
    let path = Path::new(&g.pattern);
    if !g.is_match(path) {
        return Ok(None);
    }
    match std::fs::symlink_metadata(path) {
        Ok(md) => Ok(Some(Some(DenyMatch {
            path: path.to_path_buf(),
            kind: kind_of(path, md.file_type().is_symlink(), md.is_dir()),
            pattern: g.pattern.clone(),
        }))),
        // Missing, or behind a directory the command cannot search either.
        Err(e) if skippable(&e) || e.kind() == io::ErrorKind::PermissionDenied => Ok(Some(None)),
        Err(e) => Err(ExpandError::Walk {
            path: path.to_path_buf(),
            reason: e.to_string(),
            pattern: g.pattern.clone(),
        }),
    }
}

fn kind_of(path: &Path, is_symlink: bool, is_dir: bool) -> MatchKind {
    if is_symlink {
        MatchKind::Symlink {
            target: std::fs::canonicalize(path).ok(),
        }
    } else if is_dir {
        MatchKind::Dir
    } else {
        MatchKind::File
    }
}

/// The entry vanished or changed under the walk: there is nothing to mask.
fn skippable(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(ENOTDIR)
}

#[cfg(unix)]
const ENOTDIR: i32 = 20;
#[cfg(not(unix))]
const ENOTDIR: i32 = -1;

/// Decides what a walk error at `path` means: `None` when it cannot hide a path the command
/// could open (the entry vanished, or it is a directory the command can neither list nor
/// traverse), else the error that stops the expansion. `traversable` asks whether the effective
/// user may search `path`.
fn judge_walk_error(
    path: &Path,
    err: &io::Error,
    pattern: &str,
    traversable: impl FnOnce(&Path) -> bool,
) -> Option<ExpandError> {
    if skippable(err) {
        return None;
    }
    if err.kind() == io::ErrorKind::PermissionDenied {
        if !traversable(path) {
            return None;
        }
        return Some(ExpandError::Unlistable {
            dir: path.to_path_buf(),
            reason: "permission denied".into(),
            pattern: pattern.into(),
        });
    }
    Some(ExpandError::Walk {
        path: path.to_path_buf(),
        reason: err.to_string(),
        pattern: pattern.into(),
    })
}

/// Whether the effective user may search the directory `path` (`access(2)` with `X_OK` and
/// `AT_EACCESS`).
#[cfg(target_os = "linux")]
fn can_traverse(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return true;
    };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call; faccessat only
    // reads it.
    unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::X_OK, libc::AT_EACCESS) == 0 }
}

/// Elsewhere the expansion is not used to launch; assume the worst.
#[cfg(not(target_os = "linux"))]
fn can_traverse(_path: &Path) -> bool {
    true
}

/// The path and I/O error inside a walker error, when it has them.
fn walk_error_parts(e: &ignore::Error) -> (Option<&Path>, Option<&io::Error>) {
    match e {
        ignore::Error::WithPath { path, err } => (Some(path), err.io_error()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_error_parts(err)
        }
        ignore::Error::Io(io) => (None, Some(io)),
        _ => (None, None),
    }
}

/// How deep below its static prefix `g` can match: `None` when unbounded (`**`).
fn match_depth(g: &DenyGlob) -> Option<usize> {
    let rel = g.relative_pattern();
    if rel.contains("**") {
        return None;
    }
    Some(rel.split('/').filter(|c| !c.is_empty()).count())
}

/// Whether the walk stopped at the directory `path` (at the depth limit) although it has
/// entries the command could reach.
fn has_unvisited_entries(path: &Path) -> bool {
    match std::fs::read_dir(path) {
        Ok(mut rd) => rd.next().is_some(),
        Err(e) => !skippable(&e) && can_traverse(path),
    }
}

/// Walks one glob from `root`: its matches, and whether the depth limit cut the walk short.
fn walk_one(
    g: &DenyGlob,
    root: &Path,
    opts: &ExpandOptions,
) -> Result<(Vec<DenyMatch>, bool), ExpandError> {
    if std::fs::symlink_metadata(root).is_err() {
        return Ok((Vec::new(), false));
    }
    // The depth limit can only hide matches of a glob that reaches below it.
    let limit = opts
        .max_depth
        .filter(|&d| match_depth(g).is_none_or(|m| m > d));
    let found = Mutex::new(Vec::new());
    let failure = Mutex::new(None);
    let cut = AtomicBool::new(false);
    let walker = WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
        .max_depth(opts.max_depth)
        .threads(opts.threads)
        .build_parallel();
    walker.run(|| {
        let (found, failure, cut) = (&found, &failure, &cut);
        Box::new(move |entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    let (path, io) = walk_error_parts(&e);
                    // Errors without an I/O cause come from ignore files, which are off here.
                    let Some(io) = io else {
                        return WalkState::Continue;
                    };
                    let path = path.unwrap_or(root);
                    return match judge_walk_error(path, io, &g.pattern, can_traverse) {
                        None => WalkState::Continue,
                        Some(err) => {
                            failure.lock().expect("walker mutex").get_or_insert(err);
                            WalkState::Quit
                        }
                    };
                }
            };
            let path = entry.path();
            let is_symlink = entry.path_is_symlink();
            let is_dir = !is_symlink && entry.file_type().is_some_and(|t| t.is_dir());
            if !g.is_match(path) {
                if is_dir
                    && limit == Some(entry.depth())
                    && !cut.load(Ordering::Relaxed)
                    && has_unvisited_entries(path)
                {
                    cut.store(true, Ordering::Relaxed);
                }
                return WalkState::Continue;
            }
            let kind = kind_of(path, is_symlink, is_dir);
            // A masked directory hides everything below it: no need to look inside.
            let state = if kind == MatchKind::Dir {
                WalkState::Skip
            } else {
                WalkState::Continue
            };
            found.lock().expect("walker mutex").push(DenyMatch {
                path: path.to_path_buf(),
                kind,
                pattern: g.pattern.clone(),
            });
            state
        })
    });
    if let Some(e) = failure.into_inner().expect("walker mutex") {
        return Err(e);
    }
    Ok((found.into_inner().expect("walker mutex"), cut.into_inner()))
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
        let m = expand(&[glob(d.path(), "**/*.env")], &ExpandOptions::default())
            .unwrap()
            .matches;
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
        let m = expand(&[glob(d.path(), "**/*.env")], &opts)
            .unwrap()
            .matches;
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
        let m = expand(&[glob(d.path(), "*.env")], &ExpandOptions::default())
            .unwrap()
            .matches;
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
        .unwrap()
        .matches;
        assert!(m.is_empty());
    }

    fn depth(d: usize) -> ExpandOptions {
        ExpandOptions {
            max_depth: Some(d),
            ..Default::default()
        }
    }

    #[test]
    fn depth_cut_is_reported_only_when_the_limit_hid_entries() {
        let d = tree();
        let g = glob(d.path(), "**/*.env");
        // sub/deep (depth 2) and sub/deep/er (depth 3) hold entries the walk did not visit.
        for limit in [2, 3] {
            let e = expand(std::slice::from_ref(&g), &depth(limit)).unwrap();
            assert_eq!(
                e.depth_cut,
                std::slice::from_ref(&g.pattern),
                "limit {limit}"
            );
            assert_eq!(
                e.warnings(),
                [format!("deny glob '{}' was scanned to depth {limit} only (glob_scan_max_depth): deeper matches are not masked", g.pattern)]
            );
        }
        // Nothing below depth 4 exists (sub/dir.env is matched and masked whole).
        let e = expand(std::slice::from_ref(&g), &depth(4)).unwrap();
        assert!(e.depth_cut.is_empty(), "{e:?}");
        assert!(e.warnings().is_empty());
        assert!(expand(&[g], &ExpandOptions::default())
            .unwrap()
            .depth_cut
            .is_empty());
    }

    #[test]
    fn empty_directory_at_the_limit_is_no_cut() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("a/empty")).unwrap();
        let e = expand(&[glob(d.path(), "**/*.env")], &depth(2)).unwrap();
        assert!(e.depth_cut.is_empty(), "{e:?}");
        fs::write(d.path().join("a/empty/x"), "x").unwrap();
        let e = expand(&[glob(d.path(), "**/*.env")], &depth(2)).unwrap();
        assert_eq!(e.depth_cut.len(), 1, "{e:?}");
    }

    #[test]
    fn glob_that_cannot_reach_below_the_limit_is_no_cut() {
        let d = tree();
        // `*.env` matches at depth 1 only: the entries below `sub` cannot match it.
        let e = expand(&[glob(d.path(), "*.env")], &depth(1)).unwrap();
        assert!(e.depth_cut.is_empty(), "{e:?}");
        assert_eq!(names(d.path(), &e.matches), ["a.env"]);
        // `*/*/*.env` reaches depth 3, below a limit of 2.
        let e = expand(&[glob(d.path(), "*/*/*.env")], &depth(2)).unwrap();
        assert_eq!(e.depth_cut.len(), 1, "{e:?}");
    }

    #[test]
    fn literal_pattern_is_looked_up_without_listing() {
        let d = tree();
        let e = expand(
            &[glob(d.path(), "sub/b.env"), glob(d.path(), "sub/deep")],
            &ExpandOptions::default(),
        )
        .unwrap();
        assert_eq!(names(d.path(), &e.matches), ["sub/b.env", "sub/deep"]);
        assert_eq!(e.matches[0].kind, MatchKind::File);
        assert_eq!(e.matches[1].kind, MatchKind::Dir);
        let e = expand(&[glob(d.path(), "sub/nope.env")], &ExpandOptions::default()).unwrap();
        assert!(e.matches.is_empty());
        // A literal needs no walk, so one directly under `/` is no whole-filesystem scan.
        let g = DenyGlob::new("/no-such-file-for-glob-expand-test.env", "test").unwrap();
        let e = expand(&[g], &ExpandOptions::default()).unwrap();
        assert!(e.matches.is_empty());
    }

    fn io(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn unlistable_but_traversable_directory_fails_closed() {
        let dir = Path::new("/srv/hid");
        let e = judge_walk_error(dir, &io(libc_eacces()), "/srv/**/*.env", |_| true).unwrap();
        assert_eq!(
            e,
            ExpandError::Unlistable {
                dir: dir.into(),
                reason: "permission denied".into(),
                pattern: "/srv/**/*.env".into()
            }
        );
        let msg = e.to_string();
        assert!(
            msg.contains("cannot list /srv/hid (permission denied) but it can be traversed"),
            "{msg}"
        );
        assert!(msg.contains("/srv/**/*.env"), "{msg}");
        assert!(e.hint().contains("deny rule"), "{}", e.hint());
    }

    #[test]
    fn walk_errors_that_hide_nothing_are_skipped() {
        let dir = Path::new("/srv/priv");
        // Neither listable nor traversable: the command cannot reach inside either.
        assert_eq!(
            judge_walk_error(dir, &io(libc_eacces()), "p", |_| false),
            None
        );
        // Gone (or replaced by a file) while walking: nothing to mask.
        assert_eq!(judge_walk_error(dir, &io(2), "p", |_| true), None);
        assert_eq!(judge_walk_error(dir, &io(20), "p", |_| true), None);
    }

    #[test]
    fn other_walk_errors_fail_closed() {
        let e = judge_walk_error(Path::new("/srv/x"), &io(5), "p", |_| true).unwrap();
        assert!(matches!(e, ExpandError::Walk { .. }), "{e:?}");
        assert!(e.to_string().starts_with("cannot read /srv/x ("), "{e}");
    }

    fn libc_eacces() -> i32 {
        13
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn traversal_check_asks_the_kernel() {
        let d = tempfile::tempdir().unwrap();
        assert!(can_traverse(d.path()));
        assert!(!can_traverse(&d.path().join("missing")));
        // A regular file cannot be searched, even by root.
        fs::write(d.path().join("f"), "x").unwrap();
        assert!(!can_traverse(&d.path().join("f")));
    }

    #[test]
    fn pinned_paths_are_each_match_and_a_matched_links_target() {
        let m = |path: &str, kind| DenyMatch {
            path: path.into(),
            kind,
            pattern: "p".into(),
        };
        let matches = [
            m("/w/a.env", MatchKind::File),
            m(
                "/w/l.env",
                MatchKind::Symlink {
                    target: Some("/w/t/x".into()),
                },
            ),
            m("/w/dangling.env", MatchKind::Symlink { target: None }),
        ];
        let got: Vec<&Path> = pinned_paths(&matches).collect();
        let want = ["/w/a.env", "/w/l.env", "/w/t/x", "/w/dangling.env"];
        assert_eq!(got, want.map(Path::new));
    }
}
