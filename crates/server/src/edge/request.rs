//! What every request must be before any route sees it, and the shape of every error the HTTP
//! layer answers.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::{BodyExt, Limited};

use tessera_api::ErrorCode;

use crate::AppState;
use crate::wire;

/// Methods this server answers; anything else (including `get`: methods are case-sensitive,
/// RFC 9110 §9.1) is refused before any route.
fn is_known_method(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET
            | Method::HEAD
            | Method::POST
            | Method::PUT
            | Method::PATCH
            | Method::DELETE
            | Method::OPTIONS
    )
}

/// Why a request was refused at the edge.
struct EdgeRefusal {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    close: bool,
}

impl EdgeRefusal {
    fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            close: false,
        }
    }
}

/// The one header of this name, if any; `Err` when it is repeated.
fn single<'a>(
    headers: &'a HeaderMap,
    name: &header::HeaderName,
) -> Result<Option<&'a HeaderValue>, ()> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(());
    }
    Ok(first)
}

fn check_head(state: &AppState, request: &Request) -> Result<(), EdgeRefusal> {
    let limits = &state.config().edge;
    if !is_known_method(request.method()) {
        // TRACE, CONNECT, extension methods, and `get` (methods are case-sensitive): none is
        // answered by any resource here. 405 rather than 501, so that probing a method costs
        // nothing that looks like a server error.
        return Err(EdgeRefusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            "no endpoint of this server answers that method (methods are case-sensitive)",
        ));
    }
    let target_len = request
        .uri()
        .path_and_query()
        .map_or(request.uri().path().len(), |pq| pq.as_str().len());
    if target_len > limits.max_uri_bytes {
        return Err(EdgeRefusal::new(
            StatusCode::URI_TOO_LONG,
            ErrorCode::UriTooLong,
            format!(
                "the request target is longer than {} bytes",
                limits.max_uri_bytes
            ),
        ));
    }
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if headers.len() > limits.max_headers || header_bytes > limits.max_header_bytes {
        return Err(EdgeRefusal::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::HeadersTooLarge,
            format!(
                "the request has more than {} header lines or {} bytes of headers",
                limits.max_headers, limits.max_header_bytes
            ),
        ));
    }
    let bad = |what: &str| {
        EdgeRefusal::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            format!("the request must have {what}"),
        )
    };
    let host = single(headers, &header::HOST)
        .map_err(|()| bad("exactly one Host header"))?
        .ok_or_else(|| bad("exactly one Host header"))?;
    let host = host
        .to_str()
        .ok()
        .filter(|h| is_authority(h))
        .ok_or_else(|| bad("a Host header naming one host[:port]"))?;
    single(headers, &header::CONTENT_TYPE).map_err(|()| bad("at most one Content-Type header"))?;
    let length = single(headers, &header::CONTENT_LENGTH)
        .map_err(|()| bad("at most one Content-Length header"))?;
    if length.is_some() && headers.contains_key(header::TRANSFER_ENCODING) {
        return Err(bad("either Content-Length or Transfer-Encoding, not both"));
    }
    // An absolute-form target (RFC 9112 §3.2.2) must name a public origin, the one in Host.
    let uri = request.uri();
    if let Some(authority) = uri.authority() {
        let scheme = uri
            .scheme_str()
            .and_then(|s| tessera_oauth1::Scheme::parse(s).ok());
        let public = state
            .origins()
            .iter()
            .any(|o| Some(o.scheme) == scheme && o.is_host(authority.as_str()));
        if !public || !authority.as_str().eq_ignore_ascii_case(host) {
            return Err(bad(
                "an absolute-form target only for this server's public origin, matching Host",
            ));
        }
    }
    if let Some(length) = length {
        let length: u64 = length
            .to_str()
            .ok()
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| bad("a numeric Content-Length"))?;
        if length > state.config().max_body_bytes as u64 {
            let mut refusal = too_large(state);
            refusal.close = true;
            return Err(refusal);
        }
    }
    Ok(())
}

fn too_large(state: &AppState) -> EdgeRefusal {
    EdgeRefusal::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!(
            "the request body is larger than {} bytes",
            state.config().max_body_bytes
        ),
    )
}

/// `host[:port]`: a registered name, IPv4 address or bracketed IPv6 address, no user info, no
/// list, no whitespace.
fn is_authority(value: &str) -> bool {
    !value.is_empty()
        && !value.contains(['@', ',', ' ', '\t', '/', '?', '#'])
        && value.parse::<axum::http::uri::Authority>().is_ok()
}

