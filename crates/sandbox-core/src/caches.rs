//! The caches preset (`--caches`, `[sandbox] caches = true | ["cargo", …]`): each toolchain's
//! regenerable download and build cache becomes a writable root, found where the tool itself
//! looks (its environment variables first), while the files beside it that run code later
//! (`~/.cargo/bin`, `~/.cargo/config.toml`, `~/.npmrc`, `~/go/bin`, …) stay read-only.
//!
//! A cache directory that does not exist yet is created (by the user running `sandbox`, so it
//! is theirs) instead of being skipped: a first build must work too. With `--caches` (every
//! tool), a missing cache is only created for a tool found on `PATH`, so the home directory is
//! not filled with directories of tools the user does not have.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The tools the preset knows, in the order they are listed.
pub const TOOLS: &[&str] = &[
    "cargo", "npm", "pnpm", "yarn", "pip", "uv", "go", "gradle", "maven", "ccache", "sccache",
];

/// What the origin of a cache rule says (what `explain` prints).
pub const ORIGIN: &str = "caches";

/// One cache path of one tool.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CachePath {
    pub tool: &'static str,
    /// Absolute, or `~/…` (resolved against `HOME` like any other rule).
    pub path: PathBuf,
    /// A lock or database file in the tool's home (cargo's `.package-cache`), not a directory.
    pub file: bool,
}

/// Which tools' caches a run makes writable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Selection {
    #[default]
    None,
    /// `--caches` / `caches = true`: every tool of [`TOOLS`].
    All,
    /// `caches = ["cargo", "pip"]`.
    Tools(Vec<String>),
}

impl Selection {
    /// The selected tools, checked against [`TOOLS`]; the unknown name on error.
    pub fn tools(&self) -> Result<Vec<&'static str>, String> {
        match self {
            Selection::None => Ok(Vec::new()),
            Selection::All => Ok(TOOLS.to_vec()),
            Selection::Tools(names) => names
                .iter()
                .map(|n| {
                    TOOLS
                        .iter()
                        .copied()
                        .find(|t| t == n)
                        .ok_or_else(|| n.clone())
                })
                .collect(),
        }
    }

    /// Whether a missing cache of `tool` is created only when the tool is installed.
    fn only_if_installed(&self) -> bool {
        matches!(self, Selection::All)
    }
}

/// The cache paths of `tool`, where the tool looks for them: `var` reads the environment
/// (`CARGO_HOME`, `npm_config_cache`, `PIP_CACHE_DIR`, `UV_CACHE_DIR`, `GOMODCACHE`, `GOPATH`,
/// `GOCACHE`, `GRADLE_USER_HOME`, `CCACHE_DIR`, `SCCACHE_DIR`, `XDG_CACHE_HOME`,
/// `XDG_DATA_HOME`). Relative or empty variables are ignored, as the tools do.
pub fn paths(tool: &'static str, var: &dyn Fn(&str) -> Option<OsString>) -> Vec<CachePath> {
    let abs = |name: &str| var(name).map(PathBuf::from).filter(|p| p.is_absolute());
    let home = |rel: &str| PathBuf::from(format!("~/{rel}"));
    let xdg_cache = abs("XDG_CACHE_HOME").unwrap_or_else(|| home(".cache"));
    let xdg_data = abs("XDG_DATA_HOME").unwrap_or_else(|| home(".local/share"));
    let dir = |path: PathBuf| CachePath {
        tool,
        path,
        file: false,
    };
    match tool {
        "cargo" => {
            let cargo_home = abs("CARGO_HOME").unwrap_or_else(|| home(".cargo"));
            let mut v = vec![
                dir(cargo_home.join("registry")),
                dir(cargo_home.join("git")),
            ];
            // Cargo's locks and its cache-tracking database live beside `bin/` and
            // `config.toml`: only these files are writable, not the directory.
            for f in [".package-cache", ".package-cache-mutate", ".global-cache"] {
                v.push(CachePath {
                    tool,
                    path: cargo_home.join(f),
                    file: true,
                });
            }
            v
        }
        "npm" => {
            let cache = abs("npm_config_cache")
                .or_else(|| abs("NPM_CONFIG_CACHE"))
                .unwrap_or_else(|| home(".npm"));
            vec![dir(cache)]
        }
        "pnpm" => vec![
            dir(xdg_cache.join("pnpm")),
            dir(abs("PNPM_HOME").map_or_else(|| xdg_data.join("pnpm/store"), |h| h.join("store"))),
        ],
        "yarn" => vec![dir(xdg_cache.join("yarn")), dir(home(".yarn/berry/cache"))],
        "pip" => vec![dir(
            abs("PIP_CACHE_DIR").unwrap_or_else(|| xdg_cache.join("pip"))
        )],
        "uv" => vec![dir(
            abs("UV_CACHE_DIR").unwrap_or_else(|| xdg_cache.join("uv"))
        )],
        "go" => {
            let modcache = abs("GOMODCACHE").unwrap_or_else(|| {
                // The first entry of GOPATH, as `go env GOMODCACHE` says.
                var("GOPATH")
                    .and_then(|g| std::env::split_paths(&g).next())
                    .filter(|p| p.is_absolute())
                    .unwrap_or_else(|| home("go"))
                    .join("pkg/mod")
            });
            vec![
                dir(modcache),
                dir(abs("GOCACHE").unwrap_or_else(|| xdg_cache.join("go-build"))),
            ]
        }
        "gradle" => {
            let gh = abs("GRADLE_USER_HOME").unwrap_or_else(|| home(".gradle"));
            vec![dir(gh.join("caches"))]
        }
        "maven" => vec![dir(home(".m2/repository"))],
        "ccache" => vec![dir(
            abs("CCACHE_DIR").unwrap_or_else(|| xdg_cache.join("ccache"))
        )],
        "sccache" => vec![dir(
            abs("SCCACHE_DIR").unwrap_or_else(|| xdg_cache.join("sccache"))
        )],
        _ => Vec::new(),
    }
}

