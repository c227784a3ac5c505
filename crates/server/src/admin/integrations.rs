//! `/api/v1/integrations`: Manage Integrations as an API (RULES.md §2: R2–R6, R10, R13).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_api::integrations::{
    Deleted, InstallableAccounts, InstallationView, IntegrationEdit, IntegrationListParams,
    IntegrationRecord, IntegrationWithCredentials, NewIntegration, ResetRequest,
};
use tessera_core::credentials::ConsumerCredentials;
use tessera_core::ids::IntegrationId;
use tessera_core::model::{AuthSwitches, InstallOrigin, InstallState};
use tessera_core::{
    InstallationChanges, IntegrationChanges, IntegrationView, NewIntegrationInput,
    ResetConfirmation,
};

use super::{ApiError, Caller, ErrorBody};
use crate::AppState;

/// A record as the API shows it to the caller's account.
pub(crate) fn integration_record(view: IntegrationView) -> IntegrationRecord {
    let i = view.integration;
    let inst = view.installation;
    IntegrationRecord {
        id: i.id.get(),
        application_id: i.application_id.to_string(),
        name: i.name,
        description: i.description,
        owner_account: i.owner.as_str().to_owned(),
        is_owner: view.is_owner,
        token_based_auth: i.switches.token_based_auth,
        tba_authorization_flow: i.switches.tba_authorization_flow,
        callback_url: i.switches.callback_url,
        tba_issuetoken_endpoint: i.switches.tba_issuetoken_endpoint,
        user_credentials: i.switches.user_credentials,
        has_credentials: i.has_credentials,
        created_at: i.created_at.to_rfc3339(),
        modified_at: i.modified_at.to_rfc3339(),
        installation: InstallationView {
            state: inst.state.code().to_owned(),
            note: inst.note,
            concurrency_limit: inst.concurrency_limit,
            origin: match inst.origin {
                InstallOrigin::Created => "created",
                InstallOrigin::Bundle => "bundle",
                InstallOrigin::Auto => "auto",
            }
            .to_owned(),
            installed_at: inst.installed_at.to_rfc3339(),
            ip_allow_list: inst.ip_allow.networks().collect(),
            signature_debug_until: inst
                .signature_debug_until
                .filter(|until| *until > tessera_core::model::Timestamp::now())
                .map(|until| until.to_rfc3339()),
            state_changed_at: inst.state_changed_at.to_rfc3339(),
            state_changed_by: inst.state_changed_by,
        },
    }
}

const SHOWN_ONCE: &str = "The consumer key and secret are shown in this response only. Store \
    them now: they cannot be retrieved again. A lost secret means resetting the credentials.";

/// A record with the credentials this call issued, if it issued any.
fn with_credentials(
    view: IntegrationView,
    credentials: Option<ConsumerCredentials>,
) -> IntegrationWithCredentials {
    {
        let (consumer_key, consumer_secret) = match credentials {
            Some(c) => (
                Some(c.consumer_key.as_str().to_owned()),
                Some(c.consumer_secret.expose().to_owned()),
            ),
            None => (None, None),
        };
        IntegrationWithCredentials {
            integration: integration_record(view),
            warning: consumer_key.as_ref().map(|_| SHOWN_ONCE.to_owned()),
            consumer_key,
            consumer_secret,
        }
    }
}

fn integration_id(id: &str) -> Result<IntegrationId, ApiError> {
    IntegrationId::parse(id).map_err(|e| ApiError::invalid("id", e.to_string()))
}

/// The records installed in the caller's account; blocked and waiting ones only with
/// `inactive=true` ("Show Inactives").
#[utoipa::path(
    get,
    path = "/api/v1/integrations",
    tag = "integrations",
    params(IntegrationListParams),
    responses(
        (status = 200, description = "The records, by name", body = Vec<IntegrationRecord>),
        (status = 400, description = "A parameter is invalid (named in `field`)", body = ErrorBody),
    )
)]
pub(crate) async fn list_integrations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<IntegrationRecord>>, ApiError> {
    let params: IntegrationListParams = caller.params()?;
    let inactive = params.inactive.unwrap_or(false);
    let views = state
        .tessera()
        .list_integrations(&caller.actor, inactive)
        .await?;
    Ok(Json(views.into_iter().map(integration_record).collect()))
}

