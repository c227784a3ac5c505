//! Setup › Users/Roles › View Login Audit Trail: every sign-in and signed request, with the
//! Detail that tells an administrator why it failed.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::ids::{IntegrationId, RoleId, UserId};
use tessera_core::model::Timestamp;
use tessera_core::store::{AttemptQuery, LoginAttempt};

use super::tokens::Choice;
use super::{Chrome, Ui, UiError, link, render, when};
use crate::AppState;
use tessera_core::Detail;

const PAGE_SIZE: u32 = 50;
const TRAIL: &str = "/app/setup/login-audit-trail";

#[derive(Debug)]
struct Row {
    id: i64,
    /// The signature debugger kept this refusal's base string.
    captured: bool,
    at: String,
    email: String,
    user: String,
    role: String,
    success: bool,
    detail: String,
    note: String,
    application: String,
    token: String,
    ip: String,
    user_agent: String,
    request: String,
    surface: String,
}

impl From<LoginAttempt> for Row {
    fn from(a: LoginAttempt) -> Self {
        Self {
            id: a.id.unwrap_or_default(),
            captured: a.has_signature_capture,
            at: when(a.at),
            email: a.email.unwrap_or_default(),
            user: a.user_name.unwrap_or_default(),
            role: a.role_name.unwrap_or_default(),
            success: a.success,
            detail: a.detail.as_str().to_owned(),
            note: a.detail_note,
            application: a.application_name.unwrap_or_default(),
            token: a.token_name.unwrap_or_default(),
            ip: a.ip,
            user_agent: a.user_agent,
            request: format!("{} {}", a.method, a.request_uri),
            surface: a.surface,
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct TrailPage {
    chrome: Chrome,
    rows: Vec<Row>,
    statuses: Vec<Choice>,
    users: Vec<Choice>,
    roles: Vec<Choice>,
    applications: Vec<Choice>,
    detail: String,
    /// Every Detail code, for the field's suggestions.
    details: Vec<&'static str>,
    token_name: String,
    from: String,
    to: String,
    error: Option<String>,
    next: Option<String>,
    first: Option<String>,
    filtered: bool,
}

/// A day typed in a date field (`YYYY-MM-DD`), as the moment it starts (UTC); `next_day` for
/// the moment it ends.
fn day(field: &str, value: &str, next_day: bool) -> Result<Option<Timestamp>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let start = Timestamp::parse_rfc3339(&format!("{value}T00:00:00Z"))
        .map_err(|_| format!("{field}: {value:?} is not a date like 2026-11-28"))?;
    Ok(Some(if next_day {
        Timestamp::from_millis(start.millis() + 86_400_000)
    } else {
        start
    }))
}

pub(crate) async fn trail(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    let q = ui.query()?;
    let mut errors: Vec<String> = Vec::new();
    let status = q.value("status");
    let success = match status.as_str() {
        "" | "all" => None,
        "success" => Some(true),
        "failure" => Some(false),
        other => {
            errors.push(format!("Status: {other:?} is not one of the choices"));
            None
        }
    };
    let mut id = |name: &str, label: &str| {
        q.id(name, label).unwrap_or_else(|e| {
            errors.push(e);
            None
        })
    };
    let user = id("user", "User");
    let role = id("role", "Role");
    let application = id("application", "Application");
    let before_id = id("before", "Page");
    let from_text = q.value("from");
    let to_text = q.value("to");
    let from = day("From", &from_text, false).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let to = day("To", &to_text, true).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let detail = q.value("detail");
    let token_name = q.value("token_name");
    // As the admin API's parameters (`api::query`): a NUL would reach the database, which
    // refuses it, and come back as an outage.
    if token_name.chars().any(char::is_control) {
        errors.push("Token name: must not contain control characters".to_owned());
    }
    let query = AttemptQuery {
        account: None,
        success,
        detail: if detail.is_empty() {
            None
        } else {
            Detail::parse(&detail).or_else(|| {
                errors.push(format!(
                    "Detail: {detail:?} is not one of the codes offered"
                ));
                None
            })
        },
        token: None,
        user: user.map(UserId::new),
        role: role.map(RoleId::new),
        integration: application.map(IntegrationId::new),
        token_name: (!token_name.is_empty()).then(|| token_name.clone()),
        from,
        to,
        before_id,
        limit: PAGE_SIZE,
    };
    let mut attempts = Vec::new();
    if errors.is_empty() {
        match state.tessera().login_audit_trail(&ui.actor, query).await {
            Ok(a) => attempts = a,
            Err(tessera_core::Error::Invalid { field, why }) => {
                errors.push(format!(
                    "{}: {why}",
                    if field == "to" { "To" } else { field }
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let last_id = attempts.last().and_then(|a| a.id);
    let full = attempts.len() == PAGE_SIZE as usize;
    let params = |before: String| {
        link(
            TRAIL,
            &[
                ("status", status.clone()),
                ("user", q.value("user")),
                ("role", q.value("role")),
                ("application", q.value("application")),
                ("detail", detail.clone()),
                ("token_name", token_name.clone()),
                ("from", from_text.clone()),
                ("to", to_text.clone()),
                ("before", before),
            ],
        )
    };
    let tessera = state.tessera();
    let account = &ui.me.account.id;
    let choices = |current: String, all: Vec<(i64, String)>| {
        let mut out = vec![Choice::new("", "All", &current)];
        out.extend(
            all.into_iter()
                .map(|(id, name)| Choice::new(id, name, &current)),
        );
        out
    };
    let users = tessera
        .list_users(&ui.actor, account)
        .await?
        .into_iter()
        .map(|u| (u.id.get(), u.name))
        .collect();
    let roles = tessera
        .list_roles(&ui.actor, account)
        .await?
        .into_iter()
        .map(|r| (r.id.get(), r.name))
        .collect();
    let applications = tessera
        .list_integrations(&ui.actor, true)
        .await?
        .into_iter()
        .map(|v| (v.integration.id.get(), v.integration.name))
        .collect();
    let current_status = if status.is_empty() {
        "all".to_owned()
    } else {
        status.clone()
    };
    let statuses = [
        ("all", "All"),
        ("success", "Success"),
        ("failure", "Failure"),
    ]
    .into_iter()
    .map(|(v, l)| Choice::new(v, l, &current_status))
    .collect();
    let filtered = [
        "status",
        "user",
        "role",
        "application",
        "detail",
        "token_name",
        "from",
        "to",
    ]
    .iter()
    .any(|f| {
        let v = q.value(f);
        let unset = v.is_empty() || (*f == "status" && v == "all");
        !unset
    });
    let error = (!errors.is_empty()).then(|| errors.join("; "));
    let mut response = render(&TrailPage {
        chrome: ui.chrome("audit"),
        rows: attempts.into_iter().map(Row::from).collect(),
        statuses,
        users: choices(q.value("user"), users),
        roles: choices(q.value("role"), roles),
        applications: choices(q.value("application"), applications),
        details: Detail::ALL.iter().map(|d| d.as_str()).collect(),
        detail: detail.clone(),
        token_name: token_name.clone(),
        from: from_text.clone(),
        to: to_text.clone(),
        next: last_id.filter(|_| full).map(|id| params(id.to_string())),
        first: before_id.map(|_| params(String::new())),
        filtered,
        error: error.clone(),
    });
    if error.is_some() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

#[derive(Template)]
#[template(path = "signature.html")]
struct SignaturePage {
    chrome: Chrome,
    id: i64,
    capture: tessera_core::debugger::Capture,
    /// The integrator's base string as pasted.
    pasted: String,
    /// The comparison, once something was pasted.
    result: Option<Compared>,
}

/// A comparison as the page shows it: each string split at the first difference.
struct Compared {
    equal: bool,
    server: (String, String),
    client: (String, String),
    causes: Vec<&'static str>,
}

/// The longest base string a comparison reads.
const PASTED_MAX: usize = 64 * 1024;

fn audit_id(id: &str) -> Result<i64, UiError> {
    id.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        UiError::page(
            StatusCode::NOT_FOUND,
            "Not found",
            format!("{id:?} is not an audit row's id."),
        )
    })
}

/// The signature debugger's page of a refused request: the base string the server computed,
/// and a box for the one the integrator's code produced.
pub(crate) async fn signature(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let id = audit_id(&id)?;
    let capture = state.tessera().signature_capture(&ui.actor, id).await?;
    Ok(render(&SignaturePage {
        chrome: ui.chrome("audit"),
        id,
        capture,
        pasted: String::new(),
        result: None,
    }))
}

/// Compares a pasted base string with the server's: where they first differ, and why.
pub(crate) async fn compare(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    ui: Ui,
) -> Result<Response, UiError> {
    let id = audit_id(&id)?;
    let capture = state.tessera().signature_capture(&ui.actor, id).await?;
    let pasted = ui.form().value("base_string");
    if pasted.len() > PASTED_MAX {
        return Err(UiError::bad_request(format!(
            "The base string is longer than {PASTED_MAX} bytes."
        )));
    }
    let server = capture.server_side();
    let compared = tessera_oauth1::debug::compare(&server, &pasted);
    let client = tessera_oauth1::debug::mask_credentials(pasted.trim());
    let split = |s: &str, at: Option<usize>| match at {
        Some(at) if at <= s.len() => (s[..at].to_owned(), s[at..].to_owned()),
        _ => (s.to_owned(), String::new()),
    };
    let result = Compared {
        equal: compared.first_difference.is_none(),
        server: split(&server.base_string, compared.first_difference),
        client: split(&client, compared.first_difference),
        causes: compared.causes.iter().map(|c| c.explain()).collect(),
    };
    Ok(render(&SignaturePage {
        chrome: ui.chrome("audit"),
        id,
        capture,
        pasted,
        result: Some(result),
    }))
}
