//! The verifier's write path alone: groups of claims (each with its audit row) committed through
//! `Store::record_logins`, as the writer task does, without HTTP or signing.
//!
//! ```text
//! cargo run --release -p tessera-store --example claims_bench -- sqlite 32 2000
//! cargo run --release -p tessera-store --example claims_bench -- postgres 32 2000
//! ```
//! Arguments: engine, claims per group, groups. Prints the time per group and per claim.

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use tessera_core::ids::{AccountId, ConsumerKey, TokenId, TokenKey};
use tessera_core::model::Timestamp;
use tessera_core::store::{LoginAttempt, NonceClaim, Store};
use tessera_core::verifier::nonce_digest;
use tessera_store::testing::TestDatabase;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let engine = args.get(1).map_or("sqlite", String::as_str);
    let group: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    let groups: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let db = match engine {
        "postgres" => TestDatabase::postgres().await.unwrap(),
        _ => TestDatabase::sqlite().await,
    };
    let store = db.store.clone();
    let ck = ConsumerKey::parse(&"a".repeat(64)).unwrap();
    let tid = TokenId::parse(&"b".repeat(64)).unwrap();
    let now = Timestamp::now().millis() / 1000;
    let started = Instant::now();
    let mut accepted = 0usize;
    for g in 0..groups {
        let claims: Vec<NonceClaim> = (0..group)
            .map(|i| NonceClaim {
                digest: nonce_digest(ck.as_str(), tid.as_str(), &format!("n{g}-{i}"), now as u64),
                consumer_key: ck.clone(),
                token_id: tid.clone(),
                timestamp: now,
                touch_last_used: false,
                answer_by: None,
                client_ip: Some(std::net::IpAddr::from([127, 0, 0, 1])),
                success: LoginAttempt {
                    at: Timestamp::now(),
                    account: Some(AccountId::parse("1234567").unwrap()),
                    user_name: Some("Alice Able".into()),
                    email: Some("alice@example.com".into()),
                    role_name: Some("Integration User".into()),
                    ip: "127.0.0.1".into(),
                    method: "GET".into(),
                    request_uri: "/app/site/hosting/restlet.nl?script=1&deploy=1".into(),
                    surface: "restlet".into(),
                    success: true,
                    detail: tessera_core::Detail::Success,
                    application_name: Some("Acme Sync".into()),
                    token: Some(TokenKey::new(1)),
                    token_name: Some("alice".into()),
                    ..LoginAttempt::default()
                },
            })
            .collect();
        accepted += store
            .record_logins(claims, Vec::new())
            .await
            .unwrap()
            .iter()
            .filter(|a| **a)
            .count();
    }
    let took = started.elapsed();
    println!(
        "{engine}: {groups} groups of {group}: {:.0} µs per group, {:.1} µs per claim, {:.0} claims/s ({accepted} accepted)",
        took.as_micros() as f64 / groups as f64,
        took.as_micros() as f64 / (groups * group) as f64,
        (groups * group) as f64 / took.as_secs_f64()
    );
    db.finish().await;
}
