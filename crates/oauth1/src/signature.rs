//! HMAC signatures: the key `enc(consumer secret)&enc(token secret)`, HMAC-SHA256 signing and
//! constant-time verification. HMAC-SHA1 exists only in [`legacy`], for the published SHA-1
//! vectors; Tessera never accepts it.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::encode;

type HmacSha256 = Hmac<Sha256>;

/// Length of a Base64 HMAC-SHA256 signature.
pub const SIGNATURE_BASE64_LEN: usize = 44;

/// The `oauth_signature_method` values OAuth 1.0a defines, and anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureMethod {
    HmacSha256,
    HmacSha1,
    Plaintext,
    RsaSha1,
    RsaSha256,
    Other,
}

impl SignatureMethod {
    /// Parses the parameter value; names are case-sensitive, as RFC 5849 defines them.
    pub fn parse(s: &str) -> Self {
        match s {
            "HMAC-SHA256" => Self::HmacSha256,
            "HMAC-SHA1" => Self::HmacSha1,
            "PLAINTEXT" => Self::Plaintext,
            "RSA-SHA1" => Self::RsaSha1,
            "RSA-SHA256" => Self::RsaSha256,
            _ => Self::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha256 => "HMAC-SHA256",
            Self::HmacSha1 => "HMAC-SHA1",
            Self::Plaintext => "PLAINTEXT",
            Self::RsaSha1 => "RSA-SHA1",
            Self::RsaSha256 => "RSA-SHA256",
            Self::Other => "(unknown)",
        }
    }
}

/// `enc(consumer_secret)&enc(token_secret)`, zeroized when dropped.
fn key_material(consumer_secret: &str, token_secret: &str) -> Zeroizing<String> {
    let mut key = Zeroizing::new(String::with_capacity(
        3 * (consumer_secret.len() + token_secret.len()) + 1,
    ));
    encode::encode_into(&mut key, consumer_secret);
    key.push('&');
    encode::encode_into(&mut key, token_secret);
    key
}

/// The HMAC-SHA256 key of one credential pair, with the keyed state precomputed: signing clones
/// that state instead of hashing the (longer than a block) key again. Cache one per credential
/// pair. The state is zeroized on drop; `Debug` shows nothing of it.
#[derive(Clone)]
pub struct SigningKey {
    mac: HmacSha256,
}

impl SigningKey {
    /// The key for a request signed with a consumer and a token.
    pub fn new(consumer_secret: &str, token_secret: &str) -> Self {
        let key = key_material(consumer_secret, token_secret);
        Self {
            // HMAC accepts keys of any length, so this cannot fail.
            mac: match HmacSha256::new_from_slice(key.as_bytes()) {
                Ok(mac) => mac,
                Err(_) => unreachable!("HMAC takes keys of any length"),
            },
        }
    }

    /// The key for a request signed with the consumer secret alone (the request-token step):
    /// `enc(consumer_secret)&`.
    pub fn consumer_only(consumer_secret: &str) -> Self {
        Self::new(consumer_secret, "")
    }

    /// HMAC-SHA256 of `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        let mut mac = self.mac.clone();
        mac.update(message);
        Signature(mac.finalize().into_bytes().into())
    }

    /// Checks a Base64 signature (already percent-decoded) in constant time. The provided value
    /// must be the canonical padded Base64 of the expected MAC.
    pub fn verify(&self, message: &[u8], provided_base64: &str) -> bool {
        self.sign(message).matches_base64(provided_base64)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

/// An HMAC-SHA256 value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 32]);

impl Signature {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Padded standard Base64, as `oauth_signature` carries it (before percent-encoding).
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Constant-time comparison with a Base64 string. Only the length is compared early, and it
    /// is not secret.
    pub fn matches_base64(&self, provided: &str) -> bool {
        let mut ours = [0u8; SIGNATURE_BASE64_LEN];
        match BASE64.encode_slice(self.0, &mut ours) {
            Ok(SIGNATURE_BASE64_LEN) => ours.ct_eq(provided.as_bytes()).into(),
            _ => false,
        }
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_base64())
    }
}

/// HMAC-SHA1, kept only to check published OAuth 1.0a vectors. Tessera's server refuses
/// `HMAC-SHA1` (NetSuite ended it in 2023.1) and its client never produces it.
pub mod legacy {
    use super::*;
    use sha1::Sha1;

    /// Base64 HMAC-SHA1 of `message` under `enc(consumer_secret)&enc(token_secret)`.
    pub fn hmac_sha1_base64(consumer_secret: &str, token_secret: &str, message: &[u8]) -> String {
        let key = key_material(consumer_secret, token_secret);
        let mut mac = match Hmac::<Sha1>::new_from_slice(key.as_bytes()) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(message);
        BASE64.encode(mac.finalize().into_bytes())
    }

    /// Constant-time check of a Base64 HMAC-SHA1 signature.
    pub fn verify_hmac_sha1(
        consumer_secret: &str,
        token_secret: &str,
        message: &[u8],
        provided_base64: &str,
    ) -> bool {
        let ours = hmac_sha1_base64(consumer_secret, token_secret, message);
        ours.as_bytes().ct_eq(provided_base64.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_encoded_secrets_joined_by_ampersand() {
        assert_eq!(&*key_material("a b", "c&d"), "a%20b&c%26d");
        assert_eq!(&*key_material("cs", ""), "cs&");
    }

    #[test]
    fn rfc2104_style_known_answer() {
        // HMAC-SHA256 with key "key" is the well-known RFC 4231-style example.
        let mac = HmacSha256::new_from_slice(b"key").unwrap();
        let key = SigningKey { mac };
        assert_eq!(
            key.sign(b"The quick brown fox jumps over the lazy dog")
                .to_base64(),
            "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
        );
    }

    #[test]
    fn verify_is_strict() {
        let key = SigningKey::new("cs", "ts");
        let sig = key.sign(b"msg").to_base64();
        assert!(key.verify(b"msg", &sig));
        assert!(!key.verify(b"msg2", &sig));
        assert!(!key.verify(b"msg", sig.trim_end_matches('=')));
        assert!(!key.verify(b"msg", ""));
        assert!(!SigningKey::new("cs", "ts2").verify(b"msg", &sig));
    }

    #[test]
    fn debug_hides_key() {
        assert_eq!(
            format!("{:?}", SigningKey::new("secret", "secret")),
            "SigningKey(***)"
        );
    }

    #[test]
    fn method_names_are_case_sensitive() {
        assert_eq!(
            SignatureMethod::parse("HMAC-SHA256"),
            SignatureMethod::HmacSha256
        );
        assert_eq!(
            SignatureMethod::parse("hmac-sha256"),
            SignatureMethod::Other
        );
    }
}
