//! Checking a signed request against the TBA profile of RULES.md §3: the required protocol
//! parameters, HMAC-SHA256 only, `oauth_version` 1.0, the nonce and timestamp rules, the
//! signature and the optional body hash.
//!
//! The crate does no I/O: the caller looks up the secrets (and the dummy ones when a key is
//! unknown, so every failure costs the same), keeps the nonce records and supplies the clock.

use thiserror::Error;

use crate::base_string::{BaseStringError, SignedParams};
use crate::body_hash::{self, BodyHashError};
use crate::detail::Detail;
use crate::header::{AuthorizationHeader, HeaderError, OAuthParam};
use crate::signature::{SignatureMethod, SigningKey};
use crate::url::RequestUrl;

/// Default acceptance window for `oauth_timestamp`, in seconds either side of server time.
pub const DEFAULT_TIMESTAMP_WINDOW_SECS: u64 = 300;
/// Shortest nonce accepted (NetSuite's rule).
pub const MIN_NONCE_LEN: usize = 6;
/// Longest nonce accepted (Tessera's rule).
pub const MAX_NONCE_LEN: usize = 64;

/// A request that is well-formed but must not be accepted. Each maps to a login-audit Detail code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejection {
    #[error(
        "signature method {method:?} is not accepted: only HMAC-SHA256 is (names are case-sensitive)"
    )]
    UnsupportedSignatureMethod { method: String },
    #[error("oauth_version must be \"1.0\" when present (got {version:?})")]
    InvalidVersion { version: String },
    #[error("nonce rejected: {why}")]
    NonceRejected { why: &'static str },
    #[error("invalid timestamp: {why}")]
    InvalidTimestamp { why: String },
    #[error("the signature does not match the request")]
    InvalidSignature,
    #[error("{0}")]
    BodyHash(BodyHashError),
    #[error("TokenPassport field {field} is missing or empty")]
    MissingTokenPassportField { field: &'static str },
}

impl Rejection {
    /// The login-audit Detail code (RULES.md §3.1).
    pub fn detail(&self) -> Detail {
        match self {
            Self::UnsupportedSignatureMethod { .. } => Detail::UnsupportedSignatureMethod,
            Self::InvalidVersion { .. } => Detail::InvalidVersion,
            Self::NonceRejected { .. } => Detail::NonceRejected,
            Self::InvalidTimestamp { .. } => Detail::InvalidTimestamp,
            // A body that does not match its signed hash is an unsigned body.
            Self::InvalidSignature | Self::BodyHash(_) => Detail::InvalidSignature,
            Self::MissingTokenPassportField { .. } => Detail::MissingTokenPassportRequiredFields,
        }
    }
}

/// Everything that stops a request from verifying.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// The header is not usable (HTTP 400).
    #[error(transparent)]
    Malformed(#[from] HeaderError),
    /// The query or form body is not decodable, or the method is not a token (HTTP 400).
    #[error(transparent)]
    BaseString(#[from] BaseStringError),
    /// Well-formed but refused (HTTP 401, Detail code in the audit trail).
    #[error(transparent)]
    Rejected(#[from] Rejection),
}

/// The protocol parameters of a TBA request, borrowed from its parsed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolParams<'h> {
    pub consumer_key: &'h str,
    /// Absent only in the request-token step of the authorization flow.
    pub token: Option<&'h str>,
    pub signature_method: &'h str,
    pub timestamp: &'h str,
    pub nonce: &'h str,
    pub version: Option<&'h str>,
    pub signature: &'h str,
    pub body_hash: Option<&'h str>,
}

impl<'h> ProtocolParams<'h> {
    /// Takes the protocol parameters out of a header; a missing required one is malformed.
    pub fn from_header(header: &'h AuthorizationHeader<'_>) -> Result<Self, HeaderError> {
        Ok(Self {
            consumer_key: header.require(OAuthParam::ConsumerKey)?,
            token: header.get(OAuthParam::Token),
            signature_method: header.require(OAuthParam::SignatureMethod)?,
            timestamp: header.require(OAuthParam::Timestamp)?,
            nonce: header.require(OAuthParam::Nonce)?,
            version: header.get(OAuthParam::Version),
            signature: header.require(OAuthParam::Signature)?,
            body_hash: header.get(OAuthParam::BodyHash),
        })
    }
}

/// The rules of RULES.md §3 that do not need secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// `oauth_timestamp` must be within this many seconds of `now`.
    pub timestamp_window_secs: u64,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            timestamp_window_secs: DEFAULT_TIMESTAMP_WINDOW_SECS,
        }
    }
}

