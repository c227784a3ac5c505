//! Real clients against the server, on both stores: Python's requests-oauthlib and Node's
//! oauth-1.0a (installed from the registries by `scripts/interop-deps`, which `.ci/run` runs
//! and these tests run when the folder is missing), and the OpenAPI document checked by
//! openapi-spec-validator, and the admin API put through schemathesis against that document.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use support::*;

on_both_backends!(
    requests_oauthlib_is_answered_as_netsuite_answers,
    node_oauth_1_0a_is_answered_as_netsuite_answers,
    the_openapi_document_is_valid_openapi_3_1,
    the_admin_api_answers_schemathesis_as_documented,
);

/// The fixture token and, revoked, the second one.
async fn config(server: &TestServer) -> Value {
    let admin = admin_actor();
    let second = server
        .tessera()
        .list_tokens(&admin, Default::default(), Default::default(), None, 10)
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|t| t.token.name == "alice second")
        .unwrap();
    server
        .tessera()
        .revoke_token(&admin, second.token.key)
        .await
        .unwrap();
    json!({
        "base": server.url(""),
        "realm": ACCOUNT,
        "consumer_key": CONSUMER_KEY,
        "consumer_secret": CONSUMER_SECRET,
        "token_id": TOKEN_ID,
        "token_secret": TOKEN_SECRET,
        "revoked_token_id": TOKEN2_ID,
        "revoked_token_secret": TOKEN2_SECRET,
    })
}

/// Runs a client script; its results by case name.
fn run(program: &str, script: &str, env: (&str, PathBuf), config: &Value) -> Vec<Value> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script);
    let out = Command::new(program)
        .arg(&script)
        .arg(config.to_string())
        .env(env.0, env.1)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Every case's expected outcome: accepted with the echo of what was sent, or refused with
/// the surface's NetSuite body.
fn check(client: &str, results: &[Value]) {
    let by = |case: &str| -> (u64, Value, String) {
        let r = results
            .iter()
            .find(|r| r["case"] == case)
            .unwrap_or_else(|| panic!("{client}: no case {case:?}"));
        let body = r["body"].as_str().unwrap().to_owned();
        (
            r["status"].as_u64().unwrap(),
            serde_json::from_str(&body).unwrap_or(Value::Null),
            body,
        )
    };
    for case in [
        "restlet GET with a query",
        "restlet JSON POST",
        "restlet form POST",
        "restlet PUT",
        "restlet DELETE",
        "rest GET with a query",
        "rest JSON POST",
        "rest form POST",
        "rest PUT",
        "rest DELETE",
        "rest percent-encoded path",
        "rest unicode path",
        "restlet unicode query",
        "replay",
    ] {
        let (status, body, text) = by(case);
        assert_eq!(status, 200, "{client}: {case}: {text}");
        assert_eq!(body["token"]["name"], "alice sync", "{client}: {case}");
    }
    assert_eq!(
        by("restlet GET with a query").1["query"]["q"],
        "a b/ü~",
        "{client}"
    );
    assert_eq!(
        by("restlet JSON POST").1["body"],
        json!({"a": 1, "ü": "x"}),
        "{client}"
    );
    assert_eq!(by("restlet JSON POST").1["method"], "POST");
    // A form body is echoed as it came (its parameters were signed).
    let form = by("restlet form POST").1;
    assert!(
        form["body"].as_str().unwrap().contains("name=J%C3%BCrgen"),
        "{client}: {form}"
    );
    assert_eq!(by("restlet PUT").1["method"], "PUT");
    assert_eq!(by("restlet DELETE").1["method"], "DELETE");
    assert_eq!(
        by("restlet unicode query").1["query"]["name"],
        "Jürgen Straße",
        "{client}"
    );
    for case in [
        "wrong secret",
        "replay: second",
        "stale timestamp",
        "HMAC-SHA1",
        "revoked token",
    ] {
        let (status, body, text) = by(case);
        assert_eq!(status, 401, "{client}: {case}: {text}");
        assert_eq!(
            body,
            json!({"error": {"code": "INVALID_LOGIN_ATTEMPT", "message": "Invalid login attempt."}}),
            "{client}: {case}"
        );
    }
    let (status, body, _) = by("rest wrong secret");
    assert_eq!(status, 401);
    assert_eq!(
        body["o:errorDetails"][0]["o:errorCode"], "INVALID_LOGIN",
        "{client}"
    );
}

