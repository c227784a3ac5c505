//! Connections: the accept loop, the caps on open connections, the keep-alive watchdog, and
//! the answers hyper writes by itself.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt as _;

use super::EdgeLimits;
use tessera_api::ErrorCode;

use crate::AppState;
use crate::wire;

/// File descriptors kept back from the connection cap (database, data directory, logs).
const RESERVED_FDS: u64 = 64;

/// The connection cap that fits this process's open-file limit.
fn effective_max_connections(configured: usize) -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    let fits = soft.saturating_sub(RESERVED_FDS).max(16);
    configured
        .min(usize::try_from(fits).unwrap_or(usize::MAX))
        .max(1)
}

/// Serves until `shutdown` resolves, then lets requests in flight finish (at most the
/// configured grace) and commits every pending audit row before returning.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config().edge.clone();
    let max = effective_max_connections(limits.max_connections);
    if max < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            effective = max,
            "the open-file limit allows fewer connections than configured; raise `ulimit -n`"
        );
    }
    let per_address_max = limits
        .max_connections_per_address
        .unwrap_or((max / 16).max(16));
    let slots = Arc::new(Semaphore::new(max));
    let per_address = Arc::new(Mutex::new(HashMap::<IpAddr, usize>::new()));
    let (closing_tx, closing_rx) = watch::channel(Closing::No);
    let app = crate::router(state.clone());
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was accepted: wait a
                    // moment rather than spin.
                    tracing::warn!(error = %tessera_core::Chain(&e), "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let exempt = state.config().is_trusted_proxy(peer.ip());
        let Some(address_slot) = AddressSlot::take(
            &per_address,
            peer.ip(),
            if exempt { usize::MAX } else { per_address_max },
        ) else {
            tracing::debug!(peer = %peer.ip(), "connection refused: too many from this address");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            peer,
            app.clone(),
            limits.clone(),
            (slot, address_slot),
            closing_rx.clone(),
        ));
    }
    let _ = closing_tx.send(Closing::Gracefully);
    // Rows that fail from here on are what "flushed" must not claim.
    let failed_before = state.verifier().writer_stats().failed_batches;
    // Every connection holds a slot until it ends: all slots back means all connections done.
    let grace = state.config().shutdown_grace;
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        let open = max.saturating_sub(slots.available_permits());
        tracing::warn!(
            connections = open,
            grace_secs = grace.as_secs_f64(),
            "connections still open after the shutdown grace; closing them"
        );
        let _ = closing_tx.send(Closing::Now);
        // Each connection drops its request on its next poll; give them a moment to go.
        let _ = tokio::time::timeout(Duration::from_secs(1), slots.acquire_many(all)).await;
    }
    if state.verifier().flush().await
        && state.verifier().writer_stats().failed_batches == failed_before
    {
        tracing::info!("audit trail flushed");
    } else {
        tracing::warn!(
            "audit trail not flushed: writing some login audit rows failed (see the errors above)"
        );
    }
    Ok(())
}

/// What the accept loop tells its connections at shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    No,
    /// Finish the request in flight, then close (HTTP/1.1 `Connection: close`).
    Gracefully,
    /// The shutdown grace is over: close now, whatever is in flight.
    Now,
}

