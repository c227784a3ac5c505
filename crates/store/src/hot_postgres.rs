//! The verification hot path on PostgreSQL: a group of nonce claims and its audit rows as one
//! statement on connections of its own (ARCHITECTURE.md, "Groups on PostgreSQL"). The rest of
//! the hot path, shared with SQLite, is in `hot.rs`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tessera_core::store::{LoginAttempt, NonceClaim, NonceDigest, StoreError, StoreResult};

use crate::SqlStore;
use crate::hot::{AUDIT_VALUES, AuditValue, audit_values};
use crate::rows::{corrupt, get};
use crate::sql::Run;

/// The verifier's groups in flight at once, each on a connection of its own. One: a node's
/// groups then commit in the order they were formed, so its audit rows keep the order of its
/// requests (a refusal's row is not waited for, and a second group in flight could commit before
/// it). Two in flight gave the same throughput at 64 connections and made groups half as large,
/// each costing the database ~0.3 ms of CPU besides its claims (BENCHMARKS.md, issue 18).
pub(crate) const CLAIM_CONNECTIONS: u32 = 1;
/// A connection for groups that sat idle longer than this is pinged before a group is written
/// on it (after a database restart it would be dead, and the group refused).
pub(crate) const CLAIM_IDLE_PING: Duration = Duration::from_secs(1);

/// PostgreSQL: a whole group in one statement, so one round trip and one commit. `$1` holds the
/// claims `[[digest hex, ts, consumer key, token id], …]` (digests unique), `$2` the audit rows
/// (`audit_values`, then the index of the claim whose success the row records, or null). The
/// statement looks up once per (consumer key, token id) of the group whether the token may still
/// log in (R9/R11 and R16's expiry, the same conditions as `tessera_core::assess`), and, per
/// claim, whether its client address (`[…, ip or null]`) is in the IP allow-lists (R17: a null
/// address passes no list), inserts the nonce records of
/// the claims whose token may and whose digest is new, in digest order (groups
/// in flight together, from this node or another, then wait for each other's keys in one order
/// and cannot deadlock); then the audit rows, a success row only if its claim went in; and
/// answers the indexes of the claims that went in.
const RECORD_LOGINS_POSTGRES: &str = "WITH v AS ( \
        SELECT decode(r ->> 0, 'hex') AS digest, (r ->> 1)::bigint AS ts, r ->> 2 AS ck, \
            r ->> 3 AS tid, (r ->> 4)::inet AS ip, n - 1 AS idx \
        FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e (r, n)), \
    may_log_in AS MATERIALIZED (SELECT g.ck, g.tid, t.id AS token_key, \
            string_to_array(a.ip_allow, ',')::inet[] AS account_allow, \
            string_to_array(ins.ip_allow, ',')::inet[] AS install_allow \
        FROM (SELECT DISTINCT ck, tid FROM v) AS g \
        JOIN access_tokens t ON t.token_id = g.tid \
        JOIN integrations i ON i.id = t.integration_id \
        JOIN installations ins ON ins.integration_id = t.integration_id \
            AND ins.account_id = t.account_id \
        JOIN accounts a ON a.id = t.account_id \
        JOIN users u ON u.id = t.user_id \
        JOIN user_roles ur ON ur.user_id = t.user_id AND ur.role_id = t.role_id \
        JOIN roles r ON r.account_id = t.account_id AND r.id = t.role_id \
        WHERE i.consumer_key = g.ck AND i.deleted_at IS NULL AND i.tba = 1 \
            AND i.consumer_secret IS NOT NULL \
            AND ins.state = 'enabled' AND a.tba_enabled = 1 \
            AND t.revoked = 0 AND t.inactive = 0 \
            AND (t.expires_at IS NULL \
                OR t.expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint) \
            AND u.active = 1 AND r.inactive = 0 AND r.token_login = 1), \
    claimed AS (INSERT INTO nonces (digest, ts, token_id) \
        SELECT v.digest, v.ts, m.token_key FROM v \
        JOIN may_log_in m ON m.ck = v.ck AND m.tid = v.tid \
        WHERE (m.account_allow IS NULL \
                OR EXISTS (SELECT 1 FROM unnest(m.account_allow) AS l (net) WHERE v.ip <<= l.net)) \
            AND (m.install_allow IS NULL \
                OR EXISTS (SELECT 1 FROM unnest(m.install_allow) AS l (net) WHERE v.ip <<= l.net)) \
        ORDER BY v.digest \
        ON CONFLICT (digest) DO NOTHING RETURNING digest), \
    accepted AS (SELECT v.idx FROM v JOIN claimed c ON c.digest = v.digest), \
    audit AS (INSERT INTO login_audit (at, account_id, user_id, user_name, email, role_id, \
            role_name, ip, user_agent, method, request_uri, surface, success, detail, \
            detail_note, integration_id, application_name, token_key, token_name, \
            signature_capture) \
        SELECT (r ->> 0)::bigint, r ->> 1, (r ->> 2)::bigint, r ->> 3, r ->> 4, \
            (r ->> 5)::bigint, r ->> 6, r ->> 7, r ->> 8, r ->> 9, r ->> 10, r ->> 11, \
            (r ->> 12)::bigint, r ->> 13, r ->> 14, (r ->> 15)::bigint, r ->> 16, \
            (r ->> 17)::bigint, r ->> 18, r ->> 19 \
        FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e (r, n) \
        WHERE r ->> 20 IS NULL OR (r ->> 20)::bigint IN (SELECT idx FROM accepted) \
        ORDER BY n) \
    SELECT idx FROM accepted";

