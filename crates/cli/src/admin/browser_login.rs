//! `tessera login --browser`: the CLI runs the three-step authorization flow itself with the
//! built-in "Tessera CLI" record, the way SuiteCloud CLI's browser-based setup does — a
//! request token for a loopback callback, the consent page opened in the user's browser
//! (where the password is typed, never into the terminal), the callback caught on
//! `127.0.0.1`, the access token fetched and checked with a signed call, the profile saved.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tessera_core::bootstrap::{CLI_CONSUMER_KEY, CLI_CONSUMER_SECRET};
use tessera_oauth1::{RequestToSign, SecretString, Signer};

use crate::api;
use crate::profile::{self, Profile};

/// How long the CLI waits for the consent: less than a request token lives (ten minutes).
const CONSENT_WAIT: Duration = Duration::from_secs(540);
/// How long one connection to the loopback listener may take to send its request line.
const CALLBACK_READ: Duration = Duration::from_secs(10);
/// The longest request line (and header line) read from the browser.
const LINE_MAX: u64 = 8 * 1024;

/// What the browser login needs from the command line.
pub struct BrowserLogin<'a> {
    pub url: &'a str,
    /// Limits the consent to this account (sent as the realm), if given.
    pub account: Option<&'a str>,
    pub profile: &'a str,
    /// Open the consent page in the user's browser (else only print its URL).
    pub open: bool,
}

pub fn login(args: &BrowserLogin<'_>) -> Result<()> {
    let base = args.url.trim_end_matches('/');
    let (listeners, port) = loopback_listeners()?;
    let callback = format!("http://localhost:{port}/callback");
    let consumer_secret = SecretString::from(CLI_CONSUMER_SECRET);

    let mut signer = Signer::consumer_only(CLI_CONSUMER_KEY, &consumer_secret);
    if let Some(account) = args.account {
        signer = signer.with_realm(account);
    }
    let issued = signed_post(
        &signer,
        &format!("{base}/rest/requesttoken"),
        &[("oauth_callback", &callback)],
        "requesttoken",
    )?;
    let request_token = field(&issued, "oauth_token")?;
    let request_secret = SecretString::from(field(&issued, "oauth_token_secret")?);

    let state = tessera_oauth1::signer::generate_nonce()
        .map_err(|e| anyhow::anyhow!("the system's random number generator failed: {e}"))?;
    let consent = format!(
        "{base}/app/login/secure/authorizetoken.nl?oauth_token={request_token}&state={state}"
    );
    eprintln!("Open this page to sign in and allow the Tessera CLI:\n\n    {consent}\n");
    if args.open && open_in_browser(&consent) {
        eprintln!("(opened in your browser)");
    }
    eprintln!("Waiting for the browser…");
    let answer = wait_for_callback(&listeners, &request_token, &state)?;

    let signer = Signer::new(
        CLI_CONSUMER_KEY,
        &consumer_secret,
        &request_token,
        &request_secret,
    );
    let exchanged = signed_post(
        &signer,
        &format!("{base}/rest/accesstoken"),
        &[("oauth_verifier", &answer.verifier)],
        "accesstoken",
    )?;
    let mut saved = Profile {
        url: base.to_owned(),
        account: answer.company.clone(),
        email: String::new(),
        role: answer.role.parse().ok(),
        consumer_key: CLI_CONSUMER_KEY.to_owned(),
        consumer_secret: CLI_CONSUMER_SECRET.to_owned(),
        token_id: field(&exchanged, "oauth_token")?,
        token_secret: field(&exchanged, "oauth_token_secret")?,
    };
    // A signed call with the new token proves it works and says who it is.
    let who = whoami(&saved).context("the new token does not work")?;
    saved.email = who.email.clone();
    let path = profile::save(args.profile, saved)?;
    println!(
        "Logged in to {base} as {} <{}> with role {} (account {}); profile {:?} saved in {}",
        who.name,
        who.email,
        who.role,
        answer.company,
        args.profile,
        path.display()
    );
    Ok(())
}

