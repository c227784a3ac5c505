//! The admin web UI under `/app`: server-rendered pages (askama templates compiled into the
//! binary), laid out like NetSuite's Setup menu. Every page works without JavaScript; a small
//! script only fills in the default token name and adds copy buttons.
//!
//! Handlers are thin, as everywhere: parse, call `Tessera` as the signed-in user (context UI),
//! render. What a user may do is decided in `tessera-core`; pages only leave out what the
//! role cannot do. Every state-changing request is a POST that carries the session's form
//! token and an `Origin` naming one of this server's public origins ([`Ui`] checks both before
//! any handler runs). Responses forbid framing, inline script and caching.

mod account;
mod audit;
mod auth;
mod bulk;
mod consent;
mod directory;
mod integrations;
pub(crate) mod session;
mod tokens;

use std::net::SocketAddr;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use tessera_core::model::{Context, Permission};
use tessera_core::{Actor, SignedIn};
use tower_sessions::Session;

use crate::AppState;
use crate::edge::Received;
use crate::form::Fields;
use crate::wire;
use session::{AUTH, FLASH, SessionAuth};

/// The session key of the open one-time form marks ([`Ui::intent`]), and how many are kept.
const INTENTS: &str = "intents";
const INTENTS_KEPT: usize = 20;

/// Every route of the web UI.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/app", get(auth::home))
        .route("/app/", get(auth::home))
        .route("/app/login", get(auth::login_page).post(auth::login))
        .route("/app/logout", axum::routing::post(auth::logout))
        .route(consent::PATH, get(consent::page).post(consent::decide))
        .route("/app/role", axum::routing::post(auth::switch_role))
        .route(
            "/app/preferences/password",
            get(auth::password_page).post(auth::change_password),
        )
        .route("/app/setup/access-tokens", get(tokens::list))
        .route("/app/setup/my-access-tokens", get(tokens::mine))
        .route(
            "/app/setup/access-tokens/new",
            get(tokens::new_page).post(tokens::create),
        )
        .route(
            "/app/setup/access-tokens/bulk",
            get(bulk::bulk_preview).post(bulk::bulk_apply),
        )
        .route("/app/setup/access-tokens/{id}", get(tokens::view))
        .route(
            "/app/setup/access-tokens/{id}/edit",
            get(tokens::edit_page).post(tokens::edit),
        )
        .route(
            "/app/setup/access-tokens/{id}/signature-debug",
            axum::routing::post(tokens::signature_debug),
        )
        .route(
            "/app/setup/integrations/{id}/signature-debug",
            axum::routing::post(integrations::signature_debug),
        )
        .route(
            "/app/setup/access-tokens/{id}/revoke",
            get(tokens::revoke_page).post(tokens::revoke),
        )
        .route("/app/setup/integrations", get(integrations::list))
        .route(
            "/app/setup/integrations/new",
            get(integrations::new_page).post(integrations::create),
        )
        .route("/app/setup/integrations/{id}", get(integrations::view))
        .route(
            "/app/setup/integrations/{id}/edit",
            get(integrations::edit_page).post(integrations::edit),
        )
        .route(
            "/app/setup/integrations/{id}/reset",
            get(integrations::reset_page).post(integrations::reset),
        )
        .route(
            "/app/setup/integrations/{id}/delete",
            get(integrations::delete_page).post(integrations::delete),
        )
        .route("/app/setup/users", get(directory::users))
        .route(
            "/app/setup/users/new",
            get(directory::new_user_page).post(directory::create_user),
        )
        .route("/app/setup/users/{id}", get(directory::user))
        .route(
            "/app/setup/users/{id}/edit",
            get(directory::edit_user_page).post(directory::edit_user),
        )
        .route(
            "/app/setup/users/{id}/delete",
            get(directory::delete_user_page).post(directory::delete_user),
        )
        .route("/app/setup/roles", get(directory::roles))
        .route(
            "/app/setup/roles/new",
            get(directory::new_role_page).post(directory::create_role),
        )
        .route("/app/setup/roles/{id}", get(directory::role))
        .route(
            "/app/setup/roles/{id}/edit",
            get(directory::edit_role_page).post(directory::edit_role),
        )
        .route("/app/setup/login-audit-trail", get(audit::trail))
        .route(
            "/app/setup/login-audit-trail/{id}/signature",
            get(audit::signature).post(audit::compare),
        )
        .route(
            "/app/setup/account",
            get(account::settings_page).post(account::save),
        )
        .route("/app/{*rest}", get(no_such_page).post(no_such_page))
        .layer(session::layer(state));
    // Static files need no session (and must not extend one).
    Router::new()
        .route("/app/static/tessera.css", get(stylesheet))
        .route("/app/static/tessera.js", get(script))
        .merge(pages)
        .layer(axum::middleware::map_response(security_headers))
}

