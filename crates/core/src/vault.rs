//! Secrets at rest: XChaCha20-Poly1305 under a master key kept outside the database.
//!
//! Each sealed value records the id of the key that sealed it, and is bound to its slot (table,
//! column, and the row's immutable identity) as associated data, so a ciphertext copied to
//! another row, or another column, does not open.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use tessera_oauth1::SecretString;
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

use crate::credentials::fill_random;
use crate::ids::{ApplicationId, TokenId};

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VaultError {
    #[error(
        "a secret is sealed with master key {key_id}, which is not loaded; restore that key (see SECURITY.md)"
    )]
    UnknownKey { key_id: String },
    #[error("a stored secret failed authentication: it was altered or moved from another record")]
    Tampered,
    #[error("a stored secret has an unknown format (version byte {0})")]
    UnknownFormat(u8),
    #[error("master key material must be 64 hexadecimal characters (32 bytes)")]
    BadKeyMaterial,
    #[error("no master key is configured")]
    NoKey,
    #[error("the operating system's random number generator is unavailable")]
    Rng,
}

/// Where a secret lives; its associated data.
#[derive(Debug, Clone, Copy)]
pub enum SecretSlot<'a> {
    ConsumerSecret(&'a ApplicationId),
    TokenSecret(&'a TokenId),
    /// The secret of a request token of the authorization flow.
    RequestTokenSecret(&'a TokenId),
    /// The known value of `master_key_checks` (see [`Keyring::key_check`]).
    KeyCheck,
}

/// What a key check seals: known, so opening it proves the key is the one that sealed it.
const KEY_CHECK_VALUE: &str = "tessera master key check v1";

impl SecretSlot<'_> {
    fn associated_data(&self, key_id: &str) -> String {
        match self {
            SecretSlot::ConsumerSecret(app) => {
                format!("tessera/v1|integrations|consumer_secret|{app}|{key_id}")
            }
            SecretSlot::TokenSecret(token) => {
                format!(
                    "tessera/v1|access_tokens|token_secret|{}|{key_id}",
                    token.as_str()
                )
            }
            SecretSlot::RequestTokenSecret(token) => {
                format!(
                    "tessera/v1|request_tokens|token_secret|{}|{key_id}",
                    token.as_str()
                )
            }
            SecretSlot::KeyCheck => format!("tessera/v1|master_key_checks|check_value|{key_id}"),
        }
    }
}

/// A secret as stored: key id + (version byte, nonce, ciphertext and tag).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub key_id: String,
    pub blob: Vec<u8>,
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SealedSecret(key {}, {} bytes)",
            self.key_id,
            self.blob.len()
        )
    }
}

/// One 256-bit master key. Its id is derived from the key, so an id can never name the wrong key.
pub struct MasterKey {
    id: String,
    bytes: Zeroizing<[u8; 32]>,
}

impl MasterKey {
    pub fn generate() -> Result<Self, VaultError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        fill_random(bytes.as_mut()).map_err(|_| VaultError::Rng)?;
        Ok(Self::from_bytes(bytes))
    }

    /// From 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(hex: &str) -> Result<Self, VaultError> {
        let hex = hex.trim().as_bytes();
        if hex.len() != 64 {
            return Err(VaultError::BadKeyMaterial);
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0]).ok_or(VaultError::BadKeyMaterial)?;
            let lo = hex_value(pair[1]).ok_or(VaultError::BadKeyMaterial)?;
            bytes[i] = (hi << 4) | lo;
        }
        Ok(Self::from_bytes(bytes))
    }

    fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        let mut h = Sha256::new();
        h.update(b"tessera master key id\0");
        h.update(bytes.as_ref());
        let digest = h.finalize();
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self { id, bytes }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as 64 lower-case hex characters, for writing the key file. Handle as a secret.
    pub fn to_hex(&self) -> SecretString {
        let mut s = String::with_capacity(64);
        for b in self.bytes.iter() {
            s.push_str(&format!("{b:02x}"));
        }
        SecretString::from(s)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&(*self.bytes).into())
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({}, ***)", self.id)
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The loaded master keys: the first seals, every one opens (so a rotation can be resumed).
#[derive(Debug)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

impl Keyring {
    /// `keys[0]` is the active key.
    pub fn new(keys: Vec<MasterKey>) -> Result<Self, VaultError> {
        if keys.is_empty() {
            return Err(VaultError::NoKey);
        }
        Ok(Self { keys })
    }

