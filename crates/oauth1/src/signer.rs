//! The client side: sign a request the way NetSuite's examples do (HMAC-SHA256, `oauth_version`
//! 1.0) and build its `Authorization` header.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

use crate::base_string::{BaseStringError, ParamSource, SignedParams};
use crate::body_hash::{self, BodyHashAlgorithm};
use crate::header::build_authorization;
use crate::secret::SecretString;
use crate::signature::{SignatureMethod, SigningKey};
use crate::url::{RequestUrl, UrlError};

/// Length of a generated nonce: 24 alphanumeric characters, about 143 bits.
pub const GENERATED_NONCE_LEN: usize = 24;

/// The current time in Unix seconds; injectable so tests can fix it.
pub trait Clock {
    fn now_unix(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that always says the same time.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub u64);

impl Clock for FixedClock {
    fn now_unix(&self) -> u64 {
        self.0
    }
}

/// Why a request could not be signed.
#[derive(Debug, Error)]
pub enum SignError {
    #[error("invalid URL: {0}")]
    Url(#[from] UrlError),
    #[error(transparent)]
    BaseString(#[from] BaseStringError),
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),
    #[error("{name} is set by the signer and cannot be passed as an extra parameter")]
    ReservedParameter { name: String },
}

/// A fresh nonce of [`GENERATED_NONCE_LEN`] alphanumeric characters from the OS RNG.
pub fn generate_nonce() -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut nonce = String::with_capacity(GENERATED_NONCE_LEN);
    while nonce.len() < GENERATED_NONCE_LEN {
        let b = random_byte()?;
        // Rejection sampling keeps the 62 characters equally likely.
        if b < 248 {
            nonce.push(ALPHABET[usize::from(b % 62)] as char);
        }
    }
    Ok(nonce)
}

/// One byte of the operating system's randomness, drawn from a per-thread buffer refilled a
/// few hundred bytes at a time: a load generator signs tens of thousands of requests per
/// second, and a system call per nonce was a visible share of its time.
fn random_byte() -> Result<u8, getrandom::Error> {
    use std::cell::RefCell;
    const REFILL: usize = 512;
    thread_local! {
        static POOL: RefCell<([u8; REFILL], usize)> = const { RefCell::new(([0; REFILL], REFILL)) };
    }
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let (bytes, used) = &mut *pool;
        if *used == REFILL {
            getrandom::fill(bytes)?;
            *used = 0;
        }
        let b = bytes[*used];
        // Each byte is handed out once.
        bytes[*used] = 0;
        *used += 1;
        Ok(b)
    })
}

/// What to sign. Everything but `method` and `url` is optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestToSign<'a> {
    pub method: &'a str,
    /// Absolute URL exactly as it will be sent.
    pub url: &'a str,
    /// An `application/x-www-form-urlencoded` body (its parameters are signed).
    pub form_body: Option<&'a [u8]>,
    /// Adds a signed `oauth_body_hash` of this body.
    pub body_hash: Option<(BodyHashAlgorithm, &'a [u8])>,
    /// A fixed nonce instead of a fresh one.
    pub nonce: Option<&'a str>,
    /// A fixed timestamp instead of the clock's.
    pub timestamp: Option<u64>,
    /// Further protocol parameters (`oauth_callback`, `oauth_verifier`).
    pub extra_oauth_params: &'a [(&'a str, &'a str)],
}

/// The result of signing: every intermediate, for debugging, and the header to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub normalized_parameters: String,
    pub base_string: String,
    /// Base64, before percent-encoding.
    pub signature: String,
    /// The complete `Authorization` header value.
    pub authorization: String,
    pub nonce: String,
    pub timestamp: u64,
}

/// Signs requests for one consumer (and usually one token).
pub struct Signer<C: Clock = SystemClock> {
    consumer_key: String,
    token: Option<String>,
    realm: Option<String>,
    key: SigningKey,
    clock: C,
}

impl<C: Clock> fmt::Debug for Signer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("consumer_key", &self.consumer_key)
            .field("token", &self.token)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl Signer<SystemClock> {
    /// A signer for a consumer and a token.
    pub fn new(
        consumer_key: impl Into<String>,
        consumer_secret: &SecretString,
        token: impl Into<String>,
        token_secret: &SecretString,
    ) -> Self {
        Self {
            consumer_key: consumer_key.into(),
            token: Some(token.into()),
            realm: None,
            key: SigningKey::new(consumer_secret.expose(), token_secret.expose()),
            clock: SystemClock,
        }
    }

    /// A signer with no token (the request-token step), keyed `enc(consumer_secret)&`.
    pub fn consumer_only(consumer_key: impl Into<String>, consumer_secret: &SecretString) -> Self {
        Self {
            consumer_key: consumer_key.into(),
            token: None,
            realm: None,
            key: SigningKey::consumer_only(consumer_secret.expose()),
            clock: SystemClock,
        }
    }
}

