//! Grants in memory: the signing key and identity of credential pairs that verified recently.
//!
//! An entry is used only while no change has been committed through the store since it was
//! read (the store's change epoch, read before the entry was) and for at most the configured
//! time. A store shared with other nodes re-checks R9/R11 in the nonce claim as well.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tessera_oauth1::SigningKey;

use super::Identity;
use crate::ids::{ConsumerKey, TokenId};
use crate::model::Timestamp;
use crate::service::LoginGrant;

const SHARDS: usize = 16;

#[derive(Debug)]
pub(crate) struct Grant {
    pub consumer_key: ConsumerKey,
    pub token_id: TokenId,
    pub key: SigningKey,
    pub identity: Arc<Identity>,
    epoch: u64,
    loaded: Instant,
    /// When `last_used_at` was last handed to the writer, Unix ms.
    last_touch: AtomicI64,
}

impl Grant {
    pub fn new(consumer_key: ConsumerKey, token_id: TokenId, g: LoginGrant, epoch: u64) -> Self {
        let key = SigningKey::new(g.consumer_secret.expose(), g.token_secret.expose());
        Self {
            consumer_key,
            token_id,
            key,
            identity: Arc::new(Identity {
                account: g.account,
                integration: g.integration,
                application_name: g.application_name,
                user: g.user,
                user_name: g.user_name,
                email: g.email,
                role: g.role,
                role_name: g.role_name,
                token: g.token,
                token_name: g.token_name,
                account_concurrency_limit: g.account_concurrency_limit,
                install_concurrency_limit: g.install_concurrency_limit,
            }),
            epoch,
            loaded: Instant::now(),
            last_touch: AtomicI64::new(i64::MIN),
        }
    }

    pub fn is_current(&self, epoch: u64, ttl: Duration) -> bool {
        self.epoch == epoch && self.loaded.elapsed() < ttl
    }

    /// Whether this use should move `last_used_at` (at most once per `resolution`).
    pub fn should_touch(&self, now: Timestamp, resolution: Duration) -> bool {
        let step = i64::try_from(resolution.as_millis()).unwrap_or(i64::MAX);
        let last = self.last_touch.load(Ordering::Relaxed);
        now.millis().saturating_sub(last) >= step
            && self
                .last_touch
                .compare_exchange(last, now.millis(), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// A sharded map from token id to grant. When a shard is full it is emptied: simple, bounded,
/// and a miss costs one store read.
#[derive(Debug)]
pub(crate) struct GrantCache {
    shards: Vec<RwLock<HashMap<Box<str>, Arc<Grant>>>>,
    shard_capacity: usize,
}

impl GrantCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            shard_capacity: capacity.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, token_id: &str) -> &RwLock<HashMap<Box<str>, Arc<Grant>>> {
        // Token ids are random hex: their last digit spreads evenly over 16 shards.
        let i = token_id
            .chars()
            .last()
            .and_then(|c| c.to_digit(16))
            .map_or(0, |d| d as usize % SHARDS);
        &self.shards[i]
    }

    pub fn get(&self, token_id: &str) -> Option<Arc<Grant>> {
        let shard = self.shard(token_id).read().ok()?;
        shard.get(token_id).cloned()
    }

    pub fn insert(&self, token_id: &str, grant: Arc<Grant>) {
        if let Ok(mut shard) = self.shard(token_id).write() {
            if shard.len() >= self.shard_capacity && !shard.contains_key(token_id) {
                shard.clear();
            }
            shard.insert(token_id.into(), grant);
        }
    }

    pub fn remove(&self, token_id: &str) {
        if let Ok(mut shard) = self.shard(token_id).write() {
            shard.remove(token_id);
        }
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().map_or(0, |s| s.len()))
            .sum()
    }
}
