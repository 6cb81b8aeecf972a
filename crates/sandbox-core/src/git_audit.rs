//! The post-run git check: what the command left behind that git would execute.
//!
//! Some plants cannot be prevented without breaking normal work: `git init` and `cargo new`
//! must keep working, so a new repository (or a writable root turned into a bare repository,
//! or a rewritten submodule pointer aimed at a copied gitdir) is allowed while the command
//! runs. Before launch, [`Snapshot::take`] records every git-executable item of every
//! repository git would discover in the searched roots ([`crate::git::GitSettings::scan_roots`]):
//! the settings of each gitdir's `config` and `config.worktree` that run programs or load more
//! config ([`crate::gitconfig::is_exec_setting`]), each hook file, and each file of a
//! `core.hooksPath` directory. After the run, a second
//! snapshot is taken; each item it has that the first did not is a [`Finding`].
//!
//! Nothing here runs git: configs are parsed by [`crate::gitconfig`].

use crate::git::{gitdir_family, scan, ScanRoot};
use crate::gitconfig::{is_exec_setting, parse, MAX_CONFIG_BYTES};
use serde::Serialize;
use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// One thing git would run or load: a setting in a config file, or a hook.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[non_exhaustive]
pub struct Item {
    /// The config file or hook.
    pub file: PathBuf,
    /// `core.fsmonitor`, or `hook`.
    pub key: String,
    /// The setting's value, or the hook's content digest.
    pub value: String,
}

/// Something the command planted: an [`Item`] that was not there before the run.
pub type Finding = Item;

/// Every git-executable item found at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Snapshot {
    pub items: BTreeSet<Item>,
}

impl Snapshot {
    /// Searches `roots` for repositories and records their items, plus those of `user_configs`
    /// (the global git configs, when the command can write them). Files named by `include.path`
    /// and `includeIf.*.path` are read too (`~/` taken from `home`).
    pub fn take(roots: &[ScanRoot], user_configs: &[PathBuf], home: Option<&Path>) -> Snapshot {
        Snapshot::of_repos(&scan(roots).repos, user_configs, home)
    }

    /// Like [`Snapshot::take`], for repositories already found (by `resolve`, just before).
    pub fn of_repos(
        repos: &[crate::git::FoundRepo],
        user_configs: &[PathBuf],
        home: Option<&Path>,
    ) -> Snapshot {
        let mut gitdirs = BTreeSet::new();
        // Where each `.git` found sits: relative `core.hooksPath` values start there.
        let mut worktree_of = std::collections::BTreeMap::new();
        for r in repos {
            if let Some(g) = r.gitdir() {
                let g = crate::resolve::normalize(&g);
                if r.kind != crate::git::RepoKind::Bare {
                    if let Some(w) = r.at.parent() {
                        worktree_of.insert(g.clone(), w.to_path_buf());
                    }
                }
                gitdirs.extend(gitdir_family(&g));
            }
        }
        let mut items = BTreeSet::new();
        for g in &gitdirs {
            let mut here = BTreeSet::new();
            for name in ["config", "config.worktree"] {
                config_items(&g.join(name), home, 0, &mut here);
            }
            hook_items(&g.join("hooks"), &mut here);
            hooks_path_items(
                &here,
                worktree_of.get(g).map(PathBuf::as_path),
                home,
                &mut items,
            );
            items.extend(here);
        }
        let mut here = BTreeSet::new();
        for c in user_configs {
            config_items(c, home, 0, &mut here);
        }
        hooks_path_items(&here, None, home, &mut items);
        items.extend(here);
        Snapshot { items }
    }

    /// The items of `after` that this snapshot does not have.
    pub fn findings(&self, after: &Snapshot) -> Vec<Finding> {
        after.items.difference(&self.items).cloned().collect()
    }
}

/// How deep `include`s are followed (git itself stops at 10).
const MAX_INCLUDE_DEPTH: usize = 10;

