//! Setup › Users/Roles › Access Tokens (R1, R6–R8, R12) and My Access Tokens.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tessera_core::credentials::TokenCredentials;
use tessera_core::ids::{IntegrationId, RoleId, TokenKey, UserId};
use tessera_core::model::{Permission, RecordRef, Timestamp, TokenListItem};
use tessera_core::store::{RevokedFilter, TokenCursor, TokenFilter, TokenSort};
use tessera_core::{NewTokenInput, TimeFilters, default_token_name};

use super::{Chrome, Ui, UiError, from_now, link, render, when};
use crate::AppState;

const PAGE_SIZE: u32 = 25;
pub(crate) const LIST: &str = "/app/setup/access-tokens";
pub(crate) const MINE: &str = "/app/setup/my-access-tokens";
pub(crate) const BULK: &str = "/app/setup/access-tokens/bulk";

/// A token as a row or a record page shows it.
#[derive(Debug)]
pub(crate) struct TokenRow {
    pub id: i64,
    pub name: String,
    pub application: String,
    pub application_id: i64,
    pub user: String,
    pub user_id: i64,
    pub role: String,
    pub role_id: i64,
    pub status: &'static str,
    pub created: String,
    pub created_by: String,
    pub last_used: String,
    /// The client address of that use (R17).
    pub last_used_from: String,
    /// R16: when the token expires (empty: never), and how far that is from now.
    pub expires_at: String,
    pub expires: String,
    pub expired: bool,
    /// When and by whom, once revoked.
    pub revoked: Option<(String, String)>,
}

impl From<&TokenListItem> for TokenRow {
    fn from(item: &TokenListItem) -> Self {
        let t = &item.token;
        let now = Timestamp::now();
        let expired = t.is_expired_at(now);
        Self {
            id: t.key.get(),
            name: t.name.clone(),
            application: item.application_name.clone(),
            application_id: t.integration.get(),
            user: item.user_name.clone(),
            user_id: t.user.get(),
            role: item.role_name.clone(),
            role_id: t.role.get(),
            status: if t.revoked.is_some() {
                "Revoked"
            } else if t.inactive {
                "Inactive"
            } else if expired {
                "Expired"
            } else {
                "Active"
            },
            created: when(t.created_at),
            created_by: t.created_by_name.clone(),
            last_used: t.last_used_at.map(when).unwrap_or_default(),
            last_used_from: t.last_used_from.clone().unwrap_or_default(),
            expires_at: t.expires_at.map(when).unwrap_or_default(),
            expires: t.expires_at.map(|at| from_now(at, now)).unwrap_or_default(),
            expired,
            revoked: t.revoked.as_ref().map(|r| (when(r.at), r.by_name.clone())),
        }
    }
}

/// A choice in a select: value, label, selected.
#[derive(Debug)]
pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    pub(crate) fn new(value: impl ToString, label: impl Into<String>, current: &str) -> Self {
        let value = value.to_string();
        Self {
            selected: value == current,
            value,
            label: label.into(),
        }
    }
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct ListPage {
    chrome: Chrome,
    title: &'static str,
    base: &'static str,
    mine: bool,
    rows: Vec<TokenRow>,
    revoked: Vec<Choice>,
    expired: Vec<Choice>,
    expiring_within_days: String,
    unused_for_days: String,
    applications: Vec<Choice>,
    users: Vec<Choice>,
    roles: Vec<Choice>,
    search: String,
    error: Option<String>,
    next: Option<String>,
    first: Option<String>,
    can_create: bool,
    filtered: bool,
    /// Bulk changes of what the filters select, when they select something.
    bulk: Option<String>,
}

pub(crate) async fn list(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    list_page(&state, ui, false).await
}

pub(crate) async fn mine(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    list_page(&state, ui, true).await
}

