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
/// How long after a missed deadline (or an abandoned round trip) released connections are
/// closed rather than pooled.
const SUSPICION: Duration = Duration::from_secs(10);

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
    // Dropped before the answer (a caller that gave up: a client gone, a health probe's
    // budget), the round trip is as suspect as one that missed its deadline.
    let mut abandoned = Abandoned(true);
    let answered = tokio::time::timeout(limit, round_trip).await;
    abandoned.0 = false;
    match answered {
        // An error of the database's (a unique key, a cancelled statement) is an answer.
        Ok(result) => result,
        Err(_) => {
            missed();
            Err(StoreError::Backend(Box::new(RoundTripTimedOut(limit))))
        }
    }
}

/// Notes a missed deadline when dropped while its round trip is still under way.
struct Abandoned(bool);

impl Drop for Abandoned {
    fn drop(&mut self) {
        if self.0 {
            missed();
        }
    }
}

pub(crate) fn is_postgres(conn: &AnyConnection) -> bool {
    conn.backend_name() == "PostgreSQL"
}

/// The pool's `after_release` check: for a while after a round trip missed its deadline or was
/// abandoned, connections are closed when released instead of going back to the pool. Such a
/// connection may be dead (sqlx's own check on release, a ping, would wait on it without limit,
/// holding a pool slot) or alive with a cancelled `BEGIN` behind it (launchbadge/sqlx#4385: it
/// would be handed out inside a transaction). Reconnecting costs a few milliseconds, only then.
pub(crate) fn may_return_to_pool() -> bool {
    let missed = LAST_MISSED_MS.load(Ordering::Relaxed);
    let suspicion = u64::try_from(SUSPICION.as_millis()).unwrap_or(u64::MAX);
    missed == 0 || now_ms().saturating_sub(missed) > suspicion
}
