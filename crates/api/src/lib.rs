//! The admin API's contract (`/api/v1`), in one place for the server that answers it and the
//! CLI that calls it: every request and response body (`Serialize` + `Deserialize`, and the
//! schema the OpenAPI document is made from), the stable error codes ([`ErrorCode`]), and each
//! list's query parameters as one struct that also documents them ([`query`]).
//!
//! The server builds these from the domain and serializes them; the CLI deserializes them and
//! refuses an answer that does not fit (a field renamed or removed on one side fails loudly on
//! the other instead of printing nothing). The conventions — URLs, statuses, pagination, the
//! error envelope, signing — are in `docs/API.md`.
//!
//! Knows nothing of HTTP or of the domain: only shapes. Times are RFC 3339 text in UTC; ids
//! are the records' internal ids (positive integers).

#![forbid(unsafe_code)]

pub mod audit;
pub mod directory;
mod error;
pub mod integrations;
pub mod query;
pub mod tokens;

pub use error::{ErrorBody, ErrorCode, ErrorDetail, UnknownErrorCode};
pub use query::Password;

/// `Option<Option<T>>` from JSON, for a setting that can be cleared: absent → `None` (left as
/// it is), `null` → `Some(None)` (cleared).
pub(crate) fn absent_or_null<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}
