//! The HTTP edge: connections, and what every request must be before any route sees it.
//!
//! - **Connections** (`serve`): a cap on open connections (kept below the process's file limit)
//!   and one per client address; a request head must arrive within `header_timeout`; a
//!   kept-alive connection that has sent nothing since its last answer, or a client that stops
//!   reading an answer, is closed after `keepalive_timeout`; a body must arrive within
//!   `body_timeout`.
//! - **Requests** (`guard`): read strictly (RFC 9110/9112) — methods are case-sensitive, exactly
//!   one `Host`, at most one `Content-Type` and `Content-Length`, an absolute-form target only for
//!   a public origin; the URI, the header section and the body are bounded before anything is
//!   decoded; the body is read whole (within its time-out) before a handler runs.
//! - **Answers**: every error the framework produces (405, 413, a rejected extractor) is answered
//!   in the shape of the surface it was sent to; `Cache-Control: no-store` unless a route says
//!   otherwise (answers may carry a secret once); HSTS on https origins.

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
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::{BodyExt, Limited};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt as _;

use crate::AppState;
use crate::wire;

/// Limits of the HTTP edge. The defaults are nginx's order of magnitude (`client_header_timeout`
/// and `client_body_timeout` 60 s, `keepalive_timeout` 75 s, `large_client_header_buffers` 8 KiB
/// per line), shorter where every legitimate request to this server is small.
#[derive(Debug, Clone)]
pub struct EdgeLimits {
    /// A request's line and headers must arrive within this, counted from when the connection
    /// is ready for them (accepted, or its previous answer sent).
    pub header_timeout: Duration,
    /// A request's body must arrive within this, counted from the end of its headers.
    pub body_timeout: Duration,
    /// A connection that sends nothing after its last answer (or does not read the answer) is
    /// closed after this long.
    pub keepalive_timeout: Duration,
    /// Open connections at most; lowered at start to fit the process's file limit.
    pub max_connections: usize,
    /// Open connections from one client address at most (trusted proxies are exempt).
    /// `None`: half of the effective `max_connections`, so one address never holds them all.
    pub max_connections_per_address: Option<usize>,
    /// Longest request target (path and query), in bytes.
    pub max_uri_bytes: usize,
    /// Largest header section (names, values and line ends), in bytes.
    pub max_header_bytes: usize,
    /// Header lines at most.
    pub max_headers: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_address: None,
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 32 * 1024,
            max_headers: 100,
        }
    }
}

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
        .unwrap_or((max / 2).max(1));
    let slots = Arc::new(Semaphore::new(max));
    let per_address = Arc::new(Mutex::new(HashMap::<IpAddr, usize>::new()));
    let (closing_tx, closing_rx) = watch::channel(false);
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
        let exempt = state.config().trusted_proxies.contains(&peer.ip());
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
    let _ = closing_tx.send(true);
    // Every connection holds a slot until it ends: all slots back means all connections done.
    let grace = state.config().shutdown_grace;
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace; closing them");
    }
    state.verifier().flush().await;
    Ok(())
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
        StatusCode::REQUEST_TIMEOUT => {
            ("REQUEST_TIMEOUT", "the request head did not arrive in time")
        }
        StatusCode::URI_TOO_LONG => ("URI_TOO_LONG", "the request target is too long"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            ("HEADERS_TOO_LARGE", "the request headers are too large")
        }
        StatusCode::HTTP_VERSION_NOT_SUPPORTED => (
            "HTTP_VERSION_NOT_SUPPORTED",
            "this server speaks HTTP/1.1 and HTTP/1.0",
        ),
        _ => (
            "INVALID_REQUEST",
            "The request could not be understood by the server due to malformed syntax.",
        ),
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
    mut closing: watch::Receiver<bool>,
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
    let mut shutting_down = *closing.borrow();
    if shutting_down {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %tessera_core::Chain(&e), peer = %peer.ip(), "connection ended with an error");
                }
                return;
            }
            changed = closing.changed(), if !shutting_down => {
                shutting_down = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
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

/// Methods this server answers; anything else (including `get`: methods are case-sensitive,
/// RFC 9110 §9.1) is refused before any route.
fn is_known_method(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET
            | Method::HEAD
            | Method::POST
            | Method::PUT
            | Method::PATCH
            | Method::DELETE
            | Method::OPTIONS
    )
}

