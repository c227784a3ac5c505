//! Fixtures: accounts, roles, users, integration records (with installs in other accounts)
//! and access tokens described in a TOML file and created at start-up, idempotently. A fixture
//! may give a record's credentials so a test suite can sign with known values.
//!
//! Everything is created through the service, as the account's administrator, so fixtures obey
//! the same rules (R11–R14) as any other change. Records are matched by a natural key and left
//! alone when they exist: accounts by id, roles by name, users by email, integration records by
//! name in their owner account, tokens by (integration, user, role, name).

use std::collections::HashMap;

use crate::credentials::{ConsumerCredentials, TokenCredentials};
use crate::ids::{AccountId, ConsumerKey, Email, IntegrationId, RoleId, TokenId};
use crate::model::{AuthSwitches, Context, InstallState, Permission, PermissionSet, Timestamp};
use crate::store::{RevokedFilter, TokenFilter, TokenSort};
use crate::{
    AccountSettings, Actor, InstallationChanges, NewAccountInput, NewIntegrationInput,
    NewRoleInput, NewTokenInput, NewUserInput, SecretString, Tessera,
};
use serde::Deserialize;
use thiserror::Error;

use crate::bootstrap::OPERATOR;

#[derive(Debug, Error)]
pub enum FixtureError {
    #[error("fixtures file is not valid TOML for Tessera fixtures: {0}")]
    Parse(String),
    #[error("{entry}: {why}")]
    Invalid { entry: String, why: String },
    #[error("{entry}: {source}")]
    Service {
        entry: String,
        #[source]
        source: crate::Error,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    #[serde(default)]
    pub accounts: Vec<AccountFixture>,
    #[serde(default)]
    pub roles: Vec<RoleFixture>,
    #[serde(default)]
    pub users: Vec<UserFixture>,
    #[serde(default)]
    pub integrations: Vec<IntegrationFixture>,
    #[serde(default)]
    pub tokens: Vec<TokenFixture>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountFixture {
    pub id: String,
    pub name: String,
    #[serde(default = "yes")]
    pub tba: bool,
    #[serde(default)]
    pub require_approval: bool,
    pub concurrency_limit: Option<u32>,
    /// The longest a new token may live, in days (R16).
    pub token_max_lifetime_days: Option<u32>,
    /// The networks the account's signed requests may come from (R17): `["10.0.0.0/8"]`.
    #[serde(default)]
    pub ip_allow: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleFixture {
    pub account: String,
    pub name: String,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub web_services_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFixture {
    pub account: String,
    pub name: String,
    pub email: String,
    /// For the web UI; none makes a token-only user.
    pub password: Option<String>,
    /// Role names.
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationFixture {
    /// The owner account.
    pub account: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub tba: bool,
    #[serde(default)]
    pub authorization_flow: bool,
    pub callback_url: Option<String>,
    #[serde(default)]
    pub issuetoken: bool,
    #[serde(default)]
    pub user_credentials: bool,
    pub consumer_key: Option<String>,
    pub consumer_secret: Option<String>,
    /// State in the owner account.
    pub state: Option<String>,
    pub concurrency_limit: Option<u32>,
    /// The networks its requests may come from in the owner account (R17).
    #[serde(default)]
    pub ip_allow: Vec<String>,
    #[serde(default)]
    pub installs: Vec<InstallFixture>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallFixture {
    pub account: String,
    /// `bundle` (default) or `auto`.
    pub origin: Option<String>,
    pub state: Option<String>,
    pub concurrency_limit: Option<u32>,
    /// The networks its requests may come from in this account (R17).
    #[serde(default)]
    pub ip_allow: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFixture {
    pub account: String,
    /// The integration record's name.
    pub integration: String,
    /// The user's email.
    pub user: String,
    /// The role's name.
    pub role: String,
    pub name: Option<String>,
    pub token_id: Option<String>,
    pub token_secret: Option<String>,
    #[serde(default)]
    pub inactive: bool,
    #[serde(default)]
    pub revoked: bool,
    /// R16: an RFC 3339 time (`2027-01-31T00:00:00Z`) …
    pub expires_at: Option<String>,
    /// … or a number of days from when the fixtures are applied; neither: the account's
    /// maximum lifetime, or never.
    pub expires_in_days: Option<u32>,
}

/// What applying fixtures did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FixtureReport {
    pub created: Vec<String>,
    pub existing: Vec<String>,
}

impl Fixtures {
    pub fn parse(text: &str) -> Result<Self, FixtureError> {
        toml::from_str(text).map_err(|e| FixtureError::Parse(e.to_string()))
    }
}

fn invalid(entry: &str, why: impl Into<String>) -> FixtureError {
    FixtureError::Invalid {
        entry: entry.to_owned(),
        why: why.into(),
    }
}

fn service(entry: &str) -> impl FnOnce(crate::Error) -> FixtureError + '_ {
    move |source| FixtureError::Service {
        entry: entry.to_owned(),
        source,
    }
}

fn account_id(entry: &str, s: &str) -> Result<AccountId, FixtureError> {
    AccountId::parse(s).map_err(|e| invalid(entry, format!("account {s:?}: {e}")))
}

fn state(entry: &str, s: Option<&str>) -> Result<Option<InstallState>, FixtureError> {
    s.map(|s| {
        InstallState::from_code(s).ok_or_else(|| {
            invalid(
                entry,
                format!("state {s:?}: expected enabled, blocked or waiting_for_approval"),
            )
        })
    })
    .transpose()
}

/// Applies fixtures in order: accounts, roles, users, integration records, tokens.
pub async fn apply(tessera: &Tessera, f: &Fixtures) -> Result<FixtureReport, FixtureError> {
    apply_at_first_start(tessera, f, None).await
}

/// [`apply`] right after the first start made `created` (the first account): its settings are
/// the fixtures' to set, as for an account the fixtures create. Every other account that exists
/// is left as it is — an operator's settings (TBA switched off, an IP allow-list, a maximum
/// token lifetime) survive a restart with the same file.
pub async fn apply_at_first_start(
    tessera: &Tessera,
    f: &Fixtures,
    created: Option<&AccountId>,
) -> Result<FixtureReport, FixtureError> {
    let mut report = FixtureReport::default();
    let existing: Vec<AccountId> = tessera
        .list_accounts(&OPERATOR)
        .await
        .map_err(service("accounts"))?
        .into_iter()
        .map(|a| a.id)
        .collect();
    for (i, a) in f.accounts.iter().enumerate() {
        let entry = format!("accounts[{i}] ({})", a.id);
        let id = account_id(&entry, &a.id)?;
        if existing.contains(&id) && created != Some(&id) {
            report.existing.push(entry);
        } else if existing.contains(&id) {
            tessera
                .update_account_settings(
                    &OPERATOR,
                    &id,
                    AccountSettings {
                        tba_enabled: Some(a.tba),
                        require_approval_for_auto_install: Some(a.require_approval),
                        concurrency_limit: Some(a.concurrency_limit),
                        token_max_lifetime_days: Some(a.token_max_lifetime_days),
                        ip_allow: Some(allow_list(&entry, &a.ip_allow)?),
                    },
                )
                .await
                .map_err(service(&entry))?;
            report.existing.push(entry);
        } else {
            tessera
                .create_account(
                    &OPERATOR,
                    NewAccountInput {
                        id: id.clone(),
                        name: a.name.clone(),
                        tba_enabled: a.tba,
                        require_approval_for_auto_install: a.require_approval,
                        concurrency_limit: a.concurrency_limit,
                    },
                )
                .await
                .map_err(service(&entry))?;
            if a.token_max_lifetime_days.is_some() || !a.ip_allow.is_empty() {
                let policy = AccountSettings {
                    token_max_lifetime_days: Some(a.token_max_lifetime_days),
                    ip_allow: Some(allow_list(&entry, &a.ip_allow)?),
                    ..AccountSettings::default()
                };
                tessera
                    .update_account_settings(&OPERATOR, &id, policy)
                    .await
                    .map_err(service(&entry))?;
            }
            report.created.push(entry);
        }
    }
    for (i, r) in f.roles.iter().enumerate() {
        let entry = format!("roles[{i}] ({})", r.name);
        let account = account_id(&entry, &r.account)?;
        let mut permissions = PermissionSet::default();
        for code in &r.permissions {
            let p = Permission::from_code(code).ok_or_else(|| {
                invalid(
                    &entry,
                    format!(
                        "unknown permission {code:?}; known: {}",
                        Permission::ALL.map(Permission::code).join(", ")
                    ),
                )
            })?;
            permissions = permissions.with(p);
        }
        let roles = tessera
            .list_roles(&OPERATOR, &account)
            .await
            .map_err(service(&entry))?;
        if roles.iter().any(|x| x.name == r.name) {
            report.existing.push(entry);
            continue;
        }
        tessera
            .create_role(
                &OPERATOR,
                &account,
                NewRoleInput {
                    name: r.name.clone(),
                    permissions,
                    web_services_only: r.web_services_only,
                },
            )
            .await
            .map_err(service(&entry))?;
        report.created.push(entry);
    }
    for (i, u) in f.users.iter().enumerate() {
        let entry = format!("users[{i}] ({})", u.email);
        let account = account_id(&entry, &u.account)?;
        let email = Email::parse(&u.email).map_err(|e| invalid(&entry, e.to_string()))?;
        let users = tessera
            .list_users(&OPERATOR, &account)
            .await
            .map_err(service(&entry))?;
        if users.iter().any(|x| x.email == email) {
            report.existing.push(entry);
            continue;
        }
        let roles = role_ids(tessera, &entry, &account, &u.roles).await?;
        tessera
            .create_user(
                &OPERATOR,
                &account,
                NewUserInput {
                    name: u.name.clone(),
                    email,
                    password: u.password.as_deref().map(SecretString::from),
                    roles,
                },
            )
            .await
            .map_err(service(&entry))?;
        report.created.push(entry);
    }
    let mut integrations: HashMap<(AccountId, String), IntegrationId> = HashMap::new();
    for (i, x) in f.integrations.iter().enumerate() {
        let entry = format!("integrations[{i}] ({})", x.name);
        let owner = account_id(&entry, &x.account)?;
        let admin = administrator(tessera, &entry, &owner).await?;
        let found = tessera
            .list_integrations(&admin, true)
            .await
            .map_err(service(&entry))?
            .into_iter()
            .find(|v| v.is_owner && v.integration.name == x.name);
        let id = match found {
            Some(v) => {
                report.existing.push(entry.clone());
                v.integration.id
            }
            None => {
                let given = match (&x.consumer_key, &x.consumer_secret) {
                    (Some(k), Some(s)) => Some(ConsumerCredentials {
                        consumer_key: ConsumerKey::parse(k)
                            .map_err(|e| invalid(&entry, format!("consumer_key: {e}")))?,
                        consumer_secret: SecretString::from(s.as_str()),
                    }),
                    (None, None) => None,
                    _ => {
                        return Err(invalid(
                            &entry,
                            "give both consumer_key and consumer_secret, or neither",
                        ));
                    }
                };
                let (view, _) = tessera
                    .create_integration_with(
                        &admin,
                        NewIntegrationInput {
                            name: x.name.clone(),
                            description: x.description.clone(),
                            switches: AuthSwitches {
                                token_based_auth: x.tba,
                                tba_authorization_flow: x.authorization_flow,
                                callback_url: x.callback_url.clone(),
                                tba_issuetoken_endpoint: x.issuetoken,
                                user_credentials: x.user_credentials,
                            },
                        },
                        given,
                    )
                    .await
                    .map_err(service(&entry))?;
                let id = view.integration.id;
                let changes = InstallationChanges {
                    state: state(&entry, x.state.as_deref())?,
                    note: None,
                    concurrency_limit: x.concurrency_limit.map(Some),
                    ip_allow: (!x.ip_allow.is_empty())
                        .then(|| allow_list(&entry, &x.ip_allow))
                        .transpose()?,
                };
                set_installation(tessera, &entry, &admin, id, changes).await?;
                report.created.push(entry.clone());
                id
            }
        };
        integrations.insert((owner.clone(), x.name.clone()), id);
        let owner_admin = admin;
        for (j, inst) in x.installs.iter().enumerate() {
            let entry = format!("{entry}.installs[{j}] ({})", inst.account);
            let account = account_id(&entry, &inst.account)?;
            let admin = administrator(tessera, &entry, &account).await?;
            let installed = tessera
                .list_integrations(&admin, true)
                .await
                .map_err(service(&entry))?
                .iter()
                .any(|v| v.integration.id == id);
            integrations.insert((account.clone(), x.name.clone()), id);
            if installed {
                report.existing.push(entry);
                continue;
            }
            match inst.origin.as_deref().unwrap_or("bundle") {
                "bundle" => {
                    // A bundle install in the fixtures is the owner's choice: the record is
                    // made installable there first.
                    let mut installable = tessera
                        .installable_accounts(&owner_admin, id)
                        .await
                        .map_err(service(&entry))?;
                    installable.push(account.clone());
                    tessera
                        .set_installable_accounts(&owner_admin, id, installable)
                        .await
                        .map_err(service(&entry))?;
                    tessera
                        .install_from_bundle(&admin, id)
                        .await
                        .map_err(service(&entry))?;
                }
                "auto" => {
                    tessera
                        .auto_install(&account, id, Context::Cli)
                        .await
                        .map_err(service(&entry))?;
                }
                other => {
                    return Err(invalid(
                        &entry,
                        format!("origin {other:?}: expected bundle or auto"),
                    ));
                }
            }
            let changes = InstallationChanges {
                state: state(&entry, inst.state.as_deref())?,
                note: None,
                concurrency_limit: inst.concurrency_limit.map(Some),
                ip_allow: (!inst.ip_allow.is_empty())
                    .then(|| allow_list(&entry, &inst.ip_allow))
                    .transpose()?,
            };
            set_installation(tessera, &entry, &admin, id, changes).await?;
            report.created.push(entry);
        }
    }
    for (i, t) in f.tokens.iter().enumerate() {
        let entry = format!("tokens[{i}] ({} / {} / {})", t.integration, t.user, t.role);
        apply_token(tessera, &entry, t, &integrations, &mut report).await?;
    }
    Ok(report)
}

async fn apply_token(
    tessera: &Tessera,
    entry: &str,
    t: &TokenFixture,
    integrations: &HashMap<(AccountId, String), IntegrationId>,
    report: &mut FixtureReport,
) -> Result<(), FixtureError> {
    let account = account_id(entry, &t.account)?;
    let integration = *integrations
        .get(&(account.clone(), t.integration.clone()))
        .ok_or_else(|| {
            invalid(
                entry,
                format!(
                    "integration {:?} is not among the fixtures' integrations of account {account}",
                    t.integration
                ),
            )
        })?;
    let email = Email::parse(&t.user).map_err(|e| invalid(entry, e.to_string()))?;
    let user = tessera
        .list_users(&OPERATOR, &account)
        .await
        .map_err(service(entry))?
        .into_iter()
        .find(|u| u.email == email)
        .ok_or_else(|| invalid(entry, format!("no user {email} in account {account}")))?;
    let role = role_ids(tessera, entry, &account, std::slice::from_ref(&t.role)).await?[0];
    // R12: a token for the Administrator role is made by its own user; others by an admin.
    let actor = if role == RoleId::ADMINISTRATOR {
        Actor::user(&account, user.id, role, Context::Cli)
    } else {
        administrator(tessera, entry, &account).await?
    };
    let page = tessera
        .list_tokens(
            &actor,
            TokenFilter {
                revoked: RevokedFilter::All,
                integration: Some(integration),
                user: Some(user.id),
                role: Some(role),
                ..TokenFilter::default()
            },
            TokenSort::NewestFirst,
            None,
            1000,
        )
        .await
        .map_err(service(entry))?;
    let exists = page.items.iter().any(|item| match &t.name {
        Some(n) => &item.token.name == n,
        None => true,
    });
    if exists {
        report.existing.push(entry.to_owned());
        return Ok(());
    }
    let given = match (&t.token_id, &t.token_secret) {
        (Some(id), Some(secret)) => Some(TokenCredentials {
            token_id: TokenId::parse(id).map_err(|e| invalid(entry, format!("token_id: {e}")))?,
            token_secret: SecretString::from(secret.as_str()),
        }),
        (None, None) => None,
        _ => {
            return Err(invalid(
                entry,
                "give both token_id and token_secret, or neither",
            ));
        }
    };
    let expires_at = match (&t.expires_at, t.expires_in_days) {
        (Some(at), None) => Some(Timestamp::parse_rfc3339(at).map_err(|_| {
            invalid(
                entry,
                "expires_at: must be an RFC 3339 time such as 2027-01-31T00:00:00Z",
            )
        })?),
        (None, Some(days)) => Some(Timestamp::now().plus_days(i64::from(days))),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(invalid(
                entry,
                "give expires_at or expires_in_days, not both",
            ));
        }
    };
    let (item, _) = tessera
        .create_token_with(
            &actor,
            NewTokenInput {
                integration,
                user: user.id,
                role,
                name: t.name.clone(),
                expires_at,
            },
            given,
        )
        .await
        .map_err(service(entry))?;
    if t.inactive {
        tessera
            .set_token_inactive(&actor, item.token.key, true)
            .await
            .map_err(service(entry))?;
    }
    if t.revoked {
        tessera
            .revoke_token(&actor, item.token.key)
            .await
            .map_err(service(entry))?;
    }
    report.created.push(entry.to_owned());
    Ok(())
}

async fn set_installation(
    tessera: &Tessera,
    entry: &str,
    admin: &Actor,
    id: IntegrationId,
    changes: InstallationChanges,
) -> Result<(), FixtureError> {
    if changes.state.is_none() && changes.concurrency_limit.is_none() && changes.ip_allow.is_none()
    {
        return Ok(());
    }
    tessera
        .update_installation(admin, id, changes)
        .await
        .map_err(service(entry))?;
    Ok(())
}

async fn role_ids(
    tessera: &Tessera,
    entry: &str,
    account: &AccountId,
    names: &[String],
) -> Result<Vec<RoleId>, FixtureError> {
    let roles = tessera
        .list_roles(&OPERATOR, account)
        .await
        .map_err(service(entry))?;
    names
        .iter()
        .map(|n| {
            roles
                .iter()
                .find(|r| &r.name == n)
                .map(|r| r.id)
                .ok_or_else(|| invalid(entry, format!("no role {n:?} in account {account}")))
        })
        .collect()
}

/// An active user of the account holding the Administrator role, acting with it.
async fn administrator(
    tessera: &Tessera,
    entry: &str,
    account: &AccountId,
) -> Result<Actor, FixtureError> {
    let users = tessera
        .list_users(&OPERATOR, account)
        .await
        .map_err(service(entry))?;
    users
        .iter()
        .find(|u| u.active && u.holds(RoleId::ADMINISTRATOR))
        .map(|u| Actor::user(account, u.id, RoleId::ADMINISTRATOR, Context::Cli))
        .ok_or_else(|| {
            invalid(
                entry,
                format!(
                    "account {account} has no active administrator to act as; add a user with \
                     the Administrator role to [[users]]"
                ),
            )
        })
}

/// An allow-list of a fixture (R17), its first bad entry named.
fn allow_list(entry: &str, networks: &[String]) -> Result<crate::allow::IpAllowList, FixtureError> {
    crate::allow::IpAllowList::parse("ip_allow", &networks.join(","))
        .map_err(|e| invalid(entry, e.to_string()))
}
