//! The endpoints that verify signed requests: the echo RESTlet, REST web services, the
//! verification API and the forward-auth endpoint. Each parses, asks the verifier, renders.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tessera_core::verifier::{Identity, Outcome, Refusal, RequestContext, SignedRequest};
use tessera_oauth1::encode::form_decode;
use tessera_oauth1::{RequestUrl, Scheme};

use crate::AppState;
use crate::config::Origin;
use crate::wire::{self, Surface};

mod answers;
pub(crate) mod trusted;

use answers::{IdentityView, echo, json_response};

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
                    "PAYLOAD_TOO_LARGE",
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

    pub(crate) fn header(&self, name: &HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The client's address for the audit trail (as the trusted proxy chain establishes it; a
    /// forwarded hop that is not an address is recorded as sent).
    fn client_ip(&self, state: &AppState) -> String {
        match client_address(state, self.peer.ip(), &self.headers) {
            Ok(ip) => ip.to_string(),
            Err(raw) => raw,
        }
    }

    fn context(
        &self,
        state: &AppState,
        surface: Surface,
        method: &str,
        uri: &str,
    ) -> RequestContext {
        RequestContext {
            surface: surface.label(),
            ip: self.client_ip(state),
            user_agent: clip(self.header(&header::USER_AGENT).unwrap_or(""), 512),
            method: method.to_owned(),
            request_uri: clip(&redact_oauth_query(uri), 2048),
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
    fn authorization(&self) -> Result<Option<&str>, String> {
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

    fn is_form(&self) -> bool {
        is_form_content_type(self.header(&header::CONTENT_TYPE))
    }

    /// The origin this request was sent to, if it is one of the server's public origins.
    fn origin<'s>(&self, state: &'s AppState) -> Option<&'s Origin> {
        public_origin(state, self.peer.ip(), &self.headers)
    }
}

/// The public origin a request was sent to, as its `Host` (or a trusted proxy's
/// `X-Forwarded-Host` / `-Proto`) names it; `None` when it names none of this server's.
fn public_origin<'s>(state: &'s AppState, peer: IpAddr, headers: &HeaderMap) -> Option<&'s Origin> {
    let header = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let trusted = state.config().is_trusted_proxy(peer);
    let forwarded_host = trusted.then(|| header(&X_FORWARDED_HOST)).flatten();
    let host = forwarded_host.or_else(|| header(&header::HOST))?;
    let host = host.split(',').next()?.trim();
    let proto = trusted
        .then(|| header(&X_FORWARDED_PROTO))
        .flatten()
        .and_then(|p| Scheme::parse(p.split(',').next()?.trim()).ok());
    state
        .origins()
        .iter()
        .find(|o| o.is_host(host) && proto.is_none_or(|p| p == o.scheme))
}

