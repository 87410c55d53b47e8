//! The socket server behind `petraf serve`: the full API over HTTP/1.1 with
//! the limits a server facing a network needs — a header read timeout, a
//! body read timeout, an idle keep-alive timeout, a connection cap that
//! answers `503` rather than failing `accept`, and a graceful shutdown that
//! gives in-flight streams a bounded time and releases running turns.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
use tower_http::timeout::TimeoutBody;

use crate::app::App;
use crate::config::{ConfigError, Env, bounded};

/// The server's limits; every one can be set from the environment.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// A request's head must arrive within this (slow-header clients).
    pub header_read_timeout: Duration,
    /// Each piece of a request body must arrive within this.
    pub body_read_timeout: Duration,
    /// A connection with no traffic either way for this long is closed
    /// (after the response in progress, if any).
    pub idle_timeout: Duration,
    /// Connections served at once; more are answered `503` and closed.
    pub max_connections: usize,
    /// On shutdown, how long running turns may go on before they are stopped.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(5),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl ServerLimits {
    /// `PETRAF_HEADER_TIMEOUT_SECS`, `PETRAF_BODY_TIMEOUT_SECS`,
    /// `PETRAF_IDLE_TIMEOUT_SECS`, `PETRAF_MAX_CONNECTIONS`,
    /// `PETRAF_SHUTDOWN_GRACE_SECS`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let mut limits = ServerLimits::default();
        let secs = Duration::from_secs;
        if let Some(s) = bounded(env, "PETRAF_HEADER_TIMEOUT_SECS", 1..=300)? {
            limits.header_read_timeout = secs(s);
        }
        if let Some(s) = bounded(env, "PETRAF_BODY_TIMEOUT_SECS", 1..=600)? {
            limits.body_read_timeout = secs(s);
        }
        if let Some(s) = bounded(env, "PETRAF_IDLE_TIMEOUT_SECS", 1..=600)? {
            limits.idle_timeout = secs(s);
        }
        if let Some(n) = bounded(env, "PETRAF_MAX_CONNECTIONS", 1..=1_000_000)? {
            limits.max_connections = n as usize;
        }
        if let Some(s) = bounded(env, "PETRAF_SHUTDOWN_GRACE_SECS", 0..=600)? {
            limits.shutdown_grace = secs(s);
        }
        Ok(limits)
    }
}

/// How long stopped turns get to release their sessions at shutdown.
const RELEASE_TIME: Duration = Duration::from_secs(3);
/// Refusals (503) being written at once; beyond, connections are just closed.
const MAX_REFUSALS: usize = 256;
/// A full accept queue or no file descriptor left: wait before the next accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

const BUSY_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 88\r\n\r\n{\"error\":{\"code\":\"server_busy\",\"message\":\"too many connections; try again in a moment\"}}";

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
        match connections.clone().try_acquire_owned() {
            Ok(permit) => {
                let (router, limits, stopping) = (router.clone(), limits.clone(), stopping.clone());
                tokio::spawn(async move {
                    serve_connection(stream, peer, router, &limits, stopping).await;
                    drop(permit);
                });
            }
            Err(_) => {
                if let Ok(permit) = refusals.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        refuse_busy(stream).await;
                        drop(permit);
                    });
                }
            }
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

async fn refuse_busy(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(BUSY_RESPONSE).await;
        let _ = stream.shutdown().await;
    })
    .await;
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
    let body_timeout = limits.body_read_timeout;
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let request = request.map(|body| Body::new(TimeoutBody::new(body_timeout, body)));
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
    fn the_busy_response_is_well_formed() {
        let text = std::str::from_utf8(BUSY_RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "server_busy");
    }

    #[test]
    fn limits_come_from_the_environment() {
        let env: std::collections::HashMap<&'static str, String> = [
            ("PETRAF_MAX_CONNECTIONS", "8".to_string()),
            ("PETRAF_HEADER_TIMEOUT_SECS", "2".to_string()),
        ]
        .into();
        let limits = ServerLimits::from_env(&env).unwrap();
        assert_eq!(limits.max_connections, 8);
        assert_eq!(limits.header_read_timeout, Duration::from_secs(2));
        let bad: std::collections::HashMap<&'static str, String> =
            [("PETRAF_MAX_CONNECTIONS", "0".to_string())].into();
        assert_eq!(
            ServerLimits::from_env(&bad).unwrap_err().variable,
            "PETRAF_MAX_CONNECTIONS"
        );
    }
}
