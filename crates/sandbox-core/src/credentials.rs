//! The credentials preset (`--deny-credentials`, `[sandbox] deny_credentials = true`): the
//! usual places of keys and tokens in a home directory become unreadable (and unwritable),
//! whatever else the policy allows. Missing ones are denied too, so they cannot be created.

use crate::policy::{Access, Entry, Target};
use std::path::{Path, PathBuf};

/// What `--deny-credentials` denies, relative to the home directory. The documented list
/// (README "Credentials"): SSH keys, cloud CLIs, GnuPG, GitHub CLI, package-registry tokens,
/// git and HTTP credential stores, container and cluster configs, Codex's own login.
pub const CREDENTIAL_PATHS: &[&str] = &[
    ".ssh",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".config/gh",
    ".config/hub",
    ".gnupg",
    ".password-store",
    ".netrc",
    ".git-credentials",
    ".config/git/credentials",
    ".docker/config.json",
    ".kube",
    ".npmrc",
    ".yarnrc.yml",
    ".pypirc",
    ".cargo/credentials.toml",
    ".cargo/credentials",
    ".gem/credentials",
    ".terraform.d/credentials.tfrc.json",
    ".vault-token",
    ".codex/auth.json",
    ".config/op",
];

/// Files in `~/.ssh` that stay readable: `known_hosts` is what `git` and `ssh` check a server
/// against, and holds no secret.
pub const STILL_READABLE: &[&str] = &["known_hosts", "known_hosts.old"];

/// The rule the preset's entries carry (what `explain` prints).
pub const ORIGIN: &str = "deny_credentials";

/// The deny entries of the preset, as `~/…` paths (resolved against `HOME` like any other),
/// for the paths that exist under `home` when the run starts: a missing one holds no secret
/// to read, and a deny rule on it would only litter the home with placeholders.
///
/// `~/.ssh` is denied as a whole, unless it holds a `known_hosts` file: then each of its
/// entries but [`STILL_READABLE`] is denied, so `ssh` and `git` can still check host keys
/// (the same on every backend: a readable file inside a masked directory could not be).
/// Files added to `~/.ssh` while the command runs are then not covered.
pub fn entries(home: Option<&Path>) -> Vec<Entry> {
    let Some(home) = home.filter(|h| h.is_absolute()) else {
        // `~/…` then fails to resolve, naming HOME: refuse rather than deny nothing.
        return vec![Entry::new(
            Target::Path("~/.ssh".into()),
            Access::Deny,
            ORIGIN,
        )];
    };
    let deny =
        |rel: PathBuf| Entry::new(Target::Path(Path::new("~").join(rel)), Access::Deny, ORIGIN);
    let mut out = Vec::new();
    for rel in CREDENTIAL_PATHS {
        let path = home.join(rel);
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        let keep = |name: &std::ffi::OsStr| STILL_READABLE.iter().any(|k| name == *k);
        if *rel == ".ssh" && STILL_READABLE.iter().any(|k| path.join(k).exists()) {
            if let Ok(dir) = std::fs::read_dir(&path) {
                let mut names: Vec<_> = dir.flatten().map(|e| e.file_name()).collect();
                names.sort();
                for name in names.into_iter().filter(|n| !keep(n)) {
                    out.push(deny(Path::new(rel).join(name)));
                }
                continue;
            }
        }
        out.push(deny(PathBuf::from(rel)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_credentials_are_denied_and_known_hosts_stays_readable() {
        let d = tempfile::tempdir().unwrap();
        let targets = |e: Vec<Entry>| -> Vec<PathBuf> {
            assert!(e.iter().all(|e| e.access == Access::Deny));
            e.into_iter()
                .map(|e| match e.target {
                    Target::Path(p) => p,
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        assert!(entries(Some(d.path())).is_empty(), "nothing exists");
        std::fs::create_dir(d.path().join(".ssh")).unwrap();
        std::fs::write(d.path().join(".ssh/id_rsa"), "").unwrap();
        std::fs::write(d.path().join(".netrc"), "").unwrap();
        assert_eq!(
            targets(entries(Some(d.path()))),
            [PathBuf::from("~/.ssh"), "~/.netrc".into()]
        );
        std::fs::write(d.path().join(".ssh/known_hosts"), "").unwrap();
        assert_eq!(
            targets(entries(Some(d.path()))),
            [PathBuf::from("~/.ssh/id_rsa"), "~/.netrc".into()]
        );
    }
}