/// The list's filters as a page's query (or a bulk form) gives them: the domain's filter,
/// the first thing wrong with them, and the values to carry into links and forms.
pub(crate) struct ListFilters {
    pub(crate) filter: TokenFilter,
    pub(crate) error: Option<String>,
    /// (name, value) of every filter given, for links and hidden fields.
    pub(crate) keep: Vec<(&'static str, String)>,
    /// My Access Tokens: the user is the signed-in one, not a filter chosen.
    mine: bool,
}

/// The filters' field names, in the order links carry them.
pub(crate) const FILTER_FIELDS: [&str; 8] = [
    "revoked",
    "application",
    "user",
    "role",
    "search",
    "expired",
    "expiring_within_days",
    "unused_for_days",
];

impl ListFilters {
    /// Reads the filters; `mine` (My Access Tokens) selects the signed-in user's tokens.
    pub(crate) fn read(q: &crate::form::Fields, ui: &Ui, mine: bool) -> Self {
        let mut error = None;
        let mut complain = |e: String| {
            error.get_or_insert(e);
        };
        let revoked = match q.value("revoked").as_str() {
            "yes" => RevokedFilter::Yes,
            "no" => RevokedFilter::No,
            "" | "all" => RevokedFilter::All,
            other => {
                complain(format!("Revoked: {other:?} is not All, Yes or No"));
                RevokedFilter::All
            }
        };
        let expired = match q.value("expired").as_str() {
            "yes" | "true" => Some(true),
            "no" | "false" => Some(false),
            "" | "all" => None,
            other => {
                complain(format!("Expired: {other:?} is not All, Yes or No"));
                None
            }
        };
        let mut id = |name: &str, label: &str| {
            q.id(name, label).unwrap_or_else(|e| {
                complain(e);
                None
            })
        };
        let application = id("application", "Application");
        let user = if mine {
            Some(ui.me.user.id.get())
        } else {
            id("user", "User")
        };
        let role = id("role", "Role");
        let mut days = |name: &str, label: &str| {
            q.days(name, label).unwrap_or_else(|e| {
                complain(e);
                None
            })
        };
        let time = TimeFilters {
            expired,
            expiring_within_days: days("expiring_within_days", "Expiring within"),
            unused_for_days: days("unused_for_days", "Unused for"),
        };
        let search = q.value("search");
        let mut filter = TokenFilter {
            revoked,
            inactive: None,
            integration: application.map(IntegrationId::new),
            user: user.map(UserId::new),
            role: role.map(RoleId::new),
            search: (!search.is_empty()).then_some(search),
            ..TokenFilter::default()
        };
        if let Err(e) = time.apply(&mut filter, Timestamp::now()) {
            complain(super::sentence(&e));
        }
        // My Access Tokens carries its user on: a bulk change from it selects one's own tokens
        // whatever the role may select.
        let keep = FILTER_FIELDS
            .into_iter()
            .map(|name| match (name, user) {
                ("user", Some(me)) if mine => (name, me.to_string()),
                _ => (name, q.value(name)),
            })
            // "all" is what the Revoked and Expired selects send for no filter.
            .filter(|(name, v)| {
                let unset = v.is_empty() || (matches!(*name, "revoked" | "expired") && v == "all");
                !unset
            })
            .collect();
        Self {
            filter,
            error,
            keep,
            mine,
        }
    }

