//! One transaction: the `StoreTx` methods as SQL that runs unchanged on SQLite and PostgreSQL
//! (`$n` placeholders, `RETURNING`, row values), except for the token search.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Transaction};
use tessera_core::ids::{
    AccountId, ConsumerKey, Email, IntegrationId, RoleId, TokenId, TokenKey, UserId,
};
use tessera_core::model::{
    AccessToken, Account, Installation, Integration, RecordRef, Revocation, Role, SystemNote,
    Timestamp, TokenListItem, User,
};
use tessera_core::store::{
    NewIntegration, NewToken, NewUser, RevokedFilter, SealedSlot, StoreError, StoreResult, StoreTx,
    StoredIntegration, StoredToken, TokenQuery, TokenSort, WebSession, token_name_sort_key,
};
use tessera_core::vault::SealedSecret;

use crate::deadline;
use crate::rows::{self, get};
use crate::{Backend, SearchTuning};

pub(crate) fn backend_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let what = db.constraint().unwrap_or("").to_owned() + " " + db.message();
        let name = if what.contains("email") {
            "email"
        } else if what.contains("token_id") {
            "token id"
        } else if what.contains("consumer_key") {
            "consumer key"
        } else if what.contains("application_id") {
            "application id"
        } else {
            "key"
        };
        return StoreError::Duplicate(name);
    }
    if let sqlx::Error::Database(db) = &e
        && db.is_foreign_key_violation()
    {
        return StoreError::Dangling;
    }
    StoreError::Backend(Box::new(e))
}

pub(crate) struct SqlTx {
    tx: Transaction<'static, Any>,
    backend: Backend,
    search: SearchTuning,
    /// The store's change epoch, for a write transaction.
    changes: Option<Arc<AtomicU64>>,
    /// SQLite: the turn to write, held until the transaction ends (dropped with it).
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl SqlTx {
    pub(crate) fn new(
        tx: Transaction<'static, Any>,
        backend: Backend,
        search: SearchTuning,
        changes: Option<Arc<AtomicU64>>,
        turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    ) -> Self {
        Self {
            tx,
            backend,
            search,
            changes,
            _turn: turn,
        }
    }
}

fn b(v: bool) -> i64 {
    i64::from(v)
}

const ACCOUNT_COLUMNS: &str =
    "id, name, tba_enabled, require_approval, concurrency_limit, created_at";
const ROLE_COLUMNS: &str = "account_id, id, name, permissions, inactive, web_services_only";
const USER_COLUMNS: &str = "id, account_id, name, email, active, created_at";
const INTEGRATION_COLUMNS: &str = "id, application_id, owner_account_id, name, description, tba, \
    tba_authorization_flow, callback_url, tba_issuetoken, user_credentials, consumer_key, \
    consumer_secret, consumer_secret_key_id, created_at, modified_at, deleted_at";
const INSTALLATION_COLUMNS: &str = "integration_id, account_id, state, note, concurrency_limit, \
    origin, installed_at, state_changed_at, state_changed_by";
const TOKEN_COLUMNS: &str = "id, account_id, integration_id, user_id, role_id, name, inactive, \
    revoked, revoked_at, revoked_by, revoked_by_name, created_at, created_by, created_by_name, \
    (SELECT u.last_used_at FROM token_usage u WHERE u.token_id = access_tokens.id) \
    AS last_used_at";
/// The columns of a token with the names of what it binds, for `token` and `list_tokens`.
macro_rules! token_item_columns {
    () => {
        "SELECT t.id, t.account_id, t.integration_id, t.user_id, t.role_id, t.name, t.inactive, \
         t.revoked, t.revoked_at, t.revoked_by, t.revoked_by_name, t.created_at, t.created_by, \
         t.created_by_name, \
         (SELECT tu.last_used_at FROM token_usage tu WHERE tu.token_id = t.id) AS last_used_at, \
         i.name AS application_name, u.name AS user_name, r.name AS role_name "
    };
}
/// The joins that bring those names.
macro_rules! token_item_joins {
    () => {
        " JOIN integrations i ON i.id = t.integration_id \
          JOIN users u ON u.id = t.user_id \
          JOIN roles r ON r.account_id = t.account_id AND r.id = t.role_id"
    };
}
const TOKEN_ITEM_SELECT: &str = concat!(
    token_item_columns!(),
    "FROM access_tokens t",
    token_item_joins!()
);
/// The same, walking SQLite's name index (its planner would otherwise sort the whole account
/// when a `LIKE` is present).
const TOKEN_ITEM_SELECT_BY_NAME: &str = concat!(
    token_item_columns!(),
    "FROM access_tokens t INDEXED BY access_tokens_by_name",
    token_item_joins!()
);
/// The same, driven by SQLite's trigram index: its hits come in rowid (token id) order and are
/// joined to their tokens, so a page of a common term ends after a page of hits.
const TOKEN_ITEM_SELECT_BY_SEARCH: &str = concat!(
    token_item_columns!(),
    "FROM access_tokens_search s JOIN access_tokens t ON t.id = s.rowid",
    token_item_joins!()
);
/// The searchable text of a token row: its name and the names of what it binds, one per line.
const SEARCH_TEXT_OF_ROW: &str = "name || '\n' \
    || (SELECT i.name FROM integrations i WHERE i.id = access_tokens.integration_id) || '\n' \
    || (SELECT u.name FROM users u WHERE u.id = access_tokens.user_id) || '\n' \
    || (SELECT r.name FROM roles r WHERE r.account_id = access_tokens.account_id \
        AND r.id = access_tokens.role_id)";

/// How the token list applies a search.
enum SearchPlan {
    None,
    /// SQLite, id order: the FTS5 index streams hits in rowid order into the join.
    IndexDriven(String),
    /// A selective term: its hits, found once in the trigram index.
    Hits(Vec<i64>),
    /// A common term (its `LIKE` pattern): walk the list in order and match each row.
    Walk(String),
}

/// `%`, `_` and `\` taken literally in a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn like_pattern(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// An FTS5 phrase: the term in double quotes, inner quotes doubled.
fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

impl SqlTx {
    async fn user_roles(&mut self, user: UserId) -> StoreResult<Vec<RoleId>> {
        let rows = sqlx::query("SELECT role_id FROM user_roles WHERE user_id = $1")
            .bind(user.get())
            .all(&mut self.tx)
            .await?;
        rows.iter()
            .map(|r| get::<i64>(r, "role_id").map(RoleId::new))
            .collect()
    }