fn config_items(file: &Path, home: Option<&Path>, depth: usize, items: &mut BTreeSet<Item>) {
    let Ok(m) = std::fs::metadata(file) else {
        return;
    };
    if !m.is_file() {
        return;
    }
    let text = open_nonblocking(file).and_then(|f| {
        let mut b = Vec::new();
        f.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut b).map(|_| b)
    });
    let Ok(bytes) = text else { return };
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        items.insert(Item {
            file: file.to_path_buf(),
            key: "(config too large to check)".into(),
            value: format!("{} bytes", m.len()),
        });
        return;
    }
    for s in parse(&String::from_utf8_lossy(&bytes)) {
        let include = s.key == "include.path"
            || (s.key.starts_with("includeif.") && s.key.ends_with(".path"));
        if include && depth < MAX_INCLUDE_DEPTH {
            let v = s.value.as_str();
            let target = match v.strip_prefix("~/") {
                Some(rest) => home.map(|h| h.join(rest)),
                None if Path::new(v).is_absolute() => Some(PathBuf::from(v)),
                None => file.parent().map(|d| d.join(v)),
            };
            if let Some(t) = target {
                config_items(&crate::resolve::normalize(&t), home, depth + 1, items);
            }
        }
        if is_exec_setting(&s) {
            items.insert(Item {
                file: file.to_path_buf(),
                key: s.key,
                value: s.value,
            });
        }
    }
}

/// The hooks in each directory a `core.hooksPath` of `settings` names (often a directory of
/// the work tree, which the command can write): relative values are taken from `worktree`.
fn hooks_path_items(
    settings: &BTreeSet<Item>,
    worktree: Option<&Path>,
    home: Option<&Path>,
    items: &mut BTreeSet<Item>,
) {
    for s in settings.iter().filter(|s| s.key == "core.hookspath") {
        let v = s.value.as_str();
        let dir = match v.strip_prefix("~/") {
            Some(rest) => home.map(|h| h.join(rest)),
            None if Path::new(v).is_absolute() => Some(PathBuf::from(v)),
            None => worktree.map(|w| w.join(v)),
        };
        if let Some(d) = dir {
            hook_items(&crate::resolve::normalize(&d), items);
        }
    }
}

/// Each file in `hooks/` that git could run (`*.sample` files are never run).
fn hook_items(dir: &Path, items: &mut BTreeSet<Item>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".sample") {
            continue;
        }
        let path = e.path();
        let Ok(m) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        // git runs a regular file or a link to one; a FIFO or directory cannot be executed.
        let value = if m.file_type().is_symlink() {
            match std::fs::read_link(&path) {
                Ok(t) => format!("link to {}", t.display()),
                Err(_) => "link".into(),
            }
        } else if m.is_file() {
            digest(&path)
        } else {
            continue;
        };
        items.insert(Item {
            value,
            file: path,
            key: "hook".into(),
        });
    }
}

/// A short content digest (FNV-1a of the first MiB, plus the size), so an edited hook counts
/// as new. Not cryptographic: the command cannot make an edit invisible without it also being
/// the same program.
fn digest(p: &Path) -> String {
    let Ok(f) = open_nonblocking(p) else {
        return "unreadable".into();
    };
    let mut bytes = Vec::new();
    if f.take(MAX_CONFIG_BYTES).read_to_end(&mut bytes).is_err() {
        return "unreadable".into();
    }
    let mut h: u64 = 0xcbf29ce484222325;
    for b in &bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    format!("{len} bytes, fnv {h:016x}")
}

/// Opens a file for reading without waiting on a FIFO (one swapped in after a check).
fn open_nonblocking(p: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.custom_flags(libc::O_NONBLOCK);
    }
    let f = o.open(p)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(f)
}

