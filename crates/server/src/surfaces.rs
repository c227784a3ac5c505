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

    fn is_via_trusted_proxy(&self, state: &AppState) -> bool {
        state.config().trusted_proxies.contains(&self.peer.ip())
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
        let trusted = self.is_via_trusted_proxy(state);
        let forwarded_host = trusted.then(|| self.header(&X_FORWARDED_HOST)).flatten();
        let host = forwarded_host.or_else(|| self.header(&header::HOST))?;
        let host = host.split(',').next()?.trim();
        let proto = trusted
            .then(|| self.header(&X_FORWARDED_PROTO))
            .flatten()
            .and_then(|p| Scheme::parse(p.split(',').next()?.trim()).ok());
        state
            .origins()
            .iter()
            .find(|o| o.is_host(host) && proto.is_none_or(|p| p == o.scheme))
    }
}

/// The client's address as the trusted proxy chain establishes it: the peer itself, unless the
/// peer is a trusted proxy; then the right-most `X-Forwarded-For` hop (over every such header,
/// in order) that is not itself a trusted proxy. `Err` holds a hop that is not an IP address:
/// nothing is trusted on its word.
pub(crate) fn client_address(
    state: &AppState,
    peer: IpAddr,
    headers: &HeaderMap,
) -> Result<IpAddr, String> {
    let proxies = &state.config().trusted_proxies;
    let is_proxy = |ip: &IpAddr| proxies.contains(ip) || proxies.contains(&ip.to_canonical());
    if !is_proxy(&peer) {
        return Ok(peer);
    }
    let mut client = peer;
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
    }
    Ok(client)
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

/// The request URI for the audit trail, with the values of any `oauth_*` query parameters
/// masked: a client that puts its signature in the query must not have it recorded.
fn redact_oauth_query(uri: &str) -> String {
    let Some((path, query)) = uri.split_once('?') else {
        return uri.to_owned();
    };
    let has_oauth = query
        .as_bytes()
        .windows(6)
        .any(|w| w.eq_ignore_ascii_case(b"oauth_"));
    if !has_oauth {
        return uri.to_owned();
    }
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().starts_with("oauth_") => {
                format!("{name}=***")
            }
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
        let refusal = Refusal {
            detail: "InvalidSignature",
            note: format!(
                "the request was sent to host {:?}, which is not a public origin of this server; \
                 its signature cannot be checked (configure public_origins)",
                received.header(&header::HOST).unwrap_or("")
            ),
        };
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

fn malformed(why: String) -> Refusal {
    Refusal {
        detail: tessera_core::verifier::DETAIL_MALFORMED,
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
    crate::observe::request(surface, refusal.detail, None);
    if refusal.detail == tessera_core::verifier::DETAIL_MALFORMED {
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
                Outcome::Accepted(_) => tessera_core::verifier::DETAIL_SUCCESS,
                Outcome::Refused(r) => r.detail,
                Outcome::Malformed { .. } => tessera_core::verifier::DETAIL_MALFORMED,
            };
            let took = started.elapsed();
            crate::observe::request(surface, detail, Some(took));
            // The path only: a query may carry anything, and the audit trail has the rest.
            tracing::debug!(
                surface = surface.label(),
                method = request.method,
                path = request.url.path(),
                detail,
                micros = took.as_micros() as u64,
                "verified"
            );
            Ok(outcome)
        }
        Err(e) => {
            tracing::error!(error = %tessera_core::Chain(&e), surface = surface.label(), "verification failed");
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
            detail: "ConcurrencyLimitExceeded",
            note: "the account's or the integration's concurrency limit was reached".into(),
        };
        state
            .verifier()
            .record_refusal(&context, &refusal, Some(&identity))
            .await;
        crate::observe::request(surface, refusal.detail, None);
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

/// Who is calling, as the echo and the verification API render it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct IdentityView<'a> {
    account: &'a str,
    integration: Named<'a>,
    role: Named<'a>,
    token: Named<'a>,
    user: UserView<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = IdentityNamed)]
struct Named<'a> {
    id: i64,
    name: &'a str,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = IdentityUser)]
struct UserView<'a> {
    id: i64,
    name: &'a str,
    email: &'a str,
}

impl<'a> IdentityView<'a> {
    fn of(identity: &'a Identity) -> Self {
        Self {
            account: identity.account.as_str(),
            integration: Named {
                id: identity.integration.get(),
                name: &identity.application_name,
            },
            role: Named {
                id: identity.role.get(),
                name: &identity.role_name,
            },
            token: Named {
                id: identity.token.get(),
                name: &identity.token_name,
            },
            user: UserView {
                id: identity.user.get(),
                name: &identity.user_name,
                email: &identity.email,
            },
        }
    }
}

