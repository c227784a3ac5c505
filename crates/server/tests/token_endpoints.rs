//! `GET /rest/issuetoken` (NLAuth) and `GET /rest/revoketoken` (TBA-signed) over HTTP, on both
//! stores: tokens issued to the password's owner only, the issuetoken switch, auto-installation
//! (R14), every refusal a generic 401 with its Detail in the audit trail, the password never
//! recorded, and the failed-login throttle.

#![allow(clippy::unwrap_used)]

mod support;

use support::*;
use tessera_core::ids::{AccountId, Email, RoleId, UserId};
use tessera_core::model::{AuthSwitches, Context, Permission, PermissionSet};
use tessera_core::{Actor, NewIntegrationInput, NewRoleInput, NewUserInput};
use tessera_oauth1::Signer;

on_both_backends!(
    issuetoken_gives_the_password_owner_a_working_token_once,
    issuetoken_refusals_are_generic_and_recorded_with_their_detail,
    issuetoken_installs_another_accounts_record_as_r14_says,
    revoketoken_revokes_the_token_the_request_is_signed_with,
    gap05_a_right_password_is_never_confirmed_without_a_login,
);

const PASSWORD: &str = "a long and secret password";

struct Setup {
    consumer_key: String,
    consumer_secret: String,
    role: RoleId,
    user: UserId,
}

/// An integration record with the issuetoken switch on, and Bob, who holds a role with User
/// Access Tokens and has a password.
async fn setup(server: &TestServer, issuetoken: bool) -> Setup {
    let tessera = server.tessera();
    let (_, credentials) = tessera
        .create_integration(
            &admin_actor(),
            NewIntegrationInput {
                name: "Tessera CLI".into(),
                description: String::new(),
                switches: AuthSwitches {
                    token_based_auth: true,
                    tba_issuetoken_endpoint: issuetoken,
                    ..AuthSwitches::default()
                },
            },
        )
        .await
        .unwrap();
    let credentials = credentials.unwrap();
    let account = AccountId::parse(ACCOUNT).unwrap();
    let role = tessera
        .create_role(
            &admin_actor(),
            &account,
            NewRoleInput {
                name: "Token User".into(),
                permissions: PermissionSet::empty()
                    .with(Permission::UserAccessTokens)
                    .with(Permission::LogInUsingAccessTokens),
                web_services_only: false,
            },
        )
        .await
        .unwrap();
    let user = tessera
        .create_user(
            &admin_actor(),
            &account,
            NewUserInput {
                name: "Bob Builder".into(),
                email: Email::parse("bob@example.com").unwrap(),
                password: Some(PASSWORD.into()),
                roles: vec![role.id],
            },
        )
        .await
        .unwrap();
    Setup {
        consumer_key: credentials.consumer_key.as_str().to_owned(),
        consumer_secret: credentials.consumer_secret.expose().to_owned(),
        role: role.id,
        user: user.id,
    }
}

/// Bob's NLAuth header with a wrong password.
fn guess(s: &Setup) -> String {
    nlauth(
        ACCOUNT,
        "bob@example.com",
        "guess guess guess",
        Some(s.role),
    )
}

fn nlauth(account: &str, email: &str, password: &str, role: Option<RoleId>) -> String {
    let enc = tessera_oauth1::encode::encode;
    let mut header = format!(
        "NLAuth nlauth_account={account}, nlauth_email={}, nlauth_signature={}",
        enc(email),
        enc(password)
    );
    if let Some(role) = role {
        header.push_str(&format!(", nlauth_role={role}"));
    }
    header
}

async fn issue(server: &TestServer, query: &str, authorization: &str) -> Reply {
    send(
        server.addr,
        "GET",
        &format!("/rest/issuetoken?{query}"),
        &[("authorization", authorization)],
        b"",
    )
    .await
}