/// Listeners for the browser's answer on one port of `127.0.0.1` and — `localhost` may resolve
/// to it first — of `::1`, so no other program can hold the other half of the port and take
/// the answer. A port whose `::1` side is taken is given up for another; a machine without
/// IPv6 listens on `127.0.0.1` alone.
fn loopback_listeners() -> Result<(Vec<TcpListener>, u16)> {
    for _ in 0..32 {
        let v4 = TcpListener::bind("127.0.0.1:0")
            .context("cannot listen on 127.0.0.1 for the browser's answer")?;
        let port = v4.local_addr()?.port();
        match TcpListener::bind(("::1", port)) {
            Ok(v6) => return Ok((vec![v4, v6], port)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            // No IPv6 loopback here: nothing else can listen on it either.
            Err(_) => return Ok((vec![v4], port)),
        }
    }
    bail!(
        "every port tried on 127.0.0.1 was taken on ::1 by another program; is something squatting the loopback ports?"
    )
}

/// A signed POST to a flow endpoint; its form-encoded answer.
fn signed_post(
    signer: &Signer,
    url: &str,
    extra: &[(&str, &str)],
    step: &str,
) -> Result<Vec<(String, String)>> {
    let authorization = signer
        .authorization(&RequestToSign {
            method: "POST",
            url,
            extra_oauth_params: extra,
            ..RequestToSign::default()
        })
        .context("cannot sign the request")?;
    let request = ureq::http::Request::builder()
        .method("POST")
        .uri(url)
        .header("Authorization", authorization)
        .body(())
        .context("cannot build the request")?;
    let mut response = api::agent(api::USER_AGENT, api::TIMEOUT)
        .run(request)
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .context("cannot read the server's answer")?;
    if status != 200 {
        let value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
        let refused = api::refused(status, &value);
        if status == 401 {
            return Err(api::Refused {
                message: format!(
                    "{step} refused: {} The reason is in the server's login audit trail (for \
                     example the \"Tessera CLI\" record without TBA: Authorization Flow and the \
                     callback http://localhost/callback, blocked in the account, or waiting for an \
                     administrator's approval there: run this again once it is enabled).",
                    refused.message
                ),
                ..refused
            }
            .into());
        }
        return Err(refused.into());
    }
    form_pairs(&body)
        .with_context(|| format!("{step} answered something that is not a form: {body:?}"))
}

/// The decoded pairs of an `application/x-www-form-urlencoded` text.
fn form_pairs(text: &str) -> Result<Vec<(String, String)>> {
    use tessera_oauth1::encode::{form_decode, split_form};
    split_form(text)
        .map(|(n, v)| Ok((form_decode(n)?.into_owned(), form_decode(v)?.into_owned())))
        .collect()
}

fn field(pairs: &[(String, String)], name: &str) -> Result<String> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .with_context(|| format!("the server's answer has no {name}"))
}

/// The user pressed Deny: a refusal (exit 1), not unusable input.
#[derive(Debug)]
pub struct Denied;

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("you denied the Tessera CLI on the consent page; nothing was saved")
    }
}

impl std::error::Error for Denied {}

/// What the consent sent back to the callback.
#[derive(Debug, PartialEq, Eq)]
struct Consented {
    verifier: String,
    company: String,
    role: String,
}

