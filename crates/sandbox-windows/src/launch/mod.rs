//! The Windows launcher: executes a [`WindowsPlan`]. `cfg(windows)` only; built and linked for
//! `x86_64-pc-windows-gnu` in CI, never run on Windows by this project's tests (see README).
//!
//! Order (crate README, "Calls in order"):
//! 0. preflight: resolve the program (`PATHEXT`, batch files through `cmd.exe`), build the
//!    command line and environment block, install the Ctrl-C handler;
//! 1. under the per-user lock: sweep dead runs' journals, write this run's journal;
//! 2. identity: restricted token with the run SID, or the AppContainer profile;
//! 3. placeholders and ACEs, each already journaled;
//! 4. job object; 5–6. the child, suspended, joined to the job at creation;
//! 7. resume, wait, exit code; 8. teardown: close the job, undo the journal.

mod acl;
mod appcontainer;
mod job;
mod spawn;
mod state;
mod sys;
mod token;

use crate::journal::{Journal, JournalAce, FORMAT};
use crate::program::{self, Launchable, ProgramError};
use crate::runid::RunId;
use crate::{cmdline, envblock, Identity, WindowsPlan};
use std::ffi::OsString;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use sys::wide;
use thiserror::Error;
use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_BAD_EXE_FORMAT, ERROR_ELEVATION_REQUIRED,
    ERROR_EXE_MACHINE_TYPE_MISMATCH, ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND,
};
use windows_sys::Win32::System::Console::{SetConsoleCtrlHandler, CTRL_BREAK_EVENT, CTRL_C_EVENT};
use windows_sys::Win32::System::SystemInformation::GetSystemDirectoryW;
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, ResumeThread, WaitForSingleObject, INFINITE,
};

/// The exit status of a process ended by Ctrl-C (`STATUS_CONTROL_C_EXIT`).
pub const CONTROL_C_EXIT: u32 = 0xC000_013A;

