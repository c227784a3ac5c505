//! The admin web UI over HTTP, without a browser: its sessions (stored on both backends), the
//! cookie's attributes, form tokens and the Origin check, headers, escaping, throttling,
//! timeouts, and pages that follow the role (R12/R13). `browser.rs` drives the same pages in
//! Chromium.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::web::*;
use support::*;
use tessera_core::ids::{AccountId, Email, RoleId, UserId};
use tessera_core::model::{Context, PermissionSet};
use tessera_core::store::AttemptQuery;
use tessera_core::{Actor, NewRoleInput, NewUserInput};
use tessera_server::ServerConfig;
use tessera_store::testing::TestDatabase;

on_both_backends!(
    signing_in_starts_a_strict_session_under_a_new_id,
    posts_need_the_form_token_and_our_origin,
    pages_follow_the_role_and_the_server_enforces_it,
    a_password_change_signs_out_every_other_browser,
    a_deactivated_user_is_signed_out_at_once,
    the_token_list_pages_through_every_token_once,
    an_administrator_manages_users,
    an_administrator_manages_roles,
    deleting_an_integration_asks_first_and_revokes_its_tokens,
    the_owner_chooses_who_may_install_a_record_on_its_edit_page,
    an_administrator_sets_token_policies_and_changes_tokens_in_bulk,
);

const ADMIN_PASSWORD: &str = "correct horse battery staple";

fn operator() -> Actor {
    Actor::Operator {
        context: Context::Cli,
    }
}

fn account() -> AccountId {
    AccountId::parse(ACCOUNT).unwrap()
}

async fn admin_password(server: &TestServer) {
    server
        .tessera()
        .set_password(
            &operator(),
            &account(),
            UserId::new(1),
            Some(&secret(ADMIN_PASSWORD)),
        )
        .await
        .unwrap();
}

/// A user of the fixture account with one new role of these permissions and a password.
async fn user_with(
    server: &TestServer,
    email: &str,
    permissions: &str,
    web_services_only: bool,
) -> (UserId, RoleId) {
    let tessera = server.tessera();
    let role = tessera
        .create_role(
            &operator(),
            &account(),
            NewRoleInput {
                name: format!("Role of {email}"),
                permissions: PermissionSet::from_codes(permissions).unwrap(),
                web_services_only,
            },
        )
        .await
        .unwrap();
    let user = tessera
        .create_user(
            &operator(),
            &account(),
            NewUserInput {
                name: format!("User {email}"),
                email: Email::parse(email).unwrap(),
                password: Some(secret(ADMIN_PASSWORD)),
                roles: vec![role.id],
            },
        )
        .await
        .unwrap();
    (user.id, role.id)
}

fn set_cookie(reply: &Reply, name_suffix: &str) -> String {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| {
            v.split('=')
                .next()
                .is_some_and(|n| n.ends_with(name_suffix))
        })
        .unwrap_or_else(|| panic!("no {name_suffix} cookie in {:?}", reply.headers))
}

async fn signing_in_starts_a_strict_session_under_a_new_id(server: &TestServer) {
    admin_password(server).await;
    let mut browser = Browser::new(server);
    let reply = browser.get("/app/setup/access-tokens?revoked=no").await;
    assert_eq!(reply.status, 303);
    assert_eq!(
        location(&reply),
        "/app/login?next=%2Fapp%2Fsetup%2Faccess-tokens%3Frevoked%3Dno"
    );

    let wrong = browser
        .sign_in("admin@example.com", "not the password at all")
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("incorrect"), "{}", wrong.text());
    assert!(browser.session().is_none());

    let reply = browser
        .submit(
            "/app/login?next=%2Fapp%2Fsetup%2Faccess-tokens",
            "/app/login",
            &[
                ("account", ACCOUNT),
                ("email", "admin@example.com"),
                ("password", ADMIN_PASSWORD),
                ("next", "/app/setup/access-tokens"),
            ],
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    assert_eq!(location(&reply), "/app/setup/access-tokens");
    let cookie = set_cookie(&reply, "tessera-session");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=1800"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    // Plain HTTP on loopback: the one case without Secure (and so without the prefix).
    assert!(!cookie.contains("Secure"), "{cookie}");
    let page = browser.get("/app/setup/access-tokens").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("alice sync"));

    // Signing in again (someone else, in a browser that carries this session) never keeps
    // the old id: a session id planted before sign-in is worth nothing after it.
    let before = browser.session().unwrap();
    let (_, _) = user_with(server, "uma@example.com", "USER_ACCESS_TOKENS", false).await;
    let mut planted = Browser::new(server);
    let csrf = csrf_in(&planted.get("/app/login").await.text());
    let (name, value) = browser
        .cookies
        .iter()
        .find(|(n, _)| n.ends_with("tessera-session"))
        .map(|(n, v)| (n.clone(), v.clone()))
        .unwrap();
    planted.cookies.insert(name, value);
    let origin = server.url("");
    let reply = planted
        .post(
            "/app/login",
            &[
                ("account", ACCOUNT),
                ("email", "uma@example.com"),
                ("password", ADMIN_PASSWORD),
                ("csrf", &csrf),
            ],
            Some(&origin),
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    let after = planted.session().unwrap();
    assert_ne!(before, after, "a new session id at sign-in");
    let old = browser.get("/app/setup/access-tokens").await;
    assert_eq!(old.status, 303, "the replaced id no longer signs anyone in");

    // Every attempt is in the login audit trail, from the UI, without the password.
    server.state.verifier().flush().await;
    let trail = server
        .tessera()
        .login_audit_trail(
            &admin_actor(),
            AttemptQuery {
                limit: 50,
                ..AttemptQuery::default()
            },
        )
        .await
        .unwrap();
    let ui: Vec<_> = trail.iter().filter(|a| a.surface == "ui").collect();
    assert!(
        ui.iter()
            .any(|a| a.success && a.email.as_deref() == Some("admin@example.com"))
    );
    assert!(
        ui.iter()
            .any(|a| !a.success && a.detail == "InvalidCredentials")
    );
    for a in &ui {
        assert!(!format!("{a:?}").contains(ADMIN_PASSWORD));
    }
}