const STYLESHEET: &str = include_str!("../../static/tessera.css");
const SCRIPT: &str = include_str!("../../static/tessera.js");

async fn stylesheet() -> Response {
    static_file("text/css; charset=utf-8", STYLESHEET)
}

async fn script() -> Response {
    static_file("text/javascript; charset=utf-8", SCRIPT)
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// No inline script or style, no framing, no foreign anything; pages are never cached (they
/// may show a secret once).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(response: Response) -> Response {
    security_headers_now(response)
}

fn security_headers_now(mut response: Response) -> Response {
    let headers = response.headers_mut();
    // A page may widen its own policy (the consent page's form goes to the callback).
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn no_such_page(ui: Result<Ui, UiError>) -> UiError {
    match ui {
        Ok(_) => UiError::page(
            StatusCode::NOT_FOUND,
            "Page not found",
            "There is no such page. Use the Setup menu to find your way.",
        ),
        Err(e) => e,
    }
}

/// Renders a page; a template that fails to render is a bug, logged and answered with a 500.
pub(crate) fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %tessera_core::Chain(&e), "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, wire::INTERNAL_MESSAGE).into_response()
        }
    }
}

/// A refusal as a page: the status, a title and what to do.
#[derive(Debug)]
pub(crate) enum UiError {
    /// Not signed in (or no longer): to the sign-in page, then back to `next`.
    SignIn {
        next: Option<String>,
        reason: Option<&'static str>,
    },
    Page {
        status: StatusCode,
        title: String,
        message: String,
    },
    Response(Box<Response>),
}

impl From<crate::form::FormError> for UiError {
    fn from(e: crate::form::FormError) -> Self {
        Self::bad_request(format!("The form {e}."))
    }
}

impl UiError {
    pub(crate) fn page(status: StatusCode, title: &str, message: impl Into<String>) -> Self {
        UiError::Page {
            status,
            title: title.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::page(
            StatusCode::BAD_REQUEST,
            "The request was not understood",
            message,
        )
    }

    fn forbidden(message: impl Into<String>) -> Self {
        Self::page(StatusCode::FORBIDDEN, "Refused", message)
    }
}

impl From<tessera_core::Error> for UiError {
    fn from(e: tessera_core::Error) -> Self {
        let (status, _) = wire::classify(&e);
        let (title, message) = match status {
            StatusCode::NOT_FOUND => ("Not found", sentence(&e)),
            StatusCode::FORBIDDEN => ("Not permitted", sentence(&e)),
            StatusCode::INTERNAL_SERVER_ERROR => {
                ("Something went wrong", wire::INTERNAL_MESSAGE.to_owned())
            }
            StatusCode::SERVICE_UNAVAILABLE => (
                "Temporarily unavailable",
                wire::UNAVAILABLE_MESSAGE.to_owned(),
            ),
            _ => ("That cannot be done", sentence(&e)),
        };
        UiError::Page {
            status,
            title: title.to_owned(),
            message,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    status: u16,
}

/// A page saying what went wrong, for errors met before any page handler ran (the HTTP edge).
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let mut response = security_headers_now(render(&ErrorPage {
        title,
        message,
        status: status.as_u16(),
    }));
    *response.status_mut() = status;
    response
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::SignIn { next, reason } => {
                let mut to = String::from("/app/login");
                let mut sep = '?';
                if let Some(next) = next {
                    to.push(sep);
                    to.push_str("next=");
                    to.push_str(&tessera_oauth1::encode::encode(&next));
                    sep = '&';
                }
                if let Some(reason) = reason {
                    to.push(sep);
                    to.push_str("reason=");
                    to.push_str(reason);
                }
                Redirect::to(&to).into_response()
            }
            UiError::Page {
                status,
                title,
                message,
            } => {
                let mut response = render(&ErrorPage {
                    title: &title,
                    message: &message,
                    status: status.as_u16(),
                });
                *response.status_mut() = status;
                response
            }
            UiError::Response(response) => *response,
        }
    }
}

