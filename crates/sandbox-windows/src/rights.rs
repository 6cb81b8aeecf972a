//! NTFS access masks, spelled out so the plan states exactly which bits each ACE carries and a
//! test on any OS can check them (for instance that no grant carries `FILE_DELETE_CHILD`).
//!
//! The values are the documented Windows constants (`winnt.h`); the launcher passes
//! [`crate::AceKind::mask`] to `SetEntriesInAclW` unchanged.

pub const FILE_READ_DATA: u32 = 0x0001;
/// On a directory: `FILE_ADD_FILE`.
pub const FILE_WRITE_DATA: u32 = 0x0002;
/// On a directory: `FILE_ADD_SUBDIRECTORY`.
pub const FILE_APPEND_DATA: u32 = 0x0004;
pub const FILE_READ_EA: u32 = 0x0008;
pub const FILE_WRITE_EA: u32 = 0x0010;
/// On a directory: `FILE_TRAVERSE`.
pub const FILE_EXECUTE: u32 = 0x0020;
/// Lets the holder delete or rename *any* child of a directory, whatever the child's own DACL
/// says. Never granted by a plan: it would let the sandboxed command rename a protected `.git`
/// away and create a fresh, writable one in its place.
pub const FILE_DELETE_CHILD: u32 = 0x0040;
pub const FILE_READ_ATTRIBUTES: u32 = 0x0080;
pub const FILE_WRITE_ATTRIBUTES: u32 = 0x0100;
pub const DELETE: u32 = 0x0001_0000;
pub const READ_CONTROL: u32 = 0x0002_0000;
pub const WRITE_DAC: u32 = 0x0004_0000;
pub const WRITE_OWNER: u32 = 0x0008_0000;
pub const SYNCHRONIZE: u32 = 0x0010_0000;

/// `FILE_GENERIC_READ`.
pub const GENERIC_READ_FILE: u32 =
    READ_CONTROL | FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA | SYNCHRONIZE;
/// `FILE_GENERIC_WRITE`.
pub const GENERIC_WRITE_FILE: u32 = READ_CONTROL
    | FILE_WRITE_DATA
    | FILE_WRITE_ATTRIBUTES
    | FILE_WRITE_EA
    | FILE_APPEND_DATA
    | SYNCHRONIZE;
/// `FILE_GENERIC_EXECUTE`.
pub const GENERIC_EXECUTE_FILE: u32 =
    READ_CONTROL | FILE_READ_ATTRIBUTES | FILE_EXECUTE | SYNCHRONIZE;
/// `FILE_ALL_ACCESS`.
pub const ALL_ACCESS_FILE: u32 = 0x001F_01FF;

/// Every bit that changes a file, its name, its attributes or its security descriptor.
pub const ANY_CHANGE: u32 = FILE_WRITE_DATA
    | FILE_APPEND_DATA
    | FILE_WRITE_EA
    | FILE_WRITE_ATTRIBUTES
    | FILE_DELETE_CHILD
    | DELETE
    | WRITE_DAC
    | WRITE_OWNER;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_masks_match_winnt_h() {
        assert_eq!(GENERIC_READ_FILE, 0x0012_0089);
        assert_eq!(GENERIC_WRITE_FILE, 0x0012_0116);
        assert_eq!(GENERIC_EXECUTE_FILE, 0x0012_00A0);
        assert_eq!(ALL_ACCESS_FILE & ANY_CHANGE, ANY_CHANGE);
    }
}
