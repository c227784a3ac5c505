//! A real server on 127.0.0.1, port 0, over SQLite or PostgreSQL, with known fixtures; and a
//! small HTTP client that sends exactly the bytes a test asks for.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tessera_core::Tessera;
use tessera_core::bootstrap::{BootstrapSettings, bootstrap_if_empty};
use tessera_core::fixtures;
use tessera_core::vault::{Keyring, MasterKey};
use tessera_oauth1::{RequestToSign, SecretString, Signer};
use tessera_server::{AppState, ServerConfig};
use tessera_store::testing::TestDatabase;
use tokio::sync::oneshot;

pub mod web;

pub const ACCOUNT: &str = "1234567";
pub const CONSUMER_KEY: &str = "14d909a0db36882645f9feb1767a261a7babea5aeb1b075bb2556ee3b1dc1b03";
pub const CONSUMER_SECRET: &str =
    "905eb22513665884da23f85fef0d2d0d6734b86ae54fc4bdef71b115030e0938";
pub const TOKEN_ID: &str = "80b521502b5a9fb54997747f384819a65f6bc4deebf01cd594c0e8fec554959b";
pub const TOKEN_SECRET: &str = "c9cfbec3aa24fd206ed099d2e8c53dcdea13ac380fa80e0c9d52873521253007";
/// A second token of the same user and role, for changes that must not touch the first.
pub const TOKEN2_ID: &str = "1e74df080da0ca9edd5e69fdf4beede9baa51523282551f135a95b151979bbc8";
pub const TOKEN2_SECRET: &str = "bb2ee7ea5cc85ce5b25c048f1d3b998d5308b3104d14cffaf2d3a066deeae53e";

/// The fixtures every server test starts with.
pub const FIXTURES: &str = r#"
[[roles]]
account = "1234567"
name = "Integration User"
permissions = ["LOG_IN_USING_ACCESS_TOKENS", "REST_WEB_SERVICES"]

[[users]]
account = "1234567"
name = "Alice Able"
email = "alice@example.com"
roles = ["Integration User"]

[[integrations]]
account = "1234567"
name = "Acme Sync"
consumer_key = "14d909a0db36882645f9feb1767a261a7babea5aeb1b075bb2556ee3b1dc1b03"
consumer_secret = "905eb22513665884da23f85fef0d2d0d6734b86ae54fc4bdef71b115030e0938"

[[tokens]]
account = "1234567"
integration = "Acme Sync"
user = "alice@example.com"
role = "Integration User"
name = "alice sync"
token_id = "80b521502b5a9fb54997747f384819a65f6bc4deebf01cd594c0e8fec554959b"
token_secret = "c9cfbec3aa24fd206ed099d2e8c53dcdea13ac380fa80e0c9d52873521253007"

[[tokens]]
account = "1234567"
integration = "Acme Sync"
user = "alice@example.com"
role = "Integration User"
name = "alice second"
token_id = "1e74df080da0ca9edd5e69fdf4beede9baa51523282551f135a95b151979bbc8"
token_secret = "bb2ee7ea5cc85ce5b25c048f1d3b998d5308b3104d14cffaf2d3a066deeae53e"
"#;

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    db: Option<TestDatabase>,
}

impl Deref for TestServer {
    type Target = TestDatabase;

    fn deref(&self) -> &TestDatabase {
        self.db.as_ref().unwrap()
    }
}

pub fn keyring() -> Arc<Keyring> {
    Arc::new(Keyring::new(vec![MasterKey::generate().unwrap()]).unwrap())
}

impl TestServer {
    pub async fn start(db: TestDatabase) -> Self {
        let mut config = ServerConfig::default();
        // Every client of a test comes from 127.0.0.1; some open a thousand connections.
        config.edge.max_connections_per_address = Some(4096);
        Self::start_with(db, config).await
    }

    pub async fn start_with(db: TestDatabase, config: ServerConfig) -> Self {
        let tessera = Tessera::new(Arc::new(db.store.clone()), keyring());
        bootstrap_if_empty(
            &tessera,
            &BootstrapSettings {
                account: ACCOUNT.parse_account(),
                account_name: "Wolfe Electronics".into(),
                admin_name: "Ada Admin".into(),
                admin_email: tessera_core::ids::Email::parse("admin@example.com").unwrap(),
            },
            |_| Ok(()),
        )
        .await
        .unwrap()
        .unwrap();
        let f = fixtures::Fixtures::parse(FIXTURES).unwrap();
        fixtures::apply_at_first_start(&tessera, &f, Some(&ACCOUNT.parse_account()))
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState::new(tessera, config, addr, 15);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(tessera_server::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            state,
            shutdown: Some(tx),
            task: Some(task),
            db: Some(db),
        }
    }

