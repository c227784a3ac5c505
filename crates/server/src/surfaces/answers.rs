//! What an accepted request is told: who is calling (the echo RESTlet, REST web services, the
//! verification API) and what it sent.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use tessera_core::verifier::Identity;

use crate::edge::Received;

/// Who is calling, as the echo and the verification API render it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct IdentityView<'a> {
    account: &'a str,
    integration: Named<'a>,
    role: Named<'a>,
    token: Named<'a>,
    /// RFC 3339: when the token expires (R16); absent when it never does.
    #[serde(rename = "tokenExpiresAt", skip_serializing_if = "Option::is_none")]
    token_expires_at: Option<String>,
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
    pub(super) fn of(identity: &'a Identity) -> Self {
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
            token_expires_at: identity.expires_at.map(|at| at.to_rfc3339()),
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
pub(super) fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
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

pub(super) fn echo(received: &Received, identity: &Identity) -> Response {
    let (path, query) = received
        .path_and_query
        .split_once('?')
        .unwrap_or((&received.path_and_query, ""));
    let content_type = received.header(&header::CONTENT_TYPE).unwrap_or("");
    json_response(
        StatusCode::OK,
        &EchoView {
            identity: IdentityView::of(identity),
            method: received.method().as_str(),
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
    /// A verified request's query, decoded already once, strictly, for its signature; one that
    /// could not be is shown empty.
    fn parse(query: &'a str) -> Self {
        let mut params: Vec<(Cow<'a, str>, Vec<Cow<'a, str>>)> = Vec::new();
        let Ok(pairs) = crate::form::pairs(query.as_bytes()) else {
            return Self(params);
        };
        for (name, value) in pairs.map_while(Result::ok) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeated_query_names_become_arrays() {
        assert_eq!(
            serde_json::to_value(QueryView::parse("a=1&b=x+y&a=2&c=%E2%82%AC&a=3&d")).unwrap(),
            json!({"a": ["1", "2", "3"], "b": "x y", "c": "€", "d": ""})
        );
    }
}