/// `HMAC-SHA256` only.
pub fn check_signature_method(method: &str) -> Result<(), Rejection> {
    match SignatureMethod::parse(method) {
        SignatureMethod::HmacSha256 => Ok(()),
        _ => Err(Rejection::UnsupportedSignatureMethod {
            method: method.chars().take(32).collect(),
        }),
    }
}

/// `oauth_version`, when present, is `1.0`.
pub fn check_version(version: Option<&str>) -> Result<(), Rejection> {
    match version {
        None | Some("1.0") => Ok(()),
        Some(v) => Err(Rejection::InvalidVersion {
            version: v.chars().take(32).collect(),
        }),
    }
}

/// 6 to 64 RFC 3986 unreserved characters.
pub fn check_nonce(nonce: &str) -> Result<(), Rejection> {
    let why = if nonce.len() < MIN_NONCE_LEN {
        "shorter than 6 characters"
    } else if nonce.len() > MAX_NONCE_LEN {
        "longer than 64 characters"
    } else if !crate::encode::all_unreserved(nonce.as_bytes()) {
        "only letters, digits and - . _ ~ are allowed"
    } else {
        return Ok(());
    };
    Err(Rejection::NonceRejected { why })
}

/// Integer seconds since the Unix epoch, digits only.
pub fn parse_timestamp(timestamp: &str) -> Result<u64, Rejection> {
    let invalid = |why: &str| Rejection::InvalidTimestamp {
        why: why.to_owned(),
    };
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("must be whole seconds since 1970, digits only"));
    }
    timestamp.parse().map_err(|_| invalid("out of range"))
}

/// The timestamp lies within `window` seconds of `now`.
pub fn check_timestamp_window(timestamp: u64, now: u64, window: u64) -> Result<(), Rejection> {
    let skew = timestamp.abs_diff(now);
    if skew <= window {
        return Ok(());
    }
    let direction = if timestamp > now {
        "ahead of"
    } else {
        "behind"
    };
    Err(Rejection::InvalidTimestamp {
        why: format!("{skew} s {direction} server time; the window is ±{window} s"),
    })
}

impl Profile {
    /// Checks signature method, version, nonce and timestamp, in that order. `now` is the server
    /// clock in Unix seconds; `None` skips the window check (the debugger does, for old headers).
    pub fn check(&self, params: &ProtocolParams<'_>, now: Option<u64>) -> Result<u64, Rejection> {
        check_signature_method(params.signature_method)?;
        check_version(params.version)?;
        check_nonce(params.nonce)?;
        let timestamp = parse_timestamp(params.timestamp)?;
        if let Some(now) = now {
            check_timestamp_window(timestamp, now, self.timestamp_window_secs)?;
        }
        Ok(timestamp)
    }
}

/// The parts of a received request that the signature covers.
#[derive(Debug, Clone)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    pub url: RequestUrl<'a>,
    /// The body, when its content type is `application/x-www-form-urlencoded` (its parameters
    /// are signed).
    pub form_body: Option<&'a [u8]>,
    /// The raw body whatever its type, for `oauth_body_hash`.
    pub body: &'a [u8],
}

impl<'a> RequestParts<'a> {
    /// The signature base string of this request under `header`.
    pub fn base_string(
        &self,
        header: &'a AuthorizationHeader<'a>,
    ) -> Result<String, BaseStringError> {
        SignedParams::from_request(&self.url, self.form_body, header)?
            .base_string(self.method, &self.url)
    }

