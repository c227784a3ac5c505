//! The store itself: settings and migrations.

#![allow(clippy::unwrap_used)]

mod support;

use sqlx::Row;
use support::Env;
use tessera_store::SqlStore;

on_both_backends!(
    migrations_are_recorded_once,
    writes_refuse_stale_state,
    concurrent_resets_leave_exactly_one_shown_pair_working,
    concurrent_auto_installs_agree_on_one_installation,
    every_unique_constraint_is_classified,
    unique_violations_are_named_by_their_constraint,
);

async fn migrations_are_recorded_once(env: &Env) {
    let mut raw = env.raw().await;
    let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&mut raw)
        .await
        .unwrap();
    let versions: Vec<i64> = rows.iter().map(|r| r.get::<i64, _>("version")).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_runs_in_wal_with_full_sync_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_data_dir(dir.path()).await.unwrap();
    let settings = store.sqlite_settings().await.unwrap().unwrap();
    assert_eq!(settings.journal_mode, "wal");
    assert_eq!(settings.synchronous, "2", "FULL");
    assert!(settings.foreign_keys);
    store.close().await;
    // Opening again finds the schema migrated and migrates nothing.
    let again = SqlStore::open_data_dir(dir.path()).await.unwrap();
    assert!(again.sqlite_settings().await.unwrap().is_some());
    again.close().await;
}