#[derive(Debug, Error)]
pub enum LaunchError {
    #[error(transparent)]
    Program(#[from] ProgramError),
    #[error("{0}")]
    CommandLine(#[from] cmdline::CmdlineError),
    #[error("{0}")]
    Environment(#[from] envblock::EnvBlockError),
    #[error("{path}: cannot be executed: {source}")]
    NotExecutable { path: PathBuf, source: io::Error },
    #[error("{what}: {source}")]
    Os { what: String, source: io::Error },
    #[error("the sandbox state directory {state} lies inside writable root {root}: the command could rewrite the journals of other runs")]
    StateInRoot { state: PathBuf, root: PathBuf },
}

impl LaunchError {
    /// 126/127 for the command, 125 for the sandbox (DESIGN.md §5).
    pub fn exit_code(&self) -> u8 {
        match self {
            LaunchError::Program(p) => p.exit_code(),
            LaunchError::NotExecutable { .. } => 126,
            _ => 125,
        }
    }
}

fn os(what: impl Into<String>) -> impl FnOnce(io::Error) -> LaunchError {
    let what = what.into();
    move |source| LaunchError::Os { what, source }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ctrl-C and Ctrl-Break reach the child through the shared console; the launcher notes them
/// and keeps running so it can tear down. (A routine, unlike `SetConsoleCtrlHandler(NULL,
/// TRUE)`, is not inherited, so the child keeps its default handling.) Close, log-off and
/// shut-down events are left to the default handler: the launcher dies, the job kills the tree,
/// and the next launch sweeps the journal.
unsafe extern "system" fn on_ctrl(kind: u32) -> i32 {
    if kind == CTRL_C_EVENT || kind == CTRL_BREAK_EVENT {
        INTERRUPTED.store(true, Ordering::SeqCst);
        1
    } else {
        0
    }
}

/// One launch of a command under a plan.
pub struct Launch<'a> {
    pub plan: &'a WindowsPlan,
    /// Program and arguments.
    pub command: &'a [OsString],
    pub cwd: &'a Path,
    /// Writable roots of the policy (to keep the state directory out of them).
    pub writable_roots: Vec<PathBuf>,
}

/// What a finished launch reports.
pub struct Outcome {
    /// The child's exit code, passed through unchanged.
    pub exit_code: u32,
    /// Problems met while cleaning up (the next launch retries them).
    pub warnings: Vec<String>,
}

/// Resolved program, command line and application name.
struct Prepared {
    application: Vec<u16>,
    command_line: Vec<u16>,
    environment: Vec<u16>,
    cwd: Vec<u16>,
}

fn system_dir() -> io::Result<PathBuf> {
    let mut buf = vec![0u16; 260];
    // SAFETY: `buf` has the length passed.
    let n = unsafe { GetSystemDirectoryW(buf.as_mut_ptr(), buf.len() as u32) } as usize;
    if n == 0 || n > buf.len() {
        return Err(io::Error::last_os_error());
    }
    Ok(PathBuf::from(String::from_utf16_lossy(&buf[..n])))
}

fn prepare(l: &Launch) -> Result<Prepared, LaunchError> {
    let (program, args) = l
        .command
        .split_first()
        .ok_or_else(|| ProgramError::NotFound(String::new()))?;
    let target = program::resolve(
        program,
        l.cwd,
        std::env::var_os("PATH").as_deref(),
        std::env::var_os("PATHEXT").as_deref(),
        |p| std::fs::metadata(p).is_ok_and(|m| m.is_file()),
    )?;
    let args: Vec<Vec<u16>> = args.iter().map(|a| a.encode_wide().collect()).collect();
    let (application, command_line) = match target {
        Launchable::Image(path) => {
            let path = plain(&path);
            let w: Vec<u16> = path.as_os_str().encode_wide().collect();
            (wide(&path), cmdline::command_line(&w, &args)?)
        }
        Launchable::Batch(path) => {
            let cmd = system_dir()
                .map_err(os("GetSystemDirectoryW"))?
                .join("cmd.exe");
            let c: Vec<u16> = cmd.as_os_str().encode_wide().collect();
            let s: Vec<u16> = plain(&path).as_os_str().encode_wide().collect();
            (wide(&cmd), cmdline::batch_command_line(&c, &s, &args)?)
        }
    };
    let environment = envblock::env_block(
        std::env::vars_os().map(|(k, v)| (k.encode_wide().collect(), v.encode_wide().collect())),
    )?;
    Ok(Prepared {
        application,
        command_line,
        environment,
        cwd: wide(plain(l.cwd)),
    })
}

/// `path` as the child should see it (see [`crate::winpath`]).
fn plain(path: &Path) -> PathBuf {
    match path.to_str() {
        Some(s) => PathBuf::from(crate::winpath::plain(s)),
        None => path.to_path_buf(),
    }
}

/// What this run stamped, for teardown.
struct Stamped {
    dir: PathBuf,
    runs: PathBuf,
    id: String,
    journal: Journal,
}

impl Stamped {
    fn teardown(&self) -> Vec<String> {
        state::finish(&self.dir, &self.runs, &self.id, &self.journal)
    }
}

/// The run's identity, alive until the child has been created.
enum Made {
    Token(sys::Handle),
    Container(appcontainer::Profile),
    None,
}

/// Runs the command under the plan and returns its exit code. Every ACE and placeholder is
/// journaled before it is made, and undone before this returns (or by the next launch's sweep
/// when this process dies first).
pub fn run(l: &Launch, warn: &dyn Fn(&str)) -> Result<Outcome, LaunchError> {
    let prepared = prepare(l)?;
    // SAFETY: registers a plain function as an additional console control handler.
    if unsafe { SetConsoleCtrlHandler(Some(on_ctrl), 1) } == 0 {
        return Err(os("SetConsoleCtrlHandler")(io::Error::last_os_error()));
    }
    let job = job::create(&l.plan.job).map_err(os("job object"))?;
    if l.plan.identity == Identity::Unsandboxed {
        let child = spawn::Spawn {
            token: None,
            capabilities: None,
            job: &job,
            application: prepared.application,
            command_line: prepared.command_line,
            environment: prepared.environment,
            cwd: prepared.cwd,
        }
        .create()
        .map_err(|e| spawn_error(l, e))?;
        let exit_code = wait(&child)?;
        drop(job);
        return Ok(Outcome {
            exit_code,
            warnings: Vec::new(),
        });
    }

    let id = RunId::fresh();
    let stamped = journal_run(l, id, warn)?;
    let result = stamp_and_run(l, &stamped, &job, prepared, warn);
    // The job goes first: nothing of the tree may run once grants are revoked.
    drop(job);
    let mut warnings = stamped.teardown();
    match result {
        Ok(exit_code) => Ok(Outcome {
            exit_code,
            warnings,
        }),
        Err(e) => {
            for w in warnings.drain(..) {
                warn(&w);
            }
            Err(e)
        }
    }
}

/// Step 1: lock, sweep, journal.
fn journal_run(l: &Launch, id: RunId, warn: &dyn Fn(&str)) -> Result<Stamped, LaunchError> {
    let dir = state::state_dir().map_err(os("locating %LOCALAPPDATA%"))?;
    let runs = dir.join("runs");
    std::fs::create_dir_all(&runs).map_err(os(format!("creating {}", runs.display())))?;
    // Spelled like the policy's paths (canonical, verbatim `\\?\C:\`), so the check below
    // compares like with like.
    let dir = std::fs::canonicalize(&dir).map_err(os(format!("resolving {}", dir.display())))?;
    let runs = dir.join("runs");
    if let Some(root) = l.writable_roots.iter().find(|r| dir.starts_with(r)) {
        return Err(LaunchError::StateInRoot {
            state: dir,
            root: root.clone(),
        });
    }
    let _lock = state::lock(&dir).map_err(os(format!("locking {}", dir.join("lock").display())))?;
    for w in state::sweep(&runs, &id.to_string()) {
        warn(&w);
    }
    let (sid, app_container) = match &l.plan.identity {
        Identity::AppContainer { .. } => {
            let name = id.profile_name();
            let sid = appcontainer::derive_sid(&name)
                .map_err(os("DeriveAppContainerSidFromAppContainerName"))?;
            (
                sys::sid_string(sid.as_psid()).map_err(os("ConvertSidToStringSidW"))?,
                Some(name),
            )
        }
        _ => (id.sid(), None),
    };
    let journal = Journal {
        format: FORMAT,
        run_id: id.to_string(),
        launcher_pid: std::process::id(),
        launcher_created: state::own_creation_time().map_err(os("GetProcessTimes"))?,
        sid,
        app_container,
        aces: l
            .plan
            .aces
            .iter()
            .map(|a| JournalAce {
                path: a.path.clone(),
                kind: a.kind,
                inherit: a.inherit,
            })
            .collect(),
        placeholders: l.plan.placeholders.clone(),
    };
    state::write_journal(&runs, &journal)
        .map_err(os(format!("writing the journal in {}", runs.display())))?;
    Ok(Stamped {
        dir,
        runs,
        id: id.to_string(),
        journal,
    })
}

/// Steps 2–7.
fn stamp_and_run(
    l: &Launch,
    stamped: &Stamped,
    job: &sys::Handle,
    prepared: Prepared,
    warn: &dyn Fn(&str),
) -> Result<u32, LaunchError> {
    let sid = sys::Sid::parse(&stamped.journal.sid).map_err(os("ConvertStringSidToSidW"))?;
    let mut made = match &l.plan.identity {
        Identity::WriteRestrictedToken => Made::Token(token_for(&sid)?),
        Identity::AppContainer { capabilities } => {
            let name = stamped.journal.app_container.as_deref().unwrap_or_default();
            Made::Container(
                appcontainer::create(name, capabilities)
                    .map_err(os(format!("CreateAppContainerProfile {name}")))?,
            )
        }
        Identity::Unsandboxed => Made::None,
    };
    for p in &l.plan.placeholders {
        match std::fs::create_dir(p) {
            Ok(()) => {}
            // Another run's placeholder, or made since the policy was resolved: a directory
            // there gets the same deny entry below.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && p.is_dir() => {}
            Err(e) => return Err(os(format!("creating placeholder {}", p.display()))(e)),
        }
    }
    for ace in &l.plan.aces {
        acl::stamp(&ace.path, sid.as_psid(), ace.kind, ace.inherit).map_err(os(format!(
            "{} for the run on {}",
            ace.kind.label(),
            ace.path.display()
        )))?;
    }
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Ok(CONTROL_C_EXIT);
    }
    let (token, capabilities) = match &mut made {
        Made::Token(t) => (Some(&*t), None),
        Made::Container(p) => (None, Some(p.security_capabilities())),
        Made::None => (None, None),
    };
    let child = spawn::Spawn {
        token,
        capabilities,
        job,
        application: prepared.application,
        command_line: prepared.command_line,
        environment: prepared.environment,
        cwd: prepared.cwd,
    }
    .create()
    .map_err(|e| spawn_error(l, e))?;
    if !child.joined_at_creation {
        warn("PROC_THREAD_ATTRIBUTE_JOB_LIST is not supported here (Windows before 10 1607): the job was assigned while the command was still suspended");
    }
    wait(&child)
}

fn token_for(sid: &sys::Sid) -> Result<sys::Handle, LaunchError> {
    token::restricted_token(sid).map_err(os("CreateRestrictedToken"))
}

/// Maps a failed `CreateProcess*` to 127 (gone since resolution), 126 (not runnable) or 125.
fn spawn_error(l: &Launch, e: io::Error) -> LaunchError {
    let path = PathBuf::from(l.command.first().cloned().unwrap_or_default());
    match e.raw_os_error().map(|c| c as u32) {
        Some(ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND) => {
            LaunchError::Program(ProgramError::NotFound(path.display().to_string()))
        }
        Some(
            ERROR_ACCESS_DENIED
            | ERROR_BAD_EXE_FORMAT
            | ERROR_EXE_MACHINE_TYPE_MISMATCH
            | ERROR_ELEVATION_REQUIRED,
        ) => LaunchError::NotExecutable { path, source: e },
        _ => LaunchError::Os {
            what: "CreateProcess".into(),
            source: e,
        },
    }
}

/// Step 7: resume the suspended child, wait, read its exit code.
fn wait(child: &spawn::Child) -> Result<u32, LaunchError> {
    // SAFETY: a valid thread handle of a suspended thread.
    if unsafe { ResumeThread(child.thread.0) } == u32::MAX {
        return Err(os("ResumeThread")(io::Error::last_os_error()));
    }
    // SAFETY: a valid process handle.
    unsafe { WaitForSingleObject(child.process.0, INFINITE) };
    let mut code = 0u32;
    // SAFETY: a valid process handle.
    if unsafe { GetExitCodeProcess(child.process.0, &mut code) } == 0 {
        return Err(os("GetExitCodeProcess")(io::Error::last_os_error()));
    }
    Ok(code)
}

/// The Windows version as (major, minor, build), from `RtlGetVersion` (not subject to the
/// compatibility shims of `GetVersionEx`).
pub fn os_version() -> (u32, u32, u32) {
    use windows_sys::Wdk::System::SystemServices::RtlGetVersion;
    use windows_sys::Win32::System::SystemInformation::OSVERSIONINFOW;
    // SAFETY: zero is a valid OSVERSIONINFOW once its size field is set.
    let mut v: OSVERSIONINFOW = unsafe { std::mem::zeroed() };
    v.dwOSVersionInfoSize = std::mem::size_of::<OSVERSIONINFOW>() as u32;
    // SAFETY: `v` is a properly sized OSVERSIONINFOW.
    unsafe { RtlGetVersion(&mut v) };
    (v.dwMajorVersion, v.dwMinorVersion, v.dwBuildNumber)
}