/// The echo's answer: who is calling, and what it sent.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EchoView<'a> {
    #[serde(flatten)]
    identity: IdentityView<'a>,
    method: &'a str,
    path: &'a str,
    query: QueryView<'a>,
    content_type: &'a str,
    body: Value,
}

/// A JSON answer, serialized straight into the response body.
fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    let mut body = Vec::with_capacity(512);
    if let Err(e) = serde_json::to_writer(&mut body, value) {
        tracing::error!(error = %tessera_core::Chain(&e), "could not render a JSON answer");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn echo(_: &AppState, received: &Received, identity: &Identity) -> Response {
    let (path, query) = received
        .path_and_query
        .split_once('?')
        .unwrap_or((&received.path_and_query, ""));
    let content_type = received.header(&header::CONTENT_TYPE).unwrap_or("");
    json_response(
        StatusCode::OK,
        &EchoView {
            identity: IdentityView::of(identity),
            method: received.method.as_str(),
            path,
            query: QueryView::parse(query),
            content_type,
            body: body_json(content_type, &received.body),
        },
    )
}

/// Query parameters decoded, in name order; a repeated name becomes an array.
struct QueryView<'a>(Vec<(Cow<'a, str>, Vec<Cow<'a, str>>)>);

impl<'a> QueryView<'a> {
    fn parse(query: &'a str) -> Self {
        let mut params: Vec<(Cow<'a, str>, Vec<Cow<'a, str>>)> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = form_decode(name).unwrap_or(Cow::Borrowed(name));
            let value = form_decode(value).unwrap_or(Cow::Borrowed(value));
            match params.iter_mut().find(|(n, _)| *n == name) {
                Some((_, values)) => values.push(value),
                None => params.push((name, vec![value])),
            }
        }
        params.sort_by(|a, b| a.0.cmp(&b.0));
        Self(params)
    }
}

impl Serialize for QueryView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, values) in &self.0 {
            match &values[..] {
                [one] => map.serialize_entry(name, one)?,
                many => map.serialize_entry(name, many)?,
            }
        }
        map.end()
    }
}

fn body_json(content_type: &str, body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let is_json = content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().to_ascii_lowercase().ends_with("json"));
    if is_json && let Ok(v) = serde_json::from_slice::<Value>(body) {
        return v;
    }
    Value::String(String::from_utf8_lossy(body).into_owned())
}

// ----- The verification API -----

/// The request's headers: an object, or a list of `[name, value]` pairs (for repeated names).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum HeaderList {
    Map(std::collections::BTreeMap<String, String>),
    Pairs(Vec<(String, String)>),
}

/// A request another service received, to verify as Tessera would.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyInput {
    /// The request's method.
    method: String,
    /// The absolute URL the client sent the request to, query included, as sent.
    url: String,
    #[serde(default)]
    headers: Option<HeaderList>,
    /// The raw body; signed when the content type is form-urlencoded.
    #[serde(default)]
    body: Option<String>,
    /// Overrides the Content-Type found in `headers`.
    #[serde(default)]
    content_type: Option<String>,
}

/// The refusal for a caller that is not a trusted service, if it is not. The caller is the
/// client the trusted proxy chain names, not a proxy that forwarded it.
pub(crate) fn refuse_untrusted_service(
    state: &AppState,
    peer: &SocketAddr,
    headers: &HeaderMap,
) -> Option<Response> {
    let allowed = &state.config().trusted_services;
    let ok = match client_address(state, peer.ip(), headers) {
        Ok(ip) if allowed.is_empty() => ip.is_loopback() || ip.to_canonical().is_loopback(),
        Ok(ip) => allowed.contains(&ip) || allowed.contains(&ip.to_canonical()),
        Err(_) => false,
    };
    (!ok).then(|| {
        wire::api_error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "the caller is not a trusted service (configure trusted_services)",
        )
    })
}

/// A verified request: who is calling.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct VerifyValid<'a> {
    #[serde(flatten)]
    identity: IdentityView<'a>,
    /// `true`.
    valid: bool,
}

/// A refused request: why (the Detail code of SPEC §3.1) and a note for people.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct VerifyRefused {
    /// `false`.
    valid: bool,
    detail: String,
    message: String,
}

/// The verification API's answer, for the OpenAPI document: one of the two.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Described, not built: the handler serializes the variants themselves.
pub(crate) enum VerifyAnswer<'a> {
    Valid(VerifyValid<'a>),
    Refused(VerifyRefused),
}

