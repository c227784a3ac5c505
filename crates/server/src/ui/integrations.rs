//! Setup › Integration › Manage Integrations (R2–R6, R9, R13).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::allow::IpAllowList;
use tessera_core::credentials::ConsumerCredentials;
use tessera_core::ids::{AccountId, IntegrationId};
use tessera_core::model::{AuthSwitches, InstallOrigin, InstallState, Permission, RecordRef};
use tessera_core::{
    InstallationChanges, IntegrationChanges, IntegrationView, NewIntegrationInput,
    ResetConfirmation,
};

use super::tokens::{NoteRow, notes};
use super::{Chrome, Ui, UiError, render, when};
use crate::AppState;
use crate::form::Fields;

const LIST: &str = "/app/setup/integrations";

/// An integration record as the pages show it.
#[derive(Debug)]
pub(crate) struct Record {
    pub id: i64,
    pub name: String,
    pub application_id: String,
    pub description: String,
    pub state: &'static str,
    pub state_code: &'static str,
    pub note: String,
    pub concurrency_limit: String,
    /// This account's IP allow-list for the record (R17), one network a line.
    pub ip_allow: String,
    pub owner: String,
    pub is_owner: bool,
    pub origin: &'static str,
    pub tba: bool,
    pub auth_flow: bool,
    pub callback_url: String,
    pub issuetoken: bool,
    pub user_credentials: bool,
    pub has_credentials: bool,
    pub created: String,
    pub modified: String,
    pub state_changed: String,
    pub state_changed_by: String,
}

fn state_label(state: InstallState) -> &'static str {
    match state {
        InstallState::Enabled => "Enabled",
        InstallState::Blocked => "Blocked",
        InstallState::WaitingForApproval => "Waiting for Approval",
    }
}

