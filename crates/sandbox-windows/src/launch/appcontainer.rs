//! Identity (b): a per-run AppContainer profile.
//!
//! The SID is derived from the name first (`DeriveAppContainerSidFromAppContainerName`, no side
//! effect) so the journal can name it before the profile exists; then
//! `CreateAppContainerProfile` with the plan's capabilities; after the run
//! `DeleteAppContainerProfile`.

use super::sys::{wide, Sid};
use std::io;
use windows_sys::Win32::Foundation::ERROR_ALREADY_EXISTS;
use windows_sys::Win32::Security::Isolation::{
    CreateAppContainerProfile, DeleteAppContainerProfile, DeriveAppContainerSidFromAppContainerName,
};
use windows_sys::Win32::Security::{FreeSid, PSID, SECURITY_CAPABILITIES, SID_AND_ATTRIBUTES};

/// `SE_GROUP_ENABLED` (winnt.h).
const SE_GROUP_ENABLED: u32 = 0x0000_0004;

/// A SID from the userenv APIs, freed with `FreeSid`.
pub(crate) struct ContainerSid(PSID);

impl ContainerSid {
    pub(crate) fn as_psid(&self) -> PSID {
        self.0
    }
}

impl Drop for ContainerSid {
    fn drop(&mut self) {
        // SAFETY: allocated by a userenv API documented to be released with FreeSid.
        unsafe { FreeSid(self.0) };
    }
}

fn hresult_error(hr: i32) -> io::Error {
    // An HRESULT_FROM_WIN32 carries the Win32 code in its low 16 bits.
    if (hr as u32) & 0xFFFF_0000 == 0x8007_0000 {
        io::Error::from_raw_os_error((hr as u32 & 0xFFFF) as i32)
    } else {
        io::Error::other(format!("HRESULT {:#010x}", hr as u32))
    }
}

/// The AppContainer SID of `name`.
pub(crate) fn derive_sid(name: &str) -> io::Result<ContainerSid> {
    let w = wide(name);
    let mut sid: PSID = std::ptr::null_mut();
    // SAFETY: `w` is NUL-terminated; `sid` receives an allocation.
    let hr = unsafe { DeriveAppContainerSidFromAppContainerName(w.as_ptr(), &mut sid) };
    if hr < 0 {
        return Err(hresult_error(hr));
    }
    Ok(ContainerSid(sid))
}

/// The SID of a well-known capability name the plan uses.
fn capability_sid(name: &str) -> io::Result<Sid> {
    let sid = match name {
        "internetClient" => "S-1-15-3-1",
        "internetClientServer" => "S-1-15-3-2",
        "privateNetworkClientServer" => "S-1-15-3-3",
        other => return Err(io::Error::other(format!("unknown capability {other}"))),
    };
    Sid::parse(sid)
}

/// A created profile: the `SECURITY_CAPABILITIES` for `CreateProcessW` and what it points at.
pub(crate) struct Profile {
    pub(crate) sid: ContainerSid,
    _caps: Vec<Sid>,
    attrs: Vec<SID_AND_ATTRIBUTES>,
}

impl Profile {
    pub(crate) fn security_capabilities(&mut self) -> SECURITY_CAPABILITIES {
        SECURITY_CAPABILITIES {
            AppContainerSid: self.sid.as_psid(),
            Capabilities: if self.attrs.is_empty() {
                std::ptr::null_mut()
            } else {
                self.attrs.as_mut_ptr()
            },
            CapabilityCount: self.attrs.len() as u32,
            Reserved: 0,
        }
    }
}

pub(crate) fn create(name: &str, capabilities: &[String]) -> io::Result<Profile> {
    let caps: Vec<Sid> = capabilities
        .iter()
        .map(|c| capability_sid(c))
        .collect::<Result<_, _>>()?;
    let attrs: Vec<SID_AND_ATTRIBUTES> = caps
        .iter()
        .map(|c| SID_AND_ATTRIBUTES {
            Sid: c.as_psid(),
            Attributes: SE_GROUP_ENABLED,
        })
        .collect();
    let w = wide(name);
    let desc = wide("sandbox run (deleted after the run)");
    let mut sid: PSID = std::ptr::null_mut();
    // SAFETY: strings are NUL-terminated; `attrs` holds valid SIDs owned by `caps`.
    let hr = unsafe {
        CreateAppContainerProfile(
            w.as_ptr(),
            w.as_ptr(),
            desc.as_ptr(),
            if attrs.is_empty() {
                std::ptr::null()
            } else {
                attrs.as_ptr()
            },
            attrs.len() as u32,
            &mut sid,
        )
    };
    let already = (0x8007_0000u32 | ERROR_ALREADY_EXISTS) as i32;
    let sid = if hr == already {
        derive_sid(name)?
    } else if hr < 0 {
        return Err(hresult_error(hr));
    } else {
        ContainerSid(sid)
    };
    Ok(Profile {
        sid,
        _caps: caps,
        attrs,
    })
}

pub(crate) fn delete(name: &str) -> io::Result<()> {
    let w = wide(name);
    // SAFETY: `w` is NUL-terminated.
    let hr = unsafe { DeleteAppContainerProfile(w.as_ptr()) };
    if hr < 0 {
        return Err(hresult_error(hr));
    }
    Ok(())
}
