//! Setup › Users/Roles: users and the roles they hold, roles and their permissions.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::ids::{Email, RoleId, UserId};
use tessera_core::model::PermissionSet;
use tessera_core::model::{Permission, Role};
use tessera_core::{NewRoleInput, NewUserInput, RoleChanges, UserChanges};
use tessera_oauth1::SecretString;

use super::{Chrome, Ui, UiError, render, when};
use crate::AppState;

const USERS: &str = "/app/setup/users";
const ROLES: &str = "/app/setup/roles";

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
    can_edit: bool,
}

pub(crate) async fn users(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    let (rows, _) = user_rows(&state, &ui).await?;
    Ok(render(&UsersPage {
        chrome: ui.chrome("users"),
        rows,
        can_edit: ui.is_administrator(),
    }))
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    chrome: Chrome,
    user: UserRow,
    tokens_link: bool,
    can_edit: bool,
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
        can_edit: ui.is_administrator(),
        chrome: ui.chrome("users"),
        user,
    }))
}

/// The user form as typed (the password never comes back).
#[derive(Debug, Default)]
pub(crate) struct TypedUser {
    name: String,
    email: String,
    active: bool,
    roles: Vec<i64>,
}

#[derive(Template)]
#[template(path = "user_form.html")]
struct UserForm {
    chrome: Chrome,
    /// `None` for a new user.
    id: Option<i64>,
    typed: TypedUser,
    /// (id, name, held)
    roles: Vec<(i64, String, bool)>,
    error: Option<String>,
}

/// Only administrators change the directory (core decides; the page says so up front).
fn must_administer(ui: &Ui) -> Result<(), UiError> {
    if ui.is_administrator() {
        Ok(())
    } else {
        Err(tessera_core::Error::not_permitted(
            "only administrators of the account add and change users",
        )
        .into())
    }
}

async fn user_form(
    state: &AppState,
    ui: &Ui,
    id: Option<i64>,
    typed: TypedUser,
    error: Option<String>,
) -> Result<Response, UiError> {
    let roles = state
        .tessera()
        .list_roles(&ui.actor, &ui.me.account.id)
        .await?
        .into_iter()
        .filter(|r| !r.inactive || typed.roles.contains(&r.id.get()))
        .map(|r| (r.id.get(), r.name, typed.roles.contains(&r.id.get())))
        .collect();
    let failed = error.is_some();
    let mut response = render(&UserForm {
        chrome: ui.chrome("users"),
        id,
        typed,
        roles,
        error,
    });
    if failed {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

fn typed_user(ui: &Ui) -> TypedUser {
    let form = ui.form();
    TypedUser {
        name: form.value("name"),
        email: form.value("email"),
        active: form.checked("active"),
        roles: form
            .all("role")
            .filter_map(|r| r.parse::<i64>().ok())
            .filter(|r| *r > 0)
            .collect(),
    }
}

/// The error as the form shows it: which field, and why.
fn form_error(e: tessera_core::Error) -> Result<String, UiError> {
    match e {
        tessera_core::Error::Invalid { field, why } => Ok(format!(
            "{}: {why}",
            match field {
                "user name" => "Name",
                "email" => "Email",
                "password" => "Password",
                "roles" => "Roles",
                other => other,
            }
        )),
        tessera_core::Error::Conflict { why } => Ok(why),
        e @ tessera_core::Error::NotPermitted { .. } => Ok(super::sentence(&e)),
        e => Err(e.into()),
    }
}

pub(crate) async fn new_user_page(
    State(state): State<AppState>,
    ui: Ui,
) -> Result<Response, UiError> {
    must_administer(&ui)?;
    user_form(&state, &ui, None, TypedUser::default(), None).await
}

pub(crate) async fn create_user(
    State(state): State<AppState>,
    ui: Ui,
) -> Result<Response, UiError> {
    must_administer(&ui)?;
    let typed = typed_user(&ui);
    let Ok(email) = Email::parse(&typed.email) else {
        let error = format!("Email: {:?} is not an email address", typed.email);
        return user_form(&state, &ui, None, typed, Some(error)).await;
    };
    let password = ui
        .form()
        .text("password")
        .map(|p| SecretString::from(p.to_owned()));
    let input = NewUserInput {
        name: typed.name.clone(),
        email,
        password,
        roles: typed.roles.iter().copied().map(RoleId::new).collect(),
    };
    match state
        .tessera()
        .create_user(&ui.actor, &ui.me.account.id, input)
        .await
    {
        Ok(user) => Ok(ui
            .done(
                format!("User {:?} added.", user.name),
                &format!("{USERS}/{}", user.id),
            )
            .await),
        Err(e) => {
            let error = form_error(e)?;
            user_form(&state, &ui, None, typed, Some(error)).await
        }
    }
}

pub(crate) async fn edit_user_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    must_administer(&ui)?;
    let wanted = UserId::parse(&id).map_err(|_| not_found("user", &id))?;
    let user = state
        .tessera()
        .user(&ui.actor, &ui.me.account.id, wanted)
        .await?;
    let typed = TypedUser {
        name: user.name,
        email: user.email.as_str().to_owned(),
        active: user.active,
        roles: user.roles.iter().map(|r| r.get()).collect(),
    };
    user_form(&state, &ui, Some(wanted.get()), typed, None).await
}

pub(crate) async fn edit_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    must_administer(&ui)?;
    let wanted = UserId::parse(&id).map_err(|_| not_found("user", &id))?;
    let typed = typed_user(&ui);
    let Ok(email) = Email::parse(&typed.email) else {
        let error = format!("Email: {:?} is not an email address", typed.email);
        return user_form(&state, &ui, Some(wanted.get()), typed, Some(error)).await;
    };
    let changes = UserChanges {
        name: Some(typed.name.clone()),
        email: Some(email),
        active: Some(typed.active),
        roles: Some(typed.roles.iter().copied().map(RoleId::new).collect()),
        password: ui
            .form()
            .text("password")
            .map(|p| SecretString::from(p.to_owned())),
    };
    match state
        .tessera()
        .update_user(&ui.actor, &ui.me.account.id, wanted, changes)
        .await
    {
        Ok(user) => Ok(ui
            .done(
                format!("User {:?} saved.", user.name),
                &format!("{USERS}/{}", user.id),
            )
            .await),
        Err(e) => {
            let error = form_error(e)?;
            user_form(&state, &ui, Some(wanted.get()), typed, Some(error)).await
        }
    }
}

