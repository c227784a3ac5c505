//! The authorization flow's two signed steps (RULES.md §4.2): `POST /rest/requesttoken` and
//! `POST /rest/accesstoken`. Both answer `application/x-www-form-urlencoded` credentials, or
//! the RESTlet-style generic 401 with the reason in the login audit trail, no sooner than the
//! refusal floor after the request came in (as the verifier's refusals). The consent page
//! between them is the web UI's (`ui::consent`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tessera_core::store::LoginAttempt;
use tessera_core::{Detail, FlowOutcome};

use super::admission::{Presented, refused_early};
use crate::AppState;
use crate::edge::Received;
use crate::wire::{self, Surface};

const SURFACE: Surface = Surface::AuthorizationFlow;

/// `POST /rest/requesttoken`, signed with the consumer key and `enc(consumer secret)&`, with
/// `oauth_callback`: `oauth_token=…&oauth_token_secret=…&oauth_callback_confirmed=true`.
pub(crate) async fn request_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    step(&state, peer, request, Step::RequestToken).await
}

/// `POST /rest/accesstoken`, signed with the consumer key, the authorized request token and
/// `enc(consumer secret)&enc(request token secret)`, with `oauth_verifier`:
/// `oauth_token=…&oauth_token_secret=…`, shown this once.
pub(crate) async fn access_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    step(&state, peer, request, Step::AccessToken).await
}

#[derive(Clone, Copy)]
enum Step {
    RequestToken,
    AccessToken,
}

async fn step(state: &AppState, peer: SocketAddr, request: Request, step: Step) -> Response {
    let started = tokio::time::Instant::now();
    let received = match Received::read(state, peer, request).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let presented = Presented::as_sent(state, &received, SURFACE);
    let context = &presented.context;
    let signed = match presented.signed_request() {
        Ok(signed) => signed,
        Err(refusal) => {
            let outcome = refused_early(state, context, SURFACE, refusal).await;
            return match outcome {
                tessera_core::verifier::Outcome::Malformed { .. } => wire::malformed(),
                _ => floored(state, started).await,
            };
        }
    };
    let profile = state.verifier().config().profile;
    let tessera = state.tessera();
    let answer = match step {
        Step::RequestToken => tessera
            .issue_request_token(&signed, &profile)
            .await
            .map(|outcome| {
                outcome_with(outcome, |issued| {
                    let body = form(&[
                        ("oauth_token", issued.token_id.as_str()),
                        ("oauth_token_secret", issued.token_secret.expose()),
                        ("oauth_callback_confirmed", "true"),
                    ]);
                    (issued.attempt(context), body)
                })
            }),
        Step::AccessToken => {
            tessera
                .exchange_request_token(&signed, &profile)
                .await
                .map(|outcome| {
                    outcome_with(outcome, |exchanged| {
                        let c = &exchanged.credentials;
                        let body = form(&[
                            ("oauth_token", c.token_id.as_str()),
                            ("oauth_token_secret", c.token_secret.expose()),
                        ]);
                        (exchanged.attempt(context), body)
                    })
                })
        }
    };
    match answer {
        Ok(FlowOutcome::Granted((row, body))) => {
            state.verifier().record_attempt(row).await;
            crate::observe::request(SURFACE, Detail::Success.as_str(), None);
            (
                [
                    (header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                body,
            )
                .into_response()
        }
        Ok(FlowOutcome::Refused(refusal)) => {
            record(state, refusal.attempt(context)).await;
            floored(state, started).await
        }
        Ok(FlowOutcome::Malformed(why)) => {
            let row = context.attempt(false, Detail::MalformedRequest, &why);
            record(state, row).await;
            wire::malformed()
        }
        Err(e) => {
            tracing::error!(error = %tessera_core::Chain(&e), "the authorization flow failed");
            crate::observe::request(SURFACE, "Unavailable", None);
            wire::unavailable()
        }
    }
}

/// The granted half of an outcome mapped to its audit row and answer body.
fn outcome_with<T>(
    outcome: FlowOutcome<T>,
    grant: impl FnOnce(T) -> (LoginAttempt, String),
) -> FlowOutcome<(LoginAttempt, String)> {
    match outcome {
        FlowOutcome::Granted(t) => FlowOutcome::Granted(grant(t)),
        FlowOutcome::Refused(r) => FlowOutcome::Refused(r),
        FlowOutcome::Malformed(m) => FlowOutcome::Malformed(m),
    }
}

async fn record(state: &AppState, row: LoginAttempt) {
    let detail = row.detail;
    state.verifier().record_attempt(row).await;
    tracing::debug!(detail = detail.as_str(), "authorization flow refused");
    crate::observe::request(SURFACE, detail.as_str(), None);
}

/// The generic 401, no sooner than the refusal floor after the request came in: its time does
/// not tell an unknown consumer key from a wrong signature.
async fn floored(state: &AppState, started: tokio::time::Instant) -> Response {
    tokio::time::sleep_until(started + state.verifier().config().refusal_floor).await;
    wire::invalid_login(SURFACE)
}

/// An `application/x-www-form-urlencoded` answer (RFC 5849 §2.1).
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={}", tessera_oauth1::encode::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}
