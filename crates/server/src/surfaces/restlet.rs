//! The built-in echo RESTlet (`/app/site/hosting/restlet.nl`, RULES.md §4): verifies the request as
//! sent and answers with who is calling and what it sent, so integrators can prove their
//! signing. Refusals are the RESTlet-style 401 / 400 / `SSS_REQUEST_LIMIT_EXCEEDED`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;

use super::admission::admit;
use super::answers::echo;
use crate::AppState;
use crate::edge::Received;
use crate::wire::Surface;

pub(crate) async fn restlet(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let admitted = match admit(&state, peer, request, Surface::Restlet).await {
        Ok(a) => a,
        Err(refusal) => return refusal,
    };
    if let Some(delay) = rehearsal_delay(&admitted.received) {
        tokio::time::sleep(delay).await;
    }
    echo(&admitted.received, &admitted.identity)
}

/// The echo RESTlet holds the request for `tessera_delay_ms` milliseconds (at most 30 s) when
/// asked, so an integrator can rehearse the concurrency limits with slow requests.
fn rehearsal_delay(received: &Received) -> Option<Duration> {
    let ms: u64 = crate::form::first(received.query().as_bytes(), "tessera_delay_ms")
        .ok()??
        .parse()
        .ok()?;
    Some(Duration::from_millis(ms.min(30_000)))
}
