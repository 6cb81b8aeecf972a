//! The seccomp filter shared by both Linux backends: network syscalls that would reach past
//! the sandbox fail with `EPERM`, and so do the syscalls that bypass other layers
//! (`io_uring_*`, `ptrace`, `process_vm_*`) and the terminal ioctls that push input into the
//! caller's terminal (`TIOCSTI`, `TIOCLINUX`). Set-user-ID and set-group-ID mode bits are
//! refused wherever a syscall sets a mode ([`SET_ID_MODE`]): as root, a command could
//! otherwise leave a set-id executable in a writable root for any local user to run later.
//! `openat2` takes its mode in a struct the filter cannot read, so it fails with `ENOSYS`
//! and the C library falls back to `openat`.
//!
//! [`compile`] is a pure function of the policy; the result holds a readable summary and the
//! BPF program (see [`SeccompPlan::to_bytes`] for bubblewrap's `--seccomp FD`).

mod inet;

use crate::LinuxError;
use sandbox_core::{NetworkPolicy, ResolvedPolicy, UnixSockets};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use serde::Serialize;
use std::collections::BTreeMap;

pub use seccompiler::sock_filter;

/// Syscalls refused whatever the network policy: they sidestep the other layers. The kernel
/// keyrings are shared with the host (root's user keyring, the caller's session keyring), so
/// their syscalls would let a command read or plant keys outside the sandbox.
const ALWAYS_DENIED: [(&str, i64); 9] = [
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("add_key", libc::SYS_add_key),
    ("keyctl", libc::SYS_keyctl),
    ("request_key", libc::SYS_request_key),
];

/// `ioctl` requests refused whatever the policy: they type into the terminal, so a sandboxed
/// command could queue input for the caller's shell to run unsandboxed after it exits.
/// Compared on the low 32 bits only, as the tty layer does (a set high bit does not hide them).
/// The numbers are the generic ones, shared by x86_64 and aarch64 (`asm-generic/ioctls.h`).
const TERMINAL_INJECTION: [(&str, u64); 2] = [("TIOCSTI", 0x5412), ("TIOCLINUX", 0x541C)];

/// Syscalls that set a file's mode, with the argument index of the mode and, for the `open`
/// family, of the flags (the mode only counts with `O_CREAT` or `O_TMPFILE`). A call whose
/// mode has `S_ISUID` or `S_ISGID` fails with `EPERM`. The x86_64-only legacy calls have no
/// aarch64 counterpart (their libc wrappers use the `*at` ones there).
#[cfg(target_arch = "x86_64")]
const SET_ID_MODE: [(&str, i64, u8, Option<u8>); 10] = [
    ("chmod", libc::SYS_chmod, 1, None),
    ("fchmod", libc::SYS_fchmod, 1, None),
    ("fchmodat", libc::SYS_fchmodat, 2, None),
    ("fchmodat2", SYS_FCHMODAT2, 2, None),
    ("mkdir", libc::SYS_mkdir, 1, None),
    ("mkdirat", libc::SYS_mkdirat, 2, None),
    ("mknod", libc::SYS_mknod, 1, None),
    ("mknodat", libc::SYS_mknodat, 2, None),
    ("creat", libc::SYS_creat, 1, None),
    ("open", libc::SYS_open, 2, Some(1)),
];
#[cfg(not(target_arch = "x86_64"))]
const SET_ID_MODE: [(&str, i64, u8, Option<u8>); 5] = [
    ("fchmod", libc::SYS_fchmod, 1, None),
    ("fchmodat", libc::SYS_fchmodat, 2, None),
    ("fchmodat2", SYS_FCHMODAT2, 2, None),
    ("mkdirat", libc::SYS_mkdirat, 2, None),
    ("mknodat", libc::SYS_mknodat, 2, None),
];
/// `openat`: mode argument 3, flags argument 2 (both architectures).
const OPENAT: (&str, i64, u8, Option<u8>) = ("openat", libc::SYS_openat, 3, Some(2));

/// `fchmodat2` (Linux 6.6), the same number on every architecture.
const SYS_FCHMODAT2: i64 = 452;
/// `openat2` (Linux 5.6), the same number on every architecture.
const SYS_OPENAT2: u32 = 437;

/// The mode bits refused: set-user-ID, set-group-ID.
const SET_ID_BITS: [(&str, u64); 2] = [("S_ISUID", 0o4000), ("S_ISGID", 0o2000)];
/// Open flags under which the mode argument is used: `O_CREAT`, `__O_TMPFILE` (generic
/// values, shared by x86_64 and aarch64).
const CREATING_FLAGS: [u64; 2] = [0o100, 0o20000000];

