//! Batched UDP: many datagrams per system call (`recvmmsg`/`sendmmsg`), so
//! a media socket carrying hundreds of calls wakes once per batch, not once
//! per packet.
//!
//! Invariants: receives go through tokio's readiness (`try_io`), so a
//! drained socket is only read again after the kernel says more arrived;
//! sends never wait: a datagram the kernel's buffer cannot take now is
//! dropped and counted by the caller (a voice packet late is a packet
//! lost, and the media loop must never stall on one peer).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{recvmmsg, sendmmsg, MsgFlags, MultiHeaders, SockaddrLike, SockaddrStorage};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams per system call.
pub const BATCH: usize = 32;

/// The largest datagram read whole: media packets stay under a path MTU.
pub const MAX_DATAGRAM: usize = 2048;

/// Buffers for one `recvmmsg`: [`BATCH`] datagrams and their sources.
pub struct RecvBatch {
    bufs: Vec<[u8; MAX_DATAGRAM]>,
    lens: [usize; BATCH],
    from: [Option<SocketAddr>; BATCH],
    count: usize,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            bufs: vec![[0u8; MAX_DATAGRAM]; BATCH],
            lens: [0; BATCH],
            from: [None; BATCH],
            count: 0,
        }
    }
}

impl RecvBatch {
    /// Reads what is waiting on `socket`, up to [`BATCH`] datagrams;
    /// `Ok(0)` or `WouldBlock` when nothing is.
    pub fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.count = 0;
        let RecvBatch {
            bufs,
            lens,
            from,
            count,
            ..
        } = self;
        socket.try_io(Interest::READABLE, || {
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
            let mut slices: Vec<[IoSliceMut<'_>; 1]> =
                bufs.iter_mut().map(|b| [IoSliceMut::new(&mut b[..])]).collect();
            let received = recvmmsg(
                socket.as_raw_fd(),
                &mut headers,
                slices.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            )
            .map_err(io::Error::from)?;
            for (i, msg) in received.enumerate() {
                lens[i] = msg.bytes.min(MAX_DATAGRAM);
                from[i] = msg.address.as_ref().and_then(socket_addr);
                *count = i + 1;
            }
            Ok(())
        })?;
        Ok(self.count)
    }

    /// The datagrams the last [`Self::recv`] read, with their sources.
    pub fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> {
        (0..self.count).filter_map(|i| Some((self.from[i]?, &self.bufs[i][..self.lens[i]])))
    }
}

/// Sends `packets` from `socket`, [`BATCH`] per system call, without
/// waiting; returns how many the kernel would not take now.
pub fn send_batch<B: AsRef<[u8]>>(socket: &UdpSocket, packets: &[(SocketAddr, B)]) -> usize {
    let mut rest = packets;
    while !rest.is_empty() {
        let chunk = &rest[..rest.len().min(BATCH)];
        let addrs: Vec<Option<SockaddrStorage>> = chunk
            .iter()
            .map(|(to, _)| Some(SockaddrStorage::from(*to)))
            .collect();
        let slices: Vec<[IoSlice<'_>; 1]> = chunk.iter().map(|(_, b)| [IoSlice::new(b.as_ref())]).collect();
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(chunk.len(), None);
        let sent = sendmmsg(
            socket.as_raw_fd(),
            &mut headers,
            slices.iter(),
            &addrs,
            [],
            MsgFlags::MSG_DONTWAIT,
        )
        .map(|r| r.count());
        match sent {
            // The first datagram could not be sent: an unreachable peer
            // (its ICMP error reported on this send) costs only itself.
            Ok(0)
            | Err(nix::errno::Errno::ECONNREFUSED)
            | Err(nix::errno::Errno::EHOSTUNREACH)
            | Err(nix::errno::Errno::ENETUNREACH)
            | Err(nix::errno::Errno::EINVAL) => {
                return 1 + send_batch(socket, &rest[1..]);
            }
            Ok(n) => rest = &rest[n.min(rest.len())..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return rest.len(),
        }
    }
    0
}

fn socket_addr(s: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    s.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
        .filter(|_| s.family().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_sent_in_one_call_arrives_whole_with_its_sources() {
        let a = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let b = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let to = b.local_addr().expect("addr");
        let packets: Vec<(SocketAddr, Vec<u8>)> = (0..40u8).map(|i| (to, vec![i; 100])).collect();
        assert_eq!(send_batch(&a, &packets), 0);
        let mut batch = RecvBatch::default();
        let mut got = Vec::new();
        while got.len() < 40 {
            b.readable().await.expect("readable");
            match batch.recv(&b) {
                Ok(_) => got.extend(batch.datagrams().map(|(from, d)| (from, d.to_vec()))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("recv: {e}"),
            }
        }
        let from = a.local_addr().expect("addr");
        assert!(got.iter().all(|(f, _)| *f == from));
        let firsts: Vec<u8> = got.iter().map(|(_, d)| d[0]).collect();
        assert_eq!(firsts, (0..40u8).collect::<Vec<_>>());
    }
}
