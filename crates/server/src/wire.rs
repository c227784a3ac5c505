//! Every HTTP error shape the server sends, in one place (SPEC §3.1, §5).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Which family of NetSuite endpoints answered: they shape their errors differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `/app/site/hosting/restlet.nl`, `/rest/*`.
    Restlet,
    /// `/services/rest/*`.
    RestWebServices,
    /// `POST /api/v1/verify`.
    VerifyApi,
    /// The reverse-proxy endpoint.
    ForwardAuth,
    /// Tessera's admin API, `/api/v1/*` (TBA-signed).
    AdminApi,
    /// `/rest/issuetoken` and `/rest/revoketoken` (RESTlet-style errors).
    TokenEndpoint,
}

impl Surface {
    /// The label in metrics and in the login audit trail.
    pub fn label(self) -> &'static str {
        match self {
            Surface::Restlet => "restlet",
            Surface::RestWebServices => "rest",
            Surface::VerifyApi => "verify",
            Surface::ForwardAuth => "forward-auth",
            Surface::AdminApi => "admin-api",
            Surface::TokenEndpoint => "token-endpoint",
        }
    }
}

/// NetSuite's message for a refused REST web services login.
const REST_INVALID_LOGIN: &str = "Invalid login attempt. For more details, see the Login Audit \
    Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.";

/// The generic 401 of a surface. The reason is never in it; it is in the audit trail.
pub fn invalid_login(surface: Surface) -> Response {
    match surface {
        Surface::RestWebServices => (
            StatusCode::UNAUTHORIZED,
            Json(json!({
                "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
                "title": "Unauthorized",
                "status": 401,
                "o:errorDetails": [{
                    "detail": REST_INVALID_LOGIN,
                    "o:errorCode": "INVALID_LOGIN",
                }],
            })),
        )
            .into_response(),
        _ => (
            StatusCode::UNAUTHORIZED,
            Json(json!({
                "error": {"code": "INVALID_LOGIN_ATTEMPT", "message": "Invalid login attempt."}
            })),
        )
            .into_response(),
    }
}

/// A request the server cannot understand (a malformed Authorization header, an undecodable
/// query or form body).
pub fn malformed() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "error": {
                "code": "INVALID_REQUEST",
                "message": "The request could not be understood by the server due to malformed syntax.",
            }
        })),
    )
        .into_response()
}

/// Over the account's or the integration's concurrency limit (SPEC §5).
pub fn over_limit(surface: Surface) -> Response {
    match surface {
        Surface::RestWebServices => (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({
                "type": "https://www.rfc-editor.org/rfc/rfc6585.html#section-4",
                "title": "Too Many Requests",
                "status": 429,
                "o:errorDetails": [{
                    "detail": "Concurrent request limit exceeded. Request blocked.",
                    "o:errorCode": "CONCURRENCY_LIMIT_EXCEEDED",
                }],
            })),
        )
            .into_response(),
        Surface::AdminApi => api_error(
            StatusCode::TOO_MANY_REQUESTS,
            "CONCURRENCY_LIMIT_EXCEEDED",
            "Concurrent request limit exceeded. Request blocked.",
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": {
                    "code": "SSS_REQUEST_LIMIT_EXCEEDED",
                    "message": "Concurrent request limit exceeded. Request blocked.",
                }
            })),
        )
            .into_response(),
    }
}

/// The store or the writer failed: nothing was accepted.
pub fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({
            "error": {
                "code": "SERVICE_UNAVAILABLE",
                "message": "The server cannot verify requests at the moment. Try again shortly.",
            }
        })),
    )
        .into_response()
}

/// A JSON error of Tessera's own API: a stable code and a message for people.
pub fn api_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

/// A request of the admin API the server refuses to act on, with the field at fault.
pub fn invalid_field(field: &str, message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {
            "code": "INVALID_FIELD",
            "message": message.into(),
            "field": field,
        }})),
    )
        .into_response()
}

/// What a refusal of the domain (SPEC §2) answers on the admin API. Every variant has its own
/// stable code; storage and key failures are logged here and answered without their details.
pub fn domain_error(e: &tessera_core::Error) -> Response {
    use tessera_core::Error;
    let message = e.to_string();
    match e {
        Error::NotFound { .. } => api_error(StatusCode::NOT_FOUND, "NOT_FOUND", message),
        Error::NotPermitted { .. } => api_error(StatusCode::FORBIDDEN, "NOT_PERMITTED", message),
        Error::ResetNotAllowedForBundleInstall => api_error(
            StatusCode::FORBIDDEN,
            "RESET_NOT_ALLOWED_FOR_BUNDLE_INSTALL",
            message,
        ),
        Error::ConfirmationRequired => invalid_field("confirm", message),
        Error::TokenRevoked => api_error(StatusCode::CONFLICT, "TOKEN_REVOKED", message),
        Error::Conflict { .. } => api_error(StatusCode::CONFLICT, "CONFLICT", message),
        Error::Invalid { field, .. } => invalid_field(field, message),
        Error::Id(_) => api_error(StatusCode::BAD_REQUEST, "INVALID_ID", message),
        Error::Storage(_) | Error::Vault(_) | Error::Rng(_) => {
            tracing::error!(error = %e, "an admin API request failed");
            api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "The server could not complete the request; nothing was changed. The server log has the reason.",
            )
        }
    }
}