/// The request of a signed-in user: who (resolved now, so a deactivated user or a removed
/// role signs out at once), the session, and for a POST the form, already checked for its
/// origin and form token.
pub(crate) struct Ui {
    pub actor: Actor,
    pub me: SignedIn,
    pub session: Session,
    pub auth: SessionAuth,
    pub received: Received,
    pub flash: Option<String>,
    /// The posted form, checked already; empty for a GET.
    form: Fields,
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui")
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

/// A request of anyone, signed in or not.
pub(crate) struct Visit {
    pub session: Session,
    pub received: Received,
}

impl FromRequest<AppState> for Visit {
    type Rejection = UiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, UiError> {
        let session = request
            .extensions()
            .get::<Session>()
            .cloned()
            .ok_or_else(|| internal("the web UI was served without its session layer"))?;
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
            .ok_or_else(|| internal("the web UI was served without the peer's address"))?;
        let received = Received::read(state, peer, request)
            .await
            .map_err(|r| UiError::Response(Box::new(r)))?;
        Ok(Self { session, received })
    }
}

fn internal(why: &str) -> UiError {
    tracing::error!("{why}");
    UiError::page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        wire::INTERNAL_MESSAGE,
    )
}

/// A session that could not be read or saved: the database is unavailable (503, try again) or
/// a stored session does not decode (500).
pub(crate) fn session_failed(e: tower_sessions::session::Error) -> UiError {
    use tower_sessions::session::Error as SessionError;
    use tower_sessions::session_store::Error as StoreError;
    if let SessionError::Store(StoreError::Backend(_)) = &e {
        tracing::error!(error = %tessera_core::Chain(&e), "the session store failed");
        return UiError::page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            wire::UNAVAILABLE_MESSAGE,
        );
    }
    internal(&format!(
        "the session store failed: {}",
        tessera_core::Chain(&e)
    ))
}

impl Visit {
    fn is_post(&self) -> bool {
        self.received.method() != Method::GET && self.received.method() != Method::HEAD
    }

    /// A post must come from one of our own pages: its `Origin` names a public origin of
    /// this server (browsers send it with every form post).
    pub(crate) fn check_origin(&self, state: &AppState) -> Result<(), UiError> {
        let origin = self.received.header(&header::ORIGIN);
        match origin {
            Some(o) if state.origins().iter().any(|ours| ours.is_origin_header(o)) => Ok(()),
            Some(o) => Err(UiError::forbidden(format!(
                "The form was posted from {o:?}, which is not this server. Nothing was changed."
            ))),
            None => Err(UiError::forbidden(
                "The form was posted without an Origin header, so it cannot be told from a forged one. Nothing was changed.",
            )),
        }
    }

    /// The path and query to come back to after signing in (GET pages only).
    fn here(&self) -> Option<String> {
        (!self.is_post()).then(|| self.received.path_and_query.clone())
    }
}

