//! Identity (a): the write-restricted token.
//!
//! `OpenProcessToken` → logon SID from `TokenGroups` → `CreateRestrictedToken(DISABLE_MAX_PRIVILEGE
//! | LUA_TOKEN | WRITE_RESTRICTED)` with restricting SIDs [run SID, logon SID, Everyone] →
//! `SetTokenInformation(TokenDefaultDacl)` so objects the child creates stay usable by the child
//! (through its restricting SIDs) and by the launcher (the user SID).

use super::sys::{Handle, Local, Sid};
use std::io;
use windows_sys::Win32::Foundation::GENERIC_ALL;
use windows_sys::Win32::Security::Authorization::{
    SetEntriesInAclW, EXPLICIT_ACCESS_W, GRANT_ACCESS, NO_MULTIPLE_TRUSTEE, TRUSTEE_IS_SID,
    TRUSTEE_IS_UNKNOWN, TRUSTEE_W,
};
use windows_sys::Win32::Security::{
    CreateRestrictedToken, GetTokenInformation, SetTokenInformation, TokenDefaultDacl, TokenGroups,
    TokenUser, ACL, DISABLE_MAX_PRIVILEGE, LUA_TOKEN, NO_INHERITANCE, PSID, SID_AND_ATTRIBUTES,
    TOKEN_ADJUST_DEFAULT, TOKEN_ADJUST_SESSIONID, TOKEN_ASSIGN_PRIMARY, TOKEN_DEFAULT_DACL,
    TOKEN_DUPLICATE, TOKEN_GROUPS, TOKEN_INFORMATION_CLASS, TOKEN_QUERY, TOKEN_USER,
    WRITE_RESTRICTED,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// `SE_GROUP_LOGON_ID` (winnt.h): the group is the logon session's SID.
const SE_GROUP_LOGON_ID: u32 = 0xC000_0000;

/// A `TOKEN_*` information buffer, 8-byte aligned for the structures read from it.
fn token_info(token: &Handle, class: TOKEN_INFORMATION_CLASS) -> io::Result<Vec<u64>> {
    let mut len = 0u32;
    // SAFETY: a size query: null buffer of length 0, `len` receives the size needed.
    unsafe { GetTokenInformation(token.0, class, std::ptr::null_mut(), 0, &mut len) };
    if len == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u64; (len as usize).div_ceil(8)];
    // SAFETY: `buf` holds at least `len` bytes.
    if unsafe { GetTokenInformation(token.0, class, buf.as_mut_ptr().cast(), len, &mut len) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(buf)
}

/// The restricted token for the child, and the SIDs the ACL code and the default DACL use.
pub(crate) fn restricted_token(run_sid: &Sid) -> io::Result<Handle> {
    let mut raw = std::ptr::null_mut();
    let access = TOKEN_DUPLICATE
        | TOKEN_QUERY
        | TOKEN_ASSIGN_PRIMARY
        | TOKEN_ADJUST_DEFAULT
        | TOKEN_ADJUST_SESSIONID;
    // SAFETY: the pseudo-handle of this process; `raw` receives a new token handle.
    if unsafe { OpenProcessToken(GetCurrentProcess(), access, &mut raw) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let base = Handle::new(raw)?;
    let groups_buf = token_info(&base, TokenGroups)?;
    let user_buf = token_info(&base, TokenUser)?;
    // SAFETY: both buffers were filled by GetTokenInformation for these classes; the SID
    // pointers inside point into the same buffers, which live until the end of this function.
    let (logon, user): (Option<PSID>, PSID) = unsafe {
        let groups = &*(groups_buf.as_ptr() as *const TOKEN_GROUPS);
        let list = std::slice::from_raw_parts(groups.Groups.as_ptr(), groups.GroupCount as usize);
        let logon = list
            .iter()
            .find(|g| g.Attributes & SE_GROUP_LOGON_ID == SE_GROUP_LOGON_ID)
            .map(|g| g.Sid);
        let user = (*(user_buf.as_ptr() as *const TOKEN_USER)).User.Sid;
        (logon, user)
    };
    let everyone = Sid::parse("S-1-1-0")?;
    let system = Sid::parse("S-1-5-18")?;
    let mut restricting = vec![run_sid.as_psid()];
    restricting.extend(logon);
    restricting.push(everyone.as_psid());
    let sids: Vec<SID_AND_ATTRIBUTES> = restricting
        .iter()
        .map(|&s| SID_AND_ATTRIBUTES {
            Sid: s,
            Attributes: 0,
        })
        .collect();
    let mut new = std::ptr::null_mut();
    // SAFETY: `sids` points at `sids.len()` valid entries whose SIDs outlive the call.
    let ok = unsafe {
        CreateRestrictedToken(
            base.0,
            DISABLE_MAX_PRIVILEGE | LUA_TOKEN | WRITE_RESTRICTED,
            0,
            std::ptr::null(),
            0,
            std::ptr::null(),
            sids.len() as u32,
            sids.as_ptr(),
            &mut new,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    let token = Handle::new(new)?;
    let mut dacl_sids = vec![user, system.as_psid(), run_sid.as_psid()];
    dacl_sids.extend(logon);
    set_default_dacl(&token, &dacl_sids)?;
    Ok(token)
}

/// `TokenDefaultDacl` = GENERIC_ALL for each SID.
fn set_default_dacl(token: &Handle, sids: &[PSID]) -> io::Result<()> {
    let entries: Vec<EXPLICIT_ACCESS_W> = sids
        .iter()
        .map(|&sid| EXPLICIT_ACCESS_W {
            grfAccessPermissions: GENERIC_ALL,
            grfAccessMode: GRANT_ACCESS,
            grfInheritance: NO_INHERITANCE,
            Trustee: TRUSTEE_W {
                pMultipleTrustee: std::ptr::null_mut(),
                MultipleTrusteeOperation: NO_MULTIPLE_TRUSTEE,
                TrusteeForm: TRUSTEE_IS_SID,
                TrusteeType: TRUSTEE_IS_UNKNOWN,
                ptstrName: sid.cast(),
            },
        })
        .collect();
    let mut acl: *mut ACL = std::ptr::null_mut();
    // SAFETY: `entries` holds valid SIDs; a new ACL is allocated into `acl`.
    super::sys::check(unsafe {
        SetEntriesInAclW(
            entries.len() as u32,
            entries.as_ptr(),
            std::ptr::null(),
            &mut acl,
        )
    })?;
    let _owner = Local(acl.cast());
    let info = TOKEN_DEFAULT_DACL { DefaultDacl: acl };
    // SAFETY: `info` points at a valid ACL for the duration of the call.
    let ok = unsafe {
        SetTokenInformation(
            token.0,
            TokenDefaultDacl,
            (&info as *const TOKEN_DEFAULT_DACL).cast(),
            std::mem::size_of::<TOKEN_DEFAULT_DACL>() as u32,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