impl From<&IntegrationView> for Record {
    fn from(v: &IntegrationView) -> Self {
        let i = &v.integration;
        let inst = &v.installation;
        Self {
            id: i.id.get(),
            name: i.name.clone(),
            application_id: i.application_id.to_string(),
            description: i.description.clone(),
            state: state_label(inst.state),
            state_code: inst.state.code(),
            note: inst.note.clone(),
            concurrency_limit: inst
                .concurrency_limit
                .map(|n| n.to_string())
                .unwrap_or_default(),
            ip_allow: inst.ip_allow.networks().collect::<Vec<_>>().join("\n"),
            owner: i.owner.as_str().to_owned(),
            is_owner: v.is_owner,
            origin: match inst.origin {
                InstallOrigin::Created => "Created in this account",
                InstallOrigin::Bundle => "Installed through a bundle",
                InstallOrigin::Auto => "Installed automatically (authorization flow or issuetoken)",
            },
            tba: i.switches.token_based_auth,
            auth_flow: i.switches.tba_authorization_flow,
            callback_url: i.switches.callback_url.clone().unwrap_or_default(),
            issuetoken: i.switches.tba_issuetoken_endpoint,
            user_credentials: i.switches.user_credentials,
            has_credentials: i.has_credentials,
            created: when(i.created_at),
            modified: when(i.modified_at),
            state_changed: when(inst.state_changed_at),
            state_changed_by: inst.state_changed_by.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Record>,
    show_inactives: bool,
    can_create: bool,
}

pub(crate) async fn list(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    let q = ui.query()?;
    let show_inactives = q.checked("inactives");
    let views = state
        .tessera()
        .list_integrations(&ui.actor, show_inactives)
        .await?;
    Ok(render(&ListPage {
        rows: views.iter().map(Record::from).collect(),
        show_inactives,
        can_create: may_edit_installation(&ui),
        chrome: ui.chrome("integrations"),
    }))
}

/// The record with this id (from the path) as the signed-in user sees it.
async fn visible(state: &AppState, ui: &Ui, id: &str) -> Result<IntegrationView, UiError> {
    Ok(state
        .tessera()
        .integration(&ui.actor, integration_id(id)?)
        .await?)
}

fn integration_id(id: &str) -> Result<IntegrationId, UiError> {
    IntegrationId::parse(id).map_err(|_| {
        UiError::page(
            StatusCode::NOT_FOUND,
            "Not found",
            format!("{id:?} is not an integration record's internal id."),
        )
    })
}

#[derive(Template)]
#[template(path = "integration.html")]
struct ViewPage {
    chrome: Chrome,
    record: Record,
    shown: Option<ConsumerCredentials>,
    /// Why the key and secret are shown: "created", "reset" or "enabled".
    shown_because: &'static str,
    notes: Vec<NoteRow>,
    can_edit: bool,
    can_reset: bool,
    can_delete: bool,
    can_make_token: bool,
    /// The signature debugger of the record in this account (empty `debug_until`: closed).
    can_debug: bool,
    debug_until: String,
    debug_action: String,
}

async fn view_page(
    state: &AppState,
    ui: &Ui,
    view: &IntegrationView,
    shown: Option<ConsumerCredentials>,
    shown_because: &'static str,
) -> Result<Response, UiError> {
    let id = view.integration.id;
    let mut all = notes(state, ui, RecordRef::Integration(id)).await?;
    all.extend(
        notes(
            state,
            ui,
            RecordRef::Installation(id, ui.me.account.id.clone()),
        )
        .await?,
    );
    // Both lists are newest first; so is the merge (stable: same-moment notes keep order).
    all.sort_by_key(|n| std::cmp::Reverse(n.at_ms));
    Ok(render(&ViewPage {
        chrome: ui.chrome("integrations"),
        record: Record::from(view),
        shown,
        shown_because,
        notes: all,
        can_edit: may_edit_installation(ui) || (view.is_owner && ui.is_administrator()),
        can_reset: view.is_owner && ui.is_administrator(),
        can_delete: may_delete(ui, view),
        can_make_token: view.integration.switches.token_based_auth
            && (ui.can(Permission::AccessTokenManagement) || ui.can(Permission::UserAccessTokens)),
        can_debug: may_edit_installation(ui) && view.integration.switches.token_based_auth,
        debug_until: view
            .installation
            .signature_debug_until
            .filter(|until| *until > tessera_core::model::Timestamp::now())
            .map(super::when)
            .unwrap_or_default(),
        debug_action: format!("{LIST}/{}/signature-debug", id.get()),
    }))
}

/// The owner's administrators delete the record; elsewhere, those who manage installations
/// uninstall it (R10).
fn may_delete(ui: &Ui, view: &IntegrationView) -> bool {
    if view.is_owner {
        ui.is_administrator()
    } else {
        may_edit_installation(ui)
    }
}

fn may_edit_installation(ui: &Ui) -> bool {
    ui.is_administrator() || ui.can(Permission::IntegrationApplication)
}

pub(crate) async fn view(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let view = visible(&state, &ui, &id).await?;
    view_page(&state, &ui, &view, None, "").await
}

/// The shared fields as typed: name, description, the authentication switches.
#[derive(Debug, Default)]
pub(crate) struct Typed {
    pub name: String,
    pub description: String,
    pub tba: bool,
    pub auth_flow: bool,
    pub callback_url: String,
    pub issuetoken: bool,
    pub user_credentials: bool,
    pub state: String,
    pub note: String,
    pub concurrency_limit: String,
    pub ip_allow: String,
    /// Accounts that may install the record by its id, comma-separated (owner only).
    pub installable: String,
}

impl Typed {
    fn from_form(form: &Fields) -> Self {
        Self {
            name: form.value("name"),
            description: form.value("description"),
            tba: form.checked("token_based_auth"),
            auth_flow: form.checked("tba_authorization_flow"),
            callback_url: form.value("callback_url"),
            issuetoken: form.checked("tba_issuetoken_endpoint"),
            user_credentials: form.checked("user_credentials"),
            state: form.value("state"),
            note: form.value("note"),
            concurrency_limit: form.value("concurrency_limit"),
            ip_allow: form.value("ip_allow"),
            installable: form.value("installable_accounts"),
        }
    }

    fn from_record(r: &Record) -> Self {
        Self {
            name: r.name.clone(),
            description: r.description.clone(),
            tba: r.tba,
            auth_flow: r.auth_flow,
            callback_url: r.callback_url.clone(),
            issuetoken: r.issuetoken,
            user_credentials: r.user_credentials,
            state: r.state_code.to_owned(),
            note: r.note.clone(),
            concurrency_limit: r.concurrency_limit.clone(),
            ip_allow: r.ip_allow.clone(),
            installable: String::new(),
        }
    }

    /// The accounts typed in "Installable by", or the first that is not an account id.
    fn installable_accounts(&self) -> Result<Vec<AccountId>, String> {
        self.installable
            .split([',', ' ', '\n', '\r', '\t'])
            .filter(|a| !a.is_empty())
            .map(|a| {
                AccountId::parse(a)
                    .map_err(|_| format!("Installable by: {a:?} is not a NetSuite account ID"))
            })
            .collect()
    }

    fn switches(&self) -> AuthSwitches {
        AuthSwitches {
            token_based_auth: self.tba,
            tba_authorization_flow: self.auth_flow,
            callback_url: (!self.callback_url.is_empty()).then(|| self.callback_url.clone()),
            tba_issuetoken_endpoint: self.issuetoken,
            user_credentials: self.user_credentials,
        }
    }

    fn installation_changes(&self) -> Result<InstallationChanges, String> {
        let state = InstallState::from_code(&self.state)
            .ok_or_else(|| format!("State: {:?} is not one of the choices", self.state))?;
        let concurrency_limit = match self.concurrency_limit.as_str() {
            "" => None,
            n => Some(n.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("Concurrency limit: {n:?} is not a whole number of at least 1 (leave it empty for none)")
            })?),
        };
        let ip_allow = IpAllowList::parse("ip_allow", &self.ip_allow)
            .map_err(|e| format!("IP allow-list: {}", error_reason(&e)))?;
        Ok(InstallationChanges {
            state: Some(state),
            note: Some(self.note.clone()),
            concurrency_limit: Some(concurrency_limit),
            ip_allow: Some(ip_allow),
        })
    }
}

