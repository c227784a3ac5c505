//! SOAP web services with a TokenPassport (RULES.md §4.3): `POST /services/NetSuitePort_<version>`
//! and the WSDL at `/wsdl/v<version>/netsuite.wsdl`.
//!
//! The envelope is read by `envelope` (bounded, no DTD, no entities). Exactly one
//! `tokenPassport` header is verified by the verifier — the same nonce claim, revocation and
//! audit trail (surface `soap`) as every signed request — and counted by governance. Served for
//! real: `getServerTime`, `getDataCenterUrls` (like NetSuite's, also without a passport) and
//! `get`, which answers the calling user; any other operation is a fault that says so.

mod envelope;
mod wsdl;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use quick_xml::escape::escape;
use tessera_core::Detail;
use tessera_core::verifier::{Identity, Outcome, PassportRequest, Refusal, RequestContext};

use super::admission::{govern, observed};
use crate::AppState;
use crate::edge::Received;
use crate::wire::{self, SoapFault, Surface};
use envelope::{Envelope, EnvelopeError};

pub(crate) use wsdl::{wsdl, wsdl_of_service};

const SURFACE: Surface = Surface::Soap;

/// Envelopes larger than this are refused before they are read: the served operations need
/// a few hundred bytes.
const MAX_ENVELOPE: usize = 256 * 1024;

/// The operations served, as a fault for any other lists them.
const SERVED: &str = "getServerTime, getDataCenterUrls and get (which answers the calling user)";

/// `NetSuitePort_2024_2` → `2024_2`: a year and a release number.
pub(crate) fn version_of(port: &str) -> Option<&str> {
    let version = port.strip_prefix("NetSuitePort_")?;
    let (year, release) = version.split_once('_')?;
    let ok = year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && release.len() == 1
        && release.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(version)
}

/// `POST /services/{port}`.
pub(crate) async fn service(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(port): Path<String>,
    request: Request,
) -> Response {
    let Some(version) = version_of(&port).map(str::to_owned) else {
        return crate::not_found_response();
    };
    let version = version.as_str();
    let received = match Received::read(&state, peer, request).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let context = received.context_for(&state, SURFACE);
    if received.body.len() > MAX_ENVELOPE {
        let why = format!("the envelope is larger than {} KiB", MAX_ENVELOPE / 1024);
        return malformed(&state, &context, version, &why, "soapenv:Client").await;
    }
    let envelope = match envelope::read(&received.body, version) {
        Ok(e) => e,
        Err(e) => {
            let code = match e {
                EnvelopeError::VersionMismatch => "soapenv:VersionMismatch",
                _ => "soapenv:Client",
            };
            return malformed(&state, &context, version, &e.to_string(), code).await;
        }
    };
    if let Some(why) = ambiguity(&envelope, &received) {
        let refusal = Refusal {
            detail: Detail::MalformedRequest,
            note: format!("ambiguous authentication: {why}"),
        };
        record(&state, &context, &refusal).await;
        let fault = SoapFault {
            code: "soapenv:Server.userException",
            string: "Ambiguous authentication".into(),
            detail: Some(("invalidCredentialsFault", "USER_ERROR")),
        };
        return wire::soap_fault(version, &fault);
    }
    let answer = Answer {
        state: &state,
        received: &received,
        version,
    };
    match envelope.operation.as_str() {
        "getDataCenterUrls" => {
            // Like NetSuite's, answered without credentials; a passport sent is still checked.
            let _permit = if envelope.passports.is_empty() {
                None
            } else {
                match verified(&state, &context, &envelope, version).await {
                    Ok(accepted) => Some(accepted),
                    Err(response) => return response,
                }
            };
            let Some(account) = envelope.argument("account") else {
                return wire::soap_fault(
                    version,
                    &SoapFault::client("getDataCenterUrls needs its account"),
                );
            };
            if tessera_core::ids::AccountId::parse(account).is_err() {
                return wire::soap_fault(
                    version,
                    &SoapFault::client(format!("{:?} is not an account id", clip(account))),
                );
            }
            answer.data_center_urls()
        }
        "getServerTime" | "get" => {
            let (identity, _permit) = match verified(&state, &context, &envelope, version).await {
                Ok(accepted) => accepted,
                Err(response) => return response,
            };
            if envelope.operation == "get" {
                answer.caller(&identity)
            } else {
                answer.server_time()
            }
        }
        other => wire::soap_fault(
            version,
            &SoapFault::client(format!(
                "Tessera does not provide the operation {:?}; it serves {SERVED}",
                clip(other)
            )),
        ),
    }
}

/// Why the credentials are ambiguous, if they are: more than one `tokenPassport`, or one with
/// another credential header or a session cookie.
fn ambiguity(envelope: &Envelope, received: &Received) -> Option<String> {
    if envelope.passports.len() > 1 {
        return Some(format!(
            "{} tokenPassport headers",
            envelope.passports.len()
        ));
    }
    if envelope.passports.is_empty() {
        return None;
    }
    if let Some(other) = envelope.other_credentials.first() {
        return Some(format!("tokenPassport with {other}"));
    }
    if received.authorization_value().is_some() {
        return Some("tokenPassport with an Authorization header".to_owned());
    }
    let session = received
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .any(|v| String::from_utf8_lossy(v.as_bytes()).contains("JSESSIONID"));
    session.then(|| "tokenPassport with a session cookie".to_owned())
}

