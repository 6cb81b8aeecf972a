//! The seccomp `socket()` rule of the `loopback` and `proxy` network modes.
//!
//! The command runs in a network namespace of its own with only a loopback interface, so an
//! `AF_INET`/`AF_INET6` stream or datagram socket can reach nothing but that private loopback
//! (and, in `proxy` mode, the launcher's proxy listener inside it). Every other family
//! (netlink, packet, vsock, …) and raw/packet-type inet sockets stay refused with `EPERM`;
//! `connect`, `sendto` and `sendmsg` are not filtered, so connected sockets work normally.

use crate::LinuxError;
use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};

/// Socket types (the low 4 bits of `type`) refused even for inet families.
const RAW_TYPES: [(&str, u64); 2] = [
    ("SOCK_RAW", libc::SOCK_RAW as u64),
    // SOCK_PACKET (10): libc marks the constant deprecated, the kernel still accepts it.
    ("SOCK_PACKET", 10),
];

fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> SeccompCondition {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value).expect("argument index below 6")
}

fn rule(conds: Vec<SeccompCondition>) -> Result<SeccompRule, LinuxError> {
    SeccompRule::new(conds).map_err(|e| LinuxError::Seccomp(e.to_string()))
}

/// The rules that make `socket()` fail: any of them matching refuses the call. Also gives the
/// summary lines for the printed plan.
pub(crate) fn socket_rules(
    refuse_unix: bool,
) -> Result<(Vec<SeccompRule>, Vec<String>), LinuxError> {
    let (inet, inet6, unix_family) = (
        libc::AF_INET as u64,
        libc::AF_INET6 as u64,
        libc::AF_UNIX as u64,
    );
    let mut rules = vec![rule(vec![
        cond(0, SeccompCmpOp::Ne, unix_family),
        cond(0, SeccompCmpOp::Ne, inet),
        cond(0, SeccompCmpOp::Ne, inet6),
    ])?];
    let mut why = vec!["socket: domain is not AF_UNIX, AF_INET or AF_INET6".to_string()];
    for family in [inet, inet6] {
        for (_, ty) in RAW_TYPES {
            rules.push(rule(vec![
                cond(0, SeccompCmpOp::Eq, family),
                cond(1, SeccompCmpOp::MaskedEq(0xf), ty),
            ])?);
        }
    }
    why.push(format!(
        "socket: AF_INET/AF_INET6 of type {}",
        RAW_TYPES.map(|(n, _)| n).join(" or ")
    ));
    if refuse_unix {
        rules.push(rule(vec![cond(0, SeccompCmpOp::Eq, unix_family)])?);
        why.push("socket: domain is AF_UNIX (socketpair stays usable)".into());
    }
    Ok((rules, why))
}