impl<C: Clock> Signer<C> {
    /// Sets the `realm` (the NetSuite account id) sent in the header.
    pub fn with_realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Uses another clock.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> Signer<C2> {
        Signer {
            consumer_key: self.consumer_key,
            token: self.token,
            realm: self.realm,
            key: self.key,
            clock,
        }
    }

    /// Signs a request.
    pub fn sign(&self, request: &RequestToSign<'_>) -> Result<SignedRequest, SignError> {
        self.sign_with(request, true)
    }

    /// The `Authorization` header value alone: what a client sending many requests needs,
    /// without the intermediate strings [`Signer::sign`] also returns.
    pub fn authorization(&self, request: &RequestToSign<'_>) -> Result<String, SignError> {
        self.sign_with(request, false).map(|s| s.authorization)
    }

    fn sign_with(
        &self,
        request: &RequestToSign<'_>,
        with_parts: bool,
    ) -> Result<SignedRequest, SignError> {
        let url = RequestUrl::parse(request.url)?;
        let nonce = match request.nonce {
            Some(n) => n.to_owned(),
            None => generate_nonce().map_err(SignError::Random)?,
        };
        let timestamp = request.timestamp.unwrap_or_else(|| self.clock.now_unix());
        let timestamp_str = timestamp.to_string();
        let body_hash = request
            .body_hash
            .map(|(algorithm, body)| body_hash::body_hash(algorithm, body));

        // NetSuite's documented order; the signature goes last.
        let mut oauth: Vec<(&str, &str)> = Vec::with_capacity(10);
        if let Some(token) = &self.token {
            oauth.push(("oauth_token", token));
        }
        oauth.push(("oauth_consumer_key", &self.consumer_key));
        oauth.push(("oauth_nonce", &nonce));
        oauth.push(("oauth_timestamp", &timestamp_str));
        oauth.push((
            "oauth_signature_method",
            SignatureMethod::HmacSha256.as_str(),
        ));
        oauth.push(("oauth_version", "1.0"));
        if let Some(hash) = &body_hash {
            oauth.push(("oauth_body_hash", hash));
        }
        for &(name, value) in request.extra_oauth_params {
            if name == "realm" || name == "oauth_signature" || oauth.iter().any(|(n, _)| *n == name)
            {
                return Err(SignError::ReservedParameter {
                    name: name.to_owned(),
                });
            }
            oauth.push((name, value));
        }

        let mut params = SignedParams::new();
        if let Some(query) = url.query() {
            params.add_form_str(ParamSource::Query, query)?;
        }
        if let Some(body) = request.form_body {
            params.add_form(ParamSource::FormBody, body)?;
        }
        for &(name, value) in &oauth {
            params.add_decoded(name, value);
        }
        let normalized_parameters = if with_parts {
            params.clone().normalized()
        } else {
            String::new()
        };
        let base_string = params.base_string(request.method, &url)?;
        let signature = self.key.sign(base_string.as_bytes()).to_base64();
        oauth.push(("oauth_signature", &signature));
        let authorization = build_authorization(self.realm.as_deref(), oauth.iter().copied());
        Ok(SignedRequest {
            normalized_parameters,
            base_string,
            authorization,
            signature,
            nonce,
            timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_is_alphanumeric_and_fresh() {
        let a = generate_nonce().unwrap();
        let b = generate_nonce().unwrap();
        assert_eq!(a.len(), GENERATED_NONCE_LEN);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn uses_the_injected_clock() {
        let signer = Signer::new("ck", &"cs".into(), "tk", &"ts".into())
            .with_clock(FixedClock(1_700_000_000));
        let signed = signer
            .sign(&RequestToSign {
                method: "GET",
                url: "http://localhost:8080/app/site/hosting/restlet.nl?script=1",
                ..Default::default()
            })
            .unwrap();
        assert_eq!(signed.timestamp, 1_700_000_000);
        assert!(
            signed
                .authorization
                .contains("oauth_timestamp=\"1700000000\"")
        );
        assert_eq!(signed.nonce.len(), GENERATED_NONCE_LEN);
    }

    #[test]
    fn refuses_to_override_signer_parameters() {
        let signer = Signer::new("ck", &"cs".into(), "tk", &"ts".into());
        for name in [
            "oauth_nonce",
            "oauth_signature",
            "realm",
            "oauth_signature_method",
        ] {
            let err = signer
                .sign(&RequestToSign {
                    method: "GET",
                    url: "http://h/",
                    extra_oauth_params: &[(name, "x")],
                    ..Default::default()
                })
                .unwrap_err();
            assert!(matches!(err, SignError::ReservedParameter { .. }), "{name}");
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let signer = Signer::new("ck", &"s3cr3t-c".into(), "tk", &"s3cr3t-t".into());
        let dbg = format!("{signer:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
    }
}
