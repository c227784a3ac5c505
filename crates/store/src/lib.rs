//! Tessera's storage: [`SqlStore`] keeps the records of `tessera-core` in SQLite (the embedded
//! default) or PostgreSQL, behind core's [`Store`] trait.
//!
//! One SQL code path serves both engines through sqlx's `Any` driver: the schema uses only
//! integers, text and blobs, and the few places where the engines differ (the schema itself,
//! and the substring search of the token list) are the [`Backend`]'s to say. Migrations are
//! versioned per engine and applied at start-up.

#![forbid(unsafe_code)]

mod availability;
pub mod datadir;
mod deadline;
mod hot;
mod hot_postgres;
mod hot_sqlite;
pub mod keyfile;
#[doc(hidden)]
pub mod migrations;
mod rows;
mod search;
mod sql;
#[cfg(feature = "testing")]
pub mod testing;
mod tx;
mod url;

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions, Executor};
use tessera_core::ids::{ConsumerKey, TokenId};
use tessera_core::store::{
    AttemptQuery, LoginAttempt, LoginRecord, NonceClaim, NonceDigest, Store, StoreError,
    StoreResult, StoreTx, TxMode,
};
use thiserror::Error;

use availability::Diagnosis;

pub use availability::{StartLock, StartLockHeld, Unreachable};
pub use deadline::RoundTripTimedOut;
pub use keyfile::{KeyFileError, MasterKeySource};

/// The database engine behind a [`SqlStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Error)]
pub enum OpenError {
    #[error(
        "the data directory {dir} is in use by another Tessera process ({holder}); stop it first"
    )]
    InUse { dir: PathBuf, holder: String },
    #[error("cannot make {path} private to this user: {source}")]
    Permissions {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot lock {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("unsupported database URL: it must start with sqlite: or postgres:")]
    UnsupportedUrl,
    /// A query parameter of a PostgreSQL URL the driver does not know: refused before the
    /// driver sees it, because the driver logs such a parameter with its value (which may be a
    /// secret). Only the name is said.
    #[error(
        "the database URL has a parameter {0:?} the PostgreSQL driver does not know (it takes {known}); its value is not shown",
        known = url::POSTGRES_URL_PARAMETERS.join(", ")
    )]
    UnknownUrlParameter(String),
    #[error("connecting failed")]
    Connect(#[source] sqlx::Error),
    #[error("cannot migrate the database")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("cannot start the SQLite hot-path writer")]
    HotWriter(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// How the store uses its database: pool sizes and time-outs. SQLite writes go through one
/// connection (SQLite has one writer anyway; one connection means no "database is locked"
/// retries), reads through several.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    pub readers: u32,
    pub writers: u32,
    /// How long a request waits for a database connection before it fails: in an outage,
    /// requests are answered 503 after this, not held until the database is back.
    pub acquire_timeout: Duration,
    /// PostgreSQL: the server cancels a statement that runs longer (`statement_timeout`).
    pub statement_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            readers: 8,
            writers: 8,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(10),
        }
    }
}

/// SQLite settings as read back from a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteSettings {
    /// `wal`.
    pub journal_mode: String,
    /// `2` is FULL.
    pub synchronous: String,
    pub foreign_keys: bool,
}

/// The SQL store.
#[derive(Debug, Clone)]
pub struct SqlStore {
    read: AnyPool,
    write: AnyPool,
    /// PostgreSQL: the connections the verifier's groups are written on (`record_logins`),
    /// one per group in flight; SQLite: `None` (the hot-path writer thread writes them).
    claims: Option<AnyPool>,
    /// PostgreSQL: how long a group's statement may run (it is cancelled after that); a group
    /// whose first request stops waiting sooner is not sent.
    claim_budget: Duration,
    backend: Backend,
    /// Held while open, when opened through a data directory.
    lock: Arc<Mutex<Option<DataDirLock>>>,
    search: SearchTuning,
    /// Write transactions committed through this store (`Store::change_epoch`).
    changes: Arc<AtomicU64>,
    /// SQLite: the authoritative set of nonce records in the acceptance window. This process
    /// is the only writer of the database (the data directory lock), so a check of this set
    /// and an append to the table replace a unique index whose random keys would make every
    /// insert write a different page.
    recent: Arc<Mutex<hot::RecentNonces>>,
    /// SQLite: the hot path's writer thread, and the turn to write that it shares with the
    /// write pool.
    hot: Option<Arc<hot_sqlite::HotWriter>>,
    gate: Option<hot_sqlite::WriteGate>,
    diagnosis: Arc<Diagnosis>,
}

