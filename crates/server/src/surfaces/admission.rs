//! The admission pipeline every surface that verifies signed requests runs, in this order:
//! what the request presents (`Presented`, each surface's own reading of a `Received`) →
//! one `SignedRequest` (`Presented::signed_request`, the only builder) → the verifier (replay
//! claim, revocation, the audit row) → governance (`admit`). Anything refused before the
//! verifier sees it goes through `refused_early`: recorded, counted, and malformed requests
//! answered one way.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::Response;
use tessera_core::Detail;
use tessera_core::verifier::{Identity, Outcome, Refusal, RequestContext, SignedRequest};
use tessera_oauth1::RequestUrl;

use tessera_api::ErrorCode;

use crate::AppState;
use crate::config::Origin;
use crate::edge::Received;
use crate::wire::{self, Surface};

/// Where a presented request was sent.
pub(crate) enum SentTo<'a> {
    /// A path and query sent to one of this server's public origins — `None` when the host it
    /// named (`named`, for the audit note) is none of them.
    Origin {
        origin: Option<&'a Origin>,
        named: Named<'a>,
        target: Cow<'a, str>,
    },
    /// An absolute URL, as a trusted service reports the request it received.
    Url(Cow<'a, str>),
}

/// How a request named the origin it was sent to, written out only when it is refused.
#[derive(Clone, Copy)]
pub(crate) enum Named<'a> {
    /// Its `Host` header.
    Host(&'a str),
    /// A scheme and host, as a proxy describes the original request.
    Url(tessera_oauth1::Scheme, &'a str),
}

impl std::fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Named::Host(host) => write!(f, "host {host:?}"),
            Named::Url(scheme, host) => write!(f, "{}://{host}", scheme.as_str()),
        }
    }
}

/// The request a surface says was signed, and where its audit row goes.
pub(crate) struct Presented<'a> {
    pub(crate) method: Cow<'a, str>,
    pub(crate) sent_to: SentTo<'a>,
    /// The one `Authorization` header, or why there is not exactly one readable one.
    pub(crate) authorization: Result<Option<Cow<'a, str>>, String>,
    /// Whether the body is a form (whose parameters are signed).
    pub(crate) form: bool,
    pub(crate) body: Cow<'a, [u8]>,
    pub(crate) context: RequestContext,
}

impl<'a> Presented<'a> {
    /// The request exactly as it came, to the origin its `Host` names: the echo RESTlet, REST
    /// web services, the token endpoints and the admin API.
    pub(crate) fn as_sent(state: &'a AppState, received: &'a Received, surface: Surface) -> Self {
        Self {
            method: Cow::Borrowed(received.method().as_str()),
            sent_to: SentTo::Origin {
                origin: received.origin(state),
                named: Named::Host(received.header(&header::HOST).unwrap_or("")),
                target: Cow::Borrowed(&received.path_and_query),
            },
            authorization: received.authorization().map(|a| a.map(Cow::Borrowed)),
            form: received.is_form(),
            body: Cow::Borrowed(&received.body),
            context: received.context_for(state, surface),
        }
    }

    /// The one `SignedRequest` builder. `Err` is the refusal of a request that cannot be
    /// verified at all: malformed, or sent to a host whose signature means nothing here.
    pub(crate) fn signed_request(&self) -> Result<SignedRequest<'_>, Refusal> {
        let url = match &self.sent_to {
            SentTo::Origin {
                origin: None,
                named,
                ..
            } => return Err(not_a_public_origin(*named)),
            SentTo::Origin {
                origin: Some(origin),
                target,
                ..
            } => RequestUrl::from_parts(origin.scheme, &origin.authority, target),
            SentTo::Url(url) => RequestUrl::parse(url),
        };
        let authorization = self.authorization.as_ref().map_err(|why| malformed(why))?;
        let url = url.map_err(|e| malformed(&e.to_string()))?;
        Ok(SignedRequest {
            method: &self.method,
            url,
            authorization: authorization.as_deref(),
            form_body: self.form.then_some(&self.body[..]),
            body: &self.body,
        })
    }
}

/// A request sent to a host this server does not serve: its signature cannot be checked.
fn not_a_public_origin(sent_to: Named<'_>) -> Refusal {
    Refusal {
        detail: Detail::InvalidSignature,
        note: format!(
            "the request was sent to {sent_to}, which is not a public origin of this server; \
             its signature cannot be checked (configure public_origins)"
        ),
    }
}

pub(crate) fn malformed(why: &str) -> Refusal {
    Refusal {
        detail: Detail::MalformedRequest,
        note: why.to_owned(),
    }
}

/// Verifies what a surface presented: the outcome, recorded in the audit trail and the metrics.
/// `Err` is the 503 of a store that did not answer.
pub(crate) async fn verify(
    state: &AppState,
    surface: Surface,
    presented: &Presented<'_>,
) -> Result<Outcome, Response> {
    match presented.signed_request() {
        Ok(request) => run_verifier(state, &request, &presented.context, surface).await,
        Err(refusal) => Ok(refused_early(state, &presented.context, surface, refusal).await),
    }
}

