//! The verification hot path: the one-statement login lookup, the grouped nonce claims with
//! their audit rows, and the purge. Each runs on its own connection or transaction, outside
//! the rule-carrying `StoreTx`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use sqlx::any::AnyRow;
use tessera_core::ids::{
    AccountId, ApplicationId, ConsumerKey, IntegrationId, RoleId, TokenId, TokenKey, UserId,
};
use tessera_core::model::InstallState;
use tessera_core::store::{
    AttemptQuery, LoginAttempt, LoginRecord, LoginTokenRecord, NonceClaim, NonceDigest, StoreError,
    StoreResult,
};
use tessera_core::vault::SealedSecret;

use crate::hot_sqlite::HotWriter;
use crate::rows::{self, corrupt, flag, get};
use crate::sql::{Bind, Run, SqlText};
use crate::{Backend, SqlStore};

/// The nonce records of the acceptance window, by `oauth_timestamp` (a replay carries the same
/// timestamp, so one second's set is all a check looks at). Digests are kept to 64 bits: a
/// collision could only refuse a fresh request, about once in 2^64 / (requests per second).
#[derive(Debug, Default)]
pub(crate) struct RecentNonces {
    by_second: BTreeMap<i64, HashSet<u64>>,
}

impl RecentNonces {
    fn short(digest: &NonceDigest) -> u64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }

    /// Adds a record; `false` if it was there.
    pub(crate) fn insert(&mut self, timestamp: i64, digest: &NonceDigest) -> bool {
        self.by_second
            .entry(timestamp)
            .or_default()
            .insert(Self::short(digest))
    }

    pub(crate) fn contains(&self, timestamp: i64, digest: &NonceDigest) -> bool {
        self.by_second
            .get(&timestamp)
            .is_some_and(|s| s.contains(&Self::short(digest)))
    }

    /// Drops the records of timestamps before `before`: they can no longer be accepted.
    pub(crate) fn forget_before(&mut self, before: i64) {
        self.by_second = self.by_second.split_off(&before);
    }

    /// Every record in the table (the purge keeps it to the window and its margin).
    pub(crate) async fn load(pool: &sqlx::AnyPool) -> Result<Self, crate::OpenError> {
        let rows = sqlx::query("SELECT ts, digest FROM nonces")
            .fetch_all(pool)
            .await
            .map_err(crate::OpenError::Connect)?;
        let mut recent = Self::default();
        for row in &rows {
            let ts: i64 = sqlx::Row::try_get(row, "ts").map_err(crate::OpenError::Connect)?;
            let digest: Vec<u8> =
                sqlx::Row::try_get(row, "digest").map_err(crate::OpenError::Connect)?;
            if let Ok(digest) = NonceDigest::try_from(digest.as_slice()) {
                recent.insert(ts, &digest);
            }
        }
        Ok(recent)
    }
}

/// What R9/R11 read, for many (consumer key, token id) pairs in one statement; `idx` is the
/// pair's place in the list. Pairs whose consumer key no record has give no row.
macro_rules! login_records_sql {
    ($from:literal, $ck:literal, $tid:literal, $idx:literal) => {
        concat!(
            "SELECT ",
            $idx,
            " AS idx, i.consumer_key, i.id AS integration_id, i.application_id, \
             i.name AS application_name, i.tba, i.deleted_at, i.consumer_secret, \
             i.consumer_secret_key_id, t.id AS token_key, t.token_id, t.account_id, \
             t.name AS token_name, t.inactive, t.revoked, t.expires_at, t.token_secret, \
             t.signature_debug_until AS token_debug_until, \
             ins.signature_debug_until AS install_debug_until, t.token_secret_key_id, \
             t.user_id, t.role_id, a.tba_enabled, a.concurrency_limit AS account_limit, \
             a.ip_allow AS account_ip_allow, ins.ip_allow AS install_ip_allow, \
             ins.state AS install_state, ins.concurrency_limit AS install_limit, \
             u.name AS user_name, u.email, u.active AS user_active, \
             (SELECT COUNT(*) FROM user_roles ur WHERE ur.user_id = t.user_id \
                 AND ur.role_id = t.role_id) AS holds_role, \
             r.name AS role_name, r.inactive AS role_inactive, r.token_login \
             FROM ",
            $from,
            " \
             JOIN integrations i ON i.consumer_key = ",
            $ck,
            " \
             LEFT JOIN access_tokens t ON t.token_id = ",
            $tid,
            " AND t.integration_id = i.id \
             LEFT JOIN accounts a ON a.id = t.account_id \
             LEFT JOIN installations ins ON ins.integration_id = i.id \
                 AND ins.account_id = t.account_id \
             LEFT JOIN users u ON u.id = t.user_id \
             LEFT JOIN roles r ON r.account_id = t.account_id AND r.id = t.role_id"
        )
    };
}

