//! The admin API from the command line: every call signed with the profile's token (TBA, as
//! any client of the server), its answer read into the contract's types (`tessera_api`). An
//! answer that does not fit them is an error naming where it differs — a server of another
//! version — never a blank in the output.

use std::fmt;

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tessera_api::ErrorBody;
use tessera_oauth1::RequestToSign;
use tessera_oauth1::body_hash::BodyHashAlgorithm;

use crate::profile::Profile;

/// The server refused a call: its status, stable code and message (and field, when named).
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.message, self.code)?;
        if let Some(field) = &self.field {
            write!(f, ", field {field}")?;
        }
        write!(f, ", HTTP {})", self.status)?;
        if self.code == "INVALID_LOGIN_ATTEMPT" {
            // The server tells no more (RULES.md §3.1); say where the reason is.
            write!(
                f,
                "\nThe profile's token was refused: it may be revoked, inactive or expired, or \
                 this address may not be in an IP allow-list. The Login Audit Trail (web UI) \
                 says which; `tessera login` gets a new token."
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Refused {}

/// A client of one profile's server.
pub struct Api {
    profile: Profile,
    agent: ureq::Agent,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("profile", &self.profile)
            .finish()
    }
}

/// What the CLI's admin calls say they are.
pub const USER_AGENT: &str = concat!("tessera-cli/", env!("CARGO_PKG_VERSION"));
/// How long an admin call may take.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// An HTTP client that hands every status back (no error for 4xx/5xx) and follows no
/// redirect: a signed request must reach the URL it was signed for.
pub fn agent(user_agent: &str, timeout: std::time::Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .user_agent(user_agent)
        .build()
        .into()
}

/// Reads a response: its status and its body as JSON (`Null` when empty).
pub fn read_json(response: ureq::http::Response<ureq::Body>) -> Result<(u16, Value)> {
    let status = response.status().as_u16();
    let mut response = response;
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .context("cannot read the server's answer")?;
    if body.is_empty() {
        return Ok((status, Value::Null));
    }
    let value = serde_json::from_slice(&body).with_context(|| {
        format!(
            "the server answered HTTP {status} with something that is not JSON: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )
    })?;
    Ok((status, value))
}

/// An error answer as [`Refused`]; an error body this CLI does not understand is shown as
/// the server sent it.
pub fn refused(status: u16, body: &Value) -> Refused {
    match serde_json::from_value::<ErrorBody>(body.clone()) {
        Ok(ErrorBody { error }) => Refused {
            status,
            code: error.code.as_str().to_owned(),
            message: error.message,
            field: error.field,
        },
        Err(e) => Refused {
            status,
            code: "HTTP_ERROR".to_owned(),
            message: if body.is_null() {
                format!("the server answered HTTP {status}")
            } else {
                let raw: String = body.to_string().chars().take(300).collect();
                format!(
                    "the server answered HTTP {status} with an error this CLI does not understand \
                     ({e}): {raw}"
                )
            },
            field: None,
        },
    }
}

/// A typed answer with the JSON it was read from (printed as is with `--output json`).
#[derive(Debug)]
pub struct Answer<T> {
    pub raw: Value,
    pub value: T,
}

/// `value` read as `T`, or an error that says where the answer and this CLI's contract differ.
pub fn typed<T: DeserializeOwned>(what: &str, value: Value) -> Result<Answer<T>> {
    let typed = serde_path_to_error::deserialize(&value).map_err(|e| {
        let at = e.path().to_string();
        anyhow!(
            "the server's answer to {what} does not match this CLI's API contract at `{at}`: {} \
             (is the server another version than {USER_AGENT}?)",
            e.into_inner()
        )
    })?;
    Ok(Answer {
        raw: value,
        value: typed,
    })
}

impl Api {
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            agent: agent(USER_AGENT, TIMEOUT),
        }
    }

    /// A signed GET, its answer read as `T`.
    pub fn get<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<Answer<T>> {
        self.call("GET", path_and_query, None::<&()>)
    }

    /// A signed request with an optional JSON body, its answer read as `T`. A refusal is an
    /// error of type [`Refused`].
    pub fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&B>,
    ) -> Result<Answer<T>> {
        let value = self.call_json(method, path_and_query, body)?;
        typed(&format!("{method} {path_and_query}"), value)
    }

    /// A signed request; the answer as JSON (for the endpoints outside the admin API).
    pub fn call_json<B: Serialize>(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&B>,
    ) -> Result<Value> {
        let url = self.profile.url(path_and_query);
        // OAuth 1.0a signs form bodies only: a JSON body is bound to the signature by its
        // SHA-256 `oauth_body_hash`, which the admin API requires.
        let body = body
            .map(serde_json::to_string)
            .transpose()
            .context("cannot write the request body")?;
        let authorization = self
            .profile
            .signer()
            .authorization(&RequestToSign {
                method,
                url: &url,
                body_hash: body
                    .as_deref()
                    .map(|b| (BodyHashAlgorithm::Sha256, b.as_bytes())),
                ..RequestToSign::default()
            })
            .with_context(|| format!("cannot sign the request to {url}"))?;
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Authorization", authorization);
        let response = match body {
            Some(body) => self.agent.run(
                request
                    .header("Content-Type", "application/json")
                    .body(body)
                    .context("cannot build the request")?,
            ),
            None => self
                .agent
                .run(request.body(()).context("cannot build the request")?),
        }
        .with_context(|| format!("cannot reach {}", self.profile.url))?;
        let (status, value) = read_json(response)?;
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            Err(refused(status, &value).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_code_message_and_field() {
        let body = serde_json::json!({"error": {"code": "INVALID_FIELD", "message": "invalid limit", "field": "limit"}});
        let r = refused(400, &body);
        assert_eq!(
            r.to_string(),
            "invalid limit (INVALID_FIELD, field limit, HTTP 400)"
        );
        let r = refused(502, &Value::Null);
        assert_eq!(r.code, "HTTP_ERROR");
        let r = refused(
            400,
            &serde_json::json!({"error": {"code": "NEW_CODE", "message": "m"}}),
        );
        assert!(r.message.contains("does not understand") && r.message.contains("NEW_CODE"));
    }

    #[test]
    fn an_answer_that_does_not_fit_the_contract_names_where() {
        let renamed = serde_json::json!({"items": [{"id": 1, "nom": "x"}]});
        let e = typed::<tessera_api::tokens::TokenPageView>("GET /api/v1/tokens", renamed)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("GET /api/v1/tokens") && e.contains("items[0]"),
            "{e}"
        );
    }
}
