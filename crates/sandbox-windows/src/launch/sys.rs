//! Small owners for Windows resources, so every early return frees what was made.

use std::ffi::OsStr;
use std::io;
use std::os::windows::ffi::OsStrExt;
use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Security::Authorization::{ConvertSidToStringSidW, ConvertStringSidToSidW};
use windows_sys::Win32::Security::PSID;

/// `s` as a NUL-terminated UTF-16 string.
pub(crate) fn wide(s: impl AsRef<OsStr>) -> Vec<u16> {
    s.as_ref().encode_wide().chain(std::iter::once(0)).collect()
}

/// A kernel handle closed on drop.
pub(crate) struct Handle(pub(crate) HANDLE);

impl Handle {
    /// Takes ownership of `h`, or returns the thread's last error when `h` is null or invalid.
    pub(crate) fn new(h: HANDLE) -> io::Result<Handle> {
        if h.is_null() || h == INVALID_HANDLE_VALUE {
            Err(io::Error::last_os_error())
        } else {
            Ok(Handle(h))
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle is owned by this value and closed exactly once.
        unsafe { CloseHandle(self.0) };
    }
}

/// Memory returned by an API that documents `LocalFree` as its release.
pub(crate) struct Local(pub(crate) *mut core::ffi::c_void);

impl Drop for Local {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from a `LocalAlloc`-backed API and is freed once.
            unsafe { LocalFree(self.0) };
        }
    }
}

/// A SID parsed from its string form (`ConvertStringSidToSidW`, freed with `LocalFree`).
pub(crate) struct Sid(Local);

impl Sid {
    pub(crate) fn parse(s: &str) -> io::Result<Sid> {
        let w = wide(s);
        let mut sid: PSID = std::ptr::null_mut();
        // SAFETY: `w` is NUL-terminated and outlives the call; `sid` receives an allocation.
        if unsafe { ConvertStringSidToSidW(w.as_ptr(), &mut sid) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Sid(Local(sid)))
    }

    pub(crate) fn as_psid(&self) -> PSID {
        self.0 .0
    }
}

/// The string form (`S-1-…`) of a SID.
pub(crate) fn sid_string(sid: PSID) -> io::Result<String> {
    let mut out: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` is a valid SID; `out` receives a NUL-terminated LocalAlloc'd string.
    if unsafe { ConvertSidToStringSidW(sid, &mut out) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let owner = Local(out.cast());
    // SAFETY: `out` is NUL-terminated; the length is found before the slice is made.
    let text = unsafe {
        let len = (0..).take_while(|&i| *out.add(i) != 0).count();
        String::from_utf16_lossy(std::slice::from_raw_parts(out, len))
    };
    drop(owner);
    Ok(text)
}

/// Wraps an API's `WIN32_ERROR` return value.
pub(crate) fn check(err: u32) -> io::Result<()> {
    if err == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(err as i32))
    }
}
