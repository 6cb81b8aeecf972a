//! The job object: kill-on-close (the tree dies with the launcher, even when it crashes),
//! die-on-unhandled-exception, no breakaway, and the UI restrictions of the plan.

use super::sys::Handle;
use crate::JobLimits;
use std::io;
use windows_sys::Win32::System::JobObjects::{
    CreateJobObjectW, JobObjectBasicUIRestrictions, JobObjectExtendedLimitInformation,
    SetInformationJobObject, JOBOBJECT_BASIC_UI_RESTRICTIONS, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};

fn set<T>(job: &Handle, class: i32, info: &T) -> io::Result<()> {
    // SAFETY: `info` is the structure `class` expects, valid for the call.
    let ok = unsafe {
        SetInformationJobObject(
            job.0,
            class,
            (info as *const T).cast(),
            std::mem::size_of::<T>() as u32,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub(crate) fn create(limits: &JobLimits) -> io::Result<Handle> {
    // SAFETY: an unnamed job with default security.
    let job = Handle::new(unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) })?;
    // SAFETY: a plain C structure for which all-zero is the "no limits" value.
    let mut ext: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    let mut flags = 0;
    if limits.kill_on_close {
        flags |= JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    }
    if limits.die_on_unhandled_exception {
        flags |= JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
    }
    ext.BasicLimitInformation.LimitFlags = flags;
    set(&job, JobObjectExtendedLimitInformation, &ext)?;
    let ui = crate::plan::UI_RESTRICTIONS
        .iter()
        .filter(|(name, _)| limits.ui_restrictions.contains(name))
        .fold(0, |acc, (_, bit)| acc | bit);
    set(
        &job,
        JobObjectBasicUIRestrictions,
        &JOBOBJECT_BASIC_UI_RESTRICTIONS {
            UIRestrictionsClass: ui,
        },
    )?;
    Ok(job)
}