/// A connection's place in the per-address count; given back when dropped.
struct AddressSlot {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl AddressSlot {
    fn take(counts: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, max: usize) -> Option<Self> {
        let mut map = counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Self {
            counts: counts.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// What a connection has been doing, for its keep-alive watchdog.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened` when the connection last became idle or wrote while idle.
    idle_since_ms: AtomicU64,
    /// Requests being handled.
    in_flight: AtomicU32,
    /// Bytes of a next request arrived since it became idle (the header time-out governs then).
    read_while_idle: AtomicBool,
}

impl Activity {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// How long the connection has been idle with nothing of a next request read; `None` if
    /// it is busy.
    fn idle_for(&self) -> Option<Duration> {
        if !self.is_idle() || self.read_while_idle.load(Ordering::Acquire) {
            return None;
        }
        let since = self.idle_since_ms.load(Ordering::Acquire);
        Some(Duration::from_millis(self.now_ms().saturating_sub(since)))
    }
}

/// Counts a request as in flight until dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        a.idle_since_ms.store(a.now_ms(), Ordering::Release);
        a.read_while_idle.store(false, Ordering::Release);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The socket, noting reads and writes in the connection's `Activity`. It also owns the one
/// answer hyper writes by itself — to a request it could not parse (400, 414, 431) or whose
/// head did not arrive in time (408) — which hyper sends with an empty body: that answer is
/// replaced by the same status with Tessera's JSON error body, and the connection closes.
struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
    /// Bytes of the replacement answer not written yet.
    pending: Vec<u8>,
    /// After the replacement, whatever else hyper writes is dropped (it closes next).
    replaced: bool,
}

impl Tracked {
    /// Whether `buf` is hyper's own error answer: written while no request is being handled,
    /// after bytes of a request that never reached a handler were read.
    fn is_hyper_error(&self, buf: &[u8]) -> Option<StatusCode> {
        if !self.activity.is_idle() || !self.activity.read_while_idle.load(Ordering::Acquire) {
            return None;
        }
        let line = buf
            .strip_prefix(b"HTTP/1.1 ")
            .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
        let status = StatusCode::from_bytes(line.get(..3)?).ok()?;
        (status.is_client_error() || status.is_server_error()).then_some(status)
    }

    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.pending.is_empty() {
            match Pin::new(&mut self.stream).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    self.pending.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// The answer to a request hyper refused before any route saw it: the path is unknown, so
/// it has the shape of the RESTlet, the token endpoints and Tessera's own API.
fn unparsed_request_answer(status: StatusCode) -> Vec<u8> {
    let (code, message) = match status {
        StatusCode::REQUEST_TIMEOUT => (
            ErrorCode::RequestTimeout,
            "the request head did not arrive in time",
        ),
        StatusCode::URI_TOO_LONG => (ErrorCode::UriTooLong, "the request target is too long"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            ErrorCode::HeadersTooLarge,
            "the request headers are too large",
        ),
        _ => (ErrorCode::InvalidRequest, wire::MALFORMED_MESSAGE),
    };
    let body = wire::error_body(code, message);
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before && self.activity.is_idle() {
            self.activity.read_while_idle.store(true, Ordering::Release);
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if !this.replaced
            && let Some(status) = this.is_hyper_error(buf)
        {
            this.pending = unparsed_request_answer(status);
            this.replaced = true;
        }
        if this.replaced {
            return match this.poll_pending(cx) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.len())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                // Taken: the replacement is written by the next flush.
                Poll::Pending => Poll::Ready(Ok(buf.len())),
            };
        }
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) && this.activity.is_idle() {
            // Still sending the last answer: the idle clock starts when it is out.
            let now = this.activity.now_ms();
            this.activity.idle_since_ms.store(now, Ordering::Release);
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: EdgeLimits,
    _slots: (OwnedSemaphorePermit, AddressSlot),
    mut closing: watch::Receiver<Closing>,
) {
    let activity = Arc::new(Activity {
        opened: Instant::now(),
        idle_since_ms: AtomicU64::new(0),
        in_flight: AtomicU32::new(0),
        read_while_idle: AtomicBool::new(false),
    });
    let io = TokioIo::new(Tracked {
        stream,
        activity: activity.clone(),
        pending: Vec::new(),
        replaced: false,
    });
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let in_flight = InFlight::start(&requests);
        let app = app.clone();
        async move {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = app.oneshot(request).await;
            drop(in_flight);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // Above our own limits, so that `guard` (not hyper, with an empty body) answers them.
        .max_buf_size((limits.max_uri_bytes + limits.max_header_bytes + 4096).max(8192))
        .max_headers(limits.max_headers * 2);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let tick =
        (limits.keepalive_timeout / 8).clamp(Duration::from_millis(20), Duration::from_secs(1));
    let mut shutting_down = false;
    loop {
        let state = *closing.borrow_and_update();
        match state {
            Closing::Now => return,
            // Between requests (idle, or a next request's head not all in): nothing to finish.
            Closing::Gracefully if activity.is_idle() => return,
            Closing::Gracefully if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
            _ => {}
        }
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %tessera_core::Chain(&e), peer = %peer.ip(), "connection ended with an error");
                }
                return;
            }
            changed = closing.changed() => {
                if changed.is_err() {
                    // The accept loop has returned: the server is gone.
                    return;
                }
            }
            () = tokio::time::sleep(tick) => {
                if activity.idle_for().is_some_and(|idle| idle >= limits.keepalive_timeout) {
                    tracing::trace!(peer = %peer.ip(), "closing an idle connection");
                    return;
                }
            }
        }
    }
}
