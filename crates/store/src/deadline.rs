//! Client-side deadlines on PostgreSQL round trips. The server cancels a statement that runs
//! past `statement_timeout`, but when the network goes silent (a partition, a failover that
//! leaves old connections dead) its answer never comes, and a query would wait for the
//! kernel's TCP time-out — a quarter of an hour — holding its pool connection. Every round trip
//! therefore has a deadline of its own; one that misses it fails with [`RoundTripTimedOut`],
//! and connections released in the minute after are pinged (bounded) before they go back to
//! the pool, so a connection that went silent is closed instead of handed out again.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::AnyConnection;
use tessera_core::store::StoreError;
use thiserror::Error;

/// The deadline of one round trip, in milliseconds: the statement time-out and a second for
/// the server's own cancellation to arrive. Set by `SqlStore::connect` (the process's stores
/// share it; the last connected sets it).
static ROUND_TRIP_MS: AtomicU64 = AtomicU64::new(11_000);
/// When a round trip last missed its deadline (Unix milliseconds; 0: never).
static LAST_MISSED_MS: AtomicU64 = AtomicU64::new(0);
/// How long after a missed deadline released connections are checked.
const SUSPICION: Duration = Duration::from_secs(60);
/// The check's own limit.
pub(crate) const RELEASE_PING: Duration = Duration::from_secs(1);

#[derive(Debug, Error)]
#[error("the database did not answer within {0:?} (the network may be down)")]
pub struct RoundTripTimedOut(pub Duration);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The deadline of one round trip now in force.
pub(crate) fn round_trip() -> Duration {
    Duration::from_millis(ROUND_TRIP_MS.load(Ordering::Relaxed))
}

/// Notes a missed deadline (released connections are checked for a while).
pub(crate) fn missed() {
    LAST_MISSED_MS.store(now_ms(), Ordering::Relaxed);
}

pub(crate) fn set_statement_timeout(statement_timeout: Duration) {
    let ms = statement_timeout.as_millis() + 1000;
    ROUND_TRIP_MS.store(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// Runs one round trip on `conn` within its deadline (PostgreSQL; SQLite is a local file).
pub(crate) async fn bounded<T>(
    is_postgres: bool,
    round_trip: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    if !is_postgres {
        return round_trip.await;
    }
    let limit = self::round_trip();
    match tokio::time::timeout(limit, round_trip).await {
        Ok(result) => result,
        Err(_) => {
            missed();
            Err(StoreError::Backend(Box::new(RoundTripTimedOut(limit))))
        }
    }
}

pub(crate) fn is_postgres(conn: &AnyConnection) -> bool {
    conn.backend_name() == "PostgreSQL"
}

/// The pool's `after_release` check: after a missed deadline, a connection goes back to the
/// pool only if it answers a ping in time (sqlx's own ping on release has no limit).
pub(crate) async fn still_answers(conn: &mut AnyConnection) -> bool {
    let missed = LAST_MISSED_MS.load(Ordering::Relaxed);
    let suspicion = u64::try_from(SUSPICION.as_millis()).unwrap_or(u64::MAX);
    if missed == 0 || now_ms().saturating_sub(missed) > suspicion {
        return true;
    }
    matches!(
        tokio::time::timeout(RELEASE_PING, sqlx::Connection::ping(conn)).await,
        Ok(Ok(()))
    )
}