/// When no mechanism can keep host unix sockets closed (the last rung of
/// [`crate::host::sockets`]), these fail outright (`socketpair` + `send`/`recv`/`sendmsg`
/// stay usable).
const UNIX_NONE_DENIED: [(&str, i64); 6] = [
    ("connect", libc::SYS_connect),
    ("bind", libc::SYS_bind),
    ("listen", libc::SYS_listen),
    ("accept", libc::SYS_accept),
    ("accept4", libc::SYS_accept4),
    ("sendmmsg", libc::SYS_sendmmsg),
];

/// The socket type bits of `socket`/`socketpair`'s type argument (the rest are
/// `SOCK_NONBLOCK`/`SOCK_CLOEXEC`), as the kernel's `SOCK_TYPE_MASK`.
const SOCK_TYPE_MASK: u64 = 0xf;

/// First syscall number of the x32 ABI on x86_64 (`__X32_SYSCALL_BIT`).
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// What the filter does, in words; part of every printed plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SeccompSummary {
    /// Architecture the filter accepts; any other kills the process.
    pub arch: String,
    /// The filter refuses x32 syscall numbers (x86_64 only).
    pub x32_refused: bool,
    /// Syscalls that always fail with EPERM.
    pub denied: Vec<String>,
    /// Syscalls that fail with EPERM when their arguments match, with the condition.
    pub denied_when: Vec<String>,
    /// What the filter cannot see, in words.
    pub limits: Vec<String>,
    /// Number of BPF instructions.
    pub instructions: usize,
}

/// A compiled filter: the summary plus the BPF program to install.
#[derive(Clone, Debug)]
pub struct SeccompPlan {
    pub summary: SeccompSummary,
    program: BpfProgram,
}

impl SeccompPlan {
    /// The BPF instructions, ready for `seccomp(SECCOMP_SET_MODE_FILTER)`.
    pub fn program(&self) -> &[sock_filter] {
        &self.program
    }

    /// The program as the raw `struct sock_filter` array (native endian, 8 bytes each), the
    /// format bubblewrap reads from `--seccomp FD`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.program.len() * 8);
        for ins in &self.program {
            out.extend_from_slice(&ins.code.to_ne_bytes());
            out.push(ins.jt);
            out.push(ins.jf);
            out.extend_from_slice(&ins.k.to_ne_bytes());
        }
        out
    }
}

impl Serialize for SeccompPlan {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.summary.serialize(s)
    }
}

fn host_arch() -> Result<(TargetArch, &'static str), LinuxError> {
    if cfg!(target_arch = "x86_64") {
        Ok((TargetArch::x86_64, "x86_64"))
    } else if cfg!(target_arch = "aarch64") {
        Ok((TargetArch::aarch64, "aarch64"))
    } else {
        Err(LinuxError::Platform(format!(
            "seccomp filters are built for x86_64 and aarch64 only, not {}",
            std::env::consts::ARCH
        )))
    }
}

fn cond(arg: u8, len: SeccompCmpArgLen, op: SeccompCmpOp, value: u64) -> SeccompCondition {
    SeccompCondition::new(arg, len, op, value).expect("argument index below 6")
}

/// Builds the filter for `policy` on this host's architecture.
pub fn compile(policy: &ResolvedPolicy) -> Result<SeccompPlan, LinuxError> {
    compile_with(policy, false)
}

/// `socketpair` of type `SOCK_DGRAM`: its `sendmsg()` with `msg_name` reaches any host
/// datagram socket (`/dev/log`, a daemon's socket), and the filter cannot read `msg_name`, so
/// where unix sockets are refused, datagram pairs are too. Stream and seqpacket pairs ignore
/// or refuse a destination.
fn dgram_socketpair() -> Result<SeccompRule, LinuxError> {
    SeccompRule::new(vec![cond(
        1,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::MaskedEq(SOCK_TYPE_MASK),
        libc::SOCK_DGRAM as u64,
    )])
    .map_err(|e| LinuxError::Seccomp(e.to_string()))
}

