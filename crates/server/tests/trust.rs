//! Who is trusted with what (issue 14, gaps 9 and 11): per-reason metrics and the verification
//! API only for trusted services, decided by the client the trusted proxy chain names (not by
//! the proxy's own address); forward-auth only for a public origin.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::{IpAddr, Ipv4Addr};

use serde_json::json;
use support::*;
use tessera_server::ServerConfig;
use tessera_store::testing::TestDatabase;

const ELSEWHERE: &str = "203.0.113.9";

fn get(host: &str, path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap09_metrics_by_detail_are_served_to_trusted_services_only() {
    let monitor = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let config = ServerConfig {
        trusted_services: vec![monitor],
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(TestDatabase::sqlite().await, config).await;
    let host = server.addr.to_string();
    // A prober's refused request is counted by its reason…
    let unknown = signer_for(&"0".repeat(64), "x", TOKEN_ID, TOKEN_SECRET);
    let refused = signed_get_as(&server, &unknown, "/app/site/hosting/restlet.nl").await;
    assert_eq!(refused.status, 401);
    // …which the prober cannot read back.
    let public = raw_exchange(server.addr, &get(&host, "/metrics", "")).await;
    assert_eq!(public.status, 403, "{}", public.text());
    assert!(!public.text().contains("consumer_key_unknown"));
    // The monitoring host can.
    let scraped = raw_exchange_from(server.addr, Some(monitor), &get(&host, "/metrics", "")).await;
    assert_eq!(scraped.status, 200);
    assert!(
        scraped.text().contains("detail=\"consumer_key_unknown\""),
        "{}",
        scraped.text()
    );
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap11_trust_follows_the_forwarded_client_and_forward_auth_only_public_origins() {
    // A reverse proxy on this host: its own address is loopback, the default trusted service.
    let config = ServerConfig {
        trusted_proxies: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(TestDatabase::sqlite().await, config).await;
    let host = server.addr.to_string();
    let url = server.url("/app/site/hosting/restlet.nl");
    let body = json!({
        "method": "GET",
        "url": url,
        "headers": {"Authorization": authorization(&signer(), "GET", &url, None)},
    })
    .to_string();
    let verify = |forwarded: Option<&str>| {
        let mut request = format!(
            "POST /api/v1/verify HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if let Some(ip) = forwarded {
            request.push_str(&format!("X-Forwarded-For: {ip}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        request.into_bytes()
    };
    // An outside client, forwarded by the proxy: not a trusted service, so no Detail codes.
    let outside = raw_exchange(server.addr, &verify(Some(ELSEWHERE))).await;
    assert_eq!(outside.status, 403, "{}", outside.text());
    assert!(outside.json().get("detail").is_none());
    // A forwarded hop that is not an address is trusted with nothing; nor is a request from
    // the proxy that names no client at all (a proxy that forgot X-Forwarded-For).
    let junk = raw_exchange(server.addr, &verify(Some("not-an-address"))).await;
    assert_eq!(junk.status, 403);
    let unnamed = raw_exchange(server.addr, &verify(None)).await;
    assert_eq!(unnamed.status, 403, "{}", unnamed.text());
    // A service on this host, through the proxy or not, is.
    let local = raw_exchange(server.addr, &verify(Some("127.0.0.1"))).await;
    assert_eq!(local.status, 200, "{}", local.text());
    assert_eq!(local.json()["valid"], true);
    let metrics = raw_exchange(
        server.addr,
        &get(
            &host,
            "/metrics",
            &format!("X-Forwarded-For: {ELSEWHERE}\r\n"),
        ),
    )
    .await;
    assert_eq!(metrics.status, 403);

    // Forward-auth: a signature over a host that is not a public origin proves nothing here.
    let forward = |forwarded_host: &str| {
        let original = format!("http://{forwarded_host}/app/site/hosting/restlet.nl");
        let auth = authorization(&signer(), "GET", &original, None);
        get(
            &host,
            "/api/v1/forward-auth",
            &format!(
                "X-Forwarded-Host: {forwarded_host}\r\nX-Forwarded-Proto: http\r\n\
                 X-Forwarded-Uri: /app/site/hosting/restlet.nl\r\nAuthorization: {auth}\r\n"
            ),
        )
    };
    let foreign = raw_exchange(server.addr, &forward("anything.invalid")).await;
    assert_eq!(foreign.status, 401, "{}", foreign.text());
    let own = raw_exchange(server.addr, &forward(&host)).await;
    assert_eq!(own.status, 200, "{}", own.text());
    // Forward-auth is called by the proxy itself: the original client it names in
    // X-Forwarded-For is not the caller, and does not make the proxy untrusted.
    let mut named = forward(&host);
    let at = named.len() - 2;
    named.splice(
        at..at,
        format!("X-Forwarded-For: {ELSEWHERE}\r\n").into_bytes(),
    );
    let reply = raw_exchange(server.addr, &named).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    server.finish().await;
}

/// A page that rebinds its own host name to this server cannot use a browser on a trusted
/// host: the trusted-service endpoints answer only requests sent to a public origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_endpoints_answer_only_requests_sent_to_a_public_origin() {
    let server = TestServer::start(TestDatabase::sqlite().await).await;
    let rebound = format!("attacker.example:{}", server.addr.port());
    let metrics = raw_exchange(server.addr, &get(&rebound, "/metrics", "")).await;
    assert_eq!(metrics.status, 403, "{}", metrics.text());
    let body = r#"{"method":"GET","url":"http://127.0.0.1/x","headers":{}}"#;
    let verify = format!(
        "POST /api/v1/verify HTTP/1.1\r\nHost: {rebound}\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let reply = raw_exchange(server.addr, verify.as_bytes()).await;
    assert_eq!(reply.status, 403, "{}", reply.text());
    // The same from the server's own host name is answered.
    let own = raw_exchange(server.addr, &get(&server.addr.to_string(), "/metrics", "")).await;
    assert_eq!(own.status, 200);
    server.finish().await;
}