/// Why a request was refused at the edge.
struct EdgeRefusal {
    status: StatusCode,
    code: &'static str,
    message: String,
    close: bool,
}

impl EdgeRefusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            close: false,
        }
    }
}

/// The one header of this name, if any; `Err` when it is repeated.
fn single<'a>(
    headers: &'a HeaderMap,
    name: &header::HeaderName,
) -> Result<Option<&'a HeaderValue>, ()> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(());
    }
    Ok(first)
}

fn check_head(state: &AppState, request: &Request) -> Result<(), EdgeRefusal> {
    let limits = &state.config().edge;
    if !is_known_method(request.method()) {
        // TRACE, CONNECT, extension methods, and `get` (methods are case-sensitive): none is
        // answered by any resource here. 405 rather than 501, so that probing a method costs
        // nothing that looks like a server error.
        return Err(EdgeRefusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "no endpoint of this server answers that method (methods are case-sensitive)",
        ));
    }
    let target_len = request
        .uri()
        .path_and_query()
        .map_or(request.uri().path().len(), |pq| pq.as_str().len());
    if target_len > limits.max_uri_bytes {
        return Err(EdgeRefusal::new(
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            format!(
                "the request target is longer than {} bytes",
                limits.max_uri_bytes
            ),
        ));
    }
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if headers.len() > limits.max_headers || header_bytes > limits.max_header_bytes {
        return Err(EdgeRefusal::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "HEADERS_TOO_LARGE",
            format!(
                "the request has more than {} header lines or {} bytes of headers",
                limits.max_headers, limits.max_header_bytes
            ),
        ));
    }
    let bad = |what: &str| {
        EdgeRefusal::new(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            format!("the request must have {what}"),
        )
    };
    let host = single(headers, &header::HOST)
        .map_err(|()| bad("exactly one Host header"))?
        .ok_or_else(|| bad("exactly one Host header"))?;
    let host = host
        .to_str()
        .ok()
        .filter(|h| is_authority(h))
        .ok_or_else(|| bad("a Host header naming one host[:port]"))?;
    single(headers, &header::CONTENT_TYPE).map_err(|()| bad("at most one Content-Type header"))?;
    let length = single(headers, &header::CONTENT_LENGTH)
        .map_err(|()| bad("at most one Content-Length header"))?;
    if length.is_some() && headers.contains_key(header::TRANSFER_ENCODING) {
        return Err(bad("either Content-Length or Transfer-Encoding, not both"));
    }
    // An absolute-form target (RFC 9112 §3.2.2) must name a public origin, the one in Host.
    let uri = request.uri();
    if let Some(authority) = uri.authority() {
        let scheme = uri
            .scheme_str()
            .and_then(|s| tessera_oauth1::Scheme::parse(s).ok());
        let public = state
            .origins()
            .iter()
            .any(|o| Some(o.scheme) == scheme && o.is_host(authority.as_str()));
        if !public || !authority.as_str().eq_ignore_ascii_case(host) {
            return Err(bad(
                "an absolute-form target only for this server's public origin, matching Host",
            ));
        }
    }
    if let Some(length) = length {
        let length: u64 = length
            .to_str()
            .ok()
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| bad("a numeric Content-Length"))?;
        if length > state.config().max_body_bytes as u64 {
            let mut refusal = too_large(state);
            refusal.close = true;
            return Err(refusal);
        }
    }
    Ok(())
}

fn too_large(state: &AppState) -> EdgeRefusal {
    EdgeRefusal::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        format!(
            "the request body is larger than {} bytes",
            state.config().max_body_bytes
        ),
    )
}

/// `host[:port]`: a registered name, IPv4 address or bracketed IPv6 address, no user info, no
/// list, no whitespace.
fn is_authority(value: &str) -> bool {
    !value.is_empty()
        && !value.contains(['@', ',', ' ', '\t', '/', '?', '#'])
        && value.parse::<axum::http::uri::Authority>().is_ok()
}

