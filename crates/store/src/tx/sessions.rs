//! The web UI's sessions (ids stored as digests).

use async_trait::async_trait;
use tessera_core::ids::{AccountId, UserId};
use tessera_core::store::{SessionTx, StoreResult, WebSession};

use super::SqlTx;
use crate::rows::{self};
use crate::sql::Run;

#[async_trait]
impl SessionTx for SqlTx {
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
}
