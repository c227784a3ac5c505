//! Test databases for this workspace's test suites (feature `testing`): SQLite in a temporary
//! data directory, or PostgreSQL in a schema of its own in the database named by
//! `TESSERA_TEST_PG_URL` (default: the local machine's). An unreachable PostgreSQL fails the
//! test loudly; `TESSERA_TEST_PG=skip` skips the PostgreSQL half on a machine without it.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{ConnectOptions, Connection, Executor};
use tempfile::TempDir;

use crate::{Backend, SearchTuning, SqlStore, StoreOptions};

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// `None` when the PostgreSQL half is switched off on purpose.
pub fn pg_url() -> Option<String> {
    if std::env::var("TESSERA_TEST_PG").is_ok_and(|v| v == "skip") {
        return None;
    }
    Some(std::env::var("TESSERA_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned()))
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!(
        "tessera_t_{secs}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A PostgreSQL URL whose connections use `schema` first, and name it as their application
/// (`pg_stat_activity.application_name`), so a test can find its own sessions.
pub fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}%2Cpublic&application_name={schema}")
}

impl TestDatabase {
    /// PostgreSQL: the schema of this test (and its sessions' application name).
    pub fn schema(&self) -> Option<&str> {
        self.pg.as_ref().map(|(_, schema)| schema.as_str())
    }
}

/// A database of one test, removed by [`TestDatabase::finish`].
#[derive(Debug)]
pub struct TestDatabase {
    pub store: SqlStore,
    pub backend: Backend,
    /// The data directory (SQLite's database; the master key either way).
    pub dir: TempDir,
    pg: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn sqlite() -> Self {
        Self::sqlite_with(SearchTuning::default()).await
    }

    pub async fn sqlite_with(tuning: SearchTuning) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlStore::open_data_dir(dir.path())
            .await
            .unwrap()
            .with_search_tuning(tuning);
        Self {
            store,
            backend: Backend::Sqlite,
            dir,
            pg: None,
        }
    }

    /// `None` only when `TESSERA_TEST_PG=skip`.
    pub async fn postgres() -> Option<Self> {
        Self::postgres_with(SearchTuning::default()).await
    }

    pub async fn postgres_with(tuning: SearchTuning) -> Option<Self> {
        let url = pg_url()?;
        let schema = unique_name();
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {url} is unreachable ({e}). The storage tests run on both backends; \
                 start PostgreSQL, point TESSERA_TEST_PG_URL at one, or set TESSERA_TEST_PG=skip \
                 to run the SQLite half only."
            )
        });
        // The extension lives in `public`, shared by every test schema. Two test processes
        // creating it at once can race; the loser sees it exist on the retry.
        for attempt in 0..3 {
            match admin
                .execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
                .await
            {
                Ok(_) => break,
                Err(e) if attempt == 2 => panic!("cannot create extension pg_trgm: {e}"),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
        drop_stale_schemas(&mut admin).await;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .await
            .unwrap();
        let store = SqlStore::connect(
            &with_search_path(&url, &schema),
            StoreOptions {
                readers: 3,
                writers: 3,
                ..StoreOptions::default()
            },
        )
        .await
        .unwrap()
        .with_search_tuning(tuning);
        Some(Self {
            store,
            backend: Backend::Postgres,
            dir: tempfile::tempdir().unwrap(),
            pg: Some((url, schema)),
        })
    }

    /// The URL of this database for another process (PostgreSQL only).
    pub fn database_url(&self) -> Option<String> {
        self.pg
            .as_ref()
            .map(|(url, schema)| with_search_path(url, schema))
    }

    /// A raw connection to the same database (and schema), for looking under the store.
    pub async fn raw(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        let url = match &self.pg {
            Some((url, schema)) => with_search_path(url, schema),
            None => format!(
                "sqlite://{}",
                self.dir.path().join(crate::SQLITE_FILE).display()
            ),
        };
        let options: sqlx::any::AnyConnectOptions = url.parse().unwrap();
        options.connect().await.unwrap()
    }

    /// Closes the store and drops the PostgreSQL schema.
    pub async fn finish(self) {
        self.store.close().await;
        if let Some((url, schema)) = &self.pg {
            let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
            admin
                .execute(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .await
                .unwrap();
        }
    }
}

/// An empty PostgreSQL schema (nothing migrated) for `tessera` processes a test starts on it:
/// the first start's own migrations, bootstrap and fixtures. Dropped by [`EmptySchema::drop_schema`]
/// (or, if the test panics, by a later test an hour on).
#[derive(Debug)]
pub struct EmptySchema {
    base: String,
    schema: String,
}

impl EmptySchema {
    /// `None` only when `TESSERA_TEST_PG=skip`.
    pub async fn create() -> Option<Self> {
        let base = pg_url()?;
        let schema = unique_name();
        let mut admin = sqlx::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {base} is unreachable ({e})"));
        admin
            .execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
            .await
            .ok();
        drop_stale_schemas(&mut admin).await;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .await
            .unwrap();
        Some(Self { base, schema })
    }

    /// The database URL whose connections use this schema.
    pub fn url(&self) -> String {
        with_search_path(&self.base, &self.schema)
    }

    /// The same URL with its host and port replaced (to reach it through a proxy).
    pub fn url_via(&self, host_port: &str) -> String {
        let url = self.url();
        let after_scheme = url.find("://").map_or(0, |i| i + 3);
        let rest = &url[after_scheme..];
        let host_start = rest.find('@').map_or(0, |i| i + 1);
        let host_end = rest[host_start..]
            .find('/')
            .map_or(rest.len(), |i| host_start + i);
        format!(
            "{}{}{host_port}{}",
            &url[..after_scheme],
            &rest[..host_start],
            &rest[host_end..]
        )
    }

    /// The host and port of the PostgreSQL server.
    pub fn server_address(&self) -> String {
        let after_scheme = self.base.find("://").map_or(0, |i| i + 3);
        let rest = &self.base[after_scheme..];
        let host_start = rest.find('@').map_or(0, |i| i + 1);
        let host_end = rest[host_start..]
            .find(['/', '?'])
            .map_or(rest.len(), |i| host_start + i);
        rest[host_start..host_end].to_owned()
    }

    /// Runs one statement in the schema.
    pub async fn execute(&self, sql: &str) {
        let mut conn = sqlx::PgConnection::connect(&self.url()).await.unwrap();
        conn.execute(sqlx::AssertSqlSafe(sql.to_owned()))
            .await
            .unwrap();
    }

    pub async fn drop_schema(self) {
        let mut admin = sqlx::PgConnection::connect(&self.base).await.unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA {} CASCADE",
                self.schema
            )))
            .await
            .unwrap();
    }
}

/// Schemas left by tests that panicked more than an hour ago.
async fn drop_stale_schemas(admin: &mut sqlx::PgConnection) {
    let cutoff = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .saturating_sub(3600);
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tessera\\_t\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for (name,) in names {
        let created: Option<u64> = name.split('_').nth(2).and_then(|s| s.parse().ok());
        if created.is_some_and(|c| c < cutoff) {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE"
                )))
                .await;
        }
    }
}
