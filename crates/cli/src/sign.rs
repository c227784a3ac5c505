//! `tessera sign`: sign a request the way a NetSuite TBA client does.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;
use tessera_oauth1::verify::{self, DEFAULT_TIMESTAMP_WINDOW_SECS};
use tessera_oauth1::{BodyHashAlgorithm, Clock, RequestToSign, Signer, SystemClock};

use crate::Output;
use crate::common::{SecretArg, prepare_url, read_body_file, timestamp_warning};

#[derive(Debug, Args)]
pub struct SignArgs {
    /// Print the signed request instead of sending it (required in this version).
    #[arg(long, required = true)]
    dry_run: bool,
    /// Consumer key of the integration record.
    #[arg(long, value_name = "CK")]
    consumer_key: String,
    /// Consumer secret (or set TESSERA_CONSUMER_SECRET to keep it out of the shell history).
    #[arg(
        long,
        value_name = "CS",
        env = "TESSERA_CONSUMER_SECRET",
        hide_env_values = true
    )]
    consumer_secret: SecretArg,
    /// Token id of the access token.
    #[arg(long, value_name = "T")]
    token: String,
    /// Token secret (or set TESSERA_TOKEN_SECRET).
    #[arg(
        long,
        value_name = "TS",
        env = "TESSERA_TOKEN_SECRET",
        hide_env_values = true
    )]
    token_secret: SecretArg,
    /// The realm: the account id, e.g. 1234567 or 1234567_SB1 (not signed, but checked).
    #[arg(long, value_name = "R")]
    realm: Option<String>,
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

pub fn run(args: &SignArgs) -> Result<()> {
    let mut warnings = Vec::new();
    let url = prepare_url(&args.url, &mut warnings);
    let body = args.body_file.as_deref().map(read_body_file).transpose()?;
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
    if body.is_some() && args.body_hash.is_none() {
        warnings.push(
            "the --body-file is not signed; add --body-hash to sign its hash, or pass form \
             parameters with --form-body"
                .to_owned(),
        );
    }

    let mut signer = Signer::new(
        &args.consumer_key,
        &args.consumer_secret.0,
        &args.token,
        &args.token_secret.0,
    );
    if let Some(realm) = &args.realm {
        if realm.bytes().any(|b| b.is_ascii_control()) {
            bail!("--realm cannot contain control characters");
        }
        signer = signer.with_realm(realm);
    }
    let signed = signer
        .sign(&RequestToSign {
            method: &args.method,
            url: &url,
            form_body: args.form_body.as_deref().map(str::as_bytes),
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
    Ok(())
}