const LOGIN_RECORDS_SQLITE: &str = login_records_sql!(
    "jsonb_each(jsonb($1)) AS j",
    "j.value ->> 0",
    "j.value ->> 1",
    "j.key"
);

/// The active tokens after a token key, in key order, for warming the grant cache.
const LOGIN_RECORDS_AFTER: &str = login_records_sql!(
    "(SELECT x.id AS k, x.token_id AS tid, ci.consumer_key AS ck FROM access_tokens x \
      JOIN integrations ci ON ci.id = x.integration_id \
      WHERE x.id > $1 AND x.revoked = 0 AND x.inactive = 0 AND ci.consumer_key IS NOT NULL \
      ORDER BY x.id LIMIT $2) AS j",
    "j.ck",
    "j.tid",
    "j.k"
);

const LOGIN_RECORDS_POSTGRES: &str = login_records_sql!(
    "jsonb_array_elements($1::jsonb) WITH ORDINALITY AS j (v, n)",
    "(j.v ->> 0)",
    "(j.v ->> 1)",
    "j.n - 1"
);

const ATTEMPT_COLUMNS: &str = "at, account_id, user_id, user_name, email, role_id, role_name, \
    ip, user_agent, method, request_uri, surface, success, detail, detail_note, integration_id, \
    application_name, token_key, token_name, \
    CASE WHEN signature_capture IS NULL THEN 0 ELSE 1 END AS has_capture";

impl SqlStore {
    pub(crate) async fn hot_login_records(
        &self,
        pairs: &[(ConsumerKey, TokenId)],
    ) -> StoreResult<Vec<Option<LoginRecord>>> {
        let mut found = vec![None; pairs.len()];
        if pairs.is_empty() {
            return Ok(found);
        }
        let json: Vec<serde_json::Value> = pairs
            .iter()
            .map(|(ck, tid)| serde_json::json!([ck.as_str(), tid.as_str()]))
            .collect();
        let sql = match self.backend {
            Backend::Sqlite => LOGIN_RECORDS_SQLITE,
            Backend::Postgres => LOGIN_RECORDS_POSTGRES,
        };
        let mut conn = self.connection(&self.read).await?;
        let rows = sqlx::query(sql)
            .bind(serde_json::Value::Array(json).to_string())
            .all(&mut conn)
            .await?;
        for row in &rows {
            let idx = usize::try_from(get::<i64>(row, "idx")?).map_err(|_| corrupt("idx"))?;
            if let Some(slot) = found.get_mut(idx) {
                *slot = Some(login_record(row)?);
            }
        }
        Ok(found)
    }

    pub(crate) async fn hot_login_records_after(
        &self,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, LoginRecord)>> {
        let mut conn = self.connection(&self.read).await?;
        let rows = sqlx::query(LOGIN_RECORDS_AFTER)
            .bind(after)
            .bind(i64::from(limit))
            .all(&mut conn)
            .await?;
        rows.iter()
            .map(|row| Ok((get::<i64>(row, "idx")?, login_record(row)?)))
            .collect()
    }

    pub(crate) async fn hot_record_logins(
        &self,
        claims: Vec<NonceClaim>,
        attempts: Vec<LoginAttempt>,
    ) -> StoreResult<Vec<bool>> {
        match &self.hot {
            Some(hot) => self.record_logins_sqlite(hot, claims, attempts).await,
            None => self.record_logins_postgres(&claims, &attempts).await,
        }
    }

