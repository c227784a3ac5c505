//! The admin API's contract as reviewed snapshots (`tests/snapshots/`): the OpenAPI document
//! and the body of every kind of error the server answers with, whichever layer answers it (a
//! domain refusal, a field the handler refuses, the edge, the surfaces' NetSuite shapes). A
//! change to any of them fails here until the snapshot is reviewed and accepted (`cargo insta
//! review`, or `INSTA_UPDATE=always` and a look at the diff). Codes that take a failure to
//! produce are asserted where that failure is staged: `REQUEST_TIMEOUT` in `edge.rs`,
//! `STORE_UNREACHABLE` and `MASTER_KEY_MISMATCH` in the CLI's `operations.rs`;
//! `every_error_code_is_produced_somewhere` keeps that list honest.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use support::*;
use tessera_core::Error;
use tessera_core::ids::TokenKey;
use tessera_core::store::StoreError;
use tessera_server::wire::{self, Surface};

/// Status and JSON body of a response made in this process.
async fn answer(response: Response<Body>) -> Value {
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    json!({"status": status, "body": serde_json::from_slice::<Value>(&body).unwrap()})
}

fn reply(r: &Reply) -> Value {
    json!({"status": r.status, "body": r.json()})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_the_reviewed_contract() {
    let server = TestServer::start(tessera_store::testing::TestDatabase::sqlite().await).await;
    let doc = send(server.addr, "GET", "/api/v1/openapi.json", &[], b"").await;
    assert_eq!(doc.status, 200);
    insta::assert_json_snapshot!("openapi", doc.json());
    server.finish().await;
}

/// Every error shape, by what answers it. Messages are part of the snapshot: they are what
/// people read, and a change to them is reviewed like a change of code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_body_is_the_reviewed_contract() {
    let mut bodies = BTreeMap::new();

    // The surfaces' NetSuite shapes, and the answers every surface shares.
    bodies.insert(
        "invalid_login restlet",
        answer(wire::invalid_login(Surface::Restlet)).await,
    );
    bodies.insert(
        "invalid_login rest web services",
        answer(wire::invalid_login(Surface::RestWebServices)).await,
    );
    bodies.insert(
        "invalid_login admin api",
        answer(wire::invalid_login(Surface::AdminApi)).await,
    );
    bodies.insert("malformed", answer(wire::malformed()).await);
    bodies.insert(
        "over_limit restlet",
        answer(wire::over_limit(Surface::Restlet)).await,
    );
    bodies.insert(
        "over_limit rest web services",
        answer(wire::over_limit(Surface::RestWebServices)).await,
    );
    bodies.insert("unavailable", answer(wire::unavailable()).await);
    bodies.insert(
        "invalid_field",
        answer(wire::invalid_field("limit", "must be a number")).await,
    );

    // Every refusal of the domain, as the admin API answers it.
    let domain = [
        (
            "domain not found",
            Error::NotFound {
                what: "access token",
            },
        ),
        (
            "domain not permitted",
            Error::NotPermitted {
                why: "the role may not do that".into(),
            },
        ),
        (
            "domain reset bundle install",
            Error::ResetNotAllowedForBundleInstall,
        ),
        ("domain confirmation required", Error::ConfirmationRequired),
        ("domain token revoked", Error::TokenRevoked),
        (
            "domain invalid",
            Error::Invalid {
                field: "name",
                why: "too long".into(),
            },
        ),
        (
            "domain conflict",
            Error::Conflict {
                why: "a record with the same email already exists".into(),
            },
        ),
        (
            "domain invalid id",
            Error::Id(TokenKey::parse("x").map(|_| ()).unwrap_err()),
        ),
        (
            "domain storage unavailable",
            Error::Storage(StoreError::Backend(Box::new(std::io::Error::other(
                "connection refused",
            )))),
        ),
        (
            "domain storage corrupt",
            Error::Storage(StoreError::Corrupt("column x".into())),
        ),
    ];
    for (name, e) in domain {
        bodies.insert(name, answer(wire::domain_error(&e)).await);
    }

    // Over HTTP: what the edge, the router and the admin API's extractors answer.
    let server = TestServer::start(tessera_store::testing::TestDatabase::sqlite().await).await;
    let addr = server.addr;
    bodies.insert(
        "http no such endpoint",
        reply(&send(addr, "GET", "/api/v1/nothing-here", &[], b"").await),
    );
    bodies.insert(
        "http method not allowed",
        reply(&send(addr, "DELETE", "/api/v1/tokens", &[], b"").await),
    );
    bodies.insert(
        "http uri too long",
        reply(
            &send(
                addr,
                "GET",
                &format!("/api/v1/tokens?{}", "a".repeat(9000)),
                &[],
                b"",
            )
            .await,
        ),
    );
    // Refused from its Content-Length, before a byte of the body is read.
    let head = format!(
        "POST /api/v1/tokens HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        11 << 20
    );
    bodies.insert(
        "http payload too large",
        reply(&raw_exchange(addr, head.as_bytes()).await),
    );
    let mut head = format!("GET /api/v1/tokens HTTP/1.1\r\nHost: {addr}\r\n");
    for i in 0..101 {
        head.push_str(&format!("X-Filler-{i}: x\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    bodies.insert(
        "http too many headers",
        reply(&raw_exchange(addr, head.as_bytes()).await),
    );
    bodies.insert(
        "http unsigned admin call",
        reply(&send(addr, "GET", "/api/v1/tokens", &[], b"").await),
    );
    bodies.insert(
        "http malformed authorization",
        reply(
            &send(
                addr,
                "GET",
                "/api/v1/tokens",
                &[("authorization", "OAuth realm")],
                b"",
            )
            .await,
        ),
    );
    let body = br#"{"application":1,"user":1,"role":3}"#;
    let auth = authorization(&signer(), "POST", &server.url("/api/v1/tokens"), None);
    bodies.insert(
        "http body without its hash",
        reply(
            &send(
                addr,
                "POST",
                "/api/v1/tokens",
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                ],
                body,
            )
            .await,
        ),
    );
    bodies.insert(
        "http unsigned admin call with a body",
        reply(
            &send(
                addr,
                "POST",
                "/api/v1/tokens",
                &[("content-type", "application/json")],
                body,
            )
            .await,
        ),
    );
    let array = br#"["x",[],false]"#;
    let auth = signed_with_body_hash(&signer(), "POST", &server.url("/api/v1/roles"), array);
    bodies.insert(
        "http body not an object",
        reply(
            &send(
                addr,
                "POST",
                "/api/v1/roles",
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                ],
                array,
            )
            .await,
        ),
    );
    bodies.insert(
        "http parameter of an endpoint that takes none",
        reply(&signed_get(&server, "/api/v1/account?x=1").await),
    );
    bodies.insert(
        "http unknown query parameter",
        reply(&signed_get(&server, "/api/v1/tokens?limt=5").await),
    );
    bodies.insert(
        "http bad query value",
        reply(&signed_get(&server, "/api/v1/tokens?limit=ten").await),
    );
    bodies.insert(
        "http bad choice",
        reply(&signed_get(&server, "/api/v1/tokens?sort=upward").await),
    );
    bodies.insert(
        "http repeated query parameter",
        reply(&signed_get(&server, "/api/v1/tokens?limit=1&limit=2").await),
    );
    let bad = br#"{"application":"one","user":1,"role":3}"#;
    let auth = signed_with_body_hash(&signer(), "POST", &server.url("/api/v1/tokens"), bad);
    bodies.insert(
        "http body field of the wrong type",
        reply(
            &send(
                addr,
                "POST",
                "/api/v1/tokens",
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                ],
                bad,
            )
            .await,
        ),
    );
    bodies.insert(
        "http verify api not json",
        reply(
            &send(
                addr,
                "POST",
                "/api/v1/verify",
                &[("content-type", "application/json")],
                b"{",
            )
            .await,
        ),
    );
    bodies.insert(
        "http verify api bad url",
        reply(
            &send(
                addr,
                "POST",
                "/api/v1/verify",
                &[("content-type", "application/json")],
                br#"{"method":"GET","url":"ftp://x/"}"#,
            )
            .await,
        ),
    );
    bodies.insert(
        "http verify api not a public origin",
        reply(
            &send(
                addr,
                "POST",
                "/api/v1/verify",
                &[
                    ("host", "attacker.example"),
                    ("content-type", "application/json"),
                ],
                b"{}",
            )
            .await,
        ),
    );
    bodies.insert(
        "http restlet refused",
        reply(
            &send(
                addr,
                "GET",
                "/app/site/hosting/restlet.nl?script=1",
                &[],
                b"",
            )
            .await,
        ),
    );
    bodies.insert(
        "http rest web services refused",
        reply(&send(addr, "GET", "/services/rest/record/v1/customer", &[], b"").await),
    );
    bodies.insert(
        "http issuetoken without consumer key",
        reply(&send(addr, "GET", "/rest/issuetoken", &[], b"").await),
    );
    server.finish().await;
    insta::assert_json_snapshot!("error_bodies", bodies);
}

/// Every `ErrorCode` is answered somewhere a test sees it: in the error snapshot, or in the
/// test that stages the failure it needs (named here).
#[test]
fn every_error_code_is_produced_somewhere() {
    let snapshot = include_str!("snapshots/contract__error_bodies.snap");
    let staged_elsewhere = [
        ("REQUEST_TIMEOUT", include_str!("edge.rs")),
        (
            "STORE_UNREACHABLE",
            include_str!("../../cli/tests/operations.rs"),
        ),
        (
            "MASTER_KEY_MISMATCH",
            include_str!("../../cli/tests/operations.rs"),
        ),
    ];
    let mut missing = Vec::new();
    for code in tessera_api::ErrorCode::ALL {
        let code = code.as_str();
        let quoted = format!("\"{code}\"");
        let covered = snapshot.contains(&quoted)
            || staged_elsewhere
                .iter()
                .any(|(c, test)| *c == code && test.contains(code));
        if !covered {
            missing.push(code);
        }
    }
    assert!(missing.is_empty(), "no test sees these codes: {missing:?}");
}
