//! Signing in and out, switching role, changing one's password.
//!
//! Sign-in is throttled like NLAuth (the same counters: failures per user and per source
//! address) and every attempt lands in the login audit trail (surface `ui`), never the
//! password. The sign-in form carries its own token, matched against a cookie set with the
//! form (no session exists before sign-in); on success the session id is replaced.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use tessera_core::Actor;
use tessera_core::model::Context;
use tessera_core::store::LoginAttempt;
use tessera_oauth1::SecretString;

use super::session::{self, AUTH, SessionAuth};
use super::{Chrome, Ui, UiError, Visit, constant_time_eq, render};
use crate::AppState;
use crate::signin::PasswordRefused;
use crate::wire::Surface;

const LOGIN_COOKIE: &str = "tessera-login";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    account: String,
    email: String,
    next: String,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    insecure: bool,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    chrome: Chrome,
}

pub(crate) async fn home(ui: Ui) -> Response {
    render(&Home {
        chrome: ui.chrome("home"),
    })
}

/// Only our own pages are gone back to after sign-in, by a path that is a valid `Location`
/// as it stands (visible ASCII: what the sign-in redirect itself produced). Of the sign-in
/// pages, only the authorization flow's consent page.
fn safe_next(next: Option<&str>) -> String {
    let consent = |n: &str| {
        n.strip_prefix(super::consent::PATH)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('?'))
    };
    match next {
        Some(n)
            if n.starts_with("/app")
                && (!n.starts_with("/app/login") || consent(n))
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n.to_owned()
        }
        _ => "/app".to_owned(),
    }
}

/// The value of a cookie the browser sent (the first of that name), over every `Cookie`
/// header: another application on the same host may set cookies of its own, even ones that
/// are not ASCII, and they must not hide ours.
fn cookie(visit: &Visit, name: &str) -> Option<String> {
    visit
        .received
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .find_map(|value| {
            let text = String::from_utf8_lossy(value.as_bytes());
            Cookie::split_parse(text.as_ref())
                .filter_map(Result::ok)
                .find(|c| c.name() == name)
                .map(|c| c.value().to_owned())
        })
}

/// Renders the sign-in form with a fresh form token, set as a cookie too.
async fn login_form(
    state: &AppState,
    account: String,
    email: String,
    next: String,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let csrf = session::random_token();
    let account = if account.is_empty() {
        only_account(state).await.unwrap_or_default()
    } else {
        account
    };
    let mut response = render(&LoginPage {
        account,
        email,
        next,
        csrf: csrf.clone(),
        notice,
        error: error.clone(),
        insecure: !session::relaxed(state)
            && state
                .origins()
                .iter()
                .all(|o| o.scheme == tessera_oauth1::Scheme::Http),
    });
    set_login_cookie(state, &mut response, Some(&csrf));
    if error.is_some() {
        *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
    }
    response
}

/// Sets the sign-in form's cookie to the form token, or removes it (`None`).
fn set_login_cookie(state: &AppState, response: &mut Response, token: Option<&str>) {
    set_cookie(state, response, LOGIN_COOKIE, token, None);
}

/// What a sign-in that did not log in is told, whatever the reason after the password.
const WRONG_CREDENTIALS: &str = "The account ID, email address or password is incorrect.";

/// The device cookie (OWASP's "device cookies"): a random id the throttle trusts for the user
/// who signed in with it. Kept 30 days, like the trust it stands for.
const DEVICE_COOKIE: &str = "tessera-device";
const DEVICE_COOKIE_LIFETIME: time::Duration = time::Duration::days(30);

