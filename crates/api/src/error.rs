//! The error envelope every Tessera JSON error has, `{"error":{"code","message","field"}}`,
//! and the one list of its codes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every stable error code the server answers with, in `{"error":{"code"}}` (and, for REST
/// web services, in `o:errorDetails[].o:errorCode`). The one list: the server writes these and
/// nothing else; a client can match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    // The request itself.
    /// A query parameter or body field is wrong; `field` names it.
    InvalidField,
    /// An id the domain was handed is not a valid internal id (a bad id in the path is
    /// `INVALID_FIELD` naming `id`).
    InvalidId,
    /// The body is not the JSON the endpoint takes.
    InvalidJson,
    /// Malformed: an `Authorization` header, a query or a form that cannot be read, or a
    /// required parameter of a NetSuite endpoint missing.
    InvalidRequest,
    /// A request with a body has no SHA-256 `oauth_body_hash` among its signed parameters.
    BodyHashRequired,
    // The domain's refusals (RULES.md §2).
    /// No such record visible to the caller (another account's records are not found).
    NotFound,
    /// The caller's role may not do this (R12, R13).
    NotPermitted,
    /// A record installed through a bundle cannot have its credentials reset (R4).
    ResetNotAllowedForBundleInstall,
    /// The token is revoked, so read-only (R8).
    TokenRevoked,
    /// A concurrent change, or a duplicate (an email, a name).
    Conflict,
    // Signed requests (RULES.md §3.1): the reason is in the login audit trail.
    /// The generic refusal of a signed request (RESTlet style and Tessera's own API).
    InvalidLoginAttempt,
    /// The generic refusal on REST web services (`o:errorCode`).
    InvalidLogin,
    /// Over the concurrency limit, RESTlet style (400).
    SssRequestLimitExceeded,
    /// Over the concurrency limit on REST web services (429, `o:errorCode`).
    ConcurrencyLimitExceeded,
    /// Not a trusted service (the verification API, forward-auth, metrics).
    Forbidden,
    // The HTTP edge.
    NoSuchEndpoint,
    MethodNotAllowed,
    PayloadTooLarge,
    UriTooLong,
    HeadersTooLarge,
    RequestTimeout,
    // The server.
    /// The database is unavailable; nothing was changed. Try again.
    ServiceUnavailable,
    /// An internal failure; the server log has the reason.
    InternalError,
    /// `/readyz`: the database cannot be reached.
    StoreUnreachable,
    /// `/readyz`: this node's master keys do not open the database's secrets.
    MasterKeyMismatch,
}

impl ErrorCode {
    /// Every code, for tests and documentation.
    pub const ALL: &[ErrorCode] = &[
        Self::InvalidField,
        Self::InvalidId,
        Self::InvalidJson,
        Self::InvalidRequest,
        Self::BodyHashRequired,
        Self::NotFound,
        Self::NotPermitted,
        Self::ResetNotAllowedForBundleInstall,
        Self::TokenRevoked,
        Self::Conflict,
        Self::InvalidLoginAttempt,
        Self::InvalidLogin,
        Self::SssRequestLimitExceeded,
        Self::ConcurrencyLimitExceeded,
        Self::Forbidden,
        Self::NoSuchEndpoint,
        Self::MethodNotAllowed,
        Self::PayloadTooLarge,
        Self::UriTooLong,
        Self::HeadersTooLarge,
        Self::RequestTimeout,
        Self::ServiceUnavailable,
        Self::InternalError,
        Self::StoreUnreachable,
        Self::MasterKeyMismatch,
    ];

    /// The code as written on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidField => "INVALID_FIELD",
            Self::InvalidId => "INVALID_ID",
            Self::InvalidJson => "INVALID_JSON",
            Self::InvalidRequest => "INVALID_REQUEST",
            Self::BodyHashRequired => "BODY_HASH_REQUIRED",
            Self::NotFound => "NOT_FOUND",
            Self::NotPermitted => "NOT_PERMITTED",
            Self::ResetNotAllowedForBundleInstall => "RESET_NOT_ALLOWED_FOR_BUNDLE_INSTALL",
            Self::TokenRevoked => "TOKEN_REVOKED",
            Self::Conflict => "CONFLICT",
            Self::InvalidLoginAttempt => "INVALID_LOGIN_ATTEMPT",
            Self::InvalidLogin => "INVALID_LOGIN",
            Self::SssRequestLimitExceeded => "SSS_REQUEST_LIMIT_EXCEEDED",
            Self::ConcurrencyLimitExceeded => "CONCURRENCY_LIMIT_EXCEEDED",
            Self::Forbidden => "FORBIDDEN",
            Self::NoSuchEndpoint => "NO_SUCH_ENDPOINT",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UriTooLong => "URI_TOO_LONG",
            Self::HeadersTooLarge => "HEADERS_TOO_LARGE",
            Self::RequestTimeout => "REQUEST_TIMEOUT",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::InternalError => "INTERNAL_ERROR",
            Self::StoreUnreachable => "STORE_UNREACHABLE",
            Self::MasterKeyMismatch => "MASTER_KEY_MISMATCH",
        }
    }

    /// The code written as `code`, if it is one.
    pub fn parse(code: &str) -> Result<Self, UnknownErrorCode> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == code)
            .ok_or_else(|| UnknownErrorCode(code.to_owned()))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code this version of the contract does not know (a newer server).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an error code this version knows")]
pub struct UnknownErrorCode(pub String);

/// The body of every Tessera JSON error (the admin API, the token endpoints, the edge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable.
    pub code: ErrorCode,
    /// For people.
    pub message: String,
    /// With `INVALID_FIELD`: the query parameter or body field at fault (a path such as
    /// `name` or `items[2].id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
                field: None,
            },
        }
    }

    /// An `INVALID_FIELD` error naming `field`.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: ErrorCode::InvalidField,
                message: message.into(),
                field: Some(field.into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_written_as_serde_writes_it_and_read_back() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap_or_default();
            assert_eq!(json, code.as_str(), "{code:?}");
            assert_eq!(ErrorCode::parse(code.as_str()), Ok(*code));
        }
        assert!(ErrorCode::parse("NOPE").is_err());
    }
}
