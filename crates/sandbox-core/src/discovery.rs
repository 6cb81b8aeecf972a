//! Which config file a run reads: `--config FILE`, else Codex's own
//! `$CODEX_HOME/config.toml` (default `~/.codex/config.toml`) when it exists, unless
//! `--no-config`. A Codex user's settings (and deny rules) then apply without a flag.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Where the config of a run comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigChoice {
    /// `--config FILE`.
    Given(PathBuf),
    /// Found at Codex's default location.
    Found(PathBuf),
    /// Nothing at the default location (`looked` is where, when it could be named).
    NotFound { looked: Option<PathBuf> },
    /// `--no-config`.
    Disabled,
}

impl ConfigChoice {
    /// The file to read, if any.
    pub fn file(&self) -> Option<&Path> {
        match self {
            ConfigChoice::Given(p) | ConfigChoice::Found(p) => Some(p),
            _ => None,
        }
    }

    /// One line for `-v` and `doctor`: which file is read and why.
    pub fn describe(&self) -> String {
        match self {
            ConfigChoice::Given(p) => format!("{} (--config)", p.display()),
            ConfigChoice::Found(p) => format!("{} (found; --no-config skips it)", p.display()),
            ConfigChoice::NotFound { looked: Some(p) } => {
                format!("none ({} does not exist)", p.display())
            }
            ConfigChoice::NotFound { looked: None } => {
                "none (neither CODEX_HOME nor HOME is set)".to_string()
            }
            ConfigChoice::Disabled => "none (--no-config)".to_string(),
        }
    }
}

/// Codex's config location: `$CODEX_HOME/config.toml`, else `$HOME/.codex/config.toml`.
/// An empty variable counts as unset; a relative one is taken from `start`.
pub fn default_config_path(
    codex_home: Option<&OsStr>,
    home: Option<&OsStr>,
    start: &Path,
) -> Option<PathBuf> {
    let dir = match (
        codex_home.filter(|v| !v.is_empty()),
        home.filter(|v| !v.is_empty()),
    ) {
        (Some(ch), _) => start.join(ch),
        (None, Some(h)) => start.join(h).join(".codex"),
        (None, None) => return None,
    };
    Some(dir.join("config.toml"))
}

/// Picks the config of a run. `given` must be absolute (the CLI makes it so). Anything at the
/// default path counts as found (a directory there then fails to read, with its name).
pub fn choose(
    given: Option<PathBuf>,
    no_config: bool,
    codex_home: Option<&OsStr>,
    home: Option<&OsStr>,
    start: &Path,
) -> ConfigChoice {
    if let Some(p) = given {
        return ConfigChoice::Given(p);
    }
    if no_config {
        return ConfigChoice::Disabled;
    }
    match default_config_path(codex_home, home, start) {
        Some(p) if p.exists() => ConfigChoice::Found(p),
        looked => ConfigChoice::NotFound { looked },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_home_beats_home_and_empty_is_unset() {
        let s = Path::new("/start");
        assert_eq!(
            default_config_path(Some(OsStr::new("/ch")), Some(OsStr::new("/h")), s),
            Some(PathBuf::from("/ch/config.toml"))
        );
        assert_eq!(
            default_config_path(Some(OsStr::new("")), Some(OsStr::new("/h")), s),
            Some(PathBuf::from("/h/.codex/config.toml"))
        );
        assert_eq!(default_config_path(None, None, s), None);
    }

    #[test]
    fn found_only_when_it_exists_and_not_with_no_config() {
        let d = tempfile::tempdir().unwrap();
        let ch = d.path().as_os_str();
        let s = Path::new("/");
        assert!(matches!(
            choose(None, false, Some(ch), None, s),
            ConfigChoice::NotFound { looked: Some(_) }
        ));
        std::fs::write(d.path().join("config.toml"), "").unwrap();
        assert_eq!(
            choose(None, false, Some(ch), None, s),
            ConfigChoice::Found(d.path().join("config.toml"))
        );
        assert_eq!(
            choose(None, true, Some(ch), None, s),
            ConfigChoice::Disabled
        );
        assert_eq!(
            choose(Some("/x.toml".into()), true, Some(ch), None, s),
            ConfigChoice::Given("/x.toml".into())
        );
    }
}