async fn requests_oauthlib_is_answered_as_netsuite_answers(server: &TestServer) {
    let config = config(server).await;
    let dir = interop_dir().join("python");
    let results = tokio::task::spawn_blocking(move || {
        run("python3", "client.py", ("PYTHONPATH", dir), &config)
    })
    .await
    .unwrap();
    check("requests-oauthlib", &results);
    assert_failures_recorded(server).await;
}

async fn node_oauth_1_0a_is_answered_as_netsuite_answers(server: &TestServer) {
    let config = config(server).await;
    let dir = interop_dir().join("node/node_modules");
    let results =
        tokio::task::spawn_blocking(move || run("node", "client.js", ("NODE_PATH", dir), &config))
            .await
            .unwrap();
    check("oauth-1.0a", &results);
    assert_failures_recorded(server).await;
}

/// The reasons the wire does not give are in the audit trail.
async fn assert_failures_recorded(server: &TestServer) {
    server.state.verifier().flush().await;
    let details: Vec<String> = server
        .tessera()
        .store()
        .login_attempts(&tessera_core::store::AttemptQuery {
            limit: 100,
            success: Some(false),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.detail.as_str().to_owned())
        .collect();
    for detail in [
        "InvalidSignature",
        "nonce_used",
        "InvalidTimestamp",
        "UnsupportedSignatureMethod",
        "TokenRevoked",
    ] {
        assert!(
            details.iter().any(|d| d == detail),
            "{detail} not in {details:?}"
        );
    }
}

async fn the_openapi_document_is_valid_openapi_3_1(server: &TestServer) {
    let reply = send(server.addr, "GET", tessera_server::OPENAPI_PATH, &[], b"").await;
    assert_eq!(reply.status, 200);
    let dir = interop_dir().join("python");
    let document = reply.body.to_vec();
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import json, sys\n\
                 from openapi_spec_validator import validate\n\
                 from openapi_spec_validator.validation import OpenAPIV31SpecValidator\n\
                 spec = json.load(sys.stdin)\n\
                 assert spec['openapi'].startswith('3.1'), spec['openapi']\n\
                 validate(spec, cls=OpenAPIV31SpecValidator)\n\
                 print(len(spec['paths']))",
            ])
            .env("PYTHONPATH", dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(&document).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paths: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(paths >= 10, "{paths} paths");
}

async fn the_admin_api_answers_schemathesis_as_documented(server: &TestServer) {
    let admin = admin_actor();
    let acme = server
        .tessera()
        .list_tokens(&admin, Default::default(), Default::default(), None, 10)
        .await
        .unwrap()
        .items
        .remove(0)
        .token
        .integration;
    let (_, credentials) = server
        .tessera()
        .create_token(
            &admin,
            tessera_core::NewTokenInput {
                integration: acme,
                user: tessera_core::ids::UserId::new(1),
                role: tessera_core::ids::RoleId::ADMINISTRATOR,
                name: Some("schemathesis".into()),
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let config = json!({
        "base": server.url(""),
        "realm": ACCOUNT,
        "consumer_key": CONSUMER_KEY,
        "consumer_secret": CONSUMER_SECRET,
        "token_id": credentials.token_id.as_str(),
        "token_secret": credentials.token_secret.expose(),
        "examples": 25,
    });
    let dir = interop_dir().join("python");
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/schemathesis_admin.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(&script)
            .env("PYTHONPATH", dir)
            .env("TESSERA_SCHEMATHESIS", config.to_string())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("passed"), "{report}");
}
