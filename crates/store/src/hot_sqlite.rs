//! SQLite: the verification hot path's writes (nonce records, login audit rows, `last_used_at`,
//! the nonce purge) on a thread of their own, with their own connection and statements
//! prepared once and bound natively. Through sqlx every group cost a JSON document built on
//! the request threads and unpacked field by field by SQLite, plus hand-offs to the driver's
//! thread; here a group is one wake of this thread and one row insert per record.
//!
//! Groups that queue while a transaction is being made durable are written together in the
//! next one: one commit and one flush for all of them.
//!
//! SQLite has one writer at a time. This connection and the store's sqlx write pool take
//! turns through a fair gate held for a whole transaction, so neither can starve the other
//! and a deferred sqlx transaction never finds its snapshot overtaken by a hot-path commit.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, Statement, params};
use tessera_core::ids::TokenKey;
use tessera_core::store::{LoginAttempt, NonceClaim, StoreError, StoreResult};
use tokio::sync::oneshot;

impl rusqlite::ToSql for crate::hot::AuditValue<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            crate::hot::AuditValue::Int(v) => v.to_sql(),
            crate::hot::AuditValue::Text(Some(text)) => text.as_ref().to_sql(),
            crate::hot::AuditValue::Text(None) => Ok(rusqlite::types::ToSqlOutput::Owned(
                rusqlite::types::Value::Null,
            )),
        }
    }
}

/// The turn to write the SQLite database: the hot-path thread takes it per transaction, a
/// write transaction of the store for its whole life. FIFO, so nobody waits more than a turn.
pub(crate) type WriteGate = Arc<tokio::sync::Mutex<()>>;

/// The hot-path thread was not running when asked (it failed to start or has stopped).
#[derive(Debug, thiserror::Error)]
#[error("the SQLite hot-path writer has stopped")]
struct WriterStopped;

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}

fn stopped() -> StoreError {
    StoreError::Backend(Box::new(WriterStopped))
}

enum Job {
    /// The nonce records and success rows of the claims marked accepted, then `attempts`, in
    /// one transaction. Answers with `accepted` once durable.
    Logins(LoginGroup),
    TokenUse {
        uses: Vec<tessera_core::store::TokenUse>,
        reply: oneshot::Sender<StoreResult<()>>,
    },
    Purge {
        table: Purged,
        before: i64,
        limit: u32,
        reply: oneshot::Sender<StoreResult<u64>>,
    },
}

/// What a purge deletes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purged {
    /// Nonce records with an `oauth_timestamp` (Unix seconds) before `before`.
    Nonces,
    /// Login audit rows written before `before` (Unix milliseconds).
    Audit,
}

/// The handle of the hot-path writer thread. The thread ends when the handle is dropped or
/// stopped, after the jobs already queued.
#[derive(Debug)]
pub(crate) struct HotWriter {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl HotWriter {
    /// Starts the thread, which opens its connection to the database file and prepares its
    /// statements before this returns.
    pub(crate) fn start(path: &Path, gate: WriteGate) -> Result<Self, crate::OpenError> {
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| crate::OpenError::HotWriter(e);
        let path = path.to_owned();
        let (ready, started) = mpsc::sync_channel(1);
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tessera-sqlite-writer".into())
            .spawn(move || {
                let conn = match open(&path) {
                    Ok(conn) => conn,
                    Err(e) => {
                        let _ = ready.send(Err(e.into()));
                        return;
                    }
                };
                let mut statements = match Statements::prepare(&conn) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready.send(Err(e.into()));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                run(&mut statements, &queue, &gate);
            })
            .map_err(|e| failed(Box::new(e)))?;
        match started.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(failed(e)),
            Err(_) => return Err(failed(Box::new(WriterStopped))),
        }
        Ok(Self {
            jobs: Mutex::new(Some(jobs)),
            thread: Mutex::new(Some(thread)),
        })
    }

    fn send(&self, job: Job) -> StoreResult<()> {
        let jobs = self.jobs.lock().map_err(|_| stopped())?;
        jobs.as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())
    }

    pub(crate) async fn record_logins(
        &self,
        claims: Vec<NonceClaim>,
        accepted: Vec<bool>,
        attempts: Vec<LoginAttempt>,
    ) -> StoreResult<Vec<bool>> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Logins(LoginGroup {
            claims,
            accepted,
            attempts,
            reply,
        }))?;
        answer.await.map_err(|_| stopped())?
    }

    pub(crate) async fn record_token_use(
        &self,
        uses: Vec<tessera_core::store::TokenUse>,
    ) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::TokenUse { uses, reply })?;
        answer.await.map_err(|_| stopped())?
    }

    pub(crate) async fn purge(&self, table: Purged, before: i64, limit: u32) -> StoreResult<u64> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Purge {
            table,
            before,
            limit,
            reply,
        })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Lets the thread finish the queued jobs and waits for it.
    pub(crate) async fn stop(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

const INSERT_NONCE: &str = "INSERT INTO nonces (ts, digest, token_id) VALUES (?1, ?2, ?3)";

const INSERT_ATTEMPT: &str = "INSERT INTO login_audit (at, account_id, user_id, user_name, \
    email, role_id, role_name, ip, user_agent, method, request_uri, surface, success, detail, \
    detail_note, integration_id, application_name, token_key, token_name, signature_capture) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
    ?20)";

