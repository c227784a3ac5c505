//! Tessera's HTTP server: the NetSuite-compatible endpoints that verify signed requests (RULES.md
//! §4), the verification API and forward-auth endpoint, health and metrics. Handlers parse,
//! call `tessera-core`, and render; every error shape lives in [`wire`].

#![forbid(unsafe_code)]

mod admin;
pub mod config;
mod edge;
mod form;
mod governance;
mod observe;
mod signin;
mod surfaces;
mod throttle;
mod ui;
pub mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use tessera_api::ErrorCode;
use tessera_core::Tessera;
use tessera_core::verifier::Verifier;
use tokio::net::TcpListener;

pub use admin::OPENAPI_PATH;
pub use config::{Origin, ServerConfig};
pub use edge::EdgeLimits;
pub use governance::Governor;

/// Where the forward-auth endpoint is mounted.
pub const FORWARD_AUTH_PATH: &str = "/api/v1/forward-auth";

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tessera: Tessera,
    verifier: Verifier,
    config: ServerConfig,
    origins: Vec<Origin>,
    governor: Governor,
    login_throttle: throttle::LoginThrottle,
    /// What `/readyz` last answered: it logs when that changes, not at every probe.
    ready: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// Starts the verifier; `local` is the bound address (for the default public origins).
    pub fn new(
        tessera: Tessera,
        config: ServerConfig,
        local: SocketAddr,
        default_concurrency_limit: u32,
    ) -> Self {
        let origins = if config.public_origins.is_empty() {
            Origin::defaults_for(local)
        } else {
            config.public_origins.clone()
        };
        // The metrics recorder must exist before the first request is counted.
        let _ = observe::handle();
        let verifier = Verifier::start(tessera.clone(), config.verifier.clone());
        // The dummy password hash exists before the first sign-in of an unknown user.
        tessera_core::prepare_password_checks();
        Self {
            inner: Arc::new(Inner {
                tessera,
                verifier,
                origins,
                governor: Governor::new(default_concurrency_limit),
                login_throttle: throttle::LoginThrottle::new(
                    config.login_failures_per_hour,
                    config.login_failures_per_user_and_source,
                    std::time::Duration::from_secs(3600),
                ),
                config,
                ready: std::sync::atomic::AtomicBool::new(true),
            }),
        }
    }

    pub fn tessera(&self) -> &Tessera {
        &self.inner.tessera
    }

    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    pub fn origins(&self) -> &[Origin] {
        &self.inner.origins
    }

    pub(crate) fn login_throttle(&self) -> &throttle::LoginThrottle {
        &self.inner.login_throttle
    }

    pub(crate) fn governor(&self) -> &Governor {
        &self.inner.governor
    }
}

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let (admin, openapi) = admin::routes();
    // Serialized once: the document is the same for every request.
    let openapi = bytes::Bytes::from(serde_json::to_vec(&openapi).unwrap_or_default());
    Router::new()
        .merge(ui::routes(&state))
        .merge(admin)
        .route(
            OPENAPI_PATH,
            get(move || {
                let body = openapi.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body) }
            }),
        )
        .route(
            "/app/site/hosting/restlet.nl",
            any(surfaces::restlet::restlet),
        )
        .route(
            "/services/rest/system/v1/governanceLimits",
            get(surfaces::rest_web_services::governance_limits),
        )
        .route(
            "/services/rest/{*path}",
            any(surfaces::rest_web_services::rest_web_services),
        )
        .route(FORWARD_AUTH_PATH, any(surfaces::forward_auth::forward_auth))
        // Envoy, for an original request to `/`.
        .route(
            &format!("{FORWARD_AUTH_PATH}/"),
            any(surfaces::forward_auth::forward_auth),
        )
        .route(
            &format!("{FORWARD_AUTH_PATH}/{{*path}}"),
            any(surfaces::forward_auth::forward_auth),
        )
        .route(
            "/rest/issuetoken",
            get(surfaces::token_endpoints::issue_token),
        )
        .route(
            "/rest/revoketoken",
            get(surfaces::token_endpoints::revoke_token),
        )
        .route(
            "/rest/datacenterurls",
            get(surfaces::discovery::datacenter_urls),
        )
        .route("/rest/roles", get(surfaces::discovery::roles))
        .route(
            "/services/{port}",
            get(surfaces::soap::wsdl_of_service).post(surfaces::soap::service),
        )
        .route("/wsdl/{version}/netsuite.wsdl", get(surfaces::soap::wsdl))
        .route(
            "/rest/requesttoken",
            post(surfaces::authorization_flow::request_token),
        )
        .route(
            "/rest/accesstoken",
            post(surfaces::authorization_flow::access_token),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        // Outermost: strict reading and bounded bodies before any route; framework errors
        // leave in the surface's shape.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            edge::guard,
        ))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then lets requests in flight finish and commits every
