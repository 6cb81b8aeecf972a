//! Thin raw-syscall wrappers used between `fork` and `exec` (no allocation, no locks) and the
//! Landlock kernel ABI structs, which `libc` does not define.

use std::ffi::CStr;

/// The calling thread's `errno`.
pub(crate) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `struct landlock_ruleset_attr` (kernel ABI; later fields are ignored by older kernels only
/// when the size passed says so).
#[repr(C)]
pub(crate) struct RulesetAttr {
    pub handled_access_fs: u64,
    pub handled_access_net: u64,
    pub scoped: u64,
}

/// `struct landlock_path_beneath_attr` (packed in the kernel header).
#[repr(C, packed)]
pub(crate) struct PathBeneathAttr {
    pub allowed_access: u64,
    pub parent_fd: i32,
}

pub(crate) const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
pub(crate) const LANDLOCK_RULE_PATH_BENEATH: u32 = 1;

/// `landlock_create_ruleset(attr, size, flags)`.
pub(crate) fn landlock_create_ruleset(attr: Option<&RulesetAttr>, size: usize, flags: u32) -> i64 {
    let ptr = attr.map_or(std::ptr::null(), |a| a as *const RulesetAttr);
    // SAFETY: `ptr` is null or points at a live RulesetAttr of at least `size` bytes.
    unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, ptr, size, flags) }
}

/// `landlock_add_rule(ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, attr, 0)`.
pub(crate) fn landlock_add_path_rule(ruleset_fd: i32, attr: &PathBeneathAttr) -> i64 {
    // SAFETY: `attr` is a live, correctly laid out struct for the duration of the call.
    unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset_fd,
            LANDLOCK_RULE_PATH_BENEATH,
            attr as *const PathBeneathAttr,
            0u32,
        )
    }
}

/// `landlock_restrict_self(ruleset_fd, 0)`.
pub(crate) fn landlock_restrict_self(ruleset_fd: i32) -> i64 {
    // SAFETY: plain integer arguments.
    unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset_fd, 0u32) }
}

