//! The Landlock backend's private network (`loopback` and `proxy` modes): the child leaves the
//! host's network namespace for a new one, brings its loopback up, and in `proxy` mode makes
//! the listener of the launcher's egress proxy there (`127.0.0.1:`[`PROXY_PORT`]) and passes
//! it to the launcher over a socketpair before `exec`. The launcher serves the proxy on it; it
//! is the only way out of the namespace.
//!
//! [`PrivateNet::enter`] runs between `fork` and `exec` and makes raw syscalls only.

pub mod listener;

use serde::Serialize;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The port the proxy listens on inside the command's namespace (the bwrap backend's too;
/// `sandbox_egress::NAMESPACE_PORT` is the same number).
pub const PROXY_PORT: u16 = 3128;

/// What the plan asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrivateNetwork {
    /// `Some(port)` in proxy mode: a listener for the launcher is made there.
    pub proxy_port: Option<u16>,
}

/// Steps of [`PrivateNet::enter`], for error reports.
pub(crate) const STEPS: [&str; 4] = [
    "unshare network namespace",
    "bring loopback up",
    "make the proxy listener",
    "pass the proxy listener",
];

/// Prepared before `fork`: the socketpair for the listener.
#[derive(Debug)]
pub(crate) struct PrivateNet {
    proxy: Option<(u16, OwnedFd, OwnedFd)>,
}

impl PrivateNet {
    pub fn prepare(plan: &PrivateNetwork) -> io::Result<PrivateNet> {
        let proxy = match plan.proxy_port {
            None => None,
            Some(port) => {
                let mut pair = [0 as RawFd; 2];
                // SAFETY: socketpair writes two fds into the local array.
                if unsafe {
                    libc::socketpair(
                        libc::AF_UNIX,
                        libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                        0,
                        pair.as_mut_ptr(),
                    )
                } != 0
                {
                    return Err(io::Error::last_os_error());
                }
                // SAFETY: both fds were just created and are owned here.
                let (a, b) =
                    unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };
                Some((port, a, b))
            }
        };
        Ok(PrivateNet { proxy })
    }

    /// In the child: new network namespace, loopback up, listener made and sent.
    pub fn enter(&self) -> Result<(), (&'static str, i32)> {
        let err = |i: usize| (STEPS[i], crate::sys::errno());
        // SAFETY: plain integer argument.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(err(0));
        }
        // SAFETY: raw syscalls on a socket made and closed here.
        unsafe {
            let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            if s < 0 {
                return Err(err(1));
            }
            let mut req: libc::ifreq = std::mem::zeroed();
            for (d, c) in req.ifr_name.iter_mut().zip(b"lo\0") {
                *d = *c as libc::c_char;
            }
            let ok = libc::ioctl(s, libc::SIOCGIFFLAGS as _, &mut req) == 0 && {
                req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
                libc::ioctl(s, libc::SIOCSIFFLAGS as _, &req) == 0
            };
            let e = err(1);
            libc::close(s);
            if !ok {
                return Err(e);
            }
        }
        let Some((port, _, theirs)) = &self.proxy else {
            return Ok(());
        };
        // SAFETY: raw socket calls on a stack sockaddr; the listener is closed after sending.
        unsafe {
            let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            if s < 0 {
                return Err(err(2));
            }
            let addr = listener::loopback_addr(*port);
            if libc::bind(
                s,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ) != 0
                || libc::listen(s, 128) != 0
            {
                let e = err(2);
                libc::close(s);
                return Err(e);
            }
            let sent = crate::netns::listener::send_fd(theirs.as_raw_fd(), s);
            let e = err(3);
            libc::close(s);
            if !sent {
                return Err(e);
            }
        }
        Ok(())
    }

    /// In the launcher, after the child was spawned: the listener it sent, if any.
    pub fn take_listener(&self) -> Option<TcpListener> {
        let (_, ours, _) = self.proxy.as_ref()?;
        crate::netns::listener::recv_fd_nonblocking(ours.as_raw_fd()).map(TcpListener::from)
    }
}
