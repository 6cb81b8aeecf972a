//! A TCP listener made inside another process's network namespace and held by this process:
//! how the launcher's egress proxy becomes the only way out of a sandbox that has nothing but
//! a private loopback.
//!
//! A short-lived child (forked, so it is single-threaded as `setns` into a user namespace
//! requires) enters the user namespace that owns the target network namespace (when it is not
//! this process's own), then the network namespace, binds `127.0.0.1:PORT` there with
//! `IP_FREEBIND` (the sandbox may not have brought `lo` up yet), listens, and passes the socket
//! back over a socketpair. Between `fork` and `_exit` the child makes raw syscalls only.

use std::fs::File;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;

/// `NS_GET_USERNS` (`_IO(0xb7, 0x1)`): the user namespace owning a namespace.
const NS_GET_USERNS: libc::c_ulong = 0xb701;

/// Steps of the child, named in errors.
const STEPS: [&str; 5] = [
    "entering the sandbox's user namespace",
    "entering the sandbox's network namespace",
    "creating the socket",
    "binding 127.0.0.1 in the sandbox's network namespace",
    "listening",
];

fn last_err(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Listens on `127.0.0.1:port` inside the network namespace of process `pid`.
pub fn listen_in_netns_of(pid: i32, port: u16) -> io::Result<TcpListener> {
    let net = File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| io::Error::new(e.kind(), format!("/proc/{pid}/ns/net: {e}")))?;
    // SAFETY: NS_GET_USERNS on a namespace fd returns a new fd or -1; no memory is passed.
    let owner = unsafe { libc::ioctl(net.as_raw_fd(), NS_GET_USERNS as _) };
    if owner < 0 {
        return Err(last_err(
            "finding the owner of the sandbox's network namespace",
        ));
    }
    // SAFETY: `owner` was just returned by the kernel and is owned by nobody else.
    let owner = unsafe { OwnedFd::from_raw_fd(owner) };
    let own = std::fs::metadata("/proc/self/ns/user")?;
    let theirs = File::from(owner.try_clone()?).metadata()?;
    let enter_user = (own.dev(), own.ino()) != (theirs.dev(), theirs.ino());

    let mut pair = [0 as RawFd; 2];
    // SAFETY: socketpair writes two fds into the local array.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            pair.as_mut_ptr(),
        )
    } != 0
    {
        return Err(last_err("socketpair"));
    }
    // SAFETY: both fds were just created and are owned here.
    let (ours, theirs_end) =
        unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };

    // SAFETY: the child runs only async-signal-safe raw syscalls and leaves with _exit.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(last_err("fork"));
    }
    if child == 0 {
        // SAFETY: raw syscalls on fds this process holds; never returns.
        unsafe {
            child_main(
                enter_user.then_some(owner.as_raw_fd()),
                net.as_raw_fd(),
                port,
                theirs_end.as_raw_fd(),
            )
        }
    }
    drop(theirs_end);
    let got = recv_fd(ours.as_raw_fd());
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    unsafe { libc::waitpid(child, &mut status, 0) };
    match got? {
        Ok(fd) => Ok(TcpListener::from(fd)),
        Err((step, errno)) => {
            let what = STEPS.get(step as usize).copied().unwrap_or("setting up");
            let e = io::Error::from_raw_os_error(errno);
            Err(io::Error::new(e.kind(), format!("{what}: {e}")))
        }
    }
}

/// The forked child: enter, listen, send the socket (or the failed step and errno), exit.
///
/// # Safety
/// Only to be called in a freshly forked child; it never returns.
unsafe fn child_main(user: Option<RawFd>, net: RawFd, port: u16, out: RawFd) -> ! {
    let fail = |step: u8| -> ! {
        let errno = *libc::__errno_location();
        let mut msg = [0u8; 5];
        msg[0] = step;
        msg[1..].copy_from_slice(&errno.to_le_bytes());
        libc::write(out, msg.as_ptr().cast(), msg.len());
        libc::_exit(1)
    };
    if let Some(u) = user {
        if libc::setns(u, libc::CLONE_NEWUSER) != 0 {
            fail(0);
        }
    }
    if libc::setns(net, libc::CLONE_NEWNET) != 0 {
        fail(1);
    }
    let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
    if s < 0 {
        fail(2);
    }
    let one: libc::c_int = 1;
    libc::setsockopt(
        s,
        libc::SOL_IP,
        libc::IP_FREEBIND,
        (&one as *const libc::c_int).cast(),
        std::mem::size_of::<libc::c_int>() as libc::socklen_t,
    );
    let addr = loopback_addr(port);
    if libc::bind(
        s,
        (&addr as *const libc::sockaddr_in).cast(),
        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
    ) != 0
    {
        fail(3);
    }
    if libc::listen(s, 128) != 0 {
        fail(4);
    }
    if !send_fd(out, s) {
        libc::_exit(1);
    }
    libc::_exit(0)
}