    /// Checks the signature and, when sent, the body hash. The base string is computed and the
    /// HMAC compared in constant time whatever the outcome.
    pub fn check_signature(
        &self,
        header: &'a AuthorizationHeader<'a>,
        params: &ProtocolParams<'_>,
        key: &SigningKey,
    ) -> Result<(), VerifyError> {
        let base_string = self.base_string(header)?;
        if !key.verify(base_string.as_bytes(), params.signature) {
            return Err(Rejection::InvalidSignature.into());
        }
        if let Some(provided) = params.body_hash {
            body_hash::check_body_hash(provided, self.body).map_err(Rejection::BodyHash)?;
        }
        Ok(())
    }

    /// The whole check of a TBA request whose secrets are known: required parameters, profile
    /// rules, signature, body hash. Replay (the nonce record) is the caller's, after this passes.
    pub fn verify(
        &self,
        header: &'a AuthorizationHeader<'a>,
        key: &SigningKey,
        profile: &Profile,
        now: u64,
    ) -> Result<ProtocolParams<'a>, VerifyError> {
        let params = ProtocolParams::from_header(header)?;
        profile.check(&params, Some(now))?;
        self.check_signature(header, &params, key)?;
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_codes_match_the_spec() {
        let cases = [
            (Rejection::InvalidSignature, "InvalidSignature"),
            (Rejection::NonceRejected { why: "x" }, "nonce_rejected"),
            (
                Rejection::InvalidTimestamp { why: "x".into() },
                "InvalidTimestamp",
            ),
            (
                Rejection::UnsupportedSignatureMethod {
                    method: "HMAC-SHA1".into(),
                },
                "UnsupportedSignatureMethod",
            ),
            (
                Rejection::InvalidVersion {
                    version: "2.0".into(),
                },
                "InvalidVersion",
            ),
            (
                Rejection::MissingTokenPassportField { field: "nonce" },
                "MissingTokenPassportRequiredFields",
            ),
        ];
        for (rejection, code) in cases {
            assert_eq!(rejection.detail(), code);
        }
    }

    #[test]
    fn nonce_rules() {
        assert!(check_nonce("abcdef").is_ok());
        assert!(check_nonce(&"a".repeat(64)).is_ok());
        assert!(check_nonce("abcde").is_err());
        assert!(check_nonce(&"a".repeat(65)).is_err());
        assert!(check_nonce("abc def").is_err());
        assert!(check_nonce("abc+def").is_err());
        assert!(check_nonce("a-._~Z9").is_ok());
    }

    #[test]
    fn timestamp_rules() {
        assert_eq!(parse_timestamp("1508242306"), Ok(1_508_242_306));
        assert!(parse_timestamp("").is_err());
        assert!(parse_timestamp("-1").is_err());
        assert!(parse_timestamp("1.5").is_err());
        assert!(parse_timestamp("99999999999999999999999").is_err());
        assert!(check_timestamp_window(1000, 1300, 300).is_ok());
        assert!(check_timestamp_window(1300, 1000, 300).is_ok());
        let late = check_timestamp_window(1000, 1301, 300).unwrap_err();
        assert_eq!(
            late.to_string(),
            "invalid timestamp: 301 s behind server time; the window is ±300 s"
        );
        assert!(check_timestamp_window(1302, 1001, 300).is_err());
    }

    #[test]
    fn method_and_version() {
        assert!(check_signature_method("HMAC-SHA256").is_ok());
        for m in ["HMAC-SHA1", "PLAINTEXT", "RSA-SHA1", "hmac-sha256", ""] {
            assert!(check_signature_method(m).is_err(), "{m}");
        }
        assert!(check_version(None).is_ok());
        assert!(check_version(Some("1.0")).is_ok());
        assert!(check_version(Some("1.0a")).is_err());
        assert!(check_version(Some("")).is_err());
    }
}