/// A group not sent because a request in it would stop waiting before the statement could
/// be done.
#[derive(Debug, thiserror::Error)]
#[error(
    "the group was not sent: one of its requests stops waiting in {left:?}, less than the \
     {budget:?} its statement may take (the database is answering slowly)"
)]
pub struct GroupTooLate {
    left: Duration,
    budget: Duration,
}

/// How soon a session that had been ended answers a group (it answers at once; a longer wait
/// means the statement was under way when the session ended).
const ENDED_SESSION_ANSWER: Duration = Duration::from_millis(500);

/// Whether `e` is PostgreSQL saying the session was ended by operator intervention (SQLSTATE
/// class 57P: terminated, shut down, idle too long), which it sends to an idle session before
/// closing it: the next statement on that connection is answered with it without running.
fn session_was_ended(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("57P")))
}

/// Opens a connection for groups and runs the group statement once with nothing in it, so the
/// first request does not wait for the connection and the plan (~50 ms). A failure here is
/// left to the first group, which reports it.
pub(crate) async fn warm_claims(claims: &sqlx::AnyPool) {
    if let Ok(mut conn) = claims.acquire().await {
        let _ = sqlx::query(RECORD_LOGINS_POSTGRES)
            .bind("[]")
            .bind("[]")
            .all(&mut conn)
            .await;
    }
}

