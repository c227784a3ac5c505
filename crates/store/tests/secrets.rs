//! Secrets at rest, on both backends: nothing in plaintext, ciphertexts bound to their rows, and
//! master key rotation. Plus the master key file itself.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use sqlx::Row;
use support::Env;
use support::world::{self, OP, World};
use tessera_core::ids::Email;
use tessera_core::vault::{Keyring, MasterKey, VaultError};
use tessera_core::{Error, NewUserInput, ResetConfirmation, SecretString, Tessera};
use tessera_store::keyfile::{self, KeyFileError, MasterKeySource};
use tessera_store::{Backend, SqlStore};

on_both_backends!(
    secrets_are_never_stored_in_plaintext,
    a_ciphertext_moved_to_another_row_does_not_open,
    master_key_rotation_reseals_every_secret,
    passwords_are_stored_as_argon2id_hashes,
    request_tokens_are_sealed_rotated_answered_once_and_purged,
);

/// Everything the database holds, as text: every file of the SQLite database (with its WAL),
/// or every row of every table of the PostgreSQL schema (what `pg_dump --data-only` would show).
async fn everything_stored(env: &Env) -> String {
    match env.backend {
        Backend::Sqlite => {
            let mut all = Vec::new();
            for entry in std::fs::read_dir(env.dir.path()).unwrap() {
                let path = entry.unwrap().path();
                if path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(tessera_store::SQLITE_FILE)
                {
                    all.extend(std::fs::read(path).unwrap());
                }
            }
            assert!(all.len() > 4096, "the database files were read");
            String::from_utf8_lossy(&all).into_owned()
        }
        Backend::Postgres => {
            let mut raw = env.raw().await;
            let tables: Vec<String> = sqlx::query(
                "SELECT table_name::text AS t FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            )
            .fetch_all(&mut raw)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("t"))
            .collect();
            assert!(tables.iter().any(|t| t == "access_tokens"));
            let mut all = String::new();
            for t in tables {
                let sql = format!("SELECT row_to_json(x)::text AS j FROM {t} x");
                for row in sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut raw)
                    .await
                    .unwrap()
                {
                    all.push_str(&row.get::<String, _>("j"));
                    all.push('\n');
                }
            }
            all
        }
    }
}

/// The forms a leaked secret could take in a dump: as text, and as the hex of its bytes.
fn leaked(dump: &str, secret: &str) -> bool {
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    dump.contains(secret) || dump.contains(&hex)
}

async fn secrets_are_never_stored_in_plaintext(env: &Env) {
    let w = World::build(&env.svc).await;
    let (_, t1) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let (_, t2) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    let (_, reset) = env
        .svc
        .reset_credentials(&w.admin.actor, w.app, ResetConfirmation::Confirmed)
        .await
        .unwrap();
    let dump = everything_stored(env).await;
    // The lookup keys are stored (they are indexed); the secrets are not.
    assert!(
        dump.contains(t1.token_id.as_str()),
        "the dump really holds the rows"
    );
    assert!(dump.contains(reset.consumer_key.as_str()));
    for secret in [
        w.app_creds.consumer_secret.expose(),
        reset.consumer_secret.expose(),
        t1.token_secret.expose(),
        t2.token_secret.expose(),
    ] {
        assert!(!leaked(&dump, secret), "a secret is stored in plaintext");
    }
}