    pub fn tessera(&self) -> &Tessera {
        self.state.tessera()
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    /// Graceful shutdown; returns the database, still there.
    pub async fn stop(mut self) -> TestDatabase {
        let _ = self.shutdown.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
        self.db.take().unwrap()
    }

    pub async fn finish(self) {
        self.stop().await.finish().await;
    }
}

trait ParseAccount {
    fn parse_account(&self) -> tessera_core::ids::AccountId;
}

impl ParseAccount for str {
    fn parse_account(&self) -> tessera_core::ids::AccountId {
        tessera_core::ids::AccountId::parse(self).unwrap()
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a fresh connection.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut request = Request::builder().method(method).uri(target);
    let has_host = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host"));
    if !has_host {
        request = request.header("host", addr.to_string());
    }
    for (n, v) in headers {
        request = request.header(*n, *v);
    }
    let response = sender
        .send_request(
            request
                .body(Full::new(Bytes::copy_from_slice(body)))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

pub fn secret(s: &str) -> SecretString {
    SecretString::from(s)
}

/// The fixture token's signer.
pub fn signer() -> Signer {
    signer_for(CONSUMER_KEY, CONSUMER_SECRET, TOKEN_ID, TOKEN_SECRET)
}

pub fn signer_for(ck: &str, cs: &str, tid: &str, ts: &str) -> Signer {
    Signer::new(ck, &secret(cs), tid, &secret(ts)).with_realm(ACCOUNT)
}

/// Signs `method url` (optionally a form body) and returns the Authorization header.
pub fn authorization(signer: &Signer, method: &str, url: &str, form: Option<&[u8]>) -> String {
    signer
        .sign(&RequestToSign {
            method,
            url,
            form_body: form,
            ..RequestToSign::default()
        })
        .unwrap()
        .authorization
}

/// The `Authorization` of an admin API request: a body (when there is one) is bound to the
/// signature by its SHA-256 `oauth_body_hash`, as the admin API requires.
pub fn signed_with_body_hash(signer: &Signer, method: &str, url: &str, body: &[u8]) -> String {
    signer
        .sign(&RequestToSign {
            method,
            url,
            body_hash: (!body.is_empty())
                .then_some((tessera_oauth1::body_hash::BodyHashAlgorithm::Sha256, body)),
            ..RequestToSign::default()
        })
        .unwrap()
        .authorization
}

/// A GET of `path_and_query` signed by `signer`.
pub async fn signed_get_as(server: &TestServer, signer: &Signer, path_and_query: &str) -> Reply {
    let auth = authorization(signer, "GET", &server.url(path_and_query), None);
    send(
        server.addr,
        "GET",
        path_and_query,
        &[("authorization", &auth)],
        b"",
    )
    .await
}

/// A signed GET of `path_and_query` on the server, with the fixture token.
pub async fn signed_get(server: &TestServer, path_and_query: &str) -> Reply {
    let url = server.url(path_and_query);
    let auth = authorization(&signer(), "GET", &url, None);
    send(
        server.addr,
        "GET",
        path_and_query,
        &[("authorization", &auth)],
        b"",
    )
    .await
}

/// Runs each named `async fn(&TestServer)` on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = tessera_store::testing::TestDatabase::sqlite().await;
                    let server = $crate::support::TestServer::start(db).await;
                    super::$name(&server).await;
                    server.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = tessera_store::testing::TestDatabase::postgres().await else {
                        eprintln!("TESSERA_TEST_PG=skip: PostgreSQL half not run");
                        return;
                    };
                    let server = $crate::support::TestServer::start(db).await;
                    super::$name(&server).await;
                    server.finish().await;
                }
            )*
        }
    };
}

