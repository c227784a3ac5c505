//! `tessera token`: the Access Tokens page from the command line.

use anyhow::Result;
use clap::{Args, Subcommand};
use tessera_api::audit::NoteView;
use tessera_api::query::to_query;
use tessera_api::tokens::{
    BulkConfirm, BulkPreviewView, BulkResultView, CreatedToken, NewToken, RevokedChoice,
    TokenChanges, TokenFilterParams, TokenListParams, TokenPageView, TokenSortChoice, TokenView,
};

use super::Session;
use crate::Output;
use crate::render::{self, Column, Field, or_empty};

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
        #[command(flatten)]
        filters: Filters,
        /// newest, oldest or name.
        #[arg(long, value_parser = choice::<TokenSortChoice>)]
        sort: Option<TokenSortChoice>,
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
        /// The token stops working this many days from now (default: the account's maximum
        /// lifetime, or never).
        #[arg(long, value_name = "DAYS", conflicts_with = "expires_at")]
        expires_in_days: Option<u32>,
        /// The token stops working at this RFC 3339 time (2027-01-31T00:00:00Z).
        #[arg(long, value_parser = super::rfc3339)]
        expires_at: Option<String>,
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
    /// Open the signature debugger for the token: refused signatures keep the base string the
    /// server computed, for `tessera audit --signature ID` (administrators, token managers).
    Debug {
        id: i64,
        /// For how long, 1–1440; 0 closes it.
        #[arg(long, default_value_t = 60)]
        minutes: u32,
    },
    /// Revoke (permanent) or make inactive every token the filters select: the count and the
    /// first tokens are shown first, then the change is made in one transaction, only if the
    /// filters still select that many.
    Bulk {
        /// revoke or inactivate.
        #[arg(value_parser = ["revoke", "inactivate"])]
        action: String,
        #[command(flatten)]
        filters: Filters,
        /// Do it without asking (the count shown is the one confirmed).
        #[arg(long)]
        yes: bool,
        /// Do it only if the filters select exactly this many tokens (for scripts).
        #[arg(long, value_name = "COUNT", conflicts_with = "yes")]
        expect: Option<usize>,
    },
}

/// The list's filters, shared by `token list` and `token bulk`.
#[derive(Debug, Args)]
struct Filters {
    /// all, yes or no.
    #[arg(long, value_parser = choice::<RevokedChoice>)]
    revoked: Option<RevokedChoice>,
    /// Only inactive (true) or only active (false) tokens.
    #[arg(long)]
    inactive: Option<bool>,
    /// Part of the token, application, user or role name (3 characters or more).
    #[arg(long)]
    search: Option<String>,
    /// Internal id of an integration record.
    #[arg(long)]
    application: Option<i64>,
    /// Internal id of a user.
    #[arg(long)]
    user: Option<i64>,
    /// Internal id of a role.
    #[arg(long)]
    role: Option<i64>,
    /// Only expired (true) or only unexpired (false) tokens.
    #[arg(long)]
    expired: Option<bool>,
    /// Only tokens that expire within this many days.
    #[arg(long, value_name = "DAYS")]
    expiring_within_days: Option<u32>,
    /// Only tokens not used for this many days (never used: counted from creation).
    #[arg(long, value_name = "DAYS")]
    unused_for_days: Option<u32>,
}

impl Filters {
    /// The query parameters holding these filters.
    fn params(&self) -> TokenFilterParams {
        TokenFilterParams {
            revoked: self.revoked,
            inactive: self.inactive,
            search: self.search.clone(),
            application: self.application,
            user: self.user,
            role: self.role,
            expired: self.expired,
            expiring_within_days: self.expiring_within_days,
            unused_for_days: self.unused_for_days,
        }
    }
}

/// A `*Choice` of the contract from a command-line word (read as the server reads it).
fn choice<T: serde::de::DeserializeOwned>(word: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(word.to_owned())).map_err(|e| e.to_string())
}

