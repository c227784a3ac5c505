//! Forward auth for reverse proxies (nginx `auth_request`, Traefik ForwardAuth, Envoy
//! ext_authz; RULES.md §4): the proxy describes the original request in headers; Tessera verifies
//! it and answers 200 with who is calling in headers, or the 401 of the original request's
//! surface.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use tessera_core::verifier::{Identity, Outcome};
use tessera_oauth1::Scheme;

use super::admission::{Named, Presented, SentTo, malformed, refused_early, verify};
use super::trusted::{TrustedCaller, read_from_trusted_service};
use crate::AppState;
use crate::edge::Received;
use crate::edge::proxy::{
    X_FORWARDED_HOST, X_FORWARDED_METHOD, X_FORWARDED_PROTO, X_FORWARDED_URI, X_ORIGINAL_METHOD,
    X_ORIGINAL_URI,
};
use crate::wire::{self, Surface};

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
            ("X-Tessera-Token-Expires-At" = String, description = "RFC 3339; only for a token that expires"),
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
    let presented = match present(&state, &received) {
        Ok(p) => p,
        Err(why) => {
            let context = received.context_for(&state, Surface::ForwardAuth);
            refused_early(&state, &context, Surface::ForwardAuth, malformed(&why)).await;
            return wire::malformed();
        }
    };
    let original = original_surface(&presented);
    match verify(&state, Surface::ForwardAuth, &presented).await {
        Ok(Outcome::Accepted(identity)) => identity_headers(&identity),
        Ok(Outcome::Refused(_)) => wire::invalid_login(original),
        Ok(Outcome::Malformed { .. }) => wire::malformed(),
        Err(unavailable) => unavailable,
    }
}

/// A header describing the original request: at most one, as text, not empty. A client can
/// add headers of its own, and nginx and Traefik pass them on to this endpoint: anything that
/// could make the description ambiguous is refused.
fn single<'a>(received: &'a Received, name: &HeaderName) -> Result<Option<&'a str>, String> {
    let mut values = received.headers().get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(format!("{name} is given more than once"));
    }
    let text = value
        .to_str()
        .map_err(|_| format!("{name} is not visible ASCII text"))?
        .trim();
    if text.is_empty() || text.contains(',') {
        return Err(format!("{name} must hold one value"));
    }
    Ok(Some(text))
}

/// The original request the proxy describes, in exactly one proxy's way: nginx
/// (`X-Original-URI`, `X-Original-Method`), Traefik (`X-Forwarded-Uri`, `X-Forwarded-Method`)
/// or Envoy (the original path after this endpoint's, the method as the request's own); the
/// host and scheme from `X-Forwarded-Host`/`-Proto` or the request's `Host`. The proxy does not
/// pass the body, so form parameters cannot be signed through it. `Err`: it describes none, or
/// not unambiguously — a mix of two ways could have the signature checked for a request other
/// than the one the proxy lets through.
fn present<'a>(state: &'a AppState, received: &'a Received) -> Result<Presented<'a>, String> {
    let nginx = (
        single(received, &X_ORIGINAL_URI)?,
        single(received, &X_ORIGINAL_METHOD)?,
    );
    let traefik = (
        single(received, &X_FORWARDED_URI)?,
        single(received, &X_FORWARDED_METHOD)?,
    );
    let envoy = received
        .path_and_query
        .strip_prefix(crate::FORWARD_AUTH_PATH)
        .filter(|rest| rest.starts_with('/'));
    let own = received.method().as_str();
    let (method, target) = match (nginx, traefik, envoy) {
        ((Some(uri), method), (None, None), None) => (method.unwrap_or(own), uri),
        ((None, None), (Some(uri), method), None) => (method.unwrap_or(own), uri),
        ((None, None), (None, None), Some(path)) => (own, path),
        ((None, _), (None, _), None) => {
            return Err(format!(
                "the proxy named no original URI (X-Original-URI, X-Forwarded-Uri, or a path \
                 after {}/)",
                crate::FORWARD_AUTH_PATH
            ));
        }
        _ => {
            return Err(
                "the original request is described in more than one way (nginx's X-Original-*, \
                 Traefik's X-Forwarded-Uri/-Method, Envoy's path); a client may have added one"
                    .to_owned(),
            );
        }
    };
    if !target.starts_with('/') {
        return Err("the original URI must be a path (starting with /)".to_owned());
    }
    let host = match single(received, &X_FORWARDED_HOST)? {
        Some(host) => host,
        None => received.header(&header::HOST).unwrap_or(""),
    };
    let scheme = match single(received, &X_FORWARDED_PROTO)? {
        Some(proto) => Scheme::parse(proto)
            .map_err(|_| format!("X-Forwarded-Proto {proto:?} is not http or https"))?,
        None => Scheme::Http,
    };
    // The original request was sent to one of this server's public origins, or its signature
    // means nothing here.
    let origin = state
        .origins()
        .iter()
        .find(|o| o.scheme == scheme && o.is_host(host));
    Ok(Presented {
        context: received.context(state, Surface::ForwardAuth, method, target),
        method: Cow::Borrowed(method),
        sent_to: SentTo::Origin {
            origin,
            named: Named::Url(scheme, host),
            target: Cow::Borrowed(target),
        },
        authorization: received.authorization().map(|a| a.map(Cow::Borrowed)),
        form: false,
        body: Cow::Borrowed(&[]),
    })
}

/// The surface the original request was sent to, whose 401 the proxy passes on.
fn original_surface(presented: &Presented<'_>) -> Surface {
    match &presented.sent_to {
        SentTo::Origin { target, .. } if target.starts_with("/services/rest/") => {
            Surface::RestWebServices
        }
        _ => Surface::Restlet,
    }
}

/// 200 with who is calling in headers; names are percent-encoded (header values are ASCII).
fn identity_headers(identity: &Arc<Identity>) -> Response {
    let enc = |s: &str| tessera_oauth1::encode::encode(s).into_owned();
    let mut pairs = vec![
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
    if let Some(at) = identity.expires_at {
        pairs.push(("x-tessera-token-expires-at", at.to_rfc3339()));
    }
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