impl FromRequest<AppState> for Ui {
    type Rejection = UiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, UiError> {
        let visit = Visit::from_request(request, state).await?;
        let auth = visit
            .session
            .get::<SessionAuth>(AUTH)
            .await
            .map_err(session_failed)?;
        let Some(auth) = auth else {
            return Err(UiError::SignIn {
                next: visit.here(),
                reason: None,
            });
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let lifetime = i64::try_from(state.config().ui_session_lifetime.as_secs()).unwrap_or(0);
        if now.saturating_sub(auth.signed_in_at) > lifetime {
            visit.session.flush().await.map_err(session_failed)?;
            return Err(UiError::SignIn {
                next: visit.here(),
                reason: Some("expired"),
            });
        }
        let form = if visit.is_post() {
            visit.check_origin(state)?;
            let form = Fields::parse(&visit.received.body)?;
            let sent = form.get("csrf").unwrap_or_default();
            if !constant_time_eq(sent.as_bytes(), auth.csrf.as_bytes()) {
                return Err(UiError::forbidden(
                    "The form's security token is missing or out of date (perhaps it was open in another tab while you signed in again). Go back, reload the page and try again. Nothing was changed.",
                ));
            }
            form
        } else {
            Fields::default()
        };
        let Some((account, user)) = auth.owner() else {
            visit.session.flush().await.map_err(session_failed)?;
            return Err(UiError::SignIn {
                next: None,
                reason: None,
            });
        };
        let actor = Actor::user(
            &account,
            user,
            tessera_core::ids::RoleId::new(auth.role),
            Context::Ui,
        );
        let me = match state.tessera().signed_in(&actor).await {
            Ok(me) => me,
            Err(
                tessera_core::Error::NotPermitted { .. } | tessera_core::Error::NotFound { .. },
            ) => {
                visit.session.flush().await.map_err(session_failed)?;
                return Err(UiError::SignIn {
                    next: None,
                    reason: Some("revoked"),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let flash = visit
            .session
            .remove::<String>(FLASH)
            .await
            .map_err(session_failed)?;
        Ok(Self {
            actor,
            me,
            session: visit.session,
            auth,
            received: visit.received,
            flash,
            form,
        })
    }
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

impl Ui {
    /// The posted form (checked already); empty for a GET.
    pub(crate) fn form(&self) -> &Fields {
        &self.form
    }

    /// A destructive post carries its confirmation page's `confirm`; without it nothing is
    /// done (`what` names the action: "Revoking the token").
    pub(crate) fn confirmed(&self, what: &str) -> Result<(), UiError> {
        if self.form.checked("confirm") {
            Ok(())
        } else {
            Err(UiError::bad_request(format!(
                "{what} needs the confirmation. Nothing was changed."
            )))
        }
    }

    /// The query string's fields.
    pub(crate) fn query(&self) -> Result<Fields, UiError> {
        Ok(Fields::parse(self.received.query().as_bytes())?)
    }

    pub(crate) fn can(&self, p: Permission) -> bool {
        self.me.role.has(p)
    }

    pub(crate) fn is_administrator(&self) -> bool {
        self.me.role.is_administrator()
    }

    /// Shows `message` on the next page, then redirects there (post/redirect/get).
    pub(crate) async fn done(&self, message: impl Into<String>, to: &str) -> Response {
        if let Err(e) = self.session.insert(FLASH, message.into()).await {
            return session_failed(e).into_response();
        }
        Redirect::to(to).into_response()
    }

    /// A one-time mark for a form whose post must not be carried out twice (a reload of the
    /// page that shows a new secret posts the form again). Several may be open at once.
    pub(crate) async fn intent(&self) -> Result<String, UiError> {
        let mut open = self
            .session
            .get::<Vec<String>>(INTENTS)
            .await
            .map_err(session_failed)?
            .unwrap_or_default();
        let intent = session::random_token();
        open.push(intent.clone());
        let keep = open.len().saturating_sub(INTENTS_KEPT);
        open.drain(..keep);
        self.session
            .insert(INTENTS, open)
            .await
            .map_err(session_failed)?;
        Ok(intent)
    }

    /// Uses up the form's mark; refused with `again` (a 409 page) when it was used already.
    pub(crate) async fn spend_intent(&self, again: &str) -> Result<(), UiError> {
        let sent = self.form().get("intent").unwrap_or_default();
        let mut open = self
            .session
            .get::<Vec<String>>(INTENTS)
            .await
            .map_err(session_failed)?
            .unwrap_or_default();
        let Some(at) = open
            .iter()
            .position(|i| constant_time_eq(i.as_bytes(), sent.as_bytes()))
        else {
            return Err(UiError::page(StatusCode::CONFLICT, "Already done", again));
        };
        open.remove(at);
        self.session
            .insert(INTENTS, open)
            .await
            .map_err(session_failed)
    }

    /// What every page's frame shows.
    pub(crate) fn chrome(&self, section: &'static str) -> Chrome {
        let me = &self.me;
        Chrome {
            user_name: me.user.name.clone(),
            email: me.user.email.as_str().to_owned(),
            role_id: me.role.id.get(),
            role_name: me.role.name.clone(),
            account: me.account.id.as_str().to_owned(),
            account_name: me.account.name.clone(),
            roles: me
                .roles
                .iter()
                .map(|r| (r.id.get(), r.name.clone()))
                .collect(),
            csrf: self.auth.csrf.clone(),
            flash: self.flash.clone(),
            section,
            menu: Menu {
                all_tokens: self.can(Permission::AccessTokenManagement),
                my_tokens: self.can(Permission::UserAccessTokens),
                integrations: self.can(Permission::IntegrationApplication),
                directory: self.is_administrator() || self.can(Permission::AccessTokenManagement),
                audit: self.can(Permission::LoginAuditTrail),
                account: self.is_administrator(),
            },
        }
    }
}

/// The frame of every signed-in page: who, which account and role, the Setup menu.
#[derive(Debug)]
pub(crate) struct Chrome {
    pub user_name: String,
    pub email: String,
    pub role_id: i64,
    pub role_name: String,
    pub account: String,
    pub account_name: String,
    /// The roles the user may switch to, as (id, name).
    pub roles: Vec<(i64, String)>,
    pub csrf: String,
    pub flash: Option<String>,
    /// Which menu entry the page belongs to.
    pub section: &'static str,
    pub menu: Menu,
}

/// The Setup menu's entries the role may use.
#[derive(Debug)]
pub(crate) struct Menu {
    pub all_tokens: bool,
    pub my_tokens: bool,
    pub integrations: bool,
    pub directory: bool,
    pub audit: bool,
    /// Account Settings: administrators.
    pub account: bool,
}

/// A message of the domain ("access token not found") as a sentence for a page.
pub(crate) fn sentence(message: &impl std::fmt::Display) -> String {
    let text = message.to_string();
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return text,
    };
    if !out.ends_with(['.', '!', '?', ')']) {
        out.push('.');
    }
    out
}

/// A time as the UI shows it: UTC, to the minute, with the full time in a tooltip.
pub(crate) fn when(t: tessera_core::model::Timestamp) -> String {
    let full = t.to_rfc3339();
    // "2026-11-28T10:26:32.123Z" → "2026-11-28 10:26"
    full.get(..16)
        .map(|s| s.replacen('T', " ", 1))
        .unwrap_or(full)
}

/// How far `t` is from `now`, in its largest whole unit: "in 3 days", "in 5 hours",
/// "2 minutes ago", "in less than a minute".
pub(crate) fn from_now(
    t: tessera_core::model::Timestamp,
    now: tessera_core::model::Timestamp,
) -> String {
    let ms = t.millis().saturating_sub(now.millis());
    let span = ms.unsigned_abs() / 1000;
    let (n, unit) = match span {
        s if s < 60 => {
            return if ms >= 0 {
                "in less than a minute".to_owned()
            } else {
                "less than a minute ago".to_owned()
            };
        }
        // Rounded to the nearest unit: a token made to expire in 5 days reads "in 5 days".
        s if s < 3600 - 30 => ((s + 30) / 60, "minute"),
        s if s < 86_400 - 1800 => ((s + 1800) / 3600, "hour"),
        s => ((s + 43_200) / 86_400, "day"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if ms >= 0 {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

/// Page links keep the filters: `base?name=value&…` with values encoded.
pub(crate) fn link(base: &str, params: &[(&str, String)]) -> String {
    let mut out = String::from(base);
    let mut sep = '?';
    for (name, value) in params.iter().filter(|(_, v)| !v.is_empty()) {
        out.push(sep);
        out.push_str(name);
        out.push('=');
        out.push_str(&tessera_oauth1::encode::encode(value));
        sep = '&';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_encode_their_values_and_leave_out_empty_ones() {
        assert_eq!(
            link(
                "/app/x",
                &[
                    ("search", "a b&c".to_owned()),
                    ("user", String::new()),
                    ("revoked", "no".to_owned())
                ]
            ),
            "/app/x?search=a%20b%26c&revoked=no"
        );
        assert_eq!(link("/app/x", &[]), "/app/x");
    }

    #[test]
    fn domain_messages_read_as_sentences() {
        assert_eq!(
            sentence(&"access token not found"),
            "Access token not found."
        );
        assert_eq!(sentence(&"done."), "Done.");
        assert_eq!(sentence(&"limit (R4)"), "Limit (R4)");
        assert_eq!(sentence(&""), "");
    }

    #[test]
    fn times_show_to_the_minute() {
        let t = tessera_core::model::Timestamp::from_millis(1_796_000_000_000);
        assert_eq!(when(t).len(), 16);
        assert!(when(t).contains(' '));
    }

    #[test]
    fn form_tokens_compare_in_full() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