/// pending audit row before returning. Connections are bounded and timed out (`EdgeLimits`).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    edge::serve(listener, state, shutdown).await
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// How long `/readyz` may take: a load balancer's probe must get its answer (503 while the
/// store does not answer) well within its own time-out.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_millis(900);

/// Ready when the store answers and this node's master keys open every key check in it
/// (another node may have made a key active that this one lacks): a node that would answer
/// 503 to every signed request says so here first.
async fn readyz(State(state): State<AppState>) -> Response {
    let checked = tokio::time::timeout(READY_WITHIN, state.tessera().master_keys_ready()).await;
    let (code, why, cause) = match checked {
        Ok(Ok(())) => {
            if !state
                .inner
                .ready
                .swap(true, std::sync::atomic::Ordering::AcqRel)
            {
                tracing::info!("ready again");
            }
            return (StatusCode::OK, "ready\n").into_response();
        }
        Ok(Err(tessera_core::KeyCheckError::Store(e))) => (
            ErrorCode::StoreUnreachable,
            "the database does not answer",
            tessera_core::Chain(&e).to_string(),
        ),
        Ok(Err(e)) => (
            ErrorCode::MasterKeyMismatch,
            "this node lacks a master key the database's secrets are sealed with",
            tessera_core::Chain(&e).to_string(),
        ),
        Err(_) => (
            ErrorCode::StoreUnreachable,
            "the database does not answer",
            format!(
                "no answer within {} ms{}",
                READY_WITHIN.as_millis(),
                state
                    .tessera()
                    .store()
                    .recent_failure()
                    .map(|c| format!("; last failure: {c}"))
                    .unwrap_or_default()
            ),
        ),
    };
    // Logged when readiness is lost, not at every probe (anyone may probe).
    if state
        .inner
        .ready
        .swap(false, std::sync::atomic::Ordering::AcqRel)
    {
        tracing::warn!(code = code.as_str(), error = %cause, "not ready");
    } else {
        tracing::debug!(code = code.as_str(), error = %cause, "still not ready");
    }
    wire::api_error(StatusCode::SERVICE_UNAVAILABLE, code, why)
}

/// Prometheus metrics. They count refusals by Detail code, which the generic 401 keeps from
/// the public: served to trusted services only (default: loopback), like the verification API.
async fn metrics(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
) -> Response {
    if let Some(refusal) = surfaces::trusted::refuse_untrusted_service(
        &state,
        &peer,
        &headers,
        surfaces::trusted::TrustedCaller::Client,
    ) {
        return refusal;
    }
    let stats = state.verifier().writer_stats();
    metrics::gauge!("tessera_cached_grants").set(state.verifier().cached_grants() as f64);
    metrics::gauge!("tessera_writer_batches").set(stats.batches as f64);
    metrics::gauge!("tessera_writer_failed_batches").set(stats.failed_batches as f64);
    metrics::gauge!("tessera_writer_claims").set(stats.claims as f64);
    metrics::gauge!("tessera_writer_audit_rows").set(stats.attempts as f64);
    metrics::gauge!("tessera_writer_busy_seconds").set(stats.busy_micros as f64 / 1e6);
    metrics::gauge!("tessera_writer_abandoned_claims").set(stats.abandoned_claims as f64);
    metrics::gauge!("tessera_nonces_purged").set(stats.purged_nonces as f64);
    metrics::gauge!("tessera_audit_rows_purged").set(stats.purged_audit_rows as f64);
    metrics::gauge!("tessera_audit_rows_summarized").set(stats.summarized_audit_rows as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        observe::handle().render(),
    )
        .into_response()
}

async fn not_found() -> Response {
    not_found_response()
}

/// The answer for a path no route serves (also for a route whose parameter names nothing).
pub(crate) fn not_found_response() -> Response {
    wire::api_error(
        StatusCode::NOT_FOUND,
        ErrorCode::NoSuchEndpoint,
        "no such endpoint on this server",
    )
}
