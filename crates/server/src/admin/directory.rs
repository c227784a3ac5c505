//! `/api/v1/account`, `/api/v1/roles`, `/api/v1/users`: the caller's account and its
//! directory. Any active user reads them (the token form needs them); administrators change them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_api::directory::{
    AccountEdit, AccountView, NewRole, NewUser, RoleEdit, RoleView, UserDeleted, UserEdit, UserView,
};
use tessera_core::ids::{Email, RoleId, UserId};
use tessera_core::model::{Account, Permission, PermissionSet, Role, User};
use tessera_core::{AccountSettings, NewRoleInput, NewUserInput, RoleChanges, UserChanges};

use super::{ApiError, Caller, ErrorBody};
use crate::AppState;

/// The caller's account and its settings.
#[utoipa::path(
    get,
    path = "/api/v1/account",
    tag = "directory",
    responses((status = 200, description = "The caller's account", body = AccountView))
)]
pub(crate) async fn show_account(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AccountView>, ApiError> {
    caller.no_params()?;
    let tessera = state.tessera();
    let account: Account = tessera
        .list_accounts(&caller.actor)
        .await?
        .into_iter()
        .next()
        .ok_or(tessera_core::Error::NotFound { what: "account" })?;
    Ok(Json(account_view(tessera, account)))
}

fn account_view(tessera: &tessera_core::Tessera, account: Account) -> AccountView {
    AccountView {
        effective_concurrency_limit: tessera.effective_limit(&account),
        id: account.id.as_str().to_owned(),
        name: account.name,
        tba_enabled: account.tba_enabled,
        require_approval_for_auto_install: account.require_approval_for_auto_install,
        concurrency_limit: account.concurrency_limit,
        token_max_lifetime_days: account.token_max_lifetime_days,
        ip_allow_list: account.ip_allow.networks().collect(),
        created_at: account.created_at.to_rfc3339(),
    }
}

/// Changes the account's settings (administrators): the TBA feature (R11), approval of
/// auto-installations (R14), the concurrency limit (RULES.md §5), the maximum token lifetime
/// (R16).
#[utoipa::path(
    patch,
    path = "/api/v1/account",
    tag = "directory",
    request_body = AccountEdit,
    responses(
        (status = 200, description = "The account as changed", body = AccountView),
        (status = 400, description = "A field is invalid (named in `field`)", body = ErrorBody),
        (status = 403, description = "Only an administrator changes the account's settings", body = ErrorBody),
    )
)]
pub(crate) async fn edit_account(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AccountView>, ApiError> {
    caller.no_params()?;
    let edit: AccountEdit = caller.json()?;
    if edit == AccountEdit::default() {
        return Err(ApiError::invalid(
            "body",
            "give at least one setting to change",
        ));
    }
    let tessera = state.tessera();
    let account = caller
        .actor
        .account()
        .ok_or(tessera_core::Error::NotFound { what: "account" })?
        .clone();
    let ip_allow = edit
        .ip_allow_list
        .as_deref()
        .map(super::allow_list)
        .transpose()?;
    if let Some(list) = &ip_allow {
        caller.keep_own_address(&state, list, "account's")?;
    }
    let settings = AccountSettings {
        tba_enabled: edit.tba_enabled,
        require_approval_for_auto_install: edit.require_approval_for_auto_install,
        concurrency_limit: edit.concurrency_limit,
        token_max_lifetime_days: edit.token_max_lifetime_days,
        ip_allow,
    };
    let account = tessera
        .update_account_settings(&caller.actor, &account, settings)
        .await?;
    Ok(Json(account_view(tessera, account)))
}

/// A role as the API shows it.
fn role_view(role: Role) -> RoleView {
    RoleView {
        administrator: role.is_administrator(),
        id: role.id.get(),
        name: role.name,
        permissions: role
            .permissions
            .iter()
            .map(|p| p.code().to_owned())
            .collect(),
        inactive: role.inactive,
        web_services_only: role.web_services_only,
    }
}

fn permissions(codes: &[String]) -> Result<PermissionSet, ApiError> {
    codes.iter().try_fold(PermissionSet::empty(), |set, code| {
        Permission::from_code(code)
            .map(|p| set.with(p))
            .ok_or_else(|| {
                let known: Vec<&str> = Permission::ALL.iter().map(|p| p.code()).collect();
                ApiError::invalid(
                    "permissions",
                    format!("{code:?} is not a permission (known: {})", known.join(", ")),
                )
            })
    })
}

fn role_id(id: &str) -> Result<RoleId, ApiError> {
    RoleId::parse(id).map_err(|e| ApiError::invalid("id", e.to_string()))
}

fn user_id(id: &str) -> Result<UserId, ApiError> {
    UserId::parse(id).map_err(|e| ApiError::invalid("id", e.to_string()))
}

/// The domain names some fields for people ("role name"); this API's bodies call them `name`.
fn name_field(e: tessera_core::Error) -> ApiError {
    match e {
        tessera_core::Error::Invalid {
            field: "role name" | "user name",
            why,
        } => ApiError::invalid("name", why),
        e => e.into(),
    }
}

/// The roles of the caller's account.
#[utoipa::path(
    get,
    path = "/api/v1/roles",
    tag = "directory",
    responses((status = 200, description = "The roles, by internal id", body = Vec<RoleView>))
)]
pub(crate) async fn list_roles(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<RoleView>>, ApiError> {
    caller.no_params()?;
    let account = caller.admitted.identity.account.clone();
    let roles = state.tessera().list_roles(&caller.actor, &account).await?;
    Ok(Json(roles.into_iter().map(role_view).collect()))
}

/// Creates a role (administrators).
#[utoipa::path(
    post,
    path = "/api/v1/roles",
    tag = "directory",
    request_body = NewRole,
    responses(
        (status = 201, description = "Created", body = RoleView),
        (status = 400, description = "A field is invalid (named in `field`)", body = ErrorBody),
        (status = 403, description = "Only administrators manage roles", body = ErrorBody),
    )
)]
pub(crate) async fn create_role(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, Json<RoleView>), ApiError> {
    caller.no_params()?;
    let input: NewRole = caller.json()?;
    let input = NewRoleInput {
        name: input.name,
        permissions: permissions(&input.permissions)?,
        web_services_only: input.web_services_only,
    };
    let account = caller.admitted.identity.account.clone();
    let role = state
        .tessera()
        .create_role(&caller.actor, &account, input)
        .await
        .map_err(name_field)?;
    Ok((StatusCode::CREATED, Json(role_view(role))))
}

