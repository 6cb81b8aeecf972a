//! The home-directory presets under the real sandbox, both Linux backends, as root and as the
//! unprivileged `sbxtest`: toolchain caches (`--caches`) with real cargo, pip and npm fetching
//! from their registries, startup files kept read-only and uncreatable under `-C ~`, and
//! `--deny-credentials`.
//!
//! Each case's home directory lives under /var/tmp, outside every writable root of the run
//! (unlike /tmp), so what the preset makes writable is all that is.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use support::*;

/// `sandbox linux --backend BACKEND ARGS…` as `user` in `cwd` with `HOME=home` and `PATH`.
fn run(user: &User, cwd: &Path, home: &Path, path: &str, backend: &str, args: &[&str]) -> Output {
    let mut all = vec!["linux", "--backend", backend];
    all.extend_from_slice(args);
    let mut c = sandbox_cmd(user, cwd, &all);
    c.env("HOME", home).env("PATH", path);
    let _turn = turn();
    c.output().expect("run sandbox")
}

/// [`run`] of `sh -c SCRIPT` with `flags`, on the system PATH.
fn run_sh(
    user: &User,
    cwd: &Path,
    home: &Path,
    backend: &str,
    flags: &[&str],
    script: &str,
) -> Output {
    let args = [flags, &["--", "sh", "-c", script]].concat();
    run(
        user,
        cwd,
        home,
        "/usr/local/bin:/usr/bin:/bin",
        backend,
        &args,
    )
}

fn show(o: &Output) -> String {
    format!(
        "{:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    )
}

/// The directory of the cargo running this test (a toolchain's `bin/`, with its rustc), when
/// `user` can run it; otherwise a printed notice and `None`.
fn toolchain_bin(user: &User) -> Option<PathBuf> {
    let cargo = PathBuf::from(std::env::var_os("CARGO")?);
    // Through a shell, as the sandbox looks a command up: the user must reach the file.
    let ok = as_user(user, "/bin/sh")
        .args(["-c", "test -x \"$0\" && \"$0\" --version >/dev/null"])
        .arg(&cargo)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "notice: {} cannot run {} (make the toolchain readable: see README, \"Tests\"): skipping the cargo case for this user",
            user.name,
            cargo.display()
        );
        return None;
    }
    cargo.parent().map(Path::to_path_buf)
}

/// For one run as `u` under `backend`: a description for messages, a fresh home under
/// /var/tmp and a fresh workspace under /tmp, both owned by `u`.
fn project(u: &User, backend: &str) -> (String, Dir, Dir) {
    let what = format!("{} {backend}", u.name);
    let home = Dir::new(u, Path::new("/var/tmp"));
    (what, home, Dir::new(u, Path::new("/tmp")))
}

#[test]
fn cargo_builds_a_crate_with_a_dependency_only_with_caches() {
    for u in users() {
        let Some(bin) = toolchain_bin(u) else {
            continue;
        };
        let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
        for backend in linux_backends(u, Path::new("/tmp")) {
            let (what, home, ws) = project(u, backend);
            ws.write(
                u,
                "Cargo.toml",
                "[package]\nname = \"cachetest\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nitoa = \"=1.0.11\"\n",
            );
            ws.write(
                u,
                "src/main.rs",
                "fn main() { println!(\"{}\", itoa::Buffer::new().format(42)); }\n",
            );
            let build = ["--full-auto", "--network", "--", "cargo", "run", "--quiet"];
            let o = run(u, &ws.path, &home.path, &path, backend, &build);
            assert!(
                !o.status.success(),
                "{what}: built without --caches: {}",
                show(&o)
            );
            assert!(
                stderr(&o).contains("Read-only file system")
                    || stderr(&o).contains("Permission denied"),
                "{what}: {}",
                show(&o)
            );

            let build = [
                "--full-auto",
                "--network",
                "--caches",
                "--",
                "cargo",
                "run",
                "--quiet",
            ];
            let o = run(u, &ws.path, &home.path, &path, backend, &build);
            assert_ok(&o, &format!("{what}: cargo run with --caches"));
            assert_eq!(stdout(&o).trim(), "42", "{what}");
            // The caches were made by (and belong to) the user.
            let reg = home.join(".cargo/registry");
            assert!(
                reg.join("cache").is_dir(),
                "{what}: nothing cached in {}",
                reg.display()
            );
            let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&reg).unwrap());
            assert_eq!(owner, u.uid, "{what}");

            // What runs later outside the sandbox stays read-only with the preset.
            let o = run(
                u,
                &ws.path,
                &home.path,
                &path,
                backend,
                &[
                    "--full-auto", "--caches", "--", "sh", "-c",
                    "echo x > ~/.cargo/config.toml; mkdir -p ~/.cargo/bin; echo x > ~/.cargo/bin/cargo; echo x > ~/.cargo/env; true",
                ],
            );
            assert_ok(&o, &what);
            for p in [".cargo/config.toml", ".cargo/bin", ".cargo/env"] {
                assert!(!home.join(p).exists(), "{what}: {p} was created");
            }
        }
    }
}

