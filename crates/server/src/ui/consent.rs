//! The authorization flow's step 2 (RULES.md §4.2): `/app/login/secure/authorizetoken.nl`, the
//! page where a signed-in user allows an application to get an access token for one of its
//! roles, or denies it. Without a session the user signs in first (the UI's sign-in, with its
//! throttle and audit rows) and comes back here. Allow and Deny are one form post with the
//! session's form token; the answer is a redirect to the application's callback.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::ids::RoleId;
use tessera_core::model::InstallState;
use tessera_core::{ConsentDecision, check_flow_state};

use super::{Ui, UiError, render};
use crate::AppState;

/// The consent page's path, as NetSuite names it.
pub(crate) const PATH: &str = "/app/login/secure/authorizetoken.nl";

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    csrf: String,
    token: String,
    state: String,
    application: String,
    description: String,
    owner_name: String,
    owner: String,
    account_name: String,
    account: String,
    user_name: String,
    email: String,
    /// (id, name, selected)
    roles: Vec<(i64, String, bool)>,
    callback: String,
    waiting_for_approval: bool,
    blocked: bool,
}

/// `oauth_token` and `state` of the page's query or form.
fn flow_fields(fields: &crate::form::Fields) -> Result<(String, String), UiError> {
    let Some(token) = fields.text("oauth_token") else {
        return Err(UiError::bad_request(
            "This page needs the oauth_token the application got from /rest/requesttoken.",
        ));
    };
    let state = fields.text("state").unwrap_or_default().to_owned();
    check_flow_state(&state).map_err(UiError::from)?;
    Ok((token.to_owned(), state))
}

/// GET: the consent page.
pub(crate) async fn page(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    let query = ui.query()?;
    let (token, flow_state) = flow_fields(&query)?;
    let request = state.tessera().consent_request(&ui.actor, &token).await?;
    let current = ui.me.role.id;
    let roles = request
        .roles
        .iter()
        .map(|r| (r.id.get(), r.name.clone(), r.id == current))
        .collect();
    let page = ConsentPage {
        csrf: ui.auth.csrf.clone(),
        token: request.token_id.as_str().to_owned(),
        state: flow_state,
        application: request.application_name,
        description: request.application_description,
        owner_name: request.owner_name,
        owner: request.owner.as_str().to_owned(),
        account_name: request.account.name.clone(),
        account: request.account.id.as_str().to_owned(),
        user_name: ui.me.user.name.clone(),
        email: ui.me.user.email.as_str().to_owned(),
        roles,
        callback: request.callback.clone(),
        waiting_for_approval: request.installation == InstallState::WaitingForApproval,
        blocked: request.installation == InstallState::Blocked,
    };
    let mut response = render(&page);
    // The form's answer is a redirect to the callback: the page's policy must let the form go
    // there (browsers apply `form-action` to the redirect too).
    if let Some(source) = form_action_source(&request.callback)
        && let Ok(csp) = HeaderValue::from_str(&super::CSP.replace(
            "form-action 'self'",
            &format!("form-action 'self' {source}"),
        ))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    Ok(response)
}

/// POST: Allow (with the chosen role) or Deny; either way to the callback.
pub(crate) async fn decide(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    let form = ui.form();
    let (token, flow_state) = flow_fields(form)?;
    let decision = match form.text("decision") {
        Some("allow") => {
            let role = form
                .text("role")
                .and_then(|r| RoleId::parse(r).ok())
                .ok_or_else(|| {
                    UiError::bad_request("Choose the role the application acts with.")
                })?;
            ConsentDecision::Allow { role }
        }
        Some("deny") => ConsentDecision::Deny,
        _ => return Err(UiError::bad_request("Choose Allow or Deny.")),
    };
    let to = state
        .tessera()
        .decide_consent(&ui.actor, &token, decision, &flow_state)
        .await?;
    // 303: the browser follows with a GET, whatever the form's method was. The callback was
    // validated (no spaces or control characters) and the rest is encoded, so this holds; a
    // value that is not a header value all the same is a 500, never a panic.
    let location = HeaderValue::from_str(&to).map_err(|_| {
        tracing::error!("a callback redirect is not a valid Location");
        UiError::page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            crate::wire::INTERNAL_MESSAGE,
        )
    })?;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
}

/// The CSP source that lets a form be redirected to `callback`: its origin (any port on
/// `http://localhost`, which the flow lets differ), or its scheme for an application's own
/// scheme. `None` when the callback holds anything a policy could be confused by.
fn form_action_source(callback: &str) -> Option<String> {
    let (scheme, rest) = callback.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if !scheme
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    if scheme != "http" && scheme != "https" {
        return Some(format!("{scheme}:"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty()
        || !authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    {
        return None;
    }
    let host = authority.split(':').next().unwrap_or(authority);
    if scheme == "http" && host == "localhost" {
        return Some("http://localhost:*".to_owned());
    }
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::form_action_source;

    #[test]
    fn form_action_names_the_callback_origin_and_nothing_else() {
        assert_eq!(
            form_action_source("https://app.example/cb?x=1").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            form_action_source("http://localhost:5000/cb").as_deref(),
            Some("http://localhost:*")
        );
        assert_eq!(
            form_action_source("myapp://done").as_deref(),
            Some("myapp:")
        );
        assert_eq!(form_action_source("https://a.example;script-src/x"), None);
        assert_eq!(form_action_source("https://user@a.example/x"), None);
        assert_eq!(form_action_source("nonsense"), None);
    }
}
