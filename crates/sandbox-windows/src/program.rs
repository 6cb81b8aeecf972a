//! Which file a command name means on Windows, and how it is started.
//!
//! The launcher resolves the program itself (in the launcher, before any grant is stamped) and
//! passes the full path to `CreateProcess*`, so Windows' own search, which tries the current
//! directory first, never runs: a file the sandboxed command planted in its writable workspace
//! is not picked up by name. Rules, after cmd.exe's:
//! - a name with a directory part (`\`, `/` or a drive) is taken relative to the working
//!   directory; a bare name is looked up in each `PATH` directory in order;
//! - in each place the name itself is tried first when it has an extension, then the name plus
//!   each `PATHEXT` extension (default `.COM;.EXE;.BAT;.CMD`);
//! - `.exe`/`.com` start directly, `.bat`/`.cmd` through `cmd.exe` (see [`crate::cmdline`]);
//!   anything else found (a `.ps1`, an extensionless script) is not executable: 126;
//!   nothing found: 127.
//!
//! File existence is a parameter, so this is tested on every OS.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// `PATHEXT` when the variable is unset or empty.
pub const DEFAULT_PATHEXT: &str = ".COM;.EXE;.BAT;.CMD";

/// How to start a resolved program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Launchable {
    /// A PE image: `CreateProcess*(path, "path" args…)`.
    Image(PathBuf),
    /// A batch file: `cmd.exe /d /s /c ""path" "args"…"`.
    Batch(PathBuf),
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProgramError {
    #[error("{0}: command not found")]
    NotFound(String),
    #[error("{path}: not executable: {why}")]
    NotExecutable { path: PathBuf, why: String },
}

impl ProgramError {
    /// 127 for not found, 126 for found but not runnable (DESIGN.md §5).
    pub fn exit_code(&self) -> u8 {
        match self {
            ProgramError::NotFound(_) => 127,
            ProgramError::NotExecutable { .. } => 126,
        }
    }
}

/// Splits a Windows list variable (`PATH`, `PATHEXT`) on `;`, dropping empty entries and the
/// quotes `PATH` entries sometimes carry.
pub fn split_list(value: &OsStr) -> Vec<OsString> {
    let text = value.to_string_lossy();
    // Lossy only to find the separators: entries are rebuilt from the text, which is exact for
    // every valid Unicode value (the launcher rejects nothing else that could matter here).
    text.split(';')
        .map(|e| e.trim_matches('"'))
        .filter(|e| !e.is_empty())
        .map(OsString::from)
        .collect()
}

fn has_dir_part(name: &str) -> bool {
    name.contains(['\\', '/', ':'])
}