/// Creates an integration record owned by the caller's account. With TBA on, the consumer key
/// and secret are in this response only.
#[utoipa::path(
    post,
    path = "/api/v1/integrations",
    tag = "integrations",
    request_body = NewIntegration,
    responses(
        (status = 201, description = "Created; credentials, if issued, are never shown again", body = IntegrationWithCredentials),
        (status = 400, description = "A field is invalid (named in `field`)", body = ErrorBody),
        (status = 403, description = "Only administrators (or Integration Application) create records", body = ErrorBody),
    )
)]
pub(crate) async fn create_integration(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, Json<IntegrationWithCredentials>), ApiError> {
    caller.no_params()?;
    let input: NewIntegration = caller.json()?;
    let input = NewIntegrationInput {
        name: input.name,
        description: input.description,
        switches: AuthSwitches {
            token_based_auth: input.token_based_auth,
            tba_authorization_flow: input.tba_authorization_flow,
            callback_url: input.callback_url,
            tba_issuetoken_endpoint: input.tba_issuetoken_endpoint,
            user_credentials: input.user_credentials,
        },
    };
    let (view, credentials) = state
        .tessera()
        .create_integration(&caller.actor, input)
        .await
        .map_err(switches_field)?;
    Ok((
        StatusCode::CREATED,
        Json(with_credentials(view, credentials)),
    ))
}

/// The domain reports the switches as one field; this API has them as fields of their own.
fn switches_field(e: tessera_core::Error) -> ApiError {
    match e {
        tessera_core::Error::Invalid {
            field: "switches",
            why,
        } => ApiError::invalid("tba_authorization_flow", why),
        e => e.into(),
    }
}