/// Sends `fd` with a one-byte payload over the unix socket `sock`; true when sent. Raw
/// syscalls only (used between `fork` and `exec`).
///
/// # Safety
/// `sock` and `fd` must be open descriptors.
pub(crate) unsafe fn send_fd(sock: RawFd, fd: RawFd) -> bool {
    let mut byte = [0xffu8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut space = [0u64; 8]; // aligned room for one SCM_RIGHTS message
    let mut msg: libc::msghdr = std::mem::zeroed();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.as_mut_ptr().cast();
    msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as _;
    let c = libc::CMSG_FIRSTHDR(&msg);
    (*c).cmsg_level = libc::SOL_SOCKET;
    (*c).cmsg_type = libc::SCM_RIGHTS;
    (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
    std::ptr::copy_nonoverlapping(
        (&fd as *const RawFd).cast::<u8>(),
        libc::CMSG_DATA(c),
        std::mem::size_of::<RawFd>(),
    );
    libc::sendmsg(sock, &msg, 0) == 1
}

/// Receives an fd sent by [`send_fd`] if one is waiting (never blocks).
pub(crate) fn recv_fd_nonblocking(sock: RawFd) -> Option<OwnedFd> {
    match recv_fd_flags(sock, libc::MSG_DONTWAIT) {
        Ok(Ok(fd)) => Some(fd),
        _ => None,
    }
}

/// Receives what the child sent: the socket, or the step that failed and its errno.
fn recv_fd(sock: RawFd) -> io::Result<Result<OwnedFd, (u8, i32)>> {
    recv_fd_flags(sock, 0)
}

fn recv_fd_flags(sock: RawFd, flags: libc::c_int) -> io::Result<Result<OwnedFd, (u8, i32)>> {
    let mut buf = [0u8; 5];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut space = [0u64; 8];
    // SAFETY: a zeroed msghdr is valid; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&space) as _;
    // SAFETY: recvmsg fills the buffers described by `msg`.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC | flags) };
    if n < 0 {
        return Err(last_err("receiving the listener"));
    }
    if n == 5 && buf[0] != 0xff {
        let errno = i32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]);
        return Ok(Err((buf[0], errno)));
    }
    // SAFETY: the control buffer was filled by recvmsg; CMSG_* walk it within its length.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if n == 1
            && !c.is_null()
            && (*c).cmsg_level == libc::SOL_SOCKET
            && (*c).cmsg_type == libc::SCM_RIGHTS
        {
            let mut fd: RawFd = -1;
            std::ptr::copy_nonoverlapping(
                libc::CMSG_DATA(c),
                (&mut fd as *mut RawFd).cast::<u8>(),
                std::mem::size_of::<RawFd>(),
            );
            if fd >= 0 {
                return Ok(Ok(OwnedFd::from_raw_fd(fd)));
            }
        }
    }
    Err(io::Error::other(
        "the namespace helper exited without passing a listener",
    ))
}

/// `127.0.0.1:port` as the kernel takes it (no allocation: also used between fork and exec).
pub(crate) fn loopback_addr(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
        },
        sin_zero: [0; 8],
    }
}

#[cfg(test)]
mod tests {
    /// In this process's own namespace (no user namespace to enter) the helper still works:
    /// the listener it passes back accepts connections.
    #[test]
    fn listens_in_own_namespace() {
        use std::io::{Read, Write};
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            // setns into one's own network namespace needs CAP_SYS_ADMIN; the launcher
            // enters only the command's user-namespaced one, which the e2e tests cover.
            eprintln!("notice: not root: skipping listens_in_own_namespace");
            return;
        }
        // Port 0 lets the kernel choose, so parallel tests cannot collide.
        let l = super::listen_in_netns_of(std::process::id() as i32, 0).unwrap();
        let port = l.local_addr().unwrap().port();
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut s, _) = l.accept().unwrap();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"x");
    }
}
