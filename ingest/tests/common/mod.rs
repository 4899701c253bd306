//! Loopback origins and the test policy shared by the fetch and fault tests.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ingest::FetchPolicy;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// A raw TCP origin: `handle` gets each connection after the request head was read. Returns the
/// address and a count of accepted connections.
pub async fn raw_origin<F, Fut>(handle: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let handle = Arc::new(handle);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let handle = handle.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                handle(stream).await;
            });
        }
    });
    (addr, accepted)
}

pub fn policy(allow: &[SocketAddr]) -> FetchPolicy {
    FetchPolicy {
        allow_private: allow.to_vec(),
        connect_timeout_ms: 2_000,
        read_timeout_ms: 2_000,
        total_timeout_ms: 10_000,
        ..FetchPolicy::default()
    }
}
