//! The layout rule of issue 11: no source file in `crates/*/src` imports from a module that
//! imports it back (`scripts/import-cycles` lists such pairs; comments and test modules do
//! not count).

use std::path::Path;
use std::process::Command;

#[test]
fn no_two_source_files_import_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("python3")
        .arg(root.join("scripts/import-cycles"))
        .output()
        .expect("python3 runs scripts/import-cycles");
    assert!(
        out.status.success(),
        "files that import each other:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The checker finds a pair when there is one (a check that cannot fail is no check).
#[test]
fn the_checker_sees_a_planted_cycle() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("crates/demo/src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::B;\npub struct A;\n").unwrap();
    std::fs::write(src.join("b.rs"), "use crate::a::A;\npub struct B;\n").unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/import-cycles");
    std::fs::create_dir_all(t.path().join("scripts")).unwrap();
    let copy = t.path().join("scripts/import-cycles");
    std::fs::copy(&script, &copy).unwrap();
    let out = Command::new("python3").arg(&copy).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("crates/demo/src/a.rs <-> crates/demo/src/b.rs"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
