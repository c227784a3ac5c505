//! `tessera sign`: sign a request the way a NetSuite TBA client does.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;
use tessera_oauth1::verify::{self, DEFAULT_TIMESTAMP_WINDOW_SECS};
use tessera_oauth1::{BodyHashAlgorithm, Clock, RequestToSign, SecretString, Signer, SystemClock};

use crate::Output;
use crate::common::{SecretArg, prepare_url, read_body_file, timestamp_warning};

#[derive(Debug, Args)]
pub struct SignArgs {
    /// Print the signed request (base string, signature, header) instead of sending it.
    #[arg(long)]
    dry_run: bool,
    /// Request body, sent as given. Its parameters are signed when the content type is
    /// application/x-www-form-urlencoded, which is the default with a body (as curl does).
    /// `@PATH` reads the body from a file.
    #[arg(short = 'd', long = "data", value_name = "DATA", conflicts_with_all = ["form_body", "body_file"])]
    data: Option<String>,
    /// A request header, `Name: value`; repeat for more.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// Print the response's status line and headers before its body.
    #[arg(short = 'i', long)]
    include: bool,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
    #[command(flatten)]
    credentials: CredentialArgs,
    /// Use this nonce instead of a fresh random one (to reproduce a signature).
    #[arg(long, value_name = "N")]
    nonce: Option<String>,
    /// Use this timestamp (Unix seconds) instead of the clock.
    #[arg(long, value_name = "TS")]
    timestamp: Option<u64>,
    /// An application/x-www-form-urlencoded body; its parameters are signed.
    #[arg(long, value_name = "STR", conflicts_with = "body_file")]
    form_body: Option<String>,
    /// A body of any other type (JSON, XML…); it is not signed unless --body-hash is given.
    #[arg(long, value_name = "PATH")]
    body_file: Option<PathBuf>,
    /// Add a signed oauth_body_hash of the --body-file.
    #[arg(long, value_name = "ALG", requires = "body_file")]
    body_hash: Option<BodyHashArg>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: Output,
    /// HTTP method (GET, POST, PUT, DELETE…).
    #[arg(value_name = "METHOD")]
    method: String,
    /// Absolute URL, query included, as it will be sent.
    #[arg(value_name = "URL")]
    url: String,
}

/// The four credentials and the realm, as options or from a profile: `sign` and `soap`.
#[derive(Debug, Args)]
pub struct CredentialArgs {
    /// Take the credentials (and the realm) from this profile of `tessera login`; the
    /// options below override what it holds.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Consumer key of the integration record.
    #[arg(long, value_name = "CK")]
    consumer_key: Option<String>,
    /// Consumer secret (or set TESSERA_CONSUMER_SECRET to keep it out of the shell history).
    #[arg(
        long,
        value_name = "CS",
        env = "TESSERA_CONSUMER_SECRET",
        hide_env_values = true
    )]
    consumer_secret: Option<SecretArg>,
    /// Token id of the access token.
    #[arg(long, value_name = "T")]
    token: Option<String>,
    /// Token secret (or set TESSERA_TOKEN_SECRET).
    #[arg(
        long,
        value_name = "TS",
        env = "TESSERA_TOKEN_SECRET",
        hide_env_values = true
    )]
    token_secret: Option<SecretArg>,
    /// The realm: the account id, e.g. 1234567 or 1234567_SB1 (not signed, but checked).
    #[arg(long, value_name = "R")]
    realm: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BodyHashArg {
    Sha1,
    Sha256,
}

impl From<BodyHashArg> for BodyHashAlgorithm {
    fn from(arg: BodyHashArg) -> Self {
        match arg {
            BodyHashArg::Sha1 => Self::Sha1,
            BodyHashArg::Sha256 => Self::Sha256,
        }
    }
}

#[derive(Debug, Serialize)]
struct SignOutput<'a> {
    method: &'a str,
    url: &'a str,
    normalized_parameters: &'a str,
    base_string: &'a str,
    signature: &'a str,
    authorization: &'a str,
    nonce: &'a str,
    timestamp: u64,
    warnings: &'a [String],
}