#[test]
fn pip_installs_into_a_venv_with_caches() {
    for u in users() {
        for backend in linux_backends(u, Path::new("/tmp")) {
            let (what, home, ws) = project(u, backend);
            let venv = ws.join("venv");
            let made = as_user(u, PYTHON)
                .args(["-m", "venv"])
                .arg(&venv)
                .env("HOME", &home.path)
                .output()
                .unwrap();
            assert_ok(&made, &format!("{what}: python3 -m venv"));
            let script = "venv/bin/pip install --quiet --disable-pip-version-check six==1.16.0 \
                && venv/bin/python -c 'import six' \
                && d=$(venv/bin/pip cache dir) && touch \"$d/probe\" && echo cache-writable";
            let flags = ["--full-auto", "--network", "--caches"];
            let o = run_sh(u, &ws.path, &home.path, backend, &flags, script);
            assert_ok(&o, &format!("{what}: pip install with --caches"));
            assert!(
                stdout(&o).contains("cache-writable"),
                "{what}: {}",
                show(&o)
            );
            assert!(home.join(".cache/pip/probe").is_file(), "{what}");
            // Only pip's cache: the rest of ~/.cache and ~/.config/pip stay read-only.
            let script = "touch ~/.cache/other; mkdir -p ~/.config/pip; true";
            let flags = ["--full-auto", "--caches"];
            let o = run_sh(u, &ws.path, &home.path, backend, &flags, script);
            assert_ok(&o, &what);
            assert!(!home.join(".cache/other").exists(), "{what}");
            assert!(!home.join(".config/pip").exists(), "{what}");
        }
    }
}

#[test]
fn npm_installs_only_with_caches() {
    if !Path::new("/usr/bin/npm").is_file() {
        eprintln!("notice: no /usr/bin/npm: skipping the npm case");
        return;
    }
    for u in users() {
        for backend in linux_backends(u, Path::new("/tmp")) {
            let (what, home, ws) = project(u, backend);
            ws.write(
                u,
                "package.json",
                "{\"name\":\"t\",\"version\":\"1.0.0\"}\n",
            );
            let install = |caches: bool| {
                let mut a = vec!["--full-auto", "--network"];
                if caches {
                    a.push("--caches");
                }
                a.extend([
                    "--",
                    "npm",
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--no-update-notifier",
                    "is-number@7.0.0",
                ]);
                run(
                    u,
                    &ws.path,
                    &home.path,
                    "/usr/local/bin:/usr/bin:/bin",
                    backend,
                    &a,
                )
            };
            let o = install(false);
            assert!(
                !o.status.success(),
                "{what}: npm installed without --caches: {}",
                show(&o)
            );
            let o = install(true);
            assert_ok(&o, &format!("{what}: npm install with --caches"));
            assert!(
                ws.join("node_modules/is-number/package.json").is_file(),
                "{what}"
            );
            assert!(home.join(".npm/_cacache").is_dir(), "{what}");
            assert!(!home.join(".npmrc").exists(), "{what}");
        }
    }
}