const TOKEN_COLUMNS: &[Column<TokenView>] = &[
    Column {
        heading: "ID",
        cell: |t| t.id.to_string(),
    },
    Column {
        heading: "NAME",
        cell: |t| t.name.clone(),
    },
    Column {
        heading: "APPLICATION",
        cell: |t| t.application.name.clone(),
    },
    Column {
        heading: "USER",
        cell: |t| t.user.name.clone(),
    },
    Column {
        heading: "ROLE",
        cell: |t| t.role.name.clone(),
    },
    Column {
        heading: "STATUS",
        cell: |t| t.status().to_owned(),
    },
    Column {
        heading: "CREATED",
        cell: |t| t.created_at.clone(),
    },
    Column {
        heading: "LAST USED",
        cell: |t| or_empty(&t.last_used_at),
    },
    Column {
        heading: "EXPIRES",
        cell: |t| or_empty(&t.expires_at),
    },
];

const TOKEN_FIELDS: &[Field<TokenView>] = &[
    ("Id", |t| t.id.to_string()),
    ("Name", |t| t.name.clone()),
    ("Account", |t| t.account.clone()),
    ("Application", |t| {
        format!("{} ({})", t.application.name, t.application.id)
    }),
    ("User", |t| format!("{} ({})", t.user.name, t.user.id)),
    ("Role", |t| format!("{} ({})", t.role.name, t.role.id)),
    ("Status", |t| t.status().to_owned()),
    ("Revoked at", |t| or_empty(&t.revoked_at)),
    ("Revoked by", |t| or_empty(&t.revoked_by)),
    ("Created", |t| t.created_at.clone()),
    ("Created by", |t| t.created_by.clone()),
    ("Last used", |t| or_empty(&t.last_used_at)),
    ("Last used from", |t| or_empty(&t.last_used_from)),
    ("Signature debugger", |t| match &t.signature_debug_until {
        Some(until) => format!("open until {until}"),
        None => "closed".to_owned(),
    }),
    ("Expires", |t| match &t.expires_at {
        Some(at) => at.clone(),
        None => "never".to_owned(),
    }),
];

/// A record's system notes, as `token notes` and `integration notes` print them.
pub(super) const NOTE_COLUMNS: &[Column<NoteView>] = &[
    Column {
        heading: "DATE",
        cell: |n| n.at.clone(),
    },
    Column {
        heading: "BY",
        cell: |n| n.by.clone(),
    },
    Column {
        heading: "CONTEXT",
        cell: |n| n.context.clone(),
    },
    Column {
        heading: "RECORD",
        cell: |n| n.record.clone(),
    },
    Column {
        heading: "FIELD",
        cell: |n| n.field.clone(),
    },
    Column {
        heading: "OLD",
        cell: |n| or_empty(&n.old_value),
    },
    Column {
        heading: "NEW",
        cell: |n| or_empty(&n.new_value),
    },
];

