//! The store itself: settings and migrations.

#![allow(clippy::unwrap_used)]

mod support;

use sqlx::Row;
use support::Env;
use tessera_store::SqlStore;

on_both_backends!(migrations_are_recorded_once);

async fn migrations_are_recorded_once(env: &Env) {
    let mut raw = env.raw().await;
    let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&mut raw)
        .await
        .unwrap();
    let versions: Vec<i64> = rows.iter().map(|r| r.get::<i64, _>("version")).collect();
    assert_eq!(versions, [1]);
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
