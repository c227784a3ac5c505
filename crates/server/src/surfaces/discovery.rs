//! NetSuite's discovery (RULES.md §4.4), which clients call before anything else:
//! `GET /rest/datacenterurls?account=…` (no credentials, like NetSuite's) and `GET /rest/roles`
//! (NLAuth: the accounts and roles the email and password may log in with). Both name this
//! server, as the request reached it, for every domain.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::ids::{AccountId, Email};
use tessera_oauth1::nlauth::NlAuth;

use crate::AppState;
use crate::edge::Received;
use crate::form::Fields;
use crate::signin::{self, PasswordAttempt};
use crate::wire::{self, Surface};

const SURFACE: Surface = Surface::TokenEndpoint;

/// A well-formed account id checked when an email is in no account: the password check then
/// costs what a real one does (an unknown user is hashed against a dummy). Only used when no
/// account has the email, so even an account of this id has no user of it.
const NO_ACCOUNT: &str = "0000000";

/// This server as the request reached it (its public origin), else its first public origin:
/// every NetSuite domain of every account is this server.
pub(crate) fn origin(state: &AppState, received: &Received) -> String {
    received
        .origin(state)
        .or_else(|| state.origins().first())
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// NetSuite's `dataCenterURLs` object.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DataCenterUrls {
    rest_domain: String,
    webservices_domain: String,
    system_domain: String,
}

impl DataCenterUrls {
    fn of(origin: &str) -> Self {
        Self {
            rest_domain: origin.to_owned(),
            webservices_domain: origin.to_owned(),
            system_domain: origin.to_owned(),
        }
    }
}

/// `GET /rest/datacenterurls?account=…`: the account's domains. Any well-formed account id
/// gets this server's (they are all here), so the answer says nothing of which accounts exist.
pub(crate) async fn datacenter_urls(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let received = match Received::read(&state, peer, request).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let Ok(query) = Fields::parse(received.query().as_bytes()) else {
        return wire::malformed();
    };
    let Some(account) = query.get("account") else {
        return wire::api_error(
            axum::http::StatusCode::BAD_REQUEST,
            tessera_api::ErrorCode::InvalidRequest,
            "the account query parameter is required",
        );
    };
    if AccountId::parse(account).is_err() {
        return wire::invalid_field(
            "account",
            "account must be a NetSuite account id such as 1234567 or 1234567_SB1",
        );
    }
    Json(DataCenterUrls::of(&origin(&state, &received))).into_response()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RoleEntry {
    account: AccountEntry,
    role: RoleRef,
    #[serde(rename = "dataCenterURLs")]
    data_center_urls: DataCenterUrls,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountEntry {
    internal_id: String,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RoleRef {
    internal_id: i64,
    name: String,
}

/// `GET /rest/roles` with `Authorization: NLAuth nlauth_email=…, nlauth_signature=…[,
/// nlauth_account=…]`: for each account where that email's password is right, the user's
/// active roles there. Password checks go through the sign-in's throttle and audit trail; a
/// wrong password anywhere and nowhere right is the generic 401.
pub(crate) async fn roles(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let received = match Received::read(&state, peer, request).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let context = received.context_for(&state, SURFACE);
    let nlauth = match super::token_endpoints::read_nlauth(
        &state,
        &received,
        &context,
        NlAuth::parse_account_optional,
    )
    .await
    {
        Ok(n) => n,
        Err(response) => return response,
    };
    // Without an account: every account that has a user of this email. None has it: one check
    // against an account id no user of it is in, so the time and the answer are a wrong
    // password's, and the row names no account.
    let (accounts, anywhere) = if nlauth.account.is_empty() {
        let found = match Email::parse(&nlauth.email) {
            Ok(email) => state.tessera().accounts_of_email(&email).await,
            Err(_) => Ok(Vec::new()),
        };
        match found {
            Ok(found) if found.is_empty() => (vec![NO_ACCOUNT.to_owned()], true),
            Ok(found) => (found.iter().map(|a| a.as_str().to_owned()).collect(), false),
            Err(e) => {
                tracing::error!(error = %tessera_core::Chain(&e), "/rest/roles failed");
                return wire::unavailable();
            }
        }
    } else {
        (vec![nlauth.account.clone()], false)
    };
    let origin = origin(&state, &received);
    let mut opened = Vec::new();
    let mut wrong = Vec::new();
    for account in &accounts {
        let attempt = PasswordAttempt {
            account,
            email: &nlauth.email,
            password: &nlauth.password,
            device: None,
        };
        match signin::check_deferred(&state, &context, attempt).await {
            Ok(Ok(signed_in)) => opened.push(signed_in),
            Ok(Err(signin::Checked::Wrong(w))) => wrong.push(w),
            // Refused before the password was looked at: recorded already.
            Ok(Err(signin::Checked::Refused(_))) => {}
            Err(e) => {
                tracing::error!(error = %tessera_core::Chain(&e), "/rest/roles failed");
                return wire::unavailable();
            }
        }
    }
    // A password that opened one account of the email is not a guess at its others.
    for w in wrong {
        if !opened.is_empty() {
            w.withdraw();
        } else if anywhere {
            w.settle_anywhere(&state, &context).await;
        } else {
            w.settle(&state, &context).await;
        }
    }
    let mut entries = Vec::new();
    for signed_in in opened {
        let found = state
            .tessera()
            .login_roles(&signed_in.account, &signed_in.user)
            .await;
        let (account, roles) = match found {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %tessera_core::Chain(&e), "/rest/roles failed");
                return wire::unavailable();
            }
        };
        let mut row = context.attempt(true, tessera_core::Detail::Success, "roles listed");
        row.account = Some(account.id.clone());
        row.user = Some(signed_in.user.id);
        row.user_name = Some(signed_in.user.name.clone());
        row.email = Some(signed_in.email.as_str().to_owned());
        state.verifier().record_attempt(row).await;
        signed_in.logged_in(&state);
        let kind = if account.id.as_str().contains("_SB") {
            "SANDBOX"
        } else {
            "PRODUCTION"
        };
        for role in roles {
            entries.push(RoleEntry {
                account: AccountEntry {
                    internal_id: account.id.as_str().to_owned(),
                    name: account.name.clone(),
                    kind,
                },
                role: RoleRef {
                    internal_id: role.id.get(),
                    name: role.name,
                },
                data_center_urls: DataCenterUrls::of(&origin),
            });
        }
    }
    if entries.is_empty() {
        crate::observe::request(SURFACE, "Refused", None);
        return wire::invalid_login(SURFACE);
    }
    Json(entries).into_response()
}
