//! The socket server behind `petraf serve`: the full API over HTTP/1.1 with
//! the limits a server facing a network needs — a header read timeout, a
//! body that must arrive whole within a deadline and at a minimum rate, an
//! idle keep-alive timeout, a connection cap and a per-address share of it
//! that answer `503` rather than failing `accept`, and a graceful shutdown
//! that gives in-flight streams a bounded time and releases running turns.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::app::App;
use crate::config::ServerLimits;
use crate::domain::client_address::ClientAddress;

/// How long stopped turns get to release their sessions at shutdown.
const RELEASE_TIME: Duration = Duration::from_secs(3);
/// Refusals (503) being written at once; beyond, connections are just closed.
const MAX_REFUSALS: usize = 256;
/// A full accept queue or no file descriptor left: wait before the next accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How long a body may take before [`ServerLimits::body_min_rate`] applies
/// (a client's first round trips, a slow start).
pub const BODY_RATE_GRACE: Duration = Duration::from_secs(5);

const BUSY_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 88\r\n\r\n{\"error\":{\"code\":\"server_busy\",\"message\":\"too many connections; try again in a moment\"}}";

const TOO_MANY_FROM_ADDRESS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 105\r\n\r\n{\"error\":{\"code\":\"too_many_connections\",\"message\":\"this address holds too many connections; close some\"}}";

/// Serves the full API on `listener` until `shutdown` resolves, then stops
/// accepting, lets in-flight requests finish for `shutdown_grace`, stops
/// the turns still running (each releases its session) and returns.
pub async fn serve(
    listener: TcpListener,
    app: App,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let router = super::full_api(app.clone());
    serve_router(listener, app, router, limits, shutdown).await
}

/// [`serve`] with a router of the caller's (the API with the web app).
pub async fn serve_router(
    listener: TcpListener,
    app: App,
    router: axum::Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    // Behind proxies every connection comes from one of theirs: they limit.
    let per_address_cap =
        (app.settings.trusted_proxies == 0).then_some(limits.max_connections_per_address);
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: keep serving the connections we have.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let slot = match per_address_cap {
            Some(cap) => match per_address.take(peer.ip(), cap) {
                Some(slot) => Some(slot),
                None => {
                    refuse(stream, TOO_MANY_FROM_ADDRESS, &refusals);
                    continue;
                }
            },
            None => None,
        };
        match connections.clone().try_acquire_owned() {
            Ok(permit) => {
                let (router, limits, stopping) = (router.clone(), limits.clone(), stopping.clone());
                tokio::spawn(async move {
                    serve_connection(stream, peer, router, &limits, stopping).await;
                    drop((permit, slot));
                });
            }
            Err(_) => refuse(stream, BUSY_RESPONSE, &refusals),
        }
    }
    drop(listener);
    tracing::info!("shutting down: no new connections; finishing what runs");
    let _ = stop.send(true);
    let left = app
        .turns
        .shut_down(limits.shutdown_grace, RELEASE_TIME)
        .await;
    if left > 0 {
        tracing::warn!(
            turns = left,
            "turns still running at shutdown; their leases will expire"
        );
    }
    // Connections close once their last response ends; wait briefly for that.
    let all = limits.max_connections as u32;
    let _ = tokio::time::timeout(Duration::from_secs(1), connections.acquire_many(all)).await;
}

/// Writes `response` and closes, if fewer than [`MAX_REFUSALS`] are being
/// written; else just closes.
fn refuse(mut stream: TcpStream, response: &'static [u8], refusals: &Arc<Semaphore>) {
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = stream.write_all(response).await;
            let _ = stream.shutdown().await;
        })
        .await;
        drop(permit);
    });
}

/// Connections open per client address.
#[derive(Default)]
struct PerAddress {
    open: Mutex<HashMap<String, usize>>,
}

/// One connection's place in [`PerAddress`], given back on drop.
struct AddressSlot {
    table: Arc<PerAddress>,
    client: String,
}

