//! `tessera check-signature`: a signature debugger. Recomputes the base string of a request from
//! its Authorization header and says exactly why the signature is or is not valid.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use tessera_oauth1::signature::legacy;
use tessera_oauth1::verify::{self, DEFAULT_TIMESTAMP_WINDOW_SECS};
use tessera_oauth1::{
    AuthorizationHeader, Clock, Profile, ProtocolParams, Rejection, RequestParts, RequestUrl,
    Scheme, SignatureMethod, SigningKey, SystemClock, check_body_hash,
};

use crate::Output;
use crate::common::{SecretArg, prepare_url, read_body_file, timestamp_warning};

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Consumer secret (or set TESSERA_CONSUMER_SECRET).
    #[arg(
        long,
        value_name = "CS",
        env = "TESSERA_CONSUMER_SECRET",
        hide_env_values = true
    )]
    consumer_secret: SecretArg,
    /// Token secret (or set TESSERA_TOKEN_SECRET); leave out for a request signed with the
    /// consumer secret alone (the request-token step).
    #[arg(
        long,
        value_name = "TS",
        env = "TESSERA_TOKEN_SECRET",
        hide_env_values = true
    )]
    token_secret: Option<SecretArg>,
    /// The Authorization header value (`OAuth realm="…", …`); a leading `Authorization:` is
    /// accepted.
    #[arg(long, value_name = "HEADER")]
    authorization: String,
    /// The request's application/x-www-form-urlencoded body.
    #[arg(long, value_name = "STR", conflicts_with = "body_file")]
    form_body: Option<String>,
    /// The request body read from a file (signed when --content-type is form-encoded; checked
    /// against oauth_body_hash when the header has one).
    #[arg(long, value_name = "PATH")]
    body_file: Option<PathBuf>,
    /// The request's Content-Type (decides whether the body's parameters are signed).
    #[arg(long, value_name = "CT")]
    content_type: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: Output,
    /// Compare with the base string the server computed for this refused request: the ID of
    /// its Login Audit Trail row, kept while the signature debugger was open (read with
    /// --profile).
    #[arg(long, value_name = "ID")]
    audit_id: Option<i64>,
    /// With --audit-id: the base string your code signed (from its log or debugger), compared
    /// with the server's instead of the one recomputed here from the request; `@FILE` reads it.
    #[arg(long, value_name = "STR", requires = "audit_id")]
    base_string: Option<String>,
    /// The profile that reads the audit trail, with --audit-id.
    #[arg(long, env = "TESSERA_PROFILE", default_value = crate::profile::DEFAULT_PROFILE)]
    profile: String,
    /// HTTP method of the request.
    #[arg(value_name = "METHOD")]
    method: String,
    /// Absolute URL of the request, query included.
    #[arg(value_name = "URL")]
    url: String,
}

#[derive(Debug, Serialize)]
struct CheckOutput<'a> {
    valid: bool,
    base_string: &'a str,
    /// The Detail code a server would record (`null` when valid).
    detail: Option<&'static str>,
    /// The reason in words (`null` when valid).
    message: Option<String>,
    signature_matches: bool,
    expected_signature: &'a str,
    received_signature: &'a str,
    warnings: &'a [String],
    /// With --audit-id: the server's base string and where yours differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<&'a ServerComparison>,
}

fn is_form_content_type(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(FORM_CONTENT_TYPE))
}