/// Every request passes here first: strict reading, bounded body read within its time-out,
/// then the route; framework errors leave in the surface's shape.
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let https = is_https_request(&state, request.headers());
    let mut response = match read_strictly(&state, request).await {
        Ok(request) => reshape_framework_error(&path, next.run(request).await),
        Err(refusal) => {
            let mut response =
                error_for_path(&path, refusal.status, refusal.code, &refusal.message);
            if refusal.close {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    };
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

async fn read_strictly(state: &AppState, request: Request) -> Result<Request, EdgeRefusal> {
    check_head(state, &request)?;
    let (parts, body) = request.into_parts();
    let limit = state.config().max_body_bytes;
    let read = tokio::time::timeout(
        state.config().edge.body_timeout,
        Limited::new(body, limit).collect(),
    )
    .await;
    let bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            let mut refusal = too_large(state);
            refusal.close = true;
            return Err(refusal);
        }
        Ok(Err(_)) => {
            let mut refusal = EdgeRefusal::new(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "the request body could not be read",
            );
            refusal.close = true;
            return Err(refusal);
        }
        Err(_) => {
            let mut refusal = EdgeRefusal::new(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                format!(
                    "the request body did not arrive within {} s",
                    state.config().edge.body_timeout.as_secs_f32()
                ),
            );
            refusal.close = true;
            return Err(refusal);
        }
    };
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Whether the request came to an https public origin (directly, or as a trusted proxy says).
fn is_https_request(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    state
        .origins()
        .iter()
        .any(|o| o.scheme == tessera_oauth1::Scheme::Https && o.is_host(host))
}

/// An error the framework produced itself (405 from a route's methods, a rejected extractor),
/// recognised by having no JSON or HTML body, answered in the surface's shape instead.
fn reshape_framework_error(path: &str, response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("");
    if !(content_type.is_empty() || content_type.starts_with("text/plain")) {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "METHOD_NOT_ALLOWED",
            "this endpoint does not answer that method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("PAYLOAD_TOO_LARGE", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "UNSUPPORTED_MEDIA_TYPE",
            "the request body has the wrong content type",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "SERVICE_UNAVAILABLE",
            "the server cannot answer at the moment",
        ),
        s if s.is_server_error() => ("INTERNAL_ERROR", wire::INTERNAL_MESSAGE),
        _ => (
            "INVALID_REQUEST",
            "The request could not be understood by the server due to malformed syntax.",
        ),
    };
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut shaped = error_for_path(path, status, code, message);
    if let Some(allow) = allow {
        shaped.headers_mut().insert(header::ALLOW, allow);
    }
    shaped
}

/// An edge error in the shape of the surface at `path`: REST web services' problem document,
/// the web UI's page, or the `{"error":{code,message}}` of the RESTlet, token endpoints and
/// Tessera's own API.
pub(crate) fn error_for_path(
    path: &str,
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response {
    if path.starts_with("/services/rest/") || path == "/services/rest" {
        return wire::rest_problem(status, code, message);
    }
    if (path == "/app" || path.starts_with("/app/")) && !path.starts_with("/app/site/") {
        return crate::ui::error_page(status, message);
    }
    wire::api_error(status, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_plain_authority_is_a_host() {
        for ok in ["example.com", "example.com:8080", "127.0.0.1:1", "[::1]:80"] {
            assert!(is_authority(ok), "{ok}");
        }
        for bad in [
            "",
            "a.com, b.com",
            "a.com b.com",
            "user@a.com",
            "a.com/x",
            "a.com?",
        ] {
            assert!(!is_authority(bad), "{bad}");
        }
    }

    #[test]
    fn methods_are_case_sensitive() {
        assert!(is_known_method(&Method::GET));
        assert!(!is_known_method(
            &Method::from_bytes(b"get").unwrap_or(Method::TRACE)
        ));
        assert!(!is_known_method(&Method::TRACE));
        assert!(!is_known_method(&Method::CONNECT));
    }
}