/// For trusted services: verifies a request they received, as Tessera verifies its own
/// surfaces (replay claim, revocation, audit trail), and says who is calling or why not.
#[utoipa::path(
    post,
    path = "/api/v1/verify",
    tag = "verification",
    request_body = VerifyInput,
    security(()),
    responses(
        (status = 200, description = "Verified (`valid: true` with the identity) or refused (`valid: false` with the Detail code)", body = VerifyAnswer),
        (status = 400, description = "The body is not a verification request", body = crate::admin::ErrorBody),
        (status = 403, description = "The caller is not a trusted service", body = crate::admin::ErrorBody),
    )
)]
pub(crate) async fn verify_api(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if let Some(refusal) = refuse_untrusted_service(&state, &peer, request.headers()) {
        return refusal;
    }
    let received = match Received::read(&state, peer, request).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let input: VerifyInput = match serde_json::from_slice(&received.body) {
        Ok(i) => i,
        Err(e) => {
            return wire::api_error(
                StatusCode::BAD_REQUEST,
                "INVALID_JSON",
                format!("the body must be a JSON object {{method, url, headers, body}}: {e}"),
            );
        }
    };
    let headers: Vec<(String, String)> = match input.headers {
        None => Vec::new(),
        Some(HeaderList::Map(m)) => m.into_iter().collect(),
        Some(HeaderList::Pairs(p)) => p,
    };
    let pairs = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    let authorization = match tessera_oauth1::header::find_authorization(pairs) {
        Ok(a) => a,
        Err(e) => return verify_answer_malformed(e.to_string()),
    };
    let content_type = input.content_type.as_deref().or_else(|| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str())
    });
    let url = match RequestUrl::parse(&input.url) {
        Ok(u) => u,
        Err(e) => {
            return wire::api_error(
                StatusCode::BAD_REQUEST,
                "INVALID_FIELD",
                format!("url: {e}"),
            );
        }
    };
    let body = input.body.as_deref().unwrap_or("").as_bytes();
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let context = received.context(&state, Surface::VerifyApi, &input.method, &path_and_query);
    let signed = SignedRequest {
        method: &input.method,
        url: url.clone(),
        authorization,
        form_body: is_form_content_type(content_type).then_some(body),
        body,
    };
    match run_verifier(&state, &signed, &context, Surface::VerifyApi).await {
        Ok(Outcome::Accepted(identity)) => json_response(
            StatusCode::OK,
            &VerifyValid {
                identity: IdentityView::of(&identity),
                valid: true,
            },
        ),
        Ok(Outcome::Refused(r)) => json_response(
            StatusCode::OK,
            &VerifyRefused {
                valid: false,
                detail: r.detail.to_owned(),
                message: r.note,
            },
        ),
        Ok(Outcome::Malformed { why }) => verify_answer_malformed(why),
        Err(response) => response,
    }
}

fn verify_answer_malformed(why: String) -> Response {
    json_response(
        StatusCode::OK,
        &VerifyRefused {
            valid: false,
            detail: tessera_core::verifier::DETAIL_MALFORMED.to_owned(),
            message: why,
        },
    )
}

// ----- Forward auth (nginx auth_request, Traefik ForwardAuth, Envoy ext_authz) -----