/// The extension of `path`'s last component, lowercased, without the dot.
fn ext_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let name = name.rsplit(['\\', '/']).next().unwrap_or(&name).to_string();
    let ext = &name[name.rfind('.')? + 1..];
    (!ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

fn classify(path: PathBuf) -> Result<Launchable, ProgramError> {
    match ext_of(&path).as_deref() {
        Some("exe" | "com") => Ok(Launchable::Image(path)),
        Some("bat" | "cmd") => Ok(Launchable::Batch(path)),
        other => Err(ProgramError::NotExecutable {
            why: match other {
                Some(e) => format!("Windows starts only .exe, .com, .bat and .cmd files, not .{e}"),
                None => "Windows starts only .exe, .com, .bat and .cmd files".into(),
            },
            path,
        }),
    }
}

/// Resolves `program` (the first word of the command).
pub fn resolve(
    program: &OsStr,
    cwd: &Path,
    path_var: Option<&OsStr>,
    pathext_var: Option<&OsStr>,
    is_file: impl Fn(&Path) -> bool,
) -> Result<Launchable, ProgramError> {
    let name = program.to_string_lossy();
    if name.is_empty() {
        return Err(ProgramError::NotFound(String::new()));
    }
    let mut exts: Vec<String> = pathext_var
        .map(split_list)
        .unwrap_or_default()
        .iter()
        .map(|e| e.to_string_lossy().into_owned())
        .map(|e| {
            if e.starts_with('.') {
                e
            } else {
                format!(".{e}")
            }
        })
        .collect();
    if exts.is_empty() {
        exts = DEFAULT_PATHEXT.split(';').map(String::from).collect();
    }
    let dirs: Vec<PathBuf> = if has_dir_part(&name) {
        vec![PathBuf::new()]
    } else {
        path_var
            .map(split_list)
            .unwrap_or_default()
            .into_iter()
            .map(PathBuf::from)
            .collect()
    };
    let base_has_ext = ext_of(Path::new(program)).is_some();
    let mut found_unrunnable = None;
    for dir in dirs {
        let base = if dir.as_os_str().is_empty() {
            cwd.join(program)
        } else {
            cwd.join(dir).join(program)
        };
        if base_has_ext && is_file(&base) {
            match classify(base.clone()) {
                Ok(l) => return Ok(l),
                Err(e) => {
                    found_unrunnable.get_or_insert(e);
                }
            }
        }
        for ext in &exts {
            let mut cand = base.clone().into_os_string();
            cand.push(ext);
            let cand = PathBuf::from(cand);
            if is_file(&cand) {
                match classify(cand) {
                    Ok(l) => return Ok(l),
                    Err(e) => {
                        found_unrunnable.get_or_insert(e);
                    }
                }
            }
        }
        if !base_has_ext && is_file(&base) {
            found_unrunnable.get_or_insert_with(|| ProgramError::NotExecutable {
                path: base.clone(),
                why: "Windows starts only .exe, .com, .bat and .cmd files".into(),
            });
        }
    }
    Err(found_unrunnable.unwrap_or_else(|| ProgramError::NotFound(name.into_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// A file system that, like NTFS, ignores case in names.
    fn fs(files: &[&str]) -> impl Fn(&Path) -> bool {
        let set: HashSet<String> = files.iter().map(|f| f.to_lowercase()).collect();
        move |p: &Path| set.contains(&p.to_string_lossy().to_lowercase())
    }

    fn run(name: &str, files: &[&str], pathext: Option<&str>) -> Result<Launchable, ProgramError> {
        resolve(
            OsStr::new(name),
            Path::new("/ws"),
            Some(OsStr::new("/bin1;\"/bin 2\";;/bin3")),
            pathext.map(OsStr::new),
            fs(files),
        )
    }

    #[test]
    fn bare_names_search_path_in_order_with_pathext() {
        let files = [
            "/bin 2/git.exe",
            "/bin3/git.exe",
            "/bin1/npm.cmd",
            "/ws/git.exe",
        ];
        assert_eq!(
            run("git", &files, None),
            Ok(Launchable::Image("/bin 2/git.EXE".into()))
        );
        assert_eq!(
            run("npm", &files, None),
            Ok(Launchable::Batch("/bin1/npm.CMD".into()))
        );
        // The working directory is not searched for a bare name.
        assert_eq!(
            run("git", &["/ws/git.exe"], None),
            Err(ProgramError::NotFound("git".into()))
        );
    }

    #[test]
    fn an_explicit_extension_is_tried_first() {
        let files = ["/bin1/tool.cmd", "/bin1/tool.cmd.exe"];
        assert_eq!(
            run("tool.cmd", &files, None),
            Ok(Launchable::Batch("/bin1/tool.cmd".into()))
        );
        assert_eq!(
            run("TOOL.EXE", &["/bin3/TOOL.EXE"], None),
            Ok(Launchable::Image("/bin3/TOOL.EXE".into()))
        );
    }

    #[test]
    fn pathext_order_and_spelling_come_from_the_variable() {
        let files = ["/bin1/x.bat", "/bin1/x.exe"];
        assert_eq!(
            run("x", &files, Some("BAT;.exe")),
            Ok(Launchable::Batch("/bin1/x.BAT".into()))
        );
        assert_eq!(
            run("x", &files, Some("")),
            Ok(Launchable::Image("/bin1/x.EXE".into()))
        );
    }

    #[test]
    fn paths_are_taken_from_the_working_directory() {
        assert_eq!(
            run("./b/t", &["/ws/./b/t.exe"], None),
            Ok(Launchable::Image("/ws/./b/t.EXE".into()))
        );
        assert_eq!(
            run("/abs/t.exe", &["/abs/t.exe"], None),
            Ok(Launchable::Image("/abs/t.exe".into()))
        );
    }

    #[test]
    fn found_but_not_startable_is_126_and_missing_is_127() {
        let e = run("s.ps1", &["/bin1/s.ps1"], Some(".PS1;.EXE")).unwrap_err();
        assert_eq!(e.exit_code(), 126, "{e}");
        assert!(e.to_string().contains(".ps1"), "{e}");
        let e = run("./script", &["/ws/./script"], None).unwrap_err();
        assert_eq!(e.exit_code(), 126, "{e}");
        let e = run("nope", &[], None).unwrap_err();
        assert_eq!(
            (e.exit_code(), e.to_string()),
            (127, "nope: command not found".into())
        );
        assert_eq!(run("", &[], None).unwrap_err().exit_code(), 127);
    }

    #[test]
    fn a_runnable_match_later_beats_an_unrunnable_one_earlier() {
        let files = ["/bin1/t.ps1", "/bin3/t.exe"];
        assert_eq!(
            run("t", &files, Some(".PS1;.EXE")),
            Ok(Launchable::Image("/bin3/t.EXE".into()))
        );
    }
}