impl PerAddress {
    /// A slot for one more connection from `ip`, if it holds fewer than `cap`.
    fn take(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<AddressSlot> {
        // The limiter's bucket: IPv4 (mapped IPv6 included) or an IPv6 /64.
        let client = ClientAddress::of_peer(ip).limit_bucket();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(client.clone()).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            table: self.clone(),
            client,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: &ServerLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
        started,
    });
    let pace = BodyPace::from(limits);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let request = request.map(|body| Body::new(PacedBody::new(body, pace)));
        let mut router = router.clone();
        async move { tower_service::Service::call(&mut router, request).await }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let mut idle_check = tokio::time::interval(limits.idle_timeout.min(Duration::from_secs(1)));
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stopping.wait_for(|stop| *stop), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = idle_check.tick(), if !closing => {
                let last = Duration::from_millis(activity.load(Ordering::Relaxed));
                if started.elapsed().saturating_sub(last) >= limits.idle_timeout {
                    // Closes now when between requests, else after the response.
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// When a request body has taken too long, counted from its head.
#[derive(Debug, Clone, Copy)]
struct BodyPace {
    deadline: Duration,
    read_timeout: Duration,
    min_rate: u64,
}

impl From<&ServerLimits> for BodyPace {
    fn from(limits: &ServerLimits) -> Self {
        BodyPace {
            deadline: limits.body_deadline,
            read_timeout: limits.body_read_timeout,
            min_rate: limits.body_min_rate,
        }
    }
}

impl BodyPace {
    /// The moment (since the head) the body is too slow unless more of it
    /// arrives: `received` bytes so far, the last of them at `last_piece`.
    fn expiry(&self, received: u64, last_piece: Duration) -> Duration {
        let mut at = self.deadline.min(last_piece + self.read_timeout);
        if self.min_rate > 0 {
            let earned = Duration::from_secs_f64(received as f64 / self.min_rate as f64);
            at = at.min(BODY_RATE_GRACE + earned);
        }
        at
    }
}

/// The request body ended because its client sent it too slowly.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived too slowly")]
struct BodyTooSlow;

/// A request body held to a [`BodyPace`]: a read past its expiry fails,
/// which ends the request (and, its body unread, the connection).
struct PacedBody {
    inner: Incoming,
    pace: BodyPace,
    started: Instant,
    received: u64,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl PacedBody {
    fn new(inner: Incoming, pace: BodyPace) -> Self {
        let started = Instant::now();
        let expiry = pace.expiry(0, Duration::ZERO);
        PacedBody {
            inner,
            pace,
            started,
            received: 0,
            timer: Box::pin(tokio::time::sleep_until((started + expiry).into())),
        }
    }
}

impl hyper::body::Body for PacedBody {
    type Data = hyper::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            let bytes = match &frame {
                Some(Ok(frame)) => frame.data_ref().map_or(0, |d| d.len() as u64),
                _ => 0,
            };
            if bytes > 0 {
                this.received += bytes;
                let expiry = this.pace.expiry(this.received, this.started.elapsed());
                this.timer.as_mut().reset((this.started + expiry).into());
            }
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        if this.timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(BodyTooSlow.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A socket that records when bytes last moved either way.
struct Tracked {
    inner: TcpStream,
    activity: Arc<AtomicU64>,
    started: Instant,
}

impl Tracked {
    fn mark(&self) {
        self.activity
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.mark();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.mark();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.mark();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusals_are_well_formed() {
        for (response, code) in [
            (BUSY_RESPONSE, "server_busy"),
            (TOO_MANY_FROM_ADDRESS, "too_many_connections"),
        ] {
            let text = std::str::from_utf8(response).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(
                head.contains(&format!("content-length: {}", body.len())),
                "{code}"
            );
            let json: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(json["error"]["code"], code);
        }
    }

    #[test]
    fn a_body_must_keep_its_pace() {
        let pace = BodyPace {
            deadline: Duration::from_secs(120),
            read_timeout: Duration::from_secs(30),
            min_rate: 1024,
        };
        let secs = Duration::from_secs;
        // Nothing yet: the grace period.
        assert_eq!(pace.expiry(0, secs(0)), BODY_RATE_GRACE);
        // A byte every 20 s earns nothing: cut at the grace's end, never 30 s later.
        assert_eq!(
            pace.expiry(3, secs(60)),
            BODY_RATE_GRACE + Duration::from_secs_f64(3.0 / 1024.0)
        );
        // 10 KiB/s goes on until the deadline.
        assert_eq!(pace.expiry(10 * 1024 * 100, secs(100)), secs(120));
        // At the rate exactly, each KiB buys a second.
        assert_eq!(pace.expiry(20 * 1024, secs(20)), secs(25));
        // Without a minimum rate, the per-piece timeout and the deadline remain.
        let no_rate = BodyPace {
            min_rate: 0,
            ..pace
        };
        assert_eq!(no_rate.expiry(1, secs(10)), secs(40));
        assert_eq!(no_rate.expiry(1, secs(100)), secs(120));
    }

    #[test]
    fn an_address_holds_its_share_of_connections() {
        let table = Arc::new(PerAddress::default());
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let held: Vec<AddressSlot> = (0..3).map(|_| table.take(a, 3).unwrap()).collect();
        assert!(table.take(a, 3).is_none());
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert!(table.take(mapped, 3).is_none(), "the same client over IPv6");
        let other = table.take("203.0.113.8".parse().unwrap(), 3);
        assert!(other.is_some(), "another address has its own share");
        drop(held);
        assert!(
            table.take(a, 3).is_some(),
            "closed connections free their slots"
        );
        drop(other);
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        let slots: Vec<AddressSlot> = ["2001:db8:1:2::1", "2001:db8:1:2:ffff::9"]
            .iter()
            .map(|ip| table.take(v6(ip), 2).unwrap())
            .collect();
        assert!(
            table.take(v6("2001:db8:1:2::77"), 2).is_none(),
            "one /64, one client"
        );
        assert!(table.take(v6("2001:db8:1:3::1"), 2).is_some());
        drop(slots);
    }
}