/// `prefix` is the path this endpoint is mounted at; what follows it (Envoy's way of passing
/// the original path) is the original path when no header names one.
/// For reverse proxies (nginx `auth_request`, Traefik ForwardAuth, Envoy ext_authz): verifies
/// the original request the proxy describes and answers 200 with who is calling in headers, or
/// the NetSuite 401. The original method and URI come from `X-Original-Method`/`-URI` (nginx)
/// or `X-Forwarded-Method`/`-Uri`/`-Host`/`-Proto` (Traefik); Envoy appends the original path
/// to `/api/v1/forward-auth/`. Any method is answered alike (documented as GET, since an
/// operation id names one method).
#[utoipa::path(
    get,
    path = "/api/v1/forward-auth",
    tag = "verification",
    security(()),
    responses(
        (status = 200, description = "Verified", headers(
            ("X-Tessera-Account" = String, description = "The account id"),
            ("X-Tessera-User-Id" = String), ("X-Tessera-User" = String, description = "Percent-encoded"),
            ("X-Tessera-Email" = String), ("X-Tessera-Role-Id" = String),
            ("X-Tessera-Role" = String, description = "Percent-encoded"),
            ("X-Tessera-Integration-Id" = String), ("X-Tessera-Application" = String, description = "Percent-encoded"),
            ("X-Tessera-Token-Id" = String, description = "The token's internal id"),
            ("X-Tessera-Token-Name" = String, description = "Percent-encoded"),
        )),
        (status = 401, description = "Refused: the NetSuite body of the original request's surface; the reason is in the login audit trail"),
        (status = 403, description = "The caller is not a trusted service", body = crate::admin::ErrorBody),
    )
)]
pub(crate) async fn forward_auth(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if let Some(refusal) = refuse_untrusted_service(&state, &peer, request.headers()) {
        return refusal;
    }
    let received = match Received::read(&state, peer, request).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let method = received
        .header(&X_FORWARDED_METHOD)
        .or_else(|| received.header(&X_ORIGINAL_METHOD))
        .unwrap_or(received.method.as_str())
        .to_owned();
    let uri = received
        .header(&X_FORWARDED_URI)
        .or_else(|| received.header(&X_ORIGINAL_URI))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let rest = received
                .path_and_query
                .strip_prefix(crate::FORWARD_AUTH_PATH)
                .unwrap_or("/");
            if rest.starts_with('/') {
                rest.to_owned()
            } else {
                format!("/{rest}")
            }
        });
    let surface_of_original = if uri.starts_with("/services/rest/") {
        Surface::RestWebServices
    } else {
        Surface::Restlet
    };
    let host = received
        .header(&X_FORWARDED_HOST)
        .or_else(|| received.header(&header::HOST))
        .unwrap_or("")
        .to_owned();
    let scheme = received
        .header(&X_FORWARDED_PROTO)
        .and_then(|p| Scheme::parse(p).ok())
        .unwrap_or(Scheme::Http);
    let context = received.context(&state, Surface::ForwardAuth, &method, &uri);
    let surface = Surface::ForwardAuth;
    let authorization = match received.authorization() {
        Ok(a) => a,
        Err(why) => {
            refused_early(&state, &context, surface, malformed(why)).await;
            return wire::malformed();
        }
    };
    // The original request was sent to one of this server's public origins, or its signature
    // means nothing here.
    let Some(origin) = state
        .origins()
        .iter()
        .find(|o| o.scheme == scheme && o.is_host(&host))
    else {
        let refusal = Refusal {
            detail: "InvalidSignature",
            note: format!(
                "the original request was sent to {}://{host:?}, which is not a public origin of \
                 this server (configure public_origins)",
                scheme.as_str()
            ),
        };
        refused_early(&state, &context, surface, refusal).await;
        return wire::invalid_login(surface_of_original);
    };
    let url = match RequestUrl::from_parts(origin.scheme, &origin.authority, &uri) {
        Ok(u) => u,
        Err(e) => {
            refused_early(&state, &context, surface, malformed(e.to_string())).await;
            return wire::malformed();
        }
    };
    let signed = SignedRequest {
        method: &method,
        url,
        authorization,
        // The proxy does not pass the body: form parameters cannot be signed through it.
        form_body: None,
        body: &[],
    };
    match run_verifier(&state, &signed, &context, Surface::ForwardAuth).await {
        Ok(Outcome::Accepted(identity)) => identity_headers(&identity),
        Ok(Outcome::Refused(_)) => wire::invalid_login(surface_of_original),
        Ok(Outcome::Malformed { .. }) => wire::malformed(),
        Err(response) => response,
    }
}

/// 200 with who is calling in headers; names are percent-encoded (header values are ASCII).
fn identity_headers(identity: &Arc<Identity>) -> Response {
    let enc = |s: &str| tessera_oauth1::encode::encode(s).into_owned();
    let pairs = [
        ("x-tessera-account", identity.account.as_str().to_owned()),
        ("x-tessera-user-id", identity.user.get().to_string()),
        ("x-tessera-user", enc(&identity.user_name)),
        ("x-tessera-email", enc(&identity.email)),
        ("x-tessera-role-id", identity.role.get().to_string()),
        ("x-tessera-role", enc(&identity.role_name)),
        (
            "x-tessera-integration-id",
            identity.integration.get().to_string(),
        ),
        ("x-tessera-application", enc(&identity.application_name)),
        ("x-tessera-token-id", identity.token.get().to_string()),
        ("x-tessera-token-name", enc(&identity.token_name)),
    ];
    let mut response = Response::new(Body::empty());
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), v);
        }
    }
    response
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
    }

    #[test]
    fn repeated_query_names_become_arrays() {
        assert_eq!(
            serde_json::to_value(QueryView::parse("a=1&b=x+y&a=2&c=%E2%82%AC&a=3&d")).unwrap(),
            json!({"a": ["1", "2", "3"], "b": "x y", "c": "€", "d": ""})
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
