//! Integration records (with their sealed consumer secret) and installations.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use tessera_core::ids::{AccountId, ConsumerKey, IntegrationId};
use tessera_core::model::{Installation, Integration, Timestamp};
use tessera_core::store::{IntegrationTx, NewIntegration, StoreResult, StoredIntegration};
use tessera_core::vault::SealedSecret;

use super::{INSTALLATION_COLUMNS, INTEGRATION_COLUMNS, SqlTx, b};
use crate::rows::{self, get};
use crate::sql::Run;

#[async_trait]
impl IntegrationTx for SqlTx {
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
             origin, installed_at, state_changed_at, state_changed_by, ip_allow, \
             signature_debug_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
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
        .bind(i.ip_allow.to_stored())
        .bind(i.signature_debug_until.map(|t| t.millis()))
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
             state_changed_at = $6, state_changed_by = $7, ip_allow = $8, \
             signature_debug_until = $9 WHERE integration_id = $1 AND account_id = $2",
        )
        .bind(i.integration.get())
        .bind(i.account.as_str().to_owned())
        .bind(i.state.code())
        .bind(i.note.clone())
        .bind(i.concurrency_limit.map(i64::from))
        .bind(i.state_changed_at.millis())
        .bind(i.state_changed_by.clone())
        .bind(i.ip_allow.to_stored())
        .bind(i.signature_debug_until.map(|t| t.millis()))
        .run(&mut self.tx)
        .await?;
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
             n.state_changed_by AS inst_state_changed_by, n.ip_allow AS inst_ip_allow, \
             n.signature_debug_until AS inst_signature_debug_until \
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
}