/// Verifies the one passport and takes the governance permit; the fault to send otherwise.
async fn verified(
    state: &AppState,
    context: &RequestContext,
    envelope: &Envelope,
    version: &str,
) -> Result<(std::sync::Arc<Identity>, crate::governance::Permit), Response> {
    let Some(fields) = envelope.passports.first() else {
        let refusal = Refusal {
            detail: Detail::MissingRequiredParameter,
            note: "the request has no tokenPassport header".into(),
        };
        record(state, context, &refusal).await;
        tokio::time::sleep(state.verifier().config().refusal_floor).await;
        return Err(wire::soap_fault(version, &SoapFault::invalid_login()));
    };
    let passport = PassportRequest {
        passport: tessera_oauth1::TokenPassport {
            account: &fields.account,
            consumer_key: &fields.consumer_key,
            token: &fields.token,
            nonce: &fields.nonce,
            timestamp: &fields.timestamp,
        },
        algorithm: fields.algorithm.as_deref(),
        signature: &fields.signature,
    };
    let verification = state.verifier().verify_passport(&passport, context);
    let path = format!("/services/NetSuitePort_{version}");
    let identity = match observed(SURFACE, "POST", &path, verification).await? {
        Outcome::Accepted(identity) => identity,
        Outcome::Refused(_) | Outcome::Malformed { .. } => {
            return Err(wire::soap_fault(version, &SoapFault::invalid_login()));
        }
    };
    let permit = govern(state, context, &identity, SURFACE)
        .await
        .map_err(|_| over_limit(version))?;
    Ok((identity, permit))
}

fn over_limit(version: &str) -> Response {
    wire::soap_fault(
        version,
        &SoapFault {
            code: "soapenv:Server.userException",
            string: "Concurrent request limit exceeded. Request blocked.".into(),
            detail: Some(("exceededConcurrentRequestLimitFault", "WS_REQUEST_BLOCKED")),
        },
    )
}

async fn record(state: &AppState, context: &RequestContext, refusal: &Refusal) {
    state
        .verifier()
        .record_refusal(context, refusal, None)
        .await;
    crate::observe::request(SURFACE, refusal.detail.as_str(), None);
}

/// An envelope that cannot be used: recorded, then the client fault that says why.
async fn malformed(
    state: &AppState,
    context: &RequestContext,
    version: &str,
    why: &str,
    code: &'static str,
) -> Response {
    let refusal = Refusal {
        detail: Detail::MalformedRequest,
        note: why.to_owned(),
    };
    record(state, context, &refusal).await;
    wire::soap_fault(
        version,
        &SoapFault {
            code,
            string: why.to_owned(),
            detail: None,
        },
    )
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// The answers of the served operations, in NetSuite's namespaces for `version`.
struct Answer<'a> {
    state: &'a AppState,
    received: &'a Received,
    version: &'a str,
}

impl Answer<'_> {
    fn envelope(&self, body: &str) -> Response {
        let v = self.version;
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             xmlns:platformCore=\"urn:core_{v}.platform.webservices.netsuite.com\" \
             xmlns:platformMsgs=\"urn:messages_{v}.platform.webservices.netsuite.com\">\
             <soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
        );
        wire::soap_response(StatusCode::OK, xml)
    }

    fn server_time(&self) -> Response {
        let now = tessera_core::model::Timestamp::now().to_rfc3339();
        self.envelope(&format!(
            "<platformMsgs:getServerTimeResponse><platformMsgs:getServerTimeResult>\
             <platformCore:status isSuccess=\"true\"/>\
             <platformCore:serverTime>{now}</platformCore:serverTime>\
             </platformMsgs:getServerTimeResult></platformMsgs:getServerTimeResponse>"
        ))
    }

    fn data_center_urls(&self) -> Response {
        let domain = self.public_origin();
        let domain = escape(&domain);
        self.envelope(&format!(
            "<platformMsgs:getDataCenterUrlsResponse><platformMsgs:getDataCenterUrlsResult>\
             <platformCore:status isSuccess=\"true\"/><platformCore:dataCenterUrls>\
             <platformCore:restDomain>{domain}</platformCore:restDomain>\
             <platformCore:webservicesDomain>{domain}</platformCore:webservicesDomain>\
             <platformCore:systemDomain>{domain}</platformCore:systemDomain>\
             </platformCore:dataCenterUrls></platformMsgs:getDataCenterUrlsResult>\
             </platformMsgs:getDataCenterUrlsResponse>"
        ))
    }

    fn caller(&self, identity: &Identity) -> Response {
        self.envelope(&format!(
            "<platformMsgs:getResponse><platformMsgs:readResponse>\
             <platformCore:status isSuccess=\"true\"/>\
             <platformCore:record internalId=\"{}\" account=\"{}\" roleId=\"{}\" role=\"{}\">\
             <platformCore:entityId>{}</platformCore:entityId>\
             <platformCore:email>{}</platformCore:email>\
             <platformCore:application>{}</platformCore:application>\
             <platformCore:tokenName>{}</platformCore:tokenName>\
             </platformCore:record></platformMsgs:readResponse></platformMsgs:getResponse>",
            identity.user,
            escape(identity.account.as_str()),
            identity.role,
            escape(&identity.role_name),
            escape(&identity.user_name),
            escape(&identity.email),
            escape(&identity.application_name),
            escape(&identity.token_name),
        ))
    }

    fn public_origin(&self) -> String {
        super::discovery::origin(self.state, self.received)
    }
}

#[cfg(test)]
mod tests {
    use super::version_of;

    #[test]
    fn versions_are_a_year_and_a_release() {
        assert_eq!(version_of("NetSuitePort_2024_2"), Some("2024_2"));
        assert_eq!(version_of("NetSuitePort_2024"), None);
        assert_eq!(version_of("NetSuitePort_24_2"), None);
        assert_eq!(version_of("NetSuitePort_2024_22"), None);
        assert_eq!(version_of("Other_2024_2"), None);
    }
}
