//! `tessera login`, `logout` and the admin commands (`token`, `integration`, `user`, `role`,
//! `audit`, `account`): each a call of the admin API signed with the profile's token.

use std::io::BufRead as _;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use tessera_core::bootstrap::{CLI_CONSUMER_KEY, CLI_CONSUMER_SECRET};

use crate::Output;
use crate::api::{self, Api, Column, Field, print_record, print_secrets, print_table, text};
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

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// The account id, e.g. 1234567.
    #[arg(long)]
    account: String,
    /// The email you sign in with.
    #[arg(long)]
    email: String,
    /// Internal id of the role the CLI acts with (needed when you hold several).
    #[arg(long)]
    role: Option<i64>,
    /// Read the password from the first line of stdin instead of asking for it.
    #[arg(long)]
    password_stdin: bool,
    /// Save the login under this name.
    #[arg(long, env = "TESSERA_PROFILE", default_value = DEFAULT_PROFILE)]
    profile: String,
}

/// Obtains a token through issuetoken with the built-in "Tessera CLI" record and saves it.
pub fn login(args: &LoginArgs) -> Result<()> {
    let password = if args.password_stdin {
        password_from_stdin()?
    } else {
        rpassword::prompt_password(format!("Password for {}: ", args.email))
            .context("cannot read the password from the terminal (use --password-stdin)")?
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    let password = tessera_oauth1::SecretString::from(password);
    let enc = tessera_oauth1::encode::encode;
    let mut header = format!(
        "NLAuth nlauth_account={}, nlauth_email={}, nlauth_signature={}",
        enc(&args.account),
        enc(&args.email),
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
    let name = format!("Tessera CLI ({} on {host})", args.email);
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
    let field = |name: &str| {
        body[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("the server's answer has no {name}"))
    };
    let saved = Profile {
        url: base.to_owned(),
        account: args.account.clone(),
        email: args.email.clone(),
        role: args.role,
        consumer_key: CLI_CONSUMER_KEY.to_owned(),
        consumer_secret: CLI_CONSUMER_SECRET.to_owned(),
        token_id: field("tokenId")?,
        token_secret: field("tokenSecret")?,
    };
    let path = profile::save(&args.profile, saved)?;
    println!(
        "Logged in to {base} as {} (account {}); profile {:?} saved in {}",
        args.email,
        args.account,
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
    match api.call("GET", &path, None) {
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

/// `?a=1&b=x` from the given pairs, values percent-encoded; pairs without a value left out.
fn query(pairs: &[(&str, Option<String>)]) -> String {
    let given: Vec<String> = pairs
        .iter()
        .filter_map(|(name, value)| {
            value
                .as_ref()
                .map(|v| format!("{name}={}", tessera_oauth1::encode::encode(v)))
        })
        .collect();
    if given.is_empty() {
        String::new()
    } else {
        format!("?{}", given.join("&"))
    }
}

fn object(pairs: Vec<(&str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect();
    Value::Object(map)
}

fn items(value: &Value) -> &[Value] {
    value
        .get("items")
        .unwrap_or(value)
        .as_array()
        .map_or(&[], Vec::as_slice)
}

// ---------------------------------------------------------------- tokens

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    session: Session,
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// List access tokens (all of the account with Access Token Management, else your own).
    List {
        /// all, yes or no.
        #[arg(long, default_value = "all")]
        revoked: String,
        /// Only inactive (true) or only active (false) tokens.
        #[arg(long)]
        inactive: Option<bool>,
        /// Part of the token, application, user or role name (3 characters or more).
        #[arg(long)]
        search: Option<String>,
        /// Internal id of an integration record.
        #[arg(long)]
        application: Option<i64>,
        #[arg(long)]
        user: Option<i64>,
        #[arg(long)]
        role: Option<i64>,
        /// newest, oldest or name.
        #[arg(long)]
        sort: Option<String>,
        /// Rows per page.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Continue after this page marker (printed under a full page).
        #[arg(long)]
        after: Option<String>,
    },
    /// Show one token.
    Show { id: i64 },
    /// Create a token; its id and secret are printed this once.
    Create {
        #[arg(long)]
        application: i64,
        #[arg(long)]
        user: i64,
        #[arg(long)]
        role: i64,
        #[arg(long)]
        name: Option<String>,
    },
    /// Rename a token.
    Rename { id: i64, name: String },
    /// Make a token inactive (reversible).
    Inactivate { id: i64 },
    /// Make an inactive token active again.
    Activate { id: i64 },
    /// Revoke a token: permanent.
    Revoke { id: i64 },
    /// The token's system notes.
    Notes { id: i64 },
}

const TOKEN_COLUMNS: &[Column] = &[
    Column {
        heading: "ID",
        cell: |v| text(&v["id"]),
    },
    Column {
        heading: "NAME",
        cell: |v| text(&v["name"]),
    },
    Column {
        heading: "APPLICATION",
        cell: |v| text(&v["application"]["name"]),
    },
    Column {
        heading: "USER",
        cell: |v| text(&v["user"]["name"]),
    },
    Column {
        heading: "ROLE",
        cell: |v| text(&v["role"]["name"]),
    },
    Column {
        heading: "STATUS",
        cell: token_status,
    },
    Column {
        heading: "CREATED",
        cell: |v| text(&v["created_at"]),
    },
];

fn token_status(v: &Value) -> String {
    if v["revoked"] == true {
        "revoked".to_owned()
    } else if v["inactive"] == true {
        "inactive".to_owned()
    } else {
        "active".to_owned()
    }
}

const TOKEN_FIELDS: &[Field] = &[
    ("Id", |v| text(&v["id"])),
    ("Name", |v| text(&v["name"])),
    ("Account", |v| text(&v["account"])),
    ("Application", |v| {
        format!(
            "{} ({})",
            text(&v["application"]["name"]),
            text(&v["application"]["id"])
        )
    }),
    ("User", |v| {
        format!("{} ({})", text(&v["user"]["name"]), text(&v["user"]["id"]))
    }),
    ("Role", |v| {
        format!("{} ({})", text(&v["role"]["name"]), text(&v["role"]["id"]))
    }),
    ("Status", token_status),
    ("Revoked at", |v| text(&v["revoked_at"])),
    ("Revoked by", |v| text(&v["revoked_by"])),
    ("Created", |v| text(&v["created_at"])),
    ("Created by", |v| text(&v["created_by"])),
    ("Last used", |v| text(&v["last_used_at"])),
];

const NOTE_COLUMNS: &[Column] = &[
    Column {
        heading: "DATE",
        cell: |v| text(&v["at"]),
    },
    Column {
        heading: "BY",
        cell: |v| text(&v["by"]),
    },
    Column {
        heading: "CONTEXT",
        cell: |v| text(&v["context"]),
    },
    Column {
        heading: "RECORD",
        cell: |v| text(&v["record"]),
    },
    Column {
        heading: "FIELD",
        cell: |v| text(&v["field"]),
    },
    Column {
        heading: "OLD",
        cell: |v| text(&v["old_value"]),
    },
    Column {
        heading: "NEW",
        cell: |v| text(&v["new_value"]),
    },
];

pub fn token(args: &TokenArgs) -> Result<()> {
    let api = args.session.api()?;
    let out = args.session.output;
    let show = |v: &Value| print_record(out, v, TOKEN_FIELDS);
    match &args.command {
        TokenCommand::List {
            revoked,
            inactive,
            search,
            application,
            user,
            role,
            sort,
            limit,
            after,
        } => {
            let q = query(&[
                ("revoked", Some(revoked.clone())),
                ("inactive", inactive.map(|b| b.to_string())),
                ("search", search.clone()),
                ("application", application.map(|i| i.to_string())),
                ("user", user.map(|i| i.to_string())),
                ("role", role.map(|i| i.to_string())),
                ("sort", sort.clone()),
                ("limit", Some(limit.to_string())),
                ("after", after.clone()),
            ]);
            let page = api.call("GET", &format!("/api/v1/tokens{q}"), None)?;
            print_table(out, &page, items(&page), TOKEN_COLUMNS);
            if let (Output::Text, Some(next)) = (out, page["next"].as_str()) {
                println!("(more: --after {next})");
            }
        }
        TokenCommand::Show { id } => {
            show(&api.call("GET", &format!("/api/v1/tokens/{id}"), None)?)
        }
        TokenCommand::Create {
            application,
            user,
            role,
            name,
        } => {
            let body = object(vec![
                ("application", Some(json!(application))),
                ("user", Some(json!(user))),
                ("role", Some(json!(role))),
                ("name", name.as_ref().map(|n| json!(n))),
            ]);
            let created = api.call("POST", "/api/v1/tokens", Some(&body))?;
            if out == Output::Text {
                show(&created["token"]);
            }
            print_secrets(
                out,
                &created,
                &[
                    ("Token id", created["token_id"].as_str().unwrap_or_default()),
                    (
                        "Token secret",
                        created["token_secret"].as_str().unwrap_or_default(),
                    ),
                ],
                created["warning"]
                    .as_str()
                    .unwrap_or("store the token id and secret now"),
            );
        }
        TokenCommand::Rename { id, name } => show(&api.call(
            "PATCH",
            &format!("/api/v1/tokens/{id}"),
            Some(&json!({"name": name})),
        )?),
        TokenCommand::Inactivate { id } => show(&api.call(
            "PATCH",
            &format!("/api/v1/tokens/{id}"),
            Some(&json!({"inactive": true})),
        )?),
        TokenCommand::Activate { id } => show(&api.call(
            "PATCH",
            &format!("/api/v1/tokens/{id}"),
            Some(&json!({"inactive": false})),
        )?),
        TokenCommand::Revoke { id } => {
            show(&api.call("POST", &format!("/api/v1/tokens/{id}/revoke"), None)?)
        }
        TokenCommand::Notes { id } => {
            let notes = api.call("GET", &format!("/api/v1/tokens/{id}/notes"), None)?;
            print_table(out, &notes, items(&notes), NOTE_COLUMNS);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- integrations

#[derive(Debug, Args)]
pub struct IntegrationArgs {
    #[command(flatten)]
    session: Session,
    #[command(subcommand)]
    command: IntegrationCommand,
}

#[derive(Debug, Subcommand)]
enum IntegrationCommand {
    /// List the records installed in your account.
    List {
        /// Also blocked records and records waiting for approval.
        #[arg(long)]
        inactive: bool,
    },
    /// Show one record.
    Show { id: i64 },
    /// Create a record; with TBA on, its consumer key and secret are printed this once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Create it with Token-based Authentication off.
        #[arg(long)]
        no_tba: bool,
        /// Turn on the TBA: issuetoken Endpoint.
        #[arg(long)]
        issuetoken: bool,
        /// Turn on the TBA: Authorization Flow (needs --callback-url).
        #[arg(long)]
        authorization_flow: bool,
        #[arg(long)]
        callback_url: Option<String>,
        #[arg(long)]
        user_credentials: bool,
    },
    /// Change a record's shared fields (owner account's administrators) or your account's note
    /// and concurrency limit.
    Edit {
        id: i64,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        tba: Option<bool>,
        #[arg(long)]
        issuetoken: Option<bool>,
        #[arg(long)]
        authorization_flow: Option<bool>,
        /// "" removes it.
        #[arg(long)]
        callback_url: Option<String>,
        #[arg(long)]
        user_credentials: Option<bool>,
        /// Your account's note on its installation.
        #[arg(long)]
        note: Option<String>,
        /// Your account's concurrency limit for the record; "none" removes it.
        #[arg(long)]
        concurrency_limit: Option<String>,
    },
    /// Block the record in your account.
    Block { id: i64 },
    /// Enable the record in your account.
    Enable { id: i64 },
    /// Approve a record waiting for approval in your account.
    Approve { id: i64 },
    /// Reset the consumer key and secret: the old pair stops working at once.
    Reset {
        id: i64,
        /// Required: you understand the current pair stops working now.
        #[arg(long)]
        confirm: bool,
    },
    /// Install another account's record into yours, as a bundle would (where its owner made
    /// it installable by your account).
    Install { id: i64 },
    /// Show, or with --set replace, the accounts that may install your record by its id.
    Installable {
        id: i64,
        /// The accounts (repeat or comma-separate); `--set` alone clears the list.
        #[arg(long, num_args = 0.., value_delimiter = ',')]
        set: Option<Vec<String>>,
    },
    /// Delete the record (in its owner account) or uninstall it (elsewhere); its tokens are revoked.
    Delete {
        id: i64,
        /// Required: its tokens are revoked.
        #[arg(long)]
        yes: bool,
    },
    /// The record's system notes and your account's installation's.
    Notes { id: i64 },
}

const INTEGRATION_COLUMNS: &[Column] = &[
    Column {
        heading: "ID",
        cell: |v| text(&v["id"]),
    },
    Column {
        heading: "NAME",
        cell: |v| text(&v["name"]),
    },
    Column {
        heading: "STATE",
        cell: |v| text(&v["installation"]["state"]),
    },
    Column {
        heading: "TBA",
        cell: |v| text(&v["token_based_auth"]),
    },
    Column {
        heading: "ISSUETOKEN",
        cell: |v| text(&v["tba_issuetoken_endpoint"]),
    },
    Column {
        heading: "OWNER",
        cell: |v| text(&v["owner_account"]),
    },
    Column {
        heading: "ORIGIN",
        cell: |v| text(&v["installation"]["origin"]),
    },
];

const INTEGRATION_FIELDS: &[Field] = &[
    ("Id", |v| text(&v["id"])),
    ("Name", |v| text(&v["name"])),
    ("Application id", |v| text(&v["application_id"])),
    ("Description", |v| text(&v["description"])),
    ("Owner account", |v| text(&v["owner_account"])),
    ("Token-based auth", |v| text(&v["token_based_auth"])),
    ("Authorization flow", |v| text(&v["tba_authorization_flow"])),
    ("Callback URL", |v| text(&v["callback_url"])),
    ("issuetoken endpoint", |v| {
        text(&v["tba_issuetoken_endpoint"])
    }),
    ("User credentials", |v| text(&v["user_credentials"])),
    ("State", |v| text(&v["installation"]["state"])),
    ("Note", |v| text(&v["installation"]["note"])),
    ("Concurrency limit", |v| {
        text(&v["installation"]["concurrency_limit"])
    }),
    ("Installed as", |v| text(&v["installation"]["origin"])),
    ("State changed", |v| {
        format!(
            "{} by {}",
            text(&v["installation"]["state_changed_at"]),
            text(&v["installation"]["state_changed_by"])
        )
    }),
    ("Created", |v| text(&v["created_at"])),
    ("Modified", |v| text(&v["modified_at"])),
];

/// A record with credentials issued just now: the record, then the pair, once.
fn show_with_credentials(out: Output, answer: &Value) {
    if out == Output::Text {
        print_record(out, &answer["integration"], INTEGRATION_FIELDS);
    }
    match (
        answer["consumer_key"].as_str(),
        answer["consumer_secret"].as_str(),
    ) {
        (Some(key), Some(secret)) => print_secrets(
            out,
            answer,
            &[("Consumer key", key), ("Consumer secret", secret)],
            answer["warning"]
                .as_str()
                .unwrap_or("store the consumer key and secret now"),
        ),
        _ if out == Output::Json => print_record(out, answer, &[]),
        _ => {}
    }
}

pub fn integration(args: &IntegrationArgs) -> Result<()> {
    let api = args.session.api()?;
    let out = args.session.output;
    let show = |v: &Value| print_record(out, v, INTEGRATION_FIELDS);
    let path = |id: &i64, action: &str| format!("/api/v1/integrations/{id}{action}");
    match &args.command {
        IntegrationCommand::List { inactive } => {
            let q = if *inactive { "?inactive=true" } else { "" };
            let list = api.call("GET", &format!("/api/v1/integrations{q}"), None)?;
            print_table(out, &list, items(&list), INTEGRATION_COLUMNS);
        }
        IntegrationCommand::Show { id } => show(&api.call("GET", &path(id, ""), None)?),
        IntegrationCommand::Create {
            name,
            description,
            no_tba,
            issuetoken,
            authorization_flow,
            callback_url,
            user_credentials,
        } => {
            let body = object(vec![
                ("name", Some(json!(name))),
                ("description", Some(json!(description))),
                ("token_based_auth", Some(json!(!no_tba))),
                ("tba_issuetoken_endpoint", Some(json!(issuetoken))),
                ("tba_authorization_flow", Some(json!(authorization_flow))),
                ("callback_url", callback_url.as_ref().map(|u| json!(u))),
                ("user_credentials", Some(json!(user_credentials))),
            ]);
            show_with_credentials(out, &api.call("POST", "/api/v1/integrations", Some(&body))?);
        }
        IntegrationCommand::Edit {
            id,
            name,
            description,
            tba,
            issuetoken,
            authorization_flow,
            callback_url,
            user_credentials,
            note,
            concurrency_limit,
        } => {
            let limit = match concurrency_limit.as_deref() {
                None => None,
                Some("none") => Some(Value::Null),
                Some(n) => Some(json!(n.parse::<u32>().with_context(|| {
                    format!("--concurrency-limit must be a number or \"none\", not {n:?}")
                })?)),
            };
            let body = object(vec![
                ("name", name.as_ref().map(|v| json!(v))),
                ("description", description.as_ref().map(|v| json!(v))),
                ("token_based_auth", tba.map(|v| json!(v))),
                ("tba_issuetoken_endpoint", issuetoken.map(|v| json!(v))),
                (
                    "tba_authorization_flow",
                    authorization_flow.map(|v| json!(v)),
                ),
                ("callback_url", callback_url.as_ref().map(|v| json!(v))),
                ("user_credentials", user_credentials.map(|v| json!(v))),
                ("note", note.as_ref().map(|v| json!(v))),
                ("concurrency_limit", limit),
            ]);
            show_with_credentials(out, &api.call("PATCH", &path(id, ""), Some(&body))?);
        }
        IntegrationCommand::Block { id } => show(&api.call("POST", &path(id, "/block"), None)?),
        IntegrationCommand::Enable { id } => show(&api.call("POST", &path(id, "/enable"), None)?),
        IntegrationCommand::Approve { id } => {
            show(&api.call("POST", &path(id, "/approve"), None)?)
        }
        IntegrationCommand::Install { id } => {
            show(&api.call("POST", &path(id, "/install"), None)?)
        }
        IntegrationCommand::Installable { id, set } => {
            let answer = match set {
                Some(accounts) => api.call(
                    "PUT",
                    &path(id, "/installable-accounts"),
                    Some(&json!({"accounts": accounts})),
                )?,
                None => api.call("GET", &path(id, "/installable-accounts"), None)?,
            };
            print_record(
                out,
                &answer,
                &[("Installable by", |v| {
                    let accounts: Vec<&str> = v["accounts"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    if accounts.is_empty() {
                        "(no other account)".to_owned()
                    } else {
                        accounts.join(", ")
                    }
                })],
            );
        }
        IntegrationCommand::Reset { id, confirm } => {
            if !confirm {
                bail!(
                    "resetting invalidates the current consumer key and secret at once; run again with --confirm"
                );
            }
            let answer = api.call("POST", &path(id, "/reset"), Some(&json!({"confirm": true})))?;
            show_with_credentials(out, &answer);
        }
        IntegrationCommand::Delete { id, yes } => {
            if !yes {
                bail!("deleting revokes the record's tokens; run again with --yes");
            }
            let answer = api.call("DELETE", &path(id, ""), None)?;
            print_record(
                out,
                &answer,
                &[("Tokens revoked", |v| text(&v["revoked_tokens"]))],
            );
        }
        IntegrationCommand::Notes { id } => {
            let notes = api.call("GET", &path(id, "/notes"), None)?;
            print_table(out, &notes, items(&notes), NOTE_COLUMNS);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- users and roles

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(flatten)]
    session: Session,
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// List the users of your account.
    List,
    /// Show one user.
    Show { id: i64 },
    /// Create a user (administrators).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// A role id; repeat for more.
        #[arg(long = "role")]
        roles: Vec<i64>,
        /// Read a password for the user from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user (administrators).
    Edit {
        id: i64,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        active: Option<bool>,
        /// The whole new set of role ids; repeat for more.
        #[arg(long = "role")]
        roles: Option<Vec<i64>>,
        /// Read a new password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete a user; its tokens are revoked.
    Delete {
        id: i64,
        #[arg(long)]
        yes: bool,
    },
}

const USER_COLUMNS: &[Column] = &[
    Column {
        heading: "ID",
        cell: |v| text(&v["id"]),
    },
    Column {
        heading: "NAME",
        cell: |v| text(&v["name"]),
    },
    Column {
        heading: "EMAIL",
        cell: |v| text(&v["email"]),
    },
    Column {
        heading: "ACTIVE",
        cell: |v| text(&v["active"]),
    },
    Column {
        heading: "ROLES",
        cell: |v| ids(&v["roles"]),
    },
];

const USER_FIELDS: &[Field] = &[
    ("Id", |v| text(&v["id"])),
    ("Name", |v| text(&v["name"])),
    ("Email", |v| text(&v["email"])),
    ("Active", |v| text(&v["active"])),
    ("Roles", |v| ids(&v["roles"])),
    ("Created", |v| text(&v["created_at"])),
];

fn ids(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

fn password_from_stdin() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub fn user(args: &UserArgs) -> Result<()> {
    let api = args.session.api()?;
    let out = args.session.output;
    let show = |v: &Value| print_record(out, v, USER_FIELDS);
    match &args.command {
        UserCommand::List => {
            let users = api.call("GET", "/api/v1/users", None)?;
            print_table(out, &users, items(&users), USER_COLUMNS);
        }
        UserCommand::Show { id } => show(&api.call("GET", &format!("/api/v1/users/{id}"), None)?),
        UserCommand::Create {
            name,
            email,
            roles,
            password_stdin,
        } => {
            let password = password_stdin.then(password_from_stdin).transpose()?;
            let body = object(vec![
                ("name", Some(json!(name))),
                ("email", Some(json!(email))),
                ("roles", Some(json!(roles))),
                ("password", password.map(|p| json!(p))),
            ]);
            show(&api.call("POST", "/api/v1/users", Some(&body))?);
        }
        UserCommand::Edit {
            id,
            name,
            email,
            active,
            roles,
            password_stdin,
        } => {
            let password = password_stdin.then(password_from_stdin).transpose()?;
            let body = object(vec![
                ("name", name.as_ref().map(|v| json!(v))),
                ("email", email.as_ref().map(|v| json!(v))),
                ("active", active.map(|v| json!(v))),
                ("roles", roles.as_ref().map(|v| json!(v))),
                ("password", password.map(|p| json!(p))),
            ]);
            show(&api.call("PATCH", &format!("/api/v1/users/{id}"), Some(&body))?);
        }
        UserCommand::Delete { id, yes } => {
            if !yes {
                bail!("deleting a user revokes its tokens; run again with --yes");
            }
            let answer = api.call("DELETE", &format!("/api/v1/users/{id}"), None)?;
            print_record(
                out,
                &answer,
                &[("Tokens revoked", |v| text(&v["revoked_tokens"]))],
            );
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct RoleArgs {
    #[command(flatten)]
    session: Session,
    #[command(subcommand)]
    command: RoleCommand,
}

#[derive(Debug, Subcommand)]
enum RoleCommand {
    /// List the roles of your account.
    List,
    /// Show one role.
    Show { id: i64 },
    /// Create a role (administrators).
    Create {
        #[arg(long)]
        name: String,
        /// A permission code (e.g. LOG_IN_USING_ACCESS_TOKENS); repeat for more.
        #[arg(long = "permission")]
        permissions: Vec<String>,
        #[arg(long)]
        web_services_only: bool,
    },
    /// Change a role (administrators).
    Edit {
        id: i64,
        #[arg(long)]
        name: Option<String>,
        /// The whole new set of permission codes; repeat for more.
        #[arg(long = "permission")]
        permissions: Option<Vec<String>>,
        #[arg(long)]
        inactive: Option<bool>,
        #[arg(long)]
        web_services_only: Option<bool>,
    },
}

const ROLE_COLUMNS: &[Column] = &[
    Column {
        heading: "ID",
        cell: |v| text(&v["id"]),
    },
    Column {
        heading: "NAME",
        cell: |v| text(&v["name"]),
    },
    Column {
        heading: "INACTIVE",
        cell: |v| text(&v["inactive"]),
    },
    Column {
        heading: "PERMISSIONS",
        cell: |v| ids(&v["permissions"]),
    },
];

const ROLE_FIELDS: &[Field] = &[
    ("Id", |v| text(&v["id"])),
    ("Name", |v| text(&v["name"])),
    ("Permissions", |v| ids(&v["permissions"])),
    ("Inactive", |v| text(&v["inactive"])),
    ("Web services only", |v| text(&v["web_services_only"])),
];

pub fn role(args: &RoleArgs) -> Result<()> {
    let api = args.session.api()?;
    let out = args.session.output;
    let show = |v: &Value| print_record(out, v, ROLE_FIELDS);
    match &args.command {
        RoleCommand::List => {
            let roles = api.call("GET", "/api/v1/roles", None)?;
            print_table(out, &roles, items(&roles), ROLE_COLUMNS);
        }
        RoleCommand::Show { id } => show(&api.call("GET", &format!("/api/v1/roles/{id}"), None)?),
        RoleCommand::Create {
            name,
            permissions,
            web_services_only,
        } => {
            let body = json!({"name": name, "permissions": permissions, "web_services_only": web_services_only});
            show(&api.call("POST", "/api/v1/roles", Some(&body))?);
        }
        RoleCommand::Edit {
            id,
            name,
            permissions,
            inactive,
            web_services_only,
        } => {
            let body = object(vec![
                ("name", name.as_ref().map(|v| json!(v))),
                ("permissions", permissions.as_ref().map(|v| json!(v))),
                ("inactive", inactive.map(|v| json!(v))),
                ("web_services_only", web_services_only.map(|v| json!(v))),
            ]);
            show(&api.call("PATCH", &format!("/api/v1/roles/{id}"), Some(&body))?);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- audit and account

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    session: Session,
    /// Only successes (true) or only failures (false).
    #[arg(long)]
    success: Option<bool>,
    /// A Detail code, e.g. InvalidSignature.
    #[arg(long)]
    detail: Option<String>,
    #[arg(long)]
    user: Option<i64>,
    #[arg(long)]
    role: Option<i64>,
    #[arg(long)]
    application: Option<i64>,
    #[arg(long)]
    token: Option<i64>,
    /// Part of the token's name.
    #[arg(long)]
    token_name: Option<String>,
    /// RFC 3339, e.g. 2026-11-28T09:00:00Z.
    #[arg(long)]
    from: Option<String>,
    /// RFC 3339.
    #[arg(long)]
    to: Option<String>,
    /// Older than this attempt id (printed under a full page).
    #[arg(long)]
    before: Option<i64>,
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

const ATTEMPT_COLUMNS: &[Column] = &[
    Column {
        heading: "ID",
        cell: |v| text(&v["id"]),
    },
    Column {
        heading: "DATE",
        cell: |v| text(&v["at"]),
    },
    Column {
        heading: "STATUS",
        cell: |v| {
            if v["success"] == true {
                "Success".into()
            } else {
                "Failure".into()
            }
        },
    },
    Column {
        heading: "DETAIL",
        cell: |v| text(&v["detail"]),
    },
    Column {
        heading: "USER",
        cell: |v| text(&v["user"]["name"]),
    },
    Column {
        heading: "ROLE",
        cell: |v| text(&v["role"]["name"]),
    },
    Column {
        heading: "APPLICATION",
        cell: |v| text(&v["application"]["name"]),
    },
    Column {
        heading: "TOKEN",
        cell: |v| text(&v["token"]["name"]),
    },
    Column {
        heading: "IP",
        cell: |v| text(&v["ip"]),
    },
    Column {
        heading: "REQUEST",
        cell: |v| format!("{} {}", text(&v["method"]), text(&v["request_uri"])),
    },
];

pub fn audit(args: &AuditArgs) -> Result<()> {
    let api = args.session.api()?;
    let q = query(&[
        ("success", args.success.map(|b| b.to_string())),
        ("detail", args.detail.clone()),
        ("user", args.user.map(|i| i.to_string())),
        ("role", args.role.map(|i| i.to_string())),
        ("application", args.application.map(|i| i.to_string())),
        ("token", args.token.map(|i| i.to_string())),
        ("token_name", args.token_name.clone()),
        ("from", args.from.clone()),
        ("to", args.to.clone()),
        ("before", args.before.map(|i| i.to_string())),
        ("limit", Some(args.limit.to_string())),
    ]);
    let page = api.call("GET", &format!("/api/v1/audit{q}"), None)?;
    let out = args.session.output;
    print_table(out, &page, items(&page), ATTEMPT_COLUMNS);
    if let (Output::Text, Some(next)) = (out, page["next"].as_i64()) {
        println!("(more: --before {next})");
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct AccountArgs {
    #[command(flatten)]
    session: Session,
}

pub fn account(args: &AccountArgs) -> Result<()> {
    let api = args.session.api()?;
    let account = api.call("GET", "/api/v1/account", None)?;
    print_record(
        args.session.output,
        &account,
        &[
            ("Account", |v| text(&v["id"])),
            ("Name", |v| text(&v["name"])),
            ("Token-based auth", |v| text(&v["tba_enabled"])),
            ("Approve auto-installs", |v| {
                text(&v["require_approval_for_auto_install"])
            }),
            ("Concurrency limit", |v| {
                text(&v["effective_concurrency_limit"])
            }),
            ("Created", |v| text(&v["created_at"])),
        ],
    );
    Ok(())
}
