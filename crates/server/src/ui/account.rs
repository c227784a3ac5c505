//! Setup › Company › Account Settings: the account's switches and policies, for its
//! administrators — the Token-based Authentication feature (R11), approval of auto-installed
//! records (R14), the concurrency limit (RULES.md §5) and the maximum token lifetime (R16).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::AccountSettings;
use tessera_core::allow::IpAllowList;

use super::{Chrome, Ui, UiError, render};
use crate::AppState;

const PATH: &str = "/app/setup/account";

#[derive(Template)]
#[template(path = "account.html")]
struct SettingsPage {
    chrome: Chrome,
    account_id: String,
    account_name: String,
    tba_enabled: bool,
    require_approval: bool,
    concurrency_limit: String,
    default_limit: u32,
    token_max_lifetime_days: String,
    max_days: u32,
    ip_allow: String,
    error: Option<String>,
}

fn must_administer(ui: &Ui) -> Result<(), UiError> {
    if ui.is_administrator() {
        Ok(())
    } else {
        Err(tessera_core::Error::not_permitted(
            "only administrators of the account change its settings",
        )
        .into())
    }
}

/// The form as sent (or as stored, on the first view).
struct Form {
    tba_enabled: bool,
    require_approval: bool,
    concurrency_limit: String,
    token_max_lifetime_days: String,
    ip_allow: String,
}

fn page(state: &AppState, ui: &Ui, form: Form, error: Option<String>) -> Response {
    let failed = error.is_some();
    let mut response = render(&SettingsPage {
        chrome: ui.chrome("account"),
        account_id: ui.me.account.id.as_str().to_owned(),
        account_name: ui.me.account.name.clone(),
        tba_enabled: form.tba_enabled,
        require_approval: form.require_approval,
        concurrency_limit: form.concurrency_limit,
        default_limit: state.tessera().default_concurrency_limit(),
        token_max_lifetime_days: form.token_max_lifetime_days,
        max_days: tessera_core::LIFETIME_MAX_DAYS,
        ip_allow: form.ip_allow,
        error,
    });
    if failed {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

pub(crate) async fn settings_page(
    State(state): State<AppState>,
    ui: Ui,
) -> Result<Response, UiError> {
    must_administer(&ui)?;
    let a = &ui.me.account;
    let form = Form {
        tba_enabled: a.tba_enabled,
        require_approval: a.require_approval_for_auto_install,
        concurrency_limit: a
            .concurrency_limit
            .map(|n| n.to_string())
            .unwrap_or_default(),
        token_max_lifetime_days: a
            .token_max_lifetime_days
            .map(|n| n.to_string())
            .unwrap_or_default(),
        ip_allow: a.ip_allow.networks().collect::<Vec<_>>().join("\n"),
    };
    Ok(page(&state, &ui, form, None))
}

pub(crate) async fn save(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    must_administer(&ui)?;
    let f = ui.form();
    let form = Form {
        tba_enabled: f.checked("tba_enabled"),
        require_approval: f.checked("require_approval"),
        concurrency_limit: f.value("concurrency_limit"),
        token_max_lifetime_days: f.value("token_max_lifetime_days"),
        ip_allow: f.value("ip_allow"),
    };
    let number = |name: &str, label: &str| -> Result<Option<u32>, String> {
        match f.text(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u32>()
                .map(Some)
                .map_err(|_| format!("{label}: {v:?} is not a whole number")),
        }
    };
    let parsed = number("concurrency_limit", "Concurrency limit").and_then(|limit| {
        number("token_max_lifetime_days", "Maximum token lifetime").map(|days| (limit, days))
    });
    let parsed = parsed.and_then(|(limit, days)| {
        IpAllowList::parse("ip_allow", &form.ip_allow)
            .map(|list| (limit, days, list))
            .map_err(|e| format!("IP allow-list: {}", super::integrations::error_reason(&e)))
    });
    let (limit, days, ip_allow) = match parsed {
        Ok(v) => v,
        Err(e) => return Ok(page(&state, &ui, form, Some(e))),
    };
    let settings = AccountSettings {
        tba_enabled: Some(form.tba_enabled),
        require_approval_for_auto_install: Some(form.require_approval),
        concurrency_limit: Some(limit),
        token_max_lifetime_days: Some(days),
        ip_allow: Some(ip_allow),
    };
    match state
        .tessera()
        .update_account_settings(&ui.actor, &ui.me.account.id, settings)
        .await
    {
        Ok(_) => Ok(ui.done("Account settings saved.", PATH).await),
        Err(tessera_core::Error::Invalid { field, why }) => {
            let label = match field {
                "concurrency_limit" => "Concurrency limit",
                "token_max_lifetime_days" => "Maximum token lifetime",
                other => other,
            };
            let error = super::sentence(&format!("{label}: {why}"));
            Ok(page(&state, &ui, form, Some(error)))
        }
        Err(e) => Err(e.into()),
    }
}
