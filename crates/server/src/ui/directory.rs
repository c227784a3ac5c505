//! Setup › Users/Roles: users and the roles they hold, roles and their permissions.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::ids::{RoleId, UserId};
use tessera_core::model::{Permission, Role};

use super::{Chrome, Ui, UiError, render, when};
use crate::AppState;

#[derive(Debug)]
pub(crate) struct UserRow {
    id: i64,
    name: String,
    email: String,
    active: bool,
    roles: Vec<(i64, String)>,
    created: String,
}

#[derive(Debug)]
pub(crate) struct RoleRow {
    id: i64,
    name: String,
    inactive: bool,
    web_services_only: bool,
    administrator: bool,
    /// (permission code, its label, granted)
    permissions: Vec<(&'static str, &'static str, bool)>,
}

fn permission_label(p: Permission) -> &'static str {
    match p {
        Permission::AccessTokenManagement => "Access Token Management",
        Permission::UserAccessTokens => "User Access Tokens",
        Permission::LogInUsingAccessTokens => "Log in using Access Tokens",
        Permission::IntegrationApplication => "Integration Application",
        Permission::LoginAuditTrail => "Login Audit Trail",
        Permission::RestWebServices => "REST Web Services",
        Permission::SoapWebServices => "SOAP Web Services",
    }
}

impl From<&Role> for RoleRow {
    fn from(r: &Role) -> Self {
        Self {
            id: r.id.get(),
            name: r.name.clone(),
            inactive: r.inactive,
            web_services_only: r.web_services_only,
            administrator: r.is_administrator(),
            permissions: Permission::ALL
                .into_iter()
                .map(|p| (p.code(), permission_label(p), r.has(p)))
                .collect(),
        }
    }
}

async fn user_rows(state: &AppState, ui: &Ui) -> Result<(Vec<UserRow>, Vec<Role>), UiError> {
    let account = &ui.me.account.id;
    let roles = state.tessera().list_roles(&ui.actor, account).await?;
    let users = state.tessera().list_users(&ui.actor, account).await?;
    let rows = users
        .into_iter()
        .map(|u| UserRow {
            id: u.id.get(),
            roles: u
                .roles
                .iter()
                .map(|id| {
                    let name = roles
                        .iter()
                        .find(|r| r.id == *id)
                        .map_or_else(|| id.to_string(), |r| r.name.clone());
                    (id.get(), name)
                })
                .collect(),
            name: u.name,
            email: u.email.as_str().to_owned(),
            active: u.active,
            created: when(u.created_at),
        })
        .collect();
    Ok((rows, roles))
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    rows: Vec<UserRow>,
}

pub(crate) async fn users(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    let (rows, _) = user_rows(&state, &ui).await?;
    Ok(render(&UsersPage {
        chrome: ui.chrome("users"),
        rows,
    }))
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    chrome: Chrome,
    user: UserRow,
    tokens_link: bool,
}

fn not_found(what: &str, id: &str) -> UiError {
    UiError::page(
        StatusCode::NOT_FOUND,
        "Not found",
        format!("{id:?} is not a {what}'s internal id."),
    )
}

pub(crate) async fn user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let wanted = UserId::parse(&id).map_err(|_| not_found("user", &id))?;
    let (rows, _) = user_rows(&state, &ui).await?;
    let user = rows
        .into_iter()
        .find(|u| u.id == wanted.get())
        .ok_or_else(|| UiError::from(tessera_core::Error::not_found("user")))?;
    Ok(render(&UserPage {
        tokens_link: ui.can(Permission::AccessTokenManagement),
        chrome: ui.chrome("users"),
        user,
    }))
}

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    chrome: Chrome,
    rows: Vec<RoleRow>,
}

pub(crate) async fn roles(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    let roles = state
        .tessera()
        .list_roles(&ui.actor, &ui.me.account.id)
        .await?;
    Ok(render(&RolesPage {
        chrome: ui.chrome("roles"),
        rows: roles.iter().map(RoleRow::from).collect(),
    }))
}

#[derive(Template)]
#[template(path = "role.html")]
struct RolePage {
    chrome: Chrome,
    role: RoleRow,
    holders: Vec<(i64, String)>,
}

pub(crate) async fn role(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let wanted = RoleId::parse(&id).map_err(|_| not_found("role", &id))?;
    let role = state
        .tessera()
        .role(&ui.actor, &ui.me.account.id, wanted)
        .await?;
    let (users, _) = user_rows(&state, &ui).await?;
    let holders = users
        .into_iter()
        .filter(|u| u.roles.iter().any(|(r, _)| *r == wanted.get()))
        .map(|u| (u.id, u.name))
        .collect();
    Ok(render(&RolePage {
        chrome: ui.chrome("roles"),
        role: RoleRow::from(&role),
        holders,
    }))
}
