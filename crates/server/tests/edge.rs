//! The HTTP edge over raw sockets (issue 14, gaps 1, 14 and 16): slow clients are closed in
//! time while others are served, connections are capped, requests are read strictly, and every
//! error the HTTP layer produces is answered in its surface's shape.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use support::*;
use tessera_server::{EdgeLimits, ServerConfig};
use tessera_store::testing::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn quick(limits: EdgeLimits) -> ServerConfig {
    ServerConfig {
        edge: limits,
        ..ServerConfig::default()
    }
}

fn one_second() -> EdgeLimits {
    EdgeLimits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        keepalive_timeout: Duration::from_secs(1),
        ..EdgeLimits::default()
    }
}

/// Reads until the server closes the connection (or `deadline`); what it sent before closing.
async fn until_closed(stream: &mut tokio::net::TcpStream, deadline: Instant) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap01_slow_clients_are_closed_in_time_while_others_are_served() {
    let server = TestServer::start_with(TestDatabase::sqlite().await, quick(one_second())).await;
    let host = server.addr.to_string();
    let kinds: [(&str, Vec<u8>); 4] = [
        ("idle", Vec::new()),
        ("half a request line", b"GET /heal".to_vec()),
        (
            "half the headers",
            format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Slow: ").into_bytes(),
        ),
        (
            "a body that never comes",
            format!(
                "POST /app/site/hosting/restlet.nl HTTP/1.1\r\nHost: {host}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            )
            .into_bytes(),
        ),
    ];
    let opened = Instant::now();
    let mut slow = Vec::new();
    for i in 0..200 {
        let (kind, bytes) = &kinds[i % kinds.len()];
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        slow.push((*kind, stream));
    }
    // Meanwhile a normal client is served at once.
    let started = Instant::now();
    let reply = send(server.addr, "GET", "/healthz", &[], b"").await;
    assert_eq!(reply.status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "a normal client waited {:?} behind 200 slow ones",
        started.elapsed()
    );
    // Every slow connection is closed within its one-second time-out (and a margin).
    let deadline = opened + Duration::from_secs(5);
    for (kind, mut stream) in slow {
        let got = until_closed(&mut stream, deadline)
            .await
            .unwrap_or_else(|| panic!("a connection with {kind} was still open after 5 s"));
        if kind == "a body that never comes" {
            let text = String::from_utf8_lossy(&got);
            assert!(text.starts_with("HTTP/1.1 408"), "{kind}: {text}");
            assert!(text.contains("REQUEST_TIMEOUT"), "{kind}: {text}");
        }
    }
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap01_connections_are_capped_per_address_and_in_all() {
    let limits = EdgeLimits {
        max_connections_per_address: Some(4),
        ..one_second()
    };
    let server = TestServer::start_with(TestDatabase::sqlite().await, quick(limits)).await;
    let here = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from(server.addr, here).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A fifth from the same address is closed without an answer.
    let mut fifth = connect_from(server.addr, here).await;
    let got = until_closed(&mut fifth, Instant::now() + Duration::from_millis(800))
        .await
        .expect("a fifth connection from one address stayed open");
    assert!(got.is_empty());
    // Another address is served.
    let other = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let host = server.addr.to_string();
    let reply = raw_exchange_from(
        server.addr,
        other,
        format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200);
    drop(held);
    server.finish().await;

    // In all: with every slot held by idle connections, a new client waits until the idle
    // ones time out, then is served.
    let limits = EdgeLimits {
        max_connections: 6,
        max_connections_per_address: Some(100),
        ..one_second()
    };
    let server = TestServer::start_with(TestDatabase::sqlite().await, quick(limits)).await;
    let mut held = Vec::new();
    for _ in 0..6 {
        held.push(connect_from(server.addr, None).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let reply = send(server.addr, "GET", "/healthz", &[], b"").await;
    assert_eq!(reply.status, 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(4),
        "served after {waited:?}: the cap did not hold, or the idle connections were not closed"
    );
    drop(held);
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap01_kept_alive_connections_close_after_the_keepalive_timeout() {
    // The keep-alive time-out is its own: shorter than the header time-out here.
    let limits = EdgeLimits {
        header_timeout: Duration::from_secs(30),
        body_timeout: Duration::from_secs(30),
        keepalive_timeout: Duration::from_secs(1),
        ..EdgeLimits::default()
    };
    let server = TestServer::start_with(TestDatabase::sqlite().await, quick(limits)).await;
    let host = server.addr.to_string();
    // One answered request, then nothing: closed after about a second.
    let mut kept = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let started = Instant::now();
    let got = until_closed(&mut kept, started + Duration::from_secs(5))
        .await
        .expect("a kept-alive connection was still open after 5 s");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // A connection that never sends anything: the same.
    let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    until_closed(&mut idle, started + Duration::from_secs(5))
        .await
        .expect("an idle connection was still open after 5 s");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    server.finish().await;
}

/// `GET /healthz` with these extra header lines, or another request line.
fn request(line: &str, host: &str, extra: &str) -> Vec<u8> {
    format!("{line}\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap14_requests_are_read_strictly() {
    let server = TestServer::start(TestDatabase::sqlite().await).await;
    let host = server.addr.to_string();
    let refused = |reply: &Reply, why: &str| {
        assert_eq!(reply.status, 400, "{why}: {}", reply.text());
        assert_eq!(reply.json()["error"]["code"], "INVALID_REQUEST", "{why}");
    };
    let two_hosts = format!(
        "GET /healthz HTTP/1.1\r\nHost: {host}\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
    );
    refused(
        &raw_exchange(server.addr, two_hosts.as_bytes()).await,
        "two Host headers",
    );
    let listed = request(
        "GET /healthz HTTP/1.1",
        &format!("{host}, evil.example"),
        "",
    );
    refused(&raw_exchange(server.addr, &listed).await, "a Host list");
    let foreign = request("GET http://evil.example/healthz HTTP/1.1", &host, "");
    refused(
        &raw_exchange(server.addr, &foreign).await,
        "absolute-form, another host",
    );
    let own = request(&format!("GET http://{host}/healthz HTTP/1.1"), &host, "");
    assert_eq!(
        raw_exchange(server.addr, &own).await.status,
        200,
        "absolute-form, own origin"
    );
    // Two different lengths, and requests hyper cannot parse at all, are refused before any
    // route: still with a JSON body.
    let lengths = request(
        "POST /healthz HTTP/1.1",
        &host,
        "Content-Length: 0\r\nContent-Length: 5\r\n",
    );
    refused(
        &raw_exchange(server.addr, &lengths).await,
        "two Content-Length headers",
    );
    refused(
        &raw_exchange(server.addr, b"GARBAGE\r\n\r\n").await,
        "no request line",
    );
    let huge = request(
        "GET /healthz HTTP/1.1",
        &host,
        &format!("X-Big: {}\r\n", "b".repeat(70_000)),
    );
    let reply = raw_exchange(server.addr, &huge).await;
    assert_eq!(reply.status, 431);
    assert_eq!(reply.json()["error"]["code"], "HEADERS_TOO_LARGE");

    // Two Content-Types: a form body the application would read as a form is not left
    // unsigned; the request is refused.
    let url = server.url("/app/site/hosting/restlet.nl");
    let auth = authorization(&signer(), "POST", &url, None);
    let body = "amount=1000000";
    let bytes = format!(
        "POST /app/site/hosting/restlet.nl HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\
         Content-Type: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    refused(
        &raw_exchange(server.addr, bytes.as_bytes()).await,
        "two Content-Type headers",
    );

    // Methods are case-sensitive: `get` is not `GET`, even with a signature over `GET`.
    let auth = authorization(&signer(), "GET", &url, None);
    let lower = request(
        "get /app/site/hosting/restlet.nl HTTP/1.1",
        &host,
        &format!("Authorization: {auth}\r\n"),
    );
    let reply = raw_exchange(server.addr, &lower).await;
    assert_eq!(reply.status, 405, "{}", reply.text());
    assert_eq!(reply.json()["error"]["code"], "METHOD_NOT_ALLOWED");
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap16_http_layer_errors_come_in_the_surface_shape_and_answers_are_not_stored() {
    let server = TestServer::start(TestDatabase::sqlite().await).await;
    let host = server.addr.to_string();

    let reply = raw_exchange(
        server.addr,
        &request(
            "POST /rest/issuetoken HTTP/1.1",
            &host,
            "Content-Length: 0\r\n",
        ),
    )
    .await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.json()["error"]["code"], "METHOD_NOT_ALLOWED");
    assert!(reply.headers.contains_key("allow"));

    let reply = raw_exchange(
        server.addr,
        &request(
            "POST /services/rest/record/v1/customer HTTP/1.1",
            &host,
            "Content-Type: application/json\r\nContent-Length: 20000000\r\n",
        ),
    )
    .await;
    assert_eq!(reply.status, 413);
    assert_eq!(
        reply.json()["o:errorDetails"][0]["o:errorCode"],
        "PAYLOAD_TOO_LARGE"
    );

    let long = "a".repeat(9000);
    let reply = raw_exchange(
        server.addr,
        &request(
            &format!("GET /app/site/hosting/restlet.nl?x={long} HTTP/1.1"),
            &host,
            "",
        ),
    )
    .await;
    assert_eq!(reply.status, 414);
    assert_eq!(reply.json()["error"]["code"], "URI_TOO_LONG");
    let reply = raw_exchange(
        server.addr,
        &request(
            &format!("GET /app/setup/access-tokens?x={long} HTTP/1.1"),
            &host,
            "",
        ),
    )
    .await;
    assert_eq!(reply.status, 414);
    assert!(
        reply.text().contains("<html"),
        "the web UI answers with a page"
    );

    let many: String = (0..150).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    let reply = raw_exchange(
        server.addr,
        &request("GET /rest/issuetoken HTTP/1.1", &host, &many),
    )
    .await;
    assert_eq!(reply.status, 431);
    assert_eq!(reply.json()["error"]["code"], "HEADERS_TOO_LARGE");

    // Answers are never stored by caches (some carry a secret once); no HSTS on plain HTTP.
    let echo = signed_get(&server, "/app/site/hosting/restlet.nl").await;
    assert_eq!(echo.status, 200);
    assert_eq!(echo.headers["cache-control"], "no-store");
    assert!(!echo.headers.contains_key("strict-transport-security"));
    let issued = send(
        server.addr,
        "GET",
        "/rest/issuetoken?consumerKey=x",
        &[],
        b"",
    )
    .await;
    assert_eq!(issued.headers["cache-control"], "no-store");
    server.finish().await;

    // HSTS on an https public origin.
    let config = ServerConfig {
        public_origins: vec!["https://tessera.example.com".parse().unwrap()],
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(TestDatabase::sqlite().await, config).await;
    let reply = raw_exchange(
        server.addr,
        &request("GET /healthz HTTP/1.1", "tessera.example.com", ""),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.headers["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    server.finish().await;
}