#[test]
fn startup_files_cannot_be_created_or_changed_under_a_writable_home() {
    let list = [
        ".bashrc",
        ".profile",
        ".zshrc",
        ".ssh/authorized_keys",
        ".ssh/config",
        ".gitconfig",
        ".config/git/config",
        ".local/bin/ls",
        ".cargo/bin/cargo",
        ".cargo/config.toml",
        ".npmrc",
        ".pypirc",
        ".config/systemd/user/evil.service",
        ".config/autostart/evil.desktop",
    ];
    for u in users() {
        for backend in linux_backends(u, Path::new("/tmp")) {
            let what = format!("{} {backend}", u.name);
            let home = Dir::new(u, Path::new("/var/tmp"));
            // Some exist (with content to keep), the others are missing, parents and all.
            home.write(u, ".bashrc", "# mine\n");
            home.write(u, ".ssh/known_hosts", "host key\n");
            home.write(u, ".config/git/config", "[user]\n");
            let script: String = list
                .iter()
                .map(|p| format!("mkdir -p \"$(dirname ~/{p})\" 2>/dev/null; echo planted >> ~/{p} 2>/dev/null; "))
                .collect::<String>()
                + "echo work > ~/notes.txt && mkdir -p ~/.config/other && echo ok";
            let h = home.path.to_str().unwrap();
            let o = run(
                u,
                &home.path,
                &home.path,
                "/usr/bin:/bin",
                backend,
                &["--full-auto", "-C", h, "--", "sh", "-c", &script],
            );
            assert_ok(&o, &what);
            assert_eq!(stdout(&o).trim(), "ok", "{what}");
            assert!(
                home.join("notes.txt").is_file(),
                "{what}: the home itself is writable"
            );
            for p in list {
                let f = home.join(p);
                let kept = match p {
                    ".bashrc" => Some("# mine\n"),
                    ".config/git/config" => Some("[user]\n"),
                    _ => None,
                };
                match kept {
                    Some(content) => {
                        assert_eq!(std::fs::read_to_string(&f).unwrap(), content, "{what}: {p}")
                    }
                    None => assert!(!f.exists(), "{what}: {p} was created"),
                }
            }
            // Placeholders are gone after the run; nothing else of the list was left behind.
            for p in [
                ".profile",
                ".ssh/config",
                ".local",
                ".cargo",
                ".npmrc",
                ".config/systemd",
                ".config/autostart",
            ] {
                assert!(!home.join(p).exists(), "{what}: {p} left behind");
            }
        }
    }
}

#[test]
fn deny_credentials_makes_keys_unreadable_but_not_known_hosts() {
    for u in users() {
        for backend in linux_backends(u, Path::new("/tmp")) {
            for mode in ["read-only", "workspace-write"] {
                let what = format!("{} {backend} {mode}", u.name);
                let home = Dir::new(u, Path::new("/var/tmp"));
                home.write(u, ".ssh/id_rsa", "PRIVATE KEY\n");
                home.write(u, ".ssh/known_hosts", "github.com ssh-ed25519 AAAA\n");
                home.write(
                    u,
                    ".aws/credentials",
                    "[default]\naws_secret_access_key = x\n",
                );
                home.write(u, ".netrc", "machine x password y\n");
                let script = "cat ~/.ssh/known_hosts; for f in ~/.ssh/id_rsa ~/.aws/credentials ~/.netrc; do cat $f && echo LEAKED; done; true";
                // Each run in a fresh workspace, with this home.
                let run_with_home = |args: &[&str]| {
                    let ws = Dir::new(u, Path::new("/tmp"));
                    run(u, &ws.path, &home.path, "/usr/bin:/bin", backend, args)
                };
                let o =
                    run_with_home(&["-s", mode, "--deny-credentials", "--", "sh", "-c", script]);
                assert_ok(&o, &what);
                assert_eq!(
                    stdout(&o),
                    "github.com ssh-ed25519 AAAA\n",
                    "{what}: {}",
                    show(&o)
                );
                for f in [".ssh/id_rsa", ".aws/credentials", ".netrc"] {
                    assert!(
                        stderr(&o)
                            .contains(&format!("{}: Permission denied", home.join(f).display())),
                        "{what}: {f}: {}",
                        show(&o)
                    );
                }
                // Control: without the preset the key is readable.
                let key = home.join(".ssh/id_rsa");
                let o = run_with_home(&["-s", mode, "--", "cat", key.to_str().unwrap()]);
                assert_ok(&o, &format!("{what} without the preset"));
            }
        }
    }
}
