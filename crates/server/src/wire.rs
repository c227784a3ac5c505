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
}

impl Surface {
    /// The label in metrics and in the login audit trail.
    pub fn label(self) -> &'static str {
        match self {
            Surface::Restlet => "restlet",
            Surface::RestWebServices => "rest",
            Surface::VerifyApi => "verify",
            Surface::ForwardAuth => "forward-auth",
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