impl SqlStore {
    /// PostgreSQL: the unique key decides among every node, and the claim's statement re-checks
    /// that the token may still log in. The group's statement commits on its own (no
    /// `BEGIN`/`COMMIT` round trips): the nonce records and the audit rows together or neither.
    pub(crate) async fn record_logins_postgres(
        &self,
        claims: &[NonceClaim],
        attempts: &[LoginAttempt],
    ) -> StoreResult<Vec<bool>> {
        // The first claim of each digest takes part; later equal ones are replays.
        let mut seen = HashSet::new();
        let unique: Vec<&NonceClaim> = claims.iter().filter(|c| seen.insert(c.digest)).collect();
        let (claims_json, audit_json) = group_json(&unique, attempts);
        let pool = self.claims.as_ref().unwrap_or(&self.write);
        let mut retried = false;
        // The first of the group's requests to stop waiting.
        let answer_by = unique.iter().filter_map(|c| c.answer_by).min();
        let rows = loop {
            let mut conn = self.connection(pool).await?;
            // Sent now, the statement could still commit after that request was answered
            // "unavailable" (spending its nonce, recording a success nobody received): not sent.
            if let Some(by) = answer_by {
                let left = by.saturating_duration_since(Instant::now());
                if left < self.claim_budget {
                    return Err(StoreError::Backend(Box::new(GroupTooLate {
                        left,
                        budget: self.claim_budget,
                    })));
                }
            }
            let sent = Instant::now();
            let answer = crate::deadline::bounded(true, async {
                Ok(sqlx::query(RECORD_LOGINS_POSTGRES)
                    .bind(claims_json.as_str())
                    .bind(audit_json.as_str())
                    .fetch_all(&mut *conn)
                    .await)
            })
            .await?;
            match answer {
                Ok(rows) => break rows,
                // The server had ended this session before the group came (an administrator,
                // an idle-session limit, a restart), which it says at once: the statement never
                // ran, and a connection in steady use is not pinged before use, so the group
                // goes once more on a new connection (this one is closed, not pooled again).
                // Not after a slow answer: the group's requests may have stopped waiting.
                Err(e)
                    if !retried
                        && sent.elapsed() < ENDED_SESSION_ANSWER
                        && session_was_ended(&e) =>
                {
                    conn.close_on_drop();
                    retried = true;
                }
                Err(e) => return Err(crate::sql::backend_error(e)),
            }
        };
        let mut went_in = vec![false; unique.len()];
        for row in &rows {
            let idx = usize::try_from(get::<i64>(row, "idx")?).map_err(|_| corrupt("idx"))?;
            *went_in.get_mut(idx).ok_or_else(|| corrupt("idx"))? = true;
        }
        let accepted: HashSet<NonceDigest> = unique
            .iter()
            .zip(went_in)
            .filter(|(_, ok)| *ok)
            .map(|(c, _)| c.digest)
            .collect();
        let mut first = HashSet::new();
        Ok(claims
            .iter()
            .map(|c| accepted.contains(&c.digest) && first.insert(c.digest))
            .collect())
    }
}

/// PostgreSQL: a group as the two JSON arrays of `RECORD_LOGINS_POSTGRES` (each one bound
/// parameter, unpacked by the database): the claims, and the audit rows — each claim's success
/// row (kept only if the claim goes in), then `attempts`.
fn group_json(claims: &[&NonceClaim], attempts: &[LoginAttempt]) -> (String, String) {
    let claim_rows: Vec<(String, i64, &str, &str, Option<String>)> = claims
        .iter()
        .map(|c| {
            (
                hex(&c.digest),
                c.timestamp,
                c.consumer_key.as_str(),
                c.token_id.as_str(),
                // Rust's form of an address, which `inet` reads (R17).
                c.client_ip.map(|ip| ip.to_canonical().to_string()),
            )
        })
        .collect();
    let audit_rows: Vec<([AuditValue<'_>; AUDIT_VALUES], Option<usize>)> = claims
        .iter()
        .enumerate()
        .map(|(i, c)| (audit_values(&c.success), Some(i)))
        .chain(attempts.iter().map(|a| (audit_values(a), None)))
        .collect();
    // Strings, integers and nulls only: serializing cannot fail. Each audit row is flattened
    // to one array: its values, then its claim's index.
    let audit_rows: Vec<serde_json::Value> = audit_rows
        .into_iter()
        .map(|(values, claim)| {
            let mut row = serde_json::to_value(values).unwrap_or_default();
            if let serde_json::Value::Array(items) = &mut row {
                items.push(claim.into());
            }
            row
        })
        .collect();
    (
        serde_json::to_string(&claim_rows).unwrap_or_else(|_| "[]".to_owned()),
        serde_json::Value::Array(audit_rows).to_string(),
    )
}

/// Lower-case hex, as PostgreSQL's `decode(…, 'hex')` reads it.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::hex;

    #[test]
    fn hex_is_what_postgres_decode_reads() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }
}
