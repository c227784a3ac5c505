//! The verification API (`POST /api/v1/verify`, RULES.md §4) for trusted services: they describe a
//! request they received, Tessera verifies it as it verifies its own surfaces (replay claim,
//! revocation, audit trail) and says who is calling or, since the caller is trusted, why not.

use std::borrow::Cow;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tessera_core::Detail;
use tessera_core::verifier::Outcome;
use tessera_oauth1::RequestUrl;
use tessera_oauth1::url::UrlError;

use super::admission::{Presented, SentTo, verify};
use super::answers::{IdentityView, json_response};
use super::trusted::{TrustedCaller, read_from_trusted_service};
use tessera_api::ErrorCode;

use crate::AppState;
use crate::edge::Received;
use crate::edge::received::is_form_content_type;
use crate::wire::{self, Surface};

/// The request's headers: an object, or a list of `[name, value]` pairs (for repeated names).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum HeaderList {
    Map(std::collections::BTreeMap<String, String>),
    Pairs(Vec<(String, String)>),
}

/// A request another service received, to verify as Tessera would.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyInput {
    /// The request's method.
    method: String,
    /// The absolute URL the client sent the request to, query included, as sent.
    url: String,
    #[serde(default)]
    headers: Option<HeaderList>,
    /// The raw body; signed when the content type is form-urlencoded.
    #[serde(default)]
    body: Option<String>,
    /// Overrides the Content-Type found in `headers`.
    #[serde(default)]
    content_type: Option<String>,
}

/// A verified request: who is calling.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct VerifyValid<'a> {
    #[serde(flatten)]
    identity: IdentityView<'a>,
    /// `true`.
    valid: bool,
}

/// A refused request: why (the Detail code of RULES.md §3.1) and a note for people.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct VerifyRefused {
    /// `false`.
    valid: bool,
    detail: String,
    message: String,
}

/// The verification API's answer, for the OpenAPI document: one of the two.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Described, not built: the handler serializes the variants themselves.
pub(crate) enum VerifyAnswer<'a> {
    Valid(VerifyValid<'a>),
    Refused(VerifyRefused),
}

/// For trusted services: verifies a request they received, as Tessera verifies its own
/// surfaces (replay claim, revocation, audit trail), and says who is calling or why not.
#[utoipa::path(
    post,
    path = "/api/v1/verify",
    tag = "verification",
    request_body = VerifyInput,
    security(()),
    responses(
        (status = 200, description = "Verified (`valid: true` with the identity) or refused (`valid: false` with the Detail code)", body = VerifyAnswer),
        (status = 400, description = "The body is not a verification request", body = crate::admin::ErrorBody),
        (status = 403, description = "The caller is not a trusted service", body = crate::admin::ErrorBody),
    )
)]
pub(crate) async fn verify_api(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let received =
        match read_from_trusted_service(&state, peer, request, TrustedCaller::Client).await {
            Ok(r) => r,
            Err(response) => return response,
        };
    let input: VerifyInput = match serde_json::from_slice(&received.body) {
        Ok(input) => input,
        Err(e) => {
            return wire::api_error(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidJson,
                format!("the body must be a JSON object {{method, url, headers, body}}: {e}"),
            );
        }
    };
    let presented = match present(&state, &received, input) {
        Ok(p) => p,
        Err(e) => return wire::invalid_field("url", e.to_string()),
    };
    match verify(&state, Surface::VerifyApi, &presented).await {
        Ok(outcome) => answer(outcome),
        Err(unavailable) => unavailable,
    }
}

/// The request the body describes; `Err` when its URL is not an absolute http(s) URL.
fn present<'a>(
    state: &AppState,
    received: &Received,
    input: VerifyInput,
) -> Result<Presented<'a>, UrlError> {
    let url = RequestUrl::parse(&input.url)?;
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let headers: Vec<(String, String)> = match input.headers {
        None => Vec::new(),
        Some(HeaderList::Map(m)) => m.into_iter().collect(),
        Some(HeaderList::Pairs(p)) => p,
    };
    let authorization =
        tessera_oauth1::header::find_authorization(headers.iter().map(|(n, v)| (&n[..], &v[..])))
            .map(|a| a.map(|value| Cow::Owned(value.to_owned())))
            .map_err(|e| e.to_string());
    let content_type = input.content_type.as_deref().or_else(|| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str())
    });
    Ok(Presented {
        form: is_form_content_type(content_type),
        context: received.context(state, Surface::VerifyApi, &input.method, &path_and_query),
        method: Cow::Owned(input.method),
        sent_to: SentTo::Url(Cow::Owned(input.url)),
        authorization,
        body: Cow::Owned(input.body.unwrap_or_default().into_bytes()),
    })
}

/// The caller is trusted: it is told the Detail code and the note of a refusal.
fn answer(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Accepted(identity) => json_response(
            StatusCode::OK,
            &VerifyValid {
                identity: IdentityView::of(&identity),
                valid: true,
            },
        ),
        Outcome::Refused(r) => refused(r.detail, r.note),
        Outcome::Malformed { why } => refused(Detail::MalformedRequest, why),
    }
}

fn refused(detail: Detail, message: String) -> Response {
    json_response(
        StatusCode::OK,
        &VerifyRefused {
            valid: false,
            detail: detail.as_str().to_owned(),
            message,
        },
    )
}