/// Every request passes here first: strict reading, bounded body read within its time-out,
/// then the route; framework errors leave in the surface's shape.
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let https = is_https_request(&state, request.headers());
    let mut response = match read_strictly(&state, request).await {
        Ok(request) => reshape_framework_error(&path, next.run(request).await),
        Err(refusal) => {
            let mut response =
                error_for_path(&path, refusal.status, refusal.code, &refusal.message);
            if refusal.close {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    };
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

async fn read_strictly(state: &AppState, request: Request) -> Result<Request, EdgeRefusal> {
    check_head(state, &request)?;
    let (parts, body) = request.into_parts();
    // Most requests (every GET) have no body: no timer, no copy.
    if axum::body::HttpBody::size_hint(&body).exact() == Some(0) {
        return Ok(Request::from_parts(parts, body));
    }
    let limit = state.config().max_body_bytes;
    let read = tokio::time::timeout(
        state.config().edge.body_timeout,
        Limited::new(body, limit).collect(),
    )
    .await;
    let bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            let mut refusal = too_large(state);
            refusal.close = true;
            return Err(refusal);
        }
        Ok(Err(_)) => {
            let mut refusal = EdgeRefusal::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "the request body could not be read",
            );
            refusal.close = true;
            return Err(refusal);
        }
        Err(_) => {
            let mut refusal = EdgeRefusal::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::RequestTimeout,
                format!(
                    "the request body did not arrive within {} s",
                    state.config().edge.body_timeout.as_secs_f32()
                ),
            );
            refusal.close = true;
            return Err(refusal);
        }
    };
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Whether the request's `Host` names an https public origin (a TLS-terminating proxy in front
/// passes the client's `Host` on).
fn is_https_request(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    state
        .origins()
        .iter()
        .any(|o| o.scheme == tessera_oauth1::Scheme::Https && o.is_host(host))
}

/// An error the framework produced itself (405 from a route's methods, a rejected extractor),
/// recognised by having no JSON or HTML body, answered in the surface's shape instead.
fn reshape_framework_error(path: &str, response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("");
    if !(content_type.is_empty() || content_type.starts_with("text/plain")) {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "this endpoint does not answer that method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            (ErrorCode::PayloadTooLarge, "the request body is too large")
        }
        StatusCode::SERVICE_UNAVAILABLE => (
            ErrorCode::ServiceUnavailable,
            "the server cannot answer at the moment",
        ),
        s if s.is_server_error() => (ErrorCode::InternalError, wire::INTERNAL_MESSAGE),
        _ => (ErrorCode::InvalidRequest, wire::MALFORMED_MESSAGE),
    };
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut shaped = error_for_path(path, status, code, message);
    if let Some(allow) = allow {
        shaped.headers_mut().insert(header::ALLOW, allow);
    }
    shaped
}

/// An edge error in the shape of the surface at `path`: REST web services' problem document,
/// the web UI's page, or the `{"error":{code,message}}` of the RESTlet, token endpoints and
/// Tessera's own API.
pub(crate) fn error_for_path(
    path: &str,
    status: StatusCode,
    code: ErrorCode,
    message: &str,
) -> Response {
    if path.starts_with("/services/rest/") || path == "/services/rest" {
        return wire::rest_problem(status, wire::RFC9110, code, message);
    }
    if (path == "/app" || path.starts_with("/app/")) && !path.starts_with("/app/site/") {
        return crate::ui::error_page(status, message);
    }
    wire::api_error(status, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_plain_authority_is_a_host() {
        for ok in ["example.com", "example.com:8080", "127.0.0.1:1", "[::1]:80"] {
            assert!(is_authority(ok), "{ok}");
        }
        for bad in [
            "",
            "a.com, b.com",
            "a.com b.com",
            "user@a.com",
            "a.com/x",
            "a.com?",
        ] {
            assert!(!is_authority(bad), "{bad}");
        }
    }

    #[test]
    fn methods_are_case_sensitive() {
        assert!(is_known_method(&Method::GET));
        assert!(!is_known_method(
            &Method::from_bytes(b"get").unwrap_or(Method::TRACE)
        ));
        assert!(!is_known_method(&Method::TRACE));
        assert!(!is_known_method(&Method::CONNECT));
    }
}