    /// SQLite: this process is the database's only writer, so the set of recent records in
    /// memory decides, and the hot-path writer thread writes the group in one transaction. A
    /// claim accepted by the set whose transaction then fails stays in the set: that nonce is
    /// refused from then on, which is the safe side.
    async fn record_logins_sqlite(
        &self,
        hot: &HotWriter,
        claims: Vec<NonceClaim>,
        attempts: Vec<LoginAttempt>,
    ) -> StoreResult<Vec<bool>> {
        let accepted: Vec<bool> = {
            let mut recent = self
                .recent
                .lock()
                .map_err(|_| StoreError::Corrupt("the nonce set lock is poisoned".into()))?;
            claims
                .iter()
                .map(|c| recent.insert(c.timestamp, &c.digest))
                .collect()
        };
        hot.record_logins(claims, accepted, attempts).await
    }

    pub(crate) async fn hot_record_token_use(
        &self,
        uses: Vec<tessera_core::store::TokenUse>,
    ) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        if let Some(hot) = &self.hot {
            return hot.record_token_use(uses).await;
        }
        let json: Vec<serde_json::Value> = uses
            .iter()
            .map(|u| serde_json::json!([u.token.get(), u.at.millis(), u.ip]))
            .collect();
        let mut conn = self.connection(&self.write).await?;
        sqlx::query(RECORD_USE_POSTGRES)
            .bind(serde_json::Value::Array(json).to_string())
            .run(&mut conn)
            .await?;
        Ok(())
    }

    pub(crate) async fn hot_nonce_exists(
        &self,
        digest: &NonceDigest,
        timestamp: i64,
    ) -> StoreResult<bool> {
        if self.backend == Backend::Sqlite {
            let recent = self
                .recent
                .lock()
                .map_err(|_| StoreError::Corrupt("the nonce set lock is poisoned".into()))?;
            return Ok(recent.contains(timestamp, digest));
        }
        let mut conn = self.connection(&self.write).await?;
        let row = sqlx::query("SELECT 1 AS one FROM nonces WHERE digest = $1")
            .bind(digest.to_vec())
            .optional(&mut conn)
            .await?;
        Ok(row.is_some())
    }

    pub(crate) async fn hot_purge_nonces(&self, before: i64, limit: u32) -> StoreResult<u64> {
        if let Some(hot) = &self.hot {
            if let Ok(mut recent) = self.recent.lock() {
                recent.forget_before(before);
            }
            return hot
                .purge(crate::hot_sqlite::Purged::Nonces, before, limit)
                .await;
        }
        let mut conn = self.connection(&self.write).await?;
        sqlx::query(
            "DELETE FROM nonces WHERE digest IN \
             (SELECT digest FROM nonces WHERE ts < $1 LIMIT $2)",
        )
        .bind(before)
        .bind(i64::from(limit))
        .run(&mut conn)
        .await
    }

    pub(crate) async fn hot_purge_login_attempts(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<u64> {
        if let Some(hot) = &self.hot {
            return hot
                .purge(crate::hot_sqlite::Purged::Audit, before_ms, limit)
                .await;
        }
        let mut conn = self.connection(&self.write).await?;
        // The oldest rows by id, those of them older than the horizon: rows are written in time
        // order (near enough), so no index on `at` is needed.
        sqlx::query(
            "DELETE FROM login_audit WHERE id IN \
             (SELECT id FROM login_audit ORDER BY id LIMIT $2) AND at < $1",
        )
        .bind(before_ms)
        .bind(i64::from(limit))
        .run(&mut conn)
        .await
    }

    pub(crate) async fn hot_signature_capture(
        &self,
        id: i64,
    ) -> StoreResult<Option<(Option<AccountId>, String)>> {
        let mut conn = self.connection(&self.read).await?;
        let row = sqlx::query(
            "SELECT account_id, signature_capture FROM login_audit \
             WHERE id = $1 AND signature_capture IS NOT NULL",
        )
        .bind(id)
        .optional(&mut conn)
        .await?;
        row.map(|r| {
            let account = get::<Option<String>>(&r, "account_id")?
                .map(|a| AccountId::parse(&a).map_err(|_| corrupt("account_id")))
                .transpose()?;
            Ok((account, get(&r, "signature_capture")?))
        })
        .transpose()
    }

    pub(crate) async fn hot_login_attempts(
        &self,
        q: &AttemptQuery,
    ) -> StoreResult<Vec<LoginAttempt>> {
        let mut sql = SqlText::new(&format!(
            "SELECT id, {ATTEMPT_COLUMNS} FROM login_audit WHERE 1 = 1"
        ));
        if let Some(a) = &q.account {
            sql.push(" AND account_id = ");
            sql.bind(Bind::Text(a.as_str().to_owned()));
        }
        if let Some(s) = q.success {
            sql.push(" AND success = ");
            sql.bind(Bind::Int(i64::from(s)));
        }
        if let Some(d) = &q.detail {
            sql.push(" AND detail = ");
            sql.bind(Bind::Text(d.as_str().to_owned()));
        }
        if let Some(t) = q.token {
            sql.push(" AND token_key = ");
            sql.bind(Bind::Int(t.get()));
        }
        if let Some(u) = q.user {
            sql.push(" AND user_id = ");
            sql.bind(Bind::Int(u.get()));
        }
        if let Some(r) = q.role {
            sql.push(" AND role_id = ");
            sql.bind(Bind::Int(r.get()));
        }
        if let Some(i) = q.integration {
            sql.push(" AND integration_id = ");
            sql.bind(Bind::Int(i.get()));
        }
        if let Some(name) = &q.token_name {
            // LIKE folds ASCII case on SQLite only: both sides lowered, wildcards escaped.
            sql.push(" AND LOWER(token_name) LIKE ");
            sql.bind(Bind::Text(crate::search::like_pattern(
                &name.to_lowercase(),
            )));
            sql.push(" ESCAPE '\\'");
        }
        if let Some(from) = q.from {
            sql.push(" AND at >= ");
            sql.bind(Bind::Int(from.millis()));
        }
        if let Some(to) = q.to {
            sql.push(" AND at < ");
            sql.bind(Bind::Int(to.millis()));
        }
        if let Some(before) = q.before_id {
            sql.push(" AND id < ");
            sql.bind(Bind::Int(before));
        }
        sql.push(" ORDER BY id DESC LIMIT ");
        sql.bind(Bind::Int(i64::from(q.limit)));
        let mut conn = self.connection(&self.read).await?;
        let rows = sql.query().all(&mut conn).await?;
        rows.iter().map(attempt).collect()
    }
}

