//! Relaying an admitted tunnel, or a forwarded response body, without copying its bytes
//! through this process (Linux): `splice(2)` moves them from one socket into a pipe and from
//! the pipe into the other socket inside the kernel, one pipe per direction.
//!
//! Only tunnels that have passed every check (domain rules, dial-time address checks, the SNI
//! check on TLS ports) get here, and response bodies of requests that passed them; from then
//! on the proxy looks at no byte of the stream, so nothing is lost by not reading it. What it saves is the copy into a user-space buffer and
//! back, per byte and per direction, which on a loopback download is a large share of the
//! proxy's CPU time.
//!
//! Semantics follow `tokio::io::copy_bidirectional`: when one side ends its stream, the other
//! side's write half is shut down and the opposite direction goes on until it ends too; an
//! error in either direction ends both.

use nix::fcntl::{fcntl, splice, FcntlArg, OFlag, SpliceFFlags};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Pipe size asked for per direction (the kernel may grant less: it is only a hint).
const PIPE_SIZE: i32 = 1 << 20;

/// Relays between `a` and `b` until both directions have ended (or one failed).
pub async fn relay(a: &TcpStream, b: &TcpStream) -> io::Result<()> {
    let ab = Pipe::new()?;
    let ba = Pipe::new()?;
    tokio::try_join!(one_way(a, b, &ab), one_way(b, a, &ba))?;
    Ok(())
}

/// A pipe whose two ends never block.
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    /// Bytes asked for per fill.
    size: usize,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        let size = fcntl(&write, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE))
            .or_else(|_| fcntl(&write, FcntlArg::F_GETPIPE_SZ))
            .map(|n| n.max(4096) as usize)
            .unwrap_or(64 * 1024);
        Ok(Pipe { read, write, size })
    }
}

/// `from` → `to` through `pipe` until `from` ends, then shuts down `to`'s write half.
async fn one_way(from: &TcpStream, to: &TcpStream, pipe: &Pipe) -> io::Result<()> {
    move_bytes(from, to, pipe, u64::MAX).await?;
    // End of stream: pass it on, as copy_bidirectional does.
    shutdown_write(to);
    Ok(())
}

/// Moves exactly `len` bytes from `from` to `to` (fewer only when `from` ends first; the
/// count moved is returned), never reading past them: what follows on `from` stays there.
/// A response body of known length is relayed this way (the HTTP forwarding in
/// `http_relay`); `u64::MAX` means "until `from` ends".
pub async fn copy(from: &TcpStream, to: &TcpStream, len: u64) -> io::Result<u64> {
    let pipe = Pipe::new()?;
    move_bytes(from, to, &pipe, len).await
}

/// `from` → `to` through `pipe`, at most `len` bytes. The pipe is filled only when empty, so a
/// fill that would block means `from` has nothing to read (never a full pipe), and readiness
/// is cleared only then.
async fn move_bytes(from: &TcpStream, to: &TcpStream, pipe: &Pipe, len: u64) -> io::Result<u64> {
    let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK;
    let mut moved = 0u64;
    while moved < len {
        let want = (len - moved).min(pipe.size as u64) as usize;
        from.readable().await?;
        let filled = match from.try_io(Interest::READABLE, || {
            splice(from.as_fd(), None, pipe.write.as_fd(), None, want, flags)
                .map_err(io::Error::from)
        }) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        if filled == 0 {
            return Ok(moved);
        }
        let mut left = filled;
        while left > 0 {
            to.writable().await?;
            match to.try_io(Interest::WRITABLE, || {
                splice(pipe.read.as_fd(), None, to.as_fd(), None, left, flags)
                    .map_err(io::Error::from)
            }) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => left -= n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        moved += filled as u64;
    }
    Ok(moved)
}

/// Shuts down the write half of `s` (tokio offers this only through `&mut` and
/// `AsyncWriteExt::shutdown`). A peer already gone has nothing to be told.
fn shutdown_write(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let _ = nix::sys::socket::shutdown(s.as_raw_fd(), nix::sys::socket::Shutdown::Write);
}
