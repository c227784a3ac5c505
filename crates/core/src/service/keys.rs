//! Master key rotation: re-seal every stored secret under the keyring's active key.

use super::Tessera;
use crate::error::Result;
use crate::store::{SealedSlot, TxMode};
use crate::vault::SecretSlot;

const BATCH: u32 = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    pub active_key_id: String,
    pub resealed: u64,
}

impl Tessera {
    /// Re-seals, in batches of committed transactions, every secret not sealed by the active
    /// key. Safe to interrupt and run again: until it finishes, the keyring must keep the old
    /// keys (they still open what is not re-sealed yet).
    pub async fn reseal_all_secrets(&self) -> Result<RotationReport> {
        let active = self.keyring.active().id().to_owned();
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
                };
                let fresh = self.keyring.reseal(sealed, secret_slot)?;
                tx.replace_sealed(slot, &fresh).await?;
                resealed += 1;
            }
            self.commit(tx).await?;
        }
        Ok(RotationReport {
            active_key_id: active,
            resealed,
        })
    }
}