    /// The key file / environment variable format: one hex key per line (or separated by
    /// commas), `#` comments allowed; the first key is the active one.
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        let keys = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(MasterKey::from_hex)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys)
    }

    /// The key file's text for these keys, active key first.
    pub fn to_file_text(&self) -> SecretString {
        let mut s = String::from(
            "# Tessera master keys. The first line seals new secrets; every line can open old ones.\n\
             # Losing this file makes every stored consumer and token secret unrecoverable.\n",
        );
        for key in &self.keys {
            s.push_str(key.to_hex().expose());
            s.push('\n');
        }
        SecretString::from(s)
    }

    pub fn active(&self) -> &MasterKey {
        &self.keys[0]
    }

    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(MasterKey::id)
    }

    /// A new keyring whose active key is `key`, keeping the others for opening.
    pub fn with_active(mut self, key: MasterKey) -> Self {
        self.keys.retain(|k| k.id != key.id);
        self.keys.insert(0, key);
        self
    }

    /// Only the active key (after every secret has been re-sealed with it).
    pub fn only_active(mut self) -> Self {
        self.keys.truncate(1);
        self
    }

    pub fn seal(
        &self,
        secret: &SecretString,
        slot: SecretSlot<'_>,
    ) -> Result<SealedSecret, VaultError> {
        let key = self.active();
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce).map_err(|_| VaultError::Rng)?;
        let aad = slot.associated_data(key.id());
        let ciphertext = key
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret.expose().as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Tampered)?;
        let mut blob = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        blob.push(FORMAT_V1);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        Ok(SealedSecret {
            key_id: key.id().to_owned(),
            blob,
        })
    }

    pub fn open(
        &self,
        sealed: &SealedSecret,
        slot: SecretSlot<'_>,
    ) -> Result<SecretString, VaultError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| VaultError::UnknownKey {
                key_id: sealed.key_id.clone(),
            })?;
        let (&version, rest) = sealed.blob.split_first().ok_or(VaultError::Tampered)?;
        if version != FORMAT_V1 {
            return Err(VaultError::UnknownFormat(version));
        }
        if rest.len() < NONCE_LEN {
            return Err(VaultError::Tampered);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| VaultError::Tampered)?;
        let aad = slot.associated_data(key.id());
        let mut plain = key
            .cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Tampered)?;
        let text = String::from_utf8(std::mem::take(&mut plain));
        plain.zeroize();
        match text {
            Ok(s) => Ok(SecretString::from(s)),
            Err(e) => {
                e.into_bytes().zeroize();
                Err(VaultError::Tampered)
            }
        }
    }

    /// The key check of the active key: a known value sealed with it, kept in the database so
    /// that a node can tell at start whether it holds the keys the secrets were sealed with.
    pub fn key_check(&self) -> Result<SealedSecret, VaultError> {
        self.seal(&SecretString::from(KEY_CHECK_VALUE), SecretSlot::KeyCheck)
    }

    /// Whether this keyring holds the key of `check` (`UnknownKey` when it has no key of that
    /// id, `Tampered` when its key of that id is not the one that sealed it).
    pub fn open_key_check(&self, check: &SealedSecret) -> Result<(), VaultError> {
        let value = self.open(check, SecretSlot::KeyCheck)?;
        if value.expose() == KEY_CHECK_VALUE {
            Ok(())
        } else {
            Err(VaultError::Tampered)
        }
    }

    /// Re-seal under the active key (rotation). Opens with whichever key sealed it.
    pub fn reseal(
        &self,
        sealed: &SealedSecret,
        slot: SecretSlot<'_>,
    ) -> Result<SealedSecret, VaultError> {
        let secret = self.open(sealed, slot)?;
        self.seal(&secret, slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> TokenId {
        TokenId::generate().unwrap()
    }

    #[test]
    fn sealed_secrets_open_only_in_their_own_slot() {
        let ring = Keyring::new(vec![MasterKey::generate().unwrap()]).unwrap();
        let (a, b) = (token(), token());
        let secret = SecretString::from("s3cret-value");
        let sealed = ring.seal(&secret, SecretSlot::TokenSecret(&a)).unwrap();
        assert!(!sealed.blob.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(
            ring.open(&sealed, SecretSlot::TokenSecret(&a))
                .unwrap()
                .expose(),
            "s3cret-value"
        );
        assert_eq!(
            ring.open(&sealed, SecretSlot::TokenSecret(&b)).unwrap_err(),
            VaultError::Tampered
        );
        let app = ApplicationId::generate().unwrap();
        assert_eq!(
            ring.open(&sealed, SecretSlot::ConsumerSecret(&app))
                .unwrap_err(),
            VaultError::Tampered
        );
        let mut flipped = sealed.clone();
        let last = flipped.blob.len() - 1;
        flipped.blob[last] ^= 1;
        assert_eq!(
            ring.open(&flipped, SecretSlot::TokenSecret(&a))
                .unwrap_err(),
            VaultError::Tampered
        );
    }

    #[test]
    fn rotation_keeps_old_secrets_readable_until_resealed() {
        let old = Keyring::new(vec![MasterKey::generate().unwrap()]).unwrap();
        let t = token();
        let sealed = old
            .seal(&"abc".into(), SecretSlot::TokenSecret(&t))
            .unwrap();
        let old_id = sealed.key_id.clone();
        let ring = old.with_active(MasterKey::generate().unwrap());
        let resealed = ring.reseal(&sealed, SecretSlot::TokenSecret(&t)).unwrap();
        assert_ne!(resealed.key_id, old_id);
        let ring = ring.only_active();
        assert_eq!(
            ring.open(&sealed, SecretSlot::TokenSecret(&t)).unwrap_err(),
            VaultError::UnknownKey { key_id: old_id }
        );
        assert_eq!(
            ring.open(&resealed, SecretSlot::TokenSecret(&t))
                .unwrap()
                .expose(),
            "abc"
        );
    }

    #[test]
    fn key_file_text_round_trips_and_debug_hides_keys() {
        let ring = Keyring::new(vec![
            MasterKey::generate().unwrap(),
            MasterKey::generate().unwrap(),
        ])
        .unwrap();
        let text = ring.to_file_text();
        let parsed = Keyring::parse(text.expose()).unwrap();
        assert_eq!(
            parsed.key_ids().collect::<Vec<_>>(),
            ring.key_ids().collect::<Vec<_>>()
        );
        let hex = ring.active().to_hex();
        assert!(!format!("{ring:?}").contains(hex.expose()));
        assert_eq!(
            Keyring::parse("# nothing\n").unwrap_err(),
            VaultError::NoKey
        );
        assert_eq!(
            Keyring::parse("abcd").unwrap_err(),
            VaultError::BadKeyMaterial
        );
    }
}
