//! The three-step authorization flow over HTTP (RULES.md §4.2), on both stores: requesttoken,
//! the consent page (signed in through the UI's sign-in), accesstoken, and a signed call with
//! the token it gave; and every refusal, each with its Detail code in the login audit trail.

#![allow(clippy::unwrap_used)]

mod support;

use support::web::*;
use support::*;
use tessera_core::ids::{AccountId, IntegrationId, RoleId, TokenId, UserId};
use tessera_core::model::{AuthSwitches, Context, InstallState, Timestamp};
use tessera_core::store::{LoginAttempt, RequestTokenRow, RequestTokenState};
use tessera_core::vault::SecretSlot;
use tessera_core::{Actor, InstallationChanges, IntegrationChanges};
use tessera_oauth1::{RequestToSign, Signer};

on_both_backends!(
    the_three_steps_give_a_token_that_works,
    requesttoken_refusals_carry_their_detail_codes,
    accesstoken_refusals_carry_their_detail_codes,
    the_consent_page_signs_in_first_and_answers_once,
    a_denied_request_tells_the_callback_and_cannot_be_exchanged,
    consent_in_another_account_installs_the_record_there,
    a_request_token_does_not_outlive_the_records_flow_or_callback,
    realms_in_the_flow_are_account_ids_exactly,
);

const CALLBACK: &str = "https://app.example/callback";
const ALICE_PASSWORD: &str = "correct horse battery staple";

fn account() -> AccountId {
    AccountId::parse(ACCOUNT).unwrap()
}

/// The fixture record's internal id.
async fn acme(server: &TestServer) -> IntegrationId {
    let key = tessera_core::ids::ConsumerKey::parse(CONSUMER_KEY).unwrap();
    let mut tx = server
        .tessera()
        .store()
        .begin(tessera_core::store::TxMode::Read)
        .await
        .unwrap();
    tx.integration_by_consumer_key(&key)
        .await
        .unwrap()
        .unwrap()
        .integration
        .id
}

/// Turns the fixture record's authorization flow on with `callback`, and gives Alice (user
/// 2, role "Integration User") a password.
async fn setup(server: &TestServer, callback: &str) -> IntegrationId {
    let id = acme(server).await;
    set_flow(server, id, true, callback).await;
    server
        .tessera()
        .set_password(
            &Actor::Operator {
                context: Context::Cli,
            },
            &account(),
            UserId::new(2),
            Some(&secret(ALICE_PASSWORD)),
        )
        .await
        .unwrap();
    id
}

async fn set_flow(server: &TestServer, id: IntegrationId, on: bool, callback: &str) {
    server
        .tessera()
        .update_integration(
            &admin_actor(),
            id,
            IntegrationChanges {
                switches: Some(AuthSwitches {
                    token_based_auth: true,
                    tba_authorization_flow: on,
                    callback_url: Some(callback.to_owned()),
                    tba_issuetoken_endpoint: false,
                    user_credentials: false,
                }),
                ..IntegrationChanges::default()
            },
        )
        .await
        .unwrap();
}

/// A signed POST to a flow endpoint; `extra` are further oauth_ parameters.
async fn flow_post(
    server: &TestServer,
    signer: &Signer,
    path: &str,
    extra: &[(&str, &str)],
    realm: Option<&str>,
) -> Reply {
    let url = server.url(path);
    let signed = signer
        .sign(&RequestToSign {
            method: "POST",
            url: &url,
            extra_oauth_params: extra,
            ..RequestToSign::default()
        })
        .unwrap();
    let mut authorization = signed.authorization;
    if let Some(realm) = realm {
        authorization = authorization.replacen("OAuth ", &format!("OAuth realm=\"{realm}\", "), 1);
    }
    send(
        server.addr,
        "POST",
        path,
        &[("authorization", &authorization)],
        b"",
    )
    .await
}

fn consumer_signer() -> Signer {
    Signer::consumer_only(CONSUMER_KEY, &secret(CONSUMER_SECRET))
}

/// The pairs of a form-encoded answer.
fn pairs(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap();
            (
                n.to_owned(),
                tessera_oauth1::encode::decode(v).unwrap().into_owned(),
            )
        })
        .collect()
}

