//! The admin API over HTTP, on both stores: TBA-signed calls, what each role may do (R1, R12),
//! validation errors that name their field, secrets in exactly one response, and an OpenAPI
//! document that lists every route.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use support::*;
use tessera_core::ids::{AccountId, RoleId, UserId};
use tessera_core::model::Context;
use tessera_core::{Actor, NewTokenInput};
use tessera_oauth1::Signer;

on_both_backends!(
    an_administrator_lists_creates_views_edits_and_revokes_tokens,
    the_token_list_filters_searches_and_pages,
    a_user_without_token_permissions_sees_and_changes_only_what_its_role_allows,
    invalid_requests_are_refused_with_the_field_named,
    the_openapi_document_lists_every_route,
    an_administrator_manages_an_integration_record_end_to_end,
    a_bundle_install_cannot_reset_and_other_roles_cannot_manage_records,
    an_administrator_manages_roles_and_users,
    the_login_audit_trail_is_filtered_and_paged,
    system_notes_record_every_change_with_its_context,
    each_role_shape_of_r12_and_r13_gets_exactly_its_rights,
    gap07_a_body_is_bound_to_the_signature_by_a_sha256_body_hash,
    gap08_the_admin_plane_never_waits_behind_integration_traffic,
    gap06_another_account_installs_only_what_the_owner_allowed_and_sees_none_of_its_notes,
    r16_r17_r18_expiry_allow_lists_and_bulk_changes_over_the_api,
    the_signature_debugger_over_the_api,
);

/// A token of the bootstrap administrator with the Administrator role, through the domain
/// (as the CLI will obtain one through issuetoken): its signer.
async fn administrator(server: &TestServer) -> Signer {
    let (token_id, token_secret) = administrator_token(server).await;
    signer_for(CONSUMER_KEY, CONSUMER_SECRET, &token_id, &token_secret)
}

/// A new token of the bootstrap administrator with the Administrator role: id and secret.
async fn administrator_token(server: &TestServer) -> (String, String) {
    let admin = admin_actor();
    let alice_token = alice_sync(server, &admin).await;
    let (_, credentials) = server
        .tessera()
        .create_token(
            &admin,
            NewTokenInput {
                integration: alice_token.token.integration,
                user: UserId::new(1),
                role: RoleId::ADMINISTRATOR,
                name: Some("admin api".into()),
                expires_at: None,
            },
        )
        .await
        .unwrap();
    (
        credentials.token_id.as_str().to_owned(),
        credentials.token_secret.expose().to_owned(),
    )
}

async fn alice_sync(server: &TestServer, admin: &Actor) -> tessera_core::model::TokenListItem {
    let page = server
        .tessera()
        .list_tokens(admin, Default::default(), Default::default(), None, 50)
        .await
        .unwrap();
    page.items
        .into_iter()
        .find(|t| t.token.name == "alice sync")
        .unwrap()
}