/// The programs whose presence on `PATH` means a tool is installed.
fn programs(tool: &str) -> &'static [&'static str] {
    match tool {
        "cargo" => &["cargo"],
        "npm" => &["npm"],
        "pnpm" => &["pnpm"],
        "yarn" => &["yarn"],
        "pip" => &["pip", "pip3"],
        "uv" => &["uv"],
        "go" => &["go"],
        "gradle" => &["gradle"],
        "maven" => &["mvn"],
        "ccache" => &["ccache"],
        "sccache" => &["sccache"],
        _ => &[],
    }
}

/// Whether one of `tool`'s programs is on `path` (a `PATH` value).
pub fn installed(tool: &str, path: Option<&std::ffi::OsStr>) -> bool {
    let Some(path) = path else { return false };
    std::env::split_paths(path).any(|d| programs(tool).iter().any(|p| d.join(p).is_file()))
}

/// Everything the preset needs for one run: the cache paths, and which of them to create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Plan {
    pub paths: Vec<CachePath>,
    /// Paths to create when missing (a subset of `paths`).
    pub create: Vec<CachePath>,
}

/// Builds the plan for `selection` from the environment `var` (which also gives `PATH`).
/// With every tool selected, a tool that is neither on `PATH` nor has the cache already is
/// left out (no directory made, no "does not exist" warning).
pub fn plan(
    selection: &Selection,
    var: &dyn Fn(&str) -> Option<OsString>,
    home: Option<&Path>,
) -> Result<Plan, String> {
    let mut out = Plan::default();
    let path_var = var("PATH");
    for tool in selection.tools()? {
        let create = !selection.only_if_installed() || installed(tool, path_var.as_deref());
        for c in paths(tool, var) {
            if create {
                out.create.push(c.clone());
            } else if !expand(&c.path, home).is_some_and(|p| p.exists()) {
                continue;
            }
            out.paths.push(c);
        }
    }
    Ok(out)
}

/// `~/x` against `home` (which must be absolute); other paths unchanged.
fn expand(p: &Path, home: Option<&Path>) -> Option<PathBuf> {
    match p.strip_prefix("~") {
        Ok(rest) => home.filter(|h| h.is_absolute()).map(|h| h.join(rest)),
        Err(_) => Some(p.to_path_buf()),
    }
}