/// The login audit trail, newest first, once the verifier's writer has written everything
/// handed to it.
pub async fn trail(server: &TestServer) -> Vec<tessera_core::store::LoginAttempt> {
    server.state.verifier().flush().await;
    server
        .tessera()
        .store()
        .login_attempts(&tessera_core::store::AttemptQuery {
            limit: 1000,
            ..tessera_core::store::AttemptQuery::default()
        })
        .await
        .unwrap()
}

/// The bootstrap administrator (user 1) acting as Administrator in the fixture account.
pub fn admin_actor() -> tessera_core::Actor {
    tessera_core::Actor::user(
        &ACCOUNT.parse_account(),
        tessera_core::ids::UserId::new(1),
        tessera_core::ids::RoleId::ADMINISTRATOR,
        tessera_core::model::Context::Api,
    )
}

/// A second account, `7654321`, made by the operator, with one administrator; returns the
/// account and that administrator's id.
pub async fn other_account(
    server: &TestServer,
    require_approval_for_auto_install: bool,
    admin_email: &str,
    admin_password: Option<&str>,
) -> (tessera_core::ids::AccountId, tessera_core::ids::UserId) {
    use tessera_core::ids::RoleId;
    let operator = tessera_core::Actor::Operator {
        context: tessera_core::model::Context::Cli,
    };
    let other = "7654321".parse_account();
    let tessera = server.tessera();
    tessera
        .create_account(
            &operator,
            tessera_core::NewAccountInput {
                id: other.clone(),
                name: "Other Co".into(),
                tba_enabled: true,
                require_approval_for_auto_install,
                concurrency_limit: None,
            },
        )
        .await
        .unwrap();
    let admin = tessera
        .create_user(
            &operator,
            &other,
            tessera_core::NewUserInput {
                name: "Other Admin".into(),
                email: tessera_core::ids::Email::parse(admin_email).unwrap(),
                password: admin_password.map(SecretString::from),
                roles: vec![RoleId::ADMINISTRATOR],
            },
        )
        .await
        .unwrap();
    (other, admin.id)
}

/// The folder with the clients; installed once per test run when missing.
pub fn interop_dir() -> &'static std::path::PathBuf {
    use std::path::PathBuf;
    use std::process::Command;
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = std::env::var_os("TESSERA_INTEROP_DIR")
            .map_or_else(|| root.join("target/interop"), PathBuf::from);
        let status = Command::new(root.join("scripts/interop-deps"))
            .arg(&dir)
            .status()
            .expect("scripts/interop-deps runs");
        assert!(
            status.success(),
            "scripts/interop-deps could not install the interop clients into {}",
            dir.display()
        );
        dir
    })
}

/// Writes `bytes` as they are on a fresh connection and reads the one answer (the request
/// should say `Connection: close`, or be one the server closes after).
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> Reply {
    raw_exchange_from(addr, None, bytes).await
}

/// As `raw_exchange`, from a chosen local address (another loopback address is another client).
pub async fn raw_exchange_from(
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
    bytes: &[u8],
) -> Reply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = connect_from(addr, local).await;
    stream.write_all(bytes).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut buf = [0u8; 8192];
        loop {
            let n: usize = stream.read(&mut buf).await.unwrap_or_default();
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            if let Some(reply) = parse_reply(&raw) {
                return reply;
            }
        }
        parse_reply(&raw).unwrap_or_else(|| {
            panic!(
                "no complete answer; got {:?}",
                String::from_utf8_lossy(&raw)
            )
        })
    })
    .await
    .expect("the server did not answer within 10 s")
}

/// A TCP connection to `addr`, from `local` when given.
pub async fn connect_from(
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
) -> tokio::net::TcpStream {
    match local {
        None => tokio::net::TcpStream::connect(addr).await.unwrap(),
        Some(ip) => {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(SocketAddr::new(ip, 0)).unwrap();
            socket.connect(addr).await.unwrap()
        }
    }
}

/// One HTTP/1.1 answer with a Content-Length body, if `raw` holds it whole.
fn parse_reply(raw: &[u8]) -> Option<Reply> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut headers = hyper::HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.append(
            hyper::header::HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
            hyper::header::HeaderValue::from_str(value.trim()).ok()?,
        );
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    let body = &raw[end + 4..];
    if body.len() < length {
        return None;
    }
    Some(Reply {
        status,
        headers,
        body: Bytes::copy_from_slice(&body[..length]),
    })
}
