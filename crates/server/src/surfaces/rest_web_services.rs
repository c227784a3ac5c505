//! REST web services (`/services/rest/*`, RULES.md §4): verified as sent; every path echoes the
//! caller except `system/v1/governanceLimits`, which reports the concurrency limits (RULES.md §5).
//! Refusals are REST web services' problem documents (401, 400, 429).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::admission::admit;
use super::answers::echo;
use crate::AppState;
use crate::wire::Surface;

pub(crate) async fn rest_web_services(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    match admit(&state, peer, request, Surface::RestWebServices).await {
        Ok(admitted) => echo(&admitted.received, &admitted.identity),
        Err(refusal) => refusal,
    }
}

pub(crate) async fn governance_limits(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let admitted = match admit(&state, peer, request, Surface::RestWebServices).await {
        Ok(a) => a,
        Err(refusal) => return refusal,
    };
    let identity = &admitted.identity;
    let account = identity
        .account_concurrency_limit
        .unwrap_or(state.governor().default_limit());
    Json(json!({
        "accountConcurrencyLimit": account,
        "integrationConcurrencyLimit": identity.install_concurrency_limit,
    }))
    .into_response()
}