/// How the token list chooses between its trigram index and a walk in list order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchTuning {
    /// A term with fewer hits than this (five times this on PostgreSQL) is looked up in the
    /// trigram index and its hits sorted; a commoner one is matched while walking the list in
    /// its order, where a page of hits comes after a short walk (on SQLite in id order, the
    /// index drives either way).
    pub selective_hits: i64,
    /// PostgreSQL: below this many tokens an account is walked without asking the index (the
    /// walk is short, and the index answers only after collecting every hit). Above it, a
    /// 0.2 % page sample decides: a term in 1 row of 200 or more is walked for.
    pub large_account: i64,
}

impl Default for SearchTuning {
    fn default() -> Self {
        Self {
            selective_hits: 1000,
            large_account: 20_000,
        }
    }
}

/// The lock file name inside a data directory.
pub const LOCK_FILE: &str = "tessera.lock";

/// An exclusive advisory lock on a data directory's lock file, released on drop.
#[derive(Debug)]
struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    fn acquire(dir: &Path) -> Result<Self, OpenError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| OpenError::Lock {
            path: path.clone(),
            source,
        };
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt;
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(datadir::FILE_MODE)
                .open(&path)
                .map_err(io)?
        };
        datadir::tighten_if_present(&path, datadir::FILE_MODE).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(OpenError::InUse {
                    dir: dir.to_owned(),
                    holder: holder.trim().to_owned(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Say who holds it, for the next process's error message.
        file.set_len(0)
            .and_then(|()| file.write_all(format!("pid {}", std::process::id()).as_bytes()))
            .map_err(io)?;
        Ok(Self { _file: file })
    }
}

/// Readers of a SQLite store at most: twice the cores, at least 2.
fn sqlite_readers() -> u32 {
    std::thread::available_parallelism()
        .map_or(4, |n| u32::try_from(n.get() * 2).unwrap_or(4))
        .max(2)
}

/// The SQLite file name inside a data directory.
pub const SQLITE_FILE: &str = "tessera.db";

impl SqlStore {
    /// Opens (creating if needed) `tessera.db` in a data directory, and migrates it.
    /// Opens (creating if needed) `tessera.db` in a data directory, and migrates it. The
    /// directory is locked for as long as the store (or a clone) is open: a second process on
    /// the same SQLite file would change records behind the first one's back.
    pub async fn open_data_dir(dir: &Path) -> Result<Self, OpenError> {
        let private = |path: &Path| {
            let path = path.to_owned();
            move |source| OpenError::Permissions { path, source }
        };
        datadir::secure_dir(dir).map_err(private(dir))?;
        let lock = DataDirLock::acquire(dir)?;
        let database = dir.join(SQLITE_FILE);
        datadir::secure_file(&database).map_err(private(&database))?;
        for suffix in ["-wal", "-shm"] {
            let mut name = database.clone().into_os_string();
            name.push(suffix);
            let path = PathBuf::from(name);
            datadir::tighten_if_present(&path, datadir::FILE_MODE).map_err(private(&path))?;
        }
        let mut store = Self::open_sqlite_file(&database).await?;
        store.lock = Arc::new(Mutex::new(Some(lock)));
        Ok(store)
    }

    pub async fn open_sqlite_file(path: &Path) -> Result<Self, OpenError> {
        // sqlx percent-decodes the path; encode everything but the separators.
        let path = path
            .to_string_lossy()
            .split('/')
            .map(|segment| tessera_oauth1::encode::encode(segment).into_owned())
            .collect::<Vec<_>>()
            .join("/");
        Self::connect(
            &format!("sqlite://{path}?mode=rwc"),
            StoreOptions::default(),
        )
        .await
    }

    /// Connects to `sqlite:…` or `postgres://…`, and migrates.
    pub async fn connect(url: &str, settings: StoreOptions) -> Result<Self, OpenError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(OpenError::UnsupportedUrl);
        };
        if backend == Backend::Postgres {
            url::check_postgres_url_parameters(url)?;
        }
        let options = AnyConnectOptions::from_str(url)
            .map_err(OpenError::Connect)?
            .disable_statement_logging();
        let diagnosis = Arc::new(Diagnosis::new(options.clone(), settings.acquire_timeout));
        // A slow acquire ends in an error that says why (`Unreachable`); sqlx's own warning
        // about it would only repeat it without the cause.
        let quiet = |o: AnyPoolOptions| {
            o.acquire_timeout(settings.acquire_timeout)
                .acquire_slow_threshold(settings.acquire_timeout + Duration::from_secs(1))
        };
        let store = match backend {
            Backend::Sqlite => {
                let pool = |max: u32| {
                    quiet(AnyPoolOptions::new())
                        .max_connections(max)
                        // A file does not go away like a network peer: no ping per acquire
                        // (it cost a round trip to the database thread on every use).
                        .test_before_acquire(false)
                        .after_connect(|conn, _| {
                            Box::pin(async move {
                                conn.execute(
                                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                                     PRAGMA cache_size = -16384;",
                                )
                                .await
                                .map(|_| ())
                            })
                        })
                };
                let write = pool(1)
                    .connect_with(options.clone())
                    .await
                    .map_err(OpenError::Connect)?;
                // Migrate before the readers open, so they see the schema.
                migrations::run(&write, backend).await?;
                // Each SQLite connection is a thread of its own; more readers than the machine
                // has cores only switch between them.
                let readers = settings.readers.clamp(1, sqlite_readers());
                let read = pool(readers)
                    .connect_with(options)
                    .await
                    .map_err(OpenError::Connect)?;
                let recent = hot::RecentNonces::load(&write).await?;
                let path = SqliteConnectOptions::from_str(url)
                    .map_err(OpenError::Connect)?
                    .get_filename()
                    .to_owned();
                let gate = hot_sqlite::WriteGate::default();
                let hot = hot_sqlite::HotWriter::start(&path, gate.clone())?;
                Self {
                    read,
                    write,
                    claims: None,
                    claim_budget: Duration::ZERO,
                    backend,
                    lock: Arc::default(),
                    search: SearchTuning::default(),
                    changes: Arc::default(),
                    recent: Arc::new(Mutex::new(recent)),
                    hot: Some(Arc::new(hot)),
                    gate: Some(gate),
                    diagnosis,
                }
            }
            Backend::Postgres => {
                // Migrations on a connection of their own, outside the pool: the statement
                // time-out is for requests, not for a migration (or its wait for another
                // node's, under sqlx's advisory lock).
                {
                    let mut conn = tokio::time::timeout(
                        settings.acquire_timeout,
                        <sqlx::AnyConnection as sqlx::Connection>::connect_with(&options),
                    )
                    .await
                    .map_err(|_| {
                        OpenError::Connect(sqlx::Error::Io(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("no answer within {:?}", settings.acquire_timeout),
                        )))
                    })?
                    .map_err(OpenError::Connect)?;
                    migrations::run(&mut conn, backend).await?;
                    let _ = sqlx::Connection::close(conn).await;
                }
                let statement_ms = settings.statement_timeout.as_millis().max(1);
                deadline::set_statement_timeout(settings.statement_timeout);
                // A session whose client went silent inside a transaction is ended by the
                // server too, and its locks released.
                let session = |statement_ms: u128| {
                    format!(
                        "SET statement_timeout = {statement_ms}; \
                         SET idle_in_transaction_session_timeout = {}",
                        statement_ms * 2
                    )
                };
                let pool = |max: u32, session: String| {
                    quiet(AnyPoolOptions::new())
                        .max_connections(max)
                        // After a missed round-trip deadline, a connection that went silent
                        // is closed rather than handed out again (sqlx's own check has no
                        // limit).
                        .after_release(|_, _| {
                            Box::pin(async move { Ok(deadline::may_return_to_pool()) })
                        })
                        .after_connect(move |conn, _| {
                            let session = session.clone();
                            Box::pin(async move {
                                conn.execute(sqlx::AssertSqlSafe(session)).await.map(|_| ())
                            })
                        })
                };
                let shared = pool(
                    settings.readers.max(settings.writers).max(1),
                    session(statement_ms),
                )
                .connect_with(options.clone())
                .await
                .map_err(OpenError::Connect)?;
                // The verifier's groups have connections of their own (`CLAIM_CONNECTIONS`):
                // a burst of admin reads cannot hold a group up, nor groups the admin. They
                // run the claim statement's generic plan from the first group on (a custom
                // plan of its nine relations takes ~30 ms to make, and PostgreSQL makes five
                // per connection before it settles on the generic one), and ping only a
                // connection that sat idle (a ping is a round trip; under load none does).
                // A group's statement is cancelled after the acquire time-out: a signed
                // request waits twice that for its claim, so a group that could still commit
                // after its requests were answered 503 (a login in the trail that nobody
                // received) is cancelled first.
                let claim_ms = statement_ms.min(settings.acquire_timeout.as_millis().max(1));
                let claims = pool(
                    hot_postgres::CLAIM_CONNECTIONS,
                    format!(
                        "{}; SET plan_cache_mode = force_generic_plan",
                        session(claim_ms)
                    ),
                )
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for > hot_postgres::CLAIM_IDLE_PING {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect_lazy_with(options);
                hot_postgres::warm_claims(&claims).await;
                Self {
                    read: shared.clone(),
                    write: shared,
                    claims: Some(claims),
                    // The statement's time-out: half a signed request's wait for the store.
                    claim_budget: Duration::from_millis(
                        u64::try_from(claim_ms).unwrap_or(u64::MAX),
                    ),
                    backend,
                    lock: Arc::default(),
                    search: SearchTuning::default(),
                    changes: Arc::default(),
                    recent: Arc::default(),
                    hot: None,
                    gate: None,
                    diagnosis,
                }
            }
        };
        Ok(store)
    }

    /// A pool's error as the store reports it: a time-out waiting for a connection carries
    /// the reason no connection came ([`Unreachable`]).
    pub(crate) async fn pool_error(&self, pool: &AnyPool, e: sqlx::Error) -> StoreError {
        match e {
            sqlx::Error::PoolTimedOut => {
                StoreError::Backend(Box::new(self.diagnosis.explain(pool).await))
            }
            e => sql::backend_error(e),
        }
    }

    /// Begins a transaction on a task of its own, so that a caller who gives up (a client gone,
    /// a time-out) cannot cancel `BEGIN` half-way: sqlx 0.9.0 would then hand the connection
    /// back to the pool inside a transaction (launchbadge/sqlx#4385). Bounded by the acquire
    /// time-out and one round trip.
    pub(crate) async fn begin_on(
        &self,
        pool: &AnyPool,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let limit = self.diagnosis.waited + deadline::round_trip();
        let detached = pool.clone();
        let task = tokio::spawn(async move { tokio::time::timeout(limit, detached.begin()).await });
        match task.await {
            Ok(Ok(Ok(tx))) => Ok(tx),
            Ok(Ok(Err(e))) => Err(self.pool_error(pool, e).await),
            Ok(Err(_)) => {
                deadline::missed();
                Err(StoreError::Backend(Box::new(RoundTripTimedOut(limit))))
            }
            Err(e) => Err(StoreError::Backend(Box::new(e))),
        }
    }

    /// A connection from `pool`, or why there is none.
    pub(crate) async fn connection(
        &self,
        pool: &AnyPool,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        match pool.acquire().await {
            Ok(conn) => Ok(conn),
            Err(e) => Err(self.pool_error(pool, e).await),
        }
    }

    /// The same store with other search thresholds (see [`SearchTuning`]).
    pub fn with_search_tuning(mut self, search: SearchTuning) -> Self {
        self.search = search;
        self
    }

    /// The SQLite settings in force on the connection that writes; `None` on PostgreSQL.
    pub async fn sqlite_settings(&self) -> Result<Option<SqliteSettings>, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        let mut conn = self.connection(&self.write).await?;
        let mut text = async |pragma: &'static str| -> Result<String, StoreError> {
            let row = sqlx::query(pragma)
                .fetch_one(&mut *conn)
                .await
                .map_err(sql::backend_error)?;
            let value: Result<String, _> = sqlx::Row::try_get(&row, 0);
            match value {
                Ok(v) => Ok(v),
                Err(_) => sqlx::Row::try_get::<i64, _>(&row, 0)
                    .map(|v| v.to_string())
                    .map_err(sql::backend_error),
            }
        };
        Ok(Some(SqliteSettings {
            journal_mode: text("PRAGMA journal_mode").await?,
            synchronous: text("PRAGMA synchronous").await?,
            foreign_keys: text("PRAGMA foreign_keys").await? == "1",
        }))
    }

    /// Closes the pools, flushing SQLite's WAL on the last connection.
    pub async fn close(&self) {
        if let Some(hot) = &self.hot {
            hot.stop().await;
        }
        self.read.close().await;
        self.write.close().await;
        if let Some(claims) = &self.claims {
            claims.close().await;
        }
        if let Ok(mut lock) = self.lock.lock() {
            lock.take();
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn begin(&self, mode: TxMode) -> StoreResult<Box<dyn StoreTx>> {
        let pool = match mode {
            TxMode::Read => &self.read,
            TxMode::Write => &self.write,
        };
        // SQLite: wait for the turn to write before the transaction starts, and keep it to
        // the end (the hot-path writer commits between other transactions, never inside one).
        let turn = match (&self.gate, mode) {
            (Some(gate), TxMode::Write) => Some(gate.clone().lock_owned().await),
            _ => None,
        };
        let tx = self.begin_on(pool).await?;
        let changes = (mode == TxMode::Write).then(|| self.changes.clone());
        Ok(Box::new(tx::SqlTx::new(
            tx,
            self.backend,
            self.search,
            changes,
            turn,
        )))
    }

    fn backend(&self) -> &'static str {
        self.backend.name()
    }

    fn change_epoch(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::Acquire)
    }

    fn recent_failure(&self) -> Option<String> {
        self.diagnosis.recent()
    }

    async fn login_records(
        &self,
        pairs: &[(ConsumerKey, TokenId)],
    ) -> StoreResult<Vec<Option<LoginRecord>>> {
        self.hot_login_records(pairs).await
    }

    async fn login_records_after(
        &self,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, LoginRecord)>> {
        self.hot_login_records_after(after, limit).await
    }

    async fn record_logins(
        &self,
        claims: Vec<NonceClaim>,
        attempts: Vec<LoginAttempt>,
    ) -> StoreResult<Vec<bool>> {
        self.hot_record_logins(claims, attempts).await
    }

    /// SQLite's writer thread takes groups in the order they come and merges everything
    /// queued into one transaction, so the verifier hands groups over as they form (with 64
    /// rather than 4, transactions grew from ~15 to ~20 claims). PostgreSQL: one group per
    /// connection for groups (`hot_postgres::CLAIM_CONNECTIONS`).
    fn login_groups_in_flight(&self) -> usize {
        if self.hot.is_some() {
            64
        } else {
            hot_postgres::CLAIM_CONNECTIONS as usize
        }
    }

    async fn record_token_use(&self, uses: Vec<tessera_core::store::TokenUse>) -> StoreResult<()> {
        self.hot_record_token_use(uses).await
    }

    async fn signature_capture(
        &self,
        id: i64,
    ) -> StoreResult<Option<(Option<tessera_core::ids::AccountId>, String)>> {
        self.hot_signature_capture(id).await
    }

    async fn nonce_exists(&self, digest: &NonceDigest, timestamp: i64) -> StoreResult<bool> {
        self.hot_nonce_exists(digest, timestamp).await
    }

    async fn purge_nonces(&self, before: i64, limit: u32) -> StoreResult<u64> {
        self.hot_purge_nonces(before, limit).await
    }

    async fn purge_login_attempts(&self, before_ms: i64, limit: u32) -> StoreResult<u64> {
        self.hot_purge_login_attempts(before_ms, limit).await
    }

    async fn login_attempts(&self, query: &AttemptQuery) -> StoreResult<Vec<LoginAttempt>> {
        self.hot_login_attempts(query).await
    }
}

impl From<OpenError> for StoreError {
    fn from(e: OpenError) -> Self {
        StoreError::Backend(Box::new(e))
    }
}
