//! `tessera login`, `logout` and the admin commands (`token`, `integration`, `user`, `role`,
//! `audit`, `account`): each a call of the admin API signed with the profile's token, its
//! answer typed by the API contract (`tessera_api`) and printed by `crate::render`.

mod audit;
mod browser_login;
mod directory;
mod integrations;
mod tokens;

use std::io::BufRead as _;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Deserialize;
use tessera_core::bootstrap::{CLI_CONSUMER_KEY, CLI_CONSUMER_SECRET};

pub use audit::{AuditArgs, audit};
pub use browser_login::Denied;
pub use directory::{AccountArgs, RoleArgs, UserArgs, account, role, user};
pub use integrations::{IntegrationArgs, integration};
pub use tokens::{TokenArgs, token};

use crate::Output;
use crate::api::{self, Api};
use crate::profile::{self, DEFAULT_PROFILE, Profile};

/// Which profile, and how to print.
#[derive(Debug, Args)]
pub struct Session {
    /// The profile to use (made by `tessera login`).
    #[arg(long, global = true, env = "TESSERA_PROFILE", default_value = DEFAULT_PROFILE)]
    profile: String,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t)]
    output: Output,
}

impl Session {
    fn api(&self) -> Result<Api> {
        Ok(Api::new(profile::load(&self.profile)?))
    }
}

/// A setting that can be cleared: a whole number, or `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clearable(pub Option<u32>);

/// Reads a [`Clearable`] from the command line (`--concurrency-limit none`).
pub(crate) fn clearable(word: &str) -> Result<Clearable, String> {
    if word.eq_ignore_ascii_case("none") {
        return Ok(Clearable(None));
    }
    word.parse::<u32>()
        .map(|n| Clearable(Some(n)))
        .map_err(|_| format!("must be a whole number or \"none\", not {word:?}"))
}

/// An IP allow-list from the command line: comma-separated networks, or `none` (no list).
/// Nothing at all is refused: an unset variable in a script must not switch a list off.
pub(crate) fn networks(text: &str) -> Result<Vec<String>> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let list: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    if list.is_empty() {
        bail!(
            "--ip-allow names no network: give networks (10.0.0.0/8, …), or \"none\" to remove the list"
        );
    }
    Ok(list)
}

/// `token debug` and `integration debug`: opens the signature debugger for `minutes`, or
/// closes it, and says until when.
pub(crate) fn signature_debug(api: &Api, out: Output, path: &str, minutes: u32) -> Result<()> {
    let body = tessera_api::audit::SignatureDebug { minutes };
    let answer =
        api.call::<_, tessera_api::audit::SignatureDebugView>("POST", path, Some(&body))?;
    match (out, &answer.value.until) {
        (Output::Json, _) => println!("{}", answer.raw),
        (Output::Text, Some(until)) => println!(
            "The signature debugger is open until {until}: see `tessera audit --detail \
             InvalidSignature`, then `tessera audit --signature ID`."
        ),
        (Output::Text, None) => println!("The signature debugger is closed."),
    }
    Ok(())
}

/// An RFC 3339 time from the command line, checked before it is sent.
pub(crate) fn rfc3339(word: &str) -> Result<String, String> {
    tessera_core::model::Timestamp::parse_rfc3339(word)
        .map(|_| word.to_owned())
        .map_err(|_| format!("must be an RFC 3339 time such as 2027-01-31T00:00:00Z, not {word:?}"))
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// The account id, e.g. 1234567 (with --browser: only this account may consent).
    #[arg(long, required_unless_present = "browser")]
    account: Option<String>,
    /// The email you sign in with.
    #[arg(long, required_unless_present = "browser", conflicts_with = "browser")]
    email: Option<String>,
    /// Internal id of the role the CLI acts with (needed when you hold several).
    #[arg(long, conflicts_with = "browser")]
    role: Option<i64>,
    /// Read the password from the first line of stdin instead of asking for it.
    #[arg(long, conflicts_with = "browser")]
    password_stdin: bool,
    /// Sign in and allow the CLI in your browser (the authorization flow with a loopback
    /// callback): no password is typed into the terminal.
    #[arg(long)]
    browser: bool,
    /// With --browser: print the consent page's address without opening a browser.
    #[arg(long, requires = "browser")]
    no_open: bool,
    /// Save the login under this name.
    #[arg(long, env = "TESSERA_PROFILE", default_value = DEFAULT_PROFILE)]
    profile: String,
}

