//! End to end: the `sandbox` binary never panics on bad output. A result that cannot be
//! written (stdout on a full disk, or a reader that went away) fails with exit code 125; a
//! message that cannot be written (stderr on a full disk) changes nothing, not even the exit
//! code, and the command still runs. Also: `explain` prints a path with a newline on one line.
#![cfg(target_os = "linux")]

// A single-link copy of the binary (cargo's build has a second hard link, which a launch
// from a writable root refuses).
mod support;

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::Path;
use std::process::{Output, Stdio};
use support::sandbox_as_runner as sandbox;
use support::{code, stderr};

/// `/dev/full`, opened for writing: every write fails with ENOSPC.
fn dev_full() -> File {
    OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full")
}

/// Fails when the binary panicked (Rust's panic message, or its exit code 101).
fn assert_no_panic(what: &str, o: &Output) {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "{what}: panicked: {err}");
    assert!(!err.contains("failed printing"), "{what}: {err}");
    assert_ne!(code(o), 101, "{what}: exit code of a panic: {err}");
}

/// Commands whose result goes to stdout, with the exit code each has when it can be written.
const RESULT_COMMANDS: &[&[&str]] = &[
    &["doctor"],
    &["doctor", "--json"],
    &["explain", "/etc", "/tmp"],
    &["explain", "--json", "/etc", "/tmp"],
    &["profile", "linux"],
    &["profile", "linux", "--format", "json"],
    &["profile", "macos"],
    &["profile", "macos", "--format", "json"],
];

#[test]
fn a_result_that_cannot_be_written_fails_with_125() {
    for args in RESULT_COMMANDS {
        // Control: with a working stdout the command succeeds and prints its result.
        let ok = sandbox().args(*args).output().unwrap();
        assert_no_panic(&format!("{args:?}"), &ok);
        assert_eq!(code(&ok), 0, "{args:?}: {}", stderr(&ok));
        assert!(!ok.stdout.is_empty(), "{args:?} printed nothing");

        let o = sandbox()
            .args(*args)
            .stdout(dev_full())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_no_panic(&format!("{args:?} >/dev/full"), &o);
        assert_eq!(code(&o), 125, "{args:?} >/dev/full: {}", stderr(&o));
        let err = stderr(&o);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(
            lines,
            ["sandbox: writing output: No space left on device (os error 28)"],
            "{args:?} >/dev/full"
        );
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_command_with_125() {
    // Far more output than a pipe holds, so the writer is still writing when the pipe closes.
    let paths: Vec<String> = (0..20_000)
        .map(|i| format!("/tmp/broken-pipe-test/{i}"))
        .collect();
    let mut child = sandbox()
        .arg("explain")
        .args(&paths)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    out.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"a", "the first line is an allow line");
    drop(out);
    let o = child.wait_with_output().unwrap();
    assert_no_panic("explain | head -c1", &o);
    assert_eq!(code(&o), 125, "explain | head -c1: {}", stderr(&o));
}

#[test]
fn an_error_that_cannot_be_shown_keeps_its_exit_code() {
    let args = ["linux", "-s", "bogus", "--", "true"];
    // Control: the error is a message on stderr and exit code 125.
    let shown = sandbox().args(args).output().unwrap();
    assert_eq!(code(&shown), 125, "{}", stderr(&shown));
    assert!(
        stderr(&shown).contains("unknown sandbox mode `bogus`"),
        "{}",
        stderr(&shown)
    );

    let o = sandbox().args(args).stderr(dev_full()).output().unwrap();
    assert_eq!(code(&o), 125, "-s bogus 2>/dev/full: {:?}", o.status);
    assert!(o.stdout.is_empty());
}

/// `sandbox ARGS -- sh -c 'touch MARKER'` in a fresh directory, with stderr on `stderr`;
/// gives the outcome and whether the marker was made.
fn touch_marker(args: &[&str], stderr: Stdio) -> (Output, bool) {
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tempfile::tempdir_in(parent).unwrap();
    let o = sandbox()
        .args(args)
        .args(["--", "sh", "-c", "touch MARKER"])
        .current_dir(dir.path())
        .stderr(stderr)
        .output()
        .unwrap();
    let made = dir.path().join("MARKER").exists();
    (o, made)
}

#[test]
fn a_warning_that_cannot_be_shown_does_not_stop_the_command() {
    let args = [
        "linux",
        "--full-auto",
        "--writable-root",
        "/nonexistent-dir",
    ];
    // Control: this command does print a warning, and runs.
    let (shown, made) = touch_marker(&args, Stdio::piped());
    assert!(
        stderr(&shown).contains("sandbox: warning: --writable-root"),
        "no warning: {}",
        stderr(&shown)
    );
    assert_eq!(code(&shown), 0, "{}", stderr(&shown));
    assert!(made, "the command did not run: {}", stderr(&shown));

    let (o, made) = touch_marker(&args, dev_full().into());
    assert_eq!(code(&o), 0, "2>/dev/full: {:?}", o.status);
    assert!(made, "2>/dev/full: the command did not run");
}

#[test]
fn verbose_lines_that_cannot_be_shown_do_not_stop_the_command() {
    let args = ["linux", "-v", "--full-auto"];
    let (shown, made) = touch_marker(&args, Stdio::piped());
    assert!(
        stderr(&shown).contains("sandbox: backend"),
        "no -v line: {}",
        stderr(&shown)
    );
    assert_eq!(code(&shown), 0, "{}", stderr(&shown));
    assert!(made);

    let (o, made) = touch_marker(&args, dev_full().into());
    assert_eq!(code(&o), 0, "-v 2>/dev/full: {:?}", o.status);
    assert!(made, "-v 2>/dev/full: the command did not run");
}

#[test]
fn explain_text_escapes_control_characters_in_paths() {
    let forged = "/etc/shadow\nallow write  /etc/shadow  (write rule /)";
    let odd = "/tmp/a\tb\x1bc'd\"e\\f";
    let o = sandbox()
        .args(["explain", "--op", "write", forged, odd, "/etc/passwd"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "one line per path: {out}");
    assert!(
        lines[0]
            .starts_with("deny  write  /etc/shadow\\nallow write  /etc/shadow  (write rule /)  ("),
        "{}",
        lines[0]
    );
    // Tab and escape escaped as `{:?}` does; quotes and backslashes kept as they are.
    assert!(
        lines[1].contains(" /tmp/a\\tb\\u{1b}c'd\"e\\f  ("),
        "{}",
        lines[1]
    );
    assert!(!out.contains('\x1b') && !out.contains('\t'), "{out:?}");
    // An ordinary path prints exactly as given.
    assert!(
        lines[2].starts_with("deny  write  /etc/passwd  ("),
        "{}",
        lines[2]
    );

    // JSON keeps the path as it is: JSON strings are escaped already.
    let o = sandbox()
        .args(["explain", "--json", "--op", "write", forged])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows[0]["path"], forged);
}
