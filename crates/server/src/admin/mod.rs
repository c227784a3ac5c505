//! `/api/v1`: Tessera's admin API in JSON. Every request is a TBA-signed request, verified like
//! any other (replay protection, revocation, governance, the login audit trail), and acts as
//! the token's user with the token's role: what it may do is decided by the rules of RULES.md §2
//! in `tessera_core`, not here. Handlers parse, call `Tessera`, render.
//!
//! The OpenAPI document is made from the same handlers that serve the routes (`utoipa-axum`
//! registers both at once), so a route cannot be served without being documented.

pub(crate) mod audit;
pub(crate) mod directory;
pub(crate) mod integrations;
mod params;
pub(crate) mod tokens;

use std::net::SocketAddr;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tessera_core::Actor;
use tessera_core::model::Context;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::surfaces::{Admitted, admit};
use crate::wire::{self, Surface};

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera admin API",
        description = "Integration records, access tokens, users, roles and the login audit trail of a Tessera server. \
            Every request is signed with Token-Based Authentication (OAuth 1.0a, HMAC-SHA256, `realm` = the account id), \
            exactly like a request to a NetSuite RESTlet; the token's user and role decide what it may do. \
            OAuth 1.0a signs form bodies only: every request with a body must also carry `oauth_body_hash`, the Base64 \
            SHA-256 of the raw body, among its signed OAuth parameters (refused with 400 `BODY_HASH_REQUIRED` otherwise). \
            The admin API is never held up by integration traffic: it does not count against concurrency limits."
    ),
    security(("tba" = [])),
    // The choices of list parameters: referenced from the parameters, not collected with them.
    components(schemas(tessera_api::tokens::RevokedChoice, tessera_api::tokens::TokenSortChoice)),
    // Routed by the server itself (any method, and a path suffix): documented here.
    paths(crate::surfaces::forward_auth::forward_auth),
    tags(
        (name = "tokens", description = "Access tokens (RULES.md §2: R1, R6–R8, R12)"),
        (name = "integrations", description = "Integration records and their installations (RULES.md §2: R2–R6, R10, R13, R14)"),
        (name = "directory", description = "The caller's account, its roles and its users"),
        (name = "audit", description = "The Login Audit Trail"),
        (name = "verification", description = "For trusted services (loopback or `trusted_services`): verify requests they received"),
    )
)]
struct ApiDoc;

/// The `tba` security scheme: an `Authorization: OAuth …` header (RFC 5849, NetSuite's TBA profile).
struct TbaSecurity;

impl utoipa::Modify for TbaSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::OAuth);
        scheme.description = Some(
            "NetSuite Token-Based Authentication: OAuth 1.0a with HMAC-SHA256, signed with the consumer key and \
             secret of an integration record and a token id and secret; realm is the account id. A request with a \
             body adds `oauth_body_hash` (Base64 SHA-256 of the body), which is signed with the other parameters."
                .to_owned(),
        );
        components.add_security_scheme("tba", SecurityScheme::Http(scheme));
    }
}

/// Every route of the admin API, and the OpenAPI document that describes exactly those.
pub(crate) fn routes() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::show_token, tokens::edit_token))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(tokens::preview_bulk, tokens::apply_bulk))
        .routes(routes!(tokens::token_signature_debug))
        .routes(routes!(integrations::integration_signature_debug))
        .routes(routes!(audit::signature_capture))
        .routes(routes!(
            integrations::list_integrations,
            integrations::create_integration
        ))
        .routes(routes!(
            integrations::show_integration,
            integrations::edit_integration,
            integrations::delete_integration
        ))
        .routes(routes!(integrations::block_integration))
        .routes(routes!(integrations::enable_integration))
        .routes(routes!(integrations::approve_integration))
        .routes(routes!(integrations::reset_credentials))
        .routes(routes!(integrations::install_integration))
        .routes(routes!(
            integrations::installable_accounts,
            integrations::set_installable_accounts
        ))
        .routes(routes!(audit::token_notes))
        .routes(routes!(audit::integration_notes))
        .routes(routes!(audit::login_audit_trail))
        .routes(routes!(directory::show_account, directory::edit_account))
        .routes(routes!(directory::list_roles, directory::create_role))
        .routes(routes!(directory::show_role, directory::edit_role))
        .routes(routes!(directory::list_users, directory::create_user))
        .routes(routes!(
            directory::show_user,
            directory::edit_user,
            directory::delete_user
        ))
        .routes(routes!(crate::surfaces::verify_api::verify_api))
        .split_for_parts();
    // After the split: the components and paths are complete only then.
    utoipa::Modify::modify(&TbaSecurity, &mut document);
    utoipa::Modify::modify(&CommonResponses, &mut document);
    (routes, document)
}