/// Moves `last_used_at` forward only, the address with it; a token deleted meanwhile is skipped.
const RECORD_USE: &str = "INSERT INTO token_usage (token_id, last_used_at, last_ip) \
    SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM access_tokens t WHERE t.id = ?1) \
    ON CONFLICT (token_id) DO UPDATE \
    SET last_ip = CASE WHEN excluded.last_used_at >= token_usage.last_used_at \
            THEN excluded.last_ip ELSE token_usage.last_ip END, \
        last_used_at = max(token_usage.last_used_at, excluded.last_used_at)";

const PURGE: &str = "DELETE FROM nonces WHERE id IN (SELECT id FROM nonces WHERE ts < ?1 LIMIT ?2)";

/// The oldest rows by id, those of them older than the horizon: rows are written in time order
/// (near enough), so no index on `at` is needed and a purge with nothing to do reads `?2` rows.
const PURGE_AUDIT: &str = "DELETE FROM login_audit WHERE id IN \
    (SELECT id FROM login_audit ORDER BY id LIMIT ?2) AND at < ?1";

struct Statements<'c> {
    conn: &'c Connection,
    nonce: Statement<'c>,
    attempt: Statement<'c>,
    token_use: Statement<'c>,
    purge: Statement<'c>,
    purge_audit: Statement<'c>,
}

impl<'c> Statements<'c> {
    fn prepare(conn: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Self {
            conn,
            nonce: conn.prepare(INSERT_NONCE)?,
            attempt: conn.prepare(INSERT_ATTEMPT)?,
            token_use: conn.prepare(RECORD_USE)?,
            purge: conn.prepare(PURGE)?,
            purge_audit: conn.prepare(PURGE_AUDIT)?,
        })
    }

    /// Runs `body` in an immediate transaction; any failure rolls the whole of it back.
    fn transaction<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = body(self).and_then(|v| self.conn.execute_batch("COMMIT").map(|()| v));
        if result.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        result
    }

    fn attempt(&mut self, a: &LoginAttempt) -> rusqlite::Result<()> {
        self.attempt
            .execute(rusqlite::params_from_iter(crate::hot::audit_values(a)))?;
        Ok(())
    }

    fn logins(&mut self, groups: &[LoginGroup]) -> rusqlite::Result<()> {
        self.transaction(|s| {
            for g in groups {
                let won = g.claims.iter().zip(&g.accepted).filter(|(_, ok)| **ok);
                for (c, _) in won.clone() {
                    let token = c.success.token.map_or(0, TokenKey::get);
                    s.nonce
                        .execute(params![c.timestamp, &c.digest[..], token])?;
                }
                for (c, _) in won {
                    s.attempt(&c.success)?;
                }
                for a in &g.attempts {
                    s.attempt(a)?;
                }
            }
            Ok(())
        })
    }

    fn token_use(&mut self, uses: &[tessera_core::store::TokenUse]) -> rusqlite::Result<()> {
        self.transaction(|s| {
            for u in uses {
                s.token_use
                    .execute(params![u.token.get(), u.at.millis(), u.ip])?;
            }
            Ok(())
        })
    }

    fn purge(&mut self, table: Purged, before: i64, limit: u32) -> rusqlite::Result<u64> {
        let statement = match table {
            Purged::Nonces => &mut self.purge,
            Purged::Audit => &mut self.purge_audit,
        };
        let deleted = statement.execute(params![before, limit])?;
        Ok(deleted as u64)
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
         PRAGMA cache_size = -16384;",
    )?;
    Ok(conn)
}

/// A group of claims and audit rows waiting for the writer.
struct LoginGroup {
    claims: Vec<NonceClaim>,
    accepted: Vec<bool>,
    attempts: Vec<LoginAttempt>,
    reply: oneshot::Sender<StoreResult<Vec<bool>>>,
}

/// The transaction that carried several groups failed; each group gets its cause.
#[derive(Debug, thiserror::Error)]
#[error("the SQLite transaction failed")]
struct TransactionFailed(#[source] std::sync::Arc<rusqlite::Error>);

fn run(s: &mut Statements<'_>, queue: &mpsc::Receiver<Job>, gate: &WriteGate) {
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        match job {
            Job::Logins(first) => {
                // Every group queued meanwhile goes into the same transaction: one commit and
                // one flush for all of them.
                let mut groups = vec![first];
                while let Ok(job) = queue.try_recv() {
                    match job {
                        Job::Logins(group) => groups.push(group),
                        other => {
                            next = Some(other);
                            break;
                        }
                    }
                }
                let written = {
                    let _turn = gate.blocking_lock();
                    s.logins(&groups)
                };
                match written {
                    Ok(()) => {
                        for g in groups {
                            let _ = g.reply.send(Ok(g.accepted));
                        }
                    }
                    Err(e) => {
                        let why = std::sync::Arc::new(e);
                        for g in groups {
                            let failed = TransactionFailed(why.clone());
                            let _ = g.reply.send(Err(StoreError::Backend(Box::new(failed))));
                        }
                    }
                }
            }
            Job::TokenUse { uses, reply } => {
                let _turn = gate.blocking_lock();
                let _ = reply.send(s.token_use(&uses).map_err(backend));
            }
            Job::Purge {
                table,
                before,
                limit,
                reply,
            } => {
                let _turn = gate.blocking_lock();
                let _ = reply.send(s.purge(table, before, limit).map_err(backend));
            }
        }
    }
}