/// One value of an audit row.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum AuditValue<'a> {
    Int(Option<i64>),
    Text(Option<Cow<'a, str>>),
}

/// Characters an audit row keeps of a request URI, and of any other text: a request names its
/// own email, user agent or nonce, and none of them may make a row (or a group) big.
const AUDIT_URI_CHARS: usize = 2048;
const AUDIT_TEXT_CHARS: usize = 512;

/// `text` as an audit row stores it: at most `max` characters, and NUL (which PostgreSQL's text
/// and JSON refuse, failing the whole group with it) as U+FFFD.
fn audit_text(text: &str, max: usize) -> Cow<'_, str> {
    // No more bytes than `max`: no more characters either, and no walk through them.
    let end = if text.len() <= max {
        text.len()
    } else {
        text.char_indices().nth(max).map_or(text.len(), |(i, _)| i)
    };
    let kept = &text[..end];
    if kept.contains('\0') {
        Cow::Owned(kept.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(kept)
    }
}

/// An audit row's values in the order of the `login_audit` inserts' columns (`at, account_id,
/// user_id, user_name, email, role_id, role_name, ip, user_agent, method, request_uri, surface,
/// success, detail, detail_note, integration_id, application_name, token_key, token_name,
/// signature_capture`): the one list both engines' inserts bind, every text bounded by
/// `audit_text`.
pub(crate) fn audit_values(a: &LoginAttempt) -> [AuditValue<'_>; AUDIT_VALUES] {
    use AuditValue::Int;
    fn text(t: Option<&str>) -> AuditValue<'_> {
        AuditValue::Text(t.map(|t| audit_text(t, AUDIT_TEXT_CHARS)))
    }
    [
        Int(Some(a.at.millis())),
        text(a.account.as_ref().map(|x| x.as_str())),
        Int(a.user.map(|x| x.get())),
        text(a.user_name.as_deref()),
        text(a.email.as_deref()),
        Int(a.role.map(|x| x.get())),
        text(a.role_name.as_deref()),
        text(Some(&a.ip)),
        text(Some(&a.user_agent)),
        text(Some(&a.method)),
        AuditValue::Text(Some(audit_text(&a.request_uri, AUDIT_URI_CHARS))),
        text(Some(&a.surface)),
        Int(Some(i64::from(a.success))),
        text(Some(a.detail.as_str())),
        text(Some(&a.detail_note)),
        Int(a.integration.map(|x| x.get())),
        text(a.application_name.as_deref()),
        Int(a.token.map(|x| x.get())),
        text(a.token_name.as_deref()),
        // Bounded where it is made (the base string is clipped before it is put in JSON, so
        // the JSON stays whole); this bound only stops a row from growing without one.
        AuditValue::Text(
            a.signature_capture
                .as_deref()
                .map(|c| audit_text(c, AUDIT_CAPTURE_CHARS)),
        ),
    ]
}

