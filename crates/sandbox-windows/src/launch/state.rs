//! The per-user state directory `%LOCALAPPDATA%\sandbox`: the lock, the run journals, and the
//! execution of sweeps and undos ([`crate::journal`] decides what; this does it).

use super::{acl, appcontainer, sys};
use crate::journal::{plan_sweep, Journal, SweepStep, Undo, SUFFIX, TMP_SUFFIX};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::windows::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use windows_sys::Win32::Foundation::{
    ERROR_INVALID_PARAMETER, ERROR_SHARING_VIOLATION, FILETIME, STILL_ACTIVE,
};
use windows_sys::Win32::System::Com::CoTaskMemFree;
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetExitCodeProcess, GetProcessTimes, OpenProcess,
    PROCESS_QUERY_LIMITED_INFORMATION,
};
use windows_sys::Win32::UI::Shell::{FOLDERID_LocalAppData, SHGetKnownFolderPath};

/// `%LOCALAPPDATA%\sandbox`, from the shell (the environment may have been filtered).
pub(crate) fn state_dir() -> io::Result<PathBuf> {
    let mut p: *mut u16 = std::ptr::null_mut();
    // SAFETY: `p` receives a CoTaskMemAlloc'd NUL-terminated path, freed below.
    let hr =
        unsafe { SHGetKnownFolderPath(&FOLDERID_LocalAppData, 0, std::ptr::null_mut(), &mut p) };
    if hr < 0 {
        if !p.is_null() {
            // SAFETY: freed as documented even on failure.
            unsafe { CoTaskMemFree(p.cast()) };
        }
        return Err(io::Error::other(format!(
            "SHGetKnownFolderPath: HRESULT {:#010x}",
            hr as u32
        )));
    }
    // SAFETY: `p` is NUL-terminated; it is read, then freed once.
    let path = unsafe {
        let len = (0..).take_while(|&i| *p.add(i) != 0).count();
        let s = String::from_utf16_lossy(std::slice::from_raw_parts(p, len));
        CoTaskMemFree(p.cast());
        s
    };
    Ok(PathBuf::from(path).join("sandbox"))
}

/// The per-user lock: `lock` opened with no sharing, held while sweeping and journaling.
pub(crate) struct Lock(#[allow(dead_code)] File);

pub(crate) fn lock(dir: &Path) -> io::Result<Lock> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .share_mode(0)
            .open(dir.join("lock"))
        {
            Ok(f) => return Ok(Lock(f)),
            Err(e)
                if e.raw_os_error() == Some(ERROR_SHARING_VIOLATION as i32)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    }
}

fn filetime(t: FILETIME) -> u64 {
    (u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime)
}

fn creation_time(process: windows_sys::Win32::Foundation::HANDLE) -> io::Result<u64> {
    let z = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut c, mut e, mut k, mut u) = (z, z, z, z);
    // SAFETY: `process` is a valid handle with query access.
    if unsafe { GetProcessTimes(process, &mut c, &mut e, &mut k, &mut u) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(filetime(c))
}

/// This launcher's creation time, recorded in its journal.
pub(crate) fn own_creation_time() -> io::Result<u64> {
    // SAFETY: the pseudo-handle of this process.
    creation_time(unsafe { GetCurrentProcess() })
}

/// Whether the launcher that wrote a journal still runs: same pid, same creation time, not
/// exited. When in doubt (access denied), alive: its entries are then kept, never revoked.
fn alive(pid: u32, created: u64) -> bool {
    // SAFETY: a query-only open; the handle is owned below.
    let raw = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    let h = match sys::Handle::new(raw) {
        Ok(h) => h,
        Err(e) => return e.raw_os_error() != Some(ERROR_INVALID_PARAMETER as i32),
    };
    let mut code = 0u32;
    // SAFETY: valid handle with query access.
    if unsafe { GetExitCodeProcess(h.0, &mut code) } != 0 && code != STILL_ACTIVE as u32 {
        return false;
    }
    creation_time(h.0).map_or(true, |c| c == created)
}

/// Writes `journal` as `<id>.json` through a flushed `.tmp` and a rename.
pub(crate) fn write_journal(runs: &Path, journal: &Journal) -> io::Result<PathBuf> {
    let tmp = runs.join(format!("{}{TMP_SUFFIX}", journal.run_id));
    let done = runs.join(format!("{}{SUFFIX}", journal.run_id));
    let mut f = File::create(&tmp)?;
    f.write_all(journal.to_json().as_bytes())?;
    f.sync_all()?; // FlushFileBuffers
    drop(f);
    std::fs::rename(&tmp, &done)?;
    Ok(done)
}

