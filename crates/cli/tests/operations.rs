//! What an operator meets around the guarantees, with the real binary: several nodes started
//! at once on one empty PostgreSQL, a first start killed at any moment, a node without the
//! cluster's master key, a database outage (through a proxy the test cuts, never the machine's
//! own PostgreSQL), and the shutdown grace.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{CK, FIXTURES, RESTLET, Server, TS};
use tessera_store::testing::EmptySchema;

const PASSWORD_LINE: &str = "Password (shown once; store it now): ";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn new_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Random bytes from the kernel (the test needs no crate for it).
fn getrandom(buf: &mut [u8]) {
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(buf)
        .unwrap();
}

/// A GET over a fresh connection: status, body and how long the answer took.
fn get(port: u16, path: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let took = started.elapsed();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body, took)
}

/// `tessera sign` with the fixture token: the status line it reports, its stdout, and how long
/// it took.
fn signed(server: &Server) -> (String, String, Duration) {
    let started = Instant::now();
    let out = support::sign_with(TS, &[], &server.url(RESTLET));
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        started.elapsed(),
    )
}

/// `tessera login` with a password: whether the administrator can sign in.
fn can_log_in(server: &Server, password: &str) -> bool {
    can_log_in_as(server, "admin@example.com", password)
}

/// `tessera login` as `email`, with the Administrator role.
fn can_log_in_as(server: &Server, email: &str, password: &str) -> bool {
    let config = tempfile::tempdir().unwrap();
    let mut child = Command::new(support::bin())
        .args([
            "login",
            "--url",
            &server.base(),
            "--account",
            "1234567",
            "--email",
            email,
            "--role",
            "3",
            "--password-stdin",
        ])
        .env("TESSERA_CONFIG_DIR", config.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait().unwrap().success()
}

fn passwords(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(PASSWORD_LINE))
        .map(str::to_owned)
        .collect()
}

