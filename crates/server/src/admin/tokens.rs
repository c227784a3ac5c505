//! `/api/v1/tokens`: the Access Tokens page as an API (RULES.md §2: R1, R6–R8, R12).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_api::tokens::{
    BulkConfirm, BulkPreviewView, BulkResultView, CreatedToken, Named, NewToken, RevokedChoice,
    TokenChanges, TokenFilterParams, TokenListParams, TokenPageView, TokenSortChoice, TokenView,
};
use tessera_core::ids::{IntegrationId, RoleId, TokenKey, UserId};
use tessera_core::model::{Timestamp, TokenListItem};
use tessera_core::store::{RevokedFilter, TokenCursor, TokenFilter, TokenSort};
use tessera_core::{BULK_MAX, BulkAction, NewTokenInput, TimeFilters};

use super::{ApiError, Caller, ErrorBody};
use crate::AppState;

/// Rows per page when the caller does not say.
const DEFAULT_LIMIT: u32 = 50;

/// A token as the API shows it.
pub(crate) fn token_view(item: TokenListItem) -> TokenView {
    let t = item.token;
    let expired = t.is_expired_at(Timestamp::now());
    TokenView {
        id: t.key.get(),
        name: t.name,
        account: t.account.as_str().to_owned(),
        application: Named {
            id: t.integration.get(),
            name: item.application_name,
        },
        user: Named {
            id: t.user.get(),
            name: item.user_name,
        },
        role: Named {
            id: t.role.get(),
            name: item.role_name,
        },
        inactive: t.inactive,
        revoked: t.revoked.is_some(),
        revoked_at: t.revoked.as_ref().map(|r| r.at.to_rfc3339()),
        revoked_by: t.revoked.map(|r| r.by_name),
        created_at: t.created_at.to_rfc3339(),
        created_by: t.created_by_name,
        last_used_at: t.last_used_at.map(|at| at.to_rfc3339()),
        last_used_from: t.last_used_from,
        expires_at: t.expires_at.map(|at| at.to_rfc3339()),
        expired,
        signature_debug_until: t
            .signature_debug_until
            .filter(|until| *until > Timestamp::now())
            .map(|until| until.to_rfc3339()),
    }
}

/// The list's filters as the domain takes them (shared by the list and bulk changes).
fn token_filter(params: &TokenListParams) -> Result<TokenFilter, ApiError> {
    let mut filter = TokenFilter {
        revoked: match params.revoked.unwrap_or(RevokedChoice::All) {
            RevokedChoice::All => RevokedFilter::All,
            RevokedChoice::Yes => RevokedFilter::Yes,
            RevokedChoice::No => RevokedFilter::No,
        },
        inactive: params.inactive,
        integration: params.application.map(IntegrationId::new),
        user: params.user.map(UserId::new),
        role: params.role.map(RoleId::new),
        search: params.search.clone(),
        ..TokenFilter::default()
    };
    TimeFilters {
        expired: params.expired,
        expiring_within_days: params.expiring_within_days,
        unused_for_days: params.unused_for_days,
    }
    .apply(&mut filter, Timestamp::now())?;
    Ok(filter)
}

/// The Access Tokens list: every token of the account for a token manager, the caller's own
/// otherwise (R1, R12). Filters combine; pages follow `next`.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "tokens",
    params(TokenListParams),
    responses(
        (status = 200, description = "A page of tokens", body = TokenPageView),
        (status = 400, description = "A parameter is invalid (named in `field`)", body = ErrorBody),
        (status = 401, description = "The signature was refused; the reason is in the login audit trail", body = ErrorBody),
    )
)]
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<TokenPageView>, ApiError> {
    let params: TokenListParams = caller.params()?;
    let filter = token_filter(&params)?;
    let sort = match params.sort.unwrap_or(TokenSortChoice::Newest) {
        TokenSortChoice::Newest => TokenSort::NewestFirst,
        TokenSortChoice::Oldest => TokenSort::OldestFirst,
        TokenSortChoice::Name => TokenSort::Name,
    };
    let after = params
        .after
        .map(|v| {
            TokenCursor::decode(&v)
                .map_err(|_| ApiError::invalid("after", "is not a `next` this server gave"))
        })
        .transpose()?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    let page = state
        .tessera()
        .list_tokens(&caller.actor, filter, sort, after, limit)
        .await?;
    Ok(Json(TokenPageView {
        items: page.items.into_iter().map(token_view).collect(),
        next: page.next.map(|cursor| cursor.encode()),
    }))
}

const SHOWN_ONCE: &str = "The token id and secret are shown in this response only. Store them \
    now: they cannot be retrieved again. A lost secret means a new token.";

