//! ACL changes for the run SID: `GetNamedSecurityInfoW` → `SetEntriesInAclW` →
//! `SetNamedSecurityInfoW`, which also propagates an inheritable entry through every existing
//! descendant (time proportional to the number of files below the path).

use super::sys::{check, wide, Local};
use crate::AceKind;
use std::io;
use std::path::Path;
use windows_sys::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND};
use windows_sys::Win32::Security::Authorization::{
    GetNamedSecurityInfoW, SetEntriesInAclW, SetNamedSecurityInfoW, ACCESS_MODE, DENY_ACCESS,
    EXPLICIT_ACCESS_W, GRANT_ACCESS, NO_MULTIPLE_TRUSTEE, REVOKE_ACCESS, SE_FILE_OBJECT,
    TRUSTEE_IS_SID, TRUSTEE_IS_UNKNOWN, TRUSTEE_W,
};
use windows_sys::Win32::Security::{
    ACL, DACL_SECURITY_INFORMATION, NO_INHERITANCE, PSECURITY_DESCRIPTOR, PSID,
    SUB_CONTAINERS_AND_OBJECTS_INHERIT,
};

fn change(path: &Path, sid: PSID, mask: u32, mode: ACCESS_MODE, inherit: bool) -> io::Result<()> {
    let name = wide(path);
    let mut dacl: *mut ACL = std::ptr::null_mut();
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: `name` is NUL-terminated; `dacl` points into `sd`, which is freed after use.
    check(unsafe {
        GetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut dacl,
            std::ptr::null_mut(),
            &mut sd,
        )
    })?;
    let _sd = Local(sd);
    let entry = EXPLICIT_ACCESS_W {
        grfAccessPermissions: mask,
        grfAccessMode: mode,
        grfInheritance: if inherit {
            SUB_CONTAINERS_AND_OBJECTS_INHERIT
        } else {
            NO_INHERITANCE
        },
        Trustee: TRUSTEE_W {
            pMultipleTrustee: std::ptr::null_mut(),
            MultipleTrusteeOperation: NO_MULTIPLE_TRUSTEE,
            TrusteeForm: TRUSTEE_IS_SID,
            TrusteeType: TRUSTEE_IS_UNKNOWN,
            ptstrName: sid.cast(),
        },
    };
    let mut new: *mut ACL = std::ptr::null_mut();
    // SAFETY: `entry` names a valid SID; `dacl` is the object's current DACL (or null).
    check(unsafe { SetEntriesInAclW(1, &entry, dacl, &mut new) })?;
    let _new = Local(new.cast());
    // SAFETY: `new` is a valid ACL for the duration of the call.
    check(unsafe {
        SetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            new,
            std::ptr::null(),
        )
    })
}

/// Adds the plan's entry for `sid` on `path`.
pub(crate) fn stamp(path: &Path, sid: PSID, kind: AceKind, inherit: bool) -> io::Result<()> {
    let mode = if kind.is_deny() {
        DENY_ACCESS
    } else {
        GRANT_ACCESS
    };
    change(path, sid, kind.mask(), mode, inherit)
}

/// Removes every entry naming `sid` on `path` (and, by re-propagation, below it). A path that
/// no longer exists has nothing left to revoke.
pub(crate) fn revoke(path: &Path, sid: PSID) -> io::Result<()> {
    match change(path, sid, 0, REVOKE_ACCESS, false) {
        Err(e)
            if e.raw_os_error() == Some(ERROR_FILE_NOT_FOUND as i32)
                || e.raw_os_error() == Some(ERROR_PATH_NOT_FOUND as i32) =>
        {
            Ok(())
        }
        other => other,
    }
}
