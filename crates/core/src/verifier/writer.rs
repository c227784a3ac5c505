//! One task hands nonce claims and login audit rows to the store in groups: while a group is
//! being made durable, new claims queue up and go into the next ones (on SQLite many groups
//! are with the store at once and everything queued is written in one transaction), so each
//! request waits about one commit and throughput grows with concurrency.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use super::{VerifierConfig, VerifierError};
use crate::store::{LoginAttempt, NonceClaim, Store};

/// Jobs waiting for the writer at most; senders wait beyond that (back-pressure).
pub(crate) const QUEUE: usize = 65_536;
/// How often collected `last_used_at` moves are written. A crash loses at most this much of
/// that informational field; a graceful stop writes them.
const USE_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);
/// Nonce records deleted per purge statement.
const PURGE_CHUNK: u32 = 10_000;

enum Job {
    Claim {
        claim: NonceClaim,
        reply: oneshot::Sender<bool>,
    },
    Attempt(LoginAttempt),
    Flush(oneshot::Sender<()>),
}

/// Counters of the writer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub batches: u64,
    pub claims: u64,
    pub attempts: u64,
    /// Transactions that failed (their claims were refused, their audit rows lost).
    pub failed_batches: u64,
    pub purged_nonces: u64,
    /// Time groups spent with the store, in microseconds (groups in flight together each count).
    pub busy_micros: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    claims: AtomicU64,
    attempts: AtomicU64,
    failed_batches: AtomicU64,
    purged_nonces: AtomicU64,
    busy_micros: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct WriterHandle {
    jobs: mpsc::Sender<Job>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Claim { .. } => "Claim",
            Job::Attempt(_) => "Attempt",
            Job::Flush(_) => "Flush",
        })
    }
}

impl WriterHandle {
    pub fn start(store: Arc<dyn Store>, config: &VerifierConfig) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        tokio::spawn(run(
            store.clone(),
            queue,
            config.batch_max.max(1),
            counters.clone(),
        ));
        let horizon =
            Duration::from_secs(config.profile.timestamp_window_secs) + config.purge_margin;
        tokio::spawn(purge(
            store,
            horizon,
            config.purge_interval,
            counters.clone(),
            jobs.downgrade(),
        ));
        Self { jobs, counters }
    }

    /// Hands a claim to the writer; `true` once its nonce record is durable.
    pub async fn claim(&self, claim: NonceClaim) -> Result<bool, VerifierError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Claim { claim, reply })
            .await
            .map_err(|_| VerifierError::Closed)?;
        // A dropped reply means the transaction failed: not accepted.
        answer.await.map_err(|_| VerifierError::Closed)
    }

    /// Queues an audit row; it is committed with the next group.
    pub async fn record(&self, attempt: LoginAttempt) {
        if self.jobs.send(Job::Attempt(attempt)).await.is_err() {
            tracing::error!("login audit row lost: the writer has stopped");
        }
    }

    pub async fn flush(&self) {
        let (reply, done) = oneshot::channel();
        if self.jobs.send(Job::Flush(reply)).await.is_ok() {
            let _ = done.await;
        }
    }

    pub fn stats(&self) -> WriterStats {
        let c = &self.counters;
        WriterStats {
            batches: c.batches.load(Ordering::Relaxed),
            claims: c.claims.load(Ordering::Relaxed),
            attempts: c.attempts.load(Ordering::Relaxed),
            failed_batches: c.failed_batches.load(Ordering::Relaxed),
            purged_nonces: c.purged_nonces.load(Ordering::Relaxed),
            busy_micros: c.busy_micros.load(Ordering::Relaxed),
        }
    }
}

type GroupFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Done> + Send>>;

/// The groups with the store, polled by the writer task itself: a task per group would add a
/// hand-off between threads to every answer.
#[derive(Default)]
struct InFlight(Vec<GroupFuture>);

impl InFlight {
    /// The next group the store has answered. The groups are polled in the order they were
    /// formed, so the store is handed them in that order.
    fn next_done(&mut self) -> impl std::future::Future<Output = Done> + '_ {
        std::future::poll_fn(move |cx| {
            for i in 0..self.0.len() {
                if let std::task::Poll::Ready(done) = self.0[i].as_mut().poll(cx) {
                    drop(self.0.remove(i));
                    return std::task::Poll::Ready(done);
                }
            }
            std::task::Poll::Pending
        })
    }
}

/// A group back from the store, with what its answers need.
struct Done {
    result: crate::store::StoreResult<Vec<bool>>,
    replies: Vec<oneshot::Sender<bool>>,
    /// Per claim: the `last_used_at` move its success makes.
    touches: Vec<Option<(crate::ids::TokenKey, crate::model::Timestamp)>>,
    attempts: usize,
}

