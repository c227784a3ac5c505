//! The SOAP `TokenPassport`: HMAC-SHA256 over `account&consumerKey&token&nonce&timestamp` with the
//! same key as OAuth, plain Base64, no percent-encoding anywhere.

use crate::signature::SigningKey;
use crate::verify::{self, Rejection};

/// The algorithm NetSuite's passport names in `signature algorithm="…"`.
pub const PASSPORT_ALGORITHM: &str = "HMAC-SHA256";

/// The fields of a `<tokenPassport>` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPassport<'a> {
    pub account: &'a str,
    pub consumer_key: &'a str,
    pub token: &'a str,
    pub nonce: &'a str,
    pub timestamp: &'a str,
}

impl TokenPassport<'_> {
    /// `account&consumerKey&token&nonce&timestamp`.
    pub fn base_string(&self) -> String {
        [
            self.account,
            self.consumer_key,
            self.token,
            self.nonce,
            self.timestamp,
        ]
        .join("&")
    }

    /// The Base64 signature.
    pub fn sign(&self, key: &SigningKey) -> String {
        key.sign(self.base_string().as_bytes()).to_base64()
    }

    /// Field rules: all present; nonce alphanumeric, 6 to 64 characters; timestamp whole seconds
    /// within `window` of `now` (when given); the algorithm (when given) HMAC-SHA256.
    pub fn check_fields(
        &self,
        algorithm: Option<&str>,
        now: Option<u64>,
        window: u64,
    ) -> Result<u64, Rejection> {
        for (field, value) in [
            ("account", self.account),
            ("consumerKey", self.consumer_key),
            ("token", self.token),
            ("nonce", self.nonce),
            ("timestamp", self.timestamp),
        ] {
            if value.is_empty() {
                return Err(Rejection::MissingTokenPassportField { field });
            }
        }
        if let Some(algorithm) = algorithm {
            verify::check_signature_method(algorithm)?;
        }
        let n = self.nonce.len();
        if !(verify::MIN_NONCE_LEN..=verify::MAX_NONCE_LEN).contains(&n) {
            return Err(Rejection::NonceRejected {
                why: "a passport nonce has 6 to 64 characters",
            });
        }
        if !self.nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Rejection::NonceRejected {
                why: "a passport nonce is alphanumeric",
            });
        }
        let timestamp = verify::parse_timestamp(self.timestamp)?;
        if let Some(now) = now {
            verify::check_timestamp_window(timestamp, now, window)?;
        }
        Ok(timestamp)
    }

    /// Constant-time check of a received Base64 signature.
    pub fn verify(&self, key: &SigningKey, signature: &str) -> bool {
        key.verify(self.base_string().as_bytes(), signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSPORT: TokenPassport<'static> = TokenPassport {
        account: "123456",
        consumer_key: "ck",
        token: "tk",
        nonce: "fjaLirsIcCGVZWzBX0pg",
        timestamp: "1508242306",
    };

    #[test]
    fn base_string_is_plain_join() {
        assert_eq!(
            PASSPORT.base_string(),
            "123456&ck&tk&fjaLirsIcCGVZWzBX0pg&1508242306"
        );
    }

    #[test]
    fn sign_and_verify() {
        let key = SigningKey::new("cs", "ts");
        let sig = PASSPORT.sign(&key);
        assert!(PASSPORT.verify(&key, &sig));
        let other = TokenPassport {
            nonce: "fjaLirsIcCGVZWzBX0ph",
            ..PASSPORT
        };
        assert!(!other.verify(&key, &sig));
    }

    #[test]
    fn field_rules() {
        assert_eq!(
            PASSPORT.check_fields(Some("HMAC-SHA256"), None, 300),
            Ok(1_508_242_306)
        );
        let missing = TokenPassport {
            token: "",
            ..PASSPORT
        };
        assert_eq!(
            missing.check_fields(None, None, 300).unwrap_err().detail(),
            "MissingTokenPassportRequiredFields"
        );
        let dashed = TokenPassport {
            nonce: "abc-def",
            ..PASSPORT
        };
        assert_eq!(
            dashed.check_fields(None, None, 300).unwrap_err().detail(),
            "nonce_rejected"
        );
        assert_eq!(
            PASSPORT
                .check_fields(Some("HMAC-SHA1"), None, 300)
                .unwrap_err()
                .detail(),
            "UnsupportedSignatureMethod"
        );
        assert_eq!(
            PASSPORT
                .check_fields(None, Some(1_508_242_306 + 301), 300)
                .unwrap_err()
                .detail(),
            "InvalidTimestamp"
        );
    }
}
