//! One task hands nonce claims and login audit rows to the store in groups: while a group is
//! being made durable, new claims queue up and go into the next ones (on SQLite many groups
//! are with the store at once and everything queued is written in one transaction), so each
//! request waits about one commit and throughput grows with concurrency.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use super::{VerifierConfig, VerifierError};
use crate::store::{LoginAttempt, NonceClaim, Store};

/// Jobs waiting for the writer at most; senders wait beyond that (back-pressure).
pub(crate) const QUEUE: usize = 65_536;
/// How often collected `last_used_at` moves are written. A crash loses at most this much of
/// that informational field; a graceful stop writes them.
const USE_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);
/// Nonce records (and audit rows) deleted per purge statement.
const PURGE_CHUNK: u32 = 10_000;
/// Source addresses whose unidentified refusals are counted one by one; beyond it, every
/// further address shares one count.
const JUNK_ADDRESSES: usize = 10_000;

enum Job {
    Claim {
        claim: NonceClaim,
        reply: ClaimReply,
    },
    Attempt(LoginAttempt),
    Flush(oneshot::Sender<()>),
}

/// A claim's answer: whether its nonce record is durable, or why its group failed.
type ClaimReply = oneshot::Sender<Result<bool, Arc<crate::store::StoreError>>>;

/// Counters of the writer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub batches: u64,
    pub claims: u64,
    pub attempts: u64,
    /// Transactions that failed (their claims were refused, their audit rows lost).
    pub failed_batches: u64,
    pub purged_nonces: u64,
    pub purged_audit_rows: u64,
    /// Rows of unidentified refusals not recorded one by one (each minute's summary row
    /// stands for them).
    pub summarized_audit_rows: u64,
    /// Time groups spent with the store, in microseconds (groups in flight together each count).
    pub busy_micros: u64,
    /// Claims left out of every group because their request had stopped waiting.
    pub abandoned_claims: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    claims: AtomicU64,
    attempts: AtomicU64,
    failed_batches: AtomicU64,
    purged_nonces: AtomicU64,
    purged_audit_rows: AtomicU64,
    summarized_audit_rows: AtomicU64,
    busy_micros: AtomicU64,
    abandoned_claims: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct WriterHandle {
    jobs: mpsc::Sender<Job>,
    counters: Arc<Counters>,
    junk: Arc<JunkRows>,
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
        let junk = Arc::new(JunkRows::new(config.junk_rows_per_minute));
        tokio::spawn(purge(
            store,
            Horizons {
                nonces: Duration::from_secs(config.profile.timestamp_window_secs)
                    + config.purge_margin,
                audit: config.audit_retention,
            },
            config.purge_interval,
            counters.clone(),
            junk.clone(),
            jobs.downgrade(),
        ));
        Self {
            jobs,
            counters,
            junk,
        }
    }

    /// Hands a claim to the writer; `true` once its nonce record is durable.
    pub async fn claim(&self, claim: NonceClaim) -> Result<bool, VerifierError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Claim { claim, reply })
            .await
            .map_err(|_| VerifierError::Closed)?;
        answer
            .await
            .map_err(|_| VerifierError::Closed)?
            .map_err(VerifierError::Write)
    }

    /// Queues an audit row; it is committed with the next group. A refusal without a known
    /// user beyond its address's rows of the minute is only counted (`JunkRows`).
    pub async fn record(&self, attempt: LoginAttempt) {
        if !self.junk.admit(&attempt, minute_now()) {
            self.counters
                .summarized_audit_rows
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
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
            purged_audit_rows: c.purged_audit_rows.load(Ordering::Relaxed),
            summarized_audit_rows: c.summarized_audit_rows.load(Ordering::Relaxed),
            busy_micros: c.busy_micros.load(Ordering::Relaxed),
            abandoned_claims: c.abandoned_claims.load(Ordering::Relaxed),
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
    replies: Vec<ClaimReply>,
    /// Per claim: the `last_used_at` move its success makes.
    touches: Vec<Option<crate::store::TokenUse>>,
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
                // Its request stopped waiting (the store was too slow) and was answered 503:
                // written now, its nonce would be spent and a success recorded that nobody
                // received. Left out, the same request may be sent again.
                Job::Claim { reply, .. } if reply.is_closed() => {
                    counters.abandoned_claims.fetch_add(1, Ordering::Relaxed);
                }
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
                        .map(|token| crate::store::TokenUse {
                            token,
                            at: c.success.at,
                            // Only an address, canonical (the audit row keeps a forwarded hop
                            // that is not one as it came).
                            ip: c
                                .success
                                .ip
                                .parse::<std::net::IpAddr>()
                                .ok()
                                .map(|ip| ip.to_canonical().to_string()),
                        })
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

/// Answers a group's claims. A failed group's claims are answered with its error: their
/// requests are refused, and their logs say why.
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
                if let (true, Some(used)) = (ok, touch) {
                    uses.add(used);
                }
                let _ = reply.send(Ok(ok));
            }
        }
        Err(e) => {
            counters.failed_batches.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                error = %crate::Chain(&e),
                claims = claim_count,
                audit_rows = done.attempts,
                "writing batch failed; its claims are refused"
            );
            let e = Arc::new(e);
            for reply in done.replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