async fn a_ciphertext_moved_to_another_row_does_not_open(env: &Env) {
    let w = World::build(&env.svc).await;
    let (k1, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let (k2, t2) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    let mut raw = env.raw().await;
    let sql = "UPDATE access_tokens SET token_secret = \
               (SELECT s.token_secret FROM access_tokens s WHERE s.id = $1) WHERE id = $2";
    sqlx::query(sql)
        .bind(k1.get())
        .bind(k2.get())
        .execute(&mut raw)
        .await
        .unwrap();
    let r = env
        .svc
        .authorize_token(&w.app_creds.consumer_key, &t2.token_id)
        .await;
    assert!(
        matches!(r, Err(Error::Vault(VaultError::Tampered))),
        "{r:?}"
    );
}

async fn master_key_rotation_reseals_every_secret(env: &Env) {
    let w = World::build(&env.svc).await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(w.token(&env.svc, &w.alice, w.token_user_role).await.1);
    }
    let old_id = env.svc.keyring().active().id().to_owned();
    let old_hex = env.svc.keyring().active().to_hex();
    let ring = Keyring::parse(old_hex.expose())
        .unwrap()
        .with_active(MasterKey::generate().unwrap());
    let new_hex = ring.active().to_hex();
    let store: Arc<dyn tessera_core::store::Store> = Arc::new(env.store.clone());
    let rotating = Tessera::new(store.clone(), Arc::new(ring));
    let report = rotating.reseal_all_secrets().await.unwrap();
    // The integration's consumer secret and three token secrets.
    assert_eq!(report.resealed, 4);
    assert_ne!(report.active_key_id, old_id);
    assert_eq!(
        rotating.reseal_all_secrets().await.unwrap().resealed,
        0,
        "nothing left"
    );
    let only_new = Tessera::new(
        store.clone(),
        Arc::new(Keyring::parse(new_hex.expose()).unwrap()),
    );
    for t in &tokens {
        let grant = only_new
            .authorize_token(&w.app_creds.consumer_key, &t.token_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(grant.token_secret.expose(), t.token_secret.expose());
        assert_eq!(
            grant.consumer_secret.expose(),
            w.app_creds.consumer_secret.expose()
        );
    }
    let only_old = Tessera::new(store, Arc::new(Keyring::parse(old_hex.expose()).unwrap()));
    let r = only_old
        .authorize_token(&w.app_creds.consumer_key, &tokens[0].token_id)
        .await;
    assert!(
        matches!(r, Err(Error::Vault(VaultError::UnknownKey { .. }))),
        "{r:?}"
    );
}

async fn passwords_are_stored_as_argon2id_hashes(env: &Env) {
    let a = world::account(&env.svc, "555", "Pw").await;
    let email = Email::parse("pat@example.com").unwrap();
    let password = SecretString::from("correct horse battery staple");
    env.svc
        .create_user(
            &OP,
            &a,
            NewUserInput {
                name: "Pat".to_owned(),
                email: email.clone(),
                password: Some(password.clone()),
                roles: vec![],
            },
        )
        .await
        .unwrap();
    assert!(
        env.svc
            .check_password(&a, &email, &password)
            .await
            .unwrap()
            .is_some()
    );
    let wrong = SecretString::from("correct horse battery stapler");
    assert!(
        env.svc
            .check_password(&a, &email, &wrong)
            .await
            .unwrap()
            .is_none()
    );
    let dump = everything_stored(env).await;
    assert!(!leaked(&dump, password.expose()));
    assert!(dump.contains("$argon2id$"));
    let short = SecretString::from("short");
    let r = env
        .svc
        .create_user(
            &OP,
            &a,
            NewUserInput {
                name: "Sam".to_owned(),
                email: Email::parse("sam@example.com").unwrap(),
                password: Some(short),
                roles: vec![],
            },
        )
        .await;
    assert!(matches!(
        r,
        Err(Error::Invalid {
            field: "password",
            ..
        })
    ));
}

#[cfg(unix)]
#[test]
fn the_key_file_is_created_private_and_reloaded() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (ring, source) = keyfile::load_or_create_with(dir.path(), None).unwrap();
    let path = dir.path().join(keyfile::MASTER_KEY_FILE);
    assert_eq!(
        source,
        MasterKeySource::File {
            path: path.clone(),
            created: true
        }
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (again, source) = keyfile::load_or_create_with(dir.path(), None).unwrap();
    assert_eq!(
        source,
        MasterKeySource::File {
            path: path.clone(),
            created: false
        }
    );
    assert_eq!(again.active().id(), ring.active().id());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        keyfile::load_or_create_with(dir.path(), None),
        Err(KeyFileError::TooOpen { .. })
    ));
    // The environment variable wins over the file.
    let env_key = MasterKey::generate().unwrap();
    let (ring, source) =
        keyfile::load_or_create_with(dir.path(), Some(env_key.to_hex().expose().to_owned()))
            .unwrap();
    assert_eq!(source, MasterKeySource::Environment);
    assert_eq!(ring.active().id(), env_key.id());
    assert!(matches!(
        keyfile::load_or_create_with(dir.path(), Some("not a key".to_owned())),
        Err(KeyFileError::Invalid { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_master_key_replaces_the_key_file_and_reseals() {
    let dir = tempfile::tempdir().unwrap();
    let (ring, _) = keyfile::load_or_create_with(dir.path(), None).unwrap();
    let old_id = ring.active().id().to_owned();
    let store = SqlStore::open_data_dir(dir.path()).await.unwrap();
    let svc = Tessera::new(Arc::new(store.clone()), Arc::new(ring));
    let w = World::build(&svc).await;
    let (_, token) = w.token(&svc, &w.alice, w.token_user_role).await;
    let report = keyfile::rotate_master_key_with(dir.path(), store.clone(), None)
        .await
        .unwrap();
    assert_eq!(report.resealed, 2);
    let (ring, _) = keyfile::load_or_create_with(dir.path(), None).unwrap();
    assert_eq!(
        ring.key_ids().collect::<Vec<_>>(),
        [report.active_key_id.as_str()]
    );
    assert_ne!(report.active_key_id, old_id);
    let svc = Tessera::new(Arc::new(store.clone()), Arc::new(ring));
    let grant = svc
        .authorize_token(&w.app_creds.consumer_key, &token.token_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(grant.token_secret.expose(), token.token_secret.expose());
    // The stored rows carry the new key id only.
    let mut raw = sqlite_raw(dir.path()).await;
    let row = sqlx::query("SELECT count(*) AS n FROM access_tokens WHERE token_secret_key_id = $1")
        .bind(old_id)
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(row.get::<i64, _>("n"), 0);
    store.close().await;
}

async fn sqlite_raw(dir: &std::path::Path) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = format!(
        "sqlite://{}",
        dir.join(tessera_store::SQLITE_FILE).display()
    );
    sqlx::AnyConnection::connect(&url).await.unwrap()
}

/// The authorization flow's request tokens (`FlowTx`): sealed in their own slot and re-sealed by
/// a rotation, moved on only from the state expected (a second answer or exchange loses), their
/// nonce records unique, and expired ones purged.
async fn request_tokens_are_sealed_rotated_answered_once_and_purged(env: &Env) {
    use tessera_core::ids::TokenId;
    use tessera_core::model::Timestamp;
    use tessera_core::store::{Consent, RequestTokenRow, RequestTokenState, Store as _, TxMode};
    use tessera_core::vault::SecretSlot;

    let w = World::build(&env.svc).await;
    let integration = w.app;
    let token_id = TokenId::generate().unwrap();
    let secret = SecretString::from("cd".repeat(32));
    let now = Timestamp::now();
    let row = RequestTokenRow {
        token_id: token_id.clone(),
        integration,
        token_secret: env
            .svc
            .keyring()
            .seal(&secret, SecretSlot::RequestTokenSecret(&token_id))
            .unwrap(),
        callback: "https://app.example/cb".into(),
        realm: None,
        created_at: now,
        expires_at: Timestamp::from_millis(now.millis() + 600_000),
        state: RequestTokenState::Pending,
        consent: None,
    };
    let mut tx = env.store.begin(TxMode::Write).await.unwrap();
    tx.insert_request_token(&row).await.unwrap();
    assert!(tx.claim_flow_nonce(&[7; 16], 1).await.unwrap());
    assert!(
        !tx.claim_flow_nonce(&[7; 16], 1).await.unwrap(),
        "a nonce record is unique"
    );
    tx.commit().await.unwrap();
    assert!(
        !everything_stored(env).await.contains(secret.expose()),
        "the request token secret is sealed"
    );

    // Answered once: the second move from Pending loses.
    let mut allowed = row.clone();
    allowed.state = RequestTokenState::Authorized;
    allowed.consent = Some(Consent {
        account: w.a.clone(),
        user: w.alice.id,
        role: w.token_user_role,
        verifier_digest: [9; 32],
    });
    let mut tx = env.store.begin(TxMode::Write).await.unwrap();
    assert!(
        tx.advance_request_token(&allowed, RequestTokenState::Pending)
            .await
            .unwrap()
    );
    let mut denied = row.clone();
    denied.state = RequestTokenState::Denied;
    assert!(
        !tx.advance_request_token(&denied, RequestTokenState::Pending)
            .await
            .unwrap()
    );
    let stored = tx.request_token(&token_id).await.unwrap().unwrap();
    assert_eq!(stored.state, RequestTokenState::Authorized);
    assert_eq!(stored.consent, allowed.consent);
    tx.commit().await.unwrap();

    // Re-sealed by a rotation, and opened with the new key alone.
    let old_hex = env.svc.keyring().active().to_hex();
    let ring = Keyring::parse(old_hex.expose())
        .unwrap()
        .with_active(MasterKey::generate().unwrap());
    let new_hex = ring.active().to_hex();
    let store: Arc<dyn tessera_core::store::Store> = Arc::new(env.store.clone());
    let report = Tessera::new(store.clone(), Arc::new(ring))
        .reseal_all_secrets()
        .await
        .unwrap();
    assert_eq!(
        report.resealed, 2,
        "the consumer secret and the request token secret"
    );
    let only_new = Keyring::parse(new_hex.expose()).unwrap();
    let mut tx = env.store.begin(TxMode::Read).await.unwrap();
    let stored = tx.request_token(&token_id).await.unwrap().unwrap();
    drop(tx);
    assert_eq!(
        only_new
            .open(
                &stored.token_secret,
                SecretSlot::RequestTokenSecret(&token_id)
            )
            .unwrap()
            .expose(),
        secret.expose()
    );
    // Bound to its slot: not openable as an access token's secret.
    assert!(
        only_new
            .open(&stored.token_secret, SecretSlot::TokenSecret(&token_id))
            .is_err()
    );

    // Purged once expired (and the old nonce record with it).
    let mut tx = env.store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.purge_flow(now, 0).await.unwrap(), 0, "not expired yet");
    let later = Timestamp::from_millis(now.millis() + 700_000);
    assert_eq!(tx.purge_flow(later, 2).await.unwrap(), 2);
    assert!(tx.request_token(&token_id).await.unwrap().is_none());
    tx.commit().await.unwrap();
}
