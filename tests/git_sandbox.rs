//! End-to-end tests of git inside the sandbox (issue 14): commit mode on real repositories
//! (a `.git` directory, a linked worktree whose repository lies outside the roots, a
//! submodule), and the three ways a command could plant code for the user's next `git status`
//! (a rewritten submodule pointer, a workspace turned into a bare repository, nested
//! repositories), on both Linux backends, as root and as `sbxtest`.
#![cfg(target_os = "linux")]

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use support::*;

/// The cases take turns: runs of root and `sbxtest` at the same time share the `/tmp`
/// placeholders (`/tmp/.agents`) but not their registry, and one user's cleanup can then
/// remove a placeholder the other's bwrap is about to mount (README, Known limits).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    one_case_at_a_time()
}

/// Runs `sandbox linux --backend BACKEND --full-auto EXTRA… -- sh -c SCRIPT` as `u` in `cwd`.
fn run(u: &User, cwd: &Path, backend: &str, extra: &[&str], script: &str) -> Output {
    let mut args = vec!["linux", "--backend", backend, "--full-auto"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    sandbox(u, cwd, &args)
}

/// `sandbox explain --full-auto --op write PATH` as `u` in `ws`.
fn explain_write(u: &User, ws: &Path, path: &str) -> Output {
    sandbox(u, ws, &["explain", "--full-auto", "--op", "write", path])
}

/// A shell prefix giving git an identity and no global or system config.
const GIT_ENV: &str = "export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
     GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e; ";

/// Runs a shell script as `u` outside the sandbox, with [`GIT_ENV`]; panics on failure.
fn host(u: &User, cwd: &Path, script: &str) -> String {
    let out = shell_as(u, cwd, &format!("{GIT_ENV}{script}"));
    assert_ok(&out, &format!("host script as {}: {script}", u.name));
    stdout(&out)
}

/// For each user: a fresh base directory and a repository `ws` with one commit in it.
fn user_repos() -> impl Iterator<Item = (&'static User, Dir, PathBuf)> {
    users().iter().map(|u| {
        let base = Dir::new(u, Path::new("/tmp"));
        let ws = make_repo(u, &base.path, "ws");
        (u, base, ws)
    })
}

/// A repository with one commit at `dir` (created).
fn make_repo(u: &User, parent: &Path, name: &str) -> PathBuf {
    host(
        u,
        parent,
        &format!("git init -q -b main {name} && cd {name} && echo a > a && git add a && git commit -qm init"),
    );
    parent.join(name)
}

/// The repository layouts commit mode must work in: `(label, workspace, dir to commit in)`.
fn layouts(u: &User, base: &Dir) -> Vec<(&'static str, PathBuf, PathBuf)> {
    let plain = make_repo(u, &base.path, "plain");
    // A linked worktree: the workspace's `.git` points into a repository outside the roots.
    let main = make_repo(u, &base.path, "main");
    host(u, &main, "git worktree add -q ../wt -b wt");
    // A submodule checked out in the workspace: `sub/.git` points at `.git/modules/sub`.
    let lib = make_repo(u, &base.path, "lib");
    let top = make_repo(u, &base.path, "top");
    host(
        u,
        &top,
        &format!(
            "git -c protocol.file.allow=always submodule add -q {} sub && git commit -qm sub",
            lib.display()
        ),
    );
    vec![
        ("plain .git", plain.clone(), plain),
        ("linked worktree", base.join("wt"), base.join("wt")),
        ("submodule", top.clone(), top.join("sub")),
    ]
}

#[test]
fn commit_mode_commits_while_config_and_hooks_stay_read_only() {
    let _serial = serial();
    for u in users() {
        let base = Dir::new(u, Path::new("/tmp"));
        for (label, ws, repo) in layouts(u, &base) {
            for backend in linux_backends(u, &ws) {
                let what = format!("{label}, {backend}, as {}", u.name);
                host(u, &repo, "echo change >> a");
                // Without commit mode, the commit fails and nothing is recorded.
                let ro = run(
                    u,
                    &repo,
                    backend,
                    &[],
                    &format!("{GIT_ENV}git add . && git commit -qm x"),
                );
                assert!(!ro.status.success(), "{what}: commit without commit mode");
                let script = format!(
                    "{GIT_ENV}git add . && git commit -qm 'in sandbox' && echo COMMITTED; \
                     git branch b-{backend} && git tag t-{backend} && echo y >> a && git stash -q && \
                     git checkout -q b-{backend} && git checkout -q - && git rebase -q b-{backend} && \
                     git stash pop -q && git gc -q && echo OPS-OK; \
                     G=$(git rev-parse --git-common-dir); D=$(git rev-parse --git-dir); \
                     echo x >> $G/config || echo CONFIG-DENIED; \
                     touch $G/hooks/pre-commit || echo HOOK-DENIED; \
                     mv $G/hooks $G/h2 || echo MV-HOOKS-DENIED; \
                     mv $G/config $G/c2 || echo MV-CONFIG-DENIED; \
                     if [ -f $D/commondir ]; then echo x > $D/commondir || echo COMMONDIR-DENIED; \
                       else echo COMMONDIR-DENIED; fi"
                );
                let out = run(u, &repo, backend, &["--allow-git-commit"], &script);
                let so = stdout(&out);
                for m in [
                    "COMMITTED",
                    "OPS-OK",
                    "CONFIG-DENIED",
                    "HOOK-DENIED",
                    "MV-HOOKS-DENIED",
                    "MV-CONFIG-DENIED",
                    "COMMONDIR-DENIED",
                ] {
                    assert!(
                        so.contains(m),
                        "{what}: missing {m}\nstdout: {so}\nstderr: {}",
                        stderr(&out)
                    );
                }
                assert!(out.status.success(), "{what}: {}", stderr(&out));
                // The commit is on the host; config and hooks are as they were.
                let log = host(u, &repo, "git log -1 --format=%s");
                assert_eq!(log.trim(), "in sandbox", "{what}");
                let g = host(
                    u,
                    &repo,
                    "git rev-parse --path-format=absolute --git-common-dir",
                );
                let g = PathBuf::from(g.trim());
                assert!(!g.join("hooks/pre-commit").exists(), "{what}");
                assert!(g.join("hooks").is_dir() && !g.join("h2").exists(), "{what}");
                let cfg = std::fs::read_to_string(g.join("config")).unwrap();
                assert!(!cfg.lines().any(|l| l == "x"), "{what}: {cfg}");
            }
        }
    }
}

#[test]
fn explain_and_profile_name_the_git_rules() {
    let _serial = serial();
    for (u, _base, ws) in user_repos() {
        let ask = |extra: &[&str], path: &str| {
            let mut args = vec!["explain", "--full-auto", "--op", "write"];
            args.extend_from_slice(extra);
            args.push(path);
            stdout(&sandbox(u, &ws, &args))
        };
        let index = ask(&[], ".git/index");
        assert!(index.starts_with("deny"), "{index}");
        assert!(index.contains("--allow-git-commit"), "{index}");
        let index = ask(&["--allow-git-commit"], ".git/index");
        assert!(
            index.starts_with("allow") && index.contains("git commit mode: objects"),
            "{index}"
        );
        let config = ask(&["--allow-git-commit"], ".git/config");
        assert!(
            config.starts_with("deny") && config.contains("git config"),
            "{config}"
        );
        let profile = stdout(&sandbox(
            u,
            &ws,
            &[
                "profile",
                "linux",
                "--backend",
                "bwrap",
                "--full-auto",
                "--allow-git-commit",
                "--format",
                "json",
            ],
        ));
        assert!(profile.contains("protected: git config"), "{profile}");
        assert!(profile.contains("git commit mode: objects"), "{profile}");
    }
}

/// The fsmonitor setting a plant uses: git runs it (through the shell) on `git status`.
fn fsmonitor(marker: &Path) -> String {
    format!("touch {} #", marker.display())
}

/// `git status` as the user outside the sandbox, in `dir`; whether `marker` appeared.
fn status_runs_plant(u: &User, dir: &Path, marker: &Path) -> bool {
    let _ = shell_as(u, dir, &format!("{GIT_ENV}git status >/dev/null 2>&1"));
    marker.exists()
}

/// The submodule pointer attack: copy `.git/modules/sub`, plant fsmonitor in the copy and
/// aim `sub/.git` at it.
fn pointer_attack(marker: &Path) -> String {
    format!(
        "{GIT_ENV}cp -r .git/modules/sub evil && git config --file evil/config core.fsmonitor '{}' && git config --file evil/config core.worktree ../sub && \
         printf 'gitdir: ../evil\\n' > sub/.git && echo PLANTED",
        fsmonitor(marker)
    )
}

/// The implicit bare repository attack in a workspace that is no repository.
fn bare_attack(marker: &Path) -> String {
    format!(
        "mkdir -p objects refs && echo 'ref: refs/heads/main' > HEAD && \
         printf '[core]\\n\\trepositoryformatversion = 0\\n\\tbare = false\\n\\tworktree = .\\n\\tfsmonitor = {}\\n' > config && echo PLANTED",
        fsmonitor(marker)
    )
}

/// The nested repository attack: edit an existing nested repo's config and hooks.
fn nested_attack(marker: &Path) -> String {
    format!(
        "{GIT_ENV}git -C sub config core.fsmonitor '{m}' && echo PLANTED-CONFIG; \
         printf '#!/bin/sh\\ntouch {}\\n' > sub/.git/hooks/post-index-change && chmod +x sub/.git/hooks/post-index-change && echo PLANTED-HOOK",
        marker.display(),
        m = fsmonitor(marker)
    )
}

/// A fresh workspace for each attack: `(workspace, dir the user runs git status in)`.
fn attack_workspace(u: &User, base: &Path, attack: &str) -> (PathBuf, PathBuf) {
    match attack {
        "pointer" => {
            let lib = make_repo(u, base, "lib");
            let ws = make_repo(u, base, "ws");
            host(
                u,
                &ws,
                &format!(
                    "git -c protocol.file.allow=always submodule add -q {} sub && git commit -qm sub",
                    lib.display()
                ),
            );
            (ws.clone(), ws)
        }
        "bare" => {
            let ws = base.join("ws");
            host(u, base, "mkdir ws && echo hi > ws/file");
            (ws.clone(), ws)
        }
        _ => {
            let ws = make_repo(u, base, "ws");
            make_repo(u, &ws, "sub");
            (ws.clone(), ws.join("sub"))
        }
    }
}

fn attack_script(attack: &str, marker: &Path) -> String {
    match attack {
        "pointer" => pointer_attack(marker),
        "bare" => bare_attack(marker),
        _ => nested_attack(marker),
    }
}

#[test]
fn planted_git_settings_are_prevented_or_reported() {
    let _serial = serial();
    for u in users() {
        for attack in ["pointer", "bare", "nested"] {
            // Control: outside any sandbox, the attack works.
            let base = Dir::new(u, Path::new("/tmp"));
            let marker = base.join("MARKER");
            let (ws, git_in) = attack_workspace(u, &base.path, attack);
            let out = shell_as(u, &ws, &attack_script(attack, &marker));
            assert!(
                stdout(&out).contains("PLANTED"),
                "control {attack}: {out:?}"
            );
            assert!(
                status_runs_plant(u, &git_in, &marker),
                "control {attack} as {}: the plant did not run",
                u.name
            );
            for backend in ["landlock", "bwrap"] {
                for mode in [&[][..], &["--allow-git-commit"][..]] {
                    let base = Dir::new(u, Path::new("/tmp"));
                    let marker = base.join("MARKER");
                    let (ws, git_in) = attack_workspace(u, &base.path, attack);
                    if !linux_backends(u, &ws).contains(&backend) {
                        continue;
                    }
                    let what = format!("{attack}, {backend} {mode:?}, as {}", u.name);
                    let mut extra = mode.to_vec();
                    extra.push("--strict-git");
                    let out = run(u, &ws, backend, &extra, &attack_script(attack, &marker));
                    let err = stderr(&out);
                    let reported = err.contains("sandbox: git:") && err.contains("fsmonitor");
                    if status_runs_plant(u, &git_in, &marker) {
                        // Not prevented: then it was reported, and --strict-git failed.
                        assert!(reported, "{what}: plant ran and was not reported: {err}");
                        assert_eq!(out.status.code(), Some(122), "{what}: {err}");
                    }
                    match attack {
                        // Prevented: the pointer and the nested repo's config are read-only.
                        "pointer" | "nested" => {
                            assert!(!marker.exists(), "{what}: {err}");
                            assert!(!stdout(&out).contains("PLANTED-CONFIG"), "{what}");
                            assert!(!stdout(&out).contains("PLANTED-HOOK"), "{what}");
                        }
                        // Detected: git init must keep working, so this is reported.
                        _ => {
                            assert!(reported, "{what}: {err}");
                            assert_eq!(out.status.code(), Some(122), "{what}: {err}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn a_new_nested_repository_with_a_plant_is_reported_not_blocked() {
    let _serial = serial();
    for (u, base, ws) in user_repos() {
        for backend in linux_backends(u, &ws) {
            let marker = base.join(&format!("MARK-{backend}"));
            let dir = format!("new-{backend}");
            let script = format!(
                "{GIT_ENV}git init -q {dir} && git -C {dir} config core.fsmonitor '{}' && echo MADE",
                fsmonitor(&marker)
            );
            let plain = run(u, &ws, backend, &[], &script);
            assert!(stdout(&plain).contains("MADE"), "{}", stderr(&plain));
            assert_eq!(plain.status.code(), Some(0), "exit status unchanged");
            assert!(
                stderr(&plain).contains(&format!("new-{backend}/.git/config")),
                "{}",
                stderr(&plain)
            );
        }
    }
}

#[test]
fn git_init_and_cargo_new_keep_working_in_both_modes() {
    let _serial = serial();
    let cargo = [
        "/root/.cargo/bin/cargo",
        "/usr/local/cargo/bin/cargo",
        "/usr/bin/cargo",
    ]
    .into_iter()
    .find(|c| Path::new(c).exists());
    for (u, _base, ws) in user_repos() {
        for backend in linux_backends(u, &ws) {
            for (i, mode) in [&[][..], &["--allow-git-commit"][..]].iter().enumerate() {
                let what = format!("{backend} {mode:?} as {}", u.name);
                let mut extra = mode.to_vec();
                extra.push("--strict-git");
                let dir = format!("init-{backend}-{i}");
                let out = run(
                    u,
                    &ws,
                    backend,
                    &extra,
                    &format!(
                        "{GIT_ENV}git init -q {dir} && cd {dir} && echo x > f && git add f && git commit -qm first && echo OK"
                    ),
                );
                assert!(stdout(&out).contains("OK"), "{what}: {}", stderr(&out));
                assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
                // cargo is installed for root only here (rustup under /root).
                let Some(cargo) = cargo.filter(|_| u.is_root()) else {
                    continue;
                };
                let name = format!("proj_{backend}_{i}");
                let out = run(
                    u,
                    &ws,
                    backend,
                    &extra,
                    &format!("{GIT_ENV}{cargo} new -q --vcs git {name} && test -d {name}/.git && echo OK"),
                );
                assert!(stdout(&out).contains("OK"), "{what}: {}", stderr(&out));
                assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
            }
        }
    }
}

#[test]
fn bad_git_config_refuses_and_a_cut_search_warns() {
    let _serial = serial();
    for (u, _base, ws) in user_repos() {
        let out = sandbox(
            u,
            &ws,
            &["explain", "--full-auto", "-c", "sandbox.git=\"rw\"", "."],
        );
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with("sandbox: config:") && err.contains("sandbox.git"),
            "{err}"
        );
        host(u, &ws, "mkdir -p d/e/f && git init -q d/e/f/deep");
        let out = sandbox(
            u,
            &ws,
            &[
                "explain",
                "--full-auto",
                "-c",
                "sandbox.git_scan_max_depth=1",
                ".",
            ],
        );
        assert!(
            stderr(&out).contains("git_scan_max_depth"),
            "{}",
            stderr(&out)
        );
        // Within the default depth the nested repository is found and protected.
        let out = explain_write(u, &ws, "d/e/f/deep/.git/config");
        assert!(stdout(&out).contains("nested .git"), "{}", stdout(&out));
        assert!(
            !stderr(&out).contains("git_scan_max_depth"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn a_planted_global_config_in_a_writable_home_is_reported() {
    let _serial = serial();
    for u in users() {
        let base = Dir::new(u, Path::new("/tmp"));
        let home = base.join("home");
        host(u, &base.path, "mkdir home");
        for backend in linux_backends(u, &home) {
            let plant = |extra: &[&str]| {
                let flags = [&["--full-auto", "--strict-git"][..], extra].concat();
                let script = "git config --global core.pager 'touch /tmp/x #' && echo SET";
                sandbox_cmd(
                    u,
                    &home,
                    &linux_args(backend, &flags, &["sh", "-c", script]),
                )
                .env("HOME", &home)
                .output()
                .unwrap()
            };
            // By default `~/.gitconfig` is a protected startup file: the write is prevented.
            let out = plant(&[]);
            assert!(!stdout(&out).contains("SET"), "{backend}: {}", stderr(&out));
            assert!(
                std::fs::symlink_metadata(home.join(".gitconfig")).is_err(),
                "{backend}: a .gitconfig was left behind"
            );
            // Without that protection, the post-run check reports the plant.
            let out = plant(&["-c", "sandbox.protected_home_files=[]"]);
            let err = stderr(&out);
            assert!(stdout(&out).contains("SET"), "{backend}: {err}");
            assert!(
                err.contains("core.pager") && err.contains(".gitconfig"),
                "{backend}: {err}"
            );
            assert_eq!(out.status.code(), Some(122), "{backend}: {err}");
            let _ = std::fs::remove_file(home.join(".gitconfig"));
        }
    }
}

#[test]
fn landlock_without_a_mount_namespace_refuses_and_best_effort_still_reports() {
    let _serial = serial();
    for (u, base, ws) in user_repos() {
        let marker = base.join("MARK");
        let plant = format!(
            "git config core.fsmonitor '{}' && echo PLANTED",
            fsmonitor(&marker)
        );
        let go = |extra: &[&str]| {
            let mut args = vec!["linux", "--backend", "landlock", "--full-auto"];
            args.extend_from_slice(extra);
            args.extend_from_slice(&["--", "sh", "-c", &plant]);
            sandbox_cmd(u, &ws, &args)
                .env("SANDBOX_TEST_FORCE_NO_MOUNTNS", "1")
                .output()
                .unwrap()
        };
        // Read-only subpaths of a writable root need the mount namespace: refused.
        let out = go(&["--allow-git-commit"]);
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        assert!(!stdout(&out).contains("PLANTED"));
        // Accepted as a degradation, the plant succeeds, and the post-run check reports it.
        let out = go(&["--allow-git-commit", "--best-effort", "--strict-git"]);
        let err = stderr(&out);
        assert!(stdout(&out).contains("PLANTED"), "{err}");
        assert!(err.contains("core.fsmonitor"), "{err}");
        assert_eq!(out.status.code(), Some(122), "{err}");
    }
}

/// Red team: `/tmp` is a writable root of `--full-auto`, so a repository elsewhere under it
/// (`/tmp/…/b`, beside the workspace) is searched for and kept read-only like a nested one:
/// its hooks and config cannot be planted, `explain` agrees, and a repository the search finds
/// there is checked after the run (a bare one's hooks are read-only, a new hook is reported).
#[test]
#[ignore = "the /tmp repository search is off (git::TEMP_SCAN_MAX_DEPTH = 0) until its mounts tolerate a repository deleted meanwhile; README Known limits"]
fn repositories_elsewhere_under_tmp_are_protected() {
    let _serial = serial();
    for u in users() {
        let base = Dir::new(u, Path::new("/tmp"));
        let other = make_repo(u, &base.path, "b");
        host(u, &base.path, "mkdir -p ws && git init -q --bare bare.git");
        let ws = base.join("ws");
        let g = other.join(".git");
        let bare = base.join("bare.git");
        for backend in linux_backends(u, &ws) {
            let what = format!("{backend}, as {}", u.name);
            let script = format!(
                "echo x > {g}/hooks/pre-commit || echo HOOK-DENIED; \
                 echo x >> {g}/config || echo CONFIG-DENIED; \
                 mv {g} {b}/moved || echo MV-DENIED; \
                 echo x > {bare}/hooks/post-update || echo BARE-HOOK-DENIED; \
                 echo x >> {bare}/config || echo BARE-CONFIG-DENIED",
                g = g.display(),
                b = other.display(),
                bare = bare.display()
            );
            let out = run(u, &ws, backend, &[], &script);
            let so = stdout(&out);
            for m in [
                "HOOK-DENIED",
                "CONFIG-DENIED",
                "MV-DENIED",
                "BARE-HOOK-DENIED",
                "BARE-CONFIG-DENIED",
            ] {
                assert!(
                    so.contains(m),
                    "{what}: missing {m}\nstdout: {so}\nstderr: {}",
                    stderr(&out)
                );
            }
            assert!(!g.join("hooks/pre-commit").exists(), "{what}");
            assert!(!bare.join("hooks/post-update").exists(), "{what}");
        }
        let out = explain_write(u, &ws, g.join("hooks/pre-commit").to_str().unwrap());
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        assert!(stdout(&out).contains("nested .git"), "{}", stdout(&out));
    }
}
