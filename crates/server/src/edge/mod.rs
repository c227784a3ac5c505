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
//!
//! `connection` owns the sockets (accept loop, caps, time-outs, hyper's own answers);
//! `request` owns what a request must be (strict reading, bounds, error shapes, headers);
//! `received` is a request as every surface reads it (`Received`), `proxy` who sent it and
//! to which origin (trusted proxies), `redact` what of it may be written down.

mod connection;
pub(crate) mod proxy;
pub(crate) mod received;
pub(crate) mod redact;
mod request;

use std::time::Duration;

pub use connection::serve;
pub(crate) use received::Received;
pub(crate) use request::guard;

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
    /// `None`: a sixteenth of the effective `max_connections` (at least 16), so that it takes
    /// many addresses to hold every slot.
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