/// Every journal file of the directory, with its text (`None` when unreadable).
fn listing(runs: &Path) -> io::Result<Vec<(String, Option<String>)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(runs)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(SUFFIX) {
            files.push((name, std::fs::read_to_string(entry.path()).ok()));
        } else if name.ends_with(TMP_SUFFIX) {
            files.push((name, None));
        }
    }
    files.sort();
    Ok(files)
}

/// Paths that live journals other than `own` mention (ACE paths and placeholders): a
/// placeholder one of them relies on is not removed.
fn used_by_others(runs: &Path, own: &str) -> io::Result<Vec<PathBuf>> {
    let mut used = Vec::new();
    for step in plan_sweep(listing(runs)?, own, alive) {
        if let SweepStep::Live { file } = step {
            if let Ok(j) = std::fs::read_to_string(runs.join(&file))
                .map_err(|e| e.to_string())
                .and_then(|t| Journal::parse(&t).map_err(|e| e.to_string()))
            {
                used.extend(j.aces.into_iter().map(|a| a.path));
                used.extend(j.placeholders);
            }
        }
    }
    Ok(used)
}

/// Performs `undo`. Returns the problems; the journal may be deleted only when there are none.
pub(crate) fn undo(undo: &Undo, keep: &[PathBuf]) -> Vec<String> {
    let mut problems = Vec::new();
    match sys::Sid::parse(&undo.sid) {
        Ok(sid) => {
            for p in &undo.revoke {
                if let Err(e) = acl::revoke(p, sid.as_psid()) {
                    problems.push(format!("revoking {} on {}: {e}", undo.sid, p.display()));
                }
            }
        }
        Err(e) => problems.push(format!("SID {}: {e}", undo.sid)),
    }
    for p in &undo.remove_if_empty {
        if keep.contains(p) {
            continue;
        }
        let empty = std::fs::read_dir(p).map(|mut d| d.next().is_none());
        match empty {
            Ok(true) => {
                if let Err(e) = std::fs::remove_dir(p) {
                    problems.push(format!("removing placeholder {}: {e}", p.display()));
                }
            }
            Ok(false) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => problems.push(format!("placeholder {}: {e}", p.display())),
        }
    }
    if let Some(name) = &undo.delete_profile {
        if let Err(e) = appcontainer::delete(name) {
            problems.push(format!("deleting AppContainer profile {name}: {e}"));
        }
    }
    problems
}

/// Undoes and deletes `own`'s journal (the launcher's teardown), under the lock.
pub(crate) fn finish(dir: &Path, runs: &Path, own: &str, journal: &Journal) -> Vec<String> {
    let _lock = match lock(dir) {
        Ok(l) => l,
        Err(e) => {
            return vec![format!(
                "taking the lock {}: {e}",
                dir.join("lock").display()
            )]
        }
    };
    let keep = used_by_others(runs, own).unwrap_or_default();
    let problems = undo(&journal.undo(), &keep);
    if problems.is_empty() {
        let _ = std::fs::remove_file(runs.join(format!("{own}{SUFFIX}")));
    }
    problems
}

/// Sweeps journals of dead launchers (the lock must be held). Returns warnings.
pub(crate) fn sweep(runs: &Path, own: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    let files = match listing(runs) {
        Ok(f) => f,
        Err(e) => return vec![format!("reading {}: {e}", runs.display())],
    };
    let keep = used_by_others(runs, own).unwrap_or_default();
    for step in plan_sweep(files, own, alive) {
        match step {
            SweepStep::Undo { file, journal } => {
                let problems = undo(&journal.undo(), &keep);
                if problems.is_empty() {
                    let _ = std::fs::remove_file(runs.join(&file));
                    warnings.push(format!(
                        "cleaned up after a run that did not finish ({file})"
                    ));
                } else {
                    for p in problems {
                        warnings.push(format!("cleaning up after {file}: {p}"));
                    }
                }
            }
            SweepStep::DeleteTmp { file } => {
                let _ = std::fs::remove_file(runs.join(file));
            }
            SweepStep::Live { .. } => {}
            SweepStep::Unreadable { file, why } => {
                warnings.push(format!("left {} alone: {why}", runs.join(file).display()));
            }
        }
    }
    warnings
}
