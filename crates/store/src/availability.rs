//! The store's availability: why no connection came (`Unreachable`, found out by a fresh
//! connection attempt), and the start-up lock several nodes on one database take in turn.

use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyConnectOptions;
use tessera_core::store::StoreError;
use thiserror::Error;

use crate::{Backend, SqlStore};

/// Why no connection came within the acquire time-out: what a fresh connection attempt says.
/// sqlx retries a refused connection until the time-out and then reports only the time-out;
/// an operator needs the cause (refused, unreachable, wrong password…).
#[derive(Debug, Error)]
pub enum Unreachable {
    #[error("no database connection within {waited:?}")]
    Failed {
        waited: Duration,
        #[source]
        cause: Arc<sqlx::Error>,
    },
    #[error("no database connection within {waited:?}: connecting took longer than {probe:?}")]
    Silent { waited: Duration, probe: Duration },
    #[error(
        "no database connection within {waited:?}: all {size} were in use or not answering (a new connection works)"
    )]
    Busy { waited: Duration, size: u32 },
}

/// How long a diagnosis stays true, and how long its connection attempt may take.
const DIAGNOSIS_TTL: Duration = Duration::from_secs(2);
const DIAGNOSIS_PROBE: Duration = Duration::from_millis(500);

/// Finds out (at most once per [`DIAGNOSIS_TTL`]) why the pool gave no connection.
#[derive(Debug)]
pub(crate) struct Diagnosis {
    options: AnyConnectOptions,
    pub(crate) waited: Duration,
    last: tokio::sync::Mutex<Option<(std::time::Instant, Arc<Unreachable>)>>,
}

impl Diagnosis {
    pub(crate) fn new(options: AnyConnectOptions, waited: Duration) -> Self {
        Self {
            options,
            waited,
            last: tokio::sync::Mutex::default(),
        }
    }

    /// The last diagnosis, if recent, with its whole cause.
    pub(crate) fn recent(&self) -> Option<String> {
        let last = self.last.try_lock().ok()?;
        let (at, why) = last.as_ref()?;
        (at.elapsed() < DIAGNOSIS_TTL * 5).then(|| tessera_core::Chain(why.as_ref()).to_string())
    }

    /// A connection outside the pools, with the store's options.
    pub(crate) async fn connect(&self) -> Result<sqlx::AnyConnection, sqlx::Error> {
        <sqlx::AnyConnection as sqlx::Connection>::connect_with(&self.options).await
    }

    pub(crate) async fn explain(&self, pool: &AnyPool) -> Arc<Unreachable> {
        let mut last = self.last.lock().await;
        if let Some((at, why)) = &*last
            && at.elapsed() < DIAGNOSIS_TTL
        {
            return why.clone();
        }
        let attempt = tokio::time::timeout(DIAGNOSIS_PROBE, self.connect()).await;
        let why = Arc::new(match attempt {
            Ok(Ok(conn)) => {
                let _ = sqlx::Connection::close(conn).await;
                Unreachable::Busy {
                    waited: self.waited,
                    size: pool.options().get_max_connections(),
                }
            }
            Ok(Err(cause)) => Unreachable::Failed {
                waited: self.waited,
                cause: Arc::new(cause),
            },
            Err(_) => Unreachable::Silent {
                waited: self.waited,
                probe: DIAGNOSIS_PROBE,
            },
        });
        *last = Some((std::time::Instant::now(), why.clone()));
        why
    }
}

const START_LOCK_TRY: &str =
    "SELECT pg_try_advisory_lock(hashtext('tessera start ' || current_schema()))";
const START_LOCK_RELEASE: &str =
    "SELECT pg_advisory_unlock(hashtext('tessera start ' || current_schema()))";

/// How long a start waits for another node's first start.
const START_LOCK_PATIENCE: Duration = Duration::from_secs(300);

#[derive(Debug, Error)]
#[error(
    "another node has held this database's start-up lock for {0:?}; if no node is starting, look for a stuck session holding the advisory lock (pg_locks)"
)]
pub struct StartLockHeld(Duration);

/// See [`SqlStore::start_lock`]. Dropped without [`StartLock::release`] (an error on the
/// way), its connection closes, and the lock goes with its session.
#[derive(Debug)]
pub struct StartLock {
    conn: Option<sqlx::AnyConnection>,
}

impl StartLock {
    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = sqlx::query(START_LOCK_RELEASE).execute(&mut conn).await;
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

impl SqlStore {
    /// Holds the start-up lock of this database until [`StartLock::release`] (or the
    /// process's end): on PostgreSQL a session advisory lock, so that of several nodes
    /// started at once on one empty database one creates the first account and applies the
    /// fixtures while the others wait, then find them. SQLite's data directory lock already
    /// admits one process. `waiting` is called once if another node holds it.
    pub async fn start_lock(&self, waiting: impl FnOnce()) -> Result<StartLock, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(StartLock { conn: None });
        }
        // A connection of its own, not the pool's: the pool may have a single connection, and
        // the start needs it while the lock is held.
        let mut conn =
            match tokio::time::timeout(self.diagnosis.waited, self.diagnosis.connect()).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => return Err(crate::sql::backend_error(e)),
                Err(_) => {
                    return Err(StoreError::Backend(Box::new(
                        self.diagnosis.explain(&self.write).await,
                    )));
                }
            };
        let mut waiting = Some(waiting);
        let started = std::time::Instant::now();
        loop {
            // Keyed by the schema: deployments (and tests) in other schemas do not wait.
            let row = sqlx::query(START_LOCK_TRY)
                .fetch_one(&mut conn)
                .await
                .map_err(crate::sql::backend_error)?;
            let taken: bool = sqlx::Row::try_get(&row, 0).map_err(crate::sql::backend_error)?;
            if taken {
                return Ok(StartLock { conn: Some(conn) });
            }
            if let Some(waiting) = waiting.take() {
                waiting();
            }
            if started.elapsed() > START_LOCK_PATIENCE {
                return Err(StoreError::Backend(Box::new(StartLockHeld(
                    START_LOCK_PATIENCE,
                ))));
            }
            // Polled rather than waited on in one statement: the statement time-out would
            // end a long wait, and the wait must end when this process does.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