/// Conditional writes: a token revoked a moment ago cannot be edited, and credentials are
/// replaced only if they are still the ones read (so that concurrent resets cannot both show a
/// pair as new while only one works).
async fn writes_refuse_stale_state(env: &Env) {
    use support::world::World;
    use tessera_core::ids::ConsumerKey;
    use tessera_core::model::Timestamp;
    use tessera_core::store::{Store, TxMode};
    use tessera_core::vault::SecretSlot;

    let w = World::build(&env.svc).await;
    let (key, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    env.svc.revoke_token(&w.manager.actor, key).await.unwrap();
    let app = env
        .svc
        .integration(&w.admin.actor, w.app)
        .await
        .unwrap()
        .integration;
    let mut tx = env.store.begin(TxMode::Write).await.unwrap();
    assert!(!tx.rename_token(key, "x").await.unwrap());
    assert!(!tx.set_token_inactive(key, true).await.unwrap());
    let new_key = ConsumerKey::generate().unwrap();
    let secret = tessera_core::credentials::generate_secret().unwrap();
    let sealed = env
        .svc
        .keyring()
        .seal(&secret, SecretSlot::ConsumerSecret(&app.application_id))
        .unwrap();
    let now = Timestamp::now();
    let stale = ConsumerKey::generate().unwrap();
    let id = w.app;
    assert!(
        !tx.set_consumer_credentials(id, Some(&stale), &new_key, &sealed, now)
            .await
            .unwrap(),
        "another key was read"
    );
    assert!(
        !tx.set_consumer_credentials(id, None, &new_key, &sealed, now)
            .await
            .unwrap(),
        "the record has a key already"
    );
    let read = Some(&w.app_creds.consumer_key);
    assert!(
        tx.set_consumer_credentials(id, read, &new_key, &sealed, now)
            .await
            .unwrap()
    );
    // Dropped without commit: rolled back, the old pair still works.
    drop(tx);
    let (_, token) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    assert!(
        env.svc
            .authorize_token(&w.app_creds.consumer_key, &token.token_id)
            .await
            .unwrap()
            .is_ok()
    );
}

async fn concurrent_resets_leave_exactly_one_shown_pair_working(env: &Env) {
    use support::world::World;
    use tessera_core::{Error, ResetConfirmation};

    let w = World::build(&env.svc).await;
    let (_, token) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let svc = env.svc.clone();
        let actor = w.admin.actor.clone();
        let app = w.app;
        tasks.push(tokio::spawn(async move {
            svc.reset_credentials(&actor, app, ResetConfirmation::Confirmed)
                .await
        }));
    }
    let mut shown = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok((_, creds)) => shown.push(creds),
            Err(Error::Conflict { .. }) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert!(!shown.is_empty());
    let mut working = 0;
    for creds in &shown {
        if let Ok(grant) = env
            .svc
            .authorize_token(&creds.consumer_key, &token.token_id)
            .await
            .unwrap()
        {
            assert_eq!(
                grant.consumer_secret.expose(),
                creds.consumer_secret.expose()
            );
            working += 1;
        }
    }
    assert_eq!(working, 1, "of {} pairs shown", shown.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_is_used_by_one_store_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_data_dir(dir.path()).await.unwrap();
    let second = SqlStore::open_data_dir(dir.path()).await;
    let err = second.unwrap_err().to_string();
    assert!(err.contains("in use by another Tessera process"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    // Clones share the lock; closing releases it.
    let clone = store.clone();
    drop(store);
    assert!(SqlStore::open_data_dir(dir.path()).await.is_err());
    clone.close().await;
    let again = SqlStore::open_data_dir(dir.path()).await.unwrap();
    again.close().await;
}

/// R14 under concurrency: the authorization flow hitting an account from several requests at
/// once installs the record once, and every request gets that installation.
async fn concurrent_auto_installs_agree_on_one_installation(env: &Env) {
    use support::world::World;
    use tessera_core::model::Context;

    let w = World::build(&env.svc).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let svc = env.svc.clone();
        let (account, app) = (w.b.clone(), w.app);
        tasks.push(tokio::spawn(async move {
            svc.auto_install(&account, app, Context::Endpoint).await
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap().unwrap());
    }
    assert!(seen.windows(2).all(|p| p[0] == p[1]), "{seen:?}");
    let notes = env
        .svc
        .system_notes(
            &w.b_admin.actor,
            &tessera_core::model::RecordRef::Installation(w.app, w.b.clone()),
        )
        .await
        .unwrap();
    assert_eq!(notes.len(), 1, "installed once");
}

/// Every unique constraint and unique index the migrations create is in the store's table
/// (`migrations::UNIQUE_CONSTRAINTS`) under the name its engine reports — PostgreSQL the
/// constraint's name, SQLite the columns — and the table names nothing the schema lacks: a
/// duplicate is named by its constraint, never guessed from the message.
async fn every_unique_constraint_is_classified(env: &Env) {
    use std::collections::BTreeSet;
    let mut raw = env.raw().await;
    let postgres = env.database_url().is_some();
    let mut found = BTreeSet::new();
    if postgres {
        let rows = sqlx::query(
            "SELECT indexname::text AS indexname FROM pg_indexes WHERE schemaname = current_schema() \
             AND indexdef LIKE 'CREATE UNIQUE INDEX%' AND tablename <> '_sqlx_migrations'",
        )
        .fetch_all(&mut raw)
        .await
        .unwrap();
        found.extend(rows.iter().map(|r| r.get::<String, _>("indexname")));
    } else {
        // The tables of the schema, not SQLite's own, sqlx's bookkeeping or FTS5's shadow tables.
        let tables = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' \
             AND name NOT LIKE '_sqlx%' AND name NOT LIKE 'access_tokens_search%'",
        )
        .fetch_all(&mut raw)
        .await
        .unwrap();
        for table in tables.iter().map(|r| r.get::<String, _>("name")) {
            let indexes = sqlx::query("SELECT name, \"unique\" FROM pragma_index_list($1)")
                .bind(&table)
                .fetch_all(&mut raw)
                .await
                .unwrap();
            for index in indexes.iter().filter(|i| i.get::<i64, _>("unique") == 1) {
                let name: String = index.get("name");
                let columns = sqlx::query("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&name)
                    .fetch_all(&mut raw)
                    .await
                    .unwrap();
                let columns: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{table}.{}", c.get::<String, _>("name")))
                    .collect();
                found.insert(columns.join(", "));
            }
            // An INTEGER PRIMARY KEY is the rowid, which no index lists.
            let keys = sqlx::query("SELECT name, type FROM pragma_table_info($1) WHERE pk > 0")
                .bind(&table)
                .fetch_all(&mut raw)
                .await
                .unwrap();
            if let [key] = &keys[..]
                && key.get::<String, _>("type").eq_ignore_ascii_case("INTEGER")
            {
                found.insert(format!("{table}.{}", key.get::<String, _>("name")));
            }
        }
    }
    let table: BTreeSet<String> = tessera_store::migrations::UNIQUE_CONSTRAINTS
        .iter()
        .map(|c| if postgres { c.postgres } else { c.sqlite }.to_owned())
        .collect();
    assert_eq!(
        found, table,
        "the schema's unique constraints and the table differ"
    );
}

/// A write refused by a unique constraint says which: the email of a user, the token id of a
/// token — on both engines, from the constraint.
async fn unique_violations_are_named_by_their_constraint(env: &Env) {
    use tessera_core::store::{Store, StoreError, TxMode};
    let w = support::world::World::build(&env.svc).await;
    let (_, credentials) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let mut tx = env.store.begin(TxMode::Write).await.unwrap();
    let alice = tx.user(&w.a, w.alice.id).await.unwrap().unwrap();
    let other = tx.user(&w.a, w.manager.id).await.unwrap().unwrap();
    let taken = tessera_core::model::User {
        email: alice.email.clone(),
        ..other
    };
    match tx.update_user(&taken).await {
        Err(StoreError::Duplicate(what)) => assert_eq!(what, "email"),
        other => panic!("expected a duplicate email, got {other:?}"),
    }
    drop(tx);
    let mut tx = env.store.begin(TxMode::Write).await.unwrap();
    let stored = tx
        .token_by_token_id(&credentials.token_id)
        .await
        .unwrap()
        .unwrap();
    let copy = tessera_core::store::NewToken {
        account: w.a.clone(),
        integration: stored.token.integration,
        user: stored.token.user,
        role: stored.token.role,
        name: "copy".into(),
        token_id: stored.token_id.clone(),
        token_secret: stored.token_secret.clone(),
        created_by: None,
        created_by_name: String::new(),
        created_at: tessera_core::model::Timestamp::now(),
        expires_at: None,
    };
    match tx.insert_token(&copy).await {
        Err(StoreError::Duplicate(what)) => assert_eq!(what, "token id"),
        other => panic!("expected a duplicate token id, got {other:?}"),
    }
}

/// A PostgreSQL URL parameter the driver does not know is refused before the driver sees it:
/// the driver would log it with its value, and such a value is often a password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_url_parameter_is_refused_without_its_value() {
    for url in [
        "postgres://u@127.0.0.1:1/db?sslpassword=s3cretKEY",
        "postgres://u@127.0.0.1:1/db?sslmode=disable&passwd=s3cretKEY",
        "postgres://u@127.0.0.1:1/db?pass%77ord=s3cretKEY",
        "postgres://u:ab?cds3cretKEY@127.0.0.1:1/db?sslpassword=x",
    ] {
        let Err(e) = SqlStore::connect(url, tessera_store::StoreOptions::default()).await else {
            panic!("{url} was accepted");
        };
        let text = tessera_core::Chain(&e).to_string();
        assert!(
            matches!(e, tessera_store::OpenError::UnknownUrlParameter(_)),
            "{text}"
        );
        assert!(!text.contains("s3cretKEY"), "{text}");
    }
}