/// The values of an audit row.
pub(crate) const AUDIT_VALUES: usize = 20;
/// The longest signature capture kept (the debugger clips its base string well below).
const AUDIT_CAPTURE_CHARS: usize = 40_000;

/// `last_used_at` moves `[[token, ms, ip or null], …]`, in token order; gone tokens skipped. The
/// address moves with the time (another node may have written a later use).
const RECORD_USE_POSTGRES: &str = "INSERT INTO token_usage (token_id, last_used_at, last_ip) \
    SELECT (r ->> 0)::bigint, (r ->> 1)::bigint, r ->> 2 \
    FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e (r, n) \
    WHERE EXISTS (SELECT 1 FROM access_tokens t WHERE t.id = (r ->> 0)::bigint) ORDER BY n \
    ON CONFLICT (token_id) DO UPDATE \
    SET last_ip = CASE WHEN EXCLUDED.last_used_at >= token_usage.last_used_at \
            THEN EXCLUDED.last_ip ELSE token_usage.last_ip END, \
        last_used_at = GREATEST(token_usage.last_used_at, EXCLUDED.last_used_at)";

fn opt_u32(row: &AnyRow, column: &str) -> StoreResult<Option<u32>> {
    get::<Option<i64>>(row, column)?
        .map(|n| u32::try_from(n).map_err(|_| corrupt(column)))
        .transpose()
}

fn opt_flag(row: &AnyRow, column: &str) -> StoreResult<bool> {
    Ok(get::<Option<i64>>(row, column)?.is_some_and(|v| v != 0))
}

