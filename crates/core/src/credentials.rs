//! Credential generation: 32 bytes of OS randomness as 64 lower-case hex characters (RULES.md §1).

use tessera_oauth1::SecretString;
use thiserror::Error;
use zeroize::Zeroize;

use crate::ids::{ConsumerKey, TokenId};

/// The operating system's random number generator failed. Nothing is issued without it.
#[derive(Debug, Clone, Error)]
#[error("the operating system's random number generator is unavailable")]
pub struct RngError;

pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), RngError> {
    getrandom::fill(buf).map_err(|_| RngError)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(crate) fn generate_hex() -> Result<String, RngError> {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes)?;
    let mut out = String::with_capacity(64);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    bytes.zeroize();
    Ok(out)
}

pub(crate) fn is_credential_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| HEX.contains(&b))
}

/// A fresh secret (consumer secret or token secret).
pub fn generate_secret() -> Result<SecretString, RngError> {
    generate_hex().map(SecretString::from)
}

/// A consumer key and secret, returned once: on creation, when TBA is first switched on, and by
/// Reset Credentials (R5, R6). Deliberately not `Clone`: there is one copy, and it goes to the
/// one response that shows it.
#[derive(Debug)]
pub struct ConsumerCredentials {
    pub consumer_key: ConsumerKey,
    pub consumer_secret: SecretString,
}

/// A token id and secret, returned once when the token is created (R6).
#[derive(Debug)]
pub struct TokenCredentials {
    pub token_id: TokenId,
    pub token_secret: SecretString,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_64_lower_hex_and_distinct() {
        let a = generate_hex().unwrap();
        let b = generate_hex().unwrap();
        assert!(is_credential_hex(&a) && is_credential_hex(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn one_time_credentials_mask_the_secret_in_debug() {
        let creds = ConsumerCredentials {
            consumer_key: ConsumerKey::generate().unwrap(),
            consumer_secret: generate_secret().unwrap(),
        };
        let debug = format!("{creds:?}");
        assert!(!debug.contains(creds.consumer_secret.expose()));
        assert!(!debug.contains(creds.consumer_key.as_str()));
    }
}
