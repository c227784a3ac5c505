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

/// The one value of a header describing the original request, from either proxy family's
/// name. Both names at once, a name twice, or a value that is not text is refused: a client
/// can add headers of its own, and nginx and Traefik pass them on to this endpoint, so an
/// ambiguous description could have the signature checked for a request other than the one
/// the proxy lets through.
fn one_of<'a>(received: &'a Received, names: [&HeaderName; 2]) -> Result<Option<&'a str>, String> {
    let mut found = None;
    for name in names {
        for value in received.headers().get_all(name) {
            if found.is_some() {
                return Err(format!(
                    "the original request is described more than once ({} and {}); a client \
                     may have sent one of them",
                    names[0], names[1]
                ));
            }
            let text = value
                .to_str()
                .map_err(|_| format!("{name} is not visible ASCII text"))?;
            found = Some(text);
        }
    }
    Ok(found)
}

/// The original request the proxy describes. The proxy does not pass the body, so form
/// parameters cannot be signed through it. `Err`: it describes none, or not unambiguously.
fn present<'a>(state: &'a AppState, received: &'a Received) -> Result<Presented<'a>, String> {
    let method = one_of(received, [&X_FORWARDED_METHOD, &X_ORIGINAL_METHOD])?
        .unwrap_or(received.method().as_str());
    let target = match one_of(received, [&X_FORWARDED_URI, &X_ORIGINAL_URI])? {
        Some(uri) => Cow::Borrowed(uri),
        // Envoy: the original path follows this endpoint's own, after a `/`.
        None => match received
            .path_and_query
            .strip_prefix(crate::FORWARD_AUTH_PATH)
        {
            Some(rest) if rest.starts_with('/') => Cow::Borrowed(rest),
            _ => {
                return Err(format!(
                    "the proxy named no original URI (X-Original-URI, X-Forwarded-Uri, or a \
                     path after {}/)",
                    crate::FORWARD_AUTH_PATH
                ));
            }
        },
    };
    let host = received
        .header(&X_FORWARDED_HOST)
        .or_else(|| received.header(&header::HOST))
        .unwrap_or("");
    let scheme = received
        .header(&X_FORWARDED_PROTO)
        .and_then(|p| Scheme::parse(p).ok())
        .unwrap_or(Scheme::Http);
    // The original request was sent to one of this server's public origins, or its signature
    // means nothing here.
    let origin = state
        .origins()
        .iter()
        .find(|o| o.scheme == scheme && o.is_host(host));
    Ok(Presented {
        context: received.context(state, Surface::ForwardAuth, method, &target),
        method: Cow::Borrowed(method),
        sent_to: SentTo::Origin {
            origin,
            named: Named::Url(scheme, host),
            target,
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