/// Sends a request to `path_and_query` signed by `signer`, with `body` as JSON when given.
async fn call(
    server: &TestServer,
    signer: &Signer,
    method: &str,
    path_and_query: &str,
    body: Option<Value>,
) -> Reply {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = signed_with_body_hash(signer, method, &server.url(path_and_query), body.as_bytes());
    send(
        server.addr,
        method,
        path_and_query,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body.as_bytes(),
    )
    .await
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

fn error_of(reply: &Reply) -> (u16, String, String) {
    let body = reply.json();
    (
        reply.status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

async fn echo_status(server: &TestServer, signer: &Signer) -> u16 {
    let path = "/app/site/hosting/restlet.nl?script=7&deploy=1";
    let auth = authorization(signer, "GET", &server.url(path), None);
    send(server.addr, "GET", path, &[("authorization", &auth)], b"")
        .await
        .status
}

async fn an_administrator_lists_creates_views_edits_and_revokes_tokens(server: &TestServer) {
    let admin = administrator(server).await;
    let list = call(server, &admin, "GET", "/api/v1/tokens", None).await;
    assert_eq!(list.status, 200, "{}", list.text());
    let page = list.json();
    let mut listed = names(&page);
    listed.sort();
    assert_eq!(listed, ["admin api", "alice second", "alice sync"]);
    let alice = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "alice sync")
        .unwrap()
        .clone();
    assert_eq!(alice["application"]["name"], "Acme Sync");
    assert_eq!(alice["user"]["name"], "Alice Able");
    assert_eq!(alice["role"]["name"], "Integration User");
    assert_eq!(alice["account"], ACCOUNT);
    assert_eq!(alice["revoked"], false);

    // Create: the credentials come in this response only, and they work at once.
    let created = call(
        server,
        &admin,
        "POST",
        "/api/v1/tokens",
        Some(json!({
            "application": alice["application"]["id"],
            "user": alice["user"]["id"],
            "role": alice["role"]["id"],
            "name": "made by the api",
        })),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let token_id = created["token_id"].as_str().unwrap().to_owned();
    let token_secret = created["token_secret"].as_str().unwrap().to_owned();
    assert_eq!(token_id.len(), 64);
    assert!(created["warning"].as_str().unwrap().contains("only"));
    assert_eq!(created["token"]["name"], "made by the api");
    assert_eq!(created["token"]["created_by"], "Ada Admin");
    let id = created["token"]["id"].as_i64().unwrap();
    let new_token = signer_for(CONSUMER_KEY, CONSUMER_SECRET, &token_id, &token_secret);
    assert_eq!(echo_status(server, &new_token).await, 200);

    // Never again: not in the view, not in the list.
    let view = call(server, &admin, "GET", &format!("/api/v1/tokens/{id}"), None).await;
    assert_eq!(view.status, 200, "{}", view.text());
    assert_eq!(view.json()["name"], "made by the api");
    let list = call(server, &admin, "GET", "/api/v1/tokens?limit=1000", None).await;
    for reply in [&view, &list] {
        assert!(!reply.text().contains(&token_secret));
        assert!(!reply.text().contains(&token_id));
    }

    // Edit: rename and inactive; an inactive token is refused until it is active again.
    let edited = call(
        server,
        &admin,
        "PATCH",
        &format!("/api/v1/tokens/{id}"),
        Some(json!({"name": "renamed", "inactive": true})),
    )
    .await;
    assert_eq!(edited.status, 200, "{}", edited.text());
    assert_eq!(edited.json()["name"], "renamed");
    assert_eq!(edited.json()["inactive"], true);
    assert_eq!(echo_status(server, &new_token).await, 401);
    let active = call(
        server,
        &admin,
        "PATCH",
        &format!("/api/v1/tokens/{id}"),
        Some(json!({"inactive": false})),
    )
    .await;
    assert_eq!(active.json()["inactive"], false);
    assert_eq!(echo_status(server, &new_token).await, 200);

    // Revoke: refused from the moment the call returns, read-only from then on.
    let revoked = call(
        server,
        &admin,
        "POST",
        &format!("/api/v1/tokens/{id}/revoke"),
        None,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert_eq!(revoked.json()["revoked"], true);
    assert_eq!(revoked.json()["revoked_by"], "Ada Admin");
    assert!(
        revoked.json()["revoked_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(echo_status(server, &new_token).await, 401);
    let again = call(
        server,
        &admin,
        "PATCH",
        &format!("/api/v1/tokens/{id}"),
        Some(json!({"name": "too late"})),
    )
    .await;
    assert_eq!(
        error_of(&again),
        (409, "TOKEN_REVOKED".into(), String::new())
    );
    let again = call(
        server,
        &admin,
        "POST",
        &format!("/api/v1/tokens/{id}/revoke"),
        None,
    )
    .await;
    assert_eq!(again.status, 409);

    // Every call above went through the verifier: recorded in the login audit trail.
    server.state.verifier().flush().await;
    let trail = server
        .tessera()
        .store()
        .login_attempts(&tessera_core::store::AttemptQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        trail
            .iter()
            .any(|a| a.surface == "admin-api" && a.success && a.request_uri.contains("/revoke"))
    );
}

async fn the_token_list_filters_searches_and_pages(server: &TestServer) {
    let admin = administrator(server).await;
    let list = call(server, &admin, "GET", "/api/v1/tokens", None)
        .await
        .json();
    let second = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "alice second")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let revoked = call(
        server,
        &admin,
        "POST",
        &format!("/api/v1/tokens/{second}/revoke"),
        None,
    )
    .await;
    assert_eq!(revoked.status, 200);

    let only = |q: &'static str| {
        let admin = &admin;
        async move {
            let reply = call(server, admin, "GET", &format!("/api/v1/tokens?{q}"), None).await;
            assert_eq!(reply.status, 200, "{q}: {}", reply.text());
            let mut n = names(&reply.json());
            n.sort();
            n
        }
    };
    assert_eq!(only("revoked=yes").await, ["alice second"]);
    assert_eq!(only("revoked=no").await, ["admin api", "alice sync"]);
    // Every token here belongs to "Acme Sync": the application's name is searched too.
    assert_eq!(only("search=SYNC").await.len(), 3);
    assert_eq!(only("search=SECOND").await, ["alice second"]);
    assert_eq!(only("search=able&revoked=no").await, ["alice sync"]);
    assert_eq!(only("search=J%C3%BCrgen").await, Vec::<String>::new());
    assert_eq!(only("sort=name&inactive=false").await.len(), 3);

    // Pages of one, by name, follow `next` to the end.
    let mut seen = Vec::new();
    let mut query = "/api/v1/tokens?sort=name&limit=1".to_owned();
    loop {
        let page = call(server, &admin, "GET", &query, None).await.json();
        seen.extend(names(&page));
        match page["next"].as_str() {
            Some(next) => {
                query = format!(
                    "/api/v1/tokens?sort=name&limit=1&after={}",
                    tessera_oauth1::encode::encode(next)
                );
            }
            None => break,
        }
    }
    assert_eq!(seen, ["admin api", "alice second", "alice sync"]);
}

async fn a_user_without_token_permissions_sees_and_changes_only_what_its_role_allows(
    server: &TestServer,
) {
    let admin = administrator(server).await;
    let alice = signer();
    // "My Access Tokens": her own only (R1, R12).
    let mine = call(server, &alice, "GET", "/api/v1/tokens", None).await;
    assert_eq!(mine.status, 200, "{}", mine.text());
    let mut listed = names(&mine.json());
    listed.sort();
    assert_eq!(listed, ["alice second", "alice sync"]);

    // The administrator's token does not exist for her.
    let all = call(server, &admin, "GET", "/api/v1/tokens", None)
        .await
        .json();
    let admin_token = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "admin api")
        .unwrap()
        .clone();
    let id = admin_token["id"].as_i64().unwrap();
    let view = call(server, &alice, "GET", &format!("/api/v1/tokens/{id}"), None).await;
    assert_eq!(error_of(&view), (404, "NOT_FOUND".into(), String::new()));
    let revoke = call(
        server,
        &alice,
        "POST",
        &format!("/api/v1/tokens/{id}/revoke"),
        None,
    )
    .await;
    assert_eq!(revoke.status, 404);
    assert_eq!(echo_status(server, &admin).await, 200);

    // Her role has no User Access Tokens permission: she may not create one, not even for
    // herself; and no Administrator token for anyone.
    let mine = call(server, &alice, "GET", "/api/v1/tokens", None)
        .await
        .json();
    let own = &mine["items"][0];
    let create = call(
        server,
        &alice,
        "POST",
        "/api/v1/tokens",
        Some(json!({
            "application": own["application"]["id"],
            "user": own["user"]["id"],
            "role": own["role"]["id"],
        })),
    )
    .await;
    assert_eq!(error_of(&create).0, 403, "{}", create.text());
    assert_eq!(error_of(&create).1, "NOT_PERMITTED");
    let create = call(
        server,
        &alice,
        "POST",
        "/api/v1/tokens",
        Some(json!({"application": own["application"]["id"], "user": 1, "role": 3})),
    )
    .await;
    assert_eq!(error_of(&create).0, 403, "{}", create.text());

    // Her own tokens she may rename and revoke (R12: every user changes its own).
    let own_id = own["id"].as_i64().unwrap();
    let renamed = call(
        server,
        &alice,
        "PATCH",
        &format!("/api/v1/tokens/{own_id}"),
        Some(json!({"name": "alice's own"})),
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text());
}

async fn invalid_requests_are_refused_with_the_field_named(server: &TestServer) {
    let admin = administrator(server).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("limt=5", "limt"),
        ("revoked=maybe", "revoked"),
        ("sort=upward", "sort"),
        ("user=-4", "user"),
        ("search=ab", "search"),
        ("after=nonsense", "after"),
        ("after=7~%25zz", "after"),
        ("limit=1&limit=2", "limit"),
    ] {
        let reply = call(
            server,
            &admin,
            "GET",
            &format!("/api/v1/tokens?{query}"),
            None,
        )
        .await;
        let (status, code, named) = error_of(&reply);
        assert_eq!(
            (status, code.as_str(), named.as_str()),
            (400, "INVALID_FIELD", field),
            "{query}: {}",
            reply.text()
        );
    }
    let any = call(server, &admin, "GET", "/api/v1/tokens", None)
        .await
        .json();
    let id = any["items"][0]["id"].as_i64().unwrap();
    for (body, field) in [
        (
            json!({"application": "one", "user": 1, "role": 3}),
            "application",
        ),
        (json!({"application": 1, "user": 1}), "body"),
        (
            json!({"application": 1, "user": 1, "role": 3, "colour": "red"}),
            "colour",
        ),
        (
            json!({"application": 0, "user": 1, "role": 3}),
            "application",
        ),
        (
            json!({"application": 1, "user": 1, "role": 3, "name": ""}),
            "name",
        ),
    ] {
        let reply = call(server, &admin, "POST", "/api/v1/tokens", Some(body.clone())).await;
        let (status, code, named) = error_of(&reply);
        assert_eq!(
            (status, code.as_str(), named.as_str()),
            (400, "INVALID_FIELD", field),
            "{body}: {}",
            reply.text()
        );
    }
    let empty = call(
        server,
        &admin,
        "PATCH",
        &format!("/api/v1/tokens/{id}"),
        None,
    )
    .await;
    assert_eq!(
        error_of(&empty),
        (400, "INVALID_FIELD".into(), "body".into())
    );
    let nothing = call(
        server,
        &admin,
        "PATCH",
        &format!("/api/v1/tokens/{id}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        error_of(&nothing),
        (400, "INVALID_FIELD".into(), "body".into())
    );
    let bad_id = call(server, &admin, "GET", "/api/v1/tokens/x1", None).await;
    assert_eq!(
        error_of(&bad_id),
        (400, "INVALID_FIELD".into(), "id".into())
    );
    let missing = call(server, &admin, "GET", "/api/v1/tokens/999999", None).await;
    assert_eq!(error_of(&missing).0, 404);

    // Unsigned, or signed with a wrong secret: the generic 401, the reason in the audit trail.
    let unsigned = send(server.addr, "GET", "/api/v1/tokens", &[], b"").await;
    assert_eq!(
        error_of(&unsigned),
        (401, "INVALID_LOGIN_ATTEMPT".into(), String::new())
    );
    let wrong = signer_for(CONSUMER_KEY, CONSUMER_SECRET, TOKEN_ID, TOKEN2_SECRET);
    let refused = call(server, &wrong, "GET", "/api/v1/tokens", None).await;
    assert_eq!(refused.status, 401);
}

async fn the_openapi_document_lists_every_route(server: &TestServer) {
    let reply = send(server.addr, "GET", tessera_server::OPENAPI_PATH, &[], b"").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], "application/json");
    let doc = reply.json();
    assert_eq!(doc["openapi"], "3.1.0");
    // The audit trail's Detail filter names every code of the one list.
    let detail = doc["paths"]["/api/v1/audit"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "detail")
        .unwrap()["description"]
        .as_str()
        .unwrap()
        .to_owned();
    for code in tessera_core::Detail::ALL {
        assert!(
            detail.contains(&format!(" {code},")) || detail.contains(&format!(" {code} (")),
            "{code} is missing from {detail}"
        );
    }
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations.push(format!("{} {path}", method.to_uppercase()));
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{method} {path} documents no response"
            );
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        [
            "GET /api/v1/tokens",
            "GET /api/v1/tokens/{id}",
            "PATCH /api/v1/tokens/{id}",
            "POST /api/v1/tokens",
            "POST /api/v1/tokens/{id}/revoke",
            "GET /api/v1/tokens/bulk/{action}",
            "POST /api/v1/tokens/bulk/{action}",
            "POST /api/v1/tokens/{id}/signature-debug",
            "POST /api/v1/integrations/{id}/signature-debug",
            "GET /api/v1/audit/{id}/signature",
        ]
        .into_iter()
        .chain([
            "DELETE /api/v1/integrations/{id}",
            "GET /api/v1/integrations",
            "GET /api/v1/integrations/{id}",
            "PATCH /api/v1/integrations/{id}",
            "POST /api/v1/integrations",
            "POST /api/v1/integrations/{id}/approve",
            "POST /api/v1/integrations/{id}/block",
            "POST /api/v1/integrations/{id}/enable",
            "POST /api/v1/integrations/{id}/install",
            "GET /api/v1/integrations/{id}/installable-accounts",
            "PUT /api/v1/integrations/{id}/installable-accounts",
            "POST /api/v1/integrations/{id}/reset",
            "GET /api/v1/integrations/{id}/notes",
            "GET /api/v1/tokens/{id}/notes",
            "GET /api/v1/audit",
            "GET /api/v1/account",
            "PATCH /api/v1/account",
            "GET /api/v1/roles",
            "POST /api/v1/roles",
            "GET /api/v1/roles/{id}",
            "PATCH /api/v1/roles/{id}",
            "GET /api/v1/users",
            "POST /api/v1/users",
            "GET /api/v1/users/{id}",
            "PATCH /api/v1/users/{id}",
            "DELETE /api/v1/users/{id}",
            "POST /api/v1/verify",
            "GET /api/v1/forward-auth",
        ])
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    // Every documented operation is served: signed, none answers 404 or 405.
    let admin = administrator(server).await;
    for operation in &operations {
        let (method, path) = operation.split_once(' ').unwrap();
        let path = path.replace("{id}", "1").replace("{action}", "revoke");
        let reply = call(server, &admin, method, &path, Some(json!({}))).await;
        assert!(
            reply.status != 405 && reply.json()["error"]["code"] != "NO_SUCH_ENDPOINT",
            "{operation}: {} {}",
            reply.status,
            reply.text()
        );
    }
}