/// Creates an access token (R7, R12). The token id and secret are in this response only.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "tokens",
    request_body = NewToken,
    responses(
        (status = 201, description = "Created; the credentials are never shown again", body = CreatedToken),
        (status = 400, description = "A field is invalid (named in `field`)", body = ErrorBody),
        (status = 403, description = "The caller's role may not create this token (R12)", body = ErrorBody),
        (status = 404, description = "The application, user or role does not exist in the account", body = ErrorBody),
    )
)]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    caller.no_params()?;
    let input: NewToken = caller.json()?;
    let input = NewTokenInput {
        integration: IntegrationId::new(positive("application", input.application)?),
        user: UserId::new(positive("user", input.user)?),
        role: RoleId::new(positive("role", input.role)?),
        name: input.name,
        expires_at: new_token_expiry(input.expires_at.as_deref(), input.expires_in_days)?,
    };
    let (item, credentials) = state
        .tessera()
        .create_token(&caller.actor, input)
        .await
        .map_err(body_field)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: token_view(item),
            token_id: credentials.token_id.as_str().to_owned(),
            token_secret: credentials.token_secret.expose().to_owned(),
            warning: SHOWN_ONCE.to_owned(),
        }),
    ))
}

/// A new token's expiry as the body gives it: a time, or days from now by this server's clock
/// (so a client's clock cannot push it past the account's maximum).
fn new_token_expiry(at: Option<&str>, days: Option<u32>) -> Result<Option<Timestamp>, ApiError> {
    match (at, days) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "expires_in_days",
            "give expires_at or expires_in_days, not both",
        )),
        (Some(at), None) => Timestamp::parse_rfc3339(at).map(Some).map_err(|_| {
            ApiError::invalid(
                "expires_at",
                "must be an RFC 3339 time such as 2027-01-31T00:00:00Z",
            )
        }),
        (None, Some(d)) if d == 0 || d > tessera_core::LIFETIME_MAX_DAYS => Err(ApiError::invalid(
            "expires_in_days",
            format!("must be between 1 and {}", tessera_core::LIFETIME_MAX_DAYS),
        )),
        (None, Some(d)) => Ok(Some(Timestamp::now().plus_days(i64::from(d)))),
    }
}

/// The domain calls a token's name "token name"; in this API's bodies the field is `name`.
fn body_field(e: tessera_core::Error) -> ApiError {
    match e {
        tessera_core::Error::Invalid {
            field: "token name",
            why,
        } => ApiError::invalid("name", format!("invalid token name: {why}")),
        e => e.into(),
    }
}

fn positive(field: &str, id: i64) -> Result<i64, ApiError> {
    if id > 0 {
        Ok(id)
    } else {
        Err(ApiError::invalid(
            field,
            "must be an internal id (a positive integer)",
        ))
    }
}

fn token_key(id: &str) -> Result<TokenKey, ApiError> {
    TokenKey::parse(id).map_err(|e| ApiError::invalid("id", e.to_string()))
}

/// Views one token.
#[utoipa::path(
    get,
    path = "/api/v1/tokens/{id}",
    tag = "tokens",
    params(("id" = i64, Path, minimum = 1, description = "The token's internal id")),
    responses(
        (status = 200, description = "The token", body = TokenView),
        (status = 404, description = "No such token visible to the caller", body = ErrorBody),
    )
)]
pub(crate) async fn show_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<TokenView>, ApiError> {
    caller.no_params()?;
    let item = state
        .tessera()
        .token(&caller.actor, token_key(&id)?)
        .await?;
    Ok(Json(token_view(item)))
}

/// Renames a token and/or switches it inactive or active again (R8: a revoked token is read-only).
#[utoipa::path(
    patch,
    path = "/api/v1/tokens/{id}",
    tag = "tokens",
    params(("id" = i64, Path, minimum = 1, description = "The token's internal id")),
    request_body = TokenChanges,
    responses(
        (status = 200, description = "The token as changed", body = TokenView),
        (status = 400, description = "A field is invalid (named in `field`)", body = ErrorBody),
        (status = 404, description = "No such token visible to the caller", body = ErrorBody),
        (status = 409, description = "The token is revoked", body = ErrorBody),
    )
)]
pub(crate) async fn edit_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<TokenView>, ApiError> {
    caller.no_params()?;
    let key = token_key(&id)?;
    let changes: TokenChanges = caller.json()?;
    let tessera = state.tessera();
    let mut changed = None;
    if let Some(name) = &changes.name {
        changed = Some(
            tessera
                .rename_token(&caller.actor, key, name)
                .await
                .map_err(body_field)?,
        );
    }
    if let Some(inactive) = changes.inactive {
        changed = Some(
            tessera
                .set_token_inactive(&caller.actor, key, inactive)
                .await?,
        );
    }
    let item =
        changed.ok_or_else(|| ApiError::invalid("body", "give `name`, `inactive` or both"))?;
    Ok(Json(token_view(item)))
}

/// Revokes a token: permanent; it stays listed, read-only (R8).
#[utoipa::path(
    post,
    path = "/api/v1/tokens/{id}/revoke",
    tag = "tokens",
    params(("id" = i64, Path, minimum = 1, description = "The token's internal id")),
    responses(
        (status = 200, description = "The token, revoked; refused from now on", body = TokenView),
        (status = 404, description = "No such token visible to the caller", body = ErrorBody),
        (status = 409, description = "The token was already revoked", body = ErrorBody),
    )
)]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<TokenView>, ApiError> {
    caller.no_params()?;
    let item = state
        .tessera()
        .revoke_token(&caller.actor, token_key(&id)?)
        .await?;
    Ok(Json(token_view(item)))
}

