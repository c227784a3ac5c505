//! NetSuite Token-Based Authentication, the protocol alone: an OAuth 1.0a profile with
//! HMAC-SHA256.
//!
//! - [`encode`]: RFC 3986 percent-encoding and strict decoding.
//! - [`header`]: the `Authorization: OAuth …` header, parsed and built.
//! - [`url`] and [`base_string`]: the signature base string of RFC 5849 §3.4.1, path as sent.
//! - [`signature`]: keys, HMAC-SHA256 signing, constant-time verification (HMAC-SHA1 in
//!   [`signature::legacy`] only).
//! - [`verify`]: the profile rules of Tessera's RULES.md §3 and the Detail codes of refusals.
//! - [`body_hash`], [`passport`] (SOAP TokenPassport), [`nlauth`] (the issuetoken header).
//! - [`signer`]: the client side.
//!
//! No I/O, no async, no allocation per parameter on the verification path.

#![forbid(unsafe_code)]

pub mod base_string;
pub mod body_hash;
mod charset;
pub mod debug;
pub mod detail;
pub mod encode;
pub mod header;
pub mod nlauth;
pub mod passport;
pub mod secret;
pub mod signature;
pub mod signer;
pub mod url;
pub mod verify;

pub use base_string::{
    BaseStringError, MAX_FORM_PARAMS, SignedParams, base_string, normalized_params,
};
pub use body_hash::{
    BodyHashAlgorithm, BodyHashError, body_hash as compute_body_hash, check_body_hash,
};
pub use detail::Detail;
pub use header::{
    AuthorizationHeader, HeaderError, OAuthParam, build_authorization, find_authorization,
};
pub use nlauth::{NlAuth, NlAuthError};
pub use passport::TokenPassport;
pub use secret::SecretString;
pub use signature::{Signature, SignatureMethod, SigningKey};
pub use signer::{Clock, FixedClock, RequestToSign, SignError, SignedRequest, Signer, SystemClock};
pub use url::{RequestUrl, Scheme, UrlError};
pub use verify::{Profile, ProtocolParams, Rejection, RequestParts, VerifyError};
