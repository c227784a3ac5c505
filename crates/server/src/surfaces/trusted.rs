//! The gate in front of what only trusted services may ask (loopback or `trusted_services`,
//! decided by the client the trusted proxy chain names): the verification API, forward-auth
//! and `/metrics`.

use std::net::SocketAddr;

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use tessera_api::ErrorCode;

use crate::AppState;
use crate::edge::Received;
use crate::edge::proxy::client_address;
use crate::wire;

/// The refusal for a caller that is not a trusted service, if it is not. The caller is the
/// client the trusted proxy chain names, not a proxy that forwarded it; and the request must be
/// sent to one of the server's public origins, so a page that rebinds its own host name to
/// this server (DNS rebinding) cannot use a browser on a trusted host to ask.
pub(crate) fn refuse_untrusted_service(
    state: &AppState,
    peer: &SocketAddr,
    headers: &HeaderMap,
    caller: TrustedCaller,
) -> Option<Response> {
    let allowed = &state.config().trusted_services;
    let caller = match caller {
        TrustedCaller::Client => client_address(state, peer.ip(), headers),
        TrustedCaller::Peer => Ok(peer.ip()),
    };
    let trusted = match caller {
        Ok(ip) if allowed.is_empty() => ip.is_loopback() || ip.to_canonical().is_loopback(),
        Ok(ip) => allowed.contains(&ip) || allowed.contains(&ip.to_canonical()),
        Err(_) => false,
    };
    // The `Host` the request itself carries (not a forwarded one: for forward-auth, that one
    // describes the original request).
    let host_ok = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| state.origins().iter().any(|o| o.is_host(h)));
    let ok = trusted && host_ok;
    (!ok).then(|| {
        wire::api_error(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "the caller is not a trusted service, or did not send the request to a public \
             origin of this server (configure trusted_services, public_origins)",
        )
    })
}

/// Whose address decides whether a caller is a trusted service.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TrustedCaller {
    /// The client the trusted proxy chain names: for the verification API and the metrics,
    /// which tell refusal reasons.
    Client,
    /// The peer itself: for forward-auth, which only reverse proxies call (their
    /// `X-Forwarded-For` names the original client, who is not the caller), and which answers
    /// no more than the original request's surface would.
    Peer,
}

/// The request of a trusted service, read; anyone else is refused before its body is read.
pub(super) async fn read_from_trusted_service(
    state: &AppState,
    peer: SocketAddr,
    request: Request,
    caller: TrustedCaller,
) -> Result<Received, Response> {
    if let Some(refusal) = refuse_untrusted_service(state, &peer, request.headers(), caller) {
        return Err(refusal);
    }
    Received::read(state, peer, request).await
}
