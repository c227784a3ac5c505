//! The first start on an empty database: one account with TBA on, its Administrator role and
//! one administrator whose generated password is shown once.

use tessera_core::ids::{AccountId, Email, RoleId};
use tessera_core::model::Context;
use tessera_core::{Actor, NewAccountInput, NewUserInput, SecretString, Tessera};

/// What the first start creates.
#[derive(Debug, Clone)]
pub struct BootstrapSettings {
    pub account: AccountId,
    pub account_name: String,
    pub admin_name: String,
    pub admin_email: Email,
}

/// What was created; the password is in no log and nowhere else.
#[derive(Debug)]
pub struct Bootstrapped {
    pub account: AccountId,
    pub admin_email: Email,
    pub admin_password: SecretString,
}

pub const OPERATOR: Actor = Actor::Operator {
    context: Context::Cli,
};

/// Creates the first account when there is none. `Ok(None)` when the database has accounts.
pub async fn bootstrap_if_empty(
    tessera: &Tessera,
    settings: &BootstrapSettings,
) -> tessera_core::Result<Option<Bootstrapped>> {
    if !tessera.list_accounts(&OPERATOR).await?.is_empty() {
        return Ok(None);
    }
    let account = tessera
        .create_account(
            &OPERATOR,
            NewAccountInput {
                id: settings.account.clone(),
                name: settings.account_name.clone(),
                tba_enabled: true,
                require_approval_for_auto_install: false,
                concurrency_limit: None,
            },
        )
        .await?;
    let password = tessera_oauth1::signer::generate_nonce()
        .map(SecretString::from)
        .map_err(|_| tessera_core::Error::Rng(tessera_core::credentials::RngError))?;
    tessera
        .create_user(
            &OPERATOR,
            &account.id,
            NewUserInput {
                name: settings.admin_name.clone(),
                email: settings.admin_email.clone(),
                password: Some(password.clone()),
                roles: vec![RoleId::ADMINISTRATOR],
            },
        )
        .await?;
    Ok(Some(Bootstrapped {
        account: account.id,
        admin_email: settings.admin_email.clone(),
        admin_password: password,
    }))
}