    async fn user_from_row(&mut self, row: Option<AnyRow>) -> StoreResult<Option<User>> {
        let Some(row) = row else { return Ok(None) };
        let id = UserId::new(get(&row, "id")?);
        let roles = self.user_roles(id).await?;
        rows::user(&row, roles).map(Some)
    }

    /// Re-derives `search_text` for the token rows matching `condition` (after a rename).
    async fn refresh_search_text(
        &mut self,
        condition: &'static str,
        binds: (i64, Option<&str>),
    ) -> StoreResult<()> {
        let sql = format!(
            "UPDATE access_tokens SET search_text = {SEARCH_TEXT_OF_ROW} WHERE {condition}"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(binds.0);
        if let Some(s) = binds.1 {
            q = q.bind(s.to_owned());
        }
        q.run(&mut self.tx).await?;
        Ok(())
    }

    /// The ids of the tokens that hold a search term, looked up in the trigram index; `None`
    /// when there are [`SearchTuning::selective_hits`] or more. On PostgreSQL the planner is told to use the
    /// index here (its estimate for `ILIKE '%…%'` is a guess, and a wrong guess walks the
    /// whole table).
    async fn search_hits(
        &mut self,
        account: &AccountId,
        term: &str,
    ) -> StoreResult<Option<Vec<i64>>> {
        // PostgreSQL asks the index only for terms its sample found rare (under 1 in 200), and
        // sorting a few thousand hits by id is cheap there.
        let limit = match self.backend {
            Backend::Sqlite => self.search.selective_hits,
            Backend::Postgres => self.search.selective_hits * 5,
        };
        let rows = match self.backend {
            Backend::Sqlite => {
                sqlx::query(
                    "SELECT rowid AS id FROM access_tokens_search \
                     WHERE access_tokens_search MATCH $1 LIMIT $2",
                )
                .bind(fts_phrase(term))
                .bind(limit)
                .all(&mut self.tx)
                .await
            }
            Backend::Postgres => {
                self.pg_planner(&["enable_seqscan", "enable_indexscan"], false)
                    .await?;
                let rows = sqlx::query(
                    "SELECT id FROM access_tokens WHERE account_id = $1 \
                     AND search_text ILIKE $2 ESCAPE '\\' LIMIT $3",
                )
                .bind(account.as_str().to_owned())
                .bind(like_pattern(term))
                .bind(limit)
                .all(&mut self.tx)
                .await;
                self.pg_planner(&["enable_seqscan", "enable_indexscan"], true)
                    .await?;
                rows
            }
        }?;
        if rows.len() >= usize::try_from(limit).unwrap_or(usize::MAX) {
            return Ok(None);
        }
        rows.iter()
            .map(|r| get::<i64>(r, "id"))
            .collect::<StoreResult<_>>()
            .map(Some)
    }

    /// Whether a term looks rare enough in a large account for PostgreSQL's trigram index to
    /// pay off, judged on a 0.2 % sample of the table's pages (2–3 ms at a million tokens).
    /// The index answers only after collecting every hit, which for a common term costs more
    /// than walking the list until a page of hits; below 1 hit in 200 rows the walk would be
    /// long, so the index is asked. In a small account the walk is short anyway.
    async fn pg_term_is_rare(&mut self, account: &AccountId, term: &str) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT count(*) AS sampled, \
             count(*) FILTER (WHERE search_text ILIKE $2 ESCAPE '\\') AS hits \
             FROM access_tokens TABLESAMPLE SYSTEM (0.2) REPEATABLE (7) WHERE account_id = $1",
        )
        .bind(account.as_str().to_owned())
        .bind(like_pattern(term))
        .one(&mut self.tx)
        .await?;
        let (sampled, hits): (i64, i64) = (get(&row, "sampled")?, get(&row, "hits")?);
        let large = sampled * 500 >= self.search.large_account;
        Ok(large && hits * 200 < sampled.max(1))
    }

    /// Switches PostgreSQL planner methods for the rest of the transaction.
    async fn pg_planner(&mut self, settings: &[&'static str], on: bool) -> StoreResult<()> {
        for setting in settings {
            let sql = format!("SET LOCAL {setting} = {}", if on { "on" } else { "off" });
            sqlx::query(AssertSqlSafe(sql)).run(&mut self.tx).await?;
        }
        Ok(())
    }
}

pub(crate) type Q<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

/// Runs a query in a transaction, its error mapped once for all.
pub(crate) trait Run {
    async fn optional(self, conn: &mut AnyConnection) -> StoreResult<Option<AnyRow>>;
    async fn all(self, conn: &mut AnyConnection) -> StoreResult<Vec<AnyRow>>;
    async fn one(self, conn: &mut AnyConnection) -> StoreResult<AnyRow>;
    /// Rows affected.
    async fn run(self, conn: &mut AnyConnection) -> StoreResult<u64>;
}

/// Each within its round-trip deadline on PostgreSQL (`deadline`).
impl Run for Q<'_> {
    async fn optional(self, conn: &mut AnyConnection) -> StoreResult<Option<AnyRow>> {
        let pg = deadline::is_postgres(conn);
        deadline::bounded(pg, async {
            self.fetch_optional(conn).await.map_err(backend_error)
        })
        .await
    }

    async fn all(self, conn: &mut AnyConnection) -> StoreResult<Vec<AnyRow>> {
        let pg = deadline::is_postgres(conn);
        deadline::bounded(pg, async {
            self.fetch_all(conn).await.map_err(backend_error)
        })
        .await
    }

