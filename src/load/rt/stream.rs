//! A TCP connection on the thread's loop: registered once, edge-triggered,
//! read and written with plain system calls.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::task::Poll;

use mio::{Interest, Token};
use nix::libc;

use super::{inner, Inner, READ, WRITE};

/// A TCP connection registered with the thread's loop.
pub struct Stream {
    sock: mio::net::TcpStream,
    slot: u32,
    inner: Rc<Inner>,
}

impl Stream {
    /// Connect to `addr` (with `TCP_NODELAY`).
    pub async fn connect(addr: SocketAddr) -> io::Result<Stream> {
        let inner = inner();
        let mut sock = mio::net::TcpStream::connect(addr)?;
        let slot = inner.new_slot();
        let registered = inner.registry.register(
            &mut sock,
            Token(slot as usize),
            Interest::READABLE | Interest::WRITABLE,
        );
        let stream = Stream { sock, slot, inner };
        registered?;
        // Connected once writable with a peer; a spurious readiness (a
        // slot's earlier socket) shows neither a peer nor an error.
        poll_fn(|_| {
            if !stream.inner.ready(slot, WRITE) {
                stream.inner.wait(slot, WRITE);
                return Poll::Pending;
            }
            if let Some(e) = stream.sock.take_error()? {
                return Poll::Ready(Err(e));
            }
            match stream.sock.peer_addr() {
                Ok(_) => Poll::Ready(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    stream.inner.wait(slot, WRITE);
                    Poll::Pending
                }
                Err(e) => Poll::Ready(Err(e)),
            }
        })
        .await?;
        let _ = stream.sock.set_nodelay(true);
        Ok(stream)
    }

    /// Read into `buf`'s spare room without waiting: `None` when nothing
    /// can be read now (no system call unless an event said there may be).
    pub fn try_read(&self, buf: &mut Vec<u8>) -> Option<io::Result<usize>> {
        if !self.inner.ready(self.slot, READ) {
            return None;
        }
        match self.recv(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.inner.wait(self.slot, READ);
                None
            }
            other => Some(other),
        }
    }

    /// Read into `buf`'s spare room (it must have some); `Ok(0)` is the end.
    pub async fn read(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        poll_fn(|_| {
            if !self.inner.spend() {
                return Poll::Pending;
            }
            if let Some(done) = self.try_read(buf) {
                return Poll::Ready(done);
            }
            self.inner.wait(self.slot, READ);
            Poll::Pending
        })
        .await
    }

    /// Write all of `bytes`.
    pub async fn write_all(&self, mut bytes: &[u8]) -> io::Result<()> {
        poll_fn(|_| loop {
            if bytes.is_empty() {
                return Poll::Ready(Ok(()));
            }
            if !self.inner.spend() {
                return Poll::Pending;
            }
            if !self.inner.ready(self.slot, WRITE) {
                self.inner.wait(self.slot, WRITE);
                return Poll::Pending;
            }
            match self.send(bytes) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.inner.wait(self.slot, WRITE);
                    return Poll::Pending;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        })
        .await
    }

    /// One `recvfrom` into the spare room; a short read clears the
    /// readiness (the socket was drained: the next bytes raise an event).
    fn recv(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let spare: &mut [MaybeUninit<u8>] = buf.spare_capacity_mut();
        let room = spare.len();
        // SAFETY: the kernel writes at most `room` bytes into the spare
        // capacity, and `set_len` covers only the bytes it wrote.
        let n = unsafe {
            libc::syscall(
                libc::SYS_recvfrom,
                self.sock.as_raw_fd(),
                spare.as_mut_ptr(),
                room,
                0,
                std::ptr::null_mut::<libc::sockaddr>(),
                std::ptr::null_mut::<libc::socklen_t>(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        // SAFETY: see above.
        unsafe { buf.set_len(buf.len() + n) };
        if n < room {
            self.inner.clear(self.slot, READ);
        }
        Ok(n)
    }

    fn send(&self, bytes: &[u8]) -> io::Result<usize> {
        // SAFETY: a plain `sendto` of a live slice on our own socket.
        let n = unsafe {
            libc::syscall(
                libc::SYS_sendto,
                self.sock.as_raw_fd(),
                bytes.as_ptr(),
                bytes.len(),
                libc::MSG_NOSIGNAL,
                std::ptr::null::<libc::sockaddr>(),
                0,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Closing the socket takes it out of the epoll too.
        let _ = self.inner.registry.deregister(&mut self.sock);
        self.inner.free_slot(self.slot);
    }
}
