//! System notes (R15): written in the change's own transaction, never updated or deleted.

use async_trait::async_trait;
use tessera_core::ids::UserId;
use tessera_core::model::{RecordRef, SystemNote};
use tessera_core::store::{AuditTx, StoreResult};

use super::SqlTx;
use crate::rows::{self};
use crate::sql::{Bind, Run, SqlText};

/// System notes inserted per statement (11 parameters each, well under both engines' limits).
const NOTES_PER_STATEMENT: usize = 200;

#[async_trait]
impl AuditTx for SqlTx {
    async fn insert_notes(&mut self, notes: &[SystemNote]) -> StoreResult<()> {
        // Many rows per statement: a bulk change (R18) writes one note per token.
        for chunk in notes.chunks(NOTES_PER_STATEMENT) {
            let mut q = SqlText::new(
                "INSERT INTO system_notes (at, account_id, actor_user_id, actor_name, context, \
                 record_type, record_id, record_account_id, field, old_value, new_value) VALUES ",
            );
            for (i, n) in chunk.iter().enumerate() {
                let (kind, id, record_account) = rows::record_parts(&n.record);
                q.push(if i == 0 { "(" } else { ", (" });
                let values = [
                    Bind::Int(n.at.millis()),
                    Bind::Text(n.account.as_str().to_owned()),
                    Bind::OptInt(n.actor.map(UserId::get)),
                    Bind::Text(n.actor_name.clone()),
                    Bind::Text(n.context.code().to_owned()),
                    Bind::Text(kind.to_owned()),
                    Bind::Int(id),
                    Bind::Text(record_account),
                    Bind::Text(n.field.clone()),
                    Bind::OptText(n.old_value.clone()),
                    Bind::OptText(n.new_value.clone()),
                ];
                for (j, value) in values.into_iter().enumerate() {
                    if j > 0 {
                        q.push(", ");
                    }
                    q.bind(value);
                }
                q.push(")");
            }
            q.query().run(&mut self.tx).await?;
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
