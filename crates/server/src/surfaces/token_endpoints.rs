//! NetSuite's token endpoints (RULES.md §4): `GET /rest/issuetoken` (NLAuth: email and password)
//! and `GET /rest/revoketoken` (TBA-signed). Both answer in the RESTlet style; refusals are the
//! generic 401, with the reason in the login audit trail.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera_core::ids::{AccountId, ConsumerKey, Email, RoleId};
use tessera_core::model::Context;
use tessera_core::store::LoginAttempt;
use tessera_core::verifier::RequestContext;
use tessera_core::{Actor, IssueRefusal, IssueTokenInput};
use tessera_oauth1::nlauth::NlAuth;

use super::admission::admit;
use tessera_api::ErrorCode;

use crate::AppState;
use crate::edge::Received;
use crate::form::{Fields, FormError};
use crate::signin::{self, PasswordAttempt};
use crate::wire::{self, Surface};

/// The query of a token endpoint, decoded; unknown names are ignored as NetSuite does. A query
/// that cannot be decoded is a malformed request (`wire::malformed`).
fn query(received: &Received) -> Result<Fields, FormError> {
    Fields::parse(received.query().as_bytes())
}

fn missing(name: &str) -> Response {
    wire::api_error(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRequest,
        format!("the {name} query parameter is required"),
    )
}

/// `GET /rest/issuetoken?consumerKey=…[&name=…]` with `Authorization: NLAuth …`:
/// `{"tokenId": …, "tokenSecret": …}`, shown this once.
pub(crate) async fn issue_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let received = match Received::read(&state, peer, request).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let context = received.context_for(&state, Surface::TokenEndpoint);
    let query = match query(&received) {
        Ok(q) => q,
        Err(_) => return wire::malformed(),
    };
    let Some(consumer_key) = query.get("consumerKey") else {
        return missing("consumerKey");
    };
    // Everything that can be refused without the password is refused first: once the password
    // is checked, every answer but a token is the same generic 401 (no oracle for a guess).
    let name = match query
        .get("name")
        .map(tessera_core::check_token_name)
        .transpose()
    {
        Ok(name) => name,
        Err(e) => return wire::invalid_field("name", e.to_string()),
    };
    let nlauth = match read_nlauth(&state, &received, &context, NlAuth::parse).await {
        Ok(n) => n,
        Err(response) => return response,
    };
    let Ok(role) = nlauth.role.as_deref().map(RoleId::parse).transpose() else {
        return wire::invalid_field("nlauth_role", "nlauth_role must be a role's internal id");
    };
    let Ok(consumer_key) = ConsumerKey::parse(consumer_key) else {
        return wire::invalid_field(
            "consumerKey",
            "consumerKey must be 64 lower-case hexadecimal characters",
        );
    };
    let attempt = PasswordAttempt {
        account: &nlauth.account,
        email: &nlauth.email,
        password: &nlauth.password,
        device: None,
    };
    let signed_in = match signin::check(&state, &context, attempt).await {
        Ok(Ok(signed_in)) => signed_in,
        Ok(Err(_)) => {
            crate::observe::request(Surface::TokenEndpoint, "Refused", None);
            return wire::invalid_login(Surface::TokenEndpoint);
        }
        Err(e) => {
            tracing::error!(error = %tessera_core::Chain(&e), "issuetoken failed");
            return wire::unavailable();
        }
    };
    let (account, email) = (signed_in.account.clone(), signed_in.email.clone());
    let input = IssueTokenInput {
        account: account.clone(),
        user: signed_in.user.clone(),
        role,
        consumer_key,
        name,
    };
    match state.tessera().issue_token(input).await {
        Ok(Ok(issued)) => {
            signed_in.logged_in(&state);
            let t = &issued.token;
            let mut row = context.attempt(true, tessera_core::Detail::Success, "");
            row.account = Some(account);
            row.user = Some(t.token.user);
            row.user_name = Some(t.user_name.clone());
            row.email = Some(email.as_str().to_owned());
            row.role = Some(t.token.role);
            row.role_name = Some(t.role_name.clone());
            row.integration = Some(t.token.integration);
            row.application_name = Some(t.application_name.clone());
            row.token = Some(t.token.key);
            row.token_name = Some(t.token.name.clone());
            state.verifier().record_attempt(row).await;
            crate::observe::request(
                Surface::TokenEndpoint,
                tessera_core::Detail::Success.as_str(),
                None,
            );
            Json(json!({
                "tokenId": issued.credentials.token_id.as_str(),
                "tokenSecret": issued.credentials.token_secret.expose(),
            }))
            .into_response()
        }
        Ok(Err(refusal)) => {
            let row = refused_row(&context, &refusal);
            refused(&state, asked_by(row, &account, &email)).await
        }
        Err(e) => {
            tracing::error!(error = %tessera_core::Chain(&e), "issuetoken failed");
            wire::unavailable()
        }
    }
}

