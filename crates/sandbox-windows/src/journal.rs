//! The run journal: what a launch is about to change on disk, written (and flushed) before the
//! first change, so that whatever happens to the launcher the changes can be undone.
//!
//! One file per run, `runs\<run id>.json` under `%LOCALAPPDATA%\sandbox`, holding the run's SID,
//! every ACE (path, kind, inheritance), every placeholder directory, the AppContainer profile
//! name, and the launcher's pid and process creation time. It is written as `<id>.json.tmp`,
//! flushed, then renamed, all under the per-user lock, and nothing is stamped before the rename.
//!
//! Undo ([`Journal::undo`]) is the same for the launcher's own teardown and for the sweep of a
//! dead launcher's journal: revoke every ACE naming the run SID on each journaled path
//! (`REVOKE_ACCESS` removes all of that SID's entries and nothing else, and is a no-op where
//! none was stamped yet), remove each placeholder if it is still an empty directory, delete the
//! profile, delete the journal.
//!
//! The sweep ([`plan_sweep`]) runs under the lock at every launch. A journal whose launcher is
//! gone (no process with that pid and creation time) is undone; a `.tmp` file is an abandoned
//! write (its launcher changed nothing yet) and is deleted; a journal that does not parse or
//! names a SID that is not a run SID is left alone and reported.

use crate::runid::{is_app_container_sid, is_run_sid, PROFILE_PREFIX};
use crate::AceKind;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Bumped when the format changes; a sweep leaves journals of another version alone.
pub const FORMAT: u32 = 1;
/// Suffix of a complete journal.
pub const SUFFIX: &str = ".json";
/// Suffix of a journal being written.
pub const TMP_SUFFIX: &str = ".json.tmp";

/// One ACE, as journaled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalAce {
    pub path: PathBuf,
    pub kind: AceKind,
    pub inherit: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub format: u32,
    pub run_id: String,
    pub launcher_pid: u32,
    /// The launcher's creation time (`GetProcessTimes`, FILETIME): tells a reused pid apart.
    pub launcher_created: u64,
    /// The SID every ACE names: a run SID (`S-1-5-21-…`) or an AppContainer SID.
    pub sid: String,
    /// The AppContainer profile to delete, if the run made one.
    pub app_container: Option<String>,
    pub aces: Vec<JournalAce>,
    pub placeholders: Vec<PathBuf>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum JournalError {
    #[error("not a journal: {0}")]
    Parse(String),
    #[error("journal format {0} is not {FORMAT}")]
    Format(u32),
    #[error("SID `{0}` is not one this launcher makes")]
    Sid(String),
    #[error("AppContainer profile `{0}` is not one this launcher makes")]
    Profile(String),
    #[error("path `{0}` is not absolute")]
    Path(PathBuf),
}

/// What undoing a journal does, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undo {
    pub sid: String,
    /// Each path once, deepest first: `REVOKE_ACCESS` for `sid`.
    pub revoke: Vec<PathBuf>,
    /// Deepest first: removed only if still an empty directory.
    pub remove_if_empty: Vec<PathBuf>,
    pub delete_profile: Option<String>,
}

impl Journal {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a journal serializes")
    }

    /// Parses and checks a journal: format, SID shape, profile name, absolute paths. A sweep
    /// acts only on a journal that passes, so a damaged or foreign file cannot make it revoke
    /// entries of another SID or remove an arbitrary directory.
    pub fn parse(text: &str) -> Result<Journal, JournalError> {
        #[derive(Deserialize)]
        struct Version {
            format: u32,
        }
        let v: Version =
            serde_json::from_str(text).map_err(|e| JournalError::Parse(e.to_string()))?;
        if v.format != FORMAT {
            return Err(JournalError::Format(v.format));
        }
        let j: Journal =
            serde_json::from_str(text).map_err(|e| JournalError::Parse(e.to_string()))?;
        if !(is_run_sid(&j.sid) || (j.app_container.is_some() && is_app_container_sid(&j.sid))) {
            return Err(JournalError::Sid(j.sid));
        }
        if let Some(p) = &j.app_container {
            if !p.starts_with(PROFILE_PREFIX) || p.len() <= PROFILE_PREFIX.len() {
                return Err(JournalError::Profile(p.clone()));
            }
        }
        for p in j.aces.iter().map(|a| &a.path).chain(&j.placeholders) {
            if !is_absolute(p) {
                return Err(JournalError::Path(p.clone()));
            }
        }
        Ok(j)
    }

    /// The undo steps: exactly what this journal says was (or was about to be) changed.
    pub fn undo(&self) -> Undo {
        let mut revoke: Vec<PathBuf> = self.aces.iter().map(|a| a.path.clone()).collect();
        deepest_first(&mut revoke);
        let mut remove_if_empty = self.placeholders.clone();
        deepest_first(&mut remove_if_empty);
        Undo {
            sid: self.sid.clone(),
            revoke,
            remove_if_empty,
            delete_profile: self.app_container.clone(),
        }
    }
}