/// Sets a cookie of the UI, or removes it (`value` `None`); its attributes follow the session
/// cookie's (`__Host-` and `Secure` unless loopback HTTP, `HttpOnly`, `SameSite=Strict`).
fn set_cookie(
    state: &AppState,
    response: &mut Response,
    name: &str,
    value: Option<&str>,
    max_age: Option<time::Duration>,
) {
    let mut cookie = Cookie::build((session::cookie_name(state, name), value.unwrap_or("")))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(!session::relaxed(state))
        .build();
    match value {
        None => cookie.make_removal(),
        Some(_) => {
            if let Some(max_age) = max_age {
                cookie.set_max_age(max_age);
            }
        }
    }
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The account field starts filled in when the server holds exactly one account.
async fn only_account(state: &AppState) -> Option<String> {
    let accounts = state
        .tessera()
        .list_accounts(&Actor::Operator {
            context: Context::Ui,
        })
        .await
        .ok()?;
    match accounts.as_slice() {
        [only] => Some(only.id.as_str().to_owned()),
        _ => None,
    }
}

pub(crate) async fn login_page(State(state): State<AppState>, visit: Visit) -> Response {
    let query = match crate::form::Fields::parse(visit.received.query().as_bytes()) {
        Ok(q) => q,
        Err(e) => return UiError::from(e).into_response(),
    };
    let next = safe_next(query.text("next"));
    if matches!(visit.session.get::<SessionAuth>(AUTH).await, Ok(Some(_))) {
        return Redirect::to(&next).into_response();
    }
    let notice = match query.text("reason") {
        Some("expired") => Some("Your session ended. Sign in again to continue."),
        Some("revoked") => Some(
            "You were signed out: your user, role or password changed. Sign in again to continue.",
        ),
        Some("signed_out") => Some("You have signed out."),
        _ => None,
    };
    login_form(&state, String::new(), String::new(), next, notice, None).await
}

pub(crate) async fn login(State(state): State<AppState>, visit: Visit) -> Response {
    match sign_in(&state, &visit).await {
        Ok(response) => response,
        Err(SignInRefused::Page(e)) => e.into_response(),
        Err(SignInRefused::Form {
            account,
            email,
            next,
            message,
        }) => login_form(&state, account, email, next, None, Some(message)).await,
    }
}

enum SignInRefused {
    Page(UiError),
    /// Shown on the form again, with what was typed (but the password).
    Form {
        account: String,
        email: String,
        next: String,
        message: String,
    },
}

impl From<UiError> for SignInRefused {
    fn from(e: UiError) -> Self {
        SignInRefused::Page(e)
    }
}

async fn sign_in(state: &AppState, visit: &Visit) -> Result<Response, SignInRefused> {
    visit.check_origin(state)?;
    let form = crate::form::Fields::parse(&visit.received.body).map_err(UiError::from)?;
    let account_text = form.value("account");
    let email_text = form.value("email");
    let next = safe_next(form.text("next"));
    let again = |message: &str| SignInRefused::Form {
        account: account_text.clone(),
        email: email_text.clone(),
        next: next.clone(),
        message: message.to_owned(),
    };
    let expected = cookie(visit, &session::cookie_name(state, LOGIN_COOKIE)).unwrap_or_default();
    let sent = form.get("csrf").unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
        return Err(again(
            "The sign-in form had expired (or cookies are off for this site). Try again.",
        ));
    }
    let context = visit.received.context_for(state, Surface::WebUi);
    let password = SecretString::from(form.get("password").unwrap_or_default().to_owned());
    let device = cookie(visit, &session::cookie_name(state, DEVICE_COOKIE));
    let attempt = crate::signin::PasswordAttempt {
        account: &account_text,
        email: &email_text,
        password: &password,
        device: device.as_deref(),
    };
    let signed_in = match crate::signin::check(state, &context, attempt)
        .await
        .map_err(UiError::from)?
    {
        Ok(signed_in) => signed_in,
        Err(PasswordRefused::Malformed) => {
            return Err(again(
                "Enter your account ID (like 1234567) and your email address.",
            ));
        }
        Err(PasswordRefused::Throttled) => {
            return Err(again(
                "Too many failed sign-ins for this user or from this address. Try again later.",
            ));
        }
        Err(PasswordRefused::Wrong) => return Err(again(WRONG_CREDENTIALS)),
    };
    let (account, user) = (signed_in.account.clone(), signed_in.user.clone());
    let email = signed_in.email.as_str().to_owned();
    let record = |mut row: LoginAttempt| {
        row.email = Some(email.clone());
        row.account = Some(account.clone());
        state.verifier().record_attempt(row)
    };
    let roles = state
        .tessera()
        .sign_in_roles(&user)
        .await
        .map_err(UiError::from)?;
    let mut row = context.attempt(false, tessera_core::Detail::RoleNotAllowed, "");
    row.user = Some(user.id);
    row.user_name = Some(user.name.clone());
    let Some(role) = roles.first() else {
        row.detail_note = "none of the user's roles may sign in to the UI".to_owned();
        record(row).await;
        // The same words as a wrong password: a page that said the password was right would
        // confirm a guess without a login. The audit trail has the reason.
        return Err(again(WRONG_CREDENTIALS));
    };
    let auth = SessionAuth::new(&account, user.id, role.id);
    let session = &visit.session;
    let stored = async {
        session.insert(AUTH, &auth).await?;
        // A new id at sign-in: an id planted before it is worth nothing after.
        session.cycle_id().await
    };
    stored.await.map_err(super::session_failed)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Err(e) = state.tessera().purge_web_sessions(now).await {
        tracing::warn!(error = %tessera_core::Chain(&e), "expired web sessions could not be removed");
    }
    let device = signed_in.logged_in(state);
    row.success = true;
    row.detail = tessera_core::Detail::Success;
    row.role = Some(role.id);
    row.role_name = Some(role.name.clone());
    record(row).await;
    let mut response = Redirect::to(&next).into_response();
    // The sign-in form's cookie has done its work.
    set_login_cookie(state, &mut response, None);
    // The browser is now one this user signs in from: guesses elsewhere never lock it out.
    set_cookie(
        state,
        &mut response,
        DEVICE_COOKIE,
        Some(&device),
        Some(DEVICE_COOKIE_LIFETIME),
    );
    Ok(response)
}

