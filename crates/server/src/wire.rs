//! Every HTTP error shape the server sends, in one place (RULES.md §3.1, §5).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera_api::{ErrorBody, ErrorCode};

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
    /// `/rest/requesttoken` and `/rest/accesstoken`, the authorization flow's steps 1 and 3
    /// (RESTlet-style errors).
    AuthorizationFlow,
    /// The admin web UI's sign-in form.
    WebUi,
    /// SOAP web services, `/services/NetSuitePort_<version>` (faults, RULES.md §4.3).
    Soap,
}

impl Surface {
    /// The admin plane (RULES.md §5): it never waits behind integration traffic, so it is not
    /// counted against the account's or the integration's concurrency limit.
    pub fn is_admin_plane(self) -> bool {
        matches!(
            self,
            Surface::AdminApi
                | Surface::TokenEndpoint
                | Surface::AuthorizationFlow
                | Surface::WebUi
        )
    }

    /// Whether a request with a body must bind it to its signature with a SHA-256
    /// `oauth_body_hash` (RULES.md §4: OAuth 1.0a signs form bodies only, and Tessera's own API
    /// takes JSON).
    pub fn requires_body_hash(self) -> bool {
        matches!(self, Surface::AdminApi)
    }

    /// The label in metrics and in the login audit trail.
    pub fn label(self) -> &'static str {
        match self {
            Surface::Restlet => "restlet",
            Surface::RestWebServices => "rest",
            Surface::VerifyApi => "verify",
            Surface::ForwardAuth => "forward-auth",
            Surface::AdminApi => "admin-api",
            Surface::TokenEndpoint => "token-endpoint",
            Surface::AuthorizationFlow => "authorization-flow",
            Surface::WebUi => "ui",
            Surface::Soap => "soap",
        }
    }
}

/// NetSuite's message for a refused REST web services login.
const REST_INVALID_LOGIN: &str = "Invalid login attempt. For more details, see the Login Audit \
    Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.";

/// An error of REST web services (`/services/rest/*`): its problem-details shape (RFC 9457,
/// with NetSuite's `o:errorDetails`). `kind` is the problem type's URI.
pub fn rest_problem(status: StatusCode, kind: &str, code: ErrorCode, detail: &str) -> Response {
    (
        status,
        Json(json!({
            "type": kind,
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "o:errorDetails": [{"detail": detail, "o:errorCode": code}],
        })),
    )
        .into_response()
}

/// The problem type of an HTTP status defined by RFC 9110.
pub const RFC9110: &str = "https://www.rfc-editor.org/rfc/rfc9110.html";

/// The generic 401 of a surface. The reason is never in it; it is in the audit trail.
pub fn invalid_login(surface: Surface) -> Response {
    match surface {
        Surface::Soap => soap_fault(SOAP_VERSION, &SoapFault::invalid_login()),
        Surface::RestWebServices => rest_problem(
            StatusCode::UNAUTHORIZED,
            "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
            ErrorCode::InvalidLogin,
            REST_INVALID_LOGIN,
        ),
        _ => api_error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidLoginAttempt,
            "Invalid login attempt.",
        ),
    }
}

/// What a malformed request is told.
pub const MALFORMED_MESSAGE: &str =
    "The request could not be understood by the server due to malformed syntax.";

/// A request the server cannot understand (a malformed Authorization header, an undecodable
/// query or form body).
pub fn malformed() -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRequest,
        MALFORMED_MESSAGE,
    )
}

/// Over the account's or the integration's concurrency limit (RULES.md §5).
pub fn over_limit(surface: Surface) -> Response {
    const MESSAGE: &str = "Concurrent request limit exceeded. Request blocked.";
    match surface {
        Surface::Soap => soap_fault(
            SOAP_VERSION,
            &SoapFault {
                code: "soapenv:Server.userException",
                string: MESSAGE.into(),
                detail: Some(("exceededConcurrentRequestLimitFault", "WS_REQUEST_BLOCKED")),
            },
        ),
        Surface::RestWebServices => rest_problem(
            StatusCode::TOO_MANY_REQUESTS,
            "https://www.rfc-editor.org/rfc/rfc6585.html#section-4",
            ErrorCode::ConcurrencyLimitExceeded,
            MESSAGE,
        ),
        _ => api_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::SssRequestLimitExceeded,
            MESSAGE,
        ),
    }
}

/// The store or the writer failed: nothing was accepted.
pub fn unavailable() -> Response {
    api_error(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::ServiceUnavailable,
        "The server cannot verify requests at the moment. Try again shortly.",
    )
}

/// A JSON error of Tessera's own API: a stable code and a message for people.
pub fn api_error(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        error_body(code, &message.into()),
    )
        .into_response()
}

/// The body of [`api_error`]: `{"error":{"code","message"}}`.
pub fn error_body(code: ErrorCode, message: &str) -> Vec<u8> {
    serde_json::to_vec(&ErrorBody::new(code, message)).unwrap_or_default()
}