/// The request's `Authorization: NLAuth …` header, parsed by `parse`; one that is missing or
/// cannot be read is recorded (`MalformedRequest`) and answered 400. The NLAuth endpoints'
/// (issuetoken, `/rest/roles`) one reader.
pub(crate) async fn read_nlauth(
    state: &AppState,
    received: &Received,
    context: &RequestContext,
    parse: fn(&str) -> Result<NlAuth, tessera_oauth1::nlauth::NlAuthError>,
) -> Result<NlAuth, Response> {
    match received
        .authorization_value()
        .ok_or(tessera_oauth1::nlauth::NlAuthError::NotNlAuth)
        .and_then(parse)
    {
        Ok(n) => Ok(n),
        Err(e) => {
            let row = context.attempt(
                false,
                tessera_core::Detail::MalformedRequest,
                &e.to_string(),
            );
            state.verifier().record_attempt(row).await;
            Err(wire::malformed())
        }
    }
}

/// The account and email an NLAuth header named, on its audit row.
fn asked_by(mut row: LoginAttempt, account: &AccountId, email: &Email) -> LoginAttempt {
    row.account = Some(account.clone());
    row.email = Some(email.as_str().to_owned());
    row
}

/// Records a refused issuetoken request and answers it with the generic 401.
async fn refused(state: &AppState, row: LoginAttempt) -> Response {
    let detail = row.detail;
    state.verifier().record_attempt(row).await;
    tracing::debug!(detail = detail.as_str(), "issuetoken refused");
    crate::observe::request(Surface::TokenEndpoint, detail.as_str(), None);
    wire::invalid_login(Surface::TokenEndpoint)
}

fn refused_row(context: &RequestContext, refusal: &IssueRefusal) -> LoginAttempt {
    let mut row = context.attempt(false, refusal.detail, &refusal.note);
    if let Some(user) = &refusal.user {
        row.user = Some(user.id);
        row.user_name = Some(user.name.clone());
    }
    row.role = refusal.role;
    if let Some((id, name)) = &refusal.integration {
        row.integration = Some(*id);
        row.application_name = Some(name.clone());
    }
    row
}

/// `GET /rest/revoketoken?consumerKey=…&token=…`, signed with that consumer key and token:
/// revokes the token (the caller's own, R12), effective before this returns.
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let admitted = match admit(&state, peer, request, Surface::TokenEndpoint).await {
        Ok(a) => a,
        Err(response) => return response,
    };
    let received = &admitted.received;
    let query = match query(received) {
        Ok(q) => q,
        Err(_) => return wire::malformed(),
    };
    let (consumer_key, token) = match (query.get("consumerKey"), query.get("token")) {
        (Some(k), Some(t)) => (k.to_owned(), t.to_owned()),
        (None, _) => return missing("consumerKey"),
        (_, None) => return missing("token"),
    };
    // The request verified, so its header parses; these are the credentials it was signed with.
    let signed_with = received.authorization_value().and_then(|value| {
        let header = tessera_oauth1::header::AuthorizationHeader::parse(value).ok()?;
        let params = tessera_oauth1::verify::ProtocolParams::from_header(&header).ok()?;
        Some((params.consumer_key.to_owned(), params.token?.to_owned()))
    });
    if signed_with != Some((consumer_key, token)) {
        return wire::api_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            "consumerKey and token must be the consumer key and token the request is signed with",
        );
    }
    let identity = &admitted.identity;
    let actor = Actor::user(
        &identity.account,
        identity.user,
        identity.role,
        Context::Endpoint,
    );
    match state.tessera().revoke_token(&actor, identity.token).await {
        Ok(_) => Json(json!({"revoked": true})).into_response(),
        Err(e) => {
            tracing::error!(error = %tessera_core::Chain(&e), "revoketoken failed");
            wire::unavailable()
        }
    }
}