pub fn token(args: &TokenArgs) -> Result<()> {
    let api = args.session.api()?;
    let out = args.session.output;
    let path = |id: &i64, action: &str| format!("/api/v1/tokens/{id}{action}");
    let show = |answer: crate::api::Answer<TokenView>| {
        render::record(out, &answer.raw, &answer.value, TOKEN_FIELDS);
    };
    match &args.command {
        TokenCommand::List {
            filters,
            sort,
            limit,
            after,
        } => {
            let params = TokenListParams {
                sort: *sort,
                limit: Some(*limit),
                after: after.clone(),
                ..filters.params().into()
            };
            let page = api.get::<TokenPageView>(&format!("/api/v1/tokens{}", to_query(&params)))?;
            render::table(out, &page.raw, &page.value.items, TOKEN_COLUMNS);
            if let (Output::Text, Some(next)) = (out, &page.value.next) {
                println!("(more: --after {next})");
            }
        }
        TokenCommand::Show { id } => show(api.get(&path(id, ""))?),
        TokenCommand::Create {
            application,
            user,
            role,
            name,
            expires_in_days,
            expires_at,
        } => {
            let body = NewToken {
                application: *application,
                user: *user,
                role: *role,
                name: name.clone(),
                expires_at: expires_at.clone(),
                // Days from now by the server's clock: this machine's may be ahead of it.
                expires_in_days: *expires_in_days,
            };
            let created = api.call::<_, CreatedToken>("POST", "/api/v1/tokens", Some(&body))?;
            let c = &created.value;
            if out == Output::Text {
                render::record(out, &created.raw, &c.token, TOKEN_FIELDS);
            }
            render::secrets(
                out,
                &created.raw,
                &[("Token id", &c.token_id), ("Token secret", &c.token_secret)],
                &c.warning,
            );
        }
        TokenCommand::Rename { id, name } => {
            let changes = TokenChanges {
                name: Some(name.clone()),
                ..TokenChanges::default()
            };
            show(api.call("PATCH", &path(id, ""), Some(&changes))?)
        }
        TokenCommand::Inactivate { id } | TokenCommand::Activate { id } => {
            let changes = TokenChanges {
                inactive: Some(matches!(args.command, TokenCommand::Inactivate { .. })),
                ..TokenChanges::default()
            };
            show(api.call("PATCH", &path(id, ""), Some(&changes))?)
        }
        TokenCommand::Revoke { id } => show(api.call("POST", &path(id, "/revoke"), None::<&()>)?),
        TokenCommand::Notes { id } => {
            let notes = api.get::<Vec<NoteView>>(&path(id, "/notes"))?;
            render::table(out, &notes.raw, &notes.value, NOTE_COLUMNS);
        }
        TokenCommand::Debug { id, minutes } => {
            super::signature_debug(&api, out, &path(id, "/signature-debug"), *minutes)?;
        }
        TokenCommand::Bulk {
            action,
            filters,
            yes,
            expect,
        } => bulk(&api, out, action, filters, *yes, *expect)?,
    }
    Ok(())
}

/// `token bulk`: the preview, the confirmation, the change.
fn bulk(
    api: &crate::api::Api,
    out: Output,
    action: &str,
    filters: &Filters,
    yes: bool,
    expect: Option<usize>,
) -> Result<()> {
    let url = format!(
        "/api/v1/tokens/bulk/{action}{}",
        to_query(&filters.params())
    );
    let expected = match expect {
        // A script that knows the count: no preview needed, the server checks it.
        Some(n) => n,
        None => {
            let preview = api.get::<BulkPreviewView>(&url)?;
            let p = &preview.value;
            if out == Output::Text {
                let verb = if action == "revoke" {
                    "revoke"
                } else {
                    "make inactive"
                };
                println!("The filters select {} token(s) to {verb}.", p.count);
                if !p.sample.is_empty() {
                    render::table(out, &preview.raw, &p.sample, TOKEN_COLUMNS);
                    if p.count > p.sample.len() {
                        println!("(and {} more)", p.count - p.sample.len());
                    }
                }
                if p.includes_caller {
                    println!(
                        "This includes the token this CLI signs with: afterwards, `tessera login` again."
                    );
                }
            }
            if p.count == 0 {
                if out == Output::Json {
                    println!("{}", preview.raw);
                }
                return Ok(());
            }
            if !yes {
                confirm_count(action, p.count)?;
            }
            p.count
        }
    };
    let body = BulkConfirm {
        expected_count: expected,
    };
    let done = api.call::<_, BulkResultView>("POST", &url, Some(&body))?;
    match out {
        Output::Json => println!("{}", done.raw),
        Output::Text => {
            let d = &done.value;
            let did = if d.action == "revoke" {
                "revoked"
            } else {
                "made inactive"
            };
            if d.changed == 0 {
                println!("No token {did}: the filters select none.");
            } else {
                println!("{} token(s) {did}: {}", d.changed, render::list(&d.tokens));
            }
        }
    }
    Ok(())
}

/// Asks on the terminal for the count, typed back; refuses when there is no terminal.
fn confirm_count(action: &str, count: usize) -> Result<()> {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "not a terminal: confirm with --yes (the count shown) or --expect {count} (checked by the server)"
        );
    }
    print!("Type {count} to {action} these tokens: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != count.to_string() {
        anyhow::bail!("not confirmed: nothing was changed");
    }
    Ok(())
}