/// One role.
#[utoipa::path(
    get,
    path = "/api/v1/roles/{id}",
    tag = "directory",
    params(("id" = i64, Path, minimum = 1, description = "The role's internal id")),
    responses(
        (status = 200, description = "The role", body = RoleView),
        (status = 404, description = "No such role in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn show_role(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<RoleView>, ApiError> {
    caller.no_params()?;
    let account = caller.admitted.identity.account.clone();
    let role = state
        .tessera()
        .role(&caller.actor, &account, role_id(&id)?)
        .await?;
    Ok(Json(role_view(role)))
}

/// Edits a role (administrators; the Administrator role itself never changes).
#[utoipa::path(
    patch,
    path = "/api/v1/roles/{id}",
    tag = "directory",
    params(("id" = i64, Path, minimum = 1, description = "The role's internal id")),
    request_body = RoleEdit,
    responses(
        (status = 200, description = "The role as changed", body = RoleView),
        (status = 400, description = "A field is invalid (named in `field`)", body = ErrorBody),
        (status = 403, description = "Only administrators manage roles", body = ErrorBody),
        (status = 404, description = "No such role in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn edit_role(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<RoleView>, ApiError> {
    caller.no_params()?;
    let id = role_id(&id)?;
    let edit: RoleEdit = caller.json()?;
    let changes = RoleChanges {
        name: edit.name,
        permissions: edit.permissions.as_deref().map(permissions).transpose()?,
        inactive: edit.inactive,
        web_services_only: edit.web_services_only,
    };
    let account = caller.admitted.identity.account.clone();
    let role = state
        .tessera()
        .update_role(&caller.actor, &account, id, changes)
        .await
        .map_err(name_field)?;
    Ok(Json(role_view(role)))
}

/// A user as the API shows it.
fn user_view(user: User) -> UserView {
    UserView {
        id: user.id.get(),
        name: user.name,
        email: user.email.as_str().to_owned(),
        active: user.active,
        roles: user.roles.iter().map(|r| r.get()).collect(),
        created_at: user.created_at.to_rfc3339(),
    }
}

fn email(field: &str, value: &str) -> Result<Email, ApiError> {
    Email::parse(value).map_err(|e| ApiError::invalid(field, e.to_string()))
}

fn role_ids(ids: &[i64]) -> Result<Vec<RoleId>, ApiError> {
    ids.iter()
        .map(|&id| {
            if id > 0 {
                Ok(RoleId::new(id))
            } else {
                Err(ApiError::invalid(
                    "roles",
                    "must hold internal role ids (positive integers)",
                ))
            }
        })
        .collect()
}

/// The users of the caller's account.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "directory",
    responses((status = 200, description = "The users, by internal id", body = Vec<UserView>))
)]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    caller.no_params()?;
    let account = caller.admitted.identity.account.clone();
    let users = state.tessera().list_users(&caller.actor, &account).await?;
    Ok(Json(users.into_iter().map(user_view).collect()))
}

