//! The HTTP accept loop, with the limits a server facing dongles and ESPs needs: a connection
//! cap, a header-read timeout (a client stalled mid-headers is dropped) and an idle timeout
//! (a connection that moves no byte either way is dropped), counted for `/metrics`.
//!
//! `axum::serve` has none of these (hyper's header timeout needs a timer it does not set):
//! 2,000 connections stalled mid-headers were held forever and memory grew with them.

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Connection limits of the HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; one more is answered `503` and closed.
    pub max_connections: usize,
    /// Time a client has to send a request's whole header block.
    pub header_read_timeout: Duration,
    /// A connection that sends and receives nothing for this long is closed (event streams
    /// send a keep-alive comment every 15 s, so they stay open).
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 2048,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Connection counters, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct ConnStats {
    pub(crate) open: AtomicU64,
    pub(crate) accepted: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) idle_closed: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) accept_errors: AtomicU64,
}

impl ConnStats {
    /// The Prometheus text of the counters.
    pub(crate) fn prometheus(&self) -> String {
        let mut out = String::new();
        for (name, kind, help, v) in [
            ("meterlab_http_connections_open", "gauge", "HTTP connections open now.", &self.open),
            (
                "meterlab_http_connections_total",
                "counter",
                "HTTP connections accepted.",
                &self.accepted,
            ),
            (
                "meterlab_http_connections_refused_total",
                "counter",
                "HTTP connections refused at the connection limit.",
                &self.refused,
            ),
            (
                "meterlab_http_connections_idle_closed_total",
                "counter",
                "HTTP connections closed after the idle timeout.",
                &self.idle_closed,
            ),
            (
                "meterlab_http_connections_header_timeouts_total",
                "counter",
                "HTTP connections closed by the header-read timeout (stalled or idle keep-alive).",
                &self.timed_out,
            ),
            (
                "meterlab_http_accept_errors_total",
                "counter",
                "Errors accepting HTTP connections.",
                &self.accept_errors,
            ),
        ] {
            metric(&mut out, name, kind, help, v);
        }
        out
    }
}

/// One Prometheus metric without labels, in the text format.
pub(crate) fn metric(out: &mut String, name: &str, kind: &str, help: &str, v: &AtomicU64) {
    out.push_str(&format!(
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}\n",
        v.load(Ordering::Relaxed)
    ));
}

/// Serves `router` on `listener` until the task is aborted.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stats: Arc<ConnStats>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: say so, wait a little, go on.
                stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!("accepting an HTTP connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("HTTP connection limit ({}) reached: refusing", limits.max_connections);
            tokio::spawn(refuse(stream));
            continue;
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        stats.open.fetch_add(1, Ordering::Relaxed);
        let (router, stats) = (router.clone(), stats.clone());
        tokio::spawn(async move {
            connection(stream, router, limits, &stats).await;
            stats.open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
}

/// One connection, closed when the client goes, a request's headers take too long, or no
/// byte moves for `idle_timeout`.
async fn connection(stream: TcpStream, router: Router, limits: Limits, stats: &ConnStats) {
    let _ = stream.set_nodelay(true);
    let moved = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Counted { inner: stream, moved: moved.clone() });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(io, TowerToHyperService::new(router));
    tokio::pin!(conn);
    // The idle check needs no clock: a connection is idle when its byte count did not move
    // over four consecutive quarter periods.
    let quarter = limits.idle_timeout / 4;
    let (mut last, mut still) = (0, 0);
    loop {
        tokio::select! {
            res = &mut conn => {
                if let Err(e) = res {
                    // A client that sent no complete header block in time (stalled, or an idle
                    // keep-alive connection) is dropped by hyper's header timer.
                    if e.is_timeout() {
                        stats.timed_out.fetch_add(1, Ordering::Relaxed);
                    }
                    tracing::debug!("HTTP connection ended: {e}");
                }
                return;
            }
            () = tokio::time::sleep(quarter) => {
                let now = moved.load(Ordering::Relaxed);
                still = if now == last { still + 1 } else { 0 };
                last = now;
                if still >= 4 {
                    stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("closing an HTTP connection idle for {:?}", limits.idle_timeout);
                    return;
                }
            }
        }
    }
}

/// Answers a connection over the limit with a 503 (with a request id, like every answer),
/// without reading its request.
async fn refuse(mut stream: TcpStream) {
    let id = wire::hex(&rand::random::<[u8; 8]>());
    let body = format!(
        "{{\"code\":\"unavailable\",\"message\":\"too many connections: retry in a second, or pool them\",\"request_id\":\"{id}\"}}"
    );
    let busy = format!(
        "HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-type: application/json\r\nx-request-id: {id}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(busy.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// A stream that counts the bytes it moves, for the idle check.
struct Counted {
    inner: TcpStream,
    moved: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.moved.fetch_add(n as u64, Ordering::Relaxed);
        }
        res
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res
            && n > 0
        {
            self.moved.fetch_add(n as u64, Ordering::Relaxed);
        }
        res
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
