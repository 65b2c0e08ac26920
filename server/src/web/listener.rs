//! The HTTP listener: accepts TCP connections and serves each with hyper
//! (HTTP/1.1 with WebSocket upgrades), within limits a client cannot push
//! past, until shutdown.
//!
//! Invariants:
//! - At most `max_connections` HTTP connections are served at once; past
//!   that, new ones wait in the kernel's backlog (a connection that was
//!   upgraded to a WebSocket counts against the WebSocket limits instead).
//!   One address (an IPv6 one by its /64) holds at most `per_address` of
//!   them, so one client cannot take every slot; a connection past that is
//!   closed at once. Trusted proxies, which carry many clients, are exempt.
//! - A request's headers must arrive within `header_timeout`, and so must
//!   the next request's on a kept-alive connection: half a header holds a
//!   connection no longer than that. (Bodies have their own timeouts, as
//!   router layers.)
//! - On shutdown no new connection is accepted, idle ones close, and one
//!   in the middle of a request finishes it, for at most `grace`.
//!
//! HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which a proxy in
//! front of Flack terminates.

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::{Service, ServiceExt};

/// The listener's limits; each is a command-line setting (see `config`).
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub per_address: usize,
    /// Proxies in front (`--trusted-proxy`): no per-address limit.
    pub trusted: Vec<ipnet::IpNet>,
    pub header_timeout: Duration,
    pub grace: Duration,
}

/// HTTP connections open per address (bucketed as the limits count them).
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

/// A connection's place in its address's count; freed when dropped.
struct AddressSlot {
    counts: Arc<PerAddress>,
    address: IpAddr,
}

impl PerAddress {
    fn take(self: &Arc<Self>, address: IpAddr, most: usize) -> Option<AddressSlot> {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let open = counts.entry(address).or_default();
        if *open >= most {
            return None;
        }
        *open += 1;
        Some(AddressSlot {
            counts: self.clone(),
            address,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = counts.get_mut(&self.address) {
            *open -= 1;
            if *open == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then
/// closes gracefully (see the module invariants).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) {
    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_address = Arc::new(PerAddress::default());
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        let Some((slot, stream, peer)) = accepted else {
            continue;
        };
        let trusted = limits
            .trusted
            .iter()
            .any(|net| net.contains(&peer.ip().to_canonical()));
        let address_slot = if trusted {
            None
        } else {
            let address = crate::web::policy::bucket(peer.ip());
            match per_address.take(address, limits.per_address.max(1)) {
                Some(taken) => Some(taken),
                None => {
                    tracing::debug!(%peer, "too many HTTP connections from one address");
                    continue; // dropped: closed at once
                }
            }
        };
        // The router for this connection (so handlers read `ConnectInfo`).
        let router = match make_service.call(peer).await {
            Ok(router) => router,
            Err(never) => match never {},
        };
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            router.clone().oneshot(request)
        });
        let builder = builder.clone();
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // A client that goes away, or a header that timed out.
                tracing::debug!(%peer, "connection ended: {e}");
            }
            drop((slot, address_slot));
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some HTTP requests did not finish within the grace period");
    }
}

/// The next connection, once a slot is free; `None` after an error
/// accepting (logged; the loop goes on).
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(tokio::sync::OwnedSemaphorePermit, TcpStream, SocketAddr)> {
    let slot = slots.clone().acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((stream, peer)) => {
            // Chat frames are small and latency-bound: no Nagle delay.
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!("cannot set TCP_NODELAY: {e}");
            }
            Some((slot, stream, peer))
        }
        Err(e) => {
            // Out of file descriptors, say: wait a moment rather than spin.
            tracing::warn!("cannot accept a connection: {e}");
            tokio::time::sleep(Duration::from_millis(100)).await;
            None
        }
    }
}
