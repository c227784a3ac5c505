//! NetSuite's discovery over HTTP (RULES.md §4.4), on both stores: `/rest/datacenterurls` and
//! `/rest/roles` (NLAuth), in NetSuite's shapes, naming this server.

#![allow(clippy::unwrap_used)]

mod support;

use support::*;
use tessera_core::Actor;
use tessera_core::ids::{AccountId, UserId};
use tessera_core::model::Context;

on_both_backends!(
    datacenterurls_names_this_server_for_any_account,
    roles_lists_the_accounts_and_roles_a_password_opens,
);

const PASSWORD: &str = "correct horse battery staple";

async fn datacenterurls_names_this_server_for_any_account(server: &TestServer) {
    let origin = server.url("");
    for account in [ACCOUNT, "7777777_SB1"] {
        let reply = send(
            server.addr,
            "GET",
            &format!("/rest/datacenterurls?account={account}"),
            &[],
            b"",
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(
            reply.json(),
            serde_json::json!({"restDomain": origin, "webservicesDomain": origin, "systemDomain": origin}),
            "the same answer whether the account exists or not"
        );
    }
    let reply = send(server.addr, "GET", "/rest/datacenterurls", &[], b"").await;
    assert_eq!(reply.status, 400);
    let reply = send(
        server.addr,
        "GET",
        "/rest/datacenterurls?account=no%20way",
        &[],
        b"",
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["field"], "account");
}

async fn roles(server: &TestServer, header: &str) -> Reply {
    send(
        server.addr,
        "GET",
        "/rest/roles",
        &[("authorization", header)],
        b"",
    )
    .await
}

async fn roles_lists_the_accounts_and_roles_a_password_opens(server: &TestServer) {
    let operator = Actor::Operator {
        context: Context::Cli,
    };
    let account = AccountId::parse(ACCOUNT).unwrap();
    server
        .tessera()
        .set_password(&operator, &account, UserId::new(1), Some(&secret(PASSWORD)))
        .await
        .unwrap();
    // The same email, another account, another password.
    let (other, _) = other_account(
        server,
        false,
        "admin@example.com",
        Some("another password 123"),
    )
    .await;

    let origin = server.url("");
    let reply = roles(
        server,
        &format!(
            "NLAuth nlauth_email=admin@example.com, nlauth_signature={}",
            tessera_oauth1::encode::encode(PASSWORD)
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let list = reply.json();
    let list = list.as_array().unwrap();
    assert_eq!(
        list.len(),
        1,
        "only the account whose password matched: {list:?}"
    );
    assert_eq!(
        list[0],
        serde_json::json!({
            "account": {"internalId": ACCOUNT, "name": "Wolfe Electronics", "type": "PRODUCTION"},
            "role": {"internalId": 3, "name": "Administrator"},
            "dataCenterURLs": {"restDomain": origin, "webservicesDomain": origin, "systemDomain": origin},
        })
    );
    // With the other account named, its password.
    let reply = roles(
        server,
        &format!(
            "NLAuth nlauth_account={}, nlauth_email=admin@example.com, nlauth_signature=another%20password%20123",
            other.as_str()
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()[0]["account"]["internalId"], other.as_str());

    // Each account a password opened is a Success row in that account's trail; the account
    // whose password it was not counts no failed guess (it was the right user, elsewhere).
    let rows = trail(server).await;
    assert!(
        rows.iter()
            .any(|r| r.success && r.account.as_ref() == Some(&account))
    );
    assert!(
        rows.iter()
            .any(|r| r.success && r.account.as_ref() == Some(&other))
    );
    assert!(
        !rows.iter().any(|r| r.detail == "InvalidCredentials"),
        "{rows:?}"
    );
    for _ in 0..12 {
        let reply = roles(
            server,
            "NLAuth nlauth_email=admin@example.com, nlauth_signature=another%20password%20123",
        )
        .await;
        assert_eq!(
            reply.status, 200,
            "the right password never locks itself out"
        );
    }

    // Wrong password, unknown email: the same generic 401.
    for header in [
        "NLAuth nlauth_email=admin@example.com, nlauth_signature=wrong",
        "NLAuth nlauth_email=nobody@example.com, nlauth_signature=wrong",
    ] {
        let reply = roles(server, header).await;
        assert_eq!(reply.status, 401, "{header}");
        assert_eq!(reply.json()["error"]["code"], "INVALID_LOGIN_ATTEMPT");
    }
    let rows = trail(server).await;
    let unknown = rows
        .iter()
        .find(|r| r.email.as_deref() == Some("nobody@example.com"))
        .unwrap();
    assert_eq!(
        unknown.account, None,
        "an email of no account names no account"
    );
    // Not NLAuth: a malformed request.
    assert_eq!(roles(server, "Basic abc").await.status, 400);
}