/// [`compile`]; with `refuse_unix_sockets`, `socket(AF_UNIX)` and the calls that name a
/// peer fail too (only `socketpair` stays): the fallback where host sockets cannot be
/// closed otherwise.
pub fn compile_with(
    policy: &ResolvedPolicy,
    refuse_unix_sockets: bool,
) -> Result<SeccompPlan, LinuxError> {
    let (arch, arch_name) = host_arch()?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let mut denied = Vec::new();
    let mut denied_when = Vec::new();
    let mut limits = Vec::new();

    for (name, nr) in ALWAYS_DENIED {
        rules.insert(nr, Vec::new());
        denied.push(name.to_string());
    }

    let mut ioctl_rules = Vec::new();
    for (name, request) in TERMINAL_INJECTION {
        let rule = SeccompRule::new(vec![cond(
            1,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            request,
        )])
        .map_err(|e| LinuxError::Seccomp(e.to_string()))?;
        ioctl_rules.push(rule);
        denied_when.push(format!("ioctl: request {name} (types into the terminal)"));
    }
    rules.insert(libc::SYS_ioctl, ioctl_rules);

    for (name, nr, mode_arg, flags_arg) in SET_ID_MODE.into_iter().chain([OPENAT]) {
        rules.insert(nr, set_id_rules(mode_arg, flags_arg)?);
        denied_when.push(match flags_arg {
            None => format!("{name}: mode has S_ISUID or S_ISGID"),
            Some(_) => format!("{name}: creating with S_ISUID or S_ISGID in the mode"),
        });
    }
    limits.push(
        "openat2 fails with ENOSYS (its mode is in memory the filter cannot read; the C \
         library falls back to openat)"
            .into(),
    );
    limits.push(
        "setxattr is not filtered (the attribute name is in memory the filter cannot read): \
         file capabilities (security.capability) are kept out by the dropped capabilities"
            .into(),
    );

    if let NetworkPolicy::Loopback | NetworkPolicy::Proxy { .. } = policy.network {
        let (socket_rules, why) = crate::seccomp::inet::socket_rules(refuse_unix_sockets)?;
        rules.insert(libc::SYS_socket, socket_rules);
        denied_when.extend(why);
        limits.push(
            "inet sockets are allowed: only the private loopback of the command's own network namespace exists"
                .into(),
        );
    } else if policy.network != NetworkPolicy::Full {
        if refuse_unix_sockets {
            rules.insert(libc::SYS_socket, Vec::new());
            denied.push("socket".into());
            for (name, nr) in UNIX_NONE_DENIED {
                rules.insert(nr, Vec::new());
                denied.push(name.to_string());
            }
            // send() is sendto() with a NULL destination: only an explicit address is refused.
            let rule =
                SeccompRule::new(vec![cond(4, SeccompCmpArgLen::Qword, SeccompCmpOp::Ne, 0)])
                    .map_err(|e| LinuxError::Seccomp(e.to_string()))?;
            rules.insert(libc::SYS_sendto, vec![rule]);
            denied_when.push("sendto: destination address is not NULL".into());
            rules.insert(libc::SYS_socketpair, vec![dgram_socketpair()?]);
            denied_when.push("socketpair: type is SOCK_DGRAM".into());
            limits.push(
                "sendmsg is allowed (fd passing over socketpair); its destination address \
                 lives in user memory the filter cannot read, so datagram socketpairs are refused"
                    .into(),
            );
        } else {
            // Only unix sockets can be made; which host sockets they reach is the business
            // of the unix-socket mechanism (crate::host::sockets), not of this filter.
            let rule = SeccompRule::new(vec![cond(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Ne,
                libc::AF_UNIX as u64,
            )])
            .map_err(|e| LinuxError::Seccomp(e.to_string()))?;
            rules.insert(libc::SYS_socket, vec![rule]);
            denied_when.push("socket: domain is not AF_UNIX".into());
            if policy.unix_sockets == UnixSockets::All {
                limits.push(
                    "unix sockets are allowed (unix_sockets = all): any host socket the user \
                     may connect to stays reachable"
                        .into(),
                );
            }
        }
    } else if refuse_unix_sockets {
        let rule = SeccompRule::new(vec![cond(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            libc::AF_UNIX as u64,
        )])
        .map_err(|e| LinuxError::Seccomp(e.to_string()))?;
        rules.insert(libc::SYS_socket, vec![rule]);
        denied_when.push("socket: domain is AF_UNIX".into());
        rules.insert(libc::SYS_socketpair, vec![dgram_socketpair()?]);
        denied_when.push("socketpair: type is SOCK_DGRAM".into());
    }

    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| LinuxError::Seccomp(e.to_string()))?;
    let mut program: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| LinuxError::Seccomp(e.to_string()))?;
    let x32_refused = refuse_x32(&mut program);
    refuse_openat2(&mut program);
    denied.sort();
    Ok(SeccompPlan {
        summary: SeccompSummary {
            arch: arch_name.into(),
            x32_refused,
            denied,
            denied_when,
            limits,
            instructions: program.len(),
        },
        program,
    })
}

