//! The multi-node recipe end to end (`deploy/cluster`, RULES.md §6): three nodes on one
//! PostgreSQL database behind nginx. Through the balancer a signed request is accepted once,
//! a token revoked through one node is refused through all, and with one node killed the
//! balancer routes around it — no 5xx — once the `/readyz` watcher has noticed.
//! Needs nginx, psql and curl (scripts/test installs them) and PostgreSQL at
//! TESSERA_TEST_PG_URL (a database of the cluster's own is created there and dropped).

#![allow(clippy::unwrap_used)]

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const CK: &str = "e133adc2871bc19a63362a2dd75101df935716cfbfd7b04a3555a63e9356cff4";
const CS: &str = "b7f962ea6fb978b771bbb4c8e7583a29bd9ba71843b789d2c5bff114ed1330e8";
const ALICE_TOKEN: &str = "eec0d2aea0e562a245abacb6fe5a60db7891cafa9488ef1ccf1ca1db7d1a9c22";
const ALICE_SECRET: &str = "b5f07efc4cabab965a220784c7fd59439b0a6d4baf951283d3425f5cf15d2721";
const ECHO: &str = "/app/site/hosting/restlet.nl?script=1&deploy=1";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Four consecutive free loopback ports: the balancer and three nodes.
fn free_ports() -> u16 {
    for base in (20_000..40_000).step_by(97) {
        if (0..4).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no four free consecutive ports");
}

/// The cluster of one test; stopped (its database dropped) however the test ends.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
    pg: String,
}

impl Cluster {
    fn script(&self, args: &[&str]) -> Output {
        Command::new(root().join("deploy/cluster"))
            .args(args)
            .env("TESSERA_BIN", env!("CARGO_BIN_EXE_tessera"))
            .env("TESSERA_CLUSTER_DIR", self.dir.path().join("cluster"))
            .env("TESSERA_CLUSTER_PORT", self.port.to_string())
            .env("TESSERA_CLUSTER_PG", &self.pg)
            .output()
            .unwrap()
    }

    fn url(&self, port: u16) -> String {
        format!("http://127.0.0.1:{port}{ECHO}")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.script(&["stop"]);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `curl`: the status of one request.
fn status(url: &str, authorization: Option<&str>) -> u16 {
    let mut curl = Command::new("curl");
    curl.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10"]);
    if let Some(a) = authorization {
        curl.args(["-H", &format!("Authorization: {a}")]);
    }
    text(&curl.arg(url).output().unwrap().stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

fn tessera(config: &Path, args: &[&str]) -> Output {
    support::tessera(config, args, "")
}

/// A fresh Authorization header for `url`, from `tessera sign --dry-run`.
fn signed(config: &Path, url: &str, token: &str, secret: &str) -> String {
    let out = tessera(
        config,
        &[
            "sign",
            "--dry-run",
            "--output",
            "json",
            "--consumer-key",
            CK,
            "--consumer-secret",
            CS,
            "--token",
            token,
            "--token-secret",
            secret,
            "--realm",
            "1234567",
            "GET",
            url,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["authorization"].as_str().unwrap().to_owned()
}

#[test]
fn three_nodes_behind_nginx_accept_once_revoke_everywhere_and_route_around_a_dead_node() {
    if std::env::var("TESSERA_TEST_PG").as_deref() == Ok("skip") {
        eprintln!("TESSERA_TEST_PG=skip: the multi-node test needs PostgreSQL; not run");
        return;
    }
    let pg = std::env::var("TESSERA_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let cluster = Cluster {
        dir: tempfile::tempdir().unwrap(),
        port: free_ports(),
        pg,
    };
    let started = cluster.script(&["start", "3"]);
    assert!(
        started.status.success(),
        "deploy/cluster start: {}{}",
        text(&started.stdout),
        text(&started.stderr)
    );
    let said = text(&started.stdout);
    let password = said
        .lines()
        .find_map(|l| l.split_once("password: ").map(|(_, p)| p.trim().to_owned()))
        .unwrap_or_else(|| panic!("no password in {said}"));
    let config = cluster.dir.path().join("cli");
    let balancer = cluster.url(cluster.port);
    let node = |n: u16| cluster.url(cluster.port + n);

    // One signed request, sent five times through the balancer: accepted once.
    let header = signed(&config, &balancer, ALICE_TOKEN, ALICE_SECRET);
    let statuses: Vec<u16> = (0..5).map(|_| status(&balancer, Some(&header))).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );

    // Revoked through node 2: refused through the balancer and on every node.
    let login = support::login_as_admin(
        &config,
        &format!("http://127.0.0.1:{}", cluster.port + 2),
        &password,
    );
    assert!(login.status.success(), "{}", text(&login.stderr));
    let listed = tessera(
        &config,
        &[
            "token",
            "list",
            "--search",
            "Alice - Acme",
            "--output",
            "json",
        ],
    );
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let key = listed["items"][0]["id"].as_i64().unwrap().to_string();
    let revoked = tessera(&config, &["token", "revoke", &key]);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    for url in [
        balancer.clone(),
        balancer.clone(),
        node(1),
        node(2),
        node(3),
    ] {
        let header = signed(&config, &url, ALICE_TOKEN, ALICE_SECRET);
        assert_eq!(status(&url, Some(&header)), 401, "{url}");
    }

    // A token of the administrator's, then node 3 killed: once the watcher has taken it out,
    // every call through the balancer is answered by the others.
    let created = tessera(
        &config,
        &[
            "token",
            "create",
            "--application",
            "2",
            "--user",
            "1",
            "--role",
            "3",
            "--name",
            "through the balancer",
            "--output",
            "json",
        ],
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let (token, secret) = (
        created["token_id"].as_str().unwrap().to_owned(),
        created["token_secret"].as_str().unwrap().to_owned(),
    );
    let state = cluster.dir.path().join("cluster");
    let pid = std::fs::read_to_string(state.join("node3.pid")).unwrap();
    assert!(
        Command::new("kill")
            .arg(pid.trim())
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = std::fs::read_to_string(state.join("watch.log")).unwrap_or_default();
        if log
            .lines()
            .last()
            .is_some_and(|l| l.ends_with("ready: 1 2"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the watcher never took node 3 out: {log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let statuses: Vec<u16> = (0..20)
        .map(|_| {
            status(
                &balancer,
                Some(&signed(&config, &balancer, &token, &secret)),
            )
        })
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}