/// `last_used_at` moves written per statement: a statement holds the database's one writer, so
/// a long one would hold up the claims queued behind it.
const USE_CHUNK: usize = 1_000;

/// `last_used_at` moves collected since the last write, one per token (the latest).
#[derive(Debug, Default)]
struct UseLog {
    latest: std::collections::HashMap<crate::ids::TokenKey, crate::store::TokenUse>,
    since: Option<tokio::time::Instant>,
    /// The write in progress, in the background.
    writing: Option<tokio::task::JoinHandle<()>>,
}

impl UseLog {
    fn add(&mut self, used: crate::store::TokenUse) {
        match self.latest.get_mut(&used.token) {
            Some(latest) if latest.at >= used.at => {}
            Some(latest) => *latest = used,
            None => {
                self.latest.insert(used.token, used);
            }
        }
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
        let mut moves: Vec<_> = self.latest.drain().map(|(_, used)| used).collect();
        moves.sort_unstable_by_key(|used| used.token);
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

/// How old purged records are.
struct Horizons {
    /// Nonce records: the acceptance window plus a margin, so a record never goes while a
    /// request carrying its timestamp could still pass.
    nonces: Duration,
    /// Login audit rows: the retention.
    audit: Duration,
}

/// Every `every`: deletes nonce records that can no longer matter and audit rows past their
/// retention, in bounded batches, and writes the summary rows of the minutes that ended.
async fn purge(
    store: Arc<dyn Store>,
    horizons: Horizons,
    every: Duration,
    counters: Arc<Counters>,
    junk: Arc<JunkRows>,
    alive: mpsc::WeakSender<Job>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(jobs) = alive.upgrade() else {
            return;
        };
        for summary in junk.summaries(minute_now()) {
            let _ = jobs.send(Job::Attempt(summary)).await;
        }
        drop(jobs);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let nonces_before =
            i64::try_from(now.saturating_sub(horizons.nonces).as_secs()).unwrap_or(0);
        let audit_before =
            i64::try_from(now.saturating_sub(horizons.audit).as_millis()).unwrap_or(0);
        let purged = purge_in_chunks("old nonce records", &counters.purged_nonces, |limit| {
            store.purge_nonces(nonces_before, limit)
        });
        purged.await;
        let purged = purge_in_chunks(
            "old login audit rows",
            &counters.purged_audit_rows,
            |limit| store.purge_login_attempts(audit_before, limit),
        );
        purged.await;
    }
}

/// Runs `delete` in chunks until a chunk comes back short (or fails: then the next tick tries).
async fn purge_in_chunks<'s, F>(what: &str, counter: &AtomicU64, delete: impl Fn(u32) -> F)
where
    F: std::future::Future<Output = crate::store::StoreResult<u64>> + 's,
{
    loop {
        match delete(PURGE_CHUNK).await {
            Ok(n) => {
                counter.fetch_add(n, Ordering::Relaxed);
                if n < u64::from(PURGE_CHUNK) {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %crate::Chain(&e), "purging {what} failed; will retry");
                return;
            }
        }
    }
}

/// The current minute since the Unix epoch.
fn minute_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    i64::try_from(secs / 60).unwrap_or(i64::MAX)
}

/// Refusals without a known user (an unknown consumer key or token, a malformed request, an
/// unknown account or email) are what a prober sends by the million: per source address and
/// minute, the first `per_minute` are recorded one by one, the rest only counted, and when the
/// minute is over one summary row (the last of them, with the count in its note) stands for
/// them. Rows that name a user are always recorded.
#[derive(Debug)]
struct JunkRows {
    per_minute: u32,
    state: Mutex<JunkState>,
}

#[derive(Debug, Default)]
struct JunkState {
    /// By (source address, account named or "").
    buckets: HashMap<(String, String), JunkBucket>,
    /// Summary rows of minutes that ended, for the next tick to write.
    pending: Vec<LoginAttempt>,
}

