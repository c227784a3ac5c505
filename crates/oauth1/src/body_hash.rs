//! `oauth_body_hash` (the OAuth Request Body Hash extension): Base64 of SHA-1 or SHA-256 of the raw
//! body. The two are told apart by length (28 or 44 Base64 characters).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The hash used for `oauth_body_hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyHashAlgorithm {
    Sha1,
    Sha256,
}

impl BodyHashAlgorithm {
    /// Which algorithm produced a Base64 hash of this length.
    pub fn from_base64_len(len: usize) -> Option<Self> {
        match len {
            28 => Some(Self::Sha1),
            44 => Some(Self::Sha256),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }
}

/// Why an `oauth_body_hash` does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BodyHashError {
    #[error("oauth_body_hash has {len} characters; Base64 of SHA-1 has 28 and of SHA-256 has 44")]
    UnrecognizedLength { len: usize },
    #[error("oauth_body_hash does not match the {} of the request body", .algorithm.as_str())]
    Mismatch { algorithm: BodyHashAlgorithm },
}

/// Base64 of the body's hash.
pub fn body_hash(algorithm: BodyHashAlgorithm, body: &[u8]) -> String {
    match algorithm {
        BodyHashAlgorithm::Sha1 => BASE64.encode(Sha1::digest(body)),
        BodyHashAlgorithm::Sha256 => BASE64.encode(Sha256::digest(body)),
    }
}

/// Checks a received `oauth_body_hash` (percent-decoded) against the raw body.
pub fn check_body_hash(provided: &str, body: &[u8]) -> Result<BodyHashAlgorithm, BodyHashError> {
    let algorithm = BodyHashAlgorithm::from_base64_len(provided.len()).ok_or(
        BodyHashError::UnrecognizedLength {
            len: provided.len(),
        },
    )?;
    let ours = body_hash(algorithm, body);
    if bool::from(ours.as_bytes().ct_eq(provided.as_bytes())) {
        Ok(algorithm)
    } else {
        Err(BodyHashError::Mismatch { algorithm })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hashes_of_the_empty_body() {
        assert_eq!(
            body_hash(BodyHashAlgorithm::Sha1, b""),
            "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
        );
        assert_eq!(
            body_hash(BodyHashAlgorithm::Sha256, b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn checks_by_length() {
        let body = br#"{"a":1}"#;
        let h1 = body_hash(BodyHashAlgorithm::Sha1, body);
        let h256 = body_hash(BodyHashAlgorithm::Sha256, body);
        assert_eq!(check_body_hash(&h1, body), Ok(BodyHashAlgorithm::Sha1));
        assert_eq!(check_body_hash(&h256, body), Ok(BodyHashAlgorithm::Sha256));
        assert_eq!(
            check_body_hash(&h256, b"{}"),
            Err(BodyHashError::Mismatch {
                algorithm: BodyHashAlgorithm::Sha256
            })
        );
        assert_eq!(
            check_body_hash("abc", body),
            Err(BodyHashError::UnrecognizedLength { len: 3 })
        );
    }
}