async fn run(
    store: Arc<dyn Store>,
    mut queue: mpsc::Receiver<Job>,
    batch_max: usize,
    counters: Arc<Counters>,
) {
    let mut jobs = Vec::with_capacity(batch_max);
    let mut flushes = Vec::new();
    let mut uses = UseLog::default();
    let mut in_flight = InFlight::default();
    // Groups with the store at once: where it keeps their order, the next group is already
    // with it while one is being made durable.
    let max_in_flight = store.login_groups_in_flight().max(1);
    loop {
        let due = uses.due();
        let (busy, room) = (!in_flight.0.is_empty(), in_flight.0.len() < max_in_flight);
        tokio::select! {
            biased;
            done = in_flight.next_done(), if busy => {
                answer(done, &counters, &mut uses);
                continue;
            }
            received = queue.recv_many(&mut jobs, batch_max), if room => {
                if received == 0 {
                    while !in_flight.0.is_empty() {
                        let done = in_flight.next_done().await;
                        answer(done, &counters, &mut uses);
                    }
                    uses.write(&store).await;
                    break;
                }
            }
            // Wait for jobs, but not past the time collected uses are due.
            () = sleep_until_due(due), if due.is_some() => {
                uses.start_write(&store);
                continue;
            }
        }
        let mut claims = Vec::new();
        let mut replies = Vec::new();
        let mut attempts = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Claim { claim, reply } => {
                    claims.push(claim);
                    replies.push(reply);
                }
                Job::Attempt(a) => attempts.push(a),
                Job::Flush(done) => flushes.push(done),
            }
        }
        if !(claims.is_empty() && attempts.is_empty()) {
            counters.batches.fetch_add(1, Ordering::Relaxed);
            // What a success moves in `last_used_at`, kept before the claims go to the store.
            let touches = claims
                .iter()
                .map(|c: &NonceClaim| {
                    c.touch_last_used
                        .then_some(c.success.token)
                        .flatten()
                        .map(|t| (t, c.success.at))
                })
                .collect();
            let store = store.clone();
            let counters = counters.clone();
            in_flight.0.push(Box::pin(async move {
                let started = std::time::Instant::now();
                let attempt_count = attempts.len();
                let result = store.record_logins(claims, attempts).await;
                counters.busy_micros.fetch_add(
                    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                    Ordering::Relaxed,
                );
                Done {
                    result,
                    replies,
                    touches,
                    attempts: attempt_count,
                }
            }));
        }
        if !flushes.is_empty() {
            while !in_flight.0.is_empty() {
                let done = in_flight.next_done().await;
                answer(done, &counters, &mut uses);
            }
            uses.write(&store).await;
            for done in flushes.drain(..) {
                let _ = done.send(());
            }
        }
    }
}

async fn sleep_until_due(due: Option<tokio::time::Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

/// Answers a group's claims. A failed group's replies are dropped: its requests are refused.
fn answer(done: Done, counters: &Counters, uses: &mut UseLog) {
    let claim_count = done.replies.len();
    match done.result {
        Ok(inserted) => {
            tracing::trace!(
                claims = claim_count,
                audit_rows = done.attempts,
                "login batch committed"
            );
            counters
                .claims
                .fetch_add(claim_count as u64, Ordering::Relaxed);
            counters
                .attempts
                .fetch_add(done.attempts as u64, Ordering::Relaxed);
            for ((reply, ok), touch) in done.replies.into_iter().zip(inserted).zip(done.touches) {
                if let (true, Some((token, at))) = (ok, touch) {
                    uses.add(token, at);
                }
                let _ = reply.send(ok);
            }
        }
        Err(e) => {
            counters.failed_batches.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                error = %crate::Chain(&e),
                claims = claim_count,
                audit_rows = done.attempts,
                "could not record logins; the claims are refused"
            );
        }
    }
}

/// `last_used_at` moves written per statement: a statement holds the database's one writer, so
/// a long one would hold up the claims queued behind it.
const USE_CHUNK: usize = 1_000;

/// `last_used_at` moves collected since the last write, one per token (the latest).
#[derive(Debug, Default)]
struct UseLog {
    latest: std::collections::HashMap<crate::ids::TokenKey, crate::model::Timestamp>,
    since: Option<tokio::time::Instant>,
    /// The write in progress, in the background.
    writing: Option<tokio::task::JoinHandle<()>>,
}

impl UseLog {
    fn add(&mut self, token: crate::ids::TokenKey, at: crate::model::Timestamp) {
        let latest = self.latest.entry(token).or_insert(at);
        *latest = (*latest).max(at);
        self.since.get_or_insert_with(tokio::time::Instant::now);
    }

    fn due(&self) -> Option<tokio::time::Instant> {
        self.since.map(|s| s + USE_FLUSH)
    }

    /// Starts writing the collected moves in token order, in chunks, beside the claims. A
    /// failure is logged and the moves dropped: the field is informational, and the next use
    /// sets it again.
    fn start_write(&mut self, store: &Arc<dyn Store>) {
        if self.latest.is_empty() {
            return;
        }
        let mut moves: Vec<_> = self.latest.drain().collect();
        moves.sort_unstable_by_key(|(token, _)| *token);
        self.since = None;
        let store = store.clone();
        let previous = self.writing.take();
        self.writing = Some(tokio::spawn(async move {
            if let Some(previous) = previous {
                let _ = previous.await;
            }
            for chunk in moves.chunks(USE_CHUNK) {
                if let Err(e) = store.record_token_use(chunk.to_vec()).await {
                    tracing::warn!(error = %crate::Chain(&e), tokens = chunk.len(), "could not record token use");
                }
            }
        }));
    }

    /// Writes everything collected and waits for every write started before.
    async fn write(&mut self, store: &Arc<dyn Store>) {
        self.start_write(store);
        if let Some(writing) = self.writing.take() {
            let _ = writing.await;
        }
    }
}

/// Deletes nonce records whose timestamp can no longer be accepted: older than the window plus
/// a margin, so a record never goes while a request carrying its timestamp could still pass.
async fn purge(
    store: Arc<dyn Store>,
    horizon: Duration,
    every: Duration,
    counters: Arc<Counters>,
    alive: mpsc::WeakSender<Job>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if alive.upgrade().is_none() {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let before = i64::try_from(now.saturating_sub(horizon).as_secs()).unwrap_or(0);
        loop {
            match store.purge_nonces(before, PURGE_CHUNK).await {
                Ok(n) => {
                    counters.purged_nonces.fetch_add(n, Ordering::Relaxed);
                    if n < u64::from(PURGE_CHUNK) {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %crate::Chain(&e), "purging old nonce records failed; will retry");
                    break;
                }
            }
        }
    }
}