/// The rules (any one matches) for a syscall whose argument `mode_arg` is a file mode: a set
/// `S_ISUID` or `S_ISGID` bit, and for the `open` family also a creating flag in `flags_arg`.
/// Masked comparisons of the low 32 bits, as the kernel reads a mode (`umode_t`).
fn set_id_rules(mode_arg: u8, flags_arg: Option<u8>) -> Result<Vec<SeccompRule>, LinuxError> {
    let masked = |arg: u8, bit: u64| {
        cond(
            arg,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(bit),
            bit,
        )
    };
    let mut rules = Vec::new();
    for (_, bit) in SET_ID_BITS {
        let conds: Vec<Vec<SeccompCondition>> = match flags_arg {
            None => vec![vec![masked(mode_arg, bit)]],
            Some(f) => CREATING_FLAGS
                .iter()
                .map(|&flag| vec![masked(f, flag), masked(mode_arg, bit)])
                .collect(),
        };
        for c in conds {
            rules.push(SeccompRule::new(c).map_err(|e| LinuxError::Seccomp(e.to_string()))?);
        }
    }
    Ok(rules)
}

/// Inserts, right after seccompiler's architecture check (3 instructions), a check that makes
/// `openat2` fail with `ENOSYS`, so the C library falls back to `openat`, whose mode the
/// filter can see. Like [`refuse_x32`], the rest of the program stays valid.
fn refuse_openat2(program: &mut BpfProgram) {
    const BPF_JEQ_K: u16 = 0x15;
    insert_nr_guard(
        program,
        BPF_JEQ_K,
        SYS_OPENAT2,
        libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
    );
}

/// Inserts, right after seccompiler's architecture check (3 instructions), a check that
/// refuses x32 syscall numbers with EPERM. The rest of the program reloads the syscall
/// number itself and uses relative jumps only, so the insertion keeps it valid.
#[cfg(target_arch = "x86_64")]
fn refuse_x32(program: &mut BpfProgram) -> bool {
    const BPF_JGE_K: u16 = 0x35;
    insert_nr_guard(
        program,
        BPF_JGE_K,
        X32_SYSCALL_BIT,
        libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
    );
    true
}

/// Inserts after the architecture check: load the syscall number; if `compare` with `k`
/// holds, return `ret`; else fall through to the rest of the program (relative jumps only,
/// so it stays valid).
fn insert_nr_guard(program: &mut BpfProgram, compare: u16, k: u32, ret: u32) {
    const BPF_LD_W_ABS: u16 = 0x20;
    const BPF_RET_K: u16 = 0x06;
    let guard = [
        sock_filter {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0, // offsetof(struct seccomp_data, nr)
        },
        sock_filter {
            code: compare,
            jt: 0,
            jf: 1,
            k,
        },
        sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: ret,
        },
    ];
    let at = 3.min(program.len());
    program.splice(at..at, guard);
}

#[cfg(not(target_arch = "x86_64"))]
fn refuse_x32(_program: &mut BpfProgram) -> bool {
    false
}

/// Installs `program` on the calling thread. Only raw syscalls: safe between `fork` and
/// `exec`. `PR_SET_NO_NEW_PRIVS` must already be set.
pub(crate) fn install_raw(program: &[sock_filter]) -> Result<(), i32> {
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const sock_filter,
    }
    let prog = SockFprog {
        len: program.len() as u16,
        filter: program.as_ptr(),
    };
    // SAFETY: `prog` points at a live, correctly laid out sock_filter array for the duration
    // of the call; the kernel copies it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0u32,
            &prog as *const SockFprog,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(crate::sys::errno())
    }
}

#[cfg(test)]
mod tests {
    /// The request numbers refused are the C library's.
    #[test]
    fn set_id_numbers_match_libc() {
        assert_eq!(super::SYS_OPENAT2 as i64, libc::SYS_openat2);
        assert_eq!(super::CREATING_FLAGS[0], libc::O_CREAT as u64);
        assert_eq!(
            super::SET_ID_BITS.map(|(_, b)| b),
            [libc::S_ISUID as u64, libc::S_ISGID as u64]
        );
        #[cfg(target_arch = "x86_64")]
        assert_eq!(super::SYS_FCHMODAT2, libc::SYS_fchmodat2);
        // O_TMPFILE includes O_DIRECTORY; the kernel tests the __O_TMPFILE bit alone.
        assert_eq!(
            super::CREATING_FLAGS[1] | libc::O_DIRECTORY as u64,
            libc::O_TMPFILE as u64
        );
    }

    #[test]
    fn terminal_injection_numbers_match_libc() {
        let ours = super::TERMINAL_INJECTION.map(|(_, v)| v);
        assert_eq!(ours, [libc::TIOCSTI, libc::TIOCLINUX]);
    }
}