pub(crate) async fn logout(ui: Ui) -> Response {
    if let Err(e) = ui.session.flush().await {
        return super::session_failed(e).into_response();
    }
    Redirect::to("/app/login?reason=signed_out").into_response()
}

pub(crate) async fn switch_role(ui: Ui) -> Response {
    let wanted = ui.form().text("role").and_then(|r| r.parse::<i64>().ok());
    let Some(role) = ui.me.roles.iter().find(|r| Some(r.id.get()) == wanted) else {
        return UiError::bad_request("You do not hold that role, or it cannot sign in to the UI.")
            .into_response();
    };
    let mut auth = ui.auth.clone();
    auth.role = role.id.get();
    let switched = async {
        ui.session.insert(AUTH, &auth).await?;
        ui.session.cycle_id().await
    };
    if let Err(e) = switched.await {
        return super::session_failed(e).into_response();
    }
    ui.done(format!("You are now working as {}.", role.name), "/app")
        .await
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    chrome: Chrome,
    error: Option<String>,
}

pub(crate) async fn password_page(ui: Ui) -> Response {
    render(&PasswordPage {
        chrome: ui.chrome("password"),
        error: None,
    })
}

pub(crate) async fn change_password(State(state): State<AppState>, ui: Ui) -> Response {
    let form = ui.form();
    let current = SecretString::from(form.get("current_password").unwrap_or_default().to_owned());
    let new = SecretString::from(form.get("new_password").unwrap_or_default().to_owned());
    let confirm = form.get("confirm_password").unwrap_or_default();
    let again = |error: String| {
        let mut response = render(&PasswordPage {
            chrome: ui.chrome("password"),
            error: Some(error),
        });
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
        response
    };
    if new.expose() != confirm {
        return again("The new password and its confirmation differ.".to_owned());
    }
    match state
        .tessera()
        .change_own_password(&ui.actor, &current, &new)
        .await
    {
        Ok(()) => {}
        Err(tessera_core::Error::Invalid { field, why }) => {
            let label = match field {
                "current_password" => "The current password",
                _ => "The new password",
            };
            return again(format!("{label} {why}."));
        }
        Err(e) => return UiError::from(e).into_response(),
    }
    // Every session of the user was ended; this browser goes on under a new id and form token.
    let mut auth = ui.auth.clone();
    auth.csrf = session::random_token();
    let kept = async {
        ui.session.insert(AUTH, &auth).await?;
        ui.session.cycle_id().await
    };
    if let Err(e) = kept.await {
        return super::session_failed(e).into_response();
    }
    ui.done(
        "Your password was changed. Other browsers signed in as you were signed out.",
        "/app",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_pages_are_returned_to() {
        assert_eq!(
            safe_next(Some("/app/setup/access-tokens?revoked=no")),
            "/app/setup/access-tokens?revoked=no"
        );
        for bad in [
            "https://evil.example.com/app",
            "//evil.example.com",
            "/app/login",
            "/api/v1/tokens",
            "/app\\..\\x",
            "/app/ü",
            "/app/\u{7f}",
            "/app/ x",
            "/app/\r\nSet-Cookie: x=1",
        ] {
            assert_eq!(safe_next(Some(bad)), "/app", "{bad}");
        }
        assert_eq!(safe_next(None), "/app");
    }
}
