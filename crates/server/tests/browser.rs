//! The admin web UI in headless Chromium (Debian's `chromium`, driven by `playwright-core` from
//! npm): `tests/browser/ui.js` clicks through the seed's two procedures on a real server and
//! checks what only a browser can (stored payloads never run, cookies, CSP, a phone's width).
//! `TESSERA_SCREENSHOTS=DIR` also saves the README's screenshots there.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;
use support::*;
use tessera_core::Actor;
use tessera_core::ids::{AccountId, UserId};
use tessera_core::model::Context;
use tessera_store::testing::TestDatabase;

const CHROMIUM: &str = "/usr/bin/chromium";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_carries_out_the_seed_procedures_in_a_browser() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "the browser tests need Debian's chromium at {CHROMIUM}: `apt-get install chromium` (scripts/test does)"
    );
    let node_modules = interop_dir().join("node/node_modules");
    let server = TestServer::start(TestDatabase::sqlite().await).await;
    let password = "correct horse battery staple";
    server
        .tessera()
        .set_password(
            &Actor::Operator {
                context: Context::Cli,
            },
            &AccountId::parse(ACCOUNT).unwrap(),
            UserId::new(1),
            Some(&secret(password)),
        )
        .await
        .unwrap();
    let config = json!({
        "base": server.url(""),
        "account": ACCOUNT,
        "email": "admin@example.com",
        "password": password,
        "chromium": CHROMIUM,
        "fixture": {
            "consumer_key": CONSUMER_KEY,
            "consumer_secret": CONSUMER_SECRET,
            "token_id": TOKEN2_ID,
            "token_secret": TOKEN2_SECRET,
        },
        "screenshots": std::env::var("TESSERA_SCREENSHOTS").ok(),
    });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/ui.js");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&script)
            .arg(config.to_string())
            .env("NODE_PATH", node_modules)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser test failed:\n{log}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"ok":true}"#,
        "{log}"
    );
    server.finish().await;
}