// Gap 1: nodes started at once on one empty PostgreSQL all end up serving the same first start.
#[test]
fn nodes_started_at_once_on_an_empty_postgresql_all_serve() {
    let rt = runtime();
    for round in 0..20 {
        let Some(schema) = rt.block_on(EmptySchema::create()) else {
            return;
        };
        let url = schema.url();
        let key = new_key();
        let with_fixtures = round % 2 == 0;
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let started: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = dirs
                .iter()
                .map(|dir| {
                    let (url, key) = (url.clone(), key.clone());
                    scope.spawn(move || {
                        let mut args = vec!["--database-url", url.as_str()];
                        if with_fixtures {
                            args.extend(["--fixtures", FIXTURES]);
                        }
                        if round == 3 {
                            // The start lock holds a connection of its own, not the pool's.
                            args.extend(["--db-connections", "1"]);
                        }
                        Server::try_start(dir.path(), &args, &[("TESSERA_MASTER_KEY", &key)])
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let servers: Vec<Server> = started
            .into_iter()
            .map(|s| {
                s.unwrap_or_else(|(out, err)| {
                    panic!("round {round}: a node did not start:\n{out}\n{err}")
                })
            })
            .collect();
        // The password is shown by the node that created the administrator, and only there.
        let shown: Vec<String> = servers.iter().flat_map(|s| passwords(&s.banner)).collect();
        assert_eq!(shown.len(), 1, "round {round}: {shown:?}");
        let creators = servers
            .iter()
            .filter(|s| s.banner.contains("Created account 1234567"))
            .count();
        assert_eq!(creators, 1, "round {round}");
        for server in &servers {
            let (status, body, _) = get(server.port, "/readyz");
            assert_eq!(status, 200, "round {round}: {body}");
            if with_fixtures && round == 0 {
                let (status, _, _) = signed(server);
                assert!(status.contains("200"), "round {round}: {status}");
            }
        }
        if round == 1 {
            assert!(can_log_in(&servers[2], &shown[0]));
        }
        drop(servers);
        rt.block_on(schema.drop_schema());
    }
}

// Gap 2: a first start killed at any moment leaves nothing or all of it; the next start serves
// and the administrator can sign in with a password that was shown.
#[test]
fn a_first_start_killed_at_any_moment_leaves_a_usable_administrator() {
    // How long a whole first start takes here: the kills are spread over it.
    let whole = {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let server = Server::try_start(dir.path(), &[], &[]).unwrap();
        let took = started.elapsed();
        server.kill();
        took
    };
    const KILLS: u32 = 30;
    let mut outcomes = [0usize; 2];
    for attempt in 0..KILLS {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(support::bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env_remove("TESSERA_MASTER_KEY")
            .env_remove("TESSERA_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole * attempt / KILLS);
        child.kill().unwrap();
        let mut first = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut first)
            .unwrap();
        child.wait().unwrap();
        let server = Server::try_start(dir.path(), &[], &[]).unwrap_or_else(|(out, err)| {
            panic!("attempt {attempt}: the start after kill -9 failed:\n{first}\n{out}\n{err}")
        });
        let second = passwords(&server.banner);
        // A start that found the first account shows no password; one that created it shows one.
        let password = match second.as_slice() {
            [] => {
                outcomes[0] += 1;
                passwords(&first).pop().unwrap_or_else(|| {
                    panic!("attempt {attempt}: an account with no password shown:\n{first}")
                })
            }
            [p] => {
                outcomes[1] += 1;
                p.clone()
            }
            more => panic!("attempt {attempt}: {more:?}"),
        };
        assert!(
            can_log_in(&server, &password),
            "attempt {attempt}: the administrator cannot sign in"
        );
        let (status, _, _) = get(server.port, "/readyz");
        assert_eq!(status, 200);
    }
    eprintln!(
        "first start completed before the kill: {}, redone: {}",
        outcomes[0], outcomes[1]
    );
}

// The operator's repair: an account gets an administrator back, from the data directory.
#[test]
fn recover_admin_gives_an_account_an_administrator_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let old = server.admin_password();
    server.kill();
    let recover = |email: &str| {
        let out = Command::new(support::bin())
            .args([
                "recover-admin",
                "--account",
                "1234567",
                "--email",
                email,
                "--data-dir",
            ])
            .arg(dir.path())
            .env_remove("TESSERA_MASTER_KEY")
            .env_remove("TESSERA_DATABASE_URL")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (stdout.clone(), passwords(&stdout).pop().unwrap())
    };
    let (said, restored) = recover("admin@example.com");
    assert!(
        said.starts_with("Restored administrator admin@example.com"),
        "{said}"
    );
    let (said, created) = recover("ops@example.com");
    assert!(
        said.starts_with("Created administrator ops@example.com"),
        "{said}"
    );
    let server = Server::try_start(dir.path(), &[], &[]).unwrap();
    assert!(can_log_in(&server, &restored));
    assert!(
        !can_log_in(&server, &old),
        "the old password no longer works"
    );
    assert!(can_log_in_as(&server, "ops@example.com", &created));

    // An unknown account is refused by name, and nothing is printed as a password.
    server.kill();
    let out = Command::new(support::bin())
        .args(["recover-admin", "--account", "7654321", "--data-dir"])
        .arg(dir.path())
        .env_remove("TESSERA_MASTER_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(passwords(&String::from_utf8_lossy(&out.stdout)).is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("account not found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// Gap 3: a node whose master key cannot open the database's secrets refuses to start, naming
// the key and where it looked; a node with none makes no new key for such a database.
#[test]
fn a_node_without_the_clusters_master_key_refuses_to_start() {
    let rt = runtime();
    let Some(schema) = rt.block_on(EmptySchema::create()) else {
        return;
    };
    let url = schema.url();
    let first = tempfile::tempdir().unwrap();
    let server = Server::start(first.path(), &["--database-url", &url]);
    let key_file = std::fs::read_to_string(first.path().join("master.key")).unwrap();
    let key_line = key_file.lines().find(|l| !l.starts_with('#')).unwrap();

    // No key at all: refused, and no key file made.
    let bare = tempfile::tempdir().unwrap();
    let (_, err) = Server::try_start(bare.path(), &["--database-url", &url], &[])
        .err()
        .expect("a node without the key must not start");
    assert!(err.contains("no master key"), "{err}");
    assert!(err.contains("TESSERA_MASTER_KEY is not set"), "{err}");
    assert!(
        err.contains(&bare.path().join("master.key").display().to_string()),
        "{err}"
    );
    assert!(!bare.path().join("master.key").exists());
    let key_id = err
        .split("sealed with master key ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .to_owned();
    assert_eq!(key_id.len(), 16, "{err}");

    // Another key, from the environment: refused, naming both keys and the variable.
    let other = new_key();
    let (_, err) = Server::try_start(
        bare.path(),
        &["--database-url", &url],
        &[("TESSERA_MASTER_KEY", &other)],
    )
    .err()
    .expect("a node with another key must not start");
    assert!(
        err.contains("environment variable TESSERA_MASTER_KEY"),
        "{err}"
    );
    assert!(err.contains(&key_id), "{err}");

    // The cluster's key, from the environment: serves.
    let joined = Server::try_start(
        bare.path(),
        &["--database-url", &url],
        &[("TESSERA_MASTER_KEY", key_line)],
    )
    .unwrap_or_else(|(out, err)| panic!("{out}\n{err}"));
    assert_eq!(get(joined.port, "/readyz").0, 200);

    // A key made active elsewhere that this node lacks: /readyz says so.
    rt.block_on(schema.execute(
        "INSERT INTO master_key_checks (key_id, check_value, created_at) \
         VALUES ('00000000000000ff', decode('01020304', 'hex'), 0)",
    ));
    let (status, body, _) = get(server.port, "/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("MASTER_KEY_MISMATCH"), "{body}");
    drop((server, joined));
    rt.block_on(schema.drop_schema());

    // SQLite: the data directory's key file swapped for another key.
    let dir = tempfile::tempdir().unwrap();
    Server::start(dir.path(), &[]).kill();
    std::fs::write(dir.path().join("master.key"), format!("{}\n", new_key())).unwrap();
    let (_, err) = Server::try_start(dir.path(), &[], &[])
        .err()
        .expect("a swapped key file must not start");
    assert!(err.contains("does not fit this database"), "{err}");
    assert!(err.contains("master.key"), "{err}");
}

/// A TCP proxy in front of PostgreSQL that a test can cut: `Refuse` closes every connection
/// and the listening socket (the database is down), `Silent` keeps connections open but
/// passes nothing (a network that drops packets), `Up` forwards.
mod proxy {
    use std::sync::Arc;

    use tokio::io::AsyncWriteExt as _;
    use tokio::net::{TcpListener, TcpSocket, TcpStream};
    use tokio::sync::watch;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Mode {
        Up,
        Refuse,
        Silent,
        /// A failover: connections open now stay silent for good; new ones are forwarded.
        Failover,
    }

    pub struct Proxy {
        pub port: u16,
        mode: Arc<watch::Sender<Mode>>,
    }

    impl Proxy {
        pub async fn start(upstream: String) -> Proxy {
            let listener = bind(0).await;
            let port = listener.local_addr().unwrap().port();
            let (mode, _) = watch::channel(Mode::Up);
            let mode = Arc::new(mode);
            tokio::spawn(accept(listener, port, upstream, mode.clone()));
            Proxy { port, mode }
        }

        pub fn set(&self, mode: Mode) {
            self.mode.send_replace(mode);
        }
    }

    async fn bind(port: u16) -> TcpListener {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket
            .bind(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .unwrap();
        socket.listen(128).unwrap()
    }

    async fn accept(
        mut listener: TcpListener,
        port: u16,
        upstream: String,
        mode: Arc<watch::Sender<Mode>>,
    ) {
        let mut changes = mode.subscribe();
        loop {
            if *changes.borrow_and_update() == Mode::Refuse {
                drop(listener);
                while *changes.borrow_and_update() == Mode::Refuse {
                    if changes.changed().await.is_err() {
                        return;
                    }
                }
                listener = bind(port).await;
                continue;
            }
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((client, _)) = accepted else { continue };
                    tokio::spawn(pipe(client, upstream.clone(), mode.subscribe()));
                }
                changed = changes.changed() => if changed.is_err() { return },
            }
        }
    }

    async fn pipe(mut client: TcpStream, upstream: String, mut mode: watch::Receiver<Mode>) {
        if !matches!(*mode.borrow_and_update(), Mode::Up | Mode::Failover) {
            // Silent: hold the connection, say nothing, until the mode changes.
            let _ = mode.changed().await;
            return;
        }
        let Ok(mut server) = TcpStream::connect(&upstream).await else {
            return;
        };
        loop {
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
                changed = mode.changed() => {
                    if changed.is_err() { return; }
                    let now = *mode.borrow_and_update();
                    match now {
                        Mode::Up => continue,
                        Mode::Refuse => {
                            let _ = client.shutdown().await;
                            return;
                        }
                        Mode::Silent => {
                            // Hold both ends without a byte through, until the next change.
                            let _ = mode.changed().await;
                            return;
                        }
                        Mode::Failover => {
                            // Dead for good: held, silent, until the proxy refuses or goes.
                            while mode.changed().await.is_ok() {
                                if *mode.borrow_and_update() == Mode::Refuse {
                                    return;
                                }
                            }
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// `GET /rest/issuetoken` with a wrong password for an unknown user: a sign-in that reads the
/// database (not the verifier's path). The status and how long the answer took.
fn issuetoken(port: u16, n: usize) -> (u16, Duration) {
    issuetoken_as(port, CK, &format!("nobody{n}@example.com"), "wrong")
}

/// `GET /rest/issuetoken` for the record of `consumer_key`, as `email` with `password`.
fn issuetoken_as(port: u16, consumer_key: &str, email: &str, password: &str) -> (u16, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET /rest/issuetoken?consumerKey={consumer_key} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Authorization: NLAuth nlauth_account=1234567, nlauth_email={email}, \
         nlauth_signature={password}, nlauth_role=3\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, started.elapsed())
}

/// Runs `workers` loops of [`issuetoken`] while `phase` runs; the slowest answer of all.
fn under_load<T>(port: u16, workers: usize, phase: impl FnOnce() -> T) -> (T, Duration) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slowest = std::sync::Arc::new(std::sync::Mutex::new(Duration::ZERO));
    let threads: Vec<_> = (0..workers)
        .map(|w| {
            let (stop, slowest) = (stop.clone(), slowest.clone());
            std::thread::spawn(move || {
                let mut n = w * 1000;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (_, took) = issuetoken(port, n);
                    n += 1;
                    let mut s = slowest.lock().unwrap();
                    *s = (*s).max(took);
                }
            })
        })
        .collect();
    let result = phase();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let slowest = *slowest.lock().unwrap();
    (result, slowest)
}

/// Polls until `check` holds or `within` passes.
fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

// Gaps 4 and 5: in a database outage, requests are answered 503 in the surface's shape within
// the acquire time-out, /readyz answers 503 within a second, the log names the driver's own
// cause, and service resumes without a restart.
#[test]
fn a_database_outage_is_answered_quickly_explained_and_survived() {
    let rt = runtime();
    let Some(schema) = rt.block_on(EmptySchema::create()) else {
        return;
    };
    let proxy = rt.block_on(proxy::Proxy::start(schema.server_address()));
    let url = schema.url_via(&format!("127.0.0.1:{}", proxy.port));
    let dir = tempfile::tempdir().unwrap();
    // The load below signs in with wrong passwords many times from one address.
    let config = dir.path().join("tessera.toml");
    std::fs::write(&config, "login_failures_per_hour = 1000000\n").unwrap();
    let config = config.display().to_string();
    let mut server = Server::try_start(
        dir.path(),
        &[
            "--config",
            &config,
            "--database-url",
            &url,
            "--fixtures",
            FIXTURES,
            "--db-acquire-timeout",
            "1",
            "--db-statement-timeout",
            "2",
        ],
        &[],
    )
    .unwrap_or_else(|(out, err)| panic!("{out}\n{err}"));
    let log = server.capture_stderr();
    assert!(signed(&server).0.contains("200"));
    // Every answer below comes within the acquire time-out (1 s) plus a round trip's deadline
    // (the statement time-out and a second: 3 s) plus the password check and a margin.
    let bound = Duration::from_secs(8);

    for cut in [
        proxy::Mode::Refuse,
        proxy::Mode::Silent,
        proxy::Mode::Failover,
    ] {
        // Sign-ins under way when the database goes: answered, not held.
        let ((), slowest) = under_load(server.port, 4, || {
            std::thread::sleep(Duration::from_millis(300));
            proxy.set(cut);
            std::thread::sleep(Duration::from_secs(5));
        });
        assert!(slowest < bound, "{cut:?}: a sign-in took {slowest:?}");
        if cut == proxy::Mode::Failover {
            // The new connections work: the node recovers by itself, its dead ones closed.
            assert!(
                eventually(Duration::from_secs(30), || get(server.port, "/readyz").0
                    == 200),
                "{cut:?}: /readyz did not recover"
            );
            assert!(
                eventually(Duration::from_secs(30), || signed(&server)
                    .0
                    .contains("200")),
                "{cut:?}: signed requests did not recover"
            );
            let ((), slowest) = under_load(server.port, 4, || {
                std::thread::sleep(Duration::from_secs(2));
            });
            assert!(
                slowest < Duration::from_secs(3),
                "after the failover: {slowest:?}"
            );
            continue;
        }
        // /readyz: within a second, 503, whether the database refuses or says nothing.
        let (status, body, took) = get(server.port, "/readyz");
        assert_eq!(status, 503, "{cut:?}: {body}");
        assert!(body.contains("STORE_UNREACHABLE"), "{cut:?}: {body}");
        assert!(
            took < Duration::from_millis(1500),
            "{cut:?}: /readyz took {took:?}"
        );
        // A signed request: 503 in the RESTlet's JSON shape, within two acquire time-outs.
        let (status, body, took) = signed(&server);
        assert!(status.contains("503"), "{cut:?}: {status}");
        assert!(body.contains("SERVICE_UNAVAILABLE"), "{cut:?}: {body}");
        assert!(
            took < Duration::from_secs(5),
            "{cut:?}: answered after {took:?}"
        );
        // Back up: served again without a restart.
        proxy.set(proxy::Mode::Up);
        assert!(
            eventually(Duration::from_secs(20), || get(server.port, "/readyz").0
                == 200),
            "{cut:?}: /readyz did not recover"
        );
        assert!(
            eventually(Duration::from_secs(20), || signed(&server)
                .0
                .contains("200")),
            "{cut:?}: signed requests did not recover"
        );
    }

    // Sign-ins the database could not check are not guesses: no lock-out after an outage.
    let password = server.admin_password();
    const CLI_KEY: &str = "88ddd7a1114da062e8e7978ca7e76b3521b2cd1c297cfb8e9c4409c44f4b19f7";
    proxy.set(proxy::Mode::Refuse);
    for _ in 0..12 {
        let (status, _) = issuetoken_as(server.port, CLI_KEY, "admin@example.com", &password);
        assert_eq!(status, 503);
    }
    proxy.set(proxy::Mode::Up);
    assert!(eventually(Duration::from_secs(20), || get(
        server.port,
        "/readyz"
    )
    .0 == 200));
    let (status, _) = issuetoken_as(server.port, CLI_KEY, "admin@example.com", &password);
    assert_eq!(
        status, 200,
        "the administrator is locked out after the outage"
    );

    let log = log.lock().unwrap().clone();
    // The driver's own words for a refused connection, in the line of the failed batch.
    assert!(
        log.lines()
            .any(|l| l.contains("writing batch failed") && l.contains("Connection refused")),
        "{log}"
    );
    assert!(log.contains("no database connection within 1s"), "{log}");
    assert!(!log.contains("the verifier is shut down"), "{log}");
    // Library noise stays out at the default level.
    assert!(!log.contains("ping on idle connection"), "{log}");
    assert!(!log.contains("already exists, skipping"), "{log}");
    drop(server);
    // Close what the proxy held open (sessions the schema's drop would wait for).
    proxy.set(proxy::Mode::Refuse);
    std::thread::sleep(Duration::from_millis(300));
    rt.block_on(schema.drop_schema());
}

/// Sends a POST whose body is `sent` bytes of the `length` it announces; the rest later.
fn partial_post(port: u16, length: usize, sent: usize) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST {RESTLET} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n{}",
        " ".repeat(sent)
    )
    .unwrap();
    stream
}

fn terminate(server: &Server) {
    Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
}

// Gap 6: a shutdown lets a request in flight finish within the grace, and ends the ones that
// would not after it.
#[test]
fn shutdown_grace_lets_a_slow_request_finish_and_ends_the_rest() {
    // A request still being sent when the shutdown comes is answered once it is whole.
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &["--shutdown-grace", "5"]);
    let mut slow = partial_post(server.port, 10, 5);
    std::thread::sleep(Duration::from_millis(200));
    terminate(&server);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        server.wait_exit(Duration::ZERO).is_none(),
        "exited with a request in flight"
    );
    slow.write_all(b"     ").unwrap();
    let mut answer = String::new();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = slow.read_to_string(&mut answer);
    // Unsigned: the RESTlet's 401 — an answer, not a dropped connection.
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        server
            .wait_exit(Duration::from_secs(5))
            .is_some_and(|s| s.success())
    );

    // One that never completes is cut off when the grace is over, not when its body times out.
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &["--shutdown-grace", "1"]);
    let _stuck = partial_post(server.port, 10, 5);
    std::thread::sleep(Duration::from_millis(200));
    let asked = Instant::now();
    terminate(&server);
    let status = server.wait_exit(Duration::from_secs(10));
    let took = asked.elapsed();
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert!(
        took >= Duration::from_millis(900),
        "ended before the grace: {took:?}"
    );
    assert!(
        took < Duration::from_secs(4),
        "took {took:?} for a 1 s grace"
    );
}
