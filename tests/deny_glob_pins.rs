//! End-to-end: a file masked because a deny glob matched it cannot be carried away by renaming
//! a directory above it inside a writable root, on both Linux backends, as root and as
//! `sbxtest`. Directories holding no match still move, and `explain` agrees with the kernel.
#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use support::*;

#[test]
fn directories_above_a_deny_glob_match_cannot_be_renamed() {
    for user in users() {
        let ws = Dir::new(user, Path::new("/tmp"));
        let extra = Dir::new(user, Path::new("/tmp"));
        extra.write(user, "b/key/.env", "SECRET\n");
        extra.write(user, "c/plain", "plain\n");
        let e = extra.path.to_str().unwrap();
        let glob = format!("{e}/**/*.env");
        let args = ["--full-auto", "--writable-root", e, "--deny-read", &glob];
        for backend in linux_backends(user, &ws.path) {
            // Each mv of a directory holding the match must fail (EBUSY, or EXDEV and a copy
            // that cannot read the match); the last one (no match) must succeed, and the
            // script's status is that of the last one.
            let script = format!(
                "mv {e}/b {e}/new; mv {e}/b/key {e}/b/key2; mv {e}/b/key {e}/key2; \
                 mv {e}/c {e}/c2"
            );
            let mut all = vec!["linux", "--backend", backend];
            all.extend_from_slice(&args);
            all.extend_from_slice(&["--", "sh", "-c", &script]);
            let o = sandbox(user, &ws.path, &all);
            let what = format!("{} {backend}: {}", user.name, stderr(&o));
            assert_ok(&o, &what);
            assert_eq!(
                std::fs::read_to_string(extra.join("b/key/.env"))
                    .ok()
                    .as_deref(),
                Some("SECRET\n"),
                "the matched file was moved: {what}"
            );
            // `mv` falls back to copying where rename says EXDEV: a partial copy (without the
            // unreadable match) may be left, the original never moves.
            for copy in ["new", "b/key2", "key2"] {
                assert!(
                    !extra.join(copy).join("key/.env").exists(),
                    "{copy}: {what}"
                );
                assert!(!extra.join(copy).join(".env").exists(), "{copy}: {what}");
                let _ = std::fs::remove_dir_all(extra.join(copy));
            }
            assert!(extra.join("c2/plain").exists(), "c not renamed: {what}");
            std::fs::rename(extra.join("c2"), extra.join("c")).unwrap();
        }
        // The printed plan pins the directories leading to the match, one mount each, and
        // nothing else in the extra root.
        let mut all = vec!["profile", "linux", "--backend", "landlock"];
        all.extend_from_slice(&args);
        let o = sandbox(user, &ws.path, &all);
        assert_ok(&o, "profile");
        let pins: Vec<String> = stdout(&o)
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("pin ")?
                    .split(' ')
                    .next()
                    .map(String::from)
            })
            .filter(|p| p.starts_with(e))
            .collect();
        assert_eq!(
            pins,
            [format!("{e}/b"), format!("{e}/b/key")],
            "{}",
            stdout(&o)
        );
        // The oracle denies writing (so moving away) the matched path, and allows the rest.
        let ex = |op, p: &Path| explain_allows(user, &ws.path, &args, op, p);
        assert!(!ex("write", &extra.join("b/key/.env")));
        assert!(!ex("read", &extra.join("b/key/.env")));
        assert!(ex("write", &extra.join("c/plain")));
        assert!(ex("create", &extra.join("c2")));
    }
}