    /// Whether a filter chosen narrows the list.
    pub(crate) fn narrows(&self) -> bool {
        self.keep
            .iter()
            .any(|(name, _)| !(self.mine && *name == "user"))
    }
}

async fn list_page(state: &AppState, ui: Ui, mine: bool) -> Result<Response, UiError> {
    let q = ui.query()?;
    let filters = ListFilters::read(&q, &ui, mine);
    let filtered = filters.narrows();
    let ListFilters {
        filter,
        mut error,
        keep: kept,
        ..
    } = filters;
    let revoked_text = q.value("revoked");
    let expired_text = q.value("expired");
    let search = q.value("search");
    let after_text = q.value("after");
    let after = match after_text.as_str() {
        "" => None,
        a => TokenCursor::decode(a).ok(),
    };
    let tessera = state.tessera();
    let page = if error.is_none() {
        match tessera
            .list_tokens(&ui.actor, filter, TokenSort::NewestFirst, after, PAGE_SIZE)
            .await
        {
            Ok(page) => Some(page),
            Err(tessera_core::Error::Invalid { field, why }) => {
                error = Some(super::sentence(&format!("{field}: {why}")));
                None
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let (rows, next) = match page {
        Some(p) => (
            p.items.iter().map(TokenRow::from).collect(),
            p.next.map(|c| c.encode()),
        ),
        None => (Vec::new(), None),
    };
    let rows_empty = rows.is_empty();
    let keep = |after: String| {
        let mut params = kept.clone();
        params.push(("after", after));
        link(if mine { MINE } else { LIST }, &params)
    };
    let bulk = link(BULK, &kept);
    let applications = tessera.list_integrations(&ui.actor, true).await?;
    let current_app = q.value("application");
    let mut application_choices = vec![Choice::new("", "All", &current_app)];
    application_choices.extend(
        applications
            .iter()
            .map(|v| Choice::new(v.integration.id.get(), &v.integration.name, &current_app)),
    );
    let (mut user_choices, mut role_choices) = (Vec::new(), Vec::new());
    if !mine {
        let account = &ui.me.account.id;
        let current_user = q.value("user");
        user_choices.push(Choice::new("", "All", &current_user));
        for u in tessera.list_users(&ui.actor, account).await? {
            user_choices.push(Choice::new(u.id.get(), u.name, &current_user));
        }
        let current_role = q.value("role");
        role_choices.push(Choice::new("", "All", &current_role));
        for r in tessera.list_roles(&ui.actor, account).await? {
            role_choices.push(Choice::new(r.id.get(), r.name, &current_role));
        }
    }
    let revoked_choices = [("all", "All"), ("yes", "Yes"), ("no", "No")]
        .into_iter()
        .map(|(v, l)| {
            Choice::new(
                v,
                l,
                if revoked_text.is_empty() {
                    "all"
                } else {
                    &revoked_text
                },
            )
        })
        .collect();
    let expired_choices = [("all", "All"), ("yes", "Yes"), ("no", "No")]
        .into_iter()
        .map(|(v, l)| {
            Choice::new(
                v,
                l,
                if expired_text.is_empty() {
                    "all"
                } else {
                    &expired_text
                },
            )
        })
        .collect();
    let mut response = render(&ListPage {
        chrome: ui.chrome(if mine { "my-tokens" } else { "tokens" }),
        title: if mine {
            "My Access Tokens"
        } else {
            "Access Tokens"
        },
        base: if mine { MINE } else { LIST },
        mine,
        rows,
        revoked: revoked_choices,
        expired: expired_choices,
        expiring_within_days: q.value("expiring_within_days"),
        unused_for_days: q.value("unused_for_days"),
        applications: application_choices,
        users: user_choices,
        roles: role_choices,
        search: search.clone(),
        first: (!after_text.is_empty()).then(|| keep(String::new())),
        next: next.map(keep),
        can_create: ui.can(Permission::AccessTokenManagement)
            || ui.can(Permission::UserAccessTokens),
        filtered,
        bulk: (!rows_empty).then_some(bulk),
        error: error.clone(),
    });
    if error.is_some() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

fn token_key(id: &str) -> Result<TokenKey, UiError> {
    TokenKey::parse(id).map_err(|_| {
        UiError::page(
            StatusCode::NOT_FOUND,
            "Not found",
            format!("{id:?} is not a token's internal id."),
        )
    })
}

/// A system note as the record pages show it.
#[derive(Debug)]
pub(crate) struct NoteRow {
    pub at_ms: i64,
    pub at: String,
    pub by: String,
    pub context: &'static str,
    pub field: String,
    pub old: String,
    pub new: String,
}

pub(crate) async fn notes(
    state: &AppState,
    ui: &Ui,
    record: RecordRef,
) -> Result<Vec<NoteRow>, UiError> {
    let mut notes: Vec<NoteRow> = state
        .tessera()
        .system_notes(&ui.actor, &record)
        .await?
        .into_iter()
        .map(|n| NoteRow {
            at_ms: n.at.millis(),
            at: when(n.at),
            by: n.actor_name,
            context: n.context.code(),
            field: n.field,
            old: n.old_value.unwrap_or_default(),
            new: n.new_value.unwrap_or_default(),
        })
        .collect();
    // Newest first, as NetSuite lists them.
    notes.reverse();
    Ok(notes)
}

#[derive(Template)]
#[template(path = "token.html")]
struct ViewPage {
    chrome: Chrome,
    token: TokenRow,
    audit_link: String,
    notes: Vec<NoteRow>,
    can_change: bool,
    /// The signature debugger: who may open it, and until when it is open (empty: closed).
    can_debug: bool,
    debug_until: String,
    debug_action: String,
    back: &'static str,
}

/// Whether the page should offer Edit and Revoke: token managers change others' tokens,
/// everyone its own (R12); the server decides regardless.
fn may_change(ui: &Ui, token: &TokenRow) -> bool {
    token.revoked.is_none()
        && (ui.can(Permission::AccessTokenManagement) || token.user_id == ui.me.user.id.get())
}

fn back(ui: &Ui) -> &'static str {
    if ui.can(Permission::AccessTokenManagement) {
        LIST
    } else {
        MINE
    }
}

pub(crate) async fn view(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let key = token_key(&id)?;
    let item = state.tessera().token(&ui.actor, key).await?;
    let token = TokenRow::from(&item);
    let notes = notes(&state, &ui, RecordRef::Token(key)).await?;
    let debug_until = item
        .token
        .signature_debug_until
        .filter(|until| *until > Timestamp::now())
        .map(when)
        .unwrap_or_default();
    Ok(render(&ViewPage {
        can_debug: token.revoked.is_none()
            && (ui.is_administrator() || ui.can(Permission::AccessTokenManagement)),
        debug_until,
        debug_action: format!("{LIST}/{}/signature-debug", key.get()),
        audit_link: link(
            "/app/setup/login-audit-trail",
            &[("token_name", token.name.clone())],
        ),
        can_change: may_change(&ui, &token),
        back: back(&ui),
        chrome: ui.chrome(section(&ui)),
        token,
        notes,
    }))
}

pub(crate) fn section(ui: &Ui) -> &'static str {
    if ui.can(Permission::AccessTokenManagement) {
        "tokens"
    } else {
        "my-tokens"
    }
}

/// A user and role a token may be made for, offered in one select so that only real pairs
/// can be picked.
#[derive(Debug)]
pub(crate) struct Grant {
    pub value: String,
    pub label: String,
    pub user: String,
    pub role: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "token_new.html")]
struct NewPage {
    chrome: Chrome,
    intent: String,
    applications: Vec<Choice>,
    grants: Vec<Grant>,
    name: String,
    expires_in_days: String,
    /// The account's maximum token lifetime (R16).
    policy_days: Option<u32>,
    max_days: u32,
    error: Option<String>,
    back: &'static str,
}

/// The pairs the page offers (R12): others' token-capable roles for token managers (never
/// their Administrator role); one's own for administrators, or the current role with
/// `USER_ACCESS_TOKENS`.
async fn grants(state: &AppState, ui: &Ui, current: &str) -> Result<Vec<Grant>, UiError> {
    let tessera = state.tessera();
    let account = &ui.me.account.id;
    let roles = tessera.list_roles(&ui.actor, account).await?;
    let me = ui.me.user.id;
    let manager = ui.can(Permission::AccessTokenManagement);
    let mut out = Vec::new();
    let users = if manager {
        tessera.list_users(&ui.actor, account).await?
    } else {
        vec![ui.me.user.clone()]
    };
    for user in users.iter().filter(|u| u.active) {
        for role in roles
            .iter()
            .filter(|r| user.holds(r.id) && !r.inactive && r.can_use_tokens())
        {
            let allowed = if user.id == me {
                ui.is_administrator()
                    || (ui.can(Permission::UserAccessTokens) && role.id == ui.me.role.id)
            } else {
                manager && !role.is_administrator()
            };
            if allowed {
                let value = format!("{}-{}", user.id, role.id);
                out.push(Grant {
                    selected: value == current,
                    label: format!("{} — {}", user.name, role.name),
                    user: user.name.clone(),
                    role: role.name.clone(),
                    value,
                });
            }
        }
    }
    Ok(out)
}

/// What the New Access Token form holds.
#[derive(Debug, Default)]
struct NewTokenForm {
    application: String,
    grant: String,
    name: String,
    expires_in_days: String,
}

async fn new_form(
    state: &AppState,
    ui: &Ui,
    form: NewTokenForm,
    error: Option<String>,
) -> Result<Response, UiError> {
    let NewTokenForm {
        application,
        grant,
        name,
        expires_in_days,
    } = form;
    let (application, grant) = (application.as_str(), grant.as_str());
    let views = state.tessera().list_integrations(&ui.actor, false).await?;
    let usable = views
        .iter()
        .filter(|v| v.integration.switches.token_based_auth);
    let mut applications = vec![Choice::new("", "— choose —", application)];
    applications.extend(
        usable.map(|v| Choice::new(v.integration.id.get(), &v.integration.name, application)),
    );
    let grants = grants(state, ui, grant).await?;
    // The default name, as the server would give it, when both are chosen already.
    let name = if name.is_empty() {
        match (
            applications
                .iter()
                .find(|c| c.selected && !c.value.is_empty()),
            grants.iter().find(|g| g.selected),
        ) {
            (Some(a), Some(g)) => default_token_name(&a.label, &g.user, &g.role),
            _ => name,
        }
    } else {
        name
    };
    let mut response = render(&NewPage {
        intent: ui.intent().await?,
        chrome: ui.chrome(section(ui)),
        applications,
        grants,
        name,
        expires_in_days,
        policy_days: ui.me.account.token_max_lifetime_days,
        max_days: ui
            .me
            .account
            .token_max_lifetime_days
            .unwrap_or(tessera_core::LIFETIME_MAX_DAYS),
        back: back(ui),
        error: error.clone(),
    });
    if error.is_some() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

pub(crate) async fn new_page(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    let q = ui.query()?;
    let form = NewTokenForm {
        application: q.value("application"),
        grant: q.value("grant"),
        ..NewTokenForm::default()
    };
    new_form(&state, &ui, form, None).await
}

#[derive(Template)]
#[template(path = "token_created.html")]
struct CreatedPage {
    chrome: Chrome,
    token: TokenRow,
    /// Shown this once; masked in any `Debug` output.
    credentials: TokenCredentials,
}

pub(crate) async fn create(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    let form = ui.form();
    let application = form.value("application");
    let grant = form.value("grant");
    let name = form.value("name");
    let expires_in_days = form.value("expires_in_days");
    let again = |error: String| {
        let form = NewTokenForm {
            application: application.clone(),
            grant: grant.clone(),
            name: name.clone(),
            expires_in_days: expires_in_days.clone(),
        };
        new_form(&state, &ui, form, Some(error))
    };
    ui.spend_intent(
        "This form was sent already (perhaps the page was reloaded): the token was created then, and its secret was shown that once. Find it in the Access Tokens list.",
    )
    .await?;
    let Ok(Some(integration)) = form.id("application", "Application") else {
        return again("Choose the application (integration record) the token is for.".to_owned())
            .await;
    };
    let pair = grant
        .split_once('-')
        .and_then(|(u, r)| Some((u.parse::<i64>().ok()?, r.parse::<i64>().ok()?)))
        .filter(|(u, r)| *u > 0 && *r > 0);
    let Some((user, role)) = pair else {
        return again("Choose the user and role the token is for.".to_owned()).await;
    };
    let days = match form.days("expires_in_days", "Expires in") {
        Ok(days) => days,
        Err(e) => return again(e).await,
    };
    let input = NewTokenInput {
        integration: IntegrationId::new(integration),
        user: UserId::new(user),
        role: RoleId::new(role),
        name: (!name.is_empty()).then(|| name.clone()),
        expires_at: days.map(|d| Timestamp::now().plus_days(i64::from(d))),
    };
    match state.tessera().create_token(&ui.actor, input).await {
        Ok((item, credentials)) => Ok(render(&CreatedPage {
            chrome: ui.chrome(section(&ui)),
            token: TokenRow::from(&item),
            credentials,
        })),
        Err(tessera_core::Error::Invalid {
            field: "expires_at",
            why,
        }) => again(super::sentence(&format!("Expires in: {why}"))).await,
        Err(
            e @ (tessera_core::Error::Invalid { .. }
            | tessera_core::Error::NotPermitted { .. }
            | tessera_core::Error::NotFound { .. }),
        ) => again(super::sentence(&e)).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "token_edit.html")]
struct EditPage {
    chrome: Chrome,
    token: TokenRow,
    name: String,
    inactive: bool,
    error: Option<String>,
}

pub(crate) async fn edit_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let item = state.tessera().token(&ui.actor, token_key(&id)?).await?;
    let token = TokenRow::from(&item);
    if token.revoked.is_some() {
        return Err(tessera_core::Error::TokenRevoked.into());
    }
    Ok(render(&EditPage {
        chrome: ui.chrome(section(&ui)),
        name: token.name.clone(),
        inactive: item.token.inactive,
        token,
        error: None,
    }))
}

pub(crate) async fn edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let key = token_key(&id)?;
    let tessera = state.tessera();
    let item = tessera.token(&ui.actor, key).await?;
    let form = ui.form();
    let name = form.value("name");
    let inactive = form.checked("inactive");
    let mut changed = Vec::new();
    let mut result = Ok(());
    if name != item.token.name {
        match tessera.rename_token(&ui.actor, key, &name).await {
            Ok(_) => changed.push("name"),
            Err(e) => result = Err(e),
        }
    }
    if result.is_ok() && inactive != item.token.inactive {
        match tessera.set_token_inactive(&ui.actor, key, inactive).await {
            Ok(_) => changed.push("inactive"),
            Err(e) => result = Err(e),
        }
    }
    match result {
        Ok(()) => {
            let message = if changed.is_empty() {
                "Nothing to change.".to_owned()
            } else {
                format!(
                    "Token {:?} saved.",
                    if name.is_empty() {
                        &item.token.name
                    } else {
                        &name
                    }
                )
            };
            Ok(ui.done(message, &format!("{LIST}/{id}")).await)
        }
        Err(e @ tessera_core::Error::Invalid { .. }) => {
            let mut response = render(&EditPage {
                chrome: ui.chrome(section(&ui)),
                token: TokenRow::from(&item),
                name,
                inactive,
                error: Some(super::sentence(&e)),
            });
            *response.status_mut() = StatusCode::BAD_REQUEST;
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "token_revoke.html")]
struct RevokePage {
    chrome: Chrome,
    token: TokenRow,
}

pub(crate) async fn revoke_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let item = state.tessera().token(&ui.actor, token_key(&id)?).await?;
    if item.token.revoked.is_some() {
        return Err(tessera_core::Error::TokenRevoked.into());
    }
    Ok(render(&RevokePage {
        chrome: ui.chrome(section(&ui)),
        token: TokenRow::from(&item),
    }))
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let key = token_key(&id)?;
    ui.confirmed("Revoking a token, which is permanent,")?;
    let item = state.tessera().revoke_token(&ui.actor, key).await?;
    Ok(ui
        .done(
            format!(
                "Token {:?} is revoked. Requests signed with it are refused from now on.",
                item.token.name
            ),
            &format!("{LIST}/{id}"),
        )
        .await
        .into_response())
}

/// The minutes a signature debugger form asks for (0 closes it).
pub(crate) fn debug_minutes(ui: &Ui) -> Result<u32, UiError> {
    let text = ui.form().value("minutes");
    text.parse::<u32>().map_err(|_| {
        UiError::bad_request(format!(
            "{text:?} is not a number of minutes (0 closes the debugger)"
        ))
    })
}

/// Opens or closes the signature debugger of a token.
pub(crate) async fn signature_debug(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let key = token_key(&id)?;
    let minutes = debug_minutes(&ui)?;
    let until = state
        .tessera()
        .set_signature_debug(&ui.actor, tessera_core::DebugTarget::Token(key), minutes)
        .await?;
    let message = match until {
        Some(until) => format!(
            "The signature debugger is open until {} UTC: refused signatures of this token are kept in the Login Audit Trail.",
            when(until)
        ),
        None => "The signature debugger is closed.".to_owned(),
    };
    Ok(ui
        .done(message, &format!("{LIST}/{id}"))
        .await
        .into_response())
}
