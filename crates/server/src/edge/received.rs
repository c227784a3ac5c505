//! A request as every surface sees it: read whole (the body bounded), with what the audit
//! trail and the verifier need from it — the client's address and the public origin as the
//! trusted proxy chain establishes them, the one `Authorization` header, the redacted URI.

use std::net::SocketAddr;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use tessera_core::verifier::RequestContext;

use super::proxy::{client_address, public_origin};
use super::redact::{clip, redact_sensitive_query};
use tessera_api::ErrorCode;

use crate::AppState;
use crate::config::Origin;
use crate::wire::{self, Surface};

/// An incoming request, read whole (bodies are bounded by the configured limit).
pub(crate) struct Received {
    method: Method,
    pub(crate) path_and_query: String,
    headers: HeaderMap,
    pub(crate) body: Bytes,
    peer: SocketAddr,
}

impl Received {
    pub(crate) async fn read(
        state: &AppState,
        peer: SocketAddr,
        request: Request,
    ) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, state.config().max_body_bytes)
            .await
            .map_err(|_| {
                wire::api_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "the request body is larger than {} bytes",
                        state.config().max_body_bytes
                    ),
                )
            })?;
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
        Ok(Self {
            method: parts.method,
            path_and_query,
            headers: parts.headers,
            body,
            peer,
        })
    }

    /// The raw query string, without the `?`; empty when there is none.
    pub(crate) fn query(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or("", |(_, query)| query)
    }

    pub(crate) fn method(&self) -> &Method {
        &self.method
    }

    pub(crate) fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's value when it is text.
    pub(crate) fn header(&self, name: &HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The client's address as the trusted proxy chain establishes it; a forwarded hop that is
    /// not an address is `Err` with the text sent (recorded so in the audit trail, and passing
    /// no IP allow-list).
    pub(crate) fn client_ip(&self, state: &AppState) -> Result<std::net::IpAddr, String> {
        // An IPv4 client of a dual-stack socket is its IPv4 address, in the trail as in R17.
        client_address(state, self.peer.ip(), &self.headers).map(|ip| ip.to_canonical())
    }

    /// The audit trail's view of a request that came through this one: forward-auth and the
    /// verification API describe another request (its method and URI), sent by this client.
    pub(crate) fn context(
        &self,
        state: &AppState,
        surface: Surface,
        method: &str,
        uri: &str,
    ) -> RequestContext {
        let client = self.client_ip(state);
        RequestContext {
            surface: surface.label(),
            ip: match &client {
                Ok(ip) => ip.to_string(),
                Err(raw) => raw.clone(),
            },
            client_ip: client.ok(),
            user_agent: clip(self.header(&header::USER_AGENT).unwrap_or(""), 512),
            // A trusted service describes the method; a real one is short.
            method: clip(method, 32),
            request_uri: clip(&redact_sensitive_query(uri), 2048),
        }
    }

    /// The context of the request as it came, for the login audit trail.
    pub(crate) fn context_for(&self, state: &AppState, surface: Surface) -> RequestContext {
        self.context(state, surface, self.method.as_str(), &self.path_and_query)
    }

    /// The `Authorization` header's value, if there is exactly one and it is text.
    pub(crate) fn authorization_value(&self) -> Option<&str> {
        self.authorization().ok().flatten()
    }

    /// The single `Authorization` header; two of them, or one that is not text, is malformed.
    pub(crate) fn authorization(&self) -> Result<Option<&str>, String> {
        let mut values = self.headers.get_all(header::AUTHORIZATION).iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err("the request has more than one Authorization header".to_owned());
        }
        first
            .to_str()
            .map(Some)
            .map_err(|_| "the Authorization header is not visible ASCII text".to_owned())
    }

    /// Whether the body is `application/x-www-form-urlencoded` (and so signed).
    pub(crate) fn is_form(&self) -> bool {
        is_form_content_type(self.header(&header::CONTENT_TYPE))
    }

    /// The origin this request was sent to, if it is one of the server's public origins.
    pub(crate) fn origin<'s>(&self, state: &'s AppState) -> Option<&'s Origin> {
        public_origin(state, self.peer.ip(), &self.headers)
    }
}

/// Whether a `Content-Type` names a form body (parameters and case aside).
pub(crate) fn is_form_content_type(value: Option<&str>) -> bool {
    value.is_some_and(|ct| {
        ct.split(';').next().is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_content_type_is_matched_without_parameters_or_case() {
        assert!(is_form_content_type(Some(
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8"
        )));
        assert!(!is_form_content_type(Some("application/json")));
        assert!(!is_form_content_type(None));
    }
}
