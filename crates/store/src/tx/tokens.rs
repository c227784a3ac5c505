//! Access tokens: create, read, the conditional edits of R8, revocation, the list.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use tessera_core::ids::{AccountId, IntegrationId, TokenId, TokenKey, UserId};
use tessera_core::model::{AccessToken, Revocation, Timestamp, TokenListItem};
use tessera_core::store::{
    ExpiryFilter, NewToken, RevokedFilter, StoreResult, StoredToken, TokenQuery, TokenSort,
    TokenTx, token_name_sort_key,
};

use super::{SqlTx, TOKEN_COLUMNS, TOKEN_ITEM_SELECT, b};
use crate::rows::{self, get};
use crate::search::SearchPlan;
use crate::sql::{Bind, Run};

/// Tokens changed per statement by a bulk change.
const CHANGE_CHUNK: usize = 1_000;

#[async_trait]
impl TokenTx for SqlTx {
    async fn insert_token(&mut self, n: &NewToken) -> StoreResult<TokenKey> {
        let row = sqlx::query(
            "INSERT INTO access_tokens (account_id, integration_id, user_id, role_id, name, \
             name_key, token_id, token_secret, token_secret_key_id, created_at, created_by, \
             created_by_name, expires_at, search_text) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $5 || '\n' \
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
        .bind(n.expires_at.map(Timestamp::millis))
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

    async fn set_token_signature_debug(
        &mut self,
        key: TokenKey,
        until: Option<Timestamp>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE access_tokens SET signature_debug_until = $2 WHERE id = $1 AND revoked = 0",
        )
        .bind(key.get())
        .bind(until.map(Timestamp::millis))
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

    async fn change_tokens(
        &mut self,
        account: &AccountId,
        keys: &[TokenKey],
        revocation: Option<&Revocation>,
    ) -> StoreResult<Vec<TokenKey>> {
        let mut changed = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(CHANGE_CHUNK) {
            // Keys are integers the caller read from the database, written as literals.
            let list = chunk
                .iter()
                .map(|k| k.get().to_string())
                .collect::<Vec<_>>()
                .join(",");
            let rows = match revocation {
                Some(r) => {
                    let sql = format!(
                        "UPDATE access_tokens SET revoked = 1, revoked_at = $2, revoked_by = $3, \
                         revoked_by_name = $4 WHERE account_id = $1 AND revoked = 0 \
                         AND id IN ({list}) RETURNING id"
                    );
                    sqlx::query(AssertSqlSafe(sql))
                        .bind(account.as_str().to_owned())
                        .bind(r.at.millis())
                        .bind(r.by.map(UserId::get))
                        .bind(r.by_name.clone())
                        .all(&mut self.tx)
                        .await?
                }
                None => {
                    let sql = format!(
                        "UPDATE access_tokens SET inactive = 1 WHERE account_id = $1 \
                         AND revoked = 0 AND inactive = 0 AND id IN ({list}) RETURNING id"
                    );
                    sqlx::query(AssertSqlSafe(sql))
                        .bind(account.as_str().to_owned())
                        .all(&mut self.tx)
                        .await?
                }
            };
            for row in &rows {
                changed.push(TokenKey::new(get(row, "id")?));
            }
        }
        changed.sort();
        Ok(changed)
    }

    async fn list_tokens(&mut self, query: &TokenQuery) -> StoreResult<Vec<TokenListItem>> {
        let f = &query.filter;
        let plan = self.search_plan(query).await?;
        let (mut q, id_column) = plan.select(self.backend, query.sort);
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
        push_time_filters(&mut q, f);
        let walk = matches!(plan, SearchPlan::Walk(_));
        plan.push_match(&mut q, self.backend);
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
        let rows = self.run_planned(q, walk).await;
        let rows = rows?;
        rows.iter().map(rows::token_item).collect()
    }
}

/// The filters on time (RULES.md R16): expiry and disuse. A token never used counts as unused
/// since it was created.
pub(crate) fn push_time_filters(q: &mut crate::sql::SqlText, f: &tessera_core::store::TokenFilter) {
    match f.expiry {
        ExpiryFilter::Any => {}
        ExpiryFilter::ExpiredAt(now) => {
            q.push(" AND t.expires_at IS NOT NULL AND t.expires_at <= ")
                .bind(Bind::Int(now.millis()));
        }
        ExpiryFilter::LiveAt(now) => {
            q.push(" AND (t.expires_at IS NULL OR t.expires_at > ")
                .bind(Bind::Int(now.millis()));
            q.push(")");
        }
        ExpiryFilter::ExpiringBetween(from, to) => {
            q.push(" AND t.expires_at IS NOT NULL AND t.expires_at > ")
                .bind(Bind::Int(from.millis()));
            q.push(" AND t.expires_at <= ").bind(Bind::Int(to.millis()));
        }
    }
    if let Some(since) = f.unused_since {
        q.push(
            " AND COALESCE((SELECT tu.last_used_at FROM token_usage tu WHERE tu.token_id = t.id), \
             t.created_at) < ",
        )
        .bind(Bind::Int(since.millis()));
    }
}