/// One line per finding, for stderr.
pub fn describe(f: &Finding) -> String {
    if f.key == "hook" {
        format!(
            "hook `{}` was created or changed: git runs it on the host",
            f.file.display()
        )
    } else {
        format!(
            "`{} = {}` was added to `{}`: git runs or loads what it names on the host",
            f.key,
            f.value.escape_debug(),
            f.file.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git_dir(root: &Path, rel: &str) -> PathBuf {
        let g = root.join(rel);
        std::fs::create_dir_all(g.join("objects")).unwrap();
        std::fs::create_dir_all(g.join("refs")).unwrap();
        std::fs::create_dir_all(g.join("hooks")).unwrap();
        std::fs::write(g.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(g.join("config"), "[core]\n\tbare = false\n").unwrap();
        std::fs::write(g.join("hooks/pre-commit.sample"), "#!/bin/sh\n").unwrap();
        g
    }

    #[test]
    fn new_settings_hooks_and_bare_roots_are_found_old_ones_are_not() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let g = git_dir(&root, ".git");
        std::fs::write(g.join("config"), "[core]\n\tpager = less\n").unwrap();
        let roots = [ScanRoot {
            path: root.clone(),
            max_depth: Some(3),
        }];
        let before = Snapshot::take(&roots, &[], None);
        assert_eq!(before.items.len(), 1, "{before:?}");
        // Nested repository with a hook; the root's config gains fsmonitor; a pointer aimed
        // at a copied gitdir outside the usual place.
        let nested = git_dir(&root, "a/sub/.git");
        std::fs::write(nested.join("hooks/post-checkout"), "#!/bin/sh\n").unwrap();
        std::fs::write(
            g.join("config"),
            "[core]\n\tpager = less\n\tfsmonitor = touch x\n",
        )
        .unwrap();
        let copy = git_dir(&root, "elsewhere/copy");
        std::fs::write(copy.join("config"), "[core]\nfsmonitor=evil\n").unwrap();
        std::fs::create_dir_all(root.join("p")).unwrap();
        std::fs::write(root.join("p/.git"), format!("gitdir: {}\n", copy.display())).unwrap();
        let after = Snapshot::take(&roots, &[], None);
        let f = before.findings(&after);
        let keys: Vec<String> = f
            .iter()
            .map(|i| {
                format!(
                    "{} {}",
                    i.file.strip_prefix(&root).unwrap().display(),
                    i.key
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                ".git/config core.fsmonitor",
                "a/sub/.git/hooks/post-checkout hook",
                "elsewhere/copy/config core.fsmonitor",
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn fifos_in_hooks_and_config_do_not_block_the_check() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let roots = [ScanRoot {
            path: root.clone(),
            max_depth: Some(2),
        }];
        let before = Snapshot::take(&roots, &[], None);
        let g = git_dir(&root, "x/.git");
        std::fs::remove_file(g.join("config")).unwrap();
        for fifo in [g.join("config"), g.join("hooks/pre-commit")] {
            let ok = std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap();
            assert!(ok.success());
        }
        std::os::unix::fs::symlink("/bin/sh", g.join("hooks/post-checkout")).unwrap();
        let f = before.findings(&Snapshot::take(&roots, &[], None));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].value, "link to /bin/sh");
    }

    #[test]
    fn included_files_and_user_configs_are_read() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let g = git_dir(&root, ".git");
        std::fs::write(g.join("config"), "[include]\n\tpath = ../shared.inc\n").unwrap();
        let user = root.join("home/.gitconfig");
        std::fs::create_dir_all(user.parent().unwrap()).unwrap();
        let roots = [ScanRoot {
            path: root.clone(),
            max_depth: None,
        }];
        let take = || Snapshot::take(&roots, std::slice::from_ref(&user), Some(&root));
        let before = take();
        std::fs::write(root.join("shared.inc"), "[core]\nsshCommand = evil\n").unwrap();
        std::fs::write(&user, "[include]\npath = ~/more.inc\n").unwrap();
        std::fs::write(root.join("more.inc"), "[alias]\nx = !evil\n").unwrap();
        let f = before.findings(&take());
        let keys: Vec<&str> = f.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            ["include.path", "alias.x", "core.sshcommand"],
            "{f:?}"
        );
    }

    #[test]
    fn hooks_in_a_hooks_path_of_the_work_tree_are_checked() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let g = git_dir(&root, ".git");
        std::fs::write(g.join("config"), "[core]\n\thooksPath = .githooks\n").unwrap();
        std::fs::create_dir(root.join(".githooks")).unwrap();
        std::fs::write(root.join(".githooks/pre-commit"), "#!/bin/sh\nlint\n").unwrap();
        let roots = [ScanRoot {
            path: root.clone(),
            max_depth: None,
        }];
        let before = Snapshot::take(&roots, &[], None);
        assert!(before
            .findings(&Snapshot::take(&roots, &[], None))
            .is_empty());
        std::fs::write(root.join(".githooks/pre-commit"), "#!/bin/sh\nevil\n").unwrap();
        let f = before.findings(&Snapshot::take(&roots, &[], None));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].file, root.join(".githooks/pre-commit"));
    }

    #[test]
    fn a_root_turned_bare_repository_is_found() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let roots = [ScanRoot {
            path: root.clone(),
            max_depth: Some(0),
        }];
        let before = Snapshot::take(&roots, &[], None);
        git_dir(&root, "");
        std::fs::write(
            root.join("config"),
            "[core]\n\tworktree = .\n\tfsmonitor = x\n",
        )
        .unwrap();
        let f = before.findings(&Snapshot::take(&roots, &[], None));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].key, "core.fsmonitor");
    }
}