fn login_record(row: &AnyRow) -> StoreResult<LoginRecord> {
    let consumer_secret = match (
        get::<Option<Vec<u8>>>(row, "consumer_secret")?,
        get::<Option<String>>(row, "consumer_secret_key_id")?,
    ) {
        (Some(blob), Some(key_id)) => Some(SealedSecret { key_id, blob }),
        _ => None,
    };
    let token = match get::<Option<i64>>(row, "token_key")? {
        None => None,
        Some(key) => Some(LoginTokenRecord {
            key: TokenKey::new(key),
            token_id: TokenId::parse(&get::<String>(row, "token_id")?)
                .map_err(|_| corrupt("token_id"))?,
            account: rows::account_id(row, "account_id")?,
            name: get(row, "token_name")?,
            inactive: flag(row, "inactive")?,
            revoked: flag(row, "revoked")?,
            expires_at: rows::opt_time(row, "expires_at")?,
            token_debug_until: rows::opt_time(row, "token_debug_until")?,
            install_debug_until: rows::opt_time(row, "install_debug_until")?,
            token_secret: SealedSecret {
                key_id: get(row, "token_secret_key_id")?,
                blob: get(row, "token_secret")?,
            },
            account_tba_enabled: opt_flag(row, "tba_enabled")?,
            account_concurrency_limit: opt_u32(row, "account_limit")?,
            account_ip_allow: rows::allow_list(row, "account_ip_allow")?,
            install_ip_allow: rows::allow_list(row, "install_ip_allow")?,
            install_state: get::<Option<String>>(row, "install_state")?
                .map(|s| InstallState::from_code(&s).ok_or_else(|| corrupt("install_state")))
                .transpose()?,
            install_concurrency_limit: opt_u32(row, "install_limit")?,
            user: UserId::new(get(row, "user_id")?),
            user_name: get::<Option<String>>(row, "user_name")?.unwrap_or_default(),
            email: get::<Option<String>>(row, "email")?.unwrap_or_default(),
            user_active: opt_flag(row, "user_active")?,
            user_holds_role: get::<i64>(row, "holds_role")? > 0,
            role: RoleId::new(get(row, "role_id")?),
            role_name: get::<Option<String>>(row, "role_name")?.unwrap_or_default(),
            role_inactive: get::<Option<i64>>(row, "role_inactive")?.is_none_or(|v| v != 0),
            role_token_login: opt_flag(row, "token_login")?,
        }),
    };
    Ok(LoginRecord {
        consumer_key: ConsumerKey::parse(&get::<String>(row, "consumer_key")?)
            .map_err(|_| corrupt("consumer_key"))?,
        integration: IntegrationId::new(get(row, "integration_id")?),
        application_id: ApplicationId::parse(&get::<String>(row, "application_id")?)
            .map_err(|_| corrupt("application_id"))?,
        application_name: get(row, "application_name")?,
        token_based_auth: flag(row, "tba")?,
        deleted: get::<Option<i64>>(row, "deleted_at")?.is_some(),
        consumer_secret,
        token,
    })
}

fn attempt(row: &AnyRow) -> StoreResult<LoginAttempt> {
    Ok(LoginAttempt {
        id: Some(get(row, "id")?),
        at: rows::time(row, "at")?,
        account: get::<Option<String>>(row, "account_id")?
            .map(|a| AccountId::parse(&a).map_err(|_| corrupt("account_id")))
            .transpose()?,
        user: get::<Option<i64>>(row, "user_id")?.map(UserId::new),
        user_name: get(row, "user_name")?,
        email: get(row, "email")?,
        role: get::<Option<i64>>(row, "role_id")?.map(RoleId::new),
        role_name: get(row, "role_name")?,
        ip: get(row, "ip")?,
        user_agent: get(row, "user_agent")?,
        method: get(row, "method")?,
        request_uri: get(row, "request_uri")?,
        surface: get(row, "surface")?,
        success: flag(row, "success")?,
        detail: tessera_core::Detail::parse(&get::<String>(row, "detail")?)
            .ok_or_else(|| crate::rows::corrupt("detail"))?,
        detail_note: get(row, "detail_note")?,
        integration: get::<Option<i64>>(row, "integration_id")?.map(IntegrationId::new),
        application_name: get(row, "application_name")?,
        token: get::<Option<i64>>(row, "token_key")?.map(TokenKey::new),
        token_name: get(row, "token_name")?,
        signature_capture: None,
        has_signature_capture: flag(row, "has_capture")?,
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn audit_text_is_bounded_and_free_of_nul() {
        use super::{AUDIT_TEXT_CHARS, audit_text};
        assert_eq!(audit_text("a\0b", 10), "a\u{FFFD}b");
        assert!(matches!(
            audit_text("plain", 10),
            std::borrow::Cow::Borrowed("plain")
        ));
        let long = "é".repeat(AUDIT_TEXT_CHARS + 5);
        assert_eq!(
            audit_text(&long, AUDIT_TEXT_CHARS).chars().count(),
            AUDIT_TEXT_CHARS
        );
        assert_eq!(audit_text("abc", 2), "ab");
    }
}