fn field(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Step 1: a request token and its secret.
async fn request_token(server: &TestServer, callback: &str) -> (String, String) {
    let reply = flow_post(
        server,
        &consumer_signer(),
        "/rest/requesttoken",
        &[("oauth_callback", callback)],
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let answer = pairs(&reply.text());
    let names: Vec<&str> = answer.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "oauth_token",
            "oauth_token_secret",
            "oauth_callback_confirmed"
        ]
    );
    assert_eq!(field(&answer, "oauth_callback_confirmed"), "true");
    let (token, secret) = (
        field(&answer, "oauth_token"),
        field(&answer, "oauth_token_secret"),
    );
    assert!(is_hex64(&token) && is_hex64(&secret), "{answer:?}");
    (token, secret)
}

fn consent_path(token: &str, state: &str) -> String {
    format!("/app/login/secure/authorizetoken.nl?oauth_token={token}&state={state}")
}

/// Step 2 as Alice: sign in, open the consent page, press `decision`. Returns the redirect.
async fn consent(server: &TestServer, token: &str, state: &str, decision: &str) -> String {
    let mut browser = Browser::new(server);
    let reply = browser.sign_in("alice@example.com", ALICE_PASSWORD).await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    let page = consent_path(token, state);
    let html = browser.get(&page).await;
    assert_eq!(html.status, 200, "{}", html.text());
    let html = html.text();
    assert!(html.contains("Acme Sync"), "{html}");
    let role = first_role(&html);
    let origin = browser.origin.clone();
    let reply = browser
        .post(
            "/app/login/secure/authorizetoken.nl",
            &[
                ("csrf", &csrf_in(&html)),
                ("oauth_token", token),
                ("state", state),
                ("role", &role),
                ("decision", decision),
            ],
            Some(&origin),
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    location(&reply).to_owned()
}

/// The first role the consent page offers.
fn first_role(html: &str) -> String {
    let marker = "<option value=\"";
    let at = html.find(marker).expect("the page offers a role") + marker.len();
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

/// The query of a callback redirect.
fn callback_query(to: &str, callback: &str) -> Vec<(String, String)> {
    let query = to
        .strip_prefix(callback)
        .and_then(|rest| rest.strip_prefix('?'))
        .unwrap_or_else(|| panic!("{to} is not the callback {callback}"));
    pairs(query)
}

/// Step 3: the access token for an authorized request token.
async fn access_token(
    server: &TestServer,
    token: &str,
    token_secret: &str,
    verifier: &str,
) -> Reply {
    let signer = Signer::new(
        CONSUMER_KEY,
        &secret(CONSUMER_SECRET),
        token,
        &secret(token_secret),
    );
    flow_post(
        server,
        &signer,
        "/rest/accesstoken",
        &[("oauth_verifier", verifier)],
        None,
    )
    .await
}

/// The newest audit row of the flow's endpoints.
async fn last_flow_row(server: &TestServer) -> LoginAttempt {
    trail(server)
        .await
        .into_iter()
        .find(|r| r.surface == "authorization-flow")
        .expect("a row of the authorization flow")
}

fn assert_generic_401(reply: &Reply) {
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.json()["error"]["code"], "INVALID_LOGIN_ATTEMPT");
    assert_eq!(reply.json()["error"]["message"], "Invalid login attempt.");
}

async fn the_three_steps_give_a_token_that_works(server: &TestServer) {
    let integration = setup(server, CALLBACK).await;
    let (token, token_secret) = request_token(server, CALLBACK).await;
    let row = last_flow_row(server).await;
    assert!(row.success, "{row:?}");
    assert_eq!(row.integration, Some(integration));

    let to = consent(server, &token, "abc123", "allow").await;
    let answer = callback_query(&to, CALLBACK);
    let names: Vec<&str> = answer.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "oauth_token",
            "oauth_verifier",
            "company",
            "role",
            "entity",
            "state"
        ]
    );
    assert_eq!(field(&answer, "oauth_token"), token);
    assert_eq!(field(&answer, "company"), ACCOUNT);
    assert_eq!(field(&answer, "role"), "1001");
    assert_eq!(field(&answer, "entity"), "2");
    assert_eq!(field(&answer, "state"), "abc123");
    let verifier = field(&answer, "oauth_verifier");

    let reply = access_token(server, &token, &token_secret, &verifier).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.headers["cache-control"], "no-store");
    let answer = pairs(&reply.text());
    let names: Vec<&str> = answer.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["oauth_token", "oauth_token_secret"]);
    let (access, access_secret) = (
        field(&answer, "oauth_token"),
        field(&answer, "oauth_token_secret"),
    );
    assert!(is_hex64(&access) && is_hex64(&access_secret));
    assert_ne!(access, token, "the access token is a new credential");

    let row = last_flow_row(server).await;
    assert!(row.success);
    assert_eq!(row.user, Some(UserId::new(2)));
    assert_eq!(row.role, Some(RoleId::new(1001)));
    assert_eq!(
        row.token_name.as_deref(),
        Some("Acme Sync - Alice Able - Integration User")
    );

    // A signed call with it is accepted.
    let signer = signer_for(CONSUMER_KEY, CONSUMER_SECRET, &access, &access_secret);
    let reply = signed_get_as(
        server,
        &signer,
        "/app/site/hosting/restlet.nl?script=1&deploy=1",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    // The token has its system note, by Alice, through the endpoint.
    let key = row.token.unwrap();
    let notes = server
        .tessera()
        .system_notes(&admin_actor(), &tessera_core::model::RecordRef::Token(key))
        .await
        .unwrap();
    assert_eq!(notes[0].field, "created");
    assert_eq!(notes[0].actor, Some(UserId::new(2)));

    // Single use: a second exchange, freshly signed, is refused.
    let reply = access_token(server, &token, &token_secret, &verifier).await;
    assert_generic_401(&reply);
    assert_eq!(last_flow_row(server).await.detail, "RequestTokenUsed");
}

