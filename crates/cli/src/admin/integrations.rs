//! `tessera integration`: Manage Integrations from the command line.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use tessera_api::audit::NoteView;
use tessera_api::integrations::{
    Deleted, InstallableAccounts, IntegrationEdit, IntegrationListParams, IntegrationRecord,
    IntegrationWithCredentials, NewIntegration, ResetRequest,
};
use tessera_api::query::to_query;

use super::Session;
use super::tokens::NOTE_COLUMNS;
use crate::Output;
use crate::api::Answer;
use crate::render::{self, Column, Field, or_empty, yes_no};

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
        #[arg(long, value_parser = super::clearable)]
        concurrency_limit: Option<super::Clearable>,
        /// Your account's IP allow-list for the record: addresses or CIDR networks,
        /// comma-separated; "none" removes it.
        #[arg(long, value_name = "NETWORKS")]
        ip_allow: Option<String>,
    },
    /// Block the record in your account.
    Block { id: i64 },
    /// Open the signature debugger for the record in your account: refused signatures of its
    /// tokens keep the base string the server computed, for `tessera audit --signature ID`.
    Debug {
        id: i64,
        /// For how long, 1–1440; 0 closes it.
        #[arg(long, default_value_t = 60)]
        minutes: u32,
    },
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

const INTEGRATION_COLUMNS: &[Column<IntegrationRecord>] = &[
    Column {
        heading: "ID",
        cell: |i| i.id.to_string(),
    },
    Column {
        heading: "NAME",
        cell: |i| i.name.clone(),
    },
    Column {
        heading: "STATE",
        cell: |i| i.installation.state.clone(),
    },
    Column {
        heading: "TBA",
        cell: |i| yes_no(i.token_based_auth),
    },
    Column {
        heading: "ISSUETOKEN",
        cell: |i| yes_no(i.tba_issuetoken_endpoint),
    },
    Column {
        heading: "OWNER",
        cell: |i| i.owner_account.clone(),
    },
    Column {
        heading: "ORIGIN",
        cell: |i| i.installation.origin.clone(),
    },
];

const INTEGRATION_FIELDS: &[Field<IntegrationRecord>] = &[
    ("Id", |i| i.id.to_string()),
    ("Name", |i| i.name.clone()),
    ("Application id", |i| i.application_id.clone()),
    ("Description", |i| i.description.clone()),
    ("Owner account", |i| i.owner_account.clone()),
    ("Token-based auth", |i| yes_no(i.token_based_auth)),
    ("Authorization flow", |i| yes_no(i.tba_authorization_flow)),
    ("Callback URL", |i| or_empty(&i.callback_url)),
    ("issuetoken endpoint", |i| yes_no(i.tba_issuetoken_endpoint)),
    ("User credentials", |i| yes_no(i.user_credentials)),
    ("State", |i| i.installation.state.clone()),
    ("Note", |i| i.installation.note.clone()),
    ("Concurrency limit", |i| {
        or_empty(&i.installation.concurrency_limit)
    }),
    ("IP allow-list", |i| i.installation.ip_allow_list.join(", ")),
    ("Installed as", |i| i.installation.origin.clone()),
    ("State changed", |i| {
        format!(
            "{} by {}",
            i.installation.state_changed_at, i.installation.state_changed_by
        )
    }),
    ("Created", |i| i.created_at.clone()),
    ("Modified", |i| i.modified_at.clone()),
];

/// A record with credentials issued just now: the record, then the pair, once.
fn show_with_credentials(out: Output, answer: &Answer<IntegrationWithCredentials>) {
    let a = &answer.value;
    if out == Output::Text {
        render::record(out, &answer.raw, &a.integration, INTEGRATION_FIELDS);
    }
    match (&a.consumer_key, &a.consumer_secret) {
        (Some(key), Some(secret)) => render::secrets(
            out,
            &answer.raw,
            &[("Consumer key", key), ("Consumer secret", secret)],
            a.warning
                .as_deref()
                .unwrap_or("store the consumer key and secret now"),
        ),
        _ if out == Output::Json => render::record(out, &answer.raw, a, &[]),
        _ => {}
    }
}