#[derive(Template)]
#[template(path = "user_delete.html")]
struct DeletePage {
    chrome: Chrome,
    user: UserRow,
    tokens: usize,
}

pub(crate) async fn delete_user_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    must_administer(&ui)?;
    let wanted = UserId::parse(&id).map_err(|_| not_found("user", &id))?;
    let (rows, _) = user_rows(&state, &ui).await?;
    let user = rows
        .into_iter()
        .find(|u| u.id == wanted.get())
        .ok_or_else(|| UiError::from(tessera_core::Error::not_found("user")))?;
    let filter = tessera_core::store::TokenFilter {
        user: Some(wanted),
        ..Default::default()
    };
    let tokens = state
        .tessera()
        .list_tokens(&ui.actor, filter, Default::default(), None, 1000)
        .await?
        .items
        .len();
    Ok(render(&DeletePage {
        chrome: ui.chrome("users"),
        user,
        tokens,
    }))
}

pub(crate) async fn delete_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    must_administer(&ui)?;
    let wanted = UserId::parse(&id).map_err(|_| not_found("user", &id))?;
    ui.confirmed("Deleting a user")?;
    let tokens = state
        .tessera()
        .delete_user(&ui.actor, &ui.me.account.id, wanted)
        .await?;
    Ok(ui
        .done(
            format!(
                "The user was deleted, and with it {} access token{}.",
                tokens.len(),
                if tokens.len() == 1 { "" } else { "s" }
            ),
            USERS,
        )
        .await)
}

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    chrome: Chrome,
    rows: Vec<RoleRow>,
    can_edit: bool,
}

pub(crate) async fn roles(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    let roles = state
        .tessera()
        .list_roles(&ui.actor, &ui.me.account.id)
        .await?;
    Ok(render(&RolesPage {
        chrome: ui.chrome("roles"),
        rows: roles.iter().map(RoleRow::from).collect(),
        can_edit: ui.is_administrator(),
    }))
}

