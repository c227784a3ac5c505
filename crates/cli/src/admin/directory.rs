//! `tessera user`, `role` and `account`: the caller's account, its roles and its users.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use tessera_api::Password;
use tessera_api::directory::{
    AccountEdit, AccountView, NewRole, NewUser, RoleEdit, RoleView, UserDeleted, UserEdit, UserView,
};
use tessera_oauth1::SecretString;

use super::{Session, password_from_stdin};
use crate::api::Answer;
use crate::render::{self, Column, Field, list, yes_no};

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

const USER_COLUMNS: &[Column<UserView>] = &[
    Column {
        heading: "ID",
        cell: |u| u.id.to_string(),
    },
    Column {
        heading: "NAME",
        cell: |u| u.name.clone(),
    },
    Column {
        heading: "EMAIL",
        cell: |u| u.email.clone(),
    },
    Column {
        heading: "ACTIVE",
        cell: |u| yes_no(u.active),
    },
    Column {
        heading: "ROLES",
        cell: |u| list(&u.roles),
    },
];

const USER_FIELDS: &[Field<UserView>] = &[
    ("Id", |u| u.id.to_string()),
    ("Name", |u| u.name.clone()),
    ("Email", |u| u.email.clone()),
    ("Active", |u| yes_no(u.active)),
    ("Roles", |u| list(&u.roles)),
    ("Created", |u| u.created_at.clone()),
];

/// A password read from stdin, when asked for.
fn password(asked: bool) -> Result<Option<Password>> {
    Ok(asked
        .then(password_from_stdin)
        .transpose()?
        .map(|p| Password(SecretString::from(p))))
}

