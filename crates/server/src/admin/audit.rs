//! `/api/v1/audit` (the Login Audit Trail) and the system notes of records (R15).

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use tessera_core::ids::{IntegrationId, RoleId, TokenKey, UserId};
use tessera_core::model::{RecordRef, SystemNote, Timestamp};
use tessera_core::store::{AttemptQuery, LoginAttempt};
use utoipa::ToSchema;

use super::{ApiError, Caller, ErrorBody};
use crate::AppState;
use tessera_core::Detail;

const DEFAULT_LIMIT: u32 = 100;

/// Something an attempt named, by internal id and the name it had then.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Named {
    id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

fn named(id: Option<i64>, name: Option<String>) -> Option<Named> {
    id.map(|id| Named { id, name })
}

/// One login attempt, as recorded when it was made. Never a secret or a signature.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttemptView {
    /// Pass as `before` to read on from here.
    id: i64,
    /// RFC 3339, UTC.
    at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<Named>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Named>,
    #[serde(skip_serializing_if = "Option::is_none")]
    application: Option<Named>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<Named>,
    ip: String,
    user_agent: String,
    method: String,
    /// `oauth_*` query values are masked.
    request_uri: String,
    /// `restlet`, `rest`, `verify`, `forward-auth`, `admin-api`, …
    surface: String,
    success: bool,
    /// The Detail code (SPEC §3.1; every code is listed in the `detail` filter's description).
    detail: String,
    /// What an administrator needs to fix a failure.
    detail_note: String,
}

impl From<LoginAttempt> for AttemptView {
    fn from(a: LoginAttempt) -> Self {
        Self {
            id: a.id.unwrap_or_default(),
            at: a.at.to_rfc3339(),
            account: a.account.map(|x| x.as_str().to_owned()),
            user: named(a.user.map(UserId::get), a.user_name),
            email: a.email,
            role: named(a.role.map(RoleId::get), a.role_name),
            application: named(a.integration.map(IntegrationId::get), a.application_name),
            token: named(a.token.map(TokenKey::get), a.token_name),
            ip: a.ip,
            user_agent: a.user_agent,
            method: a.method,
            request_uri: a.request_uri,
            surface: a.surface,
            success: a.success,
            detail: a.detail.as_str().to_owned(),
            detail_note: a.detail_note,
        }
    }
}

/// A page of the trail, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttemptPage {
    items: Vec<AttemptView>,
    /// Pass as `before` for the next (older) page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<i64>,
}

const AUDIT_PARAMS: &[&str] = &[
    "success",
    "detail",
    "user",
    "role",
    "application",
    "token",
    "token_name",
    "from",
    "to",
    "before",
    "limit",
];

fn time(params: &super::Params, name: &str) -> Result<Option<Timestamp>, ApiError> {
    params
        .text(name)
        .map(|v| Timestamp::parse_rfc3339(v).map_err(|e| ApiError::invalid(name, e.to_string())))
        .transpose()
}