async fn requesttoken_refusals_carry_their_detail_codes(server: &TestServer) {
    let integration = setup(server, "http://localhost/cb").await;
    // A loopback callback may name any port; nothing else may differ.
    request_token(server, "http://localhost:53682/cb").await;
    request_token(server, "http://localhost/cb").await;

    let refused = |signer: Signer,
                   extra: Vec<(&'static str, String)>,
                   realm: Option<&'static str>| async move {
        let extra: Vec<(&str, &str)> = extra.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = flow_post(server, &signer, "/rest/requesttoken", &extra, realm).await;
        assert_generic_401(&reply);
        last_flow_row(server).await
    };
    let cb = |v: &str| vec![("oauth_callback", v.to_owned())];

    let unknown = Signer::consumer_only("0".repeat(64), &secret(CONSUMER_SECRET));
    let row = refused(unknown, cb("http://localhost/cb"), None).await;
    assert_eq!(row.detail, "UnknownIntegration");

    let wrong = Signer::consumer_only(CONSUMER_KEY, &secret("wrong"));
    let row = refused(wrong, cb("http://localhost/cb"), None).await;
    assert_eq!(row.detail, "InvalidSignature");
    assert_eq!(row.integration, Some(integration));
    assert_eq!(
        row.account,
        Some(account()),
        "a refusal of a known record is in its owner's audit trail"
    );

    for bad in [
        "http://localhost/other",
        "https://localhost/cb",
        "http://localhost.evil.example/cb",
        "http://127.0.0.1/cb",
        "oob",
    ] {
        let row = refused(consumer_signer(), cb(bad), None).await;
        assert_eq!(row.detail, "InvalidCallback", "{bad}");
    }

    let row = refused(consumer_signer(), vec![], None).await;
    assert_eq!(row.detail, "MissingRequiredParameter");
    assert!(
        row.detail_note.contains("oauth_callback"),
        "{}",
        row.detail_note
    );

    // The timestamp and nonce rules, as for every signed request.
    let url = server.url("/rest/requesttoken");
    for (nonce, timestamp, detail) in [
        ("abc12345", Some(1_000_000_000), "InvalidTimestamp"),
        ("abc", None, "nonce_rejected"),
    ] {
        let signed = consumer_signer()
            .sign(&RequestToSign {
                method: "POST",
                url: &url,
                nonce: Some(nonce),
                timestamp,
                extra_oauth_params: &[("oauth_callback", "http://localhost/cb")],
                ..RequestToSign::default()
            })
            .unwrap();
        let reply = send(
            server.addr,
            "POST",
            "/rest/requesttoken",
            &[("authorization", &signed.authorization)],
            b"",
        )
        .await;
        assert_generic_401(&reply);
        assert_eq!(last_flow_row(server).await.detail, detail);
    }

    // Replay: the same header twice gives one request token.
    let signed = consumer_signer()
        .sign(&RequestToSign {
            method: "POST",
            url: &url,
            extra_oauth_params: &[("oauth_callback", "http://localhost/cb")],
            ..RequestToSign::default()
        })
        .unwrap();
    let headers = [("authorization", signed.authorization.as_str())];
    let first = send(server.addr, "POST", "/rest/requesttoken", &headers, b"").await;
    assert_eq!(first.status, 200);
    let again = send(server.addr, "POST", "/rest/requesttoken", &headers, b"").await;
    assert_generic_401(&again);
    assert_eq!(last_flow_row(server).await.detail, "nonce_used");

    // A token in step 1 is a malformed request.
    let with_token = signer();
    let reply = flow_post(
        server,
        &with_token,
        "/rest/requesttoken",
        &[("oauth_callback", "http://localhost/cb")],
        None,
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text());

    // Blocked in the account the realm names.
    server
        .tessera()
        .update_installation(
            &admin_actor(),
            integration,
            InstallationChanges {
                state: Some(InstallState::Blocked),
                ..InstallationChanges::default()
            },
        )
        .await
        .unwrap();
    let row = refused(consumer_signer(), cb("http://localhost/cb"), Some(ACCOUNT)).await;
    assert_eq!(row.detail, "IntegrationBlocked");

    // The record's flow switched off.
    set_flow(server, integration, false, "http://localhost/cb").await;
    let row = refused(consumer_signer(), cb("http://localhost/cb"), None).await;
    assert_eq!(row.detail, "AuthorizationFlowRequired");

    // No refusal and no answer ever holds a secret.
    for row in trail(server).await {
        assert!(!row.detail_note.contains(CONSUMER_SECRET));
    }
}