async fn posts_need_the_form_token_and_our_origin(server: &TestServer) {
    admin_password(server).await;
    let mut browser = Browser::new(server);
    assert_eq!(
        browser
            .sign_in("admin@example.com", ADMIN_PASSWORD)
            .await
            .status,
        303
    );
    let list = browser
        .get("/app/setup/access-tokens?search=alice%20sync")
        .await
        .text();
    let id: String = list
        .match_indices("/app/setup/access-tokens/")
        .map(|(at, m)| &list[at + m.len()..])
        .find(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let revoke = format!("/app/setup/access-tokens/{id}/revoke");
    let csrf = csrf_in(&browser.get(&revoke).await.text());
    let origin = server.url("");

    let no_token = browser
        .post(&revoke, &[("confirm", "T")], Some(&origin))
        .await;
    assert_eq!(no_token.status, 403);
    assert!(no_token.text().contains("security token"));
    let wrong_token = browser
        .post(
            &revoke,
            &[("confirm", "T"), ("csrf", "x".repeat(43).as_str())],
            Some(&origin),
        )
        .await;
    assert_eq!(wrong_token.status, 403);
    let elsewhere = browser
        .post(
            &revoke,
            &[("confirm", "T"), ("csrf", &csrf)],
            Some("https://evil.example.com"),
        )
        .await;
    assert_eq!(elsewhere.status, 403);
    assert!(elsewhere.text().contains("not this server"));
    let no_origin = browser
        .post(&revoke, &[("confirm", "T"), ("csrf", &csrf)], None)
        .await;
    assert_eq!(no_origin.status, 403);
    assert_eq!(
        signed_get(server, "/app/site/hosting/restlet.nl?script=1&deploy=1")
            .await
            .status,
        200,
        "nothing was revoked"
    );
    let unconfirmed = browser
        .post(&revoke, &[("csrf", &csrf)], Some(&origin))
        .await;
    assert_eq!(unconfirmed.status, 400);

    let done = browser
        .post(&revoke, &[("confirm", "T"), ("csrf", &csrf)], Some(&origin))
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(
        signed_get(server, "/app/site/hosting/restlet.nl?script=1&deploy=1")
            .await
            .status,
        401
    );
    let view = browser.get(location(&done)).await.text();
    assert!(
        view.contains("<p class=\"flash\" role=\"status\">Token"),
        "the next page says so, once"
    );
    assert!(
        !browser
            .get(location(&done))
            .await
            .text()
            .contains("class=\"flash\"")
    );

    // The sign-in form carries its own token, matched against its cookie.
    let mut stranger = Browser::new(server);
    let refused = stranger
        .post(
            "/app/login",
            &[
                ("account", ACCOUNT),
                ("email", "admin@example.com"),
                ("password", ADMIN_PASSWORD),
                ("csrf", "made-up"),
            ],
            Some(&origin),
        )
        .await;
    assert_eq!(refused.status, 401);
    assert!(refused.text().contains("expired"));
    assert!(stranger.session().is_none());
}

async fn pages_follow_the_role_and_the_server_enforces_it(server: &TestServer) {
    // USER_ACCESS_TOKENS alone: My Access Tokens, nothing else.
    let (uma, _) = user_with(
        server,
        "uma@example.com",
        "USER_ACCESS_TOKENS,LOG_IN_USING_ACCESS_TOKENS",
        false,
    )
    .await;
    let mut browser = Browser::new(server);
    assert_eq!(
        browser
            .sign_in("uma@example.com", ADMIN_PASSWORD)
            .await
            .status,
        303
    );
    let home = browser.get("/app").await.text();
    assert!(home.contains("/app/setup/my-access-tokens"));
    for absent in [
        "href=\"/app/setup/access-tokens\"",
        "/app/setup/integrations",
        "/app/setup/login-audit-trail",
        "/app/setup/users",
    ] {
        assert!(!home.contains(absent), "{absent} offered to a UAT user");
    }
    // The token form offers only herself with her current role.
    let form = browser.get("/app/setup/access-tokens/new").await.text();
    assert!(form.contains(&format!("value=\"{uma}-")));
    assert!(!form.contains("Alice Able"));
    // What is not offered is refused anyway.
    let audit = browser.get("/app/setup/login-audit-trail").await;
    assert_eq!(audit.status, 403);
    assert_eq!(browser.get("/app/setup/integrations/new").await.status, 403);
    let create = browser
        .submit(
            "/app/setup/my-access-tokens",
            "/app/setup/integrations/new",
            &[("name", "Sneaky"), ("token_based_auth", "T")],
        )
        .await;
    assert_eq!(create.status, 403, "{}", create.text());
    let others = browser
        .submit(
            "/app/setup/access-tokens/new",
            "/app/setup/access-tokens/new",
            &[("application", "1"), ("grant", "2-4")],
        )
        .await;
    assert_eq!(others.status, 400, "refused on the form, with the reason");
    assert!(others.text().contains("role=\"alert\""));

    // A role restricted to web services cannot sign in to the UI at all.
    user_with(
        server,
        "wes@example.com",
        "LOG_IN_USING_ACCESS_TOKENS,REST_WEB_SERVICES",
        true,
    )
    .await;
    let mut wes = Browser::new(server);
    let refused = wes.sign_in("wes@example.com", ADMIN_PASSWORD).await;
    assert_eq!(refused.status, 401);
    assert!(wes.session().is_none());
    // And the page says no more than a wrong password's does: it must not confirm that the
    // password was right (the reason, RoleNotAllowed, is in the audit trail).
    let wrong = Browser::new(server)
        .sign_in("wes@example.com", "not the password at all")
        .await;
    assert!(refused.text().contains("incorrect"));
    assert!(!refused.text().contains("None of your roles"));
    assert_eq!(refused.text().len(), wrong.text().len());
}

async fn a_password_change_signs_out_every_other_browser(server: &TestServer) {
    admin_password(server).await;
    let mut first = Browser::new(server);
    let mut second = Browser::new(server);
    for b in [&mut first, &mut second] {
        assert_eq!(
            b.sign_in("admin@example.com", ADMIN_PASSWORD).await.status,
            303
        );
    }
    let before = first.session().unwrap();
    let mismatch = first
        .submit(
            "/app/preferences/password",
            "/app/preferences/password",
            &[
                ("current_password", ADMIN_PASSWORD),
                ("new_password", "a brand new passphrase"),
                ("confirm_password", "a different passphrase"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, 400);
    let wrong = first
        .submit(
            "/app/preferences/password",
            "/app/preferences/password",
            &[
                ("current_password", "not the current one"),
                ("new_password", "a brand new passphrase"),
                ("confirm_password", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.text().contains("current password"));
    let changed = first
        .submit(
            "/app/preferences/password",
            "/app/preferences/password",
            &[
                ("current_password", ADMIN_PASSWORD),
                ("new_password", "a brand new passphrase"),
                ("confirm_password", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.text());
    assert_ne!(
        first.session().unwrap(),
        before,
        "this browser goes on under a new id"
    );
    assert_eq!(first.get("/app").await.status, 200);
    assert_eq!(second.get("/app").await.status, 303, "the other one is out");
    let mut third = Browser::new(server);
    assert_eq!(
        third
            .sign_in("admin@example.com", ADMIN_PASSWORD)
            .await
            .status,
        401
    );
    assert_eq!(
        third
            .sign_in("admin@example.com", "a brand new passphrase")
            .await
            .status,
        303
    );
}

async fn a_deactivated_user_is_signed_out_at_once(server: &TestServer) {
    let (user, _) = user_with(server, "dee@example.com", "USER_ACCESS_TOKENS", false).await;
    let mut browser = Browser::new(server);
    assert_eq!(
        browser
            .sign_in("dee@example.com", ADMIN_PASSWORD)
            .await
            .status,
        303
    );
    assert_eq!(browser.get("/app").await.status, 200);
    server
        .tessera()
        .update_user(
            &operator(),
            &account(),
            user,
            tessera_core::UserChanges {
                active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let reply = browser.get("/app").await;
    assert_eq!(reply.status, 303);
    assert_eq!(location(&reply), "/app/login?reason=revoked");
}

async fn start_sqlite(config: ServerConfig) -> TestServer {
    TestServer::start_with(TestDatabase::sqlite().await, config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_https_the_cookies_are_secure_and_host_prefixed() {
    let server = start_sqlite(ServerConfig {
        public_origins: vec!["https://tessera.example.com".parse().unwrap()],
        ..ServerConfig::default()
    })
    .await;
    admin_password(&server).await;
    let mut browser = Browser::new(&server);
    browser.origin = "https://tessera.example.com".into();
    browser.host = "tessera.example.com".into();
    let form = browser.get("/app/login").await;
    let login_cookie = set_cookie(&form, "tessera-login");
    assert!(
        login_cookie.starts_with("__Host-tessera-login="),
        "{login_cookie}"
    );
    assert!(login_cookie.contains("; Secure"), "{login_cookie}");
    let reply = browser.sign_in("admin@example.com", ADMIN_PASSWORD).await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    let cookie = set_cookie(&reply, "tessera-session");
    assert!(cookie.starts_with("__Host-tessera-session="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    // The loopback origin is not this server's any more.
    let csrf = csrf_in(&browser.get("/app/preferences/password").await.text());
    let local = server.url("");
    let refused = browser
        .post("/app/logout", &[("csrf", &csrf)], Some(&local))
        .await;
    assert_eq!(refused.status, 403);
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_forbid_inline_script_framing_and_caching_and_escape_what_they_show() {
    let server = start_sqlite(ServerConfig::default()).await;
    admin_password(&server).await;
    server
        .tessera()
        .create_integration(
            &admin_actor(),
            tessera_core::NewIntegrationInput {
                name: "<script>alert(1)</script>".into(),
                description: "\"><img src=x onerror=alert(2)>".into(),
                switches: tessera_core::model::AuthSwitches {
                    token_based_auth: true,
                    ..Default::default()
                },
            },
        )
        .await
        .unwrap();
    let mut browser = Browser::new(&server);
    browser.sign_in("admin@example.com", ADMIN_PASSWORD).await;
    let page = browser.get("/app/setup/integrations").await;
    assert_eq!(page.status, 200);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    let html = page.text();
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<img src=x"));
    assert!(!html.contains("<script>"), "no inline script at all");
    // The stylesheet and script are files of our own, cacheable.
    let css = browser.get("/app/static/tessera.css").await;
    assert_eq!(css.status, 200);
    assert!(
        css.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    // Unknown pages get a page, not the API's JSON.
    let missing = browser.get("/app/setup/nothing-here").await;
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("Page not found"));
    let bad_id = browser.get("/app/setup/access-tokens/abc").await;
    assert_eq!(bad_id.status, 404);
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_throttled_like_nlauth() {
    let server = start_sqlite(ServerConfig {
        login_failures_per_hour: 3,
        ..ServerConfig::default()
    })
    .await;
    admin_password(&server).await;
    let mut browser = Browser::new(&server);
    for _ in 0..3 {
        let reply = browser
            .sign_in("admin@example.com", "wrong password, again")
            .await;
        assert!(reply.text().contains("incorrect"));
    }
    let reply = browser.sign_in("admin@example.com", ADMIN_PASSWORD).await;
    assert_eq!(reply.status, 401);
    assert!(reply.text().contains("Too many failed sign-ins"));
    assert!(browser.session().is_none());
    server.state.verifier().flush().await;
    let trail = server
        .tessera()
        .login_audit_trail(
            &admin_actor(),
            AttemptQuery {
                detail: Some(tessera_core::Detail::TooManyAttempts),
                limit: 10,
                ..AttemptQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].surface, "ui");
    server.finish().await;
}

/// Issue 14, gap 3 in the browser: the device cookie a sign-in leaves lets the user back in
/// from a browser that signed in before, however many guesses came from elsewhere meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_own_browser_is_not_locked_out_by_guesses() {
    let server = start_sqlite(ServerConfig {
        login_failures_per_hour: 3,
        login_failures_per_user_and_source: 3,
        ..ServerConfig::default()
    })
    .await;
    admin_password(&server).await;
    let mut mine = Browser::new(&server);
    let first = mine.sign_in("admin@example.com", ADMIN_PASSWORD).await;
    assert_eq!(first.status, 303, "{}", first.text());
    let device = set_cookie(&first, "tessera-device");
    assert!(
        device.contains("HttpOnly") && device.contains("SameSite=Strict"),
        "{device}"
    );
    assert!(device.contains("Max-Age=2592000"), "{device}");
    // Signed out: only the device cookie is left.
    mine.cookies
        .retain(|name, _| name.ends_with("tessera-device"));
    // Guesses from another browser on the same address fill every bucket it counts in.
    let mut guesser = Browser::new(&server);
    for _ in 0..4 {
        guesser
            .sign_in("admin@example.com", "wrong password, again")
            .await;
    }
    let locked = guesser.sign_in("admin@example.com", ADMIN_PASSWORD).await;
    assert!(locked.text().contains("Too many failed sign-ins"));
    // The user's browser still gets in.
    let again = mine.sign_in("admin@example.com", ADMIN_PASSWORD).await;
    assert_eq!(again.status, 303, "{}", again.text());
    assert!(mine.session().is_some());
    server.finish().await;
}

/// The Login Audit Trail's Detail filter offers every code there is, and refuses one that is
/// not a code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_filter_offers_every_detail_code() {
    let server = start_sqlite(ServerConfig::default()).await;
    admin_password(&server).await;
    let mut browser = Browser::new(&server);
    assert_eq!(
        browser
            .sign_in("admin@example.com", ADMIN_PASSWORD)
            .await
            .status,
        303
    );
    let page = browser.get("/app/setup/login-audit-trail").await.text();
    for detail in tessera_core::Detail::ALL {
        assert!(
            page.contains(&format!("<option value=\"{detail}\">")),
            "{detail} is not offered"
        );
    }
    let unknown = browser
        .get("/app/setup/login-audit-trail?detail=NoSuchCode")
        .await
        .text();
    assert!(
        unknown.contains("is not one of the codes offered"),
        "{unknown}"
    );
    // A NUL in the token name is refused by name, not sent to the database (where PostgreSQL
    // refused it and the page said the database was unavailable).
    let nul = browser
        .get("/app/setup/login-audit-trail?token_name=a%00b")
        .await;
    assert_ne!(nul.status, 503);
    assert!(
        nul.text()
            .contains("Token name: must not contain control characters"),
        "{}",
        nul.text()
    );
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_after_the_idle_timeout_and_the_absolute_lifetime() {
    let server = start_sqlite(ServerConfig {
        ui_idle_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    })
    .await;
    admin_password(&server).await;
    let mut browser = Browser::new(&server);
    browser.sign_in("admin@example.com", ADMIN_PASSWORD).await;
    assert_eq!(browser.get("/app").await.status, 200);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let reply = browser.get("/app").await;
    assert_eq!(reply.status, 303, "idle too long");
    server.finish().await;

    let server = start_sqlite(ServerConfig {
        ui_session_lifetime: Duration::from_secs(1),
        ..ServerConfig::default()
    })
    .await;
    admin_password(&server).await;
    let mut browser = Browser::new(&server);
    browser.sign_in("admin@example.com", ADMIN_PASSWORD).await;
    // Busy all along, yet out once the lifetime is over.
    let mut ended = None;
    for _ in 0..8 {
        let reply = browser.get("/app").await;
        if reply.status == 303 {
            ended = Some(location(&reply).to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        ended.as_deref(),
        Some("/app/login?next=%2Fapp&reason=expired")
    );
    server.finish().await;
}

async fn the_token_list_pages_through_every_token_once(server: &TestServer) {
    admin_password(server).await;
    let tessera = server.tessera();
    let alice = tessera
        .list_tokens(
            &admin_actor(),
            Default::default(),
            Default::default(),
            None,
            1,
        )
        .await
        .unwrap()
        .items
        .remove(0)
        .token;
    for n in 0..30 {
        tessera
            .create_token(
                &admin_actor(),
                tessera_core::NewTokenInput {
                    integration: alice.integration,
                    user: alice.user,
                    role: alice.role,
                    name: Some(format!("paged token {n:02}")),
                    expires_at: None,
                },
            )
            .await
            .unwrap();
    }
    let mut browser = Browser::new(server);
    browser.sign_in("admin@example.com", ADMIN_PASSWORD).await;
    let mut seen = Vec::new();
    let mut page = "/app/setup/access-tokens?search=paged&revoked=no".to_owned();
    for _ in 0..5 {
        let html = browser.get(&page).await.text();
        seen.extend(
            html.match_indices("paged token ")
                .map(|(at, _)| html[at..at + 14].to_owned()),
        );
        let Some(at) = html.find("rel=\"next\"") else {
            break;
        };
        let start = html[..at].rfind("href=\"").unwrap() + 6;
        let end = start + html[start..].find('"').unwrap();
        // The filters travel with the page link.
        page = html[start..end].replace("&#38;", "&").replace("&amp;", "&");
        assert!(
            page.contains("search=paged") && page.contains("revoked=no"),
            "{page}"
        );
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(seen.len(), 30, "{seen:?}");
    assert_eq!(unique.len(), 30);
}

async fn an_administrator_manages_users(server: &TestServer) {
    admin_password(server).await;
    let (_, uat) = user_with(server, "uma@example.com", "USER_ACCESS_TOKENS", false).await;
    let uat = uat.get().to_string();
    let mut admin = Browser::new(server);
    admin.sign_in("admin@example.com", ADMIN_PASSWORD).await;

    // Bad input comes back with a reason and what was typed (but the password).
    let bad = admin
        .submit(
            "/app/setup/users/new",
            "/app/setup/users/new",
            &[
                ("name", "Bea <b>Bold</b>"),
                ("email", "bea@example.com"),
                ("password", "short"),
                ("role", &uat),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    let html = bad.text();
    assert!(
        html.contains("Password: must be at least 12 characters"),
        "{html}"
    );
    assert!(
        html.contains("value=\"Bea &#60;b&#62;Bold&#60;/b&#62;\""),
        "{html}"
    );
    assert!(!html.contains("short"));
    let taken = admin
        .submit(
            "/app/setup/users/new",
            "/app/setup/users/new",
            &[
                ("name", "Again"),
                ("email", "UMA@example.com"),
                ("role", &uat),
            ],
        )
        .await;
    assert_eq!(taken.status, 400, "{}", taken.text());

    let created = admin
        .submit(
            "/app/setup/users/new",
            "/app/setup/users/new",
            &[
                ("name", "Bea Bold"),
                ("email", "bea@example.com"),
                ("password", "bea's long passphrase"),
                ("role", &uat),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.text());
    let bea_page = location(&created).to_owned();
    assert!(admin.get(&bea_page).await.text().contains("Bea Bold"));
    let mut bea = Browser::new(server);
    assert_eq!(
        bea.sign_in("bea@example.com", "bea's long passphrase")
            .await
            .status,
        303
    );
    assert_eq!(bea.get("/app/setup/my-access-tokens").await.status, 200);
    // Users are the administrators' business.
    assert_eq!(bea.get("/app/setup/users/new").await.status, 403);

    // Deactivated from the UI: out at once.
    let saved = admin
        .submit(
            &format!("{bea_page}/edit"),
            &format!("{bea_page}/edit"),
            &[
                ("name", "Bea Bold"),
                ("email", "bea@example.com"),
                ("role", &uat),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text());
    assert!(admin.get(&bea_page).await.text().contains("Inactive"));
    assert_eq!(bea.get("/app").await.status, 303);
    // An administrator cannot lock itself out: refused on the form.
    let own = admin
        .submit(
            "/app/setup/users/1/edit",
            "/app/setup/users/1/edit",
            &[
                ("name", "Ada Admin"),
                ("email", "admin@example.com"),
                ("active", "T"),
            ],
        )
        .await;
    assert_eq!(own.status, 400);
    assert!(
        own.text()
            .contains("cannot remove the role it is acting with")
    );

    let deleted = admin
        .submit(
            &format!("{bea_page}/delete"),
            &format!("{bea_page}/delete"),
            &[("confirm", "T")],
        )
        .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(admin.get(&bea_page).await.status, 404);
}

async fn an_administrator_manages_roles(server: &TestServer) {
    admin_password(server).await;
    let mut admin = Browser::new(server);
    admin.sign_in("admin@example.com", ADMIN_PASSWORD).await;
    let empty = admin
        .submit(
            "/app/setup/roles/new",
            "/app/setup/roles/new",
            &[("name", "  ")],
        )
        .await;
    assert_eq!(empty.status, 400);
    assert!(empty.text().contains("Name:"), "{}", empty.text());
    let created = admin
        .submit(
            "/app/setup/roles/new",
            "/app/setup/roles/new",
            &[
                ("name", "Token Self-Service"),
                ("permission", "USER_ACCESS_TOKENS"),
                ("permission", "LOG_IN_USING_ACCESS_TOKENS"),
                ("permission", "NOT_A_PERMISSION"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.text());
    let role_page = location(&created).to_owned();
    let role_id: i64 = role_page.rsplit('/').next().unwrap().parse().unwrap();
    let role = server
        .tessera()
        .role(&admin_actor(), &account(), RoleId::new(role_id))
        .await
        .unwrap();
    assert_eq!(
        role.permissions,
        PermissionSet::from_codes("USER_ACCESS_TOKENS,LOG_IN_USING_ACCESS_TOKENS").unwrap()
    );
    let saved = admin
        .submit(
            &format!("{role_page}/edit"),
            &format!("{role_page}/edit"),
            &[
                ("name", "Token Self-Service"),
                ("permission", "USER_ACCESS_TOKENS"),
                ("inactive", "T"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text());
    let page = admin.get(&role_page).await.text();
    assert!(page.contains("Inactive"));
    // The Administrator role is not edited from the UI.
    assert!(
        !admin
            .get("/app/setup/roles/3")
            .await
            .text()
            .contains("/app/setup/roles/3/edit")
    );
}

async fn deleting_an_integration_asks_first_and_revokes_its_tokens(server: &TestServer) {
    admin_password(server).await;
    let mut admin = Browser::new(server);
    admin.sign_in("admin@example.com", ADMIN_PASSWORD).await;
    let list = admin.get("/app/setup/integrations").await.text();
    let id: String = list
        .match_indices("/app/setup/integrations/")
        .map(|(at, m)| &list[at + m.len()..])
        .find(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let record = format!("/app/setup/integrations/{id}");
    let page = admin.get(&record).await.text();
    assert!(page.contains(&format!("/app/setup/access-tokens/new?application={id}")));
    assert!(page.contains(&format!("{record}/delete")));
    let confirm = admin.get(&format!("{record}/delete")).await.text();
    assert!(confirm.contains("revokes all its access tokens"));
    let unconfirmed = admin
        .submit(
            &format!("{record}/delete"),
            &format!("{record}/delete"),
            &[],
        )
        .await;
    assert_eq!(unconfirmed.status, 400);
    assert_eq!(
        signed_get(server, "/app/site/hosting/restlet.nl?script=1&deploy=1")
            .await
            .status,
        200
    );
    let done = admin
        .submit(
            &format!("{record}/delete"),
            &format!("{record}/delete"),
            &[("confirm", "T")],
        )
        .await;
    assert_eq!(done.status, 303);
    let after = admin.get(location(&done)).await.text();
    assert!(after.contains("2 access tokens revoked"), "{after}");
    assert!(!after.contains("Acme Sync</a>"));
    assert_eq!(
        signed_get(server, "/app/site/hosting/restlet.nl?script=1&deploy=1")
            .await
            .status,
        401
    );
    assert_eq!(admin.get(&record).await.status, 404);
}

/// Issue 14, gap 6 in the UI: the owner's administrators say on the record's edit page which
/// accounts may install it by its id; an account id that is not one is named.
async fn the_owner_chooses_who_may_install_a_record_on_its_edit_page(server: &TestServer) {
    admin_password(server).await;
    let mut admin = Browser::new(server);
    admin.sign_in("admin@example.com", ADMIN_PASSWORD).await;
    let list = admin.get("/app/setup/integrations").await.text();
    let id: String = list
        .match_indices("/app/setup/integrations/")
        .map(|(at, m)| &list[at + m.len()..])
        .find(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let edit = format!("/app/setup/integrations/{id}/edit");
    let page = admin.get(&edit).await.text();
    assert!(
        page.contains("name=\"installable_accounts\" value=\"\""),
        "{page}"
    );
    let fields = |installable: &'static str| {
        [
            ("name", "Acme Sync"),
            ("description", ""),
            ("token_based_auth", "T"),
            ("state", "enabled"),
            ("note", ""),
            ("concurrency_limit", ""),
            ("installable_accounts", installable),
        ]
    };
    let bad = admin
        .submit(&edit, &edit, &fields("7654321, not-an-account"))
        .await;
    assert!(
        bad.text().contains("is not a NetSuite account ID"),
        "{}",
        bad.text()
    );
    let saved = admin
        .submit(&edit, &edit, &fields("7654321_SB1, 7654321"))
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text());
    let page = admin.get(&edit).await.text();
    assert!(page.contains("value=\"7654321, 7654321_SB1\""), "{page}");
    let stored = server
        .tessera()
        .installable_accounts(
            &admin_actor(),
            tessera_core::ids::IntegrationId::new(id.parse().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
}

/// The sign-in form's token is found in whichever `Cookie` header carries it, after cookies of
/// other applications on the same host (even ones that are not ASCII): they cannot make the
/// form "expired".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_cookie_is_found_among_other_cookies() {
    let server = start_sqlite(ServerConfig::default()).await;
    admin_password(&server).await;
    let form = send(server.addr, "GET", "/app/login", &[], b"").await;
    let csrf = csrf_in(&form.text());
    let login = set_cookie(&form, "tessera-login");
    let login = login.split(';').next().unwrap();
    let body = format!(
        "account={ACCOUNT}&email=admin%40example.com&password={}&csrf={csrf}&next=%2Fapp",
        tessera_oauth1::encode::encode(ADMIN_PASSWORD)
    );
    let mut request = format!(
        "POST /app/login HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n",
        body.len(),
        addr = server.addr
    )
    .into_bytes();
    request.extend_from_slice(b"Cookie: other=caf\xc3\xa9; \xe9=1\r\n");
    request.extend_from_slice(format!("Cookie: {login}\r\n\r\n{body}").as_bytes());
    let reply = raw_exchange(server.addr, &request).await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    server.finish().await;
}

/// R16–R18 in the UI: the account's maximum token lifetime and IP allow-list on its settings
/// page, a token made with an expiry and listed with it, the list's filters on time, and a bulk
/// revoke previewed, refused on a stale count, then confirmed.
async fn an_administrator_sets_token_policies_and_changes_tokens_in_bulk(server: &TestServer) {
    admin_password(server).await;
    let mut admin = Browser::new(server);
    admin.sign_in("admin@example.com", ADMIN_PASSWORD).await;
    let settings = "/app/setup/account";
    let page = admin.get(settings).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains("Maximum token lifetime"),
        "{}",
        page.text()
    );
    let form = |days: &'static str, ips: &'static str| {
        [
            ("tba_enabled", "T"),
            ("concurrency_limit", ""),
            ("token_max_lifetime_days", days),
            ("ip_allow", ips),
        ]
    };
    let bad = admin
        .submit(settings, settings, &form("30", "10.0.0.0/8\nnot-a-network"))
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.text()
            .contains("IP allow-list: &#34;not-a-network&#34; is not an IP address"),
        "{}",
        bad.text()
    );
    let bad = admin.submit(settings, settings, &form("0", "")).await;
    assert!(
        bad.text()
            .contains("Maximum token lifetime: must be between 1"),
        "{}",
        bad.text()
    );
    let saved = admin
        .submit(settings, settings, &form("30", "127.0.0.1\n10.1.2.3/8"))
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text());
    let page = admin.get(settings).await.text();
    assert!(page.contains("value=\"30\""), "{page}");
    assert!(page.contains("127.0.0.1/32\n10.0.0.0/8"), "{page}");
    // The fixture's signed requests come from 127.0.0.1: still allowed.
    let echo = "/app/site/hosting/restlet.nl?script=1&deploy=1";
    assert_eq!(signed_get(server, echo).await.status, 200);

    // A token made now expires in 30 days at the latest; 31 is refused with the reason.
    let new = "/app/setup/access-tokens/new";
    let page = admin.get(new).await.text();
    assert!(page.contains("live at most 30 days"), "{page}");
    let app = value_after(&page, "<option value=\"", "Acme Sync");
    let grant = value_after(&page, "<option value=\"", "Alice Able");
    let too_long = admin
        .submit(
            new,
            new,
            &[
                ("application", &app),
                ("grant", &grant),
                ("name", "short-lived"),
                ("expires_in_days", "31"),
            ],
        )
        .await;
    assert_eq!(too_long.status, 400);
    assert!(
        too_long
            .text()
            .contains("maximum token lifetime of 30 days"),
        "{}",
        too_long.text()
    );
    let made = admin
        .submit(
            new,
            new,
            &[
                ("application", &app),
                ("grant", &grant),
                ("name", "short-lived"),
                ("expires_in_days", "3"),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text());
    let list = admin
        .get("/app/setup/access-tokens?expiring_within_days=5")
        .await
        .text();
    assert!(list.contains("short-lived"), "{list}");
    assert!(
        list.contains("expires in 2 days") || list.contains("expires in 3 days"),
        "{list}"
    );
    assert!(!list.contains("alice sync"), "{list}");
    let bad = admin
        .get("/app/setup/access-tokens?unused_for_days=soon")
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.text()
            .contains("Unused for: &#34;soon&#34; is not a number of days")
    );

    // Bulk: Alice's three tokens, previewed with the list's filters.
    let alice = server
        .tessera()
        .list_users(&operator(), &account())
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.name == "Alice Able")
        .unwrap()
        .id
        .get()
        .to_string();
    let bulk = format!("/app/setup/access-tokens/bulk?user={alice}");
    let list = admin
        .get(&format!("/app/setup/access-tokens?user={alice}"))
        .await
        .text();
    assert!(list.contains(&bulk.replace('&', "&amp;")), "{list}");
    // A misspelt filter is refused, not read as "no filter" (which selects every token).
    let typo = admin.get("/app/setup/access-tokens/bulk?usr=2").await;
    assert_eq!(typo.status, 400, "{}", typo.text());
    let preview = admin.get(&bulk).await.text();
    assert!(
        preview.contains("select <strong>3</strong> tokens"),
        "{preview}"
    );
    let action = "/app/setup/access-tokens/bulk";
    let fields = |count: &'static str, confirm: bool| {
        let mut f = vec![
            ("action", "revoke"),
            ("user", alice.as_str()),
            ("expected_count", count),
        ];
        if confirm {
            f.push(("confirm", "T"));
        }
        f
    };
    let unconfirmed = admin.submit(&bulk, action, &fields("3", false)).await;
    assert_eq!(unconfirmed.status, 400);
    let stale = admin.submit(&bulk, action, &fields("2", true)).await;
    assert_eq!(stale.status, 400);
    assert!(stale.text().contains("preview again"), "{}", stale.text());
    assert_eq!(signed_get(server, echo).await.status, 200);
    let done = admin.submit(&bulk, action, &fields("3", true)).await;
    assert_eq!(done.status, 303, "{}", done.text());
    let after = admin.get(location(&done)).await.text();
    assert!(after.contains("3 tokens revoked"), "{after}");
    assert_eq!(signed_get(server, echo).await.status, 401);
}

/// The `value` of the first `<option>` (after `marker`) whose label contains `label`.
fn value_after(html: &str, marker: &str, label: &str) -> String {
    html.match_indices(marker)
        .map(|(at, m)| &html[at + m.len()..])
        .find(|rest| rest[..rest.find("</option>").unwrap_or(0)].contains(label))
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned()
}