/// Creates a user (administrators).
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "directory",
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "A field is invalid (named in `field`)", body = ErrorBody),
        (status = 403, description = "Only administrators manage users", body = ErrorBody),
        (status = 409, description = "The email is taken in the account", body = ErrorBody),
    )
)]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    caller.no_params()?;
    let input: NewUser = caller.json()?;
    let input = NewUserInput {
        name: input.name,
        email: email("email", &input.email)?,
        password: input.password.map(|p| p.0),
        roles: role_ids(&input.roles)?,
    };
    let account = caller.admitted.identity.account.clone();
    let user = state
        .tessera()
        .create_user(&caller.actor, &account, input)
        .await
        .map_err(name_field)?;
    Ok((StatusCode::CREATED, Json(user_view(user))))
}

/// One user.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    tag = "directory",
    params(("id" = i64, Path, minimum = 1, description = "The user's internal id")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 404, description = "No such user in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn show_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<UserView>, ApiError> {
    caller.no_params()?;
    let account = caller.admitted.identity.account.clone();
    let user = state
        .tessera()
        .user(&caller.actor, &account, user_id(&id)?)
        .await?;
    Ok(Json(user_view(user)))
}

/// Edits a user (administrators).
#[utoipa::path(
    patch,
    path = "/api/v1/users/{id}",
    tag = "directory",
    params(("id" = i64, Path, minimum = 1, description = "The user's internal id")),
    request_body = UserEdit,
    responses(
        (status = 200, description = "The user as changed", body = UserView),
        (status = 400, description = "A field is invalid (named in `field`)", body = ErrorBody),
        (status = 403, description = "Only administrators manage users", body = ErrorBody),
        (status = 404, description = "No such user in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn edit_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<UserView>, ApiError> {
    caller.no_params()?;
    let id = user_id(&id)?;
    let edit: UserEdit = caller.json()?;
    // Everything is checked before anything is changed.
    let changes = UserChanges {
        name: edit.name,
        email: edit
            .email
            .as_deref()
            .map(|e| email("email", e))
            .transpose()?,
        active: edit.active,
        roles: edit.roles.as_deref().map(role_ids).transpose()?,
        password: edit.password.map(|p| p.0),
    };
    if changes.is_empty() {
        return Err(ApiError::invalid(
            "body",
            "give at least one field to change",
        ));
    }
    let account = caller.admitted.identity.account.clone();
    let user = state
        .tessera()
        .update_user(&caller.actor, &account, id, changes)
        .await
        .map_err(name_field)?;
    Ok(Json(user_view(user)))
}

/// Deletes a user and its tokens (R10; the answer counts them as `revoked_tokens`). An administrator cannot delete itself.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}",
    tag = "directory",
    params(("id" = i64, Path, minimum = 1, description = "The user's internal id")),
    responses(
        (status = 200, description = "Deleted", body = UserDeleted),
        (status = 403, description = "Only administrators manage users", body = ErrorBody),
        (status = 404, description = "No such user in the caller's account", body = ErrorBody),
    )
)]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<UserDeleted>, ApiError> {
    caller.no_params()?;
    let account = caller.admitted.identity.account.clone();
    let revoked = state
        .tessera()
        .delete_user(&caller.actor, &account, user_id(&id)?)
        .await?;
    Ok(Json(UserDeleted {
        revoked_tokens: revoked.len(),
    }))
}