/// A request token row made directly, to test states the clock would take ten minutes to reach.
async fn stored_request_token(
    server: &TestServer,
    integration: IntegrationId,
    state: RequestTokenState,
    expires_in_ms: i64,
) -> (String, String) {
    let token_id = TokenId::generate().unwrap();
    let token_secret = "ab".repeat(32);
    let sealed = server
        .tessera()
        .keyring()
        .seal(
            &secret(&token_secret),
            SecretSlot::RequestTokenSecret(&token_id),
        )
        .unwrap();
    let now = Timestamp::now();
    let mut tx = server
        .tessera()
        .store()
        .begin(tessera_core::store::TxMode::Write)
        .await
        .unwrap();
    tx.insert_request_token(&RequestTokenRow {
        token_id: token_id.clone(),
        integration,
        token_secret: sealed,
        callback: CALLBACK.to_owned(),
        realm: None,
        created_at: now,
        expires_at: Timestamp::from_millis(now.millis() + expires_in_ms),
        state,
        consent: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (token_id.as_str().to_owned(), token_secret)
}

async fn accesstoken_refusals_carry_their_detail_codes(server: &TestServer) {
    let integration = setup(server, CALLBACK).await;

    // Not consented yet: no verifier can be right.
    let (token, token_secret) = request_token(server, CALLBACK).await;
    assert_generic_401(&access_token(server, &token, &token_secret, "0".repeat(64).as_str()).await);
    assert_eq!(last_flow_row(server).await.detail, "InvalidVerifier");

    // Consented, then a wrong verifier; the right one still works after it.
    let to = consent(server, &token, "", "allow").await;
    let verifier = field(&callback_query(&to, CALLBACK), "oauth_verifier");
    assert_generic_401(&access_token(server, &token, &token_secret, &"f".repeat(64)).await);
    let row = last_flow_row(server).await;
    assert_eq!(row.detail, "InvalidVerifier");
    assert_eq!(
        row.user,
        Some(UserId::new(2)),
        "the consenting user is named"
    );

    // A wrong request token secret is a wrong signature.
    assert_generic_401(&access_token(server, &token, &"0".repeat(64), &verifier).await);
    assert_eq!(last_flow_row(server).await.detail, "InvalidSignature");

    // Replay of an exchange: the same header twice.
    let signer = Signer::new(
        CONSUMER_KEY,
        &secret(CONSUMER_SECRET),
        &token,
        &secret(&token_secret),
    );
    let url = server.url("/rest/accesstoken");
    let signed = signer
        .sign(&RequestToSign {
            method: "POST",
            url: &url,
            extra_oauth_params: &[("oauth_verifier", &verifier)],
            ..RequestToSign::default()
        })
        .unwrap();
    let headers = [("authorization", signed.authorization.as_str())];
    let first = send(server.addr, "POST", "/rest/accesstoken", &headers, b"").await;
    assert_eq!(first.status, 200, "{}", first.text());
    let again = send(server.addr, "POST", "/rest/accesstoken", &headers, b"").await;
    assert_generic_401(&again);
    let detail = last_flow_row(server).await.detail;
    assert!(
        detail == "nonce_used" || detail == "RequestTokenUsed",
        "{detail}"
    );

    // Expired.
    let (token, token_secret) =
        stored_request_token(server, integration, RequestTokenState::Pending, -1).await;
    assert_generic_401(&access_token(server, &token, &token_secret, "x").await);
    assert_eq!(last_flow_row(server).await.detail, "RequestTokenExpired");

    // Unknown request token, and one made up of the right shape.
    assert_generic_401(&access_token(server, "nope", &token_secret, "x").await);
    assert_eq!(last_flow_row(server).await.detail, "InvalidToken");
    assert_generic_401(&access_token(server, &"1".repeat(64), &token_secret, "x").await);
    assert_eq!(last_flow_row(server).await.detail, "InvalidToken");

    // An access token is not a request token.
    assert_generic_401(&access_token(server, TOKEN_ID, TOKEN_SECRET, "x").await);
    assert_eq!(last_flow_row(server).await.detail, "InvalidToken");

    // Without a verifier.
    let signer = Signer::new(
        CONSUMER_KEY,
        &secret(CONSUMER_SECRET),
        &token,
        &secret(&token_secret),
    );
    assert_generic_401(&flow_post(server, &signer, "/rest/accesstoken", &[], None).await);
    assert_eq!(
        last_flow_row(server).await.detail,
        "MissingRequiredParameter"
    );
}

async fn the_consent_page_signs_in_first_and_answers_once(server: &TestServer) {
    setup(server, CALLBACK).await;
    let (token, _) = request_token(server, CALLBACK).await;
    let page = consent_path(&token, "s1");

    // No session: to the sign-in page, which comes back here.
    let mut browser = Browser::new(server);
    let reply = browser.get(&page).await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    let to = location(&reply).to_owned();
    assert!(to.starts_with("/app/login?next="), "{to}");
    let sign_in = browser.get(&to).await.text();
    assert_eq!(
        value_of(&sign_in, "next")
            .map(|n| n.replace("&#38;", "&"))
            .as_deref(),
        Some(page.as_str()),
        "the sign-in form goes back to the consent page"
    );
    let origin = browser.origin.clone();
    let reply = browser
        .post(
            "/app/login",
            &[
                ("csrf", &csrf_in(&sign_in)),
                ("next", &page),
                ("account", ACCOUNT),
                ("email", "alice@example.com"),
                ("password", ALICE_PASSWORD),
            ],
            Some(&origin),
        )
        .await;
    assert_eq!(reply.status, 303);
    assert_eq!(location(&reply), page);

    // The page names the application, its owner and the account; its policy lets the form go
    // to the callback's origin and nowhere else.
    let reply = browser.get(&page).await;
    assert_eq!(reply.status, 200);
    let csp = reply.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' https://app.example;"),
        "{csp}"
    );
    let html = reply.text();
    for shown in ["Acme Sync", "Integration User", ACCOUNT, CALLBACK] {
        assert!(html.contains(shown), "{shown} missing from {html}");
    }

    // A state that is not 1-512 letters and digits is refused before anything.
    for bad in ["a-b", &"a".repeat(513)] {
        let reply = browser.get(&consent_path(&token, bad)).await;
        assert_eq!(reply.status, 400, "{bad}");
    }
    // A role the user does not hold is refused, and nothing is decided.
    let form = |role: &'static str, decision: &'static str| {
        let csrf = csrf_in(&html);
        let token = token.clone();
        vec![
            ("csrf".to_owned(), csrf),
            ("oauth_token".to_owned(), token),
            ("state".to_owned(), "s1".to_owned()),
            ("role".to_owned(), role.to_owned()),
            ("decision".to_owned(), decision.to_owned()),
        ]
    };
    let post = |fields: Vec<(String, String)>| {
        let fields: Vec<(String, String)> = fields;
        fields
    };
    let fields = post(form("3", "allow"));
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let reply = browser
        .post(
            "/app/login/secure/authorizetoken.nl",
            &borrowed,
            Some(&origin),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text());

    // Without the form token: refused.
    let reply = browser
        .post(
            "/app/login/secure/authorizetoken.nl",
            &borrowed[1..],
            Some(&origin),
        )
        .await;
    assert_eq!(reply.status, 403);

    let fields = post(form("1001", "allow"));
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let reply = browser
        .post(
            "/app/login/secure/authorizetoken.nl",
            &borrowed,
            Some(&origin),
        )
        .await;
    assert_eq!(reply.status, 303);
    assert!(location(&reply).starts_with(CALLBACK));
    // Answered once: again, or denied afterwards, is a conflict.
    let reply = browser
        .post(
            "/app/login/secure/authorizetoken.nl",
            &borrowed,
            Some(&origin),
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.text());
    assert_eq!(browser.get(&page).await.status, 409);

    // An unknown request token is not found.
    assert_eq!(
        browser.get(&consent_path(&"2".repeat(64), "")).await.status,
        404
    );
}

async fn a_denied_request_tells_the_callback_and_cannot_be_exchanged(server: &TestServer) {
    setup(server, CALLBACK).await;
    let (token, token_secret) = request_token(server, CALLBACK).await;
    let to = consent(server, &token, "xyz", "deny").await;
    let answer = callback_query(&to, CALLBACK);
    assert_eq!(field(&answer, "oauth_token"), token);
    assert_eq!(field(&answer, "error"), "access_denied");
    assert_eq!(field(&answer, "state"), "xyz");
    assert!(answer.iter().all(|(n, _)| n != "oauth_verifier"));
    assert_generic_401(&access_token(server, &token, &token_secret, "x").await);
    assert_eq!(last_flow_row(server).await.detail, "RequestTokenDenied");
}

async fn consent_in_another_account_installs_the_record_there(server: &TestServer) {
    let integration = setup(server, CALLBACK).await;
    // Account 7654321 has not installed the record, and requires approval for auto-installs.
    let (other, _) = other_account(server, true, "boss@other.example", Some(ALICE_PASSWORD)).await;
    let (token, token_secret) = request_token(server, CALLBACK).await;
    let mut browser = Browser::new(server);
    let origin = browser.origin.clone();
    let login = browser.get("/app/login").await.text();
    let reply = browser
        .post(
            "/app/login",
            &[
                ("csrf", &csrf_in(&login)),
                ("account", other.as_str()),
                ("email", "boss@other.example"),
                ("password", ALICE_PASSWORD),
            ],
            Some(&origin),
        )
        .await;
    assert_eq!(reply.status, 303);
    let html = browser.get(&consent_path(&token, "")).await.text();
    assert!(html.contains("waiting for an administrator"), "{html}");
    let other_admin = Actor::user(&other, UserId::new(3), RoleId::ADMINISTRATOR, Context::Api);
    assert!(
        server
            .tessera()
            .integration(&other_admin, integration)
            .await
            .is_err(),
        "looking at the page installs nothing"
    );
    // Nor does an Allow that cannot succeed (a role the user does not hold).
    let reply = browser
        .post(
            "/app/login/secure/authorizetoken.nl",
            &[
                ("csrf", &csrf_in(&html)),
                ("oauth_token", &token),
                ("state", ""),
                ("role", "99999"),
                ("decision", "allow"),
            ],
            Some(&origin),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        server
            .tessera()
            .integration(&other_admin, integration)
            .await
            .is_err(),
        "a refused Allow installs nothing"
    );
    let reply = browser
        .post(
            "/app/login/secure/authorizetoken.nl",
            &[
                ("csrf", &csrf_in(&html)),
                ("oauth_token", &token),
                ("state", ""),
                ("role", "3"),
                ("decision", "allow"),
            ],
            Some(&origin),
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    let verifier = field(
        &callback_query(location(&reply), CALLBACK),
        "oauth_verifier",
    );
    // Until an administrator enables it, no token.
    assert_generic_401(&access_token(server, &token, &token_secret, &verifier).await);
    assert_eq!(last_flow_row(server).await.detail, "IntegrationBlocked");
    server
        .tessera()
        .update_installation(
            &other_admin,
            integration,
            InstallationChanges {
                state: Some(InstallState::Enabled),
                ..InstallationChanges::default()
            },
        )
        .await
        .unwrap();
    let reply = access_token(server, &token, &token_secret, &verifier).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// Real clients run the whole flow: requests-oauthlib's `OAuth1Session` and Node's `oauth`,
/// with the consent clicked through in headless Chromium (`tests/interop/consent.js`).
mod real_clients {
    use super::*;

    const CHROMIUM: &str = "/usr/bin/chromium";

    on_both_backends!(
        requests_oauthlib_runs_the_three_legged_flow,
        node_oauth_runs_the_three_legged_flow,
    );

    fn config(server: &TestServer, callback: &str) -> serde_json::Value {
        assert!(
            std::path::Path::new(CHROMIUM).exists(),
            "the consent is clicked in Debian's chromium at {CHROMIUM}: `apt-get install chromium` (scripts/test does)"
        );
        let interop = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
        serde_json::json!({
            "base": server.url(""),
            "account": ACCOUNT,
            "email": "alice@example.com",
            "password": ALICE_PASSWORD,
            "consumer_key": CONSUMER_KEY,
            "consumer_secret": CONSUMER_SECRET,
            "callback": callback,
            "callback_prefix": "http://localhost:",
            "chromium": CHROMIUM,
            "consent_js": interop.join("consent.js"),
            "screenshots": std::env::var("TESSERA_SCREENSHOTS").ok(),
        })
    }

    /// Runs a flow script; what it printed.
    async fn run(
        program: &'static str,
        script: &'static str,
        config: serde_json::Value,
    ) -> serde_json::Value {
        let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/interop")
            .join(script);
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(program)
                .arg(&script)
                .arg(config.to_string())
                .env("PYTHONPATH", interop_dir().join("python"))
                .env("NODE_PATH", interop_dir().join("node/node_modules"))
                .output()
                .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    async fn requests_oauthlib_runs_the_three_legged_flow(server: &TestServer) {
        setup(server, "http://localhost/callback").await;
        let out = run(
            "python3",
            "flow.py",
            config(server, "http://localhost:8912/callback"),
        )
        .await;
        assert_eq!(
            out["request_token_fields"],
            serde_json::json!([
                "oauth_callback_confirmed",
                "oauth_token",
                "oauth_token_secret"
            ])
        );
        assert_eq!(
            out["callback_fields"],
            serde_json::json!([
                "company",
                "entity",
                "oauth_token",
                "oauth_verifier",
                "role",
                "state"
            ])
        );
        assert_eq!(out["callback_state"], "py42");
        assert_eq!(out["callback_company"], ACCOUNT);
        assert_eq!(
            out["access_token_fields"],
            serde_json::json!(["oauth_token", "oauth_token_secret"])
        );
        assert_eq!(out["call_status"], 200, "{out}");
        assert_eq!(
            out["call_token_name"],
            "Acme Sync - Alice Able - Integration User"
        );
        assert_eq!(out["second_exchange"], 401, "{out}");
    }

    async fn node_oauth_runs_the_three_legged_flow(server: &TestServer) {
        setup(server, "http://localhost/callback").await;
        let out = run(
            "node",
            "flow.js",
            config(server, "http://localhost:8913/callback"),
        )
        .await;
        assert_eq!(out["request_token_ok"], true, "{out}");
        assert_eq!(out["callback_confirmed"], "true");
        assert_eq!(out["callback_state"], "node7");
        assert_eq!(out["callback_company"], ACCOUNT);
        assert_eq!(out["access_token_ok"], true, "{out}");
        assert_eq!(out["call_status"], 200, "{out}");
        assert_eq!(out["second_exchange"], 401);
        assert_eq!(out["denied_error"], "access_denied");
        assert_eq!(out["denied_exchange"], 401);
    }
}

async fn a_request_token_does_not_outlive_the_records_flow_or_callback(server: &TestServer) {
    let integration = setup(server, CALLBACK).await;
    // Consented, then the flow switched off: no exchange.
    let (token, token_secret) = request_token(server, CALLBACK).await;
    let to = consent(server, &token, "", "allow").await;
    let verifier = field(&callback_query(&to, CALLBACK), "oauth_verifier");
    set_flow(server, integration, false, CALLBACK).await;
    assert_generic_401(&access_token(server, &token, &token_secret, &verifier).await);
    assert_eq!(
        last_flow_row(server).await.detail,
        "AuthorizationFlowRequired"
    );

    // Issued, then the callback changed: the consent page refuses it, and so does the exchange.
    set_flow(server, integration, true, CALLBACK).await;
    let (token, _) = request_token(server, CALLBACK).await;
    set_flow(server, integration, true, "https://other.example/cb").await;
    let mut browser = Browser::new(server);
    browser.sign_in("alice@example.com", ALICE_PASSWORD).await;
    let reply = browser.get(&consent_path(&token, "")).await;
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert!(
        reply.text().contains("callback URL changed"),
        "{}",
        reply.text()
    );
}

async fn realms_in_the_flow_are_account_ids_exactly(server: &TestServer) {
    setup(server, CALLBACK).await;
    // A refusal after the realm is in the realm account's trail, and so is a request token
    // issued for it.
    let (other, _) = other_account(server, false, "boss@other.example", None).await;
    let reply = flow_post(
        server,
        &consumer_signer(),
        "/rest/requesttoken",
        &[("oauth_callback", "https://wrong.example/cb")],
        Some(other.as_str()),
    )
    .await;
    assert_generic_401(&reply);
    let row = last_flow_row(server).await;
    assert_eq!(
        (row.detail, row.account),
        (tessera_core::Detail::InvalidCallback, Some(other.clone()))
    );
    let reply = flow_post(
        server,
        &consumer_signer(),
        "/rest/requesttoken",
        &[("oauth_callback", CALLBACK)],
        Some(other.as_str()),
    )
    .await;
    assert_eq!(reply.status, 200);
    let row = last_flow_row(server).await;
    assert!(row.success);
    assert_eq!(row.account, Some(other));
    for realm in ["garbage!", "01234567x", "1234567-sb1"] {
        let reply = flow_post(
            server,
            &consumer_signer(),
            "/rest/requesttoken",
            &[("oauth_callback", CALLBACK)],
            Some(realm),
        )
        .await;
        assert_generic_401(&reply);
        assert_eq!(
            last_flow_row(server).await.detail,
            "InvalidRealm",
            "{realm}"
        );
    }
    // accesstoken: a realm, when sent, is the consenting account.
    let (token, token_secret) = request_token(server, CALLBACK).await;
    let to = consent(server, &token, "", "allow").await;
    let verifier = field(&callback_query(&to, CALLBACK), "oauth_verifier");
    let signer = Signer::new(
        CONSUMER_KEY,
        &secret(CONSUMER_SECRET),
        &token,
        &secret(&token_secret),
    );
    let reply = flow_post(
        server,
        &signer,
        "/rest/accesstoken",
        &[("oauth_verifier", &verifier)],
        Some("7654321"),
    )
    .await;
    assert_generic_401(&reply);
    assert_eq!(last_flow_row(server).await.detail, "InvalidRealm");
    let reply = flow_post(
        server,
        &signer,
        "/rest/accesstoken",
        &[("oauth_verifier", &verifier)],
        Some(ACCOUNT),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}