/// Absolute on Windows (`C:\…`, `\\?\…`, `\\server\…`) or, for tests on other OSes, here.
fn is_absolute(p: &Path) -> bool {
    let s = p.to_string_lossy();
    let b = s.as_bytes();
    p.is_absolute()
        || s.starts_with("\\\\")
        || (b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && (b[2] == b'\\' || b[2] == b'/'))
}

fn deepest_first(paths: &mut Vec<PathBuf>) {
    paths.sort();
    paths.dedup();
    paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
}

/// One step of a sweep over the journal directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SweepStep {
    /// The launcher is gone: undo, then delete the file.
    Undo { file: String, journal: Journal },
    /// An abandoned `.tmp` (nothing was stamped from it): delete it.
    DeleteTmp { file: String },
    /// A live launcher's journal: leave it.
    Live { file: String },
    /// Unreadable or foreign: leave it and report it.
    Unreadable { file: String, why: String },
}

/// Decides the sweep. `files` are the journal directory's entries (name, contents, `None` when
/// unreadable); `own` is this launcher's run id (never swept); `alive(pid, created)` says
/// whether that launcher process still runs.
pub fn plan_sweep(
    files: Vec<(String, Option<String>)>,
    own: &str,
    alive: impl Fn(u32, u64) -> bool,
) -> Vec<SweepStep> {
    let mut steps = Vec::new();
    for (file, text) in files {
        if file.ends_with(TMP_SUFFIX) {
            if file.strip_suffix(TMP_SUFFIX) != Some(own) {
                steps.push(SweepStep::DeleteTmp { file });
            }
            continue;
        }
        let Some(stem) = file.strip_suffix(SUFFIX) else {
            continue;
        };
        if stem == own {
            continue;
        }
        let parsed = match text {
            None => Err("cannot be read".to_string()),
            Some(t) => Journal::parse(&t).map_err(|e| e.to_string()),
        };
        match parsed {
            Ok(j) if j.run_id != stem => steps.push(SweepStep::Unreadable {
                why: format!("its run id {} does not match its name", j.run_id),
                file,
            }),
            Ok(j) if alive(j.launcher_pid, j.launcher_created) => {
                steps.push(SweepStep::Live { file })
            }
            Ok(journal) => steps.push(SweepStep::Undo { file, journal }),
            Err(why) => steps.push(SweepStep::Unreadable { file, why }),
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runid::RunId;

    fn journal(id: RunId, pid: u32) -> Journal {
        Journal {
            format: FORMAT,
            run_id: id.to_string(),
            launcher_pid: pid,
            launcher_created: 1000 + u64::from(pid),
            sid: id.sid(),
            app_container: None,
            aces: vec![
                JournalAce {
                    path: "/ws".into(),
                    kind: AceKind::AllowModify,
                    inherit: true,
                },
                JournalAce {
                    path: "/ws/.git".into(),
                    kind: AceKind::DenyWrite,
                    inherit: true,
                },
                JournalAce {
                    path: "/ws/.agents".into(),
                    kind: AceKind::DenyWrite,
                    inherit: true,
                },
            ],
            placeholders: vec!["/ws/.agents".into()],
        }
    }

    #[test]
    fn round_trips_and_undo_lists_each_path_once_deepest_first() {
        let j = journal(RunId(7), 1);
        assert_eq!(Journal::parse(&j.to_json()), Ok(j.clone()));
        let mut with_dup = j.clone();
        with_dup.aces.push(JournalAce {
            path: "/ws/a/b".into(),
            kind: AceKind::DenyAll,
            inherit: true,
        });
        with_dup.aces.push(JournalAce {
            path: "/ws/a/b".into(),
            kind: AceKind::DenyWrite,
            inherit: false,
        });
        with_dup.aces.push(JournalAce {
            path: "/ws".into(),
            kind: AceKind::AllowModify,
            inherit: true,
        });
        let u = with_dup.undo();
        assert_eq!(u.sid, RunId(7).sid());
        assert_eq!(
            u.revoke
                .iter()
                .filter(|p| p.as_path() == Path::new("/ws/a/b"))
                .count(),
            1
        );
        assert_eq!(u.revoke[0], PathBuf::from("/ws/a/b"));
        assert_eq!(u.revoke.last().unwrap(), &PathBuf::from("/ws"));
        assert_eq!(u.remove_if_empty, vec![PathBuf::from("/ws/.agents")]);
        assert_eq!(u.delete_profile, None);
    }

    #[test]
    fn undo_of_an_app_container_run_deletes_its_profile() {
        let mut j = journal(RunId(11), 3);
        j.sid = "S-1-15-2-1-2-3-4-5-6-7".into();
        j.app_container = Some(RunId(11).profile_name());
        let j = Journal::parse(&j.to_json()).unwrap();
        let u = j.undo();
        assert_eq!(u.sid, "S-1-15-2-1-2-3-4-5-6-7");
        assert_eq!(u.delete_profile, Some(RunId(11).profile_name()));
        assert_eq!(u.revoke.len(), 3);
    }

    #[test]
    fn parse_refuses_what_a_sweep_must_not_act_on() {
        let good = journal(RunId(9), 2);
        let mut other_sid = good.clone();
        other_sid.sid = "S-1-5-32-544".into(); // Administrators
        assert!(matches!(
            Journal::parse(&other_sid.to_json()),
            Err(JournalError::Sid(_))
        ));
        let mut ac_sid_without_profile = good.clone();
        ac_sid_without_profile.sid = "S-1-15-2-1-2".into();
        assert!(matches!(
            Journal::parse(&ac_sid_without_profile.to_json()),
            Err(JournalError::Sid(_))
        ));
        let mut bad_profile = good.clone();
        bad_profile.app_container = Some("Microsoft.Edge".into());
        assert!(matches!(
            Journal::parse(&bad_profile.to_json()),
            Err(JournalError::Profile(_))
        ));
        let mut relative = good.clone();
        relative.placeholders.push("ws\\.git".into());
        assert!(matches!(
            Journal::parse(&relative.to_json()),
            Err(JournalError::Path(_))
        ));
        let future = good.to_json().replace("\"format\": 1", "\"format\": 2");
        assert_eq!(Journal::parse(&future), Err(JournalError::Format(2)));
        assert!(matches!(
            Journal::parse("{\"format\": 1, \"run"),
            Err(JournalError::Parse(_))
        ));
        let mut windows_paths = good.clone();
        windows_paths.aces[0].path = "C:\\ws".into();
        windows_paths.placeholders = vec!["\\\\?\\C:\\ws\\.agents".into()];
        assert_eq!(Journal::parse(&windows_paths.to_json()), Ok(windows_paths));
        let mut ac = good.clone();
        ac.sid = "S-1-15-2-1-2-3".into();
        ac.app_container = Some(RunId(9).profile_name());
        assert_eq!(Journal::parse(&ac.to_json()), Ok(ac));
    }

    #[test]
    fn sweep_undoes_dead_launchers_only() {
        let (dead, live, reused, own) = (RunId(1), RunId(2), RunId(3), RunId(4));
        let mut reused_j = journal(reused, 30);
        reused_j.launcher_created = 1; // pid 30 runs, but it is a different process now
        let files = vec![
            (format!("{dead}.json"), Some(journal(dead, 10).to_json())),
            (format!("{live}.json"), Some(journal(live, 20).to_json())),
            (format!("{reused}.json"), Some(reused_j.to_json())),
            (format!("{own}.json"), Some(journal(own, 40).to_json())),
            (format!("{own}.json.tmp"), Some(String::new())),
            ("ffff.json.tmp".into(), Some("{".into())),
            ("junk.json".into(), Some("{".into())),
            ("gone.json".into(), None),
            ("lock".into(), None),
        ];
        let alive =
            |pid: u32, created: u64| (pid == 20 || pid == 30) && created == 1000 + u64::from(pid);
        let steps = plan_sweep(files, &own.to_string(), alive);
        assert_eq!(steps.len(), 6, "{steps:#?}");
        assert_eq!(
            steps[0],
            SweepStep::Undo {
                file: format!("{dead}.json"),
                journal: journal(dead, 10)
            }
        );
        assert_eq!(
            steps[1],
            SweepStep::Live {
                file: format!("{live}.json")
            }
        );
        assert!(matches!(&steps[2], SweepStep::Undo { journal, .. } if journal.launcher_pid == 30));
        assert_eq!(
            steps[3],
            SweepStep::DeleteTmp {
                file: "ffff.json.tmp".into()
            }
        );
        assert!(matches!(&steps[4], SweepStep::Unreadable { file, .. } if file == "junk.json"));
        assert!(
            matches!(&steps[5], SweepStep::Unreadable { file, why } if file == "gone.json" && why == "cannot be read")
        );
    }

    #[test]
    fn a_journal_under_another_name_is_not_trusted() {
        let j = journal(RunId(5), 10);
        let steps = plan_sweep(
            vec![(format!("{}.json", RunId(6)), Some(j.to_json()))],
            "x",
            |_, _| false,
        );
        assert!(
            matches!(&steps[0], SweepStep::Unreadable { why, .. } if why.contains("does not match"))
        );
    }
}