async fn echo_status(server: &TestServer, signer: &Signer) -> u16 {
    let path = "/app/site/hosting/restlet.nl?script=7&deploy=1";
    let auth = authorization(signer, "GET", &server.url(path), None);
    send(server.addr, "GET", path, &[("authorization", &auth)], b"")
        .await
        .status
}

async fn issuetoken_gives_the_password_owner_a_working_token_once(server: &TestServer) {
    let s = setup(server, true).await;
    let reply = issue(
        server,
        &format!("consumerKey={}&name=bob%27s%20cli", s.consumer_key),
        &nlauth(ACCOUNT, "bob@example.com", PASSWORD, Some(s.role)),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    let (token_id, token_secret) = (
        body["tokenId"].as_str().unwrap().to_owned(),
        body["tokenSecret"].as_str().unwrap().to_owned(),
    );
    let signer = signer_for(
        &s.consumer_key,
        &s.consumer_secret,
        &token_id,
        &token_secret,
    );
    assert_eq!(echo_status(server, &signer).await, 200);

    // The token is Bob's, with his role, under the name he asked for.
    let token = server
        .tessera()
        .list_tokens(
            &admin_actor(),
            Default::default(),
            Default::default(),
            None,
            50,
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|t| t.token.name == "bob's cli")
        .unwrap();
    assert_eq!((token.token.user, token.token.role), (s.user, s.role));

    // Without nlauth_role, the user's only role is taken.
    let again = issue(
        server,
        &format!("consumerKey={}", s.consumer_key),
        &nlauth(ACCOUNT, "BOB@example.com", PASSWORD, None),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_ne!(again.json()["tokenId"], body["tokenId"]);

    // Recorded as a success; the password appears nowhere.
    let rows = trail(server).await;
    // Newest first: the first token issued is the last success.
    let issued = rows
        .iter()
        .rev()
        .find(|a| a.surface == "token-endpoint" && a.success)
        .unwrap();
    assert_eq!(issued.user, Some(s.user));
    assert_eq!(issued.token_name.as_deref(), Some("bob's cli"));
    assert!(rows.iter().all(|a| !format!("{a:?}").contains(PASSWORD)));
    assert!(
        rows.iter()
            .all(|a| !format!("{a:?}").contains(&token_secret))
    );
}

async fn issuetoken_refusals_are_generic_and_recorded_with_their_detail(server: &TestServer) {
    let s = setup(server, true).await;
    let ck = format!("consumerKey={}", s.consumer_key);
    let admin_role = Some(RoleId::ADMINISTRATOR);
    let cases = [
        (
            ck.clone(),
            nlauth(ACCOUNT, "bob@example.com", "wrong password!", Some(s.role)),
            "InvalidCredentials",
        ),
        (
            ck.clone(),
            nlauth(ACCOUNT, "nobody@example.com", PASSWORD, Some(s.role)),
            "InvalidCredentials",
        ),
        (
            ck.clone(),
            nlauth("7654321", "bob@example.com", PASSWORD, Some(s.role)),
            "InvalidCredentials",
        ),
        (
            ck.clone(),
            nlauth(ACCOUNT, "bob@example.com", PASSWORD, admin_role),
            "RoleNotAllowed",
        ),
        (
            format!("consumerKey={}", "a".repeat(64)),
            nlauth(ACCOUNT, "bob@example.com", PASSWORD, Some(s.role)),
            "consumer_key_unknown",
        ),
        (
            format!("consumerKey={CONSUMER_KEY}"),
            nlauth(ACCOUNT, "bob@example.com", PASSWORD, Some(s.role)),
            "consumer_key_refused",
        ),
    ];
    for (query, header, detail) in &cases {
        let reply = issue(server, query, header).await;
        assert_eq!(reply.status, 401, "{detail}: {}", reply.text());
        assert_eq!(reply.json()["error"]["code"], "INVALID_LOGIN_ATTEMPT");
        let rows = trail(server).await;
        assert_eq!(rows[0].detail, *detail, "{}", rows[0].detail_note);
        assert!(!rows[0].success);
        assert_eq!(rows[0].surface, "token-endpoint");
    }
    // Bob's role lacks nothing here, but a role without User Access Tokens may not issue.
    let account = AccountId::parse(ACCOUNT).unwrap();
    let plain = server
        .tessera()
        .create_role(
            &admin_actor(),
            &account,
            NewRoleInput {
                name: "Plain".into(),
                permissions: PermissionSet::empty().with(Permission::LogInUsingAccessTokens),
                web_services_only: false,
            },
        )
        .await
        .unwrap();
    server
        .tessera()
        .set_user_roles(&admin_actor(), &account, s.user, &[s.role, plain.id])
        .await
        .unwrap();
    let reply = issue(
        server,
        &ck,
        &nlauth(ACCOUNT, "bob@example.com", PASSWORD, Some(plain.id)),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(trail(server).await[0].detail, "RoleNotAllowed");
    // Two roles now: nlauth_role is needed.
    let reply = issue(
        server,
        &ck,
        &nlauth(ACCOUNT, "bob@example.com", PASSWORD, None),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(trail(server).await[0].detail, "MissingRequiredParameter");

    // Not a login at all: 400.
    let reply = issue(server, &ck, "NLAuth nlauth_account=1234567").await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.json()["error"]["code"], "INVALID_REQUEST");
    let reply = issue(
        server,
        "",
        &nlauth(ACCOUNT, "bob@example.com", PASSWORD, Some(s.role)),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(
        trail(server)
            .await
            .iter()
            .all(|a| !format!("{a:?}").contains(PASSWORD))
    );
}

async fn issuetoken_installs_another_accounts_record_as_r14_says(server: &TestServer) {
    let s = setup(server, true).await;
    let tessera = server.tessera();
    let (other, olga) = other_account(server, true, "olga@other.example", Some(PASSWORD)).await;
    let query = format!("consumerKey={}", s.consumer_key);
    let header = nlauth(
        "7654321",
        "olga@other.example",
        PASSWORD,
        Some(RoleId::ADMINISTRATOR),
    );
    let ask = || issue(server, &query, &header);
    // The account requires approval: installed, waiting, and refused until enabled.
    let reply = ask().await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(trail(server).await[0].detail, "IntegrationBlocked");
    let olga = Actor::user(&other, olga, RoleId::ADMINISTRATOR, Context::Api);
    let installed = tessera.list_integrations(&olga, true).await.unwrap();
    assert_eq!(installed.len(), 1);
    assert_eq!(
        installed[0].installation.state,
        tessera_core::model::InstallState::WaitingForApproval
    );
    assert_eq!(
        installed[0].installation.origin,
        tessera_core::model::InstallOrigin::Auto
    );
    tessera
        .update_installation(
            &olga,
            installed[0].integration.id,
            tessera_core::InstallationChanges {
                state: Some(tessera_core::model::InstallState::Enabled),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let reply = ask().await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    let signer = Signer::new(
        &s.consumer_key,
        &secret(&s.consumer_secret),
        body["tokenId"].as_str().unwrap(),
        &secret(body["tokenSecret"].as_str().unwrap()),
    )
    .with_realm("7654321");
    assert_eq!(echo_status(server, &signer).await, 200);
}

async fn revoketoken_revokes_the_token_the_request_is_signed_with(server: &TestServer) {
    let alice = signer();
    assert_eq!(echo_status(server, &alice).await, 200);
    let revoke = |query: String| {
        let alice = &alice;
        async move {
            let path = format!("/rest/revoketoken?{query}");
            let auth = authorization(alice, "GET", &server.url(&path), None);
            send(server.addr, "GET", &path, &[("authorization", &auth)], b"").await
        }
    };
    // Another token than the one signing: refused, nothing revoked.
    let other = revoke(format!("consumerKey={CONSUMER_KEY}&token={TOKEN2_ID}")).await;
    assert_eq!(other.status, 400, "{}", other.text());
    let missing = revoke(format!("consumerKey={CONSUMER_KEY}")).await;
    assert_eq!(missing.status, 400);
    assert_eq!(echo_status(server, &alice).await, 200);

    let done = revoke(format!("consumerKey={CONSUMER_KEY}&token={TOKEN_ID}")).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.json()["revoked"], true);
    assert_eq!(echo_status(server, &alice).await, 401);
    // Revoked means revoked: the same call now fails its own signature check.
    let again = revoke(format!("consumerKey={CONSUMER_KEY}&token={TOKEN_ID}")).await;
    assert_eq!(again.status, 401);
    assert_eq!(again.json()["error"]["code"], "INVALID_LOGIN_ATTEMPT");
    // The other token of the same user is untouched.
    let second = signer_for(CONSUMER_KEY, CONSUMER_SECRET, TOKEN2_ID, TOKEN2_SECRET);
    assert_eq!(echo_status(server, &second).await, 200);
}

/// A server on SQLite (the throttle is in memory, the same on both stores) whose
/// `login_failures_per_hour` is `limit`, with Bob's setup.
async fn throttled_server(limit: usize) -> (TestServer, Setup) {
    let db = tessera_store::testing::TestDatabase::sqlite().await;
    let config = tessera_server::ServerConfig {
        login_failures_per_hour: limit,
        ..Default::default()
    };
    let server = TestServer::start_with(db, config).await;
    let s = setup(&server, true).await;
    (server, s)
}

/// The throttle: after the configured number of failures, even the right password is not
/// evaluated. (In memory, the same on both stores.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_per_user_without_a_permanent_lock_out() {
    let (server, s) = throttled_server(3).await;
    let ck = format!("consumerKey={}", s.consumer_key);
    for _ in 0..3 {
        let reply = issue(&server, &ck, &guess(&s)).await;
        assert_eq!(reply.status, 401);
    }
    let reply = issue(
        &server,
        &ck,
        &nlauth(ACCOUNT, "bob@example.com", PASSWORD, Some(s.role)),
    )
    .await;
    assert_eq!(reply.status, 401);
    let rows = trail(&server).await;
    assert_eq!(rows[0].detail, "TooManyAttempts", "{}", rows[0].detail_note);
    assert_eq!(
        rows.iter()
            .filter(|a| a.detail == "InvalidCredentials")
            .count(),
        3
    );
    server.finish().await;
}

/// issuetoken from a chosen loopback address (another address is another client).
async fn issue_from(server: &TestServer, from: &str, query: &str, authorization: &str) -> Reply {
    let host = server.addr.to_string();
    raw_exchange_from(
        server.addr,
        Some(from.parse().unwrap()),
        format!(
            "GET /rest/issuetoken?{query} HTTP/1.1\r\nHost: {host}\r\n\
             Authorization: {authorization}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
}

/// Issue 14, gap 2: a guess is counted before Argon2 runs, so parallel guesses cannot get
/// more passwords checked than the limit allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap02_parallel_guesses_cannot_pass_the_limit() {
    let (server, s) = throttled_server(5).await;
    let ck = format!("consumerKey={}", s.consumer_key);
    let wrong = guess(&s);
    let guesses: Vec<_> = (0..40)
        .map(|_| {
            let (addr, ck, wrong) = (server.addr, ck.clone(), wrong.clone());
            tokio::spawn(async move {
                send(
                    addr,
                    "GET",
                    &format!("/rest/issuetoken?{ck}"),
                    &[("authorization", &wrong)],
                    b"",
                )
                .await
                .status
            })
        })
        .collect();
    for guess in guesses {
        assert_eq!(guess.await.unwrap(), 401);
    }
    let rows = trail(&server).await;
    let checked = rows
        .iter()
        .filter(|a| a.detail == "InvalidCredentials")
        .count();
    let throttled = rows
        .iter()
        .filter(|a| a.detail == "TooManyAttempts")
        .count();
    assert!(
        checked <= 5,
        "{checked} passwords were checked against a limit of 5"
    );
    assert_eq!(checked + throttled, 40);
    server.finish().await;
}

/// Issue 14, gap 3: guesses from one address do not lock the real user out of the address it
/// signs in from (a source it signed in from before is trusted: SECURITY.md's policy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap03_guesses_elsewhere_do_not_lock_the_user_out() {
    let (server, s) = throttled_server(5).await;
    let ck = format!("consumerKey={}", s.consumer_key);
    let right = nlauth(ACCOUNT, "bob@example.com", PASSWORD, Some(s.role));
    let wrong = guess(&s);
    let home = "127.0.0.2";
    assert_eq!(issue_from(&server, home, &ck, &right).await.status, 200);
    // An attacker elsewhere guesses until it is refused.
    for _ in 0..30 {
        assert_eq!(
            issue_from(&server, "127.0.0.1", &ck, &wrong).await.status,
            401
        );
    }
    assert_eq!(trail(&server).await[0].detail, "TooManyAttempts");
    // The user still signs in from home, at once.
    let reply = issue_from(&server, home, &ck, &right).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // An address the user never signed in from waits until the guesses age out.
    assert_eq!(
        issue_from(&server, "127.0.0.3", &ck, &right).await.status,
        401
    );
    server.finish().await;
}

/// Issue 14, gap 5: everything that can be refused without the password is refused first, so
/// a right password and a wrong one get the same answer to a bad request.
async fn gap05_a_right_password_is_never_confirmed_without_a_login(server: &TestServer) {
    let s = setup(server, true).await;
    let long = "n".repeat(300);
    let ck = format!("consumerKey={}&name={long}", s.consumer_key);
    let right = issue(
        server,
        &ck,
        &nlauth(ACCOUNT, "bob@example.com", PASSWORD, Some(s.role)),
    )
    .await;
    let wrong = issue(server, &ck, &guess(&s)).await;
    assert_eq!(right.status, 400, "{}", right.text());
    assert_eq!((right.status, right.text()), (wrong.status, wrong.text()));
    assert_eq!(right.json()["error"]["field"], "name");
    // A role the user does not hold, refused after the password: the same generic 401 as a
    // wrong password.
    let generic = issue(
        server,
        &format!("consumerKey={}", s.consumer_key),
        &guess(&s),
    )
    .await;
    let not_held = issue(
        server,
        &format!("consumerKey={}", s.consumer_key),
        &nlauth(
            ACCOUNT,
            "bob@example.com",
            PASSWORD,
            Some(RoleId::ADMINISTRATOR),
        ),
    )
    .await;
    assert_eq!(
        (not_held.status, not_held.text()),
        (generic.status, generic.text())
    );
}

/// A right password whose login is then refused (here: a role the user does not hold) counts
/// like a wrong one and trusts nothing: neither the throttle nor the trust may tell a right
/// password from a wrong one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_right_password_that_does_not_log_in_counts_as_a_guess() {
    let (server, s) = throttled_server(100).await;
    let ck = format!("consumerKey={}", s.consumer_key);
    let refused = nlauth(
        ACCOUNT,
        "bob@example.com",
        PASSWORD,
        Some(RoleId::ADMINISTRATOR),
    );
    for _ in 0..tessera_server::ServerConfig::default().login_failures_per_user_and_source {
        assert_eq!(issue(&server, &ck, &refused).await.status, 401);
    }
    let right = nlauth(ACCOUNT, "bob@example.com", PASSWORD, Some(s.role));
    assert_eq!(issue(&server, &ck, &right).await.status, 401);
    assert_eq!(trail(&server).await[0].detail, "TooManyAttempts");
    server.finish().await;
}
