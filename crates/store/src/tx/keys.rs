//! Sealed secrets across tables (master key rotation) and the master key checks.

use async_trait::async_trait;
use tessera_core::ids::TokenId;
use tessera_core::store::{KeyTx, SealedSlot, StoreError, StoreResult};
use tessera_core::vault::SealedSecret;

use super::SqlTx;
use crate::rows::get;
use crate::sql::Run;

#[async_trait]
impl KeyTx for SqlTx {
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
                 UNION ALL \
                 SELECT 'request' AS kind, token_id AS slot, token_secret AS blob, \
                 token_secret_key_id AS key_id FROM request_tokens \
                 WHERE token_secret_key_id <> $1 \
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
                    "request" => SealedSlot::RequestTokenSecret(
                        TokenId::parse(&slot)
                            .map_err(|_| StoreError::Corrupt("column token_id".into()))?,
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
            SealedSlot::RequestTokenSecret(token) => (
                "UPDATE request_tokens SET token_secret = $1, token_secret_key_id = $2 WHERE token_id = $3",
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
             UNION SELECT DISTINCT token_secret_key_id AS key_id FROM access_tokens \
             UNION SELECT DISTINCT token_secret_key_id AS key_id FROM request_tokens",
        )
        .all(&mut self.tx)
        .await?;
        rows.iter().map(|row| get(row, "key_id")).collect()
    }
}
