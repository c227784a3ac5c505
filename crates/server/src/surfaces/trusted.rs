//! For trusted services (loopback or `trusted_services`, decided by the client the trusted
//! proxy chain names): the verification API, the forward-auth endpoint for reverse proxies,
//! and the gate in front of them (also in front of `/metrics`).

use super::*;

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
/// client the trusted proxy chain names, not a proxy that forwarded it; and the request must be
/// sent to one of the server's public origins, so a page that rebinds its own host name to
/// this server (DNS rebinding) cannot use a browser on a trusted host to ask.
pub(crate) fn refuse_untrusted_service(
    state: &AppState,
    peer: &SocketAddr,
    headers: &HeaderMap,
    caller: TrustedCaller,
) -> Option<Response> {
    let allowed = &state.config().trusted_services;
    let caller = match caller {
        TrustedCaller::Client => client_address(state, peer.ip(), headers),
        TrustedCaller::Peer => Ok(peer.ip()),
    };
    let trusted = match caller {
        Ok(ip) if allowed.is_empty() => ip.is_loopback() || ip.to_canonical().is_loopback(),
        Ok(ip) => allowed.contains(&ip) || allowed.contains(&ip.to_canonical()),
        Err(_) => false,
    };
    // The `Host` the request itself carries (not a forwarded one: for forward-auth, that one
    // describes the original request).
    let host_ok = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| state.origins().iter().any(|o| o.is_host(h)));
    let ok = trusted && host_ok;
    (!ok).then(|| {
        wire::api_error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "the caller is not a trusted service, or did not send the request to a public \
             origin of this server (configure trusted_services, public_origins)",
        )
    })
}

/// Whose address decides whether a caller is a trusted service.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TrustedCaller {
    /// The client the trusted proxy chain names: for the verification API and the metrics,
    /// which tell refusal reasons.
    Client,
    /// The peer itself: for forward-auth, which only reverse proxies call (their
    /// `X-Forwarded-For` names the original client, who is not the caller), and which answers
    /// no more than the original request's surface would.
    Peer,
}

/// The request of a trusted service, read; anyone else is refused before its body is read.
async fn read_from_trusted_service(
    state: &AppState,
    peer: SocketAddr,
    request: Request,
    caller: TrustedCaller,
) -> Result<Received, Response> {
    if let Some(refusal) = refuse_untrusted_service(state, &peer, request.headers(), caller) {
        return Err(refusal);
    }
    Received::read(state, peer, request).await
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
    let received =
        match read_from_trusted_service(&state, peer, request, TrustedCaller::Client).await {
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
                detail: r.detail.as_str().to_owned(),
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
            detail: tessera_core::Detail::MalformedRequest.as_str().to_owned(),
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
    let received = match read_from_trusted_service(&state, peer, request, TrustedCaller::Peer).await
    {
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
        let refusal = not_a_public_origin(&format!("{}://{host}", scheme.as_str()));
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