/// A request of the admin API the server refuses to act on, with the field at fault.
pub fn invalid_field(field: &str, message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(ErrorBody::invalid_field(field, message)),
    )
        .into_response()
}

/// How a refusal of the domain (RULES.md §2) is classed on every surface that shows it (the admin
/// API and the web UI): its HTTP status and stable code. Storage and key failures are logged
/// here and shown without their details.
pub fn classify(e: &tessera_core::Error) -> (StatusCode, ErrorCode) {
    use tessera_core::Error;
    match e {
        Error::NotFound { .. } => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
        Error::NotPermitted { .. } => (StatusCode::FORBIDDEN, ErrorCode::NotPermitted),
        Error::ResetNotAllowedForBundleInstall => (
            StatusCode::FORBIDDEN,
            ErrorCode::ResetNotAllowedForBundleInstall,
        ),
        Error::ConfirmationRequired | Error::Invalid { .. } => {
            (StatusCode::BAD_REQUEST, ErrorCode::InvalidField)
        }
        Error::TokenRevoked => (StatusCode::CONFLICT, ErrorCode::TokenRevoked),
        Error::Conflict { .. } => (StatusCode::CONFLICT, ErrorCode::Conflict),
        Error::Id(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidId),
        // The database is down or does not answer in time: try again later.
        Error::Storage(tessera_core::store::StoreError::Backend(_)) => {
            tracing::error!(error = %tessera_core::Chain(e), "a request failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
            )
        }
        Error::Storage(_) | Error::Vault(_) | Error::Rng(_) => {
            tracing::error!(error = %tessera_core::Chain(e), "a request failed");
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::InternalError)
        }
    }
}

/// What is said when the database is unavailable: never its details.
pub const UNAVAILABLE_MESSAGE: &str =
    "The server's database is unavailable at the moment; nothing was changed. Try again shortly.";

/// What is said of an internal failure: never its details.
pub const INTERNAL_MESSAGE: &str = "The server could not complete the request; nothing was changed. The server log has the reason.";

/// What a refusal of the domain (RULES.md §2) answers on the admin API. Every variant has its own
/// stable code.
pub fn domain_error(e: &tessera_core::Error) -> Response {
    use tessera_core::Error;
    let (status, code) = classify(e);
    match e {
        Error::ConfirmationRequired => invalid_field("confirm", e.to_string()),
        Error::Invalid { field, .. } => invalid_field(field, e.to_string()),
        _ if status == StatusCode::INTERNAL_SERVER_ERROR => {
            api_error(status, code, INTERNAL_MESSAGE)
        }
        _ if status == StatusCode::SERVICE_UNAVAILABLE => {
            api_error(status, code, UNAVAILABLE_MESSAGE)
        }
        _ => api_error(status, code, e.to_string()),
    }
}

/// The SOAP version answered when the request did not name one (a fault before routing).
pub const SOAP_VERSION: &str = "2024_2";

/// A SOAP 1.1 fault: `faultcode`, `faultstring`, and NetSuite's platform fault in `detail`
/// (its element name and code) where NetSuite sends one.
#[derive(Debug, Clone)]
pub struct SoapFault {
    pub code: &'static str,
    pub string: String,
    pub detail: Option<(&'static str, &'static str)>,
}

impl SoapFault {
    /// A refused login: NetSuite's words, the reason in the audit trail only.
    pub fn invalid_login() -> Self {
        Self {
            code: "soapenv:Server.userException",
            string: "Invalid login attempt.".into(),
            detail: Some(("invalidCredentialsFault", "INVALID_LOGIN_ATTEMPT")),
        }
    }

    /// A request Tessera cannot read or will not serve (the client's to fix).
    pub fn client(why: impl Into<String>) -> Self {
        Self {
            code: "soapenv:Client",
            string: why.into(),
            detail: None,
        }
    }
}

/// A SOAP 1.1 fault envelope, HTTP 500 as SOAP 1.1 over HTTP requires. `version` names the
/// platform namespaces (`2024_2`).
pub fn soap_fault(version: &str, fault: &SoapFault) -> Response {
    use quick_xml::escape::escape;
    let detail = fault.detail.map_or_else(String::new, |(element, code)| {
        format!(
            "<detail><platformFaults:{element} xmlns:platformFaults=\"urn:faults_{version}.platform.webservices.netsuite.com\">\
             <platformFaults:code>{code}</platformFaults:code>\
             <platformFaults:message>{}</platformFaults:message>\
             </platformFaults:{element}></detail>",
            escape(&fault.string)
        )
    });
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">\
         <soapenv:Body><soapenv:Fault><faultcode>{}</faultcode><faultstring>{}</faultstring>{detail}\
         </soapenv:Fault></soapenv:Body></soapenv:Envelope>",
        fault.code,
        escape(&fault.string)
    );
    soap_response(StatusCode::INTERNAL_SERVER_ERROR, body)
}

/// A SOAP 1.1 answer: `text/xml`.
pub fn soap_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (axum::http::header::CONTENT_TYPE, "text/xml; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