pub fn integration(args: &IntegrationArgs) -> Result<()> {
    let api = args.session.api()?;
    let out = args.session.output;
    let show = |answer: Answer<IntegrationRecord>| {
        render::record(out, &answer.raw, &answer.value, INTEGRATION_FIELDS);
    };
    let path = |id: &i64, action: &str| format!("/api/v1/integrations/{id}{action}");
    let post = |id: &i64, action: &str| api.call("POST", &path(id, action), None::<&()>);
    match &args.command {
        IntegrationCommand::List { inactive } => {
            let params = IntegrationListParams {
                inactive: inactive.then_some(true),
            };
            let list = api.get::<Vec<IntegrationRecord>>(&format!(
                "/api/v1/integrations{}",
                to_query(&params)
            ))?;
            render::table(out, &list.raw, &list.value, INTEGRATION_COLUMNS);
        }
        IntegrationCommand::Show { id } => show(api.get(&path(id, ""))?),
        IntegrationCommand::Create {
            name,
            description,
            no_tba,
            issuetoken,
            authorization_flow,
            callback_url,
            user_credentials,
        } => {
            let body = NewIntegration {
                name: name.clone(),
                description: description.clone(),
                token_based_auth: !no_tba,
                tba_issuetoken_endpoint: *issuetoken,
                tba_authorization_flow: *authorization_flow,
                callback_url: callback_url.clone(),
                user_credentials: *user_credentials,
            };
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
            ip_allow,
        } => {
            let concurrency_limit = concurrency_limit.map(|c| c.0);
            let body = IntegrationEdit {
                name: name.clone(),
                description: description.clone(),
                token_based_auth: *tba,
                tba_issuetoken_endpoint: *issuetoken,
                tba_authorization_flow: *authorization_flow,
                callback_url: callback_url.clone(),
                user_credentials: *user_credentials,
                note: note.clone(),
                concurrency_limit,
                ip_allow_list: ip_allow.as_deref().map(super::networks).transpose()?,
            };
            show_with_credentials(out, &api.call("PATCH", &path(id, ""), Some(&body))?);
        }
        IntegrationCommand::Block { id } => show(post(id, "/block")?),
        IntegrationCommand::Debug { id, minutes } => {
            super::signature_debug(&api, out, &path(id, "/signature-debug"), *minutes)?;
        }
        IntegrationCommand::Enable { id } => show(post(id, "/enable")?),
        IntegrationCommand::Approve { id } => show(post(id, "/approve")?),
        IntegrationCommand::Install { id } => show(post(id, "/install")?),
        IntegrationCommand::Installable { id, set } => {
            let answer: Answer<InstallableAccounts> = match set {
                Some(accounts) => api.call(
                    "PUT",
                    &path(id, "/installable-accounts"),
                    Some(&InstallableAccounts {
                        accounts: accounts.clone(),
                    }),
                )?,
                None => api.get(&path(id, "/installable-accounts"))?,
            };
            render::record(
                out,
                &answer.raw,
                &answer.value,
                &[("Installable by", |v| {
                    if v.accounts.is_empty() {
                        "(no other account)".to_owned()
                    } else {
                        v.accounts.join(", ")
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
            let answer = api.call(
                "POST",
                &path(id, "/reset"),
                Some(&ResetRequest { confirm: true }),
            )?;
            show_with_credentials(out, &answer);
        }
        IntegrationCommand::Delete { id, yes } => {
            if !yes {
                bail!("deleting revokes the record's tokens; run again with --yes");
            }
            let answer: Answer<Deleted> = api.call("DELETE", &path(id, ""), None::<&()>)?;
            render::record(
                out,
                &answer.raw,
                &answer.value,
                &[("Tokens revoked", |d| d.revoked_tokens.to_string())],
            );
        }
        IntegrationCommand::Notes { id } => {
            let notes = api.get::<Vec<NoteView>>(&path(id, "/notes"))?;
            render::table(out, &notes.raw, &notes.value, NOTE_COLUMNS);
        }
    }
    Ok(())
}