/// issuetoken's answer (NetSuite's endpoint: its own field names).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IssuedToken {
    token_id: String,
    token_secret: String,
}

/// Obtains a token with the built-in "Tessera CLI" record and saves it: through issuetoken
/// with the password, or through the authorization flow in the browser (`--browser`).
pub fn login(args: &LoginArgs) -> Result<()> {
    if args.browser {
        return browser_login::login(&browser_login::BrowserLogin {
            url: &args.url,
            account: args.account.as_deref(),
            profile: &args.profile,
            open: !args.no_open,
        });
    }
    let (Some(account), Some(email)) = (&args.account, &args.email) else {
        bail!("--account and --email are needed (or --browser)");
    };
    let password = if args.password_stdin {
        password_from_stdin()?
    } else {
        rpassword::prompt_password(format!("Password for {}: ", email))
            .context("cannot read the password from the terminal (use --password-stdin)")?
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    let password = tessera_oauth1::SecretString::from(password);
    let enc = tessera_oauth1::encode::encode;
    let mut header = format!(
        "NLAuth nlauth_account={}, nlauth_email={}, nlauth_signature={}",
        enc(account),
        enc(email),
        enc(password.expose())
    );
    if let Some(role) = args.role {
        header.push_str(&format!(", nlauth_role={role}"));
    }
    // Names the token after where it is used, so the Access Tokens list tells sessions apart.
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this computer".to_owned());
    let name = format!("Tessera CLI ({} on {host})", email);
    let base = args.url.trim_end_matches('/');
    let url = format!(
        "{base}/rest/issuetoken?consumerKey={CLI_CONSUMER_KEY}&name={}",
        enc(&name)
    );
    let request = ureq::http::Request::builder()
        .method("GET")
        .uri(&url)
        .header("Authorization", header)
        .body(())
        .context("cannot build the request")?;
    let response = api::agent(api::USER_AGENT, api::TIMEOUT)
        .run(request)
        .with_context(|| format!("cannot reach {base}"))?;
    let (status, body) = api::read_json(response)?;
    if status != 200 {
        let refused = api::refused(status, &body);
        if status == 401 {
            return Err(api::Refused {
                message: format!(
                    "login refused: {} The reason is in the server's login audit trail (wrong email or \
                     password, a role you do not hold or that may not create tokens, the account's \
                     approval of the \"Tessera CLI\" record, or too many failed logins).",
                    refused.message
                ),
                ..refused
            }
            .into());
        }
        return Err(refused.into());
    }
    let issued: IssuedToken = api::typed("GET /rest/issuetoken", body)?.value;
    let saved = Profile {
        url: base.to_owned(),
        account: account.clone(),
        email: email.clone(),
        role: args.role,
        consumer_key: CLI_CONSUMER_KEY.to_owned(),
        consumer_secret: CLI_CONSUMER_SECRET.to_owned(),
        token_id: issued.token_id,
        token_secret: issued.token_secret,
    };
    let path = profile::save(&args.profile, saved)?;
    println!(
        "Logged in to {base} as {} (account {}); profile {:?} saved in {}",
        email,
        account,
        args.profile,
        path.display()
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The profile to log out of.
    #[arg(long, env = "TESSERA_PROFILE", default_value = DEFAULT_PROFILE)]
    profile: String,
}

/// Revokes the profile's token (revoketoken) and forgets the profile.
pub fn logout(args: &LogoutArgs) -> Result<()> {
    let profile = profile::load(&args.profile)?;
    let api = Api::new(profile.clone());
    let path = format!(
        "/rest/revoketoken?consumerKey={}&token={}",
        profile.consumer_key, profile.token_id
    );
    match api.call_json("GET", &path, None::<&()>) {
        Ok(_) => println!("Token revoked."),
        Err(e) => match e.downcast_ref::<api::Refused>() {
            // Already revoked (or the profile's token is gone): nothing left to revoke.
            Some(r) if r.status == 401 => {
                eprintln!(
                    "warning: the server refused the token; it was revoked or is no longer valid"
                );
            }
            _ => return Err(e.context("cannot revoke the token; the profile is kept")),
        },
    }
    profile::remove(&args.profile)?;
    println!("Profile {:?} removed.", args.profile);
    Ok(())
}

fn password_from_stdin() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
