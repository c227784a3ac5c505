//! Grants in memory: what a credential pair's signature is checked with, and who it is.
//!
//! An entry is used only while no change has been committed through the store since it was
//! read (the store's change epoch, read before the entry was) and for at most the configured
//! time. A store shared with other nodes re-checks R9/R11 in the nonce claim as well.
//!
//! Entries are compact so that a million fit in a few hundred megabytes: the key is the token
//! id's 32 bytes, the secrets are kept as 32 bytes each (the HMAC key is set up per request,
//! about a tenth of a microsecond), and what tokens share (their consumer side, their owner) is
//! shared.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tessera_oauth1::SigningKey;
use zeroize::Zeroizing;

use super::{Identity, TokenOwner};
use crate::ids::{ConsumerKey, IntegrationId, RoleId, UserId};
use crate::model::Timestamp;
use crate::service::LoginGrant;

const SHARDS: usize = 16;

/// A token id as 32 bytes; `None` for anything that is not 64 hex characters.
pub(crate) fn key_of(token_id: &str) -> Option<[u8; 32]> {
    decode_hex(token_id)
}

fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        // Lower case only, as issued: an upper-case id is another string, not this token.
        let digit = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        };
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

fn encode_hex(bytes: &[u8; 32]) -> Zeroizing<String> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = Zeroizing::new(String::with_capacity(64));
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// What every token of one integration record shares.
pub(crate) struct ConsumerSide {
    pub consumer_key: ConsumerKey,
    secret: Zeroizing<[u8; 32]>,
}

pub(crate) struct Grant {
    pub consumer: Arc<ConsumerSide>,
    token_secret: Zeroizing<[u8; 32]>,
    pub identity: Arc<Identity>,
    epoch: u64,
    loaded: Instant,
    /// When `last_used_at` was last handed to the writer, Unix ms.
    last_touch: AtomicI64,
}

/// The secrets print as `***`: a cache (and what holds it) may be formatted with `{:?}`.
impl std::fmt::Debug for ConsumerSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerSide")
            .field("consumer_key", &self.consumer_key)
            .field("secret", &"***")
            .finish()
    }
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("consumer", &self.consumer)
            .field("token_secret", &"***")
            .field("identity", &self.identity)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// Shares consumer sides and owners between the grants it builds.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    consumers: HashMap<IntegrationId, Arc<ConsumerSide>>,
    owners: HashMap<(IntegrationId, UserId, RoleId), Arc<TokenOwner>>,
}

impl Grant {
    /// `None` if a secret does not have the issued form (64 hex characters).
    pub fn new(
        consumer_key: ConsumerKey,
        g: LoginGrant,
        epoch: u64,
        interner: &mut Interner,
    ) -> Option<Self> {
        let token_secret = Zeroizing::new(decode_hex(g.token_secret.expose())?);
        let integration = g.owner.integration;
        let consumer = match interner.consumers.get(&integration) {
            Some(c) if c.consumer_key == consumer_key => c.clone(),
            _ => {
                let side = Arc::new(ConsumerSide {
                    consumer_key,
                    secret: Zeroizing::new(decode_hex(g.consumer_secret.expose())?),
                });
                interner.consumers.insert(integration, side.clone());
                side
            }
        };
        let owner = g.owner;
        let owner = match interner
            .owners
            .get(&(owner.integration, owner.user, owner.role))
        {
            Some(shared) if **shared == owner => shared.clone(),
            _ => {
                let shared = Arc::new(owner);
                interner.owners.insert(
                    (shared.integration, shared.user, shared.role),
                    shared.clone(),
                );
                shared
            }
        };
        Some(Self {
            consumer,
            token_secret,
            identity: Arc::new(Identity {
                token: g.token,
                token_name: g.token_name,
                expires_at: g.expires_at,
                signature_debug_until: g.signature_debug_until,
                owner,
            }),
            epoch,
            loaded: Instant::now(),
            last_touch: AtomicI64::new(i64::MIN),
        })
    }

