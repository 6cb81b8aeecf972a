//! Creating the child: attribute list (stdio handle list, job list, AppContainer security
//! capabilities), `CREATE_SUSPENDED | EXTENDED_STARTUPINFO_PRESENT | CREATE_UNICODE_ENVIRONMENT`,
//! then the job (when it could not be joined at creation) before the first instruction runs.

use super::sys::{wide, Handle};
use std::io;
use windows_sys::Win32::Foundation::{
    SetHandleInformation, HANDLE, HANDLE_FLAG_INHERIT, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Security::SECURITY_CAPABILITIES;
use windows_sys::Win32::System::Console::{
    GetStdHandle, STD_ERROR_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
};
use windows_sys::Win32::System::JobObjects::AssignProcessToJobObject;
use windows_sys::Win32::System::Threading::{
    CreateProcessAsUserW, CreateProcessW, DeleteProcThreadAttributeList,
    InitializeProcThreadAttributeList, TerminateProcess, UpdateProcThreadAttribute,
    CREATE_SUSPENDED, CREATE_UNICODE_ENVIRONMENT, EXTENDED_STARTUPINFO_PRESENT,
    LPPROC_THREAD_ATTRIBUTE_LIST, PROCESS_INFORMATION, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
    PROC_THREAD_ATTRIBUTE_JOB_LIST, PROC_THREAD_ATTRIBUTE_SECURITY_CAPABILITIES,
    STARTF_USESTDHANDLES, STARTUPINFOEXW,
};

/// The created (still suspended) child.
pub(crate) struct Child {
    pub(crate) process: Handle,
    pub(crate) thread: Handle,
    /// False when `PROC_THREAD_ATTRIBUTE_JOB_LIST` was refused (before Windows 10 1607) and the
    /// job was assigned while suspended instead.
    pub(crate) joined_at_creation: bool,
}

/// An initialized attribute list, deleted on drop.
struct Attributes {
    buf: Vec<u64>,
}

impl Attributes {
    fn new(count: u32) -> io::Result<Attributes> {
        let mut size = 0usize;
        // SAFETY: a size query with a null list.
        unsafe { InitializeProcThreadAttributeList(std::ptr::null_mut(), count, 0, &mut size) };
        if size == 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u64; size.div_ceil(8)];
        // SAFETY: `buf` holds `size` bytes, 8-byte aligned.
        if unsafe {
            InitializeProcThreadAttributeList(buf.as_mut_ptr().cast(), count, 0, &mut size)
        } == 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(Attributes { buf })
    }

    fn list(&mut self) -> LPPROC_THREAD_ATTRIBUTE_LIST {
        self.buf.as_mut_ptr().cast()
    }

    /// Adds an attribute; `value` must stay alive and unmoved until the process is created.
    fn set<T>(&mut self, attribute: u32, value: *const T, size: usize) -> io::Result<()> {
        // SAFETY: `value` points at `size` bytes the caller keeps alive until CreateProcess.
        let ok = unsafe {
            UpdateProcThreadAttribute(
                self.list(),
                0,
                attribute as usize,
                value.cast(),
                size,
                std::ptr::null_mut(),
                std::ptr::null(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Attributes {
    fn drop(&mut self) {
        // SAFETY: the list was initialized in `new`.
        unsafe { DeleteProcThreadAttributeList(self.list()) };
    }
}

/// This process's standard handles, made inheritable, without duplicates or empty slots.
fn stdio() -> io::Result<([HANDLE; 3], Vec<HANDLE>)> {
    let mut std = [std::ptr::null_mut(); 3];
    let mut list: Vec<HANDLE> = Vec::new();
    for (slot, which) in std
        .iter_mut()
        .zip([STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE])
    {
        // SAFETY: reads this process's standard handle.
        let h = unsafe { GetStdHandle(which) };
        if h.is_null() || h == INVALID_HANDLE_VALUE {
            continue;
        }
        *slot = h;
        if !list.contains(&h) {
            // SAFETY: `h` is a handle of this process; only its inherit flag changes.
            if unsafe { SetHandleInformation(h, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT) } == 0 {
                return Err(io::Error::last_os_error());
            }
            list.push(h);
        }
    }
    Ok((std, list))
}

pub(crate) struct Spawn<'a> {
    /// The restricted token (identity a), or `None` for an AppContainer or no sandbox.
    pub(crate) token: Option<&'a Handle>,
    pub(crate) capabilities: Option<SECURITY_CAPABILITIES>,
    pub(crate) job: &'a Handle,
    pub(crate) application: Vec<u16>,
    pub(crate) command_line: Vec<u16>,
    pub(crate) environment: Vec<u16>,
    pub(crate) cwd: Vec<u16>,
}

impl Spawn<'_> {
    pub(crate) fn create(mut self) -> io::Result<Child> {
        let (std, handles) = stdio()?;
        let mut attrs = Attributes::new(3)?;
        if !handles.is_empty() {
            attrs.set(
                PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                handles.as_ptr(),
                handles.len() * std::mem::size_of::<HANDLE>(),
            )?;
        }
        let jobs = [self.job.0];
        let joined_at_creation = attrs
            .set(
                PROC_THREAD_ATTRIBUTE_JOB_LIST,
                jobs.as_ptr(),
                std::mem::size_of::<HANDLE>(),
            )
            .is_ok();
        if let Some(caps) = &self.capabilities {
            attrs.set(
                PROC_THREAD_ATTRIBUTE_SECURITY_CAPABILITIES,
                caps as *const SECURITY_CAPABILITIES,
                std::mem::size_of::<SECURITY_CAPABILITIES>(),
            )?;
        }
        let mut desktop = wide("winsta0\\default");
        // SAFETY: a plain C structure; every field is set or meant to be zero.
        let mut si: STARTUPINFOEXW = unsafe { std::mem::zeroed() };
        si.StartupInfo.cb = std::mem::size_of::<STARTUPINFOEXW>() as u32;
        si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
        si.StartupInfo.hStdInput = std[0];
        si.StartupInfo.hStdOutput = std[1];
        si.StartupInfo.hStdError = std[2];
        if self.token.is_some() {
            si.StartupInfo.lpDesktop = desktop.as_mut_ptr();
        }
        si.lpAttributeList = attrs.list();
        let flags = CREATE_SUSPENDED | EXTENDED_STARTUPINFO_PRESENT | CREATE_UNICODE_ENVIRONMENT;
        let inherit = i32::from(!handles.is_empty());
        // SAFETY: zero is a valid PROCESS_INFORMATION to be filled in.
        let mut pi: PROCESS_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: every string is NUL-terminated (the environment block double-NUL), the
        // command line is mutable as CreateProcess requires, and the attribute list and what it
        // points at (`handles`, `jobs`, `self.capabilities`) live until after the call.
        let ok = unsafe {
            match self.token {
                Some(token) => CreateProcessAsUserW(
                    token.0,
                    self.application.as_ptr(),
                    self.command_line.as_mut_ptr(),
                    std::ptr::null(),
                    std::ptr::null(),
                    inherit,
                    flags,
                    self.environment.as_ptr().cast(),
                    self.cwd.as_ptr(),
                    &si.StartupInfo,
                    &mut pi,
                ),
                None => CreateProcessW(
                    self.application.as_ptr(),
                    self.command_line.as_mut_ptr(),
                    std::ptr::null(),
                    std::ptr::null(),
                    inherit,
                    flags,
                    self.environment.as_ptr().cast(),
                    self.cwd.as_ptr(),
                    &si.StartupInfo,
                    &mut pi,
                ),
            }
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        let child = Child {
            process: Handle(pi.hProcess),
            thread: Handle(pi.hThread),
            joined_at_creation,
        };
        if !joined_at_creation {
            // Still suspended: nothing has run, so nothing can have escaped the job yet.
            // SAFETY: both handles are valid.
            if unsafe { AssignProcessToJobObject(self.job.0, child.process.0) } == 0 {
                let e = io::Error::last_os_error();
                // SAFETY: the suspended child is ours to end.
                unsafe { TerminateProcess(child.process.0, 1) };
                return Err(e);
            }
        }
        Ok(child)
    }
}