#[derive(Debug)]
struct JunkBucket {
    minute: i64,
    recorded: u32,
    counted: u32,
    last: Option<LoginAttempt>,
}

impl JunkBucket {
    fn new(minute: i64) -> Self {
        Self {
            minute,
            recorded: 0,
            counted: 0,
            last: None,
        }
    }

    /// The row that stands for the rows this bucket only counted, if any.
    fn summary(&mut self, per_minute: u32) -> Option<LoginAttempt> {
        let mut row = self.last.take()?;
        row.detail_note = format!(
            "{} refusals without a known user came from this address in one minute beyond the \
             {per_minute} recorded one by one; this row stands for them (the last one's request \
             and Detail). {}",
            self.counted, row.detail_note
        );
        Some(row)
    }
}

impl JunkRows {
    fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            state: Mutex::default(),
        }
    }

    /// Whether `attempt` is recorded one by one.
    fn admit(&self, attempt: &LoginAttempt, minute: i64) -> bool {
        // A checked password is always recorded (the guess throttle bounds how many there
        // are): a flood of junk must not hide guesses at a real user's password.
        if attempt.success
            || attempt.user.is_some()
            || attempt.detail == crate::Detail::InvalidCredentials
        {
            return true;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let JunkState { buckets, pending } = &mut *state;
        // Per address and account named: junk naming no account cannot use up an account's
        // share, and a summary row stays in the trail of the account its rows named.
        let account = attempt.account.as_ref().map_or("", |a| a.as_str());
        let own = (attempt.ip.clone(), account.to_owned());
        let key = if buckets.len() < JUNK_ADDRESSES || buckets.contains_key(&own) {
            own
        } else {
            ("other addresses".to_owned(), account.to_owned())
        };
        let bucket = buckets
            .entry(key)
            .or_insert_with(|| JunkBucket::new(minute));
        if bucket.minute != minute {
            pending.extend(bucket.summary(self.per_minute));
            *bucket = JunkBucket::new(minute);
        }
        if bucket.recorded < self.per_minute {
            bucket.recorded += 1;
            return true;
        }
        bucket.counted += 1;
        bucket.last = Some(attempt.clone());
        false
    }

    /// The summary rows of the minutes before `minute`; their buckets go.
    fn summaries(&self, minute: i64) -> Vec<LoginAttempt> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let JunkState { buckets, pending } = &mut *state;
        let mut rows = std::mem::take(pending);
        buckets.retain(|_, bucket| {
            if bucket.minute >= minute {
                return true;
            }
            rows.extend(bucket.summary(self.per_minute));
            false
        });
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(ip: &str) -> LoginAttempt {
        LoginAttempt {
            ip: ip.to_owned(),
            detail: crate::Detail::ConsumerKeyUnknown,
            ..LoginAttempt::default()
        }
    }

    #[test]
    fn unidentified_refusals_beyond_the_minutes_share_are_summarized() {
        let junk = JunkRows::new(3);
        let recorded = (0..10)
            .filter(|_| junk.admit(&refusal("10.0.0.1"), 7))
            .count();
        assert_eq!(recorded, 3);
        assert!(
            junk.admit(&refusal("10.0.0.2"), 7),
            "another address has its own share"
        );
        let named = LoginAttempt {
            user: Some(crate::ids::UserId::new(5)),
            ..refusal("10.0.0.1")
        };
        assert!(
            junk.admit(&named, 7),
            "a row naming a user is always recorded"
        );
        assert!(junk.summaries(7).is_empty(), "the minute is not over");
        let rows = junk.summaries(8);
        assert_eq!(rows.len(), 1);
        assert!(
            rows[0].detail_note.starts_with("7 refusals"),
            "{}",
            rows[0].detail_note
        );
        assert_eq!(rows[0].detail, "consumer_key_unknown");
        // A new minute starts a new share.
        assert!(junk.admit(&refusal("10.0.0.1"), 8));
    }

    #[test]
    fn a_busy_address_in_a_new_minute_leaves_its_summary_pending() {
        let junk = JunkRows::new(1);
        for _ in 0..5 {
            junk.admit(&refusal("10.0.0.1"), 1);
        }
        assert!(junk.admit(&refusal("10.0.0.1"), 2));
        assert!(!junk.admit(&refusal("10.0.0.1"), 2));
        let rows = junk.summaries(2);
        assert_eq!(rows.len(), 1, "minute 1's summary; minute 2 is not over");
        assert!(rows[0].detail_note.starts_with("4 refusals"));
    }
}