    /// The HMAC key `enc(consumer secret)&enc(token secret)`.
    pub fn signing_key(&self) -> SigningKey {
        let cs = encode_hex(&self.consumer.secret);
        let ts = encode_hex(&self.token_secret);
        SigningKey::new(&cs, &ts)
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

type Shard = RwLock<HashMap<[u8; 32], Arc<Grant>>>;

/// A sharded map from token id to grant. When a shard is full it is emptied: simple, bounded,
/// and a miss costs one store read.
#[derive(Debug)]
pub(crate) struct GrantCache {
    shards: Vec<Shard>,
    shard_capacity: usize,
}

impl GrantCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            shard_capacity: capacity.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, key: &[u8; 32]) -> &Shard {
        // Token ids are random: their last byte spreads evenly over the shards.
        &self.shards[usize::from(key[31]) % SHARDS]
    }

    pub fn get(&self, token_id: &str) -> Option<Arc<Grant>> {
        let key = key_of(token_id)?;
        let shard = self.shard(&key).read().ok()?;
        shard.get(&key).cloned()
    }

    pub fn insert(&self, token_id: &str, grant: Arc<Grant>) {
        let Some(key) = key_of(token_id) else {
            return;
        };
        if let Ok(mut shard) = self.shard(&key).write() {
            if shard.len() >= self.shard_capacity && !shard.contains_key(&key) {
                shard.clear();
            }
            shard.insert(key, grant);
        }
    }

    /// Inserts unless the shard holds this token already or is full; `true` if inserted.
    pub fn insert_if_absent(&self, token_id: &str, grant: Arc<Grant>) -> bool {
        let Some(key) = key_of(token_id) else {
            return false;
        };
        let Ok(mut shard) = self.shard(&key).write() else {
            return false;
        };
        if shard.len() >= self.shard_capacity || shard.contains_key(&key) {
            return false;
        }
        shard.insert(key, grant);
        true
    }

    pub fn remove(&self, token_id: &str) {
        let Some(key) = key_of(token_id) else {
            return;
        };
        if let Ok(mut shard) = self.shard(&key).write() {
            shard.remove(&key);
        }
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().map_or(0, |s| s.len()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secrets() {
        let owner = TokenOwner {
            account: crate::ids::AccountId::parse("1234567").unwrap(),
            integration: IntegrationId::new(1),
            application_name: "app".into(),
            user: UserId::new(1),
            user_name: "u".into(),
            email: "u@example.com".into(),
            role: RoleId::new(3),
            role_name: "r".into(),
            account_concurrency_limit: None,
            install_concurrency_limit: None,
            account_ip_allow: crate::allow::IpAllowList::any(),
            install_ip_allow: crate::allow::IpAllowList::any(),
        };
        let cs = "c5".repeat(32);
        let ts = "7e".repeat(32);
        let grant = LoginGrant {
            owner,
            token: crate::ids::TokenKey::new(1),
            token_name: "t".into(),
            expires_at: None,
            signature_debug_until: None,
            consumer_secret: cs.as_str().into(),
            token_secret: ts.as_str().into(),
        };
        let ck = ConsumerKey::parse(&"ab".repeat(32)).unwrap();
        let g = Grant::new(ck, grant, 0, &mut Interner::default()).unwrap();
        let cache = GrantCache::new(16);
        cache.insert(&"cd".repeat(32), Arc::new(g));
        let shown = format!("{cache:?}");
        assert!(shown.contains("***"));
        for secret_byte in ["197", "126", "c5c5", "7e7e"] {
            assert!(!shown.contains(secret_byte), "{shown}");
        }
    }

    #[test]
    fn hex_round_trips_and_refuses_other_shapes() {
        let hex = "00ff10a5".repeat(8);
        let bytes = decode_hex(&hex).unwrap();
        assert_eq!(bytes[1], 0xff);
        assert_eq!(*encode_hex(&bytes), hex);
        assert!(decode_hex(&hex[..62]).is_none());
        assert!(decode_hex(&"zz".repeat(32)).is_none());
        assert!(decode_hex(&"AB".repeat(32)).is_none());
    }
}
