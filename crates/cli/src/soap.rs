//! `tessera soap`: build a SOAP request with a TokenPassport header the way NetSuite documents
//! it, print what was signed, and send it — for integrators debugging their SOAP signature.

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;
use tessera_oauth1::verify::DEFAULT_TIMESTAMP_WINDOW_SECS;
use tessera_oauth1::{Clock, SigningKey, SystemClock, TokenPassport};

use crate::Output;
use crate::common::timestamp_warning;
use crate::sign::{CredentialArgs, Credentials};

#[derive(Debug, Args)]
pub struct SoapArgs {
    /// Print the passport's base string, signature and the envelope instead of sending it.
    #[arg(long)]
    dry_run: bool,
    /// The operation to call.
    #[arg(long, value_enum, default_value_t = Operation::GetServerTime)]
    operation: Operation,
    /// With getDataCenterUrls: the account to look up (default: the passport's).
    #[arg(long, value_name = "ACCOUNT")]
    lookup: Option<String>,
    #[command(flatten)]
    credentials: CredentialArgs,
    /// Use this nonce instead of a fresh random one (to reproduce a signature).
    #[arg(long, value_name = "N")]
    nonce: Option<String>,
    /// Use this timestamp (Unix seconds) instead of the clock.
    #[arg(long, value_name = "TS")]
    timestamp: Option<u64>,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
    /// Output format (of --dry-run).
    #[arg(long, value_enum, default_value_t)]
    output: Output,
    /// The endpoint, e.g. http://127.0.0.1:8080/services/NetSuitePort_2024_2.
    #[arg(value_name = "URL")]
    url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "verbatim")]
enum Operation {
    #[value(name = "getServerTime")]
    GetServerTime,
    #[value(name = "getDataCenterUrls")]
    GetDataCenterUrls,
    /// Tessera's `get` answers the calling user.
    #[value(name = "get")]
    Get,
}

#[derive(Serialize)]
struct DryRun<'a> {
    base_string: &'a str,
    signature: &'a str,
    envelope: &'a str,
    warnings: &'a [String],
}

/// `2024_2` from `…/services/NetSuitePort_2024_2`.
fn version_of(url: &str) -> Result<&str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .next()
        .and_then(|last| last.strip_prefix("NetSuitePort_"))
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'_'))
        .with_context(|| {
            format!(
                "{url:?} is not a SOAP endpoint such as http://HOST/services/NetSuitePort_2024_2"
            )
        })
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn run(args: &SoapArgs) -> Result<bool> {
    let version = version_of(&args.url)?;
    let credentials = Credentials::of(&args.credentials)?;
    let Some(account) = credentials.realm.as_deref() else {
        bail!("the passport names the account: give --realm ACCOUNT (or --profile)");
    };
    let mut warnings = Vec::new();
    let now = SystemClock.now_unix();
    let timestamp = args.timestamp.unwrap_or(now);
    warnings.extend(timestamp_warning(
        timestamp,
        now,
        DEFAULT_TIMESTAMP_WINDOW_SECS,
    ));
    let nonce = match &args.nonce {
        Some(n) => n.clone(),
        None => tessera_oauth1::signer::generate_nonce()
            .map_err(|e| anyhow::anyhow!("the system's random number generator failed: {e}"))?,
    };
    let timestamp = timestamp.to_string();
    let passport = TokenPassport {
        account,
        consumer_key: &credentials.consumer_key,
        token: &credentials.token,
        nonce: &nonce,
        timestamp: &timestamp,
    };
    if let Err(rejection) = passport.check_fields(None, None, DEFAULT_TIMESTAMP_WINDOW_SECS) {
        warnings.push(format!("a server would refuse this passport: {rejection}"));
    }
    let base_string = passport.base_string();
    let signature = passport.sign(&SigningKey::new(
        credentials.consumer_secret.expose(),
        credentials.token_secret.expose(),
    ));
    let body = match args.operation {
        Operation::GetServerTime => "<msg:getServerTime/>".to_owned(),
        Operation::GetDataCenterUrls => format!(
            "<msg:getDataCenterUrls><msg:account>{}</msg:account></msg:getDataCenterUrls>",
            xml(args.lookup.as_deref().unwrap_or(account))
        ),
        Operation::Get => "<msg:get><msg:baseRef type=\"employee\"/></msg:get>".to_owned(),
    };
    let envelope = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:msg=\"urn:messages_{version}.platform.webservices.netsuite.com\" \
         xmlns:core=\"urn:core_{version}.platform.webservices.netsuite.com\">\n\
         <soapenv:Header><msg:tokenPassport>\
         <core:account>{}</core:account><core:consumerKey>{}</core:consumerKey>\
         <core:token>{}</core:token><core:nonce>{}</core:nonce>\
         <core:timestamp>{timestamp}</core:timestamp>\
         <core:signature algorithm=\"HMAC-SHA256\">{signature}</core:signature>\
         </msg:tokenPassport></soapenv:Header>\n<soapenv:Body>{body}</soapenv:Body>\n</soapenv:Envelope>\n",
        xml(account),
        xml(&credentials.consumer_key),
        xml(&credentials.token),
        xml(&nonce),
    );
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if args.dry_run {
        match args.output {
            Output::Json => println!(
                "{}",
                serde_json::to_string_pretty(&DryRun {
                    base_string: &base_string,
                    signature: &signature,
                    envelope: &envelope,
                    warnings: &warnings,
                })?
            ),
            Output::Text => {
                println!("Base string:\n{base_string}\n");
                println!("Signature (HMAC-SHA256, Base64):\n{signature}\n");
                print!("Envelope:\n{envelope}");
            }
        }
        return Ok(true);
    }
    let soap_action = match args.operation {
        Operation::GetServerTime => "getServerTime",
        Operation::GetDataCenterUrls => "getDataCenterUrls",
        Operation::Get => "get",
    };
    let agent = crate::api::agent("tessera-soap", std::time::Duration::from_secs(args.timeout));
    let request = ureq::http::Request::builder()
        .method("POST")
        .uri(&args.url)
        .header("Content-Type", "text/xml; charset=utf-8")
        .header("SOAPAction", soap_action)
        .body(envelope.into_bytes())
        .context("cannot build the request")?;
    let mut response = agent
        .run(request)
        .with_context(|| format!("cannot reach {}", args.url))?;
    let status = response.status();
    let text = response
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_string()
        .context("cannot read the answer")?;
    eprintln!("HTTP {}", status.as_u16());
    println!("{text}");
    Ok(status.is_success())
}

#[cfg(test)]
mod tests {
    use super::version_of;

    #[test]
    fn the_version_comes_from_the_endpoint() {
        assert_eq!(
            version_of("http://h:1/services/NetSuitePort_2024_2").unwrap(),
            "2024_2"
        );
        assert!(version_of("http://h:1/services/rest/x").is_err());
    }
}
