//! `/api/v1/audit` and the system notes: the Login Audit Trail and records' change history.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::query::{internal_id, rows};

/// Something an attempt named, by internal id and the name it had then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AttemptNamed {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One login attempt, as recorded when it was made. Never a secret or a signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    /// Pass as `before` to read on from here.
    pub id: i64,
    /// RFC 3339, UTC.
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<AttemptNamed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<AttemptNamed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<AttemptNamed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<AttemptNamed>,
    pub ip: String,
    pub user_agent: String,
    pub method: String,
    /// `oauth_*` query values are masked.
    pub request_uri: String,
    /// `restlet`, `rest`, `verify`, `forward-auth`, `admin-api`, …
    pub surface: String,
    pub success: bool,
    /// The Detail code (RULES.md §3.1; every code is listed in the `detail` filter's
    /// description).
    pub detail: String,
    /// What an administrator needs to fix a failure.
    pub detail_note: String,
    /// The signature debugger kept what the server computed for this refused signature
    /// (`/api/v1/audit/{id}/signature`).
    #[serde(default)]
    pub signature_capture: bool,
}

/// What the signature debugger kept of a refused signature. Never a secret or the signature;
/// the consumer key and token id are masked to their first 8 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignatureCaptureView {
    /// The base string the server computed (`METHOD&encoded URL&encoded parameters`).
    pub base_string: String,
    /// The base string was longer than 16,384 characters and is clipped.
    pub truncated: bool,
    /// `oauth` (an Authorization header) or `passport` (a SOAP TokenPassport).
    pub scheme: String,
    /// Names of the query's parameters.
    pub query_params: Vec<String>,
    /// Names of the form body's parameters, when the body was a signed form.
    pub form_params: Vec<String>,
    /// The body was `application/x-www-form-urlencoded`, so its parameters are signed.
    pub form_body_signed: bool,
    /// The header had a `realm` (never part of the base string).
    pub realm_sent: bool,
    /// The header had an `oauth_body_hash`.
    pub body_hash_sent: bool,
}

/// Opens the signature debugger for a while, or closes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureDebug {
    /// For how long, 1–1440 (a day); `0` closes it.
    pub minutes: u32,
}

/// Whether the signature debugger is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignatureDebugView {
    /// RFC 3339: open until then; absent: closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// A page of the trail, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AttemptPage {
    pub items: Vec<AttemptView>,
    /// Pass as `before` for the next (older) page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

/// The Login Audit Trail's filters and paging. Filters combine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only successes (`true`) or only failures (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// A Detail code: Success, InvalidSignature, InvalidTimestamp, nonce_rejected, nonce_used, InvalidToken, TokenRevoked, TokenInactive, TokenExpired, IpNotAllowed, consumer_key_unknown, consumer_key_refused, FeatureDisabled, EntityOrRoleDisabled, RoleNotAllowed, InvalidRealm, UnsupportedSignatureMethod, InvalidVersion, MissingRequiredParameter, MissingTokenPassportRequiredFields, MalformedRequest, ConcurrencyLimitExceeded, IntegrationBlocked, InvalidCredentials, TooManyAttempts, UnknownIntegration, AuthorizationFlowRequired, InvalidCallback, InvalidVerifier, RequestTokenExpired, RequestTokenDenied, RequestTokenUsed (RULES.md §3.1).
    // One line: the OpenAPI description lists the codes as written here, and a test checks it
    // names every code of `tessera_oauth1::Detail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Internal id of a user.
    #[serde(
        default,
        deserialize_with = "internal_id",
        skip_serializing_if = "Option::is_none"
    )]
    #[param(minimum = 1)]
    pub user: Option<i64>,
    /// Internal id of a role.
    #[serde(
        default,
        deserialize_with = "internal_id",
        skip_serializing_if = "Option::is_none"
    )]
    #[param(minimum = 1)]
    pub role: Option<i64>,
    /// Internal id of an integration record.
    #[serde(
        default,
        deserialize_with = "internal_id",
        skip_serializing_if = "Option::is_none"
    )]
    #[param(minimum = 1)]
    pub application: Option<i64>,
    /// Internal id of a token.
    #[serde(
        default,
        deserialize_with = "internal_id",
        skip_serializing_if = "Option::is_none"
    )]
    #[param(minimum = 1)]
    pub token: Option<i64>,
    /// Part of the token's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
    /// RFC 3339: attempts at or after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// RFC 3339: attempts before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The `next` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    /// Rows per page, 1–1000 (default 100).
    #[serde(
        default,
        deserialize_with = "rows",
        skip_serializing_if = "Option::is_none"
    )]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// One line of a record's change history (R15). Values are display text; never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NoteView {
    /// RFC 3339, UTC.
    pub at: String,
    /// The account in which the change was made.
    pub account: String,
    /// Who made it (a user's name, or "System").
    pub by: String,
    /// `UI`, `API`, `CLI` or `Endpoint`.
    pub context: String,
    /// `integration`, `installation` or `token`.
    pub record: String,
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_value: Option<String>,
}
