//! `tessera audit`: the Login Audit Trail.

use anyhow::Result;
use clap::Args;
use tessera_api::audit::{
    AttemptNamed, AttemptPage, AttemptView, AuditParams, SignatureCaptureView,
};
use tessera_api::query::to_query;

use super::Session;
use crate::Output;
use crate::render::{self, Column, Field, yes_no};

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
    /// Show what the signature debugger kept with this row (its ID): the base string the
    /// server computed for a refused signature.
    #[arg(long, value_name = "ID")]
    signature: Option<i64>,
}

fn name(named: &Option<AttemptNamed>) -> String {
    named
        .as_ref()
        .and_then(|n| n.name.clone())
        .unwrap_or_default()
}

const ATTEMPT_COLUMNS: &[Column<AttemptView>] = &[
    Column {
        heading: "ID",
        cell: |a| a.id.to_string(),
    },
    Column {
        heading: "DATE",
        cell: |a| a.at.clone(),
    },
    Column {
        heading: "STATUS",
        cell: |a| if a.success { "Success" } else { "Failure" }.to_owned(),
    },
    Column {
        heading: "DETAIL",
        cell: |a| a.detail.clone(),
    },
    Column {
        heading: "USER",
        cell: |a| name(&a.user),
    },
    Column {
        heading: "ROLE",
        cell: |a| name(&a.role),
    },
    Column {
        heading: "APPLICATION",
        cell: |a| name(&a.application),
    },
    Column {
        heading: "TOKEN",
        cell: |a| name(&a.token),
    },
    Column {
        heading: "IP",
        cell: |a| a.ip.clone(),
    },
    Column {
        heading: "REQUEST",
        cell: |a| format!("{} {}", a.method, a.request_uri),
    },
];

const CAPTURE_FIELDS: &[Field<SignatureCaptureView>] = &[
    ("Base string", |c| c.base_string.clone()),
    ("Clipped", |c| yes_no(c.truncated)),
    ("Signed with", |c| c.scheme.clone()),
    ("Query parameters", |c| c.query_params.join(", ")),
    ("Form body signed", |c| yes_no(c.form_body_signed)),
    ("Form parameters", |c| c.form_params.join(", ")),
    ("realm sent", |c| yes_no(c.realm_sent)),
    ("oauth_body_hash sent", |c| yes_no(c.body_hash_sent)),
];

pub fn audit(args: &AuditArgs) -> Result<()> {
    let api = args.session.api()?;
    if let Some(id) = args.signature {
        let capture = api.get::<SignatureCaptureView>(&format!("/api/v1/audit/{id}/signature"))?;
        render::record(
            args.session.output,
            &capture.raw,
            &capture.value,
            CAPTURE_FIELDS,
        );
        return Ok(());
    }
    let params = AuditParams {
        success: args.success,
        detail: args.detail.clone(),
        user: args.user,
        role: args.role,
        application: args.application,
        token: args.token,
        token_name: args.token_name.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        before: args.before,
        limit: Some(args.limit),
    };
    let page = api.get::<AttemptPage>(&format!("/api/v1/audit{}", to_query(&params)))?;
    let out = args.session.output;
    render::table(out, &page.raw, &page.value.items, ATTEMPT_COLUMNS);
    if let (Output::Text, Some(next)) = (out, page.value.next) {
        println!("(more: --before {next})");
    }
    Ok(())
}