async fn an_administrator_manages_an_integration_record_end_to_end(server: &TestServer) {
    let admin = administrator(server).await;
    let created = call(
        server,
        &admin,
        "POST",
        "/api/v1/integrations",
        Some(json!({"name": "Payroll Bridge", "description": "nightly export"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let record = &created["integration"];
    assert_eq!(record["name"], "Payroll Bridge");
    assert_eq!(record["is_owner"], true);
    assert_eq!(record["token_based_auth"], true);
    assert_eq!(record["installation"]["state"], "enabled");
    assert_eq!(record["installation"]["origin"], "created");
    let id = record["id"].as_i64().unwrap();
    let key = created["consumer_key"].as_str().unwrap().to_owned();
    let secret = created["consumer_secret"].as_str().unwrap().to_owned();
    assert!(created["warning"].as_str().unwrap().contains("only"));

    // Shown once: not in the view, not in the list.
    let view = call(
        server,
        &admin,
        "GET",
        &format!("/api/v1/integrations/{id}"),
        None,
    )
    .await;
    assert_eq!(view.status, 200, "{}", view.text());
    let list = call(server, &admin, "GET", "/api/v1/integrations", None).await;
    assert_eq!(list.status, 200, "{}", list.text());
    for reply in [&view, &list] {
        assert!(!reply.text().contains(&key) && !reply.text().contains(&secret));
    }
    let listed: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        listed.iter().any(|n| n == "Payroll Bridge") && listed.iter().any(|n| n == "Acme Sync"),
        "{listed:?}"
    );

    // Shared fields and this account's note and limit in one edit.
    let edited = call(
        server,
        &admin,
        "PATCH",
        &format!("/api/v1/integrations/{id}"),
        Some(
            json!({"name": "Payroll Bridge 2", "note": "owned by finance", "concurrency_limit": 3}),
        ),
    )
    .await;
    assert_eq!(edited.status, 200, "{}", edited.text());
    let edited = edited.json();
    assert_eq!(edited["integration"]["name"], "Payroll Bridge 2");
    assert_eq!(
        edited["integration"]["installation"]["note"],
        "owned by finance"
    );
    assert_eq!(
        edited["integration"]["installation"]["concurrency_limit"],
        3
    );
    assert!(edited.get("consumer_key").is_none());
    let cleared = call(
        server,
        &admin,
        "PATCH",
        &format!("/api/v1/integrations/{id}"),
        Some(json!({"concurrency_limit": null})),
    )
    .await;
    assert!(
        cleared.json()["integration"]["installation"]
            .get("concurrency_limit")
            .is_none()
    );

    // A token for it, signed with the consumer pair from the create response.
    let token = call(
        server,
        &admin,
        "POST",
        "/api/v1/tokens",
        Some(json!({"application": id, "user": 1, "role": 3})),
    )
    .await;
    assert_eq!(token.status, 201, "{}", token.text());
    let token = token.json();
    let (tid, tsecret) = (
        token["token_id"].as_str().unwrap().to_owned(),
        token["token_secret"].as_str().unwrap().to_owned(),
    );
    let signed = signer_for(&key, &secret, &tid, &tsecret);
    assert_eq!(echo_status(server, &signed).await, 200);

    // Reset: refused without the confirmation; then the old pair stops, the token goes on
    // with the new pair (tokens bind the record, not its key).
    for body in [json!({}), json!({"confirm": false})] {
        let refused = call(
            server,
            &admin,
            "POST",
            &format!("/api/v1/integrations/{id}/reset"),
            Some(body),
        )
        .await;
        assert_eq!(
            error_of(&refused),
            (400, "INVALID_FIELD".into(), "confirm".into())
        );
    }
    assert_eq!(echo_status(server, &signed).await, 200);
    let reset = call(
        server,
        &admin,
        "POST",
        &format!("/api/v1/integrations/{id}/reset"),
        Some(json!({"confirm": true})),
    )
    .await;
    assert_eq!(reset.status, 200, "{}", reset.text());
    let reset = reset.json();
    let (key2, secret2) = (
        reset["consumer_key"].as_str().unwrap().to_owned(),
        reset["consumer_secret"].as_str().unwrap().to_owned(),
    );
    assert_ne!(key2, key);
    assert_eq!(echo_status(server, &signed).await, 401);
    let signed2 = signer_for(&key2, &secret2, &tid, &tsecret);
    assert_eq!(echo_status(server, &signed2).await, 200);

    // Block and enable: effective before each call returns.
    let blocked = call(
        server,
        &admin,
        "POST",
        &format!("/api/v1/integrations/{id}/block"),
        None,
    )
    .await;
    assert_eq!(blocked.json()["installation"]["state"], "blocked");
    assert_eq!(echo_status(server, &signed2).await, 401);
    let hidden = call(server, &admin, "GET", "/api/v1/integrations", None)
        .await
        .json();
    assert!(!hidden.to_string().contains("Payroll Bridge 2"));
    let shown = call(
        server,
        &admin,
        "GET",
        "/api/v1/integrations?inactive=true",
        None,
    )
    .await
    .json();
    assert!(shown.to_string().contains("Payroll Bridge 2"));
    let approve = call(
        server,
        &admin,
        "POST",
        &format!("/api/v1/integrations/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(error_of(&approve).0, 409, "{}", approve.text());
    let enabled = call(
        server,
        &admin,
        "POST",
        &format!("/api/v1/integrations/{id}/enable"),
        None,
    )
    .await;
    assert_eq!(enabled.json()["installation"]["state"], "enabled");
    assert_eq!(echo_status(server, &signed2).await, 200);

    // Validation names the field.
    let bad = call(
        server,
        &admin,
        "POST",
        "/api/v1/integrations",
        Some(json!({"name": "x", "tba_authorization_flow": true, "callback_url": "http://example.com/cb"})),
    )
    .await;
    assert_eq!(
        error_of(&bad),
        (400, "INVALID_FIELD".into(), "callback_url".into())
    );
    let bad = call(
        server,
        &admin,
        "POST",
        "/api/v1/integrations",
        Some(json!({"name": ""})),
    )
    .await;
    assert_eq!(error_of(&bad), (400, "INVALID_FIELD".into(), "name".into()));
    let bad = call(
        server,
        &admin,
        "PATCH",
        &format!("/api/v1/integrations/{id}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(error_of(&bad), (400, "INVALID_FIELD".into(), "body".into()));
    let bad = call(
        server,
        &admin,
        "PATCH",
        &format!("/api/v1/integrations/{id}"),
        Some(json!({"concurrency_limit": 0})),
    )
    .await;
    assert_eq!(
        error_of(&bad),
        (400, "INVALID_FIELD".into(), "concurrency_limit".into())
    );

    // Delete: every token of it revoked, the record gone.
    let deleted = call(
        server,
        &admin,
        "DELETE",
        &format!("/api/v1/integrations/{id}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(deleted.json()["revoked_tokens"], 1);
    assert_eq!(echo_status(server, &signed2).await, 401);
    let gone = call(
        server,
        &admin,
        "GET",
        &format!("/api/v1/integrations/{id}"),
        None,
    )
    .await;
    assert_eq!(error_of(&gone).0, 404);
}

/// The administrator of a second account (7654321), signing with a token of a record of its
/// own: its signer.
async fn other_account_administrator(server: &TestServer) -> Signer {
    use tessera_core::NewIntegrationInput;
    let tessera = server.tessera();
    let (other, boss) = other_account(server, false, "bo@other.example", None).await;
    let boss_actor = Actor::user(&other, boss, RoleId::ADMINISTRATOR, Context::Api);
    let (own, own_credentials) = tessera
        .create_integration(
            &boss_actor,
            NewIntegrationInput {
                name: "Other's own".into(),
                description: String::new(),
                switches: tessera_core::model::AuthSwitches {
                    token_based_auth: true,
                    ..Default::default()
                },
            },
        )
        .await
        .unwrap();
    let own_credentials = own_credentials.unwrap();
    let (_, token) = tessera
        .create_token(
            &boss_actor,
            NewTokenInput {
                integration: own.integration.id,
                user: boss,
                role: RoleId::ADMINISTRATOR,
                name: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    Signer::new(
        own_credentials.consumer_key.as_str(),
        &own_credentials.consumer_secret,
        token.token_id.as_str(),
        &token.token_secret,
    )
    .with_realm("7654321")
}

async fn a_bundle_install_cannot_reset_and_other_roles_cannot_manage_records(server: &TestServer) {
    let boss_signer = other_account_administrator(server).await;

    // Account 1's record, installed into account 2 as a bundle: listed there, not its owner.
    let admin = administrator(server).await;
    let acme = call(server, &admin, "GET", "/api/v1/integrations", None)
        .await
        .json();
    let acme_id = acme
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Acme Sync")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let unseen = call(
        server,
        &boss_signer,
        "GET",
        &format!("/api/v1/integrations/{acme_id}"),
        None,
    )
    .await;
    assert_eq!(error_of(&unseen).0, 404, "{}", unseen.text());
    // The owner lets account 2 install it by its id (issue 14, gap 6).
    let allowed = call(
        server,
        &admin,
        "PUT",
        &format!("/api/v1/integrations/{acme_id}/installable-accounts"),
        Some(json!({"accounts": ["7654321"]})),
    )
    .await;
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    let installed = call(
        server,
        &boss_signer,
        "POST",
        &format!("/api/v1/integrations/{acme_id}/install"),
        None,
    )
    .await;
    assert_eq!(installed.status, 201, "{}", installed.text());
    assert_eq!(installed.json()["installation"]["origin"], "bundle");
    assert_eq!(installed.json()["is_owner"], false);
    // R4: never reset through a bundle install; R13: shared fields belong to the owner.
    let reset = call(
        server,
        &boss_signer,
        "POST",
        &format!("/api/v1/integrations/{acme_id}/reset"),
        Some(json!({"confirm": true})),
    )
    .await;
    assert_eq!(
        error_of(&reset),
        (
            403,
            "RESET_NOT_ALLOWED_FOR_BUNDLE_INSTALL".into(),
            String::new()
        )
    );
    let rename = call(
        server,
        &boss_signer,
        "PATCH",
        &format!("/api/v1/integrations/{acme_id}"),
        Some(json!({"name": "mine now"})),
    )
    .await;
    assert_eq!(error_of(&rename).0, 403, "{}", rename.text());
    // Its own state and note are account 2's to set.
    let note = call(
        server,
        &boss_signer,
        "PATCH",
        &format!("/api/v1/integrations/{acme_id}"),
        Some(json!({"note": "from the bundle"})),
    )
    .await;
    assert_eq!(note.status, 200, "{}", note.text());
    let blocked = call(
        server,
        &boss_signer,
        "POST",
        &format!("/api/v1/integrations/{acme_id}/block"),
        None,
    )
    .await;
    assert_eq!(blocked.json()["installation"]["state"], "blocked");
    // ... which leaves account 1's installation as it was.
    assert_eq!(echo_status(server, &signer()).await, 200);

    // A user whose role has no integration permissions manages nothing.
    let alice = signer();
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/integrations".to_owned(),
            Some(json!({"name": "Alice's"})),
        ),
        (
            "POST",
            format!("/api/v1/integrations/{acme_id}/block"),
            None,
        ),
        (
            "POST",
            format!("/api/v1/integrations/{acme_id}/reset"),
            Some(json!({"confirm": true})),
        ),
        ("DELETE", format!("/api/v1/integrations/{acme_id}"), None),
    ] {
        let refused = call(server, &alice, method, &path, body).await;
        assert_eq!(
            error_of(&refused).0,
            403,
            "{method} {path}: {}",
            refused.text()
        );
    }
    assert_eq!(echo_status(server, &alice).await, 200);
}

async fn an_administrator_manages_roles_and_users(server: &TestServer) {
    let admin = administrator(server).await;
    let account = call(server, &admin, "GET", "/api/v1/account", None).await;
    assert_eq!(account.status, 200, "{}", account.text());
    assert_eq!(account.json()["id"], ACCOUNT);
    assert_eq!(account.json()["tba_enabled"], true);

    let roles = call(server, &admin, "GET", "/api/v1/roles", None)
        .await
        .json();
    let names: Vec<&str> = roles
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Administrator") && names.contains(&"Integration User"),
        "{names:?}"
    );
    assert_eq!(roles[0]["administrator"], true);

    let bad = call(
        server,
        &admin,
        "POST",
        "/api/v1/roles",
        Some(json!({"name": "X", "permissions": ["FLY"]})),
    )
    .await;
    assert_eq!(
        error_of(&bad),
        (400, "INVALID_FIELD".into(), "permissions".into())
    );
    let role = call(
        server,
        &admin,
        "POST",
        "/api/v1/roles",
        Some(json!({"name": "Token Manager", "permissions": ["ACCESS_TOKEN_MANAGEMENT", "LOG_IN_USING_ACCESS_TOKENS"]})),
    )
    .await;
    assert_eq!(role.status, 201, "{}", role.text());
    let role_id = role.json()["id"].as_i64().unwrap();
    assert_eq!(
        role.json()["permissions"],
        json!(["ACCESS_TOKEN_MANAGEMENT", "LOG_IN_USING_ACCESS_TOKENS"])
    );
    let edited = call(
        server,
        &admin,
        "PATCH",
        &format!("/api/v1/roles/{role_id}"),
        Some(json!({"name": "Token Managers"})),
    )
    .await;
    assert_eq!(edited.json()["name"], "Token Managers");
    let admin_role = call(
        server,
        &admin,
        "PATCH",
        "/api/v1/roles/3",
        Some(json!({"name": "Boss"})),
    )
    .await;
    let missing = call(server, &admin, "GET", "/api/v1/roles/9999", None).await;
    assert_eq!(error_of(&missing), (404, "NOT_FOUND".into(), String::new()));
    let bad_id = call(server, &admin, "GET", "/api/v1/roles/abc", None).await;
    assert_eq!(
        error_of(&bad_id),
        (400, "INVALID_FIELD".into(), "id".into())
    );
    assert_eq!(error_of(&admin_role).0, 403, "{}", admin_role.text());

    let password = "correct horse battery staple";
    let short = call(server, &admin, "POST", "/api/v1/users", Some(json!({"name": "Tom", "email": "tom@example.com", "roles": [role_id], "password": "short"}))).await;
    assert_eq!(
        error_of(&short),
        (400, "INVALID_FIELD".into(), "password".into())
    );
    let bad_email = call(
        server,
        &admin,
        "POST",
        "/api/v1/users",
        Some(json!({"name": "Tom", "email": "not an email"})),
    )
    .await;
    assert_eq!(
        error_of(&bad_email),
        (400, "INVALID_FIELD".into(), "email".into())
    );
    let user = call(
        server,
        &admin,
        "POST",
        "/api/v1/users",
        Some(json!({"name": "Tom Token", "email": "tom@example.com", "roles": [role_id], "password": password})),
    )
    .await;
    assert_eq!(user.status, 201, "{}", user.text());
    assert!(!user.text().contains(password));
    let user_id = user.json()["id"].as_i64().unwrap();
    assert_eq!(user.json()["roles"], json!([role_id]));
    let taken = call(
        server,
        &admin,
        "POST",
        "/api/v1/users",
        Some(json!({"name": "Tom 2", "email": "TOM@example.com"})),
    )
    .await;
    assert_eq!(error_of(&taken).0, 409, "{}", taken.text());

    let edited = call(
        server,
        &admin,
        "PATCH",
        &format!("/api/v1/users/{user_id}"),
        Some(json!({"name": "Tom T.", "active": false, "roles": [], "password": "another long password"})),
    )
    .await;
    assert_eq!(edited.status, 200, "{}", edited.text());
    assert_eq!(edited.json()["name"], "Tom T.");
    assert_eq!(edited.json()["active"], false);
    assert_eq!(edited.json()["roles"], json!([]));
    let shown = call(
        server,
        &admin,
        "GET",
        &format!("/api/v1/users/{user_id}"),
        None,
    )
    .await;
    assert_eq!(shown.json()["email"], "tom@example.com");
    let users = call(server, &admin, "GET", "/api/v1/users", None).await;
    assert!(users.text().contains("Tom T.") && !users.text().contains("password"));

    // Any active user reads the directory; only administrators change it.
    let alice = signer();
    assert_eq!(
        call(server, &alice, "GET", "/api/v1/users", None)
            .await
            .status,
        200
    );
    assert_eq!(
        call(server, &alice, "GET", "/api/v1/roles", None)
            .await
            .status,
        200
    );
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/users".to_owned(),
            Some(json!({"name": "Eve", "email": "eve@example.com"})),
        ),
        (
            "PATCH",
            format!("/api/v1/users/{user_id}"),
            Some(json!({"active": true})),
        ),
        ("DELETE", format!("/api/v1/users/{user_id}"), None),
        (
            "POST",
            "/api/v1/roles".to_owned(),
            Some(json!({"name": "Eve's"})),
        ),
    ] {
        let refused = call(server, &alice, method, &path, body).await;
        assert_eq!(
            error_of(&refused).0,
            403,
            "{method} {path}: {}",
            refused.text()
        );
    }

    let deleted = call(
        server,
        &admin,
        "DELETE",
        &format!("/api/v1/users/{user_id}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(deleted.json()["revoked_tokens"], 0);
    let gone = call(
        server,
        &admin,
        "GET",
        &format!("/api/v1/users/{user_id}"),
        None,
    )
    .await;
    assert_eq!(error_of(&gone).0, 404);
}

async fn the_login_audit_trail_is_filtered_and_paged(server: &TestServer) {
    let admin = administrator(server).await;
    let alice = signer();
    let started = tessera_core::model::Timestamp::now();
    assert_eq!(echo_status(server, &alice).await, 200);
    assert_eq!(echo_status(server, &alice).await, 200);
    let forged = signer_for(CONSUMER_KEY, CONSUMER_SECRET, TOKEN_ID, TOKEN2_SECRET);
    assert_eq!(echo_status(server, &forged).await, 401);
    server.state.verifier().flush().await;

    let page = |query: String| {
        let admin = &admin;
        async move {
            let reply = call(
                server,
                admin,
                "GET",
                &format!("/api/v1/audit?{query}"),
                None,
            )
            .await;
            assert_eq!(reply.status, 200, "{query}: {}", reply.text());
            reply.json()
        }
    };
    let refused = page("detail=InvalidSignature".into()).await;
    // A Detail filter that is not a code is named, not an empty page.
    let unknown = call(
        server,
        &admin,
        "GET",
        "/api/v1/audit?detail=NoSuchCode",
        None,
    )
    .await;
    assert_eq!(
        error_of(&unknown),
        (400, "INVALID_FIELD".into(), "detail".into())
    );
    let items = refused["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{refused}");
    assert_eq!(items[0]["success"], false);
    assert_eq!(items[0]["token"]["name"], "alice sync");
    assert_eq!(items[0]["user"]["name"], "Alice Able");
    assert!(!refused.to_string().contains(TOKEN2_SECRET));

    let alice_sync = page("success=true&token_name=ALICE%20SYNC".into()).await;
    let items = alice_sync["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{alice_sync}");
    assert!(
        items
            .iter()
            .all(|a| a["surface"] == "restlet" && a["detail"] == "Success")
    );
    let user = items[0]["user"]["id"].as_i64().unwrap();
    let by_user = page(format!("user={user}")).await;
    assert_eq!(by_user["items"].as_array().unwrap().len(), 3);

    // A window that ends before the requests holds none of them.
    let before = page(format!(
        "to={}",
        tessera_oauth1::encode::encode(&started.to_rfc3339())
    ))
    .await;
    assert!(
        before["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["token"]["name"] != "alice sync")
    );

    // Newest first, one at a time, following `next`.
    let mut seen = Vec::new();
    let mut query = "limit=1&user=".to_owned() + &user.to_string();
    loop {
        let p = page(query.clone()).await;
        for item in p["items"].as_array().unwrap() {
            seen.push(item["id"].as_i64().unwrap());
        }
        match p["next"].as_i64() {
            Some(next) => query = format!("limit=1&user={user}&before={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "{seen:?}");

    for (query, field) in [
        ("from=yesterday", "from"),
        ("limit=0", "limit"),
        ("success=maybe", "success"),
    ] {
        let reply = call(
            server,
            &admin,
            "GET",
            &format!("/api/v1/audit?{query}"),
            None,
        )
        .await;
        assert_eq!(
            error_of(&reply),
            (400, "INVALID_FIELD".into(), field.into()),
            "{query}"
        );
    }
    // Alice's role has no Login Audit Trail permission.
    let denied = call(server, &alice, "GET", "/api/v1/audit", None).await;
    assert_eq!(error_of(&denied).0, 403);
}

async fn system_notes_record_every_change_with_its_context(server: &TestServer) {
    let admin = administrator(server).await;
    let list = call(server, &admin, "GET", "/api/v1/tokens", None)
        .await
        .json();
    let alice = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "alice sync")
        .unwrap()
        .clone();
    let id = alice["id"].as_i64().unwrap();
    let renamed = call(
        server,
        &admin,
        "PATCH",
        &format!("/api/v1/tokens/{id}"),
        Some(json!({"name": "alice renamed"})),
    )
    .await;
    assert_eq!(renamed.status, 200);
    let notes = call(
        server,
        &admin,
        "GET",
        &format!("/api/v1/tokens/{id}/notes"),
        None,
    )
    .await;
    assert_eq!(notes.status, 200, "{}", notes.text());
    let notes = notes.json();
    let last = notes.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["field"], "name");
    assert_eq!(last["old_value"], "alice sync");
    assert_eq!(last["new_value"], "alice renamed");
    assert_eq!(last["context"], "API");
    assert_eq!(last["by"], "Ada Admin");
    assert_eq!(last["record"], "token");

    let integration = alice["application"]["id"].as_i64().unwrap();
    let noted = call(
        server,
        &admin,
        "PATCH",
        &format!("/api/v1/integrations/{integration}"),
        Some(json!({"note": "checked"})),
    )
    .await;
    assert_eq!(noted.status, 200, "{}", noted.text());
    let notes = call(
        server,
        &admin,
        "GET",
        &format!("/api/v1/integrations/{integration}/notes"),
        None,
    )
    .await
    .json();
    assert!(
        notes
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["record"] == "installation"
                && n["field"] == "note"
                && n["new_value"] == "checked"),
        "{notes}"
    );
    // Another user's token's notes do not exist for Alice.
    let admin_token = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "admin api")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let hidden = call(
        server,
        &signer(),
        "GET",
        &format!("/api/v1/tokens/{admin_token}/notes"),
        None,
    )
    .await;
    assert_eq!(error_of(&hidden).0, 404);
}

/// A user holding one role with `permissions`, and a token for it, made by the administrator.
async fn user_with_role(
    server: &TestServer,
    name: &str,
    permissions: &[tessera_core::model::Permission],
) -> (Signer, i64, i64) {
    use tessera_core::model::{Permission, PermissionSet};
    let admin = admin_actor();
    let account = AccountId::parse(ACCOUNT).unwrap();
    let tessera = server.tessera();
    let set = permissions.iter().fold(
        PermissionSet::empty().with(Permission::LogInUsingAccessTokens),
        |s, p| s.with(*p),
    );
    let role = tessera
        .create_role(
            &admin,
            &account,
            tessera_core::NewRoleInput {
                name: format!("{name}'s role"),
                permissions: set,
                web_services_only: false,
            },
        )
        .await
        .unwrap();
    let user = tessera
        .create_user(
            &admin,
            &account,
            tessera_core::NewUserInput {
                name: name.to_owned(),
                email: tessera_core::ids::Email::parse(&format!(
                    "{}@example.com",
                    name.to_lowercase()
                ))
                .unwrap(),
                password: None,
                roles: vec![role.id],
            },
        )
        .await
        .unwrap();
    let integration = alice_sync(server, &admin).await.token.integration;
    let (_, credentials) = tessera
        .create_token(
            &admin,
            NewTokenInput {
                integration,
                user: user.id,
                role: role.id,
                name: Some(format!("{name}'s token")),
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let signer = signer_for(
        CONSUMER_KEY,
        CONSUMER_SECRET,
        credentials.token_id.as_str(),
        credentials.token_secret.expose(),
    );
    (signer, user.id.get(), role.id.get())
}

async fn each_role_shape_of_r12_and_r13_gets_exactly_its_rights(server: &TestServer) {
    use tessera_core::model::Permission;
    let admin = administrator(server).await;
    let all = call(server, &admin, "GET", "/api/v1/tokens", None)
        .await
        .json();
    let alice = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "alice sync")
        .unwrap()
        .clone();
    let (app, alice_user, alice_role) = (
        alice["application"]["id"].as_i64().unwrap(),
        alice["user"]["id"].as_i64().unwrap(),
        alice["role"]["id"].as_i64().unwrap(),
    );
    let new_token = |user: i64, role: i64| json!({"application": app, "user": user, "role": role});

    // User Access Tokens: own tokens with the current role only; sees its own only.
    let (uma, uma_user, uma_role) =
        user_with_role(server, "Uma", &[Permission::UserAccessTokens]).await;
    let own = call(
        server,
        &uma,
        "POST",
        "/api/v1/tokens",
        Some(new_token(uma_user, uma_role)),
    )
    .await;
    assert_eq!(own.status, 201, "{}", own.text());
    let other_role = call(
        server,
        &uma,
        "POST",
        "/api/v1/tokens",
        Some(new_token(uma_user, alice_role)),
    )
    .await;
    assert_eq!(error_of(&other_role).0, 403, "{}", other_role.text());
    let for_alice = call(
        server,
        &uma,
        "POST",
        "/api/v1/tokens",
        Some(new_token(alice_user, alice_role)),
    )
    .await;
    assert_eq!(error_of(&for_alice).0, 403, "{}", for_alice.text());
    let mine = call(server, &uma, "GET", "/api/v1/tokens", None)
        .await
        .json();
    // Her own two (the one made for her and the one she made), nobody else's.
    let mine = names(&mine);
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert!(mine.contains(&"Uma's token".to_owned()), "{mine:?}");
    assert!(mine.iter().all(|n| n.contains("Uma")), "{mine:?}");
    let alice_id = alice["id"].as_i64().unwrap();
    let hidden = call(
        server,
        &uma,
        "POST",
        &format!("/api/v1/tokens/{alice_id}/revoke"),
        None,
    )
    .await;
    assert_eq!(error_of(&hidden).0, 404);

    // Access Token Management: tokens for others (never Administrator tokens), not for itself.
    let (tom, tom_user, tom_role) =
        user_with_role(server, "Tom", &[Permission::AccessTokenManagement]).await;
    let for_alice = call(
        server,
        &tom,
        "POST",
        "/api/v1/tokens",
        Some(new_token(alice_user, alice_role)),
    )
    .await;
    assert_eq!(for_alice.status, 201, "{}", for_alice.text());
    let for_self = call(
        server,
        &tom,
        "POST",
        "/api/v1/tokens",
        Some(new_token(tom_user, tom_role)),
    )
    .await;
    assert_eq!(error_of(&for_self).0, 403, "{}", for_self.text());
    let admin_token = call(
        server,
        &tom,
        "POST",
        "/api/v1/tokens",
        Some(new_token(1, 3)),
    )
    .await;
    assert_eq!(error_of(&admin_token).0, 403, "{}", admin_token.text());
    let everyone = call(server, &tom, "GET", "/api/v1/tokens?limit=100", None)
        .await
        .json();
    assert!(
        names(&everyone).iter().any(|n| n == "alice sync"),
        "{everyone}"
    );
    let revoked = call(
        server,
        &tom,
        "POST",
        &format!("/api/v1/tokens/{alice_id}/revoke"),
        None,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    // ... but no integration records or directory changes.
    let block = call(
        server,
        &tom,
        "POST",
        &format!("/api/v1/integrations/{app}/block"),
        None,
    )
    .await;
    assert_eq!(error_of(&block).0, 403);

    // Integration Application: state and note of the installation, new records; the shared
    // fields of a record and its reset stay with administrators (R13, R4).
    let (ian, _, _) = user_with_role(server, "Ian", &[Permission::IntegrationApplication]).await;
    let noted = call(
        server,
        &ian,
        "PATCH",
        &format!("/api/v1/integrations/{app}"),
        Some(json!({"note": "Ian was here"})),
    )
    .await;
    assert_eq!(noted.status, 200, "{}", noted.text());
    let renamed = call(
        server,
        &ian,
        "PATCH",
        &format!("/api/v1/integrations/{app}"),
        Some(json!({"name": "Ian's"})),
    )
    .await;
    assert_eq!(error_of(&renamed).0, 403, "{}", renamed.text());
    let reset = call(
        server,
        &ian,
        "POST",
        &format!("/api/v1/integrations/{app}/reset"),
        Some(json!({"confirm": true})),
    )
    .await;
    assert_eq!(error_of(&reset).0, 403, "{}", reset.text());
    let created = call(
        server,
        &ian,
        "POST",
        "/api/v1/integrations",
        Some(json!({"name": "Ian's App"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let users = call(
        server,
        &ian,
        "POST",
        "/api/v1/users",
        Some(json!({"name": "X", "email": "x@example.com"})),
    )
    .await;
    assert_eq!(error_of(&users).0, 403);
    let audit = call(server, &ian, "GET", "/api/v1/audit", None).await;
    assert_eq!(error_of(&audit).0, 403);

    // Login Audit Trail: reads the trail, changes nothing.
    let (lea, _, _) = user_with_role(server, "Lea", &[Permission::LoginAuditTrail]).await;
    assert_eq!(
        call(server, &lea, "GET", "/api/v1/audit", None)
            .await
            .status,
        200
    );
    let block = call(
        server,
        &lea,
        "POST",
        &format!("/api/v1/integrations/{app}/block"),
        None,
    )
    .await;
    assert_eq!(error_of(&block).0, 403);
}

async fn role_names(server: &TestServer, admin: &Signer) -> Vec<String> {
    call(server, admin, "GET", "/api/v1/roles", None)
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Issue 14, gap 7: OAuth 1.0a signs form bodies only, so a captured request could carry
/// another JSON body. The admin API requires the body's SHA-256 `oauth_body_hash`.
async fn gap07_a_body_is_bound_to_the_signature_by_a_sha256_body_hash(server: &TestServer) {
    let admin = administrator(server).await;
    let path = "/api/v1/roles";
    let url = server.url(path);
    let harmless = json!({"name": "Viewer", "permissions": ["REST_WEB_SERVICES"]}).to_string();
    let mighty = json!({
        "name": "Mighty",
        "permissions": ["ACCESS_TOKEN_MANAGEMENT", "INTEGRATION_APPLICATION", "LOGIN_AUDIT_TRAIL"]
    })
    .to_string();
    let post = |auth: String, body: String| async move {
        send(
            server.addr,
            "POST",
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body.as_bytes(),
        )
        .await
    };

    // No body hash: refused with a clear error, nothing created.
    let unbound = post(authorization(&admin, "POST", &url, None), mighty.clone()).await;
    assert_eq!(unbound.status, 400, "{}", unbound.text());
    assert_eq!(unbound.json()["error"]["code"], "BODY_HASH_REQUIRED");
    // SHA-1 is not enough.
    let sha1 = admin
        .sign(&tessera_oauth1::RequestToSign {
            method: "POST",
            url: &url,
            body_hash: Some((
                tessera_oauth1::body_hash::BodyHashAlgorithm::Sha1,
                mighty.as_bytes(),
            )),
            ..Default::default()
        })
        .unwrap()
        .authorization;
    assert_eq!(
        post(sha1, mighty.clone()).await.json()["error"]["code"],
        "BODY_HASH_REQUIRED"
    );
    // A captured, unused request for a harmless role, sent with another body: refused.
    let captured = signed_with_body_hash(&admin, "POST", &url, harmless.as_bytes());
    let swapped = post(captured.clone(), mighty.clone()).await;
    assert_eq!(swapped.status, 401, "{}", swapped.text());
    let names = role_names(server, &admin).await;
    assert!(!names.contains(&"Mighty".to_owned()), "{names:?}");
    // The body it was signed for goes through.
    let genuine = post(captured, harmless).await;
    assert_eq!(genuine.status, 201, "{}", genuine.text());
    assert!(
        role_names(server, &admin)
            .await
            .contains(&"Viewer".to_owned())
    );
}

/// Issue 14, gap 8: integration traffic that fills the account's concurrency limit does not
/// hold up the admin API or revoketoken (RULES.md §5).
async fn gap08_the_admin_plane_never_waits_behind_integration_traffic(server: &TestServer) {
    let admin = administrator(server).await;
    let path = "/app/site/hosting/restlet.nl?tessera_delay_ms=3000";
    let mut slow = Vec::new();
    for _ in 0..15 {
        let auth = authorization(&signer(), "GET", &server.url(path), None);
        let addr = server.addr;
        slow.push(tokio::spawn(async move {
            send(addr, "GET", path, &[("authorization", &auth)], b"")
                .await
                .status
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    // The account is at its limit for integration traffic.
    let auth = authorization(
        &signer(),
        "GET",
        &server.url("/app/site/hosting/restlet.nl"),
        None,
    );
    let over = send(
        server.addr,
        "GET",
        "/app/site/hosting/restlet.nl",
        &[("authorization", &auth)],
        b"",
    )
    .await;
    assert_eq!(over.status, 400, "{}", over.text());
    assert_eq!(over.json()["error"]["code"], "SSS_REQUEST_LIMIT_EXCEEDED");
    // The administrator is served meanwhile: reads, a change, and revoketoken.
    let started = std::time::Instant::now();
    let tokens = call(server, &admin, "GET", "/api/v1/tokens", None).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text());
    let role = call(
        server,
        &admin,
        "POST",
        "/api/v1/roles",
        Some(json!({"name": "During the rush", "permissions": ["REST_WEB_SERVICES"]})),
    )
    .await;
    assert_eq!(role.status, 201, "{}", role.text());
    let (spare_id, spare_secret) = administrator_token(server).await;
    let spare = signer_for(CONSUMER_KEY, CONSUMER_SECRET, &spare_id, &spare_secret);
    let revoke = format!("/rest/revoketoken?consumerKey={CONSUMER_KEY}&token={spare_id}");
    let auth = authorization(&spare, "GET", &server.url(&revoke), None);
    let revoked = send(
        server.addr,
        "GET",
        &revoke,
        &[("authorization", &auth)],
        b"",
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "the admin plane waited {:?} for the integration traffic",
        started.elapsed()
    );
    for task in slow {
        assert_eq!(task.await.unwrap(), 200);
    }
}

async fn acme_id(server: &TestServer, admin: &Signer) -> i64 {
    call(server, admin, "GET", "/api/v1/integrations", None)
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Acme Sync")
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// Issue 14, gap 6: another account installs a record by its internal id only where the owner
/// made it installable, and is told "not found" for it exactly as for a missing id until then;
/// once installed it sees its own installation's notes, never the owner's notes or users.
async fn gap06_another_account_installs_only_what_the_owner_allowed_and_sees_none_of_its_notes(
    server: &TestServer,
) {
    let admin = administrator(server).await;
    let boss = other_account_administrator(server).await;
    let acme = acme_id(server, &admin).await;
    let install = |id: i64| {
        let path = format!("/api/v1/integrations/{id}/install");
        let boss = &boss;
        async move { call(server, boss, "POST", &path, None).await }
    };
    let not_yours = install(acme).await;
    let missing = install(999_999).await;
    assert_eq!(not_yours.status, 404);
    assert_eq!(
        (not_yours.status, not_yours.text()),
        (missing.status, missing.text())
    );
    // The other account cannot see or change who may install it.
    let path = format!("/api/v1/integrations/{acme}/installable-accounts");
    let peek = call(
        server,
        &boss,
        "PUT",
        &path,
        Some(json!({"accounts": ["7654321"]})),
    )
    .await;
    assert_eq!(peek.status, 404, "{}", peek.text());
    // The owner allows it; a bad account id is named.
    let bad = call(
        server,
        &admin,
        "PUT",
        &path,
        Some(json!({"accounts": ["not an account"]})),
    )
    .await;
    assert_eq!(
        error_of(&bad),
        (400, "INVALID_FIELD".into(), "accounts[0]".into())
    );
    let allowed = call(
        server,
        &admin,
        "PUT",
        &path,
        Some(json!({"accounts": ["7654321", "1234567", "7654321"]})),
    )
    .await;
    assert_eq!(
        allowed.json(),
        json!({"accounts": ["7654321"]}),
        "the owner left out, once each"
    );
    assert_eq!(
        call(server, &admin, "GET", &path, None).await.json(),
        allowed.json()
    );
    assert_eq!(install(acme).await.status, 201);
    // Installed: the installing account still cannot read the owner's list…
    assert_eq!(call(server, &boss, "GET", &path, None).await.status, 403);
    // …and its notes of the record are its installation's only, by its own users.
    let notes = call(
        server,
        &boss,
        "GET",
        &format!("/api/v1/integrations/{acme}/notes"),
        None,
    )
    .await;
    assert_eq!(notes.status, 200, "{}", notes.text());
    let notes = notes.json();
    let notes = notes.as_array().unwrap();
    assert!(!notes.is_empty());
    for note in notes {
        assert_eq!(note["account"], "7654321", "{note}");
        assert_eq!(note["record"], "installation", "{note}");
        assert_ne!(note["by"], "Ada Admin", "{note}");
    }
    // The owner sees the record's own notes, the list change among them.
    let own = call(
        server,
        &admin,
        "GET",
        &format!("/api/v1/integrations/{acme}/notes"),
        None,
    )
    .await
    .json();
    assert!(
        own.as_array()
            .unwrap()
            .iter()
            .any(|n| n["field"] == "installable by" && n["new_value"] == "7654321"),
        "{own}"
    );
}

/// R16–R18 through the admin API: the account's maximum lifetime and allow-list, a token's
/// expiry and the list's filters on time, and a bulk change previewed, refused on a stale count,
/// then carried out — each error naming its field.
async fn r16_r17_r18_expiry_allow_lists_and_bulk_changes_over_the_api(server: &TestServer) {
    let admin = administrator(server).await;
    let account = |body: Value| call(server, &admin, "PATCH", "/api/v1/account", Some(body));
    // R16: a maximum lifetime; a new token without an expiry gets it, one beyond is refused.
    let set = account(json!({"token_max_lifetime_days": 30})).await;
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.json()["token_max_lifetime_days"], 30);
    for (body, field) in [
        (
            json!({"token_max_lifetime_days": 0}),
            "token_max_lifetime_days",
        ),
        (json!({"ip_allow_list": ["10.0.0.0/33"]}), "ip_allow_list"),
        (json!({}), "body"),
    ] {
        let (status, code, named) = error_of(&account(body.clone()).await);
        assert_eq!(
            (status, code.as_str(), named.as_str()),
            (400, "INVALID_FIELD", field),
            "{body}"
        );
    }
    let list = call(
        server,
        &admin,
        "GET",
        "/api/v1/tokens?search=alice+sync",
        None,
    )
    .await
    .json();
    let alice = &list["items"][0];
    let new_token = |expires_at: Option<String>| {
        let mut body = json!({
            "application": alice["application"]["id"],
            "user": alice["user"]["id"],
            "role": alice["role"]["id"],
            "name": "expiring",
        });
        if let Some(at) = expires_at {
            body["expires_at"] = json!(at);
        }
        call(server, &admin, "POST", "/api/v1/tokens", Some(body))
    };
    let created = new_token(None).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let token = &created.json()["token"];
    let at = tessera_core::model::Timestamp::parse_rfc3339(token["expires_at"].as_str().unwrap())
        .unwrap();
    let in_30 = tessera_core::model::Timestamp::now().plus_days(30);
    assert!((in_30.millis() - at.millis()).abs() < 60_000, "{token}");
    assert_eq!(token["expired"], false);
    let beyond = tessera_core::model::Timestamp::now()
        .plus_days(31)
        .to_rfc3339();
    let (status, _, field) = error_of(&new_token(Some(beyond)).await);
    assert_eq!((status, field.as_str()), (400, "expires_at"));
    let (status, _, field) = error_of(&new_token(Some("tomorrow".into())).await);
    assert_eq!((status, field.as_str()), (400, "expires_at"));
    // Days by the server's clock: exactly the maximum is allowed, whatever the client's clock.
    let by_days = |days: u32| {
        call(
            server,
            &admin,
            "POST",
            "/api/v1/tokens",
            Some(json!({
                "application": alice["application"]["id"],
                "user": alice["user"]["id"],
                "role": alice["role"]["id"],
                "name": "by days",
                "expires_in_days": days,
            })),
        )
    };
    let made = by_days(30).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let (status, _, field) = error_of(&by_days(0).await);
    assert_eq!((status, field.as_str()), (400, "expires_in_days"));
    let revoke = format!("/api/v1/tokens/{}/revoke", made.json()["token"]["id"]);
    assert_eq!(
        call(server, &admin, "POST", &revoke, None).await.status,
        200
    );
    let soon = call(
        server,
        &admin,
        "GET",
        "/api/v1/tokens?expiring_within_days=31&revoked=no",
        None,
    )
    .await
    .json();
    assert_eq!(names(&soon), ["expiring"]);
    let (status, _, field) = error_of(
        &call(
            server,
            &admin,
            "GET",
            "/api/v1/tokens?expired=true&expiring_within_days=3",
            None,
        )
        .await,
    );
    assert_eq!((status, field.as_str()), (400, "expiring_within_days"));

    // R17: the account's list reads back canonical; the caller's own address (loopback) in it
    // keeps the API usable. A list without it would lock this very caller out: refused (409).
    let set = account(json!({"ip_allow_list": ["127.0.0.1", "10.1.2.3/8"]})).await;
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(
        set.json()["ip_allow_list"],
        json!(["127.0.0.1/32", "10.0.0.0/8"])
    );
    let lockout = account(json!({"ip_allow_list": ["10.0.0.0/8"]})).await;
    let (status, code, _) = error_of(&lockout);
    assert_eq!(
        (status, code.as_str()),
        (409, "CONFLICT"),
        "{}",
        lockout.text()
    );
    assert!(
        lockout
            .text()
            .contains("leaves out the address this request comes from (127.0.0.1)"),
        "{}",
        lockout.text()
    );
    // An empty entry is refused (a script's unset variable must not switch the list off).
    let (status, _, field) = error_of(&account(json!({"ip_allow_list": [""]})).await);
    assert_eq!((status, field.as_str()), (400, "ip_allow_list"));
    // Set elsewhere (the web UI) without this caller's address, it refuses this caller.
    let set_list = |text: &str| tessera_core::AccountSettings {
        ip_allow: Some(tessera_core::allow::IpAllowList::parse("f", text).unwrap()),
        ..Default::default()
    };
    let a = AccountId::parse("1234567").unwrap();
    server
        .tessera()
        .update_account_settings(&admin_actor(), &a, set_list("10.0.0.0/8"))
        .await
        .unwrap();
    let refused = call(server, &admin, "GET", "/api/v1/account", None).await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    // The page signed in with a password is how an administrator gets out of that.
    server
        .tessera()
        .update_account_settings(&admin_actor(), &a, set_list(""))
        .await
        .unwrap();
    assert_eq!(
        call(server, &admin, "GET", "/api/v1/account", None)
            .await
            .status,
        200
    );

    // R18: preview Alice's tokens, a stale count changes nothing, the right one revokes them.
    let alice_signer = signer_for(
        CONSUMER_KEY,
        CONSUMER_SECRET,
        "80b521502b5a9fb54997747f384819a65f6bc4deebf01cd594c0e8fec554959b",
        "c9cfbec3aa24fd206ed099d2e8c53dcdea13ac380fa80e0c9d52873521253007",
    );
    let echo = "/app/site/hosting/restlet.nl?script=1&deploy=1";
    let before = call(server, &alice_signer, "GET", echo, None).await;
    assert_eq!(before.status, 200, "{}", before.text());
    let user = alice["user"]["id"].as_i64().unwrap();
    let bulk = format!("/api/v1/tokens/bulk/revoke?user={user}");
    let preview = call(server, &admin, "GET", &bulk, None).await;
    assert_eq!(preview.status, 200, "{}", preview.text());
    let preview = preview.json();
    let count = preview["count"].as_u64().unwrap();
    assert_eq!(count, 3, "{preview}");
    assert_eq!(preview["sample"].as_array().unwrap().len(), 3);
    let stale = call(
        server,
        &admin,
        "POST",
        &bulk,
        Some(json!({"expected_count": 2})),
    )
    .await;
    let (status, code, _) = error_of(&stale);
    assert_eq!(
        (status, code.as_str()),
        (409, "CONFLICT"),
        "{}",
        stale.text()
    );
    let (status, _, field) = error_of(
        &call(
            server,
            &admin,
            "POST",
            &format!("{bulk}&sort=name"),
            Some(json!({"expected_count": 3})),
        )
        .await,
    );
    assert_eq!((status, field.as_str()), (400, "sort"));
    let (status, _, field) = error_of(
        &call(
            server,
            &admin,
            "POST",
            "/api/v1/tokens/bulk/delete",
            Some(json!({"expected_count": 3})),
        )
        .await,
    );
    assert_eq!((status, field.as_str()), (400, "action"));
    let done = call(
        server,
        &admin,
        "POST",
        &bulk,
        Some(json!({"expected_count": 3})),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.json()["changed"], 3);
    let left = call(server, &admin, "GET", &bulk, None).await.json();
    assert_eq!(left["count"], 0);
    // Revoked: the fixture token alice sync is refused from now on.
    let after = call(server, &alice_signer, "GET", echo, None).await;
    assert_eq!(after.status, 401, "{}", after.text());
}

/// The signature debugger through the admin API: opened for a token, a mis-signed request's
/// row says it has a capture, the capture holds the masked base string; out-of-range minutes
/// are named; closed, nothing more is kept.
async fn the_signature_debugger_over_the_api(server: &TestServer) {
    let admin = administrator(server).await;
    let list = call(
        server,
        &admin,
        "GET",
        "/api/v1/tokens?search=alice+sync",
        None,
    )
    .await
    .json();
    let id = list["items"][0]["id"].as_i64().unwrap();
    let debug = format!("/api/v1/tokens/{id}/signature-debug");
    let (status, _, field) = error_of(
        &call(
            server,
            &admin,
            "POST",
            &debug,
            Some(json!({"minutes": 1441})),
        )
        .await,
    );
    assert_eq!((status, field.as_str()), (400, "minutes"));
    let open = call(server, &admin, "POST", &debug, Some(json!({"minutes": 30}))).await;
    assert_eq!(open.status, 200, "{}", open.text());
    assert!(open.json()["until"].is_string());
    let shown = call(server, &admin, "GET", &format!("/api/v1/tokens/{id}"), None)
        .await
        .json();
    assert!(shown["signature_debug_until"].is_string(), "{shown}");
    // alice sync signed with a wrong token secret.
    let wrong = signer_for(
        CONSUMER_KEY,
        CONSUMER_SECRET,
        "80b521502b5a9fb54997747f384819a65f6bc4deebf01cd594c0e8fec554959b",
        &"0".repeat(64),
    );
    let echo = "/app/site/hosting/restlet.nl?script=1&deploy=1";
    assert_eq!(call(server, &wrong, "GET", echo, None).await.status, 401);
    trail(server).await;
    let rows = call(
        server,
        &admin,
        "GET",
        "/api/v1/audit?detail=InvalidSignature",
        None,
    )
    .await
    .json();
    let row = &rows["items"][0];
    assert_eq!(row["signature_capture"], true, "{row}");
    let capture = call(
        server,
        &admin,
        "GET",
        &format!("/api/v1/audit/{}/signature", row["id"]),
        None,
    )
    .await;
    assert_eq!(capture.status, 200, "{}", capture.text());
    let capture = capture.json();
    let base = capture["base_string"].as_str().unwrap();
    assert!(base.starts_with("GET&"), "{base}");
    assert!(!base.contains("80b521502b5a9fb54997747f384819a65f6bc4deebf01cd594c0e8fec554959b"));
    assert_eq!(capture["query_params"], json!(["script", "deploy"]));
    assert_eq!(capture["realm_sent"], true);
    // A row without a capture is not found; closed, the next refusal keeps nothing.
    let missing = call(
        server,
        &admin,
        "GET",
        "/api/v1/audit/999999/signature",
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
    let closed = call(server, &admin, "POST", &debug, Some(json!({"minutes": 0}))).await;
    assert_eq!(closed.json(), json!({}));
    assert_eq!(call(server, &wrong, "GET", echo, None).await.status, 401);
    trail(server).await;
    let rows = call(
        server,
        &admin,
        "GET",
        "/api/v1/audit?detail=InvalidSignature",
        None,
    )
    .await
    .json();
    assert_eq!(rows["items"][0]["signature_capture"], false);
}
