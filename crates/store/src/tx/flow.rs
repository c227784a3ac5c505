//! The authorization flow's request tokens, and the nonce records of its own requests (a
//! plain unique key: these requests are few, and each is checked in its own transaction).

use async_trait::async_trait;
use tessera_core::ids::{IntegrationId, RoleId, TokenId, UserId};
use tessera_core::model::Timestamp;
use tessera_core::store::{
    Consent, FlowTx, NonceDigest, RequestTokenRow, RequestTokenState, StoreResult,
};
use tessera_core::vault::SealedSecret;

use super::SqlTx;
use crate::rows::{account_id, corrupt, get, time};
use crate::sql::Run;

const REQUEST_TOKEN_COLUMNS: &str = "token_id, integration_id, token_secret, \
    token_secret_key_id, callback, realm, created_at, expires_at, state, account_id, user_id, \
    role_id, verifier_digest";

fn request_token(row: &sqlx::any::AnyRow) -> StoreResult<RequestTokenRow> {
    let state = RequestTokenState::parse(&get::<String>(row, "state")?).ok_or(corrupt("state"))?;
    let realm = match get::<Option<String>>(row, "realm")? {
        Some(_) => Some(account_id(row, "realm")?),
        None => None,
    };
    let consent = match (
        get::<Option<String>>(row, "account_id")?,
        get::<Option<i64>>(row, "user_id")?,
        get::<Option<i64>>(row, "role_id")?,
        get::<Option<Vec<u8>>>(row, "verifier_digest")?,
    ) {
        (Some(_), Some(user), Some(role), Some(digest)) => Some(Consent {
            account: account_id(row, "account_id")?,
            user: UserId::new(user),
            role: RoleId::new(role),
            verifier_digest: digest.try_into().map_err(|_| corrupt("verifier_digest"))?,
        }),
        _ => None,
    };
    Ok(RequestTokenRow {
        token_id: TokenId::parse(&get::<String>(row, "token_id")?)
            .map_err(|_| corrupt("token_id"))?,
        integration: IntegrationId::new(get(row, "integration_id")?),
        token_secret: SealedSecret {
            key_id: get(row, "token_secret_key_id")?,
            blob: get(row, "token_secret")?,
        },
        callback: get(row, "callback")?,
        realm,
        created_at: time(row, "created_at")?,
        expires_at: time(row, "expires_at")?,
        state,
        consent,
    })
}

#[async_trait]
impl FlowTx for SqlTx {
    async fn claim_flow_nonce(
        &mut self,
        digest: &NonceDigest,
        timestamp: i64,
    ) -> StoreResult<bool> {
        let inserted = sqlx::query(
            "INSERT INTO flow_nonces (digest, ts) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digest.to_vec())
        .bind(timestamp)
        .run(&mut self.tx)
        .await?;
        Ok(inserted == 1)
    }

    async fn insert_request_token(&mut self, t: &RequestTokenRow) -> StoreResult<()> {
        let consent = t.consent.as_ref();
        sqlx::query(
            "INSERT INTO request_tokens (token_id, integration_id, token_secret, \
             token_secret_key_id, callback, realm, created_at, expires_at, state, account_id, \
             user_id, role_id, verifier_digest) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(t.token_id.as_str().to_owned())
        .bind(t.integration.get())
        .bind(t.token_secret.blob.clone())
        .bind(t.token_secret.key_id.clone())
        .bind(t.callback.clone())
        .bind(t.realm.as_ref().map(|a| a.as_str().to_owned()))
        .bind(t.created_at.millis())
        .bind(t.expires_at.millis())
        .bind(t.state.code())
        .bind(consent.map(|c| c.account.as_str().to_owned()))
        .bind(consent.map(|c| c.user.get()))
        .bind(consent.map(|c| c.role.get()))
        .bind(consent.map(|c| c.verifier_digest.to_vec()))
        .run(&mut self.tx)
        .await?;
        Ok(())
    }

    async fn request_token(&mut self, token_id: &TokenId) -> StoreResult<Option<RequestTokenRow>> {
        let sql = format!("SELECT {REQUEST_TOKEN_COLUMNS} FROM request_tokens WHERE token_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_id.as_str().to_owned())
            .optional(&mut self.tx)
            .await?;
        row.as_ref().map(request_token).transpose()
    }

    async fn advance_request_token(
        &mut self,
        t: &RequestTokenRow,
        from: RequestTokenState,
    ) -> StoreResult<bool> {
        let consent = t.consent.as_ref();
        let changed = sqlx::query(
            "UPDATE request_tokens SET state = $1, account_id = $2, user_id = $3, role_id = $4, \
             verifier_digest = $5 WHERE token_id = $6 AND state = $7",
        )
        .bind(t.state.code())
        .bind(consent.map(|c| c.account.as_str().to_owned()))
        .bind(consent.map(|c| c.user.get()))
        .bind(consent.map(|c| c.role.get()))
        .bind(consent.map(|c| c.verifier_digest.to_vec()))
        .bind(t.token_id.as_str().to_owned())
        .bind(from.code())
        .run(&mut self.tx)
        .await?;
        Ok(changed == 1)
    }

    async fn purge_flow(
        &mut self,
        expired_before: Timestamp,
        nonces_before: i64,
    ) -> StoreResult<u64> {
        let tokens = sqlx::query("DELETE FROM request_tokens WHERE expires_at < $1")
            .bind(expired_before.millis())
            .run(&mut self.tx)
            .await?;
        let nonces = sqlx::query("DELETE FROM flow_nonces WHERE ts < $1")
            .bind(nonces_before)
            .run(&mut self.tx)
            .await?;
        Ok(tokens + nonces)
    }
}