/// What is sent: the body and its content type.
struct Payload {
    body: Option<Vec<u8>>,
    content_type: Option<String>,
    /// The body's parameters are signed.
    form: bool,
}

fn split_header(h: &str) -> Result<(&str, &str)> {
    let (name, value) = h
        .split_once(':')
        .with_context(|| format!("header {h:?} must look like `Name: value`"))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        bail!("header name {name:?} is not valid");
    }
    Ok((name, value.trim()))
}

fn payload(args: &SignArgs) -> Result<Payload> {
    let explicit_type = args
        .headers
        .iter()
        .filter_map(|h| split_header(h).ok())
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.to_owned());
    let is_form = |ct: Option<&str>| {
        ct.is_some_and(|ct| {
            ct.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
    };
    if let Some(form) = &args.form_body {
        return Ok(Payload {
            body: Some(form.clone().into_bytes()),
            form: true,
            content_type: Some(
                explicit_type.unwrap_or_else(|| "application/x-www-form-urlencoded".to_owned()),
            ),
        });
    }
    if let Some(data) = &args.data {
        let body = match data.strip_prefix('@') {
            Some(path) => read_body_file(std::path::Path::new(path))?,
            None => data.clone().into_bytes(),
        };
        let content_type =
            explicit_type.unwrap_or_else(|| "application/x-www-form-urlencoded".to_owned());
        return Ok(Payload {
            form: is_form(Some(&content_type)),
            body: Some(body),
            content_type: Some(content_type),
        });
    }
    if let Some(path) = &args.body_file {
        return Ok(Payload {
            body: Some(read_body_file(path)?),
            form: is_form(explicit_type.as_deref()),
            content_type: explicit_type,
        });
    }
    Ok(Payload {
        body: None,
        content_type: explicit_type,
        form: false,
    })
}

/// The four credentials and the realm, from the options or a profile (options win).
pub struct Credentials {
    pub consumer_key: String,
    pub consumer_secret: SecretString,
    pub token: String,
    pub token_secret: SecretString,
    pub realm: Option<String>,
}

impl Credentials {
    pub fn of(args: &CredentialArgs) -> Result<Self> {
        let profile = args
            .profile
            .as_deref()
            .map(crate::profile::load)
            .transpose()?;
        let need = |what: &str| {
            anyhow::anyhow!(
                "give --{what}, or --profile NAME to take the credentials from a `tessera login` profile"
            )
        };
        let secret = |given: &Option<SecretArg>, saved: Option<&String>, what: &str| {
            given
                .as_ref()
                .map(|s| s.0.clone())
                .or_else(|| saved.map(|s| SecretString::from(s.as_str())))
                .ok_or_else(|| need(what))
        };
        Ok(Self {
            consumer_key: args
                .consumer_key
                .clone()
                .or_else(|| profile.as_ref().map(|p| p.consumer_key.clone()))
                .ok_or_else(|| need("consumer-key"))?,
            consumer_secret: secret(
                &args.consumer_secret,
                profile.as_ref().map(|p| &p.consumer_secret),
                "consumer-secret",
            )?,
            token: args
                .token
                .clone()
                .or_else(|| profile.as_ref().map(|p| p.token_id.clone()))
                .ok_or_else(|| need("token"))?,
            token_secret: secret(
                &args.token_secret,
                profile.as_ref().map(|p| &p.token_secret),
                "token-secret",
            )?,
            realm: args
                .realm
                .clone()
                .or_else(|| profile.as_ref().map(|p| p.account.clone())),
        })
    }
}

pub fn run(args: &SignArgs) -> Result<bool> {
    let mut warnings = Vec::new();
    let url = prepare_url(&args.url, &mut warnings);
    let payload = payload(args)?;
    let body = (!payload.form).then(|| payload.body.clone()).flatten();
    if let Some(Err(rejection)) = args.nonce.as_deref().map(verify::check_nonce) {
        warnings.push(format!("a server would refuse this request: {rejection}"));
    }
    let now = SystemClock.now_unix();
    if let Some(timestamp) = args.timestamp {
        warnings.extend(timestamp_warning(
            timestamp,
            now,
            DEFAULT_TIMESTAMP_WINDOW_SECS,
        ));
    }
    if body.is_some() && args.body_hash.is_none() && args.dry_run {
        warnings.push(
            "the --body-file is not signed; add --body-hash to sign its hash, or pass form \
             parameters with --form-body"
                .to_owned(),
        );
    }

    let credentials = Credentials::of(&args.credentials)?;
    let mut signer = Signer::new(
        &credentials.consumer_key,
        &credentials.consumer_secret,
        &credentials.token,
        &credentials.token_secret,
    );
    if let Some(realm) = &credentials.realm {
        if realm.bytes().any(|b| b.is_ascii_control()) {
            bail!("--realm cannot contain control characters");
        }
        signer = signer.with_realm(realm);
    }
    let signed = signer
        .sign(&RequestToSign {
            method: &args.method,
            url: &url,
            form_body: payload.form.then_some(payload.body.as_deref()).flatten(),
            body_hash: args
                .body_hash
                .zip(body.as_deref())
                .map(|(alg, body)| (alg.into(), body)),
            nonce: args.nonce.as_deref(),
            timestamp: Some(args.timestamp.unwrap_or(now)),
            extra_oauth_params: &[],
        })
        .context("cannot sign this request")?;

    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if !args.dry_run {
        return send(args, &url, &signed.authorization, payload);
    }
    match args.output {
        Output::Json => {
            let out = SignOutput {
                method: &args.method,
                url: &url,
                normalized_parameters: &signed.normalized_parameters,
                base_string: &signed.base_string,
                signature: &signed.signature,
                authorization: &signed.authorization,
                nonce: &signed.nonce,
                timestamp: signed.timestamp,
                warnings: &warnings,
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Output::Text => {
            println!("Normalized parameters:\n{}\n", signed.normalized_parameters);
            println!("Base string:\n{}\n", signed.base_string);
            println!("Signature (HMAC-SHA256, Base64):\n{}\n", signed.signature);
            println!("Authorization: {}", signed.authorization);
        }
    }
    Ok(true)
}

/// Sends the signed request and prints the answer. `Ok(true)` for a 2xx or 3xx status.
fn send(args: &SignArgs, url: &str, authorization: &str, payload: Payload) -> Result<bool> {
    use std::io::Write as _;
    let agent = crate::api::agent("tessera-sign", std::time::Duration::from_secs(args.timeout));
    let mut request = ureq::http::Request::builder()
        .method(args.method.as_str())
        .uri(url)
        .header("Authorization", authorization);
    for h in &args.headers {
        let (name, value) = split_header(h)?;
        if name.eq_ignore_ascii_case("authorization") {
            bail!("the Authorization header is made by the signer; do not pass one with -H");
        }
        if name.eq_ignore_ascii_case("content-type") {
            continue;
        }
        request = request.header(name, value);
    }
    if let Some(ct) = &payload.content_type {
        request = request.header("Content-Type", ct.as_str());
    }
    let response = match payload.body {
        Some(body) => agent.run(request.body(body).context("cannot build the request")?),
        None => agent.run(request.body(()).context("cannot build the request")?),
    }
    .with_context(|| format!("cannot send the request to {url}"))?;
    let status = response.status();
    let mut out = std::io::stdout().lock();
    let status_line = format!(
        "{:?} {} {}",
        response.version(),
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    if args.include {
        writeln!(out, "{status_line}")?;
        for (name, value) in response.headers() {
            writeln!(out, "{name}: {}", String::from_utf8_lossy(value.as_bytes()))?;
        }
        writeln!(out)?;
    } else {
        eprintln!("{status_line}");
    }
    let mut response = response;
    let body = response
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_vec()
        .context("cannot read the response body")?;
    out.write_all(&body)?;
    if !body.is_empty() && !body.ends_with(b"\n") {
        writeln!(out)?;
    }
    out.flush()?;
    Ok(status.is_success() || status.is_redirection())
}
