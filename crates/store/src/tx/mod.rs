//! One transaction: the operations of core's `StoreTx` traits as SQL that runs unchanged on
//! SQLite and PostgreSQL (`$n` placeholders, `RETURNING`, row values), one file per aggregate
//! as core splits them. The token search's engine-specific planning is in `crate::search`.

mod audit;
mod directory;
mod flow;
mod integrations;
mod keys;
mod sessions;
mod tokens;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use sqlx::{Any, AssertSqlSafe, Transaction};
use tessera_core::store::{StoreResult, StoreTx};

use crate::sql::{Run, backend_error};
use crate::{Backend, SearchTuning, deadline};

pub(crate) struct SqlTx {
    pub(super) tx: Transaction<'static, Any>,
    pub(crate) backend: Backend,
    pub(crate) search: SearchTuning,
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

pub(super) fn b(v: bool) -> i64 {
    i64::from(v)
}

pub(super) const ACCOUNT_COLUMNS: &str = "id, name, tba_enabled, require_approval, concurrency_limit, token_max_lifetime_days, ip_allow, \
    created_at";
pub(super) const ROLE_COLUMNS: &str =
    "account_id, id, name, permissions, inactive, web_services_only";
pub(super) const USER_COLUMNS: &str = "id, account_id, name, email, active, created_at";
pub(super) const INTEGRATION_COLUMNS: &str = "id, application_id, owner_account_id, name, description, tba, \
    tba_authorization_flow, callback_url, tba_issuetoken, user_credentials, consumer_key, \
    consumer_secret, consumer_secret_key_id, created_at, modified_at, deleted_at";
pub(super) const INSTALLATION_COLUMNS: &str = "integration_id, account_id, state, note, concurrency_limit, \
    origin, installed_at, state_changed_at, state_changed_by, ip_allow, signature_debug_until";
pub(super) const TOKEN_COLUMNS: &str = "id, account_id, integration_id, user_id, role_id, name, inactive, \
    revoked, revoked_at, revoked_by, revoked_by_name, created_at, created_by, created_by_name, \
    expires_at, signature_debug_until, (SELECT u.last_used_at FROM token_usage u WHERE u.token_id = access_tokens.id) \
    AS last_used_at, \
    (SELECT u.last_ip FROM token_usage u WHERE u.token_id = access_tokens.id) AS last_used_from";
/// The columns of a token with the names of what it binds, for `token` and `list_tokens`.
macro_rules! token_item_columns {
    () => {
        "SELECT t.id, t.account_id, t.integration_id, t.user_id, t.role_id, t.name, t.inactive, \
         t.revoked, t.revoked_at, t.revoked_by, t.revoked_by_name, t.created_at, t.created_by, \
         t.created_by_name, t.expires_at, t.signature_debug_until, \
         (SELECT tu.last_used_at FROM token_usage tu WHERE tu.token_id = t.id) AS last_used_at, \
         (SELECT tu.last_ip FROM token_usage tu WHERE tu.token_id = t.id) AS last_used_from, \
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
pub(crate) const TOKEN_ITEM_SELECT: &str = concat!(
    token_item_columns!(),
    "FROM access_tokens t",
    token_item_joins!()
);
/// The same, walking SQLite's name index (its planner would otherwise sort the whole account
/// when a `LIKE` is present).
pub(crate) const TOKEN_ITEM_SELECT_BY_NAME: &str = concat!(
    token_item_columns!(),
    "FROM access_tokens t INDEXED BY access_tokens_by_name",
    token_item_joins!()
);
/// The same, driven by SQLite's trigram index: its hits come in rowid (token id) order and are
/// joined to their tokens, so a page of a common term ends after a page of hits.
pub(crate) const TOKEN_ITEM_SELECT_BY_SEARCH: &str = concat!(
    token_item_columns!(),
    "FROM access_tokens_search s JOIN access_tokens t ON t.id = s.rowid",
    token_item_joins!()
);
/// The searchable text of a token row: its name and the names of what it binds, one per line.
pub(super) const SEARCH_TEXT_OF_ROW: &str = "name || '\n' \
    || (SELECT i.name FROM integrations i WHERE i.id = access_tokens.integration_id) || '\n' \
    || (SELECT u.name FROM users u WHERE u.id = access_tokens.user_id) || '\n' \
    || (SELECT r.name FROM roles r WHERE r.account_id = access_tokens.account_id \
        AND r.id = access_tokens.role_id)";

impl SqlTx {
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
}