pub fn run(args: &CheckArgs) -> Result<bool> {
    let mut warnings = Vec::new();
    let url_text = prepare_url(&args.url, &mut warnings);
    let url = RequestUrl::parse(&url_text).context("invalid URL")?;

    let header_text = strip_header_name(&args.authorization);
    let header =
        AuthorizationHeader::parse(header_text).context("malformed Authorization header")?;
    let params = ProtocolParams::from_header(&header).context("malformed Authorization header")?;

    let file_body = args.body_file.as_deref().map(read_body_file).transpose()?;
    let form = match (&args.form_body, &args.content_type) {
        (Some(_), Some(ct)) if !is_form_content_type(ct) => {
            bail!("--form-body is a {FORM_CONTENT_TYPE} body, but --content-type says {ct:?}")
        }
        (Some(_), _) => true,
        (None, Some(ct)) => is_form_content_type(ct),
        (None, None) => false,
    };
    let body: &[u8] = match (&args.form_body, &file_body) {
        (Some(form_body), _) => form_body.as_bytes(),
        (None, Some(bytes)) => bytes,
        (None, None) => b"",
    };
    if form && file_body.is_none() && args.form_body.is_none() {
        warnings.push("--content-type is form-encoded but no body was given".to_owned());
    }
    let parts = RequestParts {
        method: &args.method,
        url,
        form_body: form.then_some(body),
        body,
    };
    let base_string = parts
        .base_string(&header)
        .context("cannot build the base string")?;

    let consumer_secret = args.consumer_secret.0.expose();
    let token_secret = args.token_secret.as_ref().map_or("", |s| s.0.expose());
    let key = SigningKey::new(consumer_secret, token_secret);
    let expected = key.sign(base_string.as_bytes()).to_base64();
    let signature_matches = key.verify(base_string.as_bytes(), params.signature);

    let now = SystemClock.now_unix();
    if let Ok(timestamp) = verify::parse_timestamp(params.timestamp) {
        warnings.extend(timestamp_warning(
            timestamp,
            now,
            DEFAULT_TIMESTAMP_WINDOW_SECS,
        ));
    }
    if params.token.is_none() {
        warnings.push("the header has no oauth_token: checked as a request-token call".to_owned());
    }

    // The order a server checks in: protocol rules, then the signature, then the body hash.
    let rejection = Profile::default()
        .check(&params, None)
        .err()
        .or_else(|| (!signature_matches).then_some(Rejection::InvalidSignature))
        .or_else(|| {
            params
                .body_hash
                .and_then(|hash| check_body_hash(hash, body).err())
                .map(Rejection::BodyHash)
        });
    let mut message = rejection
        .as_ref()
        .map(|r| explain(r, &params, consumer_secret, token_secret, &base_string));
    if let (Some(Rejection::InvalidSignature), Some(message)) = (&rejection, &mut message) {
        let hint = diagnose(&parts, &header, &params, consumer_secret, token_secret);
        if let Some(hint) = hint {
            message.push_str("\nhint: ");
            message.push_str(&hint);
        }
    }
    let valid = rejection.is_none();
    // The server's side, when asked for: where the two base strings part, and why.
    let theirs = match args.base_string.as_deref() {
        Some(file) if file.starts_with('@') => Some(
            std::fs::read_to_string(&file[1..])
                .with_context(|| format!("cannot read {}", &file[1..]))?,
        ),
        other => other.map(str::to_owned),
    };
    let server = args
        .audit_id
        .map(|id| {
            server_comparison(
                &args.profile,
                id,
                theirs.as_deref().unwrap_or(&base_string),
                theirs.is_some(),
            )
        })
        .transpose()?;

    for w in &warnings {
        eprintln!("warning: {w}");
    }
    match args.output {
        Output::Json => {
            let out = CheckOutput {
                valid,
                base_string: &base_string,
                detail: rejection.as_ref().map(|r| r.detail().as_str()),
                message,
                signature_matches,
                expected_signature: &expected,
                received_signature: params.signature,
                warnings: &warnings,
                server: server.as_ref(),
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Output::Text => {
            match (&rejection, &message) {
                (Some(r), Some(m)) => println!("INVALID ({}): {m}\n", r.detail()),
                _ => {
                    println!("VALID: the signature matches and the request follows the TBA rules\n")
                }
            }
            println!("Base string:\n{base_string}\n");
            println!("Expected signature: {expected}");
            println!("Received signature: {}", params.signature);
            if let Some(s) = &server {
                println!(
                    "\nThe server's base string (audit row {}):\n{}\n",
                    s.audit_id, s.base_string
                );
                match s.first_difference {
                    None if s.given => println!(
                        "The same as the one your code signed (credentials masked): the strings \
                         agree, so the key differs — check both secrets."
                    ),
                    None => println!(
                        "The same as the one recomputed here from the request you gave: the \
                         request arrived as you describe it. Either your code signed another \
                         string than this (pass it with --base-string to see where they part), or \
                         the secrets differ."
                    ),
                    Some(at) => {
                        println!("They first differ at byte {at}:");
                        println!("  server: …{}", excerpt(&s.base_string, at));
                        println!("  yours:  …{}", excerpt(&s.yours, at));
                        for cause in &s.causes {
                            println!("- {}", cause.explanation);
                        }
                    }
                }
            }
        }
    }
    Ok(valid)
}

/// The comparison with what the server kept.
#[derive(Debug, Serialize)]
struct ServerComparison {
    audit_id: i64,
    /// Whether `yours` is the base string given with --base-string (else: recomputed here).
    given: bool,
    /// The server's base string (credentials masked).
    base_string: String,
    /// Yours, masked the same way.
    yours: String,
    /// Byte offset of the first difference; `null`: the same.
    first_difference: Option<usize>,
    causes: Vec<CauseOut>,
}

#[derive(Debug, Serialize)]
struct CauseOut {
    code: &'static str,
    explanation: &'static str,
}

fn server_comparison(
    profile: &str,
    id: i64,
    base_string: &str,
    given: bool,
) -> Result<ServerComparison> {
    let api = crate::api::Api::new(crate::profile::load(profile)?);
    let capture = api
        .get::<tessera_api::audit::SignatureCaptureView>(&format!("/api/v1/audit/{id}/signature"))?
        .value;
    let server = tessera_oauth1::debug::ServerSide {
        base_string: capture.base_string,
        query_params: capture.query_params,
        form_params: capture.form_params,
        form_body_signed: capture.form_body_signed,
        realm_sent: capture.realm_sent,
    };
    let compared = tessera_oauth1::debug::compare(&server, base_string);
    Ok(ServerComparison {
        audit_id: id,
        given,
        yours: tessera_oauth1::debug::mask_credentials(base_string),
        base_string: server.base_string,
        first_difference: compared.first_difference,
        causes: compared
            .causes
            .iter()
            .map(|c| CauseOut {
                code: c.code(),
                explanation: c.explain(),
            })
            .collect(),
    })
}

/// Up to 60 characters of `s` from byte `at` (a character boundary).
fn excerpt(s: &str, at: usize) -> String {
    s.get(at..).unwrap_or("").chars().take(60).collect()
}

/// Looks for the usual client mistakes by checking the signature against variants of the request
/// and of the key; says which one the client must have signed.
fn diagnose(
    parts: &RequestParts<'_>,
    header: &AuthorizationHeader<'_>,
    params: &ProtocolParams<'_>,
    consumer_secret: &str,
    token_secret: &str,
) -> Option<String> {
    let matches = |parts: &RequestParts<'_>, key: &SigningKey| {
        parts
            .base_string(header)
            .is_ok_and(|base| key.verify(base.as_bytes(), params.signature))
    };
    let key = SigningKey::new(consumer_secret, token_secret);
    if matches(parts, &SigningKey::new(token_secret, consumer_secret)) {
        return Some("the signature matches with the consumer and token secrets swapped".into());
    }
    if !token_secret.is_empty() && matches(parts, &SigningKey::consumer_only(consumer_secret)) {
        return Some(
            "the signature matches with an empty token secret (key `consumer_secret&`)".into(),
        );
    }
    let base_uri = parts.url.base_uri();
    let query = parts
        .url
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let other_scheme = match parts.url.scheme() {
        Scheme::Http => "https",
        Scheme::Https => "http",
    };
    let (_, after_scheme) = base_uri.split_once("://")?;
    let variants = [
        (
            format!("{other_scheme}://{after_scheme}{query}"),
            format!(
                "the signature matches an {other_scheme} URL: the client signed another scheme \
                 than the request used (behind a TLS-terminating proxy, sign the URL the client calls)"
            ),
        ),
        (
            base_uri.clone(),
            "the signature matches without the query parameters: the client must sign them too"
                .to_owned(),
        ),
    ];
    for (url, hint) in variants {
        let Ok(url) = RequestUrl::parse(&url) else {
            continue;
        };
        let variant = RequestParts {
            url,
            ..parts.clone()
        };
        if matches(&variant, &key) {
            return Some(hint);
        }
    }
    if !parts.body.is_empty() {
        let toggled = RequestParts {
            form_body: if parts.form_body.is_some() {
                None
            } else {
                Some(parts.body)
            },
            ..parts.clone()
        };
        if matches(&toggled, &key) {
            return Some(if parts.form_body.is_some() {
                "the signature matches without the form body: the client did not sign it as \
                 application/x-www-form-urlencoded parameters"
                    .into()
            } else {
                "the signature matches with the body signed as form parameters: pass \
                 --content-type application/x-www-form-urlencoded"
                    .into()
            });
        }
    }
    None
}

/// `Authorization: OAuth …` → `OAuth …`.
fn strip_header_name(value: &str) -> &str {
    let trimmed = value.trim();
    match trimmed.split_once(':') {
        Some((name, rest)) if name.trim().eq_ignore_ascii_case("authorization") => rest.trim(),
        _ => trimmed,
    }
}

/// The rejection in words, with a hint where one helps.
fn explain(
    rejection: &Rejection,
    params: &ProtocolParams<'_>,
    consumer_secret: &str,
    token_secret: &str,
    base_string: &str,
) -> String {
    match rejection {
        Rejection::UnsupportedSignatureMethod { .. }
            if SignatureMethod::parse(params.signature_method) == SignatureMethod::HmacSha1 =>
        {
            let sha1_matches = legacy::verify_hmac_sha1(
                consumer_secret,
                token_secret,
                base_string.as_bytes(),
                params.signature,
            );
            format!(
                "{rejection}; the HMAC-SHA1 signature {} (NetSuite ended HMAC-SHA1 in 2023.1: \
                 sign with HMAC-SHA256)",
                if sha1_matches {
                    "is otherwise correct"
                } else {
                    "does not match either"
                }
            )
        }
        Rejection::InvalidSignature => format!(
            "{rejection}: it was not computed over this base string with these secrets; compare \
             the base string with the one your client signed (method, scheme, host, port, path \
             as sent, every query and form parameter) and check both secrets"
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_name_is_optional() {
        assert_eq!(
            strip_header_name("Authorization: OAuth a=\"b\""),
            "OAuth a=\"b\""
        );
        assert_eq!(
            strip_header_name("authorization:OAuth a=\"b\""),
            "OAuth a=\"b\""
        );
        assert_eq!(strip_header_name("  OAuth a=\"b:c\" "), "OAuth a=\"b:c\"");
    }

    #[test]
    fn form_content_type_ignores_parameters_and_case() {
        assert!(is_form_content_type("application/x-www-form-urlencoded"));
        assert!(is_form_content_type(
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8"
        ));
        assert!(!is_form_content_type("application/json"));
        assert!(!is_form_content_type("multipart/form-data"));
    }
}