pub fn user(args: &UserArgs) -> Result<()> {
    let api = args.session.api()?;
    let out = args.session.output;
    let show = |answer: Answer<UserView>| {
        render::record(out, &answer.raw, &answer.value, USER_FIELDS);
    };
    match &args.command {
        UserCommand::List => {
            let users = api.get::<Vec<UserView>>("/api/v1/users")?;
            render::table(out, &users.raw, &users.value, USER_COLUMNS);
        }
        UserCommand::Show { id } => show(api.get(&format!("/api/v1/users/{id}"))?),
        UserCommand::Create {
            name,
            email,
            roles,
            password_stdin,
        } => {
            let body = NewUser {
                name: name.clone(),
                email: email.clone(),
                roles: roles.clone(),
                password: password(*password_stdin)?,
            };
            show(api.call("POST", "/api/v1/users", Some(&body))?);
        }
        UserCommand::Edit {
            id,
            name,
            email,
            active,
            roles,
            password_stdin,
        } => {
            let body = UserEdit {
                name: name.clone(),
                email: email.clone(),
                active: *active,
                roles: roles.clone(),
                password: password(*password_stdin)?,
            };
            show(api.call("PATCH", &format!("/api/v1/users/{id}"), Some(&body))?);
        }
        UserCommand::Delete { id, yes } => {
            if !yes {
                bail!("deleting a user deletes its tokens; run again with --yes");
            }
            let answer: Answer<UserDeleted> =
                api.call("DELETE", &format!("/api/v1/users/{id}"), None::<&()>)?;
            render::record(
                out,
                &answer.raw,
                &answer.value,
                &[("Tokens deleted", |d| d.revoked_tokens.to_string())],
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

const ROLE_COLUMNS: &[Column<RoleView>] = &[
    Column {
        heading: "ID",
        cell: |r| r.id.to_string(),
    },
    Column {
        heading: "NAME",
        cell: |r| r.name.clone(),
    },
    Column {
        heading: "INACTIVE",
        cell: |r| yes_no(r.inactive),
    },
    Column {
        heading: "PERMISSIONS",
        cell: |r| list(&r.permissions),
    },
];

const ROLE_FIELDS: &[Field<RoleView>] = &[
    ("Id", |r| r.id.to_string()),
    ("Name", |r| r.name.clone()),
    ("Permissions", |r| list(&r.permissions)),
    ("Inactive", |r| yes_no(r.inactive)),
    ("Web services only", |r| yes_no(r.web_services_only)),
];

pub fn role(args: &RoleArgs) -> Result<()> {
    let api = args.session.api()?;
    let out = args.session.output;
    let show = |answer: Answer<RoleView>| {
        render::record(out, &answer.raw, &answer.value, ROLE_FIELDS);
    };
    match &args.command {
        RoleCommand::List => {
            let roles = api.get::<Vec<RoleView>>("/api/v1/roles")?;
            render::table(out, &roles.raw, &roles.value, ROLE_COLUMNS);
        }
        RoleCommand::Show { id } => show(api.get(&format!("/api/v1/roles/{id}"))?),
        RoleCommand::Create {
            name,
            permissions,
            web_services_only,
        } => {
            let body = NewRole {
                name: name.clone(),
                permissions: permissions.clone(),
                web_services_only: *web_services_only,
            };
            show(api.call("POST", "/api/v1/roles", Some(&body))?);
        }
        RoleCommand::Edit {
            id,
            name,
            permissions,
            inactive,
            web_services_only,
        } => {
            let body = RoleEdit {
                name: name.clone(),
                permissions: permissions.clone(),
                inactive: *inactive,
                web_services_only: *web_services_only,
            };
            show(api.call("PATCH", &format!("/api/v1/roles/{id}"), Some(&body))?);
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct AccountArgs {
    #[command(flatten)]
    session: Session,
    #[command(subcommand)]
    command: Option<AccountCommand>,
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Show your account and its settings (the default).
    Show,
    /// Change your account's settings (administrators).
    Set {
        /// The Token-based Authentication feature: off refuses every token of the account.
        #[arg(long)]
        tba: Option<bool>,
        /// Auto-installed integration records wait for an administrator's approval.
        #[arg(long)]
        require_approval: Option<bool>,
        /// Requests of the account served at once; "none": the server's default.
        #[arg(long, value_parser = super::clearable)]
        concurrency_limit: Option<super::Clearable>,
        /// The longest a new token may live, in days; "none": no maximum. Tokens that exist
        /// keep their expiry.
        #[arg(long, value_parser = super::clearable)]
        token_max_lifetime_days: Option<super::Clearable>,
        /// The IP allow-list: addresses or CIDR networks, comma-separated; "none" removes it.
        /// It applies to this CLI's own signed requests too.
        #[arg(long, value_name = "NETWORKS")]
        ip_allow: Option<String>,
    },
}

pub fn account(args: &AccountArgs) -> Result<()> {
    let api = args.session.api()?;
    let account = match &args.command {
        None | Some(AccountCommand::Show) => api.get::<AccountView>("/api/v1/account")?,
        Some(AccountCommand::Set {
            tba,
            require_approval,
            concurrency_limit,
            token_max_lifetime_days,
            ip_allow,
        }) => {
            let body = AccountEdit {
                tba_enabled: *tba,
                require_approval_for_auto_install: *require_approval,
                concurrency_limit: concurrency_limit.map(|c| c.0),
                token_max_lifetime_days: token_max_lifetime_days.map(|c| c.0),
                ip_allow_list: ip_allow.as_deref().map(super::networks).transpose()?,
            };
            if body == AccountEdit::default() {
                bail!(
                    "give a setting to change: --tba, --require-approval, --concurrency-limit, \
                     --token-max-lifetime-days or --ip-allow"
                );
            }
            api.call("PATCH", "/api/v1/account", Some(&body))?
        }
    };
    render::record(
        args.session.output,
        &account.raw,
        &account.value,
        &[
            ("Account", |a| a.id.clone()),
            ("Name", |a| a.name.clone()),
            ("Token-based auth", |a| yes_no(a.tba_enabled)),
            ("Approve auto-installs", |a| {
                yes_no(a.require_approval_for_auto_install)
            }),
            ("Concurrency limit", |a| {
                a.effective_concurrency_limit.to_string()
            }),
            ("Max token lifetime", |a| match a.token_max_lifetime_days {
                Some(days) => format!("{days} days"),
                None => "none".to_owned(),
            }),
            ("IP allow-list", |a| {
                if a.ip_allow_list.is_empty() {
                    "none (any address)".to_owned()
                } else {
                    a.ip_allow_list.join(", ")
                }
            }),
            ("Created", |a| a.created_at.clone()),
        ],
    );
    Ok(())
}