/// Views one record as installed in the caller's account.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/{id}",
    tag = "integrations",
    params(("id" = i64, Path, minimum = 1, description = "The record's internal id")),
    responses(
        (status = 200, description = "The record", body = IntegrationRecord),
        (status = 404, description = "No such record installed in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn show_integration(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<IntegrationRecord>, ApiError> {
    caller.no_params()?;
    let view = state
        .tessera()
        .integration(&caller.actor, integration_id(&id)?)
        .await?;
    Ok(Json(integration_record(view)))
}

/// Edits a record. Switching TBA on for the first time issues the consumer key and secret,
/// shown in this response only.
#[utoipa::path(
    patch,
    path = "/api/v1/integrations/{id}",
    tag = "integrations",
    params(("id" = i64, Path, minimum = 1, description = "The record's internal id")),
    request_body = IntegrationEdit,
    responses(
        (status = 200, description = "The record as changed", body = IntegrationWithCredentials),
        (status = 400, description = "A field is invalid (named in `field`)", body = ErrorBody),
        (status = 403, description = "Shared fields are edited by the owner account's administrators only (R13)", body = ErrorBody),
        (status = 404, description = "No such record installed in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn edit_integration(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<IntegrationWithCredentials>, ApiError> {
    caller.no_params()?;
    let id = integration_id(&id)?;
    let edit: IntegrationEdit = caller.json()?;
    let changes_installation =
        edit.note.is_some() || edit.concurrency_limit.is_some() || edit.ip_allow_list.is_some();
    let ip_allow = edit
        .ip_allow_list
        .as_deref()
        .map(super::allow_list)
        .transpose()?;
    // The record the caller's own token belongs to: its list must keep the caller's address.
    if let Some(list) = &ip_allow
        && caller.admitted.identity.integration == id
    {
        caller.keep_own_address(&state, list, "record's")?;
    }
    let tessera = state.tessera();
    let mut credentials = None;
    let mut view = None;
    if edit.changes_shared_fields() {
        // The switches go as one set: start from the record as it is.
        let current = tessera.integration(&caller.actor, id).await?.integration;
        let switches = AuthSwitches {
            token_based_auth: edit
                .token_based_auth
                .unwrap_or(current.switches.token_based_auth),
            tba_authorization_flow: edit
                .tba_authorization_flow
                .unwrap_or(current.switches.tba_authorization_flow),
            callback_url: edit.callback_url.or(current.switches.callback_url),
            tba_issuetoken_endpoint: edit
                .tba_issuetoken_endpoint
                .unwrap_or(current.switches.tba_issuetoken_endpoint),
            user_credentials: edit
                .user_credentials
                .unwrap_or(current.switches.user_credentials),
        };
        let changes = IntegrationChanges {
            name: edit.name,
            description: edit.description,
            switches: Some(switches),
        };
        let (changed, issued) = tessera
            .update_integration(&caller.actor, id, changes)
            .await
            .map_err(switches_field)?;
        view = Some(changed);
        credentials = issued;
    }
    if changes_installation {
        let changes = InstallationChanges {
            state: None,
            note: edit.note,
            concurrency_limit: edit.concurrency_limit,
            ip_allow,
        };
        view = Some(
            tessera
                .update_installation(&caller.actor, id, changes)
                .await?,
        );
    }
    let view =
        view.ok_or_else(|| ApiError::invalid("body", "give at least one field to change"))?;
    Ok(Json(with_credentials(view, credentials)))
}

async fn set_state(
    state: &AppState,
    caller: &Caller,
    id: IntegrationId,
    to: InstallState,
) -> Result<Json<IntegrationRecord>, ApiError> {
    let changes = InstallationChanges {
        state: Some(to),
        ..InstallationChanges::default()
    };
    let view = state
        .tessera()
        .update_installation(&caller.actor, id, changes)
        .await?;
    Ok(Json(integration_record(view)))
}

/// Blocks the record in the caller's account: its tokens are refused there until enabled.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/{id}/block",
    tag = "integrations",
    params(("id" = i64, Path, minimum = 1, description = "The record's internal id")),
    responses(
        (status = 200, description = "Blocked", body = IntegrationRecord),
        (status = 403, description = "Needs the Administrator role or Integration Application", body = ErrorBody),
        (status = 404, description = "No such record installed in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn block_integration(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<IntegrationRecord>, ApiError> {
    caller.no_params()?;
    set_state(&state, &caller, integration_id(&id)?, InstallState::Blocked).await
}

/// Enables the record in the caller's account (a blocked one, or one waiting for approval).
#[utoipa::path(
    post,
    path = "/api/v1/integrations/{id}/enable",
    tag = "integrations",
    params(("id" = i64, Path, minimum = 1, description = "The record's internal id")),
    responses(
        (status = 200, description = "Enabled", body = IntegrationRecord),
        (status = 403, description = "Needs the Administrator role or Integration Application", body = ErrorBody),
        (status = 404, description = "No such record installed in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn enable_integration(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<IntegrationRecord>, ApiError> {
    caller.no_params()?;
    set_state(&state, &caller, integration_id(&id)?, InstallState::Enabled).await
}

/// Approves a record that is waiting for approval in the caller's account (R14).
#[utoipa::path(
    post,
    path = "/api/v1/integrations/{id}/approve",
    tag = "integrations",
    params(("id" = i64, Path, minimum = 1, description = "The record's internal id")),
    responses(
        (status = 200, description = "Approved: enabled", body = IntegrationRecord),
        (status = 403, description = "Needs the Administrator role or Integration Application", body = ErrorBody),
        (status = 404, description = "No such record installed in the caller's account", body = ErrorBody),
        (status = 409, description = "The record is not waiting for approval", body = ErrorBody),
    )
)]
pub(crate) async fn approve_integration(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<IntegrationRecord>, ApiError> {
    caller.no_params()?;
    let id = integration_id(&id)?;
    let current = state.tessera().integration(&caller.actor, id).await?;
    if current.installation.state != InstallState::WaitingForApproval {
        return Err(tessera_core::Error::Conflict {
            why: format!(
                "the record is {} in this account, not waiting for approval",
                current.installation.state.code()
            ),
        }
        .into());
    }
    set_state(&state, &caller, id, InstallState::Enabled).await
}

/// Resets the consumer key and secret (R2–R5): the old pair stops working at once, every token
/// of the record keeps working with the new pair. The new pair is in this response only.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/{id}/reset",
    tag = "integrations",
    params(("id" = i64, Path, minimum = 1, description = "The record's internal id")),
    request_body = ResetRequest,
    responses(
        (status = 200, description = "Reset; the new pair is never shown again", body = IntegrationWithCredentials),
        (status = 400, description = "`confirm` is not `true`", body = ErrorBody),
        (status = 403, description = "Only the owner account's administrators reset, and never through a bundle install (R4)", body = ErrorBody),
        (status = 404, description = "No such record installed in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn reset_credentials(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<IntegrationWithCredentials>, ApiError> {
    caller.no_params()?;
    let id = integration_id(&id)?;
    let reset: ResetRequest = caller.json()?;
    let (view, credentials) = state
        .tessera()
        .reset_credentials(&caller.actor, id, ResetConfirmation::from(reset.confirm))
        .await?;
    Ok(Json(with_credentials(view, Some(credentials))))
}

/// Installs another account's record into the caller's account as a bundle would, where the
/// record's owner made it installable (such an installation can never reset the record's
/// credentials: R4).
#[utoipa::path(
    post,
    path = "/api/v1/integrations/{id}/install",
    tag = "integrations",
    params(("id" = i64, Path, minimum = 1, description = "The record's internal id")),
    responses(
        (status = 201, description = "Installed", body = IntegrationRecord),
        (status = 403, description = "Only an administrator installs bundles", body = ErrorBody),
        (status = 404, description = "No such record, or one its owner did not make installable by this account (the same answer)", body = ErrorBody),
        (status = 409, description = "Already installed in this account", body = ErrorBody),
    )
)]
pub(crate) async fn install_integration(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<(StatusCode, Json<IntegrationRecord>), ApiError> {
    caller.no_params()?;
    let view = state
        .tessera()
        .install_from_bundle(&caller.actor, integration_id(&id)?)
        .await?;
    Ok((StatusCode::CREATED, Json(integration_record(view))))
}

/// The accounts the record's owner lets install it by its id (`POST …/install`); for the
/// owner account's administrators only.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/{id}/installable-accounts",
    tag = "integrations",
    params(("id" = i64, Path, minimum = 1, description = "The record's internal id")),
    responses(
        (status = 200, description = "The accounts, in id order", body = InstallableAccounts),
        (status = 403, description = "Only the owner account's administrators see it", body = ErrorBody),
        (status = 404, description = "No such record installed in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn installable_accounts(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<InstallableAccounts>, ApiError> {
    caller.no_params()?;
    let accounts = state
        .tessera()
        .installable_accounts(&caller.actor, integration_id(&id)?)
        .await?;
    Ok(Json(installable_accounts_view(accounts)))
}

/// Replaces the accounts that may install the record by its id. Installations already made
/// stay; the owner account itself is left out.
#[utoipa::path(
    put,
    path = "/api/v1/integrations/{id}/installable-accounts",
    tag = "integrations",
    params(("id" = i64, Path, minimum = 1, description = "The record's internal id")),
    request_body = InstallableAccounts,
    responses(
        (status = 200, description = "The accounts as stored, in id order", body = InstallableAccounts),
        (status = 403, description = "Only the owner account's administrators change it", body = ErrorBody),
        (status = 404, description = "No such record installed in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn set_installable_accounts(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<InstallableAccounts>, ApiError> {
    caller.no_params()?;
    let id = integration_id(&id)?;
    let input: InstallableAccounts = caller.json()?;
    let accounts = input
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            tessera_core::ids::AccountId::parse(a).map_err(|e| ApiError::Invalid {
                field: format!("accounts[{i}]"),
                message: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let stored = state
        .tessera()
        .set_installable_accounts(&caller.actor, id, accounts)
        .await?;
    Ok(Json(installable_accounts_view(stored)))
}

fn installable_accounts_view(accounts: Vec<tessera_core::ids::AccountId>) -> InstallableAccounts {
    InstallableAccounts {
        accounts: accounts.iter().map(|a| a.as_str().to_owned()).collect(),
    }
}

/// Deletes the record (in its owner account: everywhere, every token revoked) or uninstalls it
/// from the caller's account (that account's tokens revoked) (R10).
#[utoipa::path(
    delete,
    path = "/api/v1/integrations/{id}",
    tag = "integrations",
    params(("id" = i64, Path, minimum = 1, description = "The record's internal id")),
    responses(
        (status = 200, description = "Deleted or uninstalled", body = Deleted),
        (status = 403, description = "Not permitted for the caller's role", body = ErrorBody),
        (status = 404, description = "No such record installed in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn delete_integration(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Deleted>, ApiError> {
    caller.no_params()?;
    let revoked_tokens = state
        .tessera()
        .delete_integration(&caller.actor, integration_id(&id)?)
        .await?;
    Ok(Json(Deleted { revoked_tokens }))
}

/// Opens the signature debugger of an integration record in the caller's account for `minutes`
/// (1–1440), or closes it (`0`): while open, a request with any of its tokens refused as
/// `InvalidSignature` keeps the base string the server computed (credentials masked) with its
/// audit row. Administrators and holders of Integration Application.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/{id}/signature-debug",
    tag = "integrations",
    params(("id" = i64, Path, minimum = 1, description = "The record's internal id")),
    request_body = tessera_api::audit::SignatureDebug,
    responses(
        (status = 200, description = "Open until, or closed", body = tessera_api::audit::SignatureDebugView),
        (status = 400, description = "`minutes` is out of range", body = ErrorBody),
        (status = 403, description = "Not an administrator or holder of Integration Application", body = ErrorBody),
        (status = 404, description = "No such record installed in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn integration_signature_debug(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<tessera_api::audit::SignatureDebugView>, ApiError> {
    let target = tessera_core::DebugTarget::Integration(integration_id(&id)?);
    super::audit::set_signature_debug(&state, &caller, target).await
}
