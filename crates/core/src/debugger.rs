//! The signature debugger: for a token, or an integration record in one account, an
//! administrator may have the server keep — for a limited time — what it computed for requests
//! refused as `InvalidSignature`: the base string (credentials masked) and how the request was
//! read. The login audit trail shows it beside a box for the integrator's own base string; the
//! comparison itself is `tessera_oauth1::debug`. Never a secret, never a signature.

use serde::{Deserialize, Serialize};
use tessera_oauth1::debug::{ServerSide, mask_credentials};

/// The longest a debugging window may be opened for, in minutes (a day).
pub const DEBUG_MINUTES_MAX: u32 = 1_440;
/// The most of a base string kept (characters); a longer one is clipped and marked so.
pub const CAPTURE_BASE_MAX: usize = 16_384;
/// The most parameter names kept per source, and the most of each kept (characters).
const NAMES_MAX: usize = 100;
const NAME_MAX: usize = 64;

/// What is kept of a refused signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    /// The base string the server computed, consumer key and token id masked.
    pub base_string: String,
    /// The base string was longer than [`CAPTURE_BASE_MAX`] and is clipped.
    #[serde(default)]
    pub truncated: bool,
    /// `oauth` (an Authorization header) or `passport` (a SOAP TokenPassport).
    pub scheme: String,
    /// Names of the query's parameters, as sent (decoded).
    #[serde(default)]
    pub query_params: Vec<String>,
    /// Names of the form body's parameters, when the body was read as a signed form.
    #[serde(default)]
    pub form_params: Vec<String>,
    /// The body was `application/x-www-form-urlencoded`, so its parameters are signed.
    #[serde(default)]
    pub form_body_signed: bool,
    /// The header had a `realm` (never part of the base string).
    #[serde(default)]
    pub realm_sent: bool,
    /// The header had an `oauth_body_hash`.
    #[serde(default)]
    pub body_hash_sent: bool,
}

impl Capture {
    /// A capture of `base_string` (masked and clipped here).
    pub fn new(scheme: &str, base_string: &str) -> Self {
        let masked = mask_credentials(base_string);
        let truncated = masked.chars().count() > CAPTURE_BASE_MAX;
        Self {
            base_string: if truncated {
                masked.chars().take(CAPTURE_BASE_MAX).collect()
            } else {
                masked
            },
            truncated,
            scheme: scheme.to_owned(),
            query_params: Vec::new(),
            form_params: Vec::new(),
            form_body_signed: false,
            realm_sent: false,
            body_hash_sent: false,
        }
    }

    /// The names of `key=value&…` pairs, decoded where they decode, at most 100.
    pub fn names(pairs: &[u8]) -> Vec<String> {
        pairs
            .split(|b| *b == b'&')
            .filter(|p| !p.is_empty())
            .take(NAMES_MAX)
            .map(|p| {
                let name = p.split(|b| *b == b'=').next().unwrap_or_default();
                let text = String::from_utf8_lossy(name);
                tessera_oauth1::encode::form_decode(&text)
                    .map_or_else(|_| text.clone().into_owned(), |d| d.into_owned())
            })
            .map(|n| n.chars().take(NAME_MAX).collect())
            .collect()
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// What the comparison needs.
    pub fn server_side(&self) -> ServerSide {
        ServerSide {
            base_string: self.base_string.clone(),
            query_params: self.query_params.clone(),
            form_params: self.form_params.clone(),
            form_body_signed: self.form_body_signed,
            realm_sent: self.realm_sent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_masks_credentials_clips_and_round_trips() {
        let key = "ab".repeat(32);
        let base =
            format!("GET&https%3A%2F%2Fx%2F&oauth_consumer_key%3D{key}%26oauth_token%3D{key}");
        let c = Capture::new("oauth", &base);
        assert!(!c.base_string.contains(&key), "{}", c.base_string);
        assert_eq!(Capture::from_json(&c.to_json()), Some(c));
        let long = Capture::new("oauth", &"a".repeat(CAPTURE_BASE_MAX + 10));
        assert!(long.truncated);
        assert_eq!(long.base_string.chars().count(), CAPTURE_BASE_MAX);
        assert_eq!(Capture::names(b"a=1&b%20c=2&&d"), ["a", "b c", "d"]);
    }
}