/// The answers every operation can give besides its own, in one place: a bad path id or a
/// body without its SHA-256 `oauth_body_hash` (400) and a refused signature (401) where the
/// operation is TBA-signed. The admin plane is not governed, so there is no 429.
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in &mut openapi.paths.paths {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                if path.contains('{') {
                    responses
                        .entry("400".to_owned())
                        .or_insert_with(|| error("A parameter is invalid (named in `field`)"));
                }
                // `security: [{}]` marks the operations that take no signature.
                let unsigned = operation
                    .security
                    .as_ref()
                    .is_some_and(|s| s.iter().all(|r| r == &Default::default()));
                if !unsigned {
                    responses.entry("401".to_owned()).or_insert_with(|| {
                        error("The signature was refused (generic; the reason is in the login audit trail)")
                    });
                    // Every signed operation refuses a query parameter it does not take.
                    let what = if operation.request_body.is_some() {
                        "A parameter or the body is invalid (named in `field`), or the body has no SHA-256 `oauth_body_hash` (`BODY_HASH_REQUIRED`)"
                    } else {
                        "A parameter is invalid or unknown (named in `field`)"
                    };
                    responses
                        .entry("400".to_owned())
                        .or_insert_with(|| error(what));
                }
            }
        }
    }
}

/// A verified caller of the admin API.
pub(crate) struct Caller {
    pub(crate) actor: Actor,
    pub(crate) admitted: Admitted,
}

impl Caller {
    /// Refuses a new allow-list that would refuse this very caller (the admin API and the CLI
    /// sign with tokens): a 409 that says so, instead of a change that locks the caller out.
    /// The web UI, signed in with a password, is not bound by the lists and may make it.
    pub(crate) fn keep_own_address(
        &self,
        state: &AppState,
        list: &tessera_core::allow::IpAllowList,
        whose: &str,
    ) -> Result<(), ApiError> {
        let client = self.admitted.received.client_ip(state).ok();
        if client.is_some_and(|ip| list.allows(ip)) {
            return Ok(());
        }
        let from = client.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string());
        Err(tessera_core::Error::Conflict {
            why: format!(
                "this {whose} IP allow-list leaves out the address this request comes from \
                 ({from}): every later request of this API and the CLI from there would be refused. \
                 Add it, or make the change in the web UI"
            ),
        }
        .into())
    }
}

/// The last extractor of every admin handler: the request, verified.
impl axum::extract::FromRequest<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let peer = request
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|info| info.0)
            .ok_or_else(|| {
                tracing::error!("the admin API was served without the peer's address");
                ApiError::Response(Box::new(wire::unavailable()))
            })?;
        Caller::admit(state, peer, request).await
    }
}

impl Caller {
    /// Verifies the request (signature, replay claim, revocation, audit row); refusals are answered as
    /// the other JSON surfaces answer them (401 without the reason, which is in the audit
    /// trail; 400 for a malformed header). The admin plane is not counted against concurrency
    /// limits.
    pub(crate) async fn admit(
        state: &AppState,
        peer: SocketAddr,
        request: Request,
    ) -> Result<Self, ApiError> {
        let admitted = admit(state, peer, request, Surface::AdminApi)
            .await
            .map_err(|refusal| ApiError::Response(Box::new(refusal)))?;
        let actor = Actor::user(
            &admitted.identity.account,
            admitted.identity.user,
            admitted.identity.role,
            Context::Api,
        );
        Ok(Self { actor, admitted })
    }

    /// The query parameters, read into the endpoint's parameter struct.
    pub(crate) fn params<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        params::parse(self.admitted.received.query())
    }

    /// Refuses any query parameter (but the signature's): for endpoints that take none.
    pub(crate) fn no_params(&self) -> Result<(), ApiError> {
        self.params::<tessera_api::query::NoParams>().map(|_| ())
    }

    /// The JSON body as `T`; a field of the wrong type or an unknown field is named.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body = &self.admitted.received.body;
        // serde reads a struct from an array too (fields by position): only an object is one.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::invalid("body", "a JSON object is required"));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { "body".to_owned() } else { path };
            ApiError::Invalid {
                field,
                message: e.into_inner().to_string(),
            }
        })
    }
}

/// Why an admin API request was not carried out.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// A rule of the domain refused it.
    Domain(tessera_core::Error),
    /// The request itself is wrong in one field.
    Invalid { field: String, message: String },
    /// Refused before it reached the domain (signature, governance), answered as is.
    Response(Box<Response>),
}

impl ApiError {
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<tessera_core::Error> for ApiError {
    fn from(e: tessera_core::Error) -> Self {
        ApiError::Domain(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Domain(e) => wire::domain_error(&e),
            ApiError::Invalid { field, message } => wire::invalid_field(&field, message),
            ApiError::Response(response) => *response,
        }
    }
}

pub(crate) use tessera_api::ErrorBody;

/// An IP allow-list as a body gives it (R17): its networks, each checked; `[]` is no list, and
/// an empty entry is refused (a script's unset variable must not switch the list off).
pub(crate) fn allow_list(list: &[String]) -> Result<tessera_core::allow::IpAllowList, ApiError> {
    if let Some(i) = list.iter().position(|e| e.trim().is_empty()) {
        return Err(ApiError::invalid(
            "ip_allow_list",
            format!("entry {i} is empty; [] removes the list"),
        ));
    }
    Ok(tessera_core::allow::IpAllowList::parse(
        "ip_allow_list",
        &list.join(","),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_the_tba_scheme() {
        let (_, api) = routes();
        let doc = serde_json::to_value(&api).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["components"]["securitySchemes"]["tba"]["scheme"],
            "oauth"
        );
        assert_eq!(doc["security"][0]["tba"], serde_json::json!([]));
    }
}
