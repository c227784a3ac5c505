//! System notes (R15): written in the change's own transaction, never updated or deleted.

use async_trait::async_trait;
use tessera_core::ids::UserId;
use tessera_core::model::{RecordRef, SystemNote};
use tessera_core::store::{AuditTx, StoreResult};

use super::SqlTx;
use crate::rows::{self};
use crate::sql::Run;

#[async_trait]
impl AuditTx for SqlTx {
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
}
