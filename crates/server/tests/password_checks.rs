//! Issue 14, gap 4: every password check runs Argon2 once — for an unknown account, an unknown
//! email or a user without a password too (a dummy hash with the same parameters) — so the
//! time of an answer does not tell who exists. (The times themselves are in BENCHMARKS.md.)
//! Its own test binary: the count is process-wide.

#![allow(clippy::unwrap_used)]

mod support;

use support::*;
use tessera_core::SecretString;
use tessera_core::ids::{AccountId, Email};

async fn every_path_runs_argon2_once(server: &TestServer) {
    let tessera = server.tessera();
    let account = AccountId::parse(ACCOUNT).unwrap();
    let nowhere = AccountId::parse("7777777").unwrap();
    let admin = Email::parse("admin@example.com").unwrap();
    let alice = Email::parse("alice@example.com").unwrap(); // no password
    let nobody = Email::parse("nobody@example.com").unwrap();
    let guess = SecretString::from("a wrong password".to_owned());
    for (what, account, email) in [
        ("a wrong password", &account, &admin),
        ("a user without a password", &account, &alice),
        ("an unknown email", &account, &nobody),
        ("an unknown account", &nowhere, &admin),
    ] {
        let before = tessera_core::password_hash_checks();
        let user = tessera
            .check_password(account, email, &guess)
            .await
            .unwrap();
        assert!(user.is_none(), "{what}");
        assert_eq!(
            tessera_core::password_hash_checks() - before,
            1,
            "{what}: one Argon2 verification"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap04_unknown_users_cost_one_argon2_like_known_ones() {
    // One store after the other: nothing else in this process checks passwords meanwhile.
    let server = TestServer::start(tessera_store::testing::TestDatabase::sqlite().await).await;
    every_path_runs_argon2_once(&server).await;
    server.finish().await;
    if let Some(db) = tessera_store::testing::TestDatabase::postgres().await {
        let server = TestServer::start(db).await;
        every_path_runs_argon2_once(&server).await;
        server.finish().await;
    }
}
