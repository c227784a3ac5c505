//! `/api/v1/audit` (the Login Audit Trail) and the system notes of records (R15).

use axum::Json;
use axum::extract::{Path, State};
use tessera_api::audit::{
    AttemptNamed, AttemptPage, AttemptView, AuditParams, NoteView, SignatureCaptureView,
    SignatureDebug, SignatureDebugView,
};
use tessera_core::ids::{IntegrationId, RoleId, TokenKey, UserId};
use tessera_core::model::{RecordRef, SystemNote, Timestamp};
use tessera_core::store::{AttemptQuery, LoginAttempt};

use super::{ApiError, Caller, ErrorBody};
use crate::AppState;
use tessera_core::Detail;

const DEFAULT_LIMIT: u32 = 100;

fn named(id: Option<i64>, name: Option<String>) -> Option<AttemptNamed> {
    id.map(|id| AttemptNamed { id, name })
}

/// An attempt as the API shows it.
fn attempt_view(a: LoginAttempt) -> AttemptView {
    AttemptView {
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
        signature_capture: a.has_signature_capture,
    }
}

fn time(value: Option<&str>, name: &str) -> Result<Option<Timestamp>, ApiError> {
    value
        .map(|v| Timestamp::parse_rfc3339(v).map_err(|e| ApiError::invalid(name, e.to_string())))
        .transpose()
}

/// The Login Audit Trail of the caller's account: every signed request, accepted or refused,
/// with its Detail. Needs the Administrator role or the Login Audit Trail permission.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditParams),
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
    let params: AuditParams = caller.params()?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    let query = AttemptQuery {
        account: None,
        success: params.success,
        detail: params
            .detail
            .as_deref()
            .map(|code| {
                Detail::parse(code).ok_or_else(|| {
                    ApiError::invalid("detail", format!("{code:?} is not a Detail code"))
                })
            })
            .transpose()?,
        token: params.token.map(TokenKey::new),
        user: params.user.map(UserId::new),
        role: params.role.map(RoleId::new),
        integration: params.application.map(IntegrationId::new),
        token_name: params.token_name,
        from: time(params.from.as_deref(), "from")?,
        to: time(params.to.as_deref(), "to")?,
        before_id: params.before,
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
        items: attempts.into_iter().map(attempt_view).collect(),
        next,
    }))
}

/// A system note as the API shows it.
fn note_view(n: SystemNote) -> NoteView {
    NoteView {
        at: n.at.to_rfc3339(),
        account: n.account.as_str().to_owned(),
        by: n.actor_name,
        context: n.context.code().to_owned(),
        record: match n.record {
            RecordRef::Integration(_) => "integration",
            RecordRef::Installation(..) => "installation",
            RecordRef::Token(_) => "token",
        }
        .to_owned(),
        field: n.field,
        old_value: n.old_value,
        new_value: n.new_value,
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
    caller.no_params()?;
    let key = TokenKey::parse(&id).map_err(|e| ApiError::invalid("id", e.to_string()))?;
    let notes = state
        .tessera()
        .system_notes(&caller.actor, &RecordRef::Token(key))
        .await?;
    Ok(Json(notes.into_iter().map(note_view).collect()))
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
    caller.no_params()?;
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
    Ok(Json(notes.into_iter().map(note_view).collect()))
}

/// What the signature debugger kept with a refused signature's audit row: the base string the
/// server computed (credentials masked) and how it read the request. Needs the Administrator
/// role or the Login Audit Trail permission; rows of other accounts are not found.
#[utoipa::path(
    get,
    path = "/api/v1/audit/{id}/signature",
    tag = "audit",
    params(("id" = i64, Path, minimum = 1, description = "The audit row's id")),
    responses(
        (status = 200, description = "What was kept", body = SignatureCaptureView),
        (status = 403, description = "The caller may not read the login audit trail", body = ErrorBody),
        (status = 404, description = "No such row with a capture in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn signature_capture(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<SignatureCaptureView>, ApiError> {
    caller.no_params()?;
    let id =
        id.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
            ApiError::invalid("id", "must be an audit row's id (a positive integer)")
        })?;
    let c = state.tessera().signature_capture(&caller.actor, id).await?;
    Ok(Json(SignatureCaptureView {
        base_string: c.base_string,
        truncated: c.truncated,
        scheme: c.scheme,
        query_params: c.query_params,
        form_params: c.form_params,
        form_body_signed: c.form_body_signed,
        realm_sent: c.realm_sent,
        body_hash_sent: c.body_hash_sent,
    }))
}

/// Opens or closes the signature debugger of a token or an integration record.
pub(crate) async fn set_signature_debug(
    state: &AppState,
    caller: &Caller,
    target: tessera_core::DebugTarget,
) -> Result<Json<SignatureDebugView>, ApiError> {
    caller.no_params()?;
    let body: SignatureDebug = caller.json()?;
    let until = state
        .tessera()
        .set_signature_debug(&caller.actor, target, body.minutes)
        .await?;
    Ok(Json(SignatureDebugView {
        until: until.map(|t| t.to_rfc3339()),
    }))
}