/// The client's address as the trusted proxy chain establishes it: the peer itself, unless the
/// peer is a trusted proxy; then the right-most `X-Forwarded-For` hop (over every such header,
/// in order) that is not itself a trusted proxy. `Err` holds a hop that is not an IP address,
/// or the proxy's own address when it names no client at all: nothing is trusted on its word
/// (a proxy that forgets `X-Forwarded-For` must not make every client look like itself).
pub(crate) fn client_address(
    state: &AppState,
    peer: IpAddr,
    headers: &HeaderMap,
) -> Result<IpAddr, String> {
    let is_proxy = |ip: &IpAddr| state.config().is_trusted_proxy(*ip);
    if !is_proxy(&peer) {
        return Ok(peer);
    }
    let mut client = peer;
    let mut named = false;
    let hops = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .collect::<Vec<_>>()
        .join(",");
    for hop in hops.rsplit(',').map(str::trim).filter(|h| !h.is_empty()) {
        if !is_proxy(&client) {
            break;
        }
        client = hop.parse::<IpAddr>().map_err(|_| clip(hop, 64))?;
        named = true;
    }
    if named {
        Ok(client)
    } else {
        Err(peer.to_string())
    }
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
static X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
static X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
static X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");

fn is_form_content_type(value: Option<&str>) -> bool {
    value.is_some_and(|ct| {
        ct.split(';').next().is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    })
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Query parameter names whose values never reach the audit trail: OAuth and NLAuth
/// parameters (a client may put its signature, or its password, in the query) and anything
/// named like a secret.
fn is_sensitive_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("oauth_")
        || name.starts_with("nlauth_")
        || ["password", "passwd", "pwd", "secret", "signature"]
            .iter()
            .any(|s| name.contains(s))
}

/// The request URI for the audit trail, with the values of sensitive query parameters masked.
fn redact_oauth_query(uri: &str) -> String {
    let Some((path, query)) = uri.split_once('?') else {
        return uri.to_owned();
    };
    let sensitive = |pair: &str| is_sensitive_param(pair.split_once('=').map_or(pair, |(n, _)| n));
    if !query.split('&').any(sensitive) {
        return uri.to_owned();
    }
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_sensitive_param(name) => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

/// The outcome of verifying on one of NetSuite's surfaces, recorded in the metrics.
async fn verify_received(
    state: &AppState,
    received: &Received,
    surface: Surface,
) -> Result<Outcome, Response> {
    let method = received.method.as_str();
    let context = received.context(state, surface, method, &received.path_and_query);
    let Some(origin) = received.origin(state) else {
        let host = received.header(&header::HOST).unwrap_or("");
        let refusal = not_a_public_origin(&format!("host {host:?}"));
        return Ok(refused_early(state, &context, surface, refusal).await);
    };
    let authorization = match received.authorization() {
        Ok(a) => a,
        Err(why) => return Ok(refused_early(state, &context, surface, malformed(why)).await),
    };
    let url =
        match RequestUrl::from_parts(origin.scheme, &origin.authority, &received.path_and_query) {
            Ok(u) => u,
            Err(e) => {
                let refusal = malformed(e.to_string());
                return Ok(refused_early(state, &context, surface, refusal).await);
            }
        };
    let request = SignedRequest {
        method,
        url,
        authorization,
        form_body: received.is_form().then_some(&received.body[..]),
        body: &received.body,
    };
    run_verifier(state, &request, &context, surface).await
}

/// A request sent to a host this server does not serve: its signature cannot be checked.
fn not_a_public_origin(sent_to: &str) -> Refusal {
    Refusal {
        detail: tessera_core::Detail::InvalidSignature,
        note: format!(
            "the request was sent to {sent_to}, which is not a public origin of this server; \
             its signature cannot be checked (configure public_origins)"
        ),
    }
}

fn malformed(why: String) -> Refusal {
    Refusal {
        detail: tessera_core::Detail::MalformedRequest,
        note: why,
    }
}

/// A request refused before the verifier could look at it, recorded and counted like the rest.
async fn refused_early(
    state: &AppState,
    context: &RequestContext,
    surface: Surface,
    refusal: Refusal,
) -> Outcome {
    state
        .verifier()
        .record_refusal(context, &refusal, None)
        .await;
    crate::observe::request(surface, refusal.detail.as_str(), None);
    if refusal.detail == tessera_core::Detail::MalformedRequest {
        Outcome::Malformed { why: refusal.note }
    } else {
        Outcome::Refused(refusal)
    }
}

async fn run_verifier(
    state: &AppState,
    request: &SignedRequest<'_>,
    context: &RequestContext,
    surface: Surface,
) -> Result<Outcome, Response> {
    let started = Instant::now();
    match state.verifier().verify(request, context).await {
        Ok(outcome) => {
            let detail = match &outcome {
                Outcome::Accepted(_) => tessera_core::Detail::Success,
                Outcome::Refused(r) => r.detail,
                Outcome::Malformed { .. } => tessera_core::Detail::MalformedRequest,
            };
            let took = started.elapsed();
            crate::observe::request(surface, detail.as_str(), Some(took));
            // The path only: a query may carry anything, and the audit trail has the rest.
            tracing::debug!(
                surface = surface.label(),
                method = request.method,
                path = request.url.path(),
                detail = detail.as_str(),
                micros = took.as_micros() as u64,
                "verified"
            );
            Ok(outcome)
        }
        Err(e) => {
            if matches!(e, tessera_core::verifier::VerifierError::Write(_)) {
                // The writer logged the failed group, with its cause, once for all its claims.
                tracing::debug!(error = %tessera_core::Chain(&e), surface = surface.label(), "verification failed");
            } else {
                tracing::error!(error = %tessera_core::Chain(&e), surface = surface.label(), "verification failed");
            }
            crate::observe::request(surface, "Unavailable", Some(started.elapsed()));
            Err(wire::unavailable())
        }
    }
}

/// A signed request that verified and holds its place in the governance counts.
pub(crate) struct Admitted {
    pub(crate) received: Received,
    pub(crate) identity: Arc<Identity>,
    /// Held while the response is made (SPEC §5); none on the admin plane.
    pub(crate) _permit: Option<crate::governance::Permit>,
}

/// Reads and verifies a signed request and applies governance: what every surface that answers
/// a caller by its token does first. The `Err` is the surface's own refusal, ready to send.
pub(crate) async fn admit(
    state: &AppState,
    peer: SocketAddr,
    request: Request,
    surface: Surface,
) -> Result<Admitted, Response> {
    let received = Received::read(state, peer, request).await?;
    if surface.requires_body_hash()
        && !received.body.is_empty()
        && let Err(why) = sha256_body_hash_present(received.authorization_value())
    {
        let context = received.context_for(state, surface);
        refused_early(state, &context, surface, malformed(why.clone())).await;
        return Err(wire::api_error(
            StatusCode::BAD_REQUEST,
            "BODY_HASH_REQUIRED",
            why,
        ));
    }
    let identity = match verify_received(state, &received, surface).await? {
        Outcome::Accepted(identity) => identity,
        Outcome::Refused(_) => return Err(wire::invalid_login(surface)),
        Outcome::Malformed { .. } => return Err(wire::malformed()),
    };
    if surface.is_admin_plane() {
        return Ok(Admitted {
            received,
            identity,
            _permit: None,
        });
    }
    let Some(permit) = state.governor().try_acquire(&identity) else {
        let context = received.context(
            state,
            surface,
            received.method.as_str(),
            &received.path_and_query,
        );
        let refusal = Refusal {
            detail: tessera_core::Detail::ConcurrencyLimitExceeded,
            note: "the account's or the integration's concurrency limit was reached".into(),
        };
        state
            .verifier()
            .record_refusal(&context, &refusal, Some(&identity))
            .await;
        crate::observe::request(surface, refusal.detail.as_str(), None);
        return Err(wire::over_limit(surface));
    };
    Ok(Admitted {
        received,
        identity,
        _permit: Some(permit),
    })
}

/// A request whose body must be bound to its signature carries a SHA-256 `oauth_body_hash`
/// (whether it matches the body is the verifier's to say, after the signature).
fn sha256_body_hash_present(authorization: Option<&str>) -> Result<(), String> {
    const WHY: &str = "a request with a body must carry oauth_body_hash, the Base64 SHA-256 of \
        the body, among its signed OAuth parameters (OAuth 1.0a does not sign JSON bodies)";
    let header = authorization
        .and_then(|value| tessera_oauth1::header::AuthorizationHeader::parse(value).ok())
        .ok_or_else(|| WHY.to_owned())?;
    match header.get(tessera_oauth1::header::OAuthParam::BodyHash) {
        Some(hash)
            if tessera_oauth1::body_hash::BodyHashAlgorithm::from_base64_len(hash.len())
                == Some(tessera_oauth1::body_hash::BodyHashAlgorithm::Sha256) =>
        {
            Ok(())
        }
        Some(_) => Err(
            "oauth_body_hash must be the Base64 SHA-256 of the body (44 characters); \
             SHA-1 is not accepted here"
                .to_owned(),
        ),
        None => Err(WHY.to_owned()),
    }
}

/// Verifies, applies governance, and answers with `render` for an accepted request.
async fn netsuite_surface(
    state: AppState,
    peer: SocketAddr,
    request: Request,
    surface: Surface,
    render: impl FnOnce(&AppState, &Received, &Identity) -> Response,
) -> Response {
    let admitted = match admit(&state, peer, request, surface).await {
        Ok(a) => a,
        Err(response) => return response,
    };
    if let Some(delay) = rehearsal_delay(&admitted.received) {
        tokio::time::sleep(delay).await;
    }
    render(&state, &admitted.received, &admitted.identity)
}

/// The echo RESTlet holds the request for `tessera_delay_ms` milliseconds (at most 30 s) when
/// asked, so an integrator can rehearse the concurrency limits with slow requests.
fn rehearsal_delay(received: &Received) -> Option<std::time::Duration> {
    let (path, query) = received.path_and_query.split_once('?')?;
    if path != "/app/site/hosting/restlet.nl" {
        return None;
    }
    let ms: u64 = query
        .split('&')
        .find_map(|p| p.strip_prefix("tessera_delay_ms="))?
        .parse()
        .ok()?;
    Some(std::time::Duration::from_millis(ms.min(30_000)))
}

pub(crate) async fn restlet(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    netsuite_surface(state, peer, request, Surface::Restlet, echo).await
}

pub(crate) async fn rest_web_services(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    netsuite_surface(state, peer, request, Surface::RestWebServices, echo).await
}

pub(crate) async fn governance_limits(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    netsuite_surface(
        state,
        peer,
        request,
        Surface::RestWebServices,
        |state, _, identity| {
            let account = identity
                .account_concurrency_limit
                .unwrap_or(state.governor().default_limit());
            Json(json!({
                "accountConcurrencyLimit": account,
                "integrationConcurrencyLimit": identity.install_concurrency_limit,
            }))
            .into_response()
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_query_values_are_masked_for_the_audit_trail() {
        assert_eq!(
            redact_oauth_query("/r?script=1&oauth_signature=abc&OAUTH_TOKEN=x&deploy=2"),
            "/r?script=1&oauth_signature=***&OAUTH_TOKEN=***&deploy=2"
        );
        assert_eq!(redact_oauth_query("/r"), "/r");
        assert_eq!(
            redact_oauth_query(
                "/rest/issuetoken?consumerKey=k&nlauth_signature=pw&Password=hunter2&client_secret=s&name=n"
            ),
            "/rest/issuetoken?consumerKey=k&nlauth_signature=***&Password=***&client_secret=***&name=n"
        );
    }

    #[test]
    fn form_content_type_is_matched_without_parameters_or_case() {
        assert!(is_form_content_type(Some(
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8"
        )));
        assert!(!is_form_content_type(Some("application/json")));
        assert!(!is_form_content_type(None));
    }
}
