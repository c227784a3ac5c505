//! Master keys and the database: the start-up check that a node holds every key the stored
//! secrets were sealed with, and rotation (re-seal every secret under the active key).

use thiserror::Error;

use super::Tessera;
use crate::error::{Error, Result};
use crate::model::Timestamp;
use crate::store::{SealedSlot, Store, TxMode};
use crate::vault::{SecretSlot, VaultError};

/// Why a keyring does not fit the database it was started on.
#[derive(Debug, Error)]
pub enum KeyCheckError {
    #[error(
        "the database's secrets are sealed with master key {}, which is not loaded",
        .missing.join(", ")
    )]
    Missing { missing: Vec<String> },
    #[error("the loaded master key {key_id} is not the key that sealed the database's secrets")]
    Wrong { key_id: String },
    #[error("the master key check could not be read")]
    Store(#[source] Error),
}

/// The ids of the master keys the database's secrets are sealed with, read before any keyring
/// exists (a node must not make a new key for a database that has secrets). The key checks
/// say; a database from before they existed is asked its sealed secrets.
pub async fn master_keys_in_use(store: &dyn Store) -> Result<Vec<String>> {
    let mut tx = store.begin(TxMode::Read).await?;
    let checks = tx.master_key_checks().await?;
    if !checks.is_empty() {
        return Ok(checks.into_iter().map(|c| c.key_id).collect());
    }
    Ok(tx.sealed_key_ids().await?)
}

const BATCH: u32 = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    pub active_key_id: String,
    pub resealed: u64,
}

impl Tessera {
    /// At start: refuses a keyring that lacks a key the database's secrets need, or whose key
    /// of that id does not open its check; then records the active key's check (from now on
    /// it seals). A node that passes can open every stored secret.
    pub async fn check_master_keys(&self) -> std::result::Result<(), KeyCheckError> {
        let in_use = master_keys_in_use(self.store.as_ref())
            .await
            .map_err(KeyCheckError::Store)?;
        self.keys_cover(&in_use)?;
        self.master_keys_ready().await?;
        self.record_active_key_check()
            .await
            .map_err(KeyCheckError::Store)
    }

    /// Whether this node's keyring opens every key check in the database (`/readyz`): false
    /// once another node made a key the active one that this node does not hold.
    pub async fn master_keys_ready(&self) -> std::result::Result<(), KeyCheckError> {
        let checks = {
            let mut tx = self.tx(TxMode::Read).await.map_err(KeyCheckError::Store)?;
            tx.master_key_checks()
                .await
                .map_err(|e| KeyCheckError::Store(e.into()))?
        };
        self.keys_cover(&checks.iter().map(|c| c.key_id.clone()).collect::<Vec<_>>())?;
        for check in &checks {
            match self.keyring.open_key_check(check) {
                Ok(()) => {}
                Err(VaultError::UnknownKey { key_id }) => {
                    return Err(KeyCheckError::Missing {
                        missing: vec![key_id],
                    });
                }
                Err(_) => {
                    return Err(KeyCheckError::Wrong {
                        key_id: check.key_id.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    fn keys_cover(&self, in_use: &[String]) -> std::result::Result<(), KeyCheckError> {
        let missing: Vec<String> = in_use
            .iter()
            .filter(|id| !self.keyring.key_ids().any(|k| k == id.as_str()))
            .cloned()
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(KeyCheckError::Missing { missing })
        }
    }

    async fn record_active_key_check(&self) -> Result<()> {
        let check = self.keyring.key_check()?;
        let mut tx = self.tx(TxMode::Write).await?;
        tx.add_master_key_check(&check, Timestamp::now().millis())
            .await?;
        self.commit(tx).await
    }

    /// Re-seals, in batches of committed transactions, every secret not sealed by the active
    /// key. Safe to interrupt and run again: until it finishes, the keyring must keep the old
    /// keys (they still open what is not re-sealed yet).
    pub async fn reseal_all_secrets(&self) -> Result<RotationReport> {
        let active = self.keyring.active().id().to_owned();
        // Before anything is sealed with it, so that a node without it refuses to start.
        self.record_active_key_check().await?;
        let mut resealed = 0u64;
        loop {
            let mut tx = self.tx(TxMode::Write).await?;
            let batch = tx.secrets_not_sealed_by(&active, BATCH).await?;
            if batch.is_empty() {
                break;
            }
            for (slot, sealed) in &batch {
                let secret_slot = match slot {
                    SealedSlot::ConsumerSecret(app) => SecretSlot::ConsumerSecret(app),
                    SealedSlot::TokenSecret(token) => SecretSlot::TokenSecret(token),
                    SealedSlot::RequestTokenSecret(token) => SecretSlot::RequestTokenSecret(token),
                };
                let fresh = self.keyring.reseal(sealed, secret_slot)?;
                tx.replace_sealed(slot, &fresh).await?;
                resealed += 1;
            }
            self.commit(tx).await?;
        }
        // Every secret is sealed with the active key: the others are no longer needed.
        let mut tx = self.tx(TxMode::Write).await?;
        tx.retain_master_key_check(&active).await?;
        self.commit(tx).await?;
        Ok(RotationReport {
            active_key_id: active,
            resealed,
        })
    }
}