/// Creates the missing paths of `plan.create` (directories, or empty lock files), as the user
/// running `sandbox`. Gives one warning per path that could not be made (its rule is then
/// skipped, as for any missing root).
pub fn create_missing(plan: &Plan, home: Option<&Path>) -> Vec<String> {
    let mut warnings = Vec::new();
    for c in &plan.create {
        let Some(p) = expand(&c.path, home) else {
            continue;
        };
        if std::fs::symlink_metadata(&p).is_ok() {
            continue;
        }
        let made = if c.file {
            p.parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&p)
                        .map(drop)
                })
        } else {
            std::fs::create_dir_all(&p)
        };
        if let Err(e) = made {
            warnings.push(format!(
                "caches: cannot create the {} cache `{}`: {e}",
                c.tool,
                p.display()
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let m: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| m.get(k).cloned()
    }

    fn dirs(tool: &'static str, vars: &[(&str, &str)]) -> Vec<PathBuf> {
        paths(tool, &env(vars))
            .into_iter()
            .filter(|c| !c.file)
            .map(|c| c.path)
            .collect()
    }

    #[test]
    fn defaults_are_under_home() {
        assert_eq!(
            dirs("cargo", &[]),
            [PathBuf::from("~/.cargo/registry"), "~/.cargo/git".into()]
        );
        assert_eq!(dirs("npm", &[]), [PathBuf::from("~/.npm")]);
        assert_eq!(dirs("pip", &[]), [PathBuf::from("~/.cache/pip")]);
        assert_eq!(
            dirs("go", &[]),
            [PathBuf::from("~/go/pkg/mod"), "~/.cache/go-build".into()]
        );
        assert_eq!(dirs("maven", &[]), [PathBuf::from("~/.m2/repository")]);
    }

    #[test]
    fn the_tools_own_variables_win() {
        assert_eq!(
            dirs("cargo", &[("CARGO_HOME", "/opt/cargo")]),
            [
                PathBuf::from("/opt/cargo/registry"),
                "/opt/cargo/git".into()
            ]
        );
        assert_eq!(
            dirs("npm", &[("npm_config_cache", "/c/npm")]),
            [PathBuf::from("/c/npm")]
        );
        assert_eq!(
            dirs("pip", &[("PIP_CACHE_DIR", "/c/pip")]),
            [PathBuf::from("/c/pip")]
        );
        assert_eq!(
            dirs("pip", &[("XDG_CACHE_HOME", "/x")]),
            [PathBuf::from("/x/pip")]
        );
        assert_eq!(
            dirs("uv", &[("UV_CACHE_DIR", "/c/uv")]),
            [PathBuf::from("/c/uv")]
        );
        assert_eq!(
            dirs("go", &[("GOMODCACHE", "/m"), ("GOCACHE", "/b")]),
            [PathBuf::from("/m"), "/b".into()]
        );
        assert_eq!(
            dirs("go", &[("GOPATH", "/gp:/other")]),
            [PathBuf::from("/gp/pkg/mod"), "~/.cache/go-build".into()]
        );
        // A relative value is ignored, as the tools ignore it.
        assert_eq!(
            dirs("pip", &[("PIP_CACHE_DIR", "rel")]),
            [PathBuf::from("~/.cache/pip")]
        );
    }

    #[test]
    fn persistence_paths_are_never_cache_paths() {
        let all: Vec<PathBuf> = TOOLS
            .iter()
            .flat_map(|t| paths(t, &env(&[])))
            .map(|c| c.path)
            .collect();
        for p in [
            "~/.cargo",
            "~/.cargo/bin",
            "~/.cargo/config.toml",
            "~/.npmrc",
            "~/go/bin",
            "~/go",
            "~/.local/share/pnpm",
        ] {
            assert!(!all.iter().any(|c| c == Path::new(p)), "{p}");
        }
    }

    #[test]
    fn unknown_tool_is_named() {
        assert_eq!(
            Selection::Tools(vec!["cargo".into(), "bazel".into()]).tools(),
            Err("bazel".into())
        );
    }

    #[test]
    fn missing_caches_are_created_and_all_only_for_installed_tools() {
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("cargo"), "").unwrap();
        let vars = env(&[("PATH", bin.to_str().unwrap())]);
        let p = plan(&Selection::All, &vars, Some(d.path())).unwrap();
        assert!(p.create.iter().all(|c| c.tool == "cargo"), "{:?}", p.create);
        assert!(p.paths.iter().all(|c| c.tool == "cargo"), "{:?}", p.paths);
        assert!(create_missing(&p, Some(d.path())).is_empty());
        assert!(d.path().join(".cargo/registry").is_dir());
        assert!(d.path().join(".cargo/.package-cache").is_file());
        assert!(!d.path().join(".cargo/bin").exists());
        assert!(!d.path().join(".m2").exists());
        // A named tool is created whether installed or not.
        let p = plan(
            &Selection::Tools(vec!["maven".into()]),
            &env(&[]),
            Some(d.path()),
        )
        .unwrap();
        assert!(create_missing(&p, Some(d.path())).is_empty());
        assert!(d.path().join(".m2/repository").is_dir());
        // With every tool, an existing cache of a tool not on PATH is still made writable.
        let p = plan(&Selection::All, &vars, Some(d.path())).unwrap();
        assert!(p.paths.iter().any(|c| c.tool == "maven"));
        assert!(!p.create.iter().any(|c| c.tool == "maven"));
    }
}
