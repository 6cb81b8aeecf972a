//! Mount points inside a writable root that a run makes or shares with other runs
//! (placeholders for missing protected or denied names, and the directories leading to them)
//! must stay where the command cannot move or free them: each is a mount point of its own
//! and held by every run that mounts over it ([`sandbox_linux::placeholder`]'s protocol), so no
//! run removes one that another live sandbox still has a mount on. Found by a red-team review.
#![cfg(target_os = "linux")]

mod support;

use support::*;

/// `":root" = "read"`, the workspace writable, and two rules below a directory `a`/`c` that
/// does not exist.
const MISSING_PARENTS: &str = r#"
default_permissions = "t"
[permissions.t.filesystem]
":root" = "read"
":project_roots" = { "." = "write", "a/b" = "deny", "c/d" = "read" }
"#;

/// bwrap makes a rule's missing parent directory (`a` of `"a/b" = "deny"`) for the run. It
/// must be a mount point, as the directories leading to an existing rule's path are: before,
/// the command renamed it away (carrying the mask along) and created the denied path (and the
/// read-only one) in its place, writable.
#[test]
fn a_rules_missing_parent_cannot_be_renamed_away() {
    for c in backend_cases("bwrap") {
        let cfg = c.config(MISSING_PARENTS);
        let script = "mv a z 2>/dev/null && echo MOVED-A; mv c y 2>/dev/null && echo MOVED-C; \
                      mkdir -p a/b c/d 2>/dev/null; \
                      echo x > a/b/f 2>/dev/null && echo WROTE-DENIED; \
                      echo x > c/d/f 2>/dev/null && echo WROTE-READ; \
                      test -d a && test -d c && echo SEEN";
        let out = c.sh_markers(&cfg.args(), script, &["SEEN"]);
        let so = stdout(&out);
        for bad in ["MOVED-A", "MOVED-C", "WROTE-DENIED", "WROTE-READ"] {
            assert!(!so.contains(bad), "{c}: {bad}\n{so}\n{}", stderr(&out));
        }
        // The directories made for the run are gone with it.
        let left: Vec<_> = std::fs::read_dir(&c.ws.path)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{c}: left {left:?}");
    }
}