/// The Login Audit Trail of the caller's account: every signed request, accepted or refused,
/// with its Detail. Needs the Administrator role or the Login Audit Trail permission.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(
        ("success" = Option<bool>, Query, description = "Only successes (`true`) or only failures (`false`)"),
        ("detail" = Option<String>, Query, description = "A Detail code: Success, InvalidSignature, InvalidTimestamp, nonce_rejected, nonce_used, InvalidToken, TokenRevoked, TokenInactive, consumer_key_unknown, consumer_key_refused, FeatureDisabled, EntityOrRoleDisabled, RoleNotAllowed, InvalidRealm, UnsupportedSignatureMethod, InvalidVersion, MissingRequiredParameter, MissingTokenPassportRequiredFields, MalformedRequest, ConcurrencyLimitExceeded, IntegrationBlocked, InvalidCredentials, TooManyAttempts (tessera_oauth1::Detail)"),
        ("user" = Option<i64>, Query, description = "Internal id of a user"),
        ("role" = Option<i64>, Query, description = "Internal id of a role"),
        ("application" = Option<i64>, Query, description = "Internal id of an integration record"),
        ("token" = Option<i64>, Query, description = "Internal id of a token"),
        ("token_name" = Option<String>, Query, description = "Part of the token's name"),
        ("from" = Option<String>, Query, description = "RFC 3339: attempts at or after"),
        ("to" = Option<String>, Query, description = "RFC 3339: attempts before"),
        ("before" = Option<i64>, Query, description = "The `next` of the previous page"),
        ("limit" = Option<u32>, Query, description = "Rows per page, 1–1000 (default 100)"),
    ),
    responses(
        (status = 200, description = "A page of attempts, newest first", body = AttemptPage),
        (status = 400, description = "A parameter is invalid (named in `field`)", body = ErrorBody),
        (status = 403, description = "Needs the Administrator role or Login Audit Trail", body = ErrorBody),
    )
)]
pub(crate) async fn login_audit_trail(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AttemptPage>, ApiError> {
    let params = caller.params(AUDIT_PARAMS)?;
    let limit = params
        .parsed::<u32>("limit", "a number of rows, 1–1000")?
        .unwrap_or(DEFAULT_LIMIT);
    let query = AttemptQuery {
        account: None,
        success: params.choice("success", &[("true", true), ("false", false)])?,
        detail: params
            .text("detail")
            .map(|code| {
                Detail::parse(code).ok_or_else(|| {
                    ApiError::invalid("detail", format!("{code:?} is not a Detail code"))
                })
            })
            .transpose()?,
        token: params.id("token", TokenKey::parse)?,
        user: params.id("user", UserId::parse)?,
        role: params.id("role", RoleId::parse)?,
        integration: params.id("application", IntegrationId::parse)?,
        token_name: params.text("token_name").map(str::to_owned),
        from: time(&params, "from")?,
        to: time(&params, "to")?,
        before_id: params.parsed::<i64>("before", "the `next` of a previous page")?,
        limit,
    };
    let attempts = state
        .tessera()
        .login_audit_trail(&caller.actor, query)
        .await?;
    let next = (attempts.len() == limit as usize)
        .then(|| attempts.last().and_then(|a| a.id))
        .flatten();
    Ok(Json(AttemptPage {
        items: attempts.into_iter().map(AttemptView::from).collect(),
        next,
    }))
}

/// One line of a record's change history (R15). Values are display text; never a secret.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NoteView {
    /// RFC 3339, UTC.
    at: String,
    /// The account in which the change was made.
    account: String,
    /// Who made it (a user's name, or "System").
    by: String,
    /// `UI`, `API`, `CLI` or `Endpoint`.
    context: &'static str,
    /// `integration`, `installation` or `token`.
    record: &'static str,
    field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    old_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_value: Option<String>,
}

impl From<SystemNote> for NoteView {
    fn from(n: SystemNote) -> Self {
        Self {
            at: n.at.to_rfc3339(),
            account: n.account.as_str().to_owned(),
            by: n.actor_name,
            context: n.context.code(),
            record: match n.record {
                RecordRef::Integration(_) => "integration",
                RecordRef::Installation(..) => "installation",
                RecordRef::Token(_) => "token",
            },
            field: n.field,
            old_value: n.old_value,
            new_value: n.new_value,
        }
    }
}

/// The system notes of a token, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/tokens/{id}/notes",
    tag = "tokens",
    params(("id" = i64, Path, minimum = 1, description = "The token's internal id")),
    responses(
        (status = 200, description = "The token's history", body = Vec<NoteView>),
        (status = 404, description = "No such token visible to the caller", body = ErrorBody),
    )
)]
pub(crate) async fn token_notes(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Vec<NoteView>>, ApiError> {
    caller.params(&[])?;
    let key = TokenKey::parse(&id).map_err(|e| ApiError::invalid("id", e.to_string()))?;
    let notes = state
        .tessera()
        .system_notes(&caller.actor, &RecordRef::Token(key))
        .await?;
    Ok(Json(notes.into_iter().map(NoteView::from).collect()))
}

/// The system notes of an integration record and of its installation in the caller's
/// account, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/{id}/notes",
    tag = "integrations",
    params(("id" = i64, Path, minimum = 1, description = "The record's internal id")),
    responses(
        (status = 200, description = "The record's history and this account's installation's", body = Vec<NoteView>),
        (status = 404, description = "No such record installed in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn integration_notes(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Vec<NoteView>>, ApiError> {
    caller.params(&[])?;
    let id = IntegrationId::parse(&id).map_err(|e| ApiError::invalid("id", e.to_string()))?;
    let tessera = state.tessera();
    let mut notes = tessera
        .system_notes(&caller.actor, &RecordRef::Integration(id))
        .await?;
    let account = caller.admitted.identity.account.clone();
    notes.extend(
        tessera
            .system_notes(&caller.actor, &RecordRef::Installation(id, account))
            .await?,
    );
    // Stable: notes of one moment keep the order they were written in.
    notes.sort_by_key(|n| n.at);
    Ok(Json(notes.into_iter().map(NoteView::from).collect()))
}
