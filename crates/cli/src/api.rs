//! The admin API from the command line: every call signed with the profile's token (TBA, as
//! any client of the server), answers as aligned tables for people or as the API's JSON.

use std::fmt;

use anyhow::{Context, Result};
use serde_json::Value;
use tessera_oauth1::RequestToSign;
use tessera_oauth1::body_hash::BodyHashAlgorithm;

use crate::Output;
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
        write!(f, ", HTTP {})", self.status)
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

/// An error answer as [`Refused`].
pub fn refused(status: u16, body: &Value) -> Refused {
    let error = &body["error"];
    let text = |v: &Value| v.as_str().map(str::to_owned);
    Refused {
        status,
        code: text(&error["code"]).unwrap_or_else(|| "HTTP_ERROR".to_owned()),
        message: text(&error["message"])
            .unwrap_or_else(|| format!("the server answered HTTP {status}")),
        field: text(&error["field"]),
    }
}

impl Api {
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            agent: agent(USER_AGENT, TIMEOUT),
        }
    }

    /// Sends a signed request; a JSON body for POST/PATCH. A refusal is an error of type
    /// [`Refused`].
    pub fn call(&self, method: &str, path_and_query: &str, body: Option<&Value>) -> Result<Value> {
        let url = self.profile.url(path_and_query);
        // OAuth 1.0a signs form bodies only: a JSON body is bound to the signature by its
        // SHA-256 `oauth_body_hash`, which the admin API requires.
        let body = body.map(Value::to_string);
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

/// A column of a table: its heading and how to read it from a row.
pub struct Column {
    pub heading: &'static str,
    pub cell: fn(&Value) -> String,
}

/// A labelled line of a record: the label and how to read the value.
pub type Field = (&'static str, fn(&Value) -> String);

/// The text of a JSON value for a cell: strings bare, `null` empty.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        other => other.to_string(),
    }
}

/// Prints `rows` as an aligned table (or the JSON, with `--output json`).
pub fn print_table(output: Output, whole: &Value, rows: &[Value], columns: &[Column]) {
    if output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(whole).unwrap_or_default()
        );
        return;
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| columns.iter().map(|c| clean((c.cell)(row))).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.heading.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: Vec<&str>| {
        let mut out = String::new();
        for (i, v) in values.iter().enumerate() {
            if i + 1 == values.len() {
                out.push_str(v);
            } else {
                out.push_str(v);
                out.push_str(&" ".repeat(widths[i] - v.chars().count() + 2));
            }
        }
        println!("{}", out.trim_end());
    };
    line(columns.iter().map(|c| c.heading).collect());
    for row in &cells {
        line(row.iter().map(String::as_str).collect());
    }
    if rows.is_empty() {
        println!("(none)");
    }
}

/// Prints one record as `label: value` lines (or the JSON).
pub fn print_record(output: Output, value: &Value, fields: &[Field]) {
    if output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
        return;
    }
    let width = fields.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (label, cell) in fields {
        let v = clean(cell(value));
        if !v.is_empty() {
            println!("{label:<width$}  {v}");
        }
    }
}

/// Control characters out of a cell: a name cannot move the terminal's cursor.
fn clean(s: String) -> String {
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    } else {
        s
    }
}

/// Secrets shown once, with the warning that they will not be shown again.
pub fn print_secrets(output: Output, whole: &Value, pairs: &[(&str, &str)], warning: &str) {
    if output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(whole).unwrap_or_default()
        );
        return;
    }
    println!();
    let width = pairs.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (label, value) in pairs {
        println!("{label:<width$}  {value}");
    }
    eprintln!("\nwarning: {warning}");
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
    }

    #[test]
    fn cells_lose_control_characters() {
        assert_eq!(clean("a\u{1b}[2Jb".into()), "a [2Jb");
        assert_eq!(text(&serde_json::json!(true)), "yes");
        assert_eq!(text(&Value::Null), "");
    }
}