#[derive(Template)]
#[template(path = "integration_form.html")]
struct FormPage {
    chrome: Chrome,
    intent: String,
    /// `None` for a new record.
    record: Option<Record>,
    typed: Typed,
    shared_editable: bool,
    installation_editable: bool,
    states: Vec<(&'static str, &'static str)>,
    error: Option<String>,
}

const STATES: [(&str, &str); 3] = [
    ("enabled", "Enabled"),
    ("blocked", "Blocked"),
    ("waiting_for_approval", "Waiting for Approval"),
];

async fn form_page(
    ui: &Ui,
    record: Option<Record>,
    typed: Typed,
    error: Option<String>,
) -> Result<Response, UiError> {
    let shared_editable = record
        .as_ref()
        .is_none_or(|r| r.is_owner && ui.is_administrator());
    let installation_editable = record.is_some() && may_edit_installation(ui);
    let failed = error.is_some();
    // Only a new record's form is one-time: saving an edit twice changes nothing more.
    let intent = if record.is_none() {
        ui.intent().await?
    } else {
        String::new()
    };
    let mut response = render(&FormPage {
        intent,
        chrome: ui.chrome("integrations"),
        record,
        typed,
        shared_editable,
        installation_editable,
        states: STATES.to_vec(),
        error,
    });
    if failed {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// Creating records needs the Administrator role or Integration Application (core decides;
/// the page says so up front instead of after the form is filled in).
fn may_create(ui: &Ui) -> Result<(), UiError> {
    if may_edit_installation(ui) {
        Ok(())
    } else {
        Err(tessera_core::Error::not_permitted(
            "creating integration records requires the Administrator role or the Integration Application permission",
        )
        .into())
    }
}

pub(crate) async fn new_page(ui: Ui) -> Result<Response, UiError> {
    may_create(&ui)?;
    form_page(
        &ui,
        None,
        Typed {
            tba: true,
            state: "enabled".to_owned(),
            ..Typed::default()
        },
        None,
    )
    .await
}

pub(crate) async fn create(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    may_create(&ui)?;
    ui.spend_intent(
        "This form was sent already (perhaps the page was reloaded): the record was created then, and its consumer key and secret were shown that once. Find it in Manage Integrations.",
    )
    .await?;
    let typed = Typed::from_form(ui.form());
    let input = NewIntegrationInput {
        name: typed.name.clone(),
        description: typed.description.clone(),
        switches: typed.switches(),
    };
    match state.tessera().create_integration(&ui.actor, input).await {
        Ok((view, credentials)) => view_page(&state, &ui, &view, credentials, "created").await,
        Err(e @ tessera_core::Error::Invalid { .. }) => {
            form_page(&ui, None, typed, Some(super::sentence(&e))).await
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn edit_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let view = visible(&state, &ui, &id).await?;
    let record = Record::from(&view);
    let mut typed = Typed::from_record(&record);
    if record.is_owner && ui.is_administrator() {
        let accounts = state
            .tessera()
            .installable_accounts(&ui.actor, view.integration.id)
            .await?;
        typed.installable = accounts
            .iter()
            .map(AccountId::as_str)
            .collect::<Vec<_>>()
            .join(", ");
    }
    form_page(&ui, Some(record), typed, None).await
}

pub(crate) async fn edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let id = integration_id(&id)?;
    let tessera = state.tessera();
    let before = tessera.integration(&ui.actor, id).await?;
    let record = Record::from(&before);
    let typed = Typed::from_form(ui.form());
    let shared = record.is_owner && ui.is_administrator();
    let mut shown = None;
    let mut after = before.clone();
    if shared {
        let accounts = match typed.installable_accounts() {
            Ok(a) => a,
            Err(message) => return form_page(&ui, Some(record), typed, Some(message)).await,
        };
        let changes = IntegrationChanges {
            name: Some(typed.name.clone()),
            description: Some(typed.description.clone()),
            switches: Some(typed.switches()),
        };
        match tessera.update_integration(&ui.actor, id, changes).await {
            Ok((view, credentials)) => {
                after = view;
                shown = credentials;
            }
            Err(e @ tessera_core::Error::Invalid { .. }) => {
                return form_page(&ui, Some(record), typed, Some(super::sentence(&e))).await;
            }
            Err(e) => return Err(e.into()),
        }
        tessera
            .set_installable_accounts(&ui.actor, id, accounts)
            .await?;
    }
    if may_edit_installation(&ui) {
        let changes = match typed.installation_changes() {
            Ok(c) => c,
            Err(message) => return form_page(&ui, Some(record), typed, Some(message)).await,
        };
        match tessera.update_installation(&ui.actor, id, changes).await {
            Ok(view) => after = view,
            Err(e @ tessera_core::Error::Invalid { .. }) => {
                return form_page(&ui, Some(record), typed, Some(super::sentence(&e))).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if shown.is_some() {
        // Token-based Authentication was switched on for the first time: the new key and
        // secret are on this page and no other (R6).
        return view_page(&state, &ui, &after, shown, "enabled").await;
    }
    Ok(ui
        .done(
            format!("Integration record {:?} saved.", after.integration.name),
            &format!("{LIST}/{id}"),
        )
        .await)
}

#[derive(Template)]
#[template(path = "integration_reset.html")]
struct ResetPage {
    chrome: Chrome,
    record: Record,
    intent: String,
}

pub(crate) async fn reset_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let view = visible(&state, &ui, &id).await?;
    let intent = ui.intent().await?;
    Ok(render(&ResetPage {
        chrome: ui.chrome("integrations"),
        record: Record::from(&view),
        intent,
    }))
}

pub(crate) async fn reset(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let id = integration_id(&id)?;
    ui.spend_intent(
        "This confirmation was used already (perhaps the page was reloaded): the credentials were reset then, and that pair is the one in force. To reset again, open the record and choose Reset Credentials.",
    )
    .await?;
    let confirmation = ResetConfirmation::from(ui.form().checked("confirm"));
    let (view, credentials) = state
        .tessera()
        .reset_credentials(&ui.actor, id, confirmation)
        .await?;
    view_page(&state, &ui, &view, Some(credentials), "reset").await
}

#[derive(Template)]
#[template(path = "integration_delete.html")]
struct DeletePage {
    chrome: Chrome,
    record: Record,
}

pub(crate) async fn delete_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let view = visible(&state, &ui, &id).await?;
    Ok(render(&DeletePage {
        chrome: ui.chrome("integrations"),
        record: Record::from(&view),
    }))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let id = integration_id(&id)?;
    ui.confirmed("Deleting or uninstalling an integration record")?;
    let view = state.tessera().integration(&ui.actor, id).await?;
    let revoked = state.tessera().delete_integration(&ui.actor, id).await?;
    Ok(ui
        .done(
            format!(
                "Integration record {:?} {}; {revoked} access token{} revoked.",
                view.integration.name,
                if view.is_owner {
                    "deleted"
                } else {
                    "uninstalled from this account"
                },
                if revoked == 1 { "" } else { "s" }
            ),
            LIST,
        )
        .await)
}

/// What is wrong with a value, without the field's name (the page names it its own way).
pub(crate) fn error_reason(e: &tessera_core::Error) -> String {
    match e {
        tessera_core::Error::Invalid { why, .. } => why.clone(),
        other => other.to_string(),
    }
}

/// Opens or closes the signature debugger of the record in this account.
pub(crate) async fn signature_debug(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let Ok(wanted) = IntegrationId::parse(&id) else {
        return Err(UiError::page(
            StatusCode::NOT_FOUND,
            "Not found",
            format!("{id:?} is not an integration record's internal id."),
        ));
    };
    let minutes = super::tokens::debug_minutes(&ui)?;
    let until = state
        .tessera()
        .set_signature_debug(
            &ui.actor,
            tessera_core::DebugTarget::Integration(wanted),
            minutes,
        )
        .await?;
    let message = match until {
        Some(until) => format!(
            "The signature debugger is open until {} UTC: refused signatures with this record's tokens are kept in the Login Audit Trail.",
            super::when(until)
        ),
        None => "The signature debugger is closed.".to_owned(),
    };
    Ok(ui.done(message, &format!("{LIST}/{id}")).await)
}