/// A bulk change's filter: the list's, without its paging and order (a bulk change takes every
/// token it selects).
fn bulk_filter(caller: &Caller) -> Result<TokenFilter, ApiError> {
    let params: TokenFilterParams = caller.params()?;
    token_filter(&params.into())
}

fn bulk_action(action: &str) -> Result<BulkAction, ApiError> {
    BulkAction::from_code(action)
        .ok_or_else(|| ApiError::invalid("action", "must be revoke or inactivate"))
}

/// Previews a bulk change (R18): how many tokens the filter selects now for `revoke` or
/// `inactivate`, and the first 20. Changes nothing. Takes the list's filters.
#[utoipa::path(
    get,
    path = "/api/v1/tokens/bulk/{action}",
    tag = "tokens",
    params(
        ("action" = String, Path, description = "`revoke` (permanent) or `inactivate` (reversible)"),
        TokenFilterParams,
    ),
    responses(
        (status = 200, description = "What the change would do now", body = BulkPreviewView),
        (status = 400, description = "A parameter is invalid, or the filter selects more than 10,000 tokens", body = ErrorBody),
        (status = 403, description = "Other users' tokens need Access Token Management (R12)", body = ErrorBody),
    )
)]
pub(crate) async fn preview_bulk(
    State(state): State<AppState>,
    Path(action): Path<String>,
    caller: Caller,
) -> Result<Json<BulkPreviewView>, ApiError> {
    let action = bulk_action(&action)?;
    let filter = bulk_filter(&caller)?;
    let preview = state
        .tessera()
        .preview_bulk(&caller.actor, filter, action)
        .await?;
    Ok(Json(BulkPreviewView {
        action: action.code().to_owned(),
        count: preview.count,
        includes_caller: preview.selected.contains(&caller.admitted.identity.token),
        sample: preview.sample.into_iter().map(token_view).collect(),
        max: BULK_MAX,
    }))
}

/// Carries out a bulk change (R18): revokes, or makes inactive, every token the filter
/// selects, in one transaction with one system note per token — only if it still selects the
/// previewed `expected_count`. The tokens are refused from the moment this returns.
#[utoipa::path(
    post,
    path = "/api/v1/tokens/bulk/{action}",
    tag = "tokens",
    params(
        ("action" = String, Path, description = "`revoke` (permanent) or `inactivate` (reversible)"),
        TokenFilterParams,
    ),
    request_body = BulkConfirm,
    responses(
        (status = 200, description = "Done", body = BulkResultView),
        (status = 400, description = "A parameter is invalid, or the filter selects more than 10,000 tokens", body = ErrorBody),
        (status = 403, description = "Other users' tokens need Access Token Management (R12)", body = ErrorBody),
        (status = 409, description = "The filter selects another number of tokens by now (or some changed meanwhile); nothing was changed", body = ErrorBody),
    )
)]
pub(crate) async fn apply_bulk(
    State(state): State<AppState>,
    Path(action): Path<String>,
    caller: Caller,
) -> Result<Json<BulkResultView>, ApiError> {
    let action = bulk_action(&action)?;
    let filter = bulk_filter(&caller)?;
    let confirm: BulkConfirm = caller.json()?;
    let done = state
        .tessera()
        .apply_bulk(&caller.actor, filter, action, confirm.expected_count)
        .await?;
    Ok(Json(BulkResultView {
        action: action.code().to_owned(),
        changed: done.changed.len(),
        tokens: done.changed.iter().map(|k| k.get()).collect(),
    }))
}

/// Opens the signature debugger of a token for `minutes` (1–1440), or closes it (`0`): while
/// open, a request with this token refused as `InvalidSignature` keeps the base string the
/// server computed (credentials masked) with its audit row. Administrators and token managers.
#[utoipa::path(
    post,
    path = "/api/v1/tokens/{id}/signature-debug",
    tag = "tokens",
    params(("id" = i64, Path, minimum = 1, description = "The token's internal id")),
    request_body = tessera_api::audit::SignatureDebug,
    responses(
        (status = 200, description = "Open until, or closed", body = tessera_api::audit::SignatureDebugView),
        (status = 400, description = "`minutes` is out of range", body = ErrorBody),
        (status = 403, description = "Not an administrator or token manager", body = ErrorBody),
        (status = 404, description = "No such token visible to the caller", body = ErrorBody),
        (status = 409, description = "The token is revoked", body = ErrorBody),
    )
)]
pub(crate) async fn token_signature_debug(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<tessera_api::audit::SignatureDebugView>, ApiError> {
    let target = tessera_core::DebugTarget::Token(token_key(&id)?);
    super::audit::set_signature_debug(&state, &caller, target).await
}