/// Serves the loopback callback until the browser brings the answer for this request token
/// and state (other requests — a favicon, a stale tab — are answered 404 and ignored).
fn wait_for_callback(listeners: &[TcpListener], token: &str, state: &str) -> Result<Consented> {
    let deadline = Instant::now() + CONSENT_WAIT;
    for listener in listeners {
        listener.set_nonblocking(true)?;
    }
    loop {
        let mut idle = true;
        for listener in listeners {
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e).context("the loopback listener failed"),
            };
            idle = false;
            match answer_callback(stream, token, state) {
                Ok(Some(result)) => return result,
                Ok(None) => {}
                // A connection that broke off is not the browser's answer; keep waiting.
                Err(_) => {}
            }
        }
        if idle {
            if Instant::now() >= deadline {
                bail!(
                    "no answer from the browser within {} minutes; run `tessera login --browser` again",
                    CONSENT_WAIT.as_secs() / 60
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Reads one request. `Some` once the callback for this flow came (allowed or denied).
fn answer_callback(
    mut stream: TcpStream,
    token: &str,
    state: &str,
) -> std::io::Result<Option<Result<Consented>>> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CALLBACK_READ))?;
    let mut reader = BufReader::new(std::io::Read::take(stream.try_clone()?, LINE_MAX));
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line
        .strip_prefix("GET ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or("");
    let parsed = target
        .strip_prefix("/callback?")
        .map(|query| read_callback(query, token, state));
    let (status, page) = match &parsed {
        None => ("404 Not Found", "Not the Tessera CLI's callback."),
        Some(Ok(Ok(_))) => (
            "200 OK",
            "The Tessera CLI got your answer and is finishing the login: see the terminal. You can close this tab.",
        ),
        Some(Ok(Err(_))) => (
            "200 OK",
            "You denied the Tessera CLI. You can close this tab.",
        ),
        Some(Err(_)) => ("400 Bad Request", "This answer is not for this login."),
    };
    let body =
        format!("<!doctype html><meta charset=utf-8><title>Tessera CLI</title><p>{page}</p>");
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    Ok(match parsed {
        Some(Ok(Ok(consented))) => Some(Ok(consented)),
        Some(Ok(Err(denied))) => Some(Err(denied)),
        // Another flow's answer (a stale tab): not ours, keep waiting.
        Some(Err(_)) | None => None,
    })
}

/// The callback's query: `Err` when it is not this flow's (another token or state), else
/// the consent or the denial.
fn read_callback(query: &str, token: &str, state: &str) -> Result<Result<Consented>> {
    let pairs = form_pairs(query).context("the callback's query cannot be decoded")?;
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if get("oauth_token") != Some(token) || get("state") != Some(state) {
        bail!("the callback is for another login");
    }
    if get("error") == Some("access_denied") {
        return Ok(Err(Denied.into()));
    }
    let need = |name: &str| {
        get(name)
            .map(str::to_owned)
            .with_context(|| format!("the callback has no {name}"))
    };
    Ok(Ok(Consented {
        verifier: need("oauth_verifier")?,
        company: need("company")?,
        role: need("role")?,
    }))
}

/// Who a profile's token is, from the echo RESTlet.
struct Who {
    name: String,
    email: String,
    role: String,
}

fn whoami(profile: &Profile) -> Result<Who> {
    let url = profile.url("/app/site/hosting/restlet.nl?script=tessera-login&deploy=1");
    let authorization = profile
        .signer()
        .authorization(&RequestToSign {
            method: "GET",
            url: &url,
            ..RequestToSign::default()
        })
        .context("cannot sign the request")?;
    let request = ureq::http::Request::builder()
        .method("GET")
        .uri(&url)
        .header("Authorization", authorization)
        .body(())
        .context("cannot build the request")?;
    let response = api::agent(api::USER_AGENT, api::TIMEOUT)
        .run(request)
        .with_context(|| format!("cannot reach {}", profile.url))?;
    let (status, body) = api::read_json(response)?;
    if status != 200 {
        return Err(api::refused(status, &body).into());
    }
    let text = |path: &[&str]| {
        path.iter()
            .try_fold(&body, |v, k| v.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .with_context(|| format!("the echo's answer has no {}", path.join(".")))
    };
    Ok(Who {
        name: text(&["user", "name"])?,
        email: text(&["user", "email"])?,
        role: text(&["role", "name"])?,
    })
}

/// Opens `url` in the user's browser where the platform has a way to: `$BROWSER`, else
/// `xdg-open` (Linux), `open` (macOS), `start` (Windows). False when none ran.
fn open_in_browser(url: &str) -> bool {
    let mut candidates: Vec<(String, Vec<String>)> = Vec::new();
    if let Ok(browser) = std::env::var("BROWSER")
        && !browser.trim().is_empty()
    {
        candidates.push((browser, vec![url.to_owned()]));
    }
    if cfg!(target_os = "macos") {
        candidates.push(("open".into(), vec![url.to_owned()]));
    } else if cfg!(windows) {
        candidates.push((
            "cmd".into(),
            vec!["/C".into(), "start".into(), String::new(), url.to_owned()],
        ));
    } else {
        candidates.push(("xdg-open".into(), vec![url.to_owned()]));
    }
    candidates.into_iter().any(|(program, args)| {
        std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_is_this_flows_or_ignored() {
        let ok = read_callback(
            "oauth_token=t&oauth_verifier=v&company=1234567&role=3&entity=1&state=s",
            "t",
            "s",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            ok,
            Consented {
                verifier: "v".into(),
                company: "1234567".into(),
                role: "3".into()
            }
        );
        assert!(read_callback("oauth_token=t&oauth_verifier=v&state=other", "t", "s").is_err());
        assert!(read_callback("oauth_token=x&oauth_verifier=v&state=s", "t", "s").is_err());
        let denied = read_callback("oauth_token=t&error=access_denied&state=s", "t", "s").unwrap();
        assert!(denied.is_err());
    }
}
