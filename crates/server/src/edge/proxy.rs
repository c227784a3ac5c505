//! Proxy trust: which origin a request was sent to and which client sent it, believing
//! `X-Forwarded-*` headers only from the configured trusted proxies (RULES.md §3).

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName, header};
use tessera_oauth1::Scheme;

use super::redact::clip;
use crate::AppState;
use crate::config::Origin;

pub(crate) static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub(crate) static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) static X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
pub(crate) static X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
pub(crate) static X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
pub(crate) static X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");

/// The public origin a request was sent to, as its `Host` (or a trusted proxy's
/// `X-Forwarded-Host` / `-Proto`) names it; `None` when it names none of this server's.
pub(crate) fn public_origin<'s>(
    state: &'s AppState,
    peer: IpAddr,
    headers: &HeaderMap,
) -> Option<&'s Origin> {
    let header = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let trusted = state.config().is_trusted_proxy(peer);
    let forwarded_host = trusted.then(|| header(&X_FORWARDED_HOST)).flatten();
    let host = forwarded_host.or_else(|| header(&header::HOST))?;
    let host = host.split(',').next()?.trim();
    let proto = trusted
        .then(|| header(&X_FORWARDED_PROTO))
        .flatten()
        .and_then(|p| Scheme::parse(p.split(',').next()?.trim()).ok());
    state
        .origins()
        .iter()
        .find(|o| o.is_host(host) && proto.is_none_or(|p| p == o.scheme))
}

/// The client's address as the trusted proxy chain establishes it: the peer itself, unless the
/// peer is a trusted proxy; then the right-most `X-Forwarded-For` hop (over every such header,
/// in order) that is not itself a trusted proxy. `Err` holds a hop that is not an IP address,
/// or the proxy's own address when it names no client at all: nothing is trusted on its word
/// (a proxy that forgets `X-Forwarded-For` must not make every client look like itself).
pub(crate) fn client_address(
    state: &AppState,
    peer: IpAddr,
    headers: &HeaderMap,
) -> Result<IpAddr, String> {
    let is_proxy = |ip: &IpAddr| state.config().is_trusted_proxy(*ip);
    if !is_proxy(&peer) {
        return Ok(peer);
    }
    let mut client = peer;
    let mut named = false;
    let hops = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .collect::<Vec<_>>()
        .join(",");
    for hop in hops.rsplit(',').map(str::trim).filter(|h| !h.is_empty()) {
        if !is_proxy(&client) {
            break;
        }
        client = hop.parse::<IpAddr>().map_err(|_| clip(hop, 64))?;
        named = true;
    }
    if named {
        Ok(client)
    } else {
        Err(peer.to_string())
    }
}