    async fn one(self, conn: &mut AnyConnection) -> StoreResult<AnyRow> {
        let pg = deadline::is_postgres(conn);
        deadline::bounded(pg, async {
            self.fetch_one(conn).await.map_err(backend_error)
        })
        .await
    }

    async fn run(self, conn: &mut AnyConnection) -> StoreResult<u64> {
        let pg = deadline::is_postgres(conn);
        deadline::bounded(pg, async {
            self.execute(conn)
                .await
                .map(|r| r.rows_affected())
                .map_err(backend_error)
        })
        .await
    }
}

pub(crate) enum Bind {
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// SQL text built piece by piece with `$n` placeholders, which both engines accept (sqlx's
/// `QueryBuilder` writes `?` for `Any`, which PostgreSQL does not).
pub(crate) struct SqlText {
    sql: String,
    binds: Vec<Bind>,
}

impl SqlText {
    pub(crate) fn new(start: &str) -> Self {
        Self {
            sql: start.to_owned(),
            binds: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }

    pub(crate) fn bind(&mut self, value: Bind) {
        self.binds.push(value);
        self.sql.push_str(&format!("${}", self.binds.len()));
    }

    pub(crate) fn query(self) -> Q<'static> {
        self.binds
            .into_iter()
            .fold(sqlx::query(AssertSqlSafe(self.sql)), |q, b| match b {
                Bind::Int(v) => q.bind(v),
                Bind::Text(v) => q.bind(v),
                Bind::Blob(v) => q.bind(v),
            })
    }
}

#[async_trait]
impl StoreTx for SqlTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let pg = self.backend == Backend::Postgres;
        let tx = self.tx;
        let result =
            deadline::bounded(pg, async { tx.commit().await.map_err(backend_error) }).await;
        // Moved on whatever the outcome: a failed commit may still have landed.
        if let Some(changes) = &self.changes {
            changes.fetch_add(1, Ordering::AcqRel);
        }
        result
    }

    async fn insert_account(&mut self, a: &Account) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO accounts (id, name, tba_enabled, require_approval, concurrency_limit, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(a.id.as_str().to_owned())
        .bind(a.name.clone())
        .bind(b(a.tba_enabled))
        .bind(b(a.require_approval_for_auto_install))
        .bind(a.concurrency_limit.map(i64::from))
        .bind(a.created_at.millis())
        .run(&mut self.tx)
        .await?;
        Ok(())
    }

    async fn account(&mut self, id: &AccountId) -> StoreResult<Option<Account>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"
        ));
        let row = sqlx::query(sql)
            .bind(id.as_str().to_owned())
            .optional(&mut self.tx)
            .await?;
        row.as_ref().map(rows::account).transpose()
    }

    async fn update_account(&mut self, a: &Account) -> StoreResult<()> {
        sqlx::query(
            "UPDATE accounts SET name = $2, tba_enabled = $3, require_approval = $4, \
             concurrency_limit = $5 WHERE id = $1",
        )
        .bind(a.id.as_str().to_owned())
        .bind(a.name.clone())
        .bind(b(a.tba_enabled))
        .bind(b(a.require_approval_for_auto_install))
        .bind(a.concurrency_limit.map(i64::from))
        .run(&mut self.tx)
        .await?;
        Ok(())
    }

    async fn list_accounts(&mut self) -> StoreResult<Vec<Account>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id"
        ));
        let rows = sqlx::query(sql).all(&mut self.tx).await?;
        rows.iter().map(rows::account).collect()
    }

    async fn next_role_id(&mut self, account: &AccountId) -> StoreResult<RoleId> {
        let row = sqlx::query(
            "UPDATE accounts SET next_role_id = next_role_id + 1 WHERE id = $1 \
             RETURNING next_role_id - 1 AS id",
        )
        .bind(account.as_str().to_owned())
        .one(&mut self.tx)
        .await?;
        Ok(RoleId::new(get(&row, "id")?))
    }

    async fn insert_role(&mut self, r: &Role) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO roles (account_id, id, name, permissions, inactive, web_services_only, \
             token_login) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(r.account.as_str().to_owned())
        .bind(r.id.get())
        .bind(r.name.clone())
        .bind(r.permissions.to_codes())
        .bind(b(r.inactive))
        .bind(b(r.web_services_only))
        .bind(b(r.can_use_tokens()))
        .run(&mut self.tx)
        .await?;
        Ok(())
    }

    async fn role(&mut self, account: &AccountId, id: RoleId) -> StoreResult<Option<Role>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE account_id = $1 AND id = $2"
        ));
        let row = sqlx::query(sql)
            .bind(account.as_str().to_owned())
            .bind(id.get())
            .optional(&mut self.tx)
            .await?;
        row.as_ref().map(rows::role).transpose()
    }

    async fn update_role(&mut self, r: &Role) -> StoreResult<()> {
        let before = self.role(&r.account, r.id).await?;
        sqlx::query(
            "UPDATE roles SET name = $3, permissions = $4, inactive = $5, web_services_only = $6, \
             token_login = $7 WHERE account_id = $1 AND id = $2",
        )
        .bind(r.account.as_str().to_owned())
        .bind(r.id.get())
        .bind(r.name.clone())
        .bind(r.permissions.to_codes())
        .bind(b(r.inactive))
        .bind(b(r.web_services_only))
        .bind(b(r.can_use_tokens()))
        .run(&mut self.tx)
        .await?;
        if before.is_some_and(|old| old.name != r.name) {
            self.refresh_search_text(
                "role_id = $1 AND account_id = $2",
                (r.id.get(), Some(r.account.as_str())),
            )
            .await?;
        }
        Ok(())
    }

    async fn list_roles(&mut self, account: &AccountId) -> StoreResult<Vec<Role>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE account_id = $1 ORDER BY id"
        ));
        let rows = sqlx::query(sql)
            .bind(account.as_str().to_owned())
            .all(&mut self.tx)
            .await?;
        rows.iter().map(rows::role).collect()
    }

    async fn insert_user(&mut self, u: &NewUser) -> StoreResult<UserId> {
        let row = sqlx::query(
            "INSERT INTO users (account_id, name, email, active, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(u.account.as_str().to_owned())
        .bind(u.name.clone())
        .bind(u.email.as_str().to_owned())
        .bind(b(u.active))
        .bind(u.password_hash.clone())
        .bind(u.created_at.millis())
        .one(&mut self.tx)
        .await?;
        Ok(UserId::new(get(&row, "id")?))
    }

    async fn user(&mut self, account: &AccountId, id: UserId) -> StoreResult<Option<User>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE account_id = $1 AND id = $2"
        ));
        let row = sqlx::query(sql)
            .bind(account.as_str().to_owned())
            .bind(id.get())
            .optional(&mut self.tx)
            .await?;
        self.user_from_row(row).await
    }

    async fn user_by_email(
        &mut self,
        account: &AccountId,
        email: &Email,
    ) -> StoreResult<Option<User>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE account_id = $1 AND email = $2"
        ));
        let row = sqlx::query(sql)
            .bind(account.as_str().to_owned())
            .bind(email.as_str().to_owned())
            .optional(&mut self.tx)
            .await?;
        self.user_from_row(row).await
    }

    async fn update_user(&mut self, u: &User) -> StoreResult<()> {
        let before = self.user(&u.account, u.id).await?;
        sqlx::query(
            "UPDATE users SET name = $3, email = $4, active = $5 WHERE account_id = $1 AND id = $2",
        )
        .bind(u.account.as_str().to_owned())
        .bind(u.id.get())
        .bind(u.name.clone())
        .bind(u.email.as_str().to_owned())
        .bind(b(u.active))
        .run(&mut self.tx)
        .await?;
        if before.is_some_and(|old| old.name != u.name) {
            self.refresh_search_text("user_id = $1", (u.id.get(), None))
                .await?;
        }
        Ok(())
    }

    async fn set_user_roles(
        &mut self,
        account: &AccountId,
        user: UserId,
        roles: &[RoleId],
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(user.get())
            .run(&mut self.tx)
            .await?;
        for role in roles {
            sqlx::query(
                "INSERT INTO user_roles (user_id, account_id, role_id) VALUES ($1, $2, $3)",
            )
            .bind(user.get())
            .bind(account.as_str().to_owned())
            .bind(role.get())
            .run(&mut self.tx)
            .await?;
        }
        Ok(())
    }

    async fn password_hash(
        &mut self,
        account: &AccountId,
        user: UserId,
    ) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT password_hash FROM users WHERE account_id = $1 AND id = $2")
            .bind(account.as_str().to_owned())
            .bind(user.get())
            .optional(&mut self.tx)
            .await?;
        match row {
            Some(row) => get(&row, "password_hash"),
            None => Ok(None),
        }
    }

    async fn set_password_hash(
        &mut self,
        account: &AccountId,
        user: UserId,
        hash: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = $3 WHERE account_id = $1 AND id = $2")
            .bind(account.as_str().to_owned())
            .bind(user.get())
            .bind(hash.map(str::to_owned))
            .run(&mut self.tx)
            .await?;
        Ok(())
    }

    async fn delete_user(
        &mut self,
        account: &AccountId,
        id: UserId,
    ) -> StoreResult<Vec<AccessToken>> {
        let sql = AssertSqlSafe(format!(
            "DELETE FROM access_tokens WHERE account_id = $1 AND user_id = $2 RETURNING {TOKEN_COLUMNS}"
        ));
        let deleted = sqlx::query(sql)
            .bind(account.as_str().to_owned())
            .bind(id.get())
            .all(&mut self.tx)
            .await?;
        sqlx::query("DELETE FROM users WHERE account_id = $1 AND id = $2")
            .bind(account.as_str().to_owned())
            .bind(id.get())
            .run(&mut self.tx)
            .await?;
        let mut tokens = deleted
            .iter()
            .map(rows::token)
            .collect::<StoreResult<Vec<_>>>()?;
        tokens.sort_by_key(|t| t.key);
        Ok(tokens)
    }

    async fn list_users(&mut self, account: &AccountId) -> StoreResult<Vec<User>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE account_id = $1 ORDER BY id"
        ));
        let user_rows = sqlx::query(sql)
            .bind(account.as_str().to_owned())
            .all(&mut self.tx)
            .await?;
        let role_rows =
            sqlx::query("SELECT user_id, role_id FROM user_roles WHERE account_id = $1")
                .bind(account.as_str().to_owned())
                .all(&mut self.tx)
                .await?;
        let mut held: std::collections::HashMap<i64, Vec<RoleId>> =
            std::collections::HashMap::new();
        for r in &role_rows {
            held.entry(get(r, "user_id")?)
                .or_default()
                .push(RoleId::new(get(r, "role_id")?));
        }
        user_rows
            .iter()
            .map(|row| {
                let id: i64 = get(row, "id")?;
                rows::user(row, held.remove(&id).unwrap_or_default())
            })
            .collect()
    }

    async fn insert_integration(&mut self, n: &NewIntegration) -> StoreResult<IntegrationId> {
        let s = &n.switches;
        let row = sqlx::query(
            "INSERT INTO integrations (application_id, owner_account_id, name, description, tba, \
             tba_authorization_flow, callback_url, tba_issuetoken, user_credentials, created_at, \
             modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
        )
        .bind(n.application_id.as_str().to_owned())
        .bind(n.owner.as_str().to_owned())
        .bind(n.name.clone())
        .bind(n.description.clone())
        .bind(b(s.token_based_auth))
        .bind(b(s.tba_authorization_flow))
        .bind(s.callback_url.clone())
        .bind(b(s.tba_issuetoken_endpoint))
        .bind(b(s.user_credentials))
        .bind(n.created_at.millis())
        .one(&mut self.tx)
        .await?;
        Ok(IntegrationId::new(get(&row, "id")?))
    }

    async fn integration(&mut self, id: IntegrationId) -> StoreResult<Option<StoredIntegration>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE id = $1"
        ));
        let row = sqlx::query(sql)
            .bind(id.get())
            .optional(&mut self.tx)
            .await?;
        row.as_ref().map(rows::integration).transpose()
    }

    async fn integration_by_consumer_key(
        &mut self,
        key: &ConsumerKey,
    ) -> StoreResult<Option<StoredIntegration>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE consumer_key = $1"
        ));
        let row = sqlx::query(sql)
            .bind(key.as_str().to_owned())
            .optional(&mut self.tx)
            .await?;
        row.as_ref().map(rows::integration).transpose()
    }

    async fn update_integration(&mut self, i: &Integration) -> StoreResult<()> {
        let before = self.integration(i.id).await?;
        let s = &i.switches;
        sqlx::query(
            "UPDATE integrations SET name = $2, description = $3, tba = $4, \
             tba_authorization_flow = $5, callback_url = $6, tba_issuetoken = $7, \
             user_credentials = $8, modified_at = $9, deleted_at = $10 WHERE id = $1",
        )
        .bind(i.id.get())
        .bind(i.name.clone())
        .bind(i.description.clone())
        .bind(b(s.token_based_auth))
        .bind(b(s.tba_authorization_flow))
        .bind(s.callback_url.clone())
        .bind(b(s.tba_issuetoken_endpoint))
        .bind(b(s.user_credentials))
        .bind(i.modified_at.millis())
        .bind(i.deleted_at.map(Timestamp::millis))
        .run(&mut self.tx)
        .await?;
        if before.is_some_and(|old| old.integration.name != i.name) {
            self.refresh_search_text("integration_id = $1", (i.id.get(), None))
                .await?;
        }
        Ok(())
    }

    async fn set_consumer_credentials(
        &mut self,
        id: IntegrationId,
        previous: Option<&ConsumerKey>,
        key: &ConsumerKey,
        secret: &SealedSecret,
        at: Timestamp,
    ) -> StoreResult<bool> {
        // The key read earlier must still be there (compare-and-set), so that of two
        // concurrent resets only one succeeds and every pair shown is the pair that works.
        let guard = if previous.is_some() {
            "consumer_key = $6"
        } else {
            "consumer_key IS NULL"
        };
        let sql = AssertSqlSafe(format!(
            "UPDATE integrations SET consumer_key = $2, consumer_secret = $3, \
             consumer_secret_key_id = $4, credentials_issued_at = $5, modified_at = $5 \
             WHERE id = $1 AND {guard}"
        ));
        let mut q = sqlx::query(sql)
            .bind(id.get())
            .bind(key.as_str().to_owned())
            .bind(secret.blob.clone())
            .bind(secret.key_id.clone())
            .bind(at.millis());
        if let Some(previous) = previous {
            q = q.bind(previous.as_str().to_owned());
        }
        let done = q.run(&mut self.tx).await?;
        Ok(done == 1)
    }

    async fn insert_installation(&mut self, i: &Installation) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO installations (integration_id, account_id, state, note, concurrency_limit, \
             origin, installed_at, state_changed_at, state_changed_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (integration_id, account_id) DO NOTHING",
        )
        .bind(i.integration.get())
        .bind(i.account.as_str().to_owned())
        .bind(i.state.code())
        .bind(i.note.clone())
        .bind(i.concurrency_limit.map(i64::from))
        .bind(i.origin.code())
        .bind(i.installed_at.millis())
        .bind(i.state_changed_at.millis())
        .bind(i.state_changed_by.clone())
        .run(&mut self.tx).await?;
        Ok(done == 1)
    }

    async fn installation(
        &mut self,
        integration: IntegrationId,
        account: &AccountId,
    ) -> StoreResult<Option<Installation>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {INSTALLATION_COLUMNS} FROM installations WHERE integration_id = $1 AND account_id = $2"
        ));
        let row = sqlx::query(sql)
            .bind(integration.get())
            .bind(account.as_str().to_owned())
            .optional(&mut self.tx)
            .await?;
        row.as_ref().map(|r| rows::installation(r, "")).transpose()
    }

    async fn update_installation(&mut self, i: &Installation) -> StoreResult<()> {
        sqlx::query(
            "UPDATE installations SET state = $3, note = $4, concurrency_limit = $5, \
             state_changed_at = $6, state_changed_by = $7 WHERE integration_id = $1 AND account_id = $2",
        )
        .bind(i.integration.get())
        .bind(i.account.as_str().to_owned())
        .bind(i.state.code())
        .bind(i.note.clone())
        .bind(i.concurrency_limit.map(i64::from))
        .bind(i.state_changed_at.millis())
        .bind(i.state_changed_by.clone())
        .run(&mut self.tx).await?;
        Ok(())
    }

    async fn delete_installation(
        &mut self,
        integration: IntegrationId,
        account: &AccountId,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM installations WHERE integration_id = $1 AND account_id = $2")
            .bind(integration.get())
            .bind(account.as_str().to_owned())
            .run(&mut self.tx)
            .await?;
        Ok(())
    }

    async fn installations_of(
        &mut self,
        integration: IntegrationId,
    ) -> StoreResult<Vec<Installation>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {INSTALLATION_COLUMNS} FROM installations WHERE integration_id = $1 ORDER BY account_id"
        ));
        let rows = sqlx::query(sql)
            .bind(integration.get())
            .all(&mut self.tx)
            .await?;
        rows.iter().map(|r| rows::installation(r, "")).collect()
    }

    async fn installable_accounts(
        &mut self,
        integration: IntegrationId,
    ) -> StoreResult<Vec<AccountId>> {
        let rows = sqlx::query(
            "SELECT account_id FROM installable_accounts WHERE integration_id = $1 \
             ORDER BY account_id",
        )
        .bind(integration.get())
        .all(&mut self.tx)
        .await?;
        rows.iter()
            .map(|r| rows::account_id(r, "account_id"))
            .collect()
    }

    async fn set_installable_accounts(
        &mut self,
        integration: IntegrationId,
        accounts: &[AccountId],
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM installable_accounts WHERE integration_id = $1")
            .bind(integration.get())
            .run(&mut self.tx)
            .await?;
        for account in accounts {
            sqlx::query(
                "INSERT INTO installable_accounts (integration_id, account_id) VALUES ($1, $2)",
            )
            .bind(integration.get())
            .bind(account.as_str().to_owned())
            .run(&mut self.tx)
            .await?;
        }
        Ok(())
    }

    async fn installed_in(
        &mut self,
        account: &AccountId,
    ) -> StoreResult<Vec<(Integration, Installation)>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {INTEGRATION_COLUMNS}, n.integration_id AS inst_integration_id, \
             n.account_id AS inst_account_id, n.state AS inst_state, n.note AS inst_note, \
             n.concurrency_limit AS inst_concurrency_limit, n.origin AS inst_origin, \
             n.installed_at AS inst_installed_at, n.state_changed_at AS inst_state_changed_at, \
             n.state_changed_by AS inst_state_changed_by \
             FROM integrations JOIN installations n ON n.integration_id = integrations.id \
             WHERE n.account_id = $1 ORDER BY integrations.id"
        ));
        let rows = sqlx::query(sql)
            .bind(account.as_str().to_owned())
            .all(&mut self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    rows::integration(r)?.integration,
                    rows::installation(r, "inst_")?,
                ))
            })
            .collect()
    }

    async fn insert_token(&mut self, n: &NewToken) -> StoreResult<TokenKey> {
        let row = sqlx::query(
            "INSERT INTO access_tokens (account_id, integration_id, user_id, role_id, name, \
             name_key, token_id, token_secret, token_secret_key_id, created_at, created_by, \
             created_by_name, search_text) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $5 || '\n' \
             || (SELECT i.name FROM integrations i WHERE i.id = $2) || '\n' \
             || (SELECT u.name FROM users u WHERE u.id = $3) || '\n' \
             || (SELECT r.name FROM roles r WHERE r.account_id = $1 AND r.id = $4)) \
             RETURNING id",
        )
        .bind(n.account.as_str().to_owned())
        .bind(n.integration.get())
        .bind(n.user.get())
        .bind(n.role.get())
        .bind(n.name.clone())
        .bind(token_name_sort_key(&n.name))
        .bind(n.token_id.as_str().to_owned())
        .bind(n.token_secret.blob.clone())
        .bind(n.token_secret.key_id.clone())
        .bind(n.created_at.millis())
        .bind(n.created_by.map(UserId::get))
        .bind(n.created_by_name.clone())
        .one(&mut self.tx)
        .await?;
        Ok(TokenKey::new(get(&row, "id")?))
    }

    async fn token(
        &mut self,
        account: &AccountId,
        key: TokenKey,
    ) -> StoreResult<Option<TokenListItem>> {
        let sql = AssertSqlSafe(format!(
            "{TOKEN_ITEM_SELECT} WHERE t.account_id = $1 AND t.id = $2"
        ));
        let row = sqlx::query(sql)
            .bind(account.as_str().to_owned())
            .bind(key.get())
            .optional(&mut self.tx)
            .await?;
        row.as_ref().map(rows::token_item).transpose()
    }

    async fn token_by_token_id(&mut self, token_id: &TokenId) -> StoreResult<Option<StoredToken>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS}, token_id, token_secret, token_secret_key_id \
             FROM access_tokens WHERE token_id = $1"
        ));
        let row = sqlx::query(sql)
            .bind(token_id.as_str().to_owned())
            .optional(&mut self.tx)
            .await?;
        row.as_ref().map(rows::stored_token).transpose()
    }

    async fn rename_token(&mut self, key: TokenKey, name: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE access_tokens SET name = $2, name_key = $3 WHERE id = $1 AND revoked = 0",
        )
        .bind(key.get())
        .bind(name.to_owned())
        .bind(token_name_sort_key(name))
        .run(&mut self.tx)
        .await?;
        if done != 1 {
            return Ok(false);
        }
        self.refresh_search_text("id = $1", (key.get(), None))
            .await?;
        Ok(true)
    }

    async fn set_token_inactive(&mut self, key: TokenKey, inactive: bool) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE access_tokens SET inactive = $2 WHERE id = $1 AND revoked = 0")
                .bind(key.get())
                .bind(b(inactive))
                .run(&mut self.tx)
                .await?;
        Ok(done == 1)
    }

    async fn revoke_token(&mut self, key: TokenKey, r: &Revocation) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE access_tokens SET revoked = 1, revoked_at = $2, revoked_by = $3, \
             revoked_by_name = $4 WHERE id = $1 AND revoked = 0",
        )
        .bind(key.get())
        .bind(r.at.millis())
        .bind(r.by.map(UserId::get))
        .bind(r.by_name.clone())
        .run(&mut self.tx)
        .await?;
        Ok(done == 1)
    }

    async fn revoke_tokens_of_integration(
        &mut self,
        integration: IntegrationId,
        account: Option<&AccountId>,
        r: &Revocation,
    ) -> StoreResult<Vec<AccessToken>> {
        let scope = if account.is_some() {
            " AND account_id = $5"
        } else {
            ""
        };
        let sql = AssertSqlSafe(format!(
            "UPDATE access_tokens SET revoked = 1, revoked_at = $2, revoked_by = $3, \
             revoked_by_name = $4 WHERE integration_id = $1 AND revoked = 0{scope} \
             RETURNING {TOKEN_COLUMNS}"
        ));
        let mut q = sqlx::query(sql)
            .bind(integration.get())
            .bind(r.at.millis())
            .bind(r.by.map(UserId::get))
            .bind(r.by_name.clone());
        if let Some(a) = account {
            q = q.bind(a.as_str().to_owned());
        }
        let rows = q.all(&mut self.tx).await?;
        let mut tokens = rows
            .iter()
            .map(rows::token)
            .collect::<StoreResult<Vec<_>>>()?;
        // RETURNING shows the new values; the caller wants what they were.
        for t in &mut tokens {
            t.revoked = None;
        }
        tokens.sort_by_key(|t| t.key);
        Ok(tokens)
    }

    async fn list_tokens(&mut self, query: &TokenQuery) -> StoreResult<Vec<TokenListItem>> {
        let f = &query.filter;
        let plan = match (self.backend, f.search.as_deref()) {
            (_, None) => SearchPlan::None,
            (Backend::Sqlite, Some(term)) if query.sort != TokenSort::Name => {
                SearchPlan::IndexDriven(fts_phrase(term))
            }
            (Backend::Postgres, Some(term))
                if !self.pg_term_is_rare(&query.account, term).await? =>
            {
                SearchPlan::Walk(like_pattern(term))
            }
            (_, Some(term)) => match self.search_hits(&query.account, term).await? {
                Some(ids) => SearchPlan::Hits(ids),
                None => SearchPlan::Walk(like_pattern(term)),
            },
        };
        let (mut q, id_column) = match &plan {
            SearchPlan::IndexDriven(phrase) => {
                let mut q = SqlText::new(TOKEN_ITEM_SELECT_BY_SEARCH);
                q.push(" WHERE access_tokens_search MATCH ")
                    .bind(Bind::Text(phrase.clone()));
                q.push(" AND");
                (q, "s.rowid")
            }
            SearchPlan::Walk(_)
                if self.backend == Backend::Sqlite && query.sort == TokenSort::Name =>
            {
                (SqlText::new(TOKEN_ITEM_SELECT_BY_NAME), "t.id")
            }
            _ => (SqlText::new(TOKEN_ITEM_SELECT), "t.id"),
        };
        if !matches!(plan, SearchPlan::IndexDriven(_)) {
            q.push(" WHERE");
        }
        q.push(" t.account_id = ")
            .bind(Bind::Text(query.account.as_str().to_owned()));
        match f.revoked {
            RevokedFilter::All => {}
            RevokedFilter::Yes => {
                q.push(" AND t.revoked = 1");
            }
            RevokedFilter::No => {
                q.push(" AND t.revoked = 0");
            }
        }
        if let Some(v) = f.inactive {
            q.push(" AND t.inactive = ").bind(Bind::Int(b(v)));
        }
        if let Some(i) = f.integration {
            q.push(" AND t.integration_id = ").bind(Bind::Int(i.get()));
        }
        if let Some(u) = f.user {
            q.push(" AND t.user_id = ").bind(Bind::Int(u.get()));
        }
        if let Some(r) = f.role {
            q.push(" AND t.role_id = ").bind(Bind::Int(r.get()));
        }
        let walk = matches!(plan, SearchPlan::Walk(_));
        match plan {
            SearchPlan::None | SearchPlan::IndexDriven(_) => {}
            SearchPlan::Hits(ids) if ids.is_empty() => {
                q.push(" AND 1 = 0");
            }
            SearchPlan::Hits(ids) => {
                // Integers from the database, written as literals: nothing to inject.
                let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
                q.push(&format!(" AND t.id IN ({list})"));
            }
            SearchPlan::Walk(pattern) => {
                let op = match self.backend {
                    Backend::Postgres => " AND t.search_text ILIKE ",
                    Backend::Sqlite => " AND t.search_text LIKE ",
                };
                q.push(op).bind(Bind::Text(pattern));
                q.push(" ESCAPE '\\'");
            }
        }
        match (&query.after, query.sort) {
            (None, _) => {}
            (Some(c), TokenSort::NewestFirst) => {
                q.push(&format!(" AND {id_column} < "))
                    .bind(Bind::Int(c.key.get()));
            }
            (Some(c), TokenSort::OldestFirst) => {
                q.push(&format!(" AND {id_column} > "))
                    .bind(Bind::Int(c.key.get()));
            }
            (Some(c), TokenSort::Name) => {
                let name = c.name_key.clone().unwrap_or_default();
                q.push(" AND (t.name_key > ").bind(Bind::Text(name.clone()));
                q.push(" OR (t.name_key = ").bind(Bind::Text(name));
                q.push(" AND t.id > ").bind(Bind::Int(c.key.get()));
                q.push("))");
            }
        }
        q.push(&match query.sort {
            TokenSort::NewestFirst => format!(" ORDER BY {id_column} DESC"),
            TokenSort::OldestFirst => format!(" ORDER BY {id_column} ASC"),
            TokenSort::Name => " ORDER BY t.name_key ASC, t.id ASC".to_owned(),
        })
        .push(" LIMIT ")
        .bind(Bind::Int(i64::from(query.limit)));
        // A common term: walk the list in order (PostgreSQL would otherwise build a bitmap of
        // every hit before sorting them).
        let pg_walk = walk && self.backend == Backend::Postgres;
        if pg_walk {
            self.pg_planner(&["enable_bitmapscan"], false).await?;
        }
        let rows = q.query().all(&mut self.tx).await;
        if pg_walk {
            self.pg_planner(&["enable_bitmapscan"], true).await?;
        }
        let rows = rows?;
        rows.iter().map(rows::token_item).collect()
    }

    async fn insert_notes(&mut self, notes: &[SystemNote]) -> StoreResult<()> {
        for n in notes {
            let (kind, id, record_account) = rows::record_parts(&n.record);
            sqlx::query(
                "INSERT INTO system_notes (at, account_id, actor_user_id, actor_name, context, \
                 record_type, record_id, record_account_id, field, old_value, new_value) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(n.at.millis())
            .bind(n.account.as_str().to_owned())
            .bind(n.actor.map(UserId::get))
            .bind(n.actor_name.clone())
            .bind(n.context.code())
            .bind(kind)
            .bind(id)
            .bind(record_account)
            .bind(n.field.clone())
            .bind(n.old_value.clone())
            .bind(n.new_value.clone())
            .run(&mut self.tx)
            .await?;
        }
        Ok(())
    }

    async fn notes(&mut self, record: &RecordRef) -> StoreResult<Vec<SystemNote>> {
        let (kind, id, record_account) = rows::record_parts(record);
        let rows = sqlx::query(
            "SELECT at, account_id, actor_user_id, actor_name, context, record_type, record_id, \
                 record_account_id, field, old_value, new_value FROM system_notes \
                 WHERE record_type = $1 AND record_id = $2 AND record_account_id = $3 ORDER BY id",
        )
        .bind(kind)
        .bind(id)
        .bind(record_account)
        .all(&mut self.tx)
        .await?;
        rows.iter().map(rows::note).collect()
    }

    async fn web_session(&mut self, id_digest: &str) -> StoreResult<Option<WebSession>> {
        let row = sqlx::query(
            "SELECT id_digest, account_id, user_id, data, expires_at FROM web_sessions \
             WHERE id_digest = $1",
        )
        .bind(id_digest.to_owned())
        .optional(&mut self.tx)
        .await?;
        row.as_ref().map(rows::web_session).transpose()
    }

    async fn put_web_session(&mut self, s: &WebSession) -> StoreResult<()> {
        let (account, user) = match &s.owner {
            Some((account, user)) => (Some(account.as_str().to_owned()), Some(user.get())),
            None => (None, None),
        };
        sqlx::query(
            "INSERT INTO web_sessions (id_digest, account_id, user_id, data, expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id_digest) DO UPDATE SET \
             account_id = excluded.account_id, user_id = excluded.user_id, \
             data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(s.id_digest.clone())
        .bind(account)
        .bind(user)
        .bind(s.data.clone())
        .bind(s.expires_at)
        .run(&mut self.tx)
        .await?;
        Ok(())
    }

    async fn delete_web_session(&mut self, id_digest: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM web_sessions WHERE id_digest = $1")
            .bind(id_digest.to_owned())
            .run(&mut self.tx)
            .await?;
        Ok(())
    }

    async fn delete_web_sessions_of(
        &mut self,
        account: &AccountId,
        user: UserId,
    ) -> StoreResult<u64> {
        sqlx::query("DELETE FROM web_sessions WHERE account_id = $1 AND user_id = $2")
            .bind(account.as_str().to_owned())
            .bind(user.get())
            .run(&mut self.tx)
            .await
    }

    async fn purge_web_sessions(&mut self, now: i64) -> StoreResult<u64> {
        sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1")
            .bind(now)
            .run(&mut self.tx)
            .await
    }

    async fn secrets_not_sealed_by(
        &mut self,
        key_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<(SealedSlot, SealedSecret)>> {
        let rows = sqlx::query(
            "SELECT 'consumer' AS kind, application_id AS slot, consumer_secret AS blob, \
                 consumer_secret_key_id AS key_id FROM integrations \
                 WHERE consumer_secret IS NOT NULL AND consumer_secret_key_id <> $1 \
                 UNION ALL \
                 SELECT 'token' AS kind, token_id AS slot, token_secret AS blob, \
                 token_secret_key_id AS key_id FROM access_tokens WHERE token_secret_key_id <> $1 \
                 LIMIT $2",
        )
        .bind(key_id.to_owned())
        .bind(i64::from(limit))
        .all(&mut self.tx)
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = get(row, "kind")?;
                let slot: String = get(row, "slot")?;
                let slot = match kind.as_str() {
                    "consumer" => SealedSlot::ConsumerSecret(
                        tessera_core::ids::ApplicationId::parse(&slot)
                            .map_err(|_| StoreError::Corrupt("column application_id".into()))?,
                    ),
                    _ => SealedSlot::TokenSecret(
                        TokenId::parse(&slot)
                            .map_err(|_| StoreError::Corrupt("column token_id".into()))?,
                    ),
                };
                Ok((
                    slot,
                    SealedSecret {
                        key_id: get(row, "key_id")?,
                        blob: get(row, "blob")?,
                    },
                ))
            })
            .collect()
    }

    async fn replace_sealed(
        &mut self,
        slot: &SealedSlot,
        sealed: &SealedSecret,
    ) -> StoreResult<()> {
        let (sql, id) = match slot {
            SealedSlot::ConsumerSecret(app) => (
                "UPDATE integrations SET consumer_secret = $1, consumer_secret_key_id = $2 WHERE application_id = $3",
                app.as_str().to_owned(),
            ),
            SealedSlot::TokenSecret(token) => (
                "UPDATE access_tokens SET token_secret = $1, token_secret_key_id = $2 WHERE token_id = $3",
                token.as_str().to_owned(),
            ),
        };
        sqlx::query(sql)
            .bind(sealed.blob.clone())
            .bind(sealed.key_id.clone())
            .bind(id)
            .run(&mut self.tx)
            .await?;
        Ok(())
    }

    async fn master_key_checks(&mut self) -> StoreResult<Vec<SealedSecret>> {
        let rows = sqlx::query("SELECT key_id, check_value FROM master_key_checks ORDER BY key_id")
            .all(&mut self.tx)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(SealedSecret {
                    key_id: get(row, "key_id")?,
                    blob: get(row, "check_value")?,
                })
            })
            .collect()
    }

    async fn add_master_key_check(&mut self, check: &SealedSecret, at: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO master_key_checks (key_id, check_value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key_id) DO NOTHING",
        )
        .bind(check.key_id.clone())
        .bind(check.blob.clone())
        .bind(at)
        .run(&mut self.tx)
        .await?;
        Ok(())
    }

    async fn retain_master_key_check(&mut self, key_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM master_key_checks WHERE key_id <> $1")
            .bind(key_id.to_owned())
            .run(&mut self.tx)
            .await?;
        Ok(())
    }

    async fn sealed_key_ids(&mut self) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT consumer_secret_key_id AS key_id FROM integrations \
             WHERE consumer_secret_key_id IS NOT NULL \
             UNION SELECT DISTINCT token_secret_key_id AS key_id FROM access_tokens",
        )
        .all(&mut self.tx)
        .await?;
        rows.iter().map(|row| get(row, "key_id")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(fts_phrase("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
