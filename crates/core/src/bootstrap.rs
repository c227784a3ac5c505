//! The first start on an empty database: one account with TBA on, its Administrator role, one
//! administrator whose generated password is shown once, and the built-in CLI record — in one
//! transaction (`Tessera::create_first_account`), so that a crash leaves all or nothing.

use crate::ids::{AccountId, Email, RoleId};
use crate::model::Context;
use crate::{Actor, FirstStart, NewAccountInput, NewUserInput, SecretString, Tessera};
use thiserror::Error;

/// What the first start creates.
#[derive(Debug, Clone)]
pub struct BootstrapSettings {
    pub account: AccountId,
    pub account_name: String,
    pub admin_name: String,
    pub admin_email: Email,
}

/// The administrator of a first start; the password is in no log and nowhere else.
#[derive(Debug)]
pub struct Bootstrapped {
    pub account: AccountId,
    pub admin_email: Email,
    pub admin_password: SecretString,
}

#[derive(Debug, Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Core(#[from] crate::Error),
    #[error("cannot show the administrator's password")]
    Show(#[source] std::io::Error),
}

pub const OPERATOR: Actor = Actor::Operator {
    context: Context::Cli,
};

/// Creates the first account when there is none; `Ok(None)` when the database has accounts.
///
/// `show` is given the password *before* the transaction commits: once it commits, the
/// password has been shown, so a crash at any moment never leaves an administrator no one can
/// sign in as. A crash before the commit leaves nothing, and the next start shows a new one.
pub async fn bootstrap_if_empty(
    tessera: &Tessera,
    settings: &BootstrapSettings,
    show: impl FnOnce(&Bootstrapped) -> std::io::Result<()>,
) -> Result<Option<Bootstrapped>, BootstrapError> {
    if !tessera.list_accounts(&OPERATOR).await?.is_empty() {
        return Ok(None);
    }
    let password = tessera_oauth1::signer::generate_nonce()
        .map(SecretString::from)
        .map_err(|_| crate::Error::Rng(crate::credentials::RngError))?;
    let created = Bootstrapped {
        account: settings.account.clone(),
        admin_email: settings.admin_email.clone(),
        admin_password: password.clone(),
    };
    show(&created).map_err(BootstrapError::Show)?;
    let first = FirstStart {
        account: NewAccountInput {
            id: settings.account.clone(),
            name: settings.account_name.clone(),
            tba_enabled: true,
            require_approval_for_auto_install: false,
            concurrency_limit: None,
        },
        administrator: NewUserInput {
            name: settings.admin_name.clone(),
            email: settings.admin_email.clone(),
            password: Some(password),
            roles: vec![RoleId::ADMINISTRATOR],
        },
        integration: Some(cli_integration()?),
    };
    Ok(tessera.create_first_account(first).await?.map(|_| created))
}

/// The built-in "Tessera CLI" integration record, through which `tessera login` obtains a
/// token with issuetoken, or `tessera login --browser` through the authorization flow with a
/// loopback callback (as SuiteCloud CLI does with NetSuite). Its consumer key and secret
/// are public on purpose, like SuiteCloud CLI's: the CLI is a public client, and what a CLI
/// session may do is decided by the token issuetoken gives its user — the user's password,
/// its role and R11–R13 — whose secret only that user's profile holds.
pub const CLI_INTEGRATION_NAME: &str = "Tessera CLI";
pub const CLI_CONSUMER_KEY: &str =
    "88ddd7a1114da062e8e7978ca7e76b3521b2cd1c297cfb8e9c4409c44f4b19f7";
pub const CLI_CONSUMER_SECRET: &str =
    "82b3cd53f827610ab90f00df1fcca6c06f5ad1b6bdf1a56ede772e49193c0aec";

/// What [`ensure_cli_integration`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliIntegration {
    /// It was there.
    Present,
    /// It was created in this account.
    Created(AccountId),
    /// It cannot be created: the account has no active administrator.
    NoAdministrator(AccountId),
}

/// The callback of the built-in CLI record: `tessera login --browser` listens on a free port
/// of the loopback interface, which the authorization flow lets differ (RULES.md §4.2).
pub const CLI_CALLBACK: &str = "http://localhost/callback";

/// Makes sure the built-in "Tessera CLI" record exists, owned by `account` and created by its
/// first active administrator: Token-based Authentication, the issuetoken endpoint and the
/// authorization flow (with [`CLI_CALLBACK`]) on.
/// Other accounts get it installed by their first `tessera login` (R14).
pub async fn ensure_cli_integration(
    tessera: &Tessera,
    account: &AccountId,
) -> crate::Result<CliIntegration> {
    let key = crate::ids::ConsumerKey::parse(CLI_CONSUMER_KEY)?;
    let existing = {
        let mut tx = tessera.store().begin(crate::store::TxMode::Read).await?;
        tx.integration_by_consumer_key(&key).await?
    };
    if existing.is_some() {
        return Ok(CliIntegration::Present);
    }
    let administrator = tessera
        .list_users(&OPERATOR, account)
        .await?
        .into_iter()
        .find(|u| u.active && u.holds(RoleId::ADMINISTRATOR));
    let Some(administrator) = administrator else {
        return Ok(CliIntegration::NoAdministrator(account.clone()));
    };
    let actor = Actor::user(
        account,
        administrator.id,
        RoleId::ADMINISTRATOR,
        Context::Cli,
    );
    let (input, credentials) = cli_integration()?;
    let created = tessera
        .create_integration_with(&actor, input, Some(credentials))
        .await;
    match created {
        Ok(_) => Ok(CliIntegration::Created(account.clone())),
        // Created by a concurrent start a moment ago.
        Err(crate::Error::Conflict { .. }) => Ok(CliIntegration::Present),
        Err(e) => Err(e),
    }
}

/// The built-in CLI record's fields and its public credentials.
fn cli_integration() -> crate::Result<(
    crate::NewIntegrationInput,
    crate::credentials::ConsumerCredentials,
)> {
    Ok((
        crate::NewIntegrationInput {
            name: CLI_INTEGRATION_NAME.to_owned(),
            description:
                "Built in: `tessera login` obtains its token with this record, through issuetoken or (--browser) the authorization flow."
                    .to_owned(),
            switches: crate::model::AuthSwitches {
                token_based_auth: true,
                tba_issuetoken_endpoint: true,
                tba_authorization_flow: true,
                callback_url: Some(CLI_CALLBACK.to_owned()),
                ..Default::default()
            },
        },
        crate::credentials::ConsumerCredentials {
            consumer_key: crate::ids::ConsumerKey::parse(CLI_CONSUMER_KEY)?,
            consumer_secret: SecretString::from(CLI_CONSUMER_SECRET),
        },
    ))
}