#[derive(Template)]
#[template(path = "role.html")]
struct RolePage {
    chrome: Chrome,
    role: RoleRow,
    holders: Vec<(i64, String)>,
    can_edit: bool,
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
        can_edit: ui.is_administrator() && !role.is_administrator(),
        chrome: ui.chrome("roles"),
        role: RoleRow::from(&role),
        holders,
    }))
}

#[derive(Template)]
#[template(path = "role_form.html")]
struct RoleForm {
    chrome: Chrome,
    /// `None` for a new role.
    id: Option<i64>,
    name: String,
    inactive: bool,
    web_services_only: bool,
    /// (code, label, granted)
    permissions: Vec<(&'static str, &'static str, bool)>,
    error: Option<String>,
}

fn role_form(
    ui: &Ui,
    id: Option<i64>,
    name: String,
    permissions: PermissionSet,
    inactive: bool,
    web_services_only: bool,
    error: Option<String>,
) -> Response {
    let failed = error.is_some();
    let mut response = render(&RoleForm {
        chrome: ui.chrome("roles"),
        id,
        name,
        inactive,
        web_services_only,
        permissions: Permission::ALL
            .into_iter()
            .map(|p| (p.code(), permission_label(p), permissions.contains(p)))
            .collect(),
        error,
    });
    if failed {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

fn typed_permissions(ui: &Ui) -> PermissionSet {
    ui.form()
        .all("permission")
        .filter_map(Permission::from_code)
        .fold(PermissionSet::empty(), PermissionSet::with)
}

fn role_error(e: tessera_core::Error) -> Result<String, UiError> {
    match e {
        tessera_core::Error::Invalid {
            field: "role name",
            why,
        } => Ok(format!("Name: {why}")),
        e => form_error(e),
    }
}

pub(crate) async fn new_role_page(ui: Ui) -> Result<Response, UiError> {
    must_administer(&ui)?;
    Ok(role_form(
        &ui,
        None,
        String::new(),
        PermissionSet::empty(),
        false,
        false,
        None,
    ))
}

pub(crate) async fn create_role(
    State(state): State<AppState>,
    ui: Ui,
) -> Result<Response, UiError> {
    must_administer(&ui)?;
    let name = ui.form().value("name");
    let permissions = typed_permissions(&ui);
    let web_services_only = ui.form().checked("web_services_only");
    let input = NewRoleInput {
        name: name.clone(),
        permissions,
        web_services_only,
    };
    match state
        .tessera()
        .create_role(&ui.actor, &ui.me.account.id, input)
        .await
    {
        Ok(role) => Ok(ui
            .done(
                format!("Role {:?} added.", role.name),
                &format!("{ROLES}/{}", role.id),
            )
            .await),
        Err(e) => {
            let error = role_error(e)?;
            Ok(role_form(
                &ui,
                None,
                name,
                permissions,
                false,
                web_services_only,
                Some(error),
            ))
        }
    }
}

pub(crate) async fn edit_role_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    must_administer(&ui)?;
    let wanted = RoleId::parse(&id).map_err(|_| not_found("role", &id))?;
    let role = state
        .tessera()
        .role(&ui.actor, &ui.me.account.id, wanted)
        .await?;
    Ok(role_form(
        &ui,
        Some(wanted.get()),
        role.name,
        role.permissions,
        role.inactive,
        role.web_services_only,
        None,
    ))
}

pub(crate) async fn edit_role(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    must_administer(&ui)?;
    let wanted = RoleId::parse(&id).map_err(|_| not_found("role", &id))?;
    let name = ui.form().value("name");
    let permissions = typed_permissions(&ui);
    let inactive = ui.form().checked("inactive");
    let web_services_only = ui.form().checked("web_services_only");
    let changes = RoleChanges {
        name: Some(name.clone()),
        permissions: Some(permissions),
        inactive: Some(inactive),
        web_services_only: Some(web_services_only),
    };
    match state
        .tessera()
        .update_role(&ui.actor, &ui.me.account.id, wanted, changes)
        .await
    {
        Ok(role) => Ok(ui
            .done(
                format!("Role {:?} saved.", role.name),
                &format!("{ROLES}/{}", role.id),
            )
            .await),
        Err(e) => {
            let error = role_error(e)?;
            Ok(role_form(
                &ui,
                Some(wanted.get()),
                name,
                permissions,
                inactive,
                web_services_only,
                Some(error),
            ))
        }
    }
}