/// A request refused before the verifier could look at it, recorded and counted like the rest.
pub(crate) async fn refused_early(
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
    if refusal.detail == Detail::MalformedRequest {
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
    let verification = state.verifier().verify(request, context);
    observed(surface, request.method, request.url.path(), verification).await
}

/// Runs a verification and records its outcome in the metrics and the debug log; a store that
/// did not answer becomes the 503 (logged with its cause). Every way of verifying goes
/// through here: the signed surfaces and SOAP's TokenPassport.
pub(crate) async fn observed(
    surface: Surface,
    method: &str,
    path: &str,
    verification: impl std::future::Future<
        Output = Result<Outcome, tessera_core::verifier::VerifierError>,
    >,
) -> Result<Outcome, Response> {
    let started = Instant::now();
    match verification.await {
        Ok(outcome) => {
            let detail = match &outcome {
                Outcome::Accepted(_) => Detail::Success,
                Outcome::Refused(r) => r.detail,
                Outcome::Malformed { .. } => Detail::MalformedRequest,
            };
            let took = started.elapsed();
            crate::observe::request(surface, detail.as_str(), Some(took));
            // The path only: a query may carry anything, and the audit trail has the rest.
            tracing::debug!(
                surface = surface.label(),
                method,
                path,
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
            Err(match surface {
                Surface::Soap => wire::soap_fault(
                    wire::SOAP_VERSION,
                    &wire::SoapFault {
                        code: "soapenv:Server",
                        string:
                            "The server cannot verify requests at the moment. Try again shortly."
                                .into(),
                        detail: None,
                    },
                ),
                _ => wire::unavailable(),
            })
        }
    }
}

/// The governance permit of a verified request (RULES.md §5), or the surface's answer over the
/// limit, recorded in the audit trail.
pub(crate) async fn govern(
    state: &AppState,
    context: &RequestContext,
    identity: &Identity,
    surface: Surface,
) -> Result<crate::governance::Permit, Response> {
    if let Some(permit) = state.governor().try_acquire(identity) {
        return Ok(permit);
    }
    let refusal = Refusal {
        detail: Detail::ConcurrencyLimitExceeded,
        note: "the account's or the integration's concurrency limit was reached".into(),
    };
    state
        .verifier()
        .record_refusal(context, &refusal, Some(identity))
        .await;
    crate::observe::request(surface, refusal.detail.as_str(), None);
    Err(wire::over_limit(surface))
}

/// A signed request that verified and holds its place in the governance counts.
pub(crate) struct Admitted {
    pub(crate) received: Received,
    pub(crate) identity: Arc<Identity>,
    /// Held while the response is made (RULES.md §5); none on the admin plane.
    pub(crate) _permit: Option<crate::governance::Permit>,
}

/// Reads and verifies a signed request as sent and applies governance: what every surface that
/// answers a caller by its token does first. The `Err` is the surface's own refusal, ready to
/// send.
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
        refused_early(state, &context, surface, malformed(why)).await;
        return Err(wire::api_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BodyHashRequired,
            why,
        ));
    }
    let presented = Presented::as_sent(state, &received, surface);
    let identity = match verify(state, surface, &presented).await? {
        Outcome::Accepted(identity) => identity,
        Outcome::Refused(_) => return Err(wire::invalid_login(surface)),
        Outcome::Malformed { .. } => return Err(wire::malformed()),
    };
    let context = presented.context;
    if surface.is_admin_plane() {
        return Ok(Admitted {
            received,
            identity,
            _permit: None,
        });
    }
    let permit = govern(state, &context, &identity, surface).await?;
    Ok(Admitted {
        received,
        identity,
        _permit: Some(permit),
    })
}

/// A request whose body must be bound to its signature carries a SHA-256 `oauth_body_hash`
/// (whether it matches the body is the verifier's to say, after the signature). A request
/// without a readable `OAuth` header passes here: the verifier refuses it as it refuses any
/// unsigned or malformed request, and says no more to it than to those.
fn sha256_body_hash_present(authorization: Option<&str>) -> Result<(), &'static str> {
    use tessera_oauth1::body_hash::BodyHashAlgorithm;
    use tessera_oauth1::header::{AuthorizationHeader, OAuthParam};
    const WHY: &str = "a request with a body must carry oauth_body_hash, the Base64 SHA-256 of \
        the body, among its signed OAuth parameters (OAuth 1.0a does not sign JSON bodies)";
    let Some(header) = authorization.and_then(|value| AuthorizationHeader::parse(value).ok())
    else {
        return Ok(());
    };
    match header.get(OAuthParam::BodyHash) {
        Some(hash)
            if BodyHashAlgorithm::from_base64_len(hash.len())
                == Some(BodyHashAlgorithm::Sha256) =>
        {
            Ok(())
        }
        Some(_) => Err(
            "oauth_body_hash must be the Base64 SHA-256 of the body (44 characters); \
             SHA-1 is not accepted here",
        ),
        None => Err(WHY),
    }
}