/// `prctl(option, arg2, 0, 0, 0)`.
pub(crate) fn prctl(option: i32, arg2: libc::c_ulong) -> Result<(), i32> {
    // SAFETY: plain integer arguments.
    let rc = unsafe { libc::prctl(option, arg2, 0 as libc::c_ulong, 0 as libc::c_ulong, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// `mount(src, target, fstype, flags, NULL)` with optional strings.
pub(crate) fn mount(
    src: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
) -> Result<(), i32> {
    let p = |s: Option<&CStr>| s.map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: all pointers are null or NUL-terminated strings alive for the call.
    let rc = unsafe { libc::mount(p(src), target.as_ptr(), p(fstype), flags, std::ptr::null()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// `mount(2)` with filesystem options (`data`, e.g. `mode=0000` for a tmpfs).
pub(crate) fn mount_with_data(
    src: &CStr,
    target: &CStr,
    fstype: &CStr,
    flags: libc::c_ulong,
    data: &CStr,
) -> Result<(), i32> {
    // SAFETY: all pointers are NUL-terminated strings alive for the call.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            data.as_ptr().cast(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

// The new mount API (Linux 5.2; `mount_setattr` 5.12), from `linux/mount.h`.
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;
const MOUNT_ATTR_NOEXEC: libc::c_uint = 0x8;
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

/// `struct mount_attr` (`MOUNT_ATTR_SIZE_VER0`).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Makes the source for masking denied files: a private tmpfs attached nowhere, holding one
/// empty mode-000 file `mask`, then made read-only. Returns the mount's fd (close-on-exec).
/// Opening a copy of `mask` fails: `EACCES` to read (capabilities are dropped), `EROFS` to
/// write; a `/dev/null` mask would read as empty and swallow writes.
pub(crate) fn detached_mask_mount() -> Result<i32, i32> {
    // SAFETY: raw syscalls with NUL-terminated literals and integer arguments; every fd made
    // here is closed on failure (or is close-on-exec).
    unsafe {
        let fs = libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) as i32;
        if fs < 0 {
            return Err(errno());
        }
        let null = std::ptr::null::<libc::c_char>();
        let created = libc::syscall(libc::SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, null, null, 0);
        if created != 0 {
            let e = errno();
            libc::close(fs);
            return Err(e);
        }
        let attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        let mnt = libc::syscall(libc::SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs) as i32;
        let e = errno();
        libc::close(fs);
        if mnt < 0 {
            return Err(e);
        }
        let fail = |mnt: i32| {
            let e = errno();
            libc::close(mnt);
            Err(e)
        };
        let flags = libc::O_CREAT | libc::O_EXCL | libc::O_RDONLY | libc::O_CLOEXEC;
        let file = libc::openat(mnt, c"mask".as_ptr(), flags, 0 as libc::c_uint);
        if file < 0 {
            return fail(mnt);
        }
        libc::close(file);
        let ro = MountAttr {
            attr_set: MOUNT_ATTR_RDONLY,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        let rc = libc::syscall(
            libc::SYS_mount_setattr,
            mnt,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &ro as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        );
        if rc != 0 {
            return fail(mnt);
        }
        Ok(mnt)
    }
}

/// Mounts a read-only copy of the mask file of [`detached_mask_mount`] over the file `target`.
pub(crate) fn attach_mask_file(mask_mnt: i32, target: &CStr) -> Result<(), i32> {
    // SAFETY: raw syscalls with NUL-terminated strings and fds owned here; the tree fd is
    // closed before returning.
    unsafe {
        let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
        let tree = libc::syscall(libc::SYS_open_tree, mask_mnt, c"mask".as_ptr(), flags) as i32;
        if tree < 0 {
            return Err(errno());
        }
        let rc = libc::syscall(
            libc::SYS_move_mount,
            tree,
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        );
        let e = errno();
        libc::close(tree);
        if rc == 0 {
            Ok(())
        } else {
            Err(e)
        }
    }
}

/// `open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | AT_RECURSIVE)`: a detached copy of the
/// mount tree at `path` (not following a final symlink), made read-only at its top when
/// `read_only` (submounts keep their own flags). Returns the tree's fd (close-on-exec).
pub(crate) fn clone_tree(path: &CStr, read_only: bool) -> Result<i32, i32> {
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as libc::c_uint
        | libc::AT_RECURSIVE as libc::c_uint
        | libc::AT_SYMLINK_NOFOLLOW as libc::c_uint;
    // SAFETY: raw syscalls with a NUL-terminated path and an fd owned here, closed on failure.
    unsafe {
        let tree = libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) as i32;
        if tree < 0 {
            return Err(errno());
        }
        if read_only {
            let ro = MountAttr {
                attr_set: MOUNT_ATTR_RDONLY,
                attr_clr: 0,
                propagation: 0,
                userns_fd: 0,
            };
            let rc = libc::syscall(
                libc::SYS_mount_setattr,
                tree,
                c"".as_ptr(),
                libc::AT_EMPTY_PATH,
                &ro as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            );
            if rc != 0 {
                let e = errno();
                libc::close(tree);
                return Err(e);
            }
        }
        Ok(tree)
    }
}

/// Attaches the detached tree `tree` at `target` (a final symlink is not followed) and
/// closes `tree`.
pub(crate) fn attach_tree(tree: i32, target: &CStr) -> Result<(), i32> {
    // SAFETY: raw syscalls with a NUL-terminated path and an fd owned here, closed here.
    unsafe {
        let rc = libc::syscall(
            libc::SYS_move_mount,
            tree,
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        );
        let e = errno();
        libc::close(tree);
        if rc == 0 {
            Ok(())
        } else {
            Err(e)
        }
    }
}

/// Binds the symbolic link at `path` itself (never its target) onto itself, read-only: a
/// mount point cannot be removed or renamed, so the link stays as it is.
pub(crate) fn hold_link(path: &CStr) -> Result<(), i32> {
    attach_tree(clone_tree(path, true)?, path)
}

/// `mkdir(path, mode)`; an existing entry is fine (a mount point made for a sibling).
pub(crate) fn mkdir(path: &CStr, mode: libc::mode_t) -> Result<(), i32> {
    // SAFETY: `path` is NUL-terminated.
    if unsafe { libc::mkdir(path.as_ptr(), mode) } == 0 || errno() == libc::EEXIST {
        Ok(())
    } else {
        Err(errno())
    }
}

/// Creates the empty mode-000 file `path` (a mount point for a file).
pub(crate) fn make_file(path: &CStr) -> Result<(), i32> {
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC;
    // SAFETY: `path` is NUL-terminated; the fd is closed at once.
    let fd = unsafe { libc::open(path.as_ptr(), flags, 0 as libc::c_uint) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: `fd` was just opened here.
    unsafe { libc::close(fd) };
    Ok(())
}

/// Writes `data` to the file `path` (open, write, close), for `/proc/self/uid_map` and friends.
pub(crate) fn write_file(path: &CStr, data: &[u8]) -> Result<(), i32> {
    // SAFETY: `path` is NUL-terminated; the fd is closed before returning.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(errno());
        }
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        let err = errno();
        libc::close(fd);
        if n == data.len() as isize {
            Ok(())
        } else {
            Err(err)
        }
    }
}

/// Creates an empty file at `path` (a bind-mount target); an existing one is kept.
pub(crate) fn create_file(path: &CStr) -> Result<(), i32> {
    // SAFETY: `path` is NUL-terminated; the fd is closed right away.
    unsafe {
        let fd = libc::open(
            path.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0o444 as libc::c_uint,
        );
        if fd < 0 {
            return Err(errno());
        }
        libc::close(fd);
    }
    Ok(())
}

/// `symlink(target, link)`.
pub(crate) fn symlink(target: &CStr, link: &CStr) -> Result<(), i32> {
    // SAFETY: both strings are NUL-terminated.
    if unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// `mkdir -p` for an absolute path, with a stack buffer (no allocation): paths longer than
/// the buffer fail with `ENAMETOOLONG`.
pub(crate) fn mkdir_all(path: &CStr) -> Result<(), i32> {
    let bytes = path.to_bytes();
    let mut buf = [0u8; 4096];
    if bytes.len() >= buf.len() {
        return Err(libc::ENAMETOOLONG);
    }
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'/' && i > 0 {
            buf[i] = 0;
            // SAFETY: buf holds a NUL-terminated prefix of `path`.
            mkdir(unsafe { CStr::from_ptr(buf.as_ptr().cast()) }, 0o755)?;
        }
        buf[i] = b;
    }
    buf[bytes.len()] = 0;
    // SAFETY: buf holds `path`, NUL-terminated.
    mkdir(unsafe { CStr::from_ptr(buf.as_ptr().cast()) }, 0o755)
}

/// Marks every fd above 2 close-on-exec (`close_range(3, ~0, CLOSE_RANGE_CLOEXEC)`), with an
/// `fcntl` loop for kernels before 5.11.
pub(crate) fn cloexec_from_3() -> Result<(), i32> {
    // SAFETY: plain integer arguments.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    // SAFETY: getrlimit fills a stack struct; fcntl on an unused fd number fails harmlessly.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur.min(1 << 20) as i32
        } else {
            4096
        };
        for fd in 3..max {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) != 0 {
                return Err(errno());
            }
        }
    }
    Ok(())
}

/// `prctl` options for capabilities (kernel ABI; not exported by `libc` for Linux).
const PR_CAPBSET_DROP: i32 = 24;
const PR_CAP_AMBIENT: i32 = 47;
const PR_CAP_AMBIENT_CLEAR_ALL: libc::c_ulong = 4;
/// `_LINUX_CAPABILITY_VERSION_3`.
const CAP_V3: u32 = 0x2008_0522;

/// Drops every capability for good: the bounding set (so `exec` grants none, even to uid 0),
/// the ambient set, then the effective, permitted and inheritable sets.
pub(crate) fn drop_all_capabilities() -> Result<(), i32> {
    for cap in 0..64 {
        // SAFETY: plain integer arguments.
        let rc = unsafe { libc::prctl(PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if rc != 0 {
            match errno() {
                libc::EINVAL => break, // past the last capability this kernel knows
                libc::EPERM => break,  // no CAP_SETPCAP: this process has no capabilities
                e => return Err(e),
            }
        }
    }
    // SAFETY: plain integer arguments; EINVAL on kernels without ambient capabilities.
    unsafe { libc::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) };
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: CAP_V3,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and data are live, correctly laid out v3 capability structs.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// Reads a `/proc` file whole. `std::fs::read_to_string` sizes its buffer from `stat`, which
/// is 0 for procfs, and then grows it from 32 bytes (one `read` per doubling); starting at
/// `capacity` reads a typical file in one call.
pub(crate) fn read_proc(path: &str, capacity: usize) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut buf = Vec::with_capacity(capacity);
    std::fs::File::open(path)?.read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Opens `path` `O_PATH` (close-on-exec); with `no_symlinks` (Landlock rules that grant more
/// than reading, bwrap's fd binds, a placeholder's parent), following no symbolic link on the
/// way (`openat2(RESOLVE_NO_SYMLINKS)`, always there since Landlock needs Linux 5.13).
/// Writable paths are canonical, so a link met now was swapped in after the policy was
/// resolved: a concurrent sandboxed command can rename directories in a writable root both
/// runs share (`/tmp`), and following the link would move the write grant onto any directory
/// the user owns. Read rules may name links (`/bin` on a merged `/usr`) and follow them. Returns the fd, or -1 with `errno` set (`ELOOP`).
/// One raw syscall on a stack struct, no allocation: safe between `fork` and `exec`.
pub(crate) fn open_no_symlinks(path: &CStr, no_symlinks: bool) -> libc::c_int {
    // SAFETY: open_how is plain data; zeroed is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    if no_symlinks {
        how.resolve = libc::RESOLVE_NO_SYMLINKS;
    }
    // SAFETY: openat2 with a NUL-terminated path and a live open_how of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    fd as libc::c_int
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    /// A rule path is opened only when no symbolic link lies on it: a directory swapped for a
    /// link after the policy was resolved must not move the grant onto the link's target.
    #[test]
    fn a_rule_path_through_a_symlink_is_not_opened() {
        let t = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(t.path()).unwrap();
        std::fs::create_dir(base.join("real")).unwrap();
        std::os::unix::fs::symlink(base.join("real"), base.join("link")).unwrap();
        let c = |p: &std::path::Path| CString::new(p.as_os_str().as_bytes()).unwrap();
        for through in [base.join("link"), base.join("link/.")] {
            let fd = open_no_symlinks(&c(&through), true);
            assert_eq!(fd, -1, "{} was opened", through.display());
            assert_eq!(errno(), libc::ELOOP);
        }
        // Read rules follow links as before.
        for (path, no_symlinks) in [(base.join("real"), true), (base.join("link"), false)] {
            let fd = open_no_symlinks(&c(&path), no_symlinks);
            assert!(fd >= 0, "{}", path.display());
            // SAFETY: closes the fd just opened.
            unsafe { libc::close(fd) };
        }
    }
}
