//! The first start of an empty database, and the operator's way back into an account whose
//! administrators are all gone.

use tessera_oauth1::SecretString;

use super::directory::{
    NewAccountInput, NewUserInput, administrator_role, create_account_in, create_user_in,
    hash_password,
};
use super::integrations::NewIntegrationInput;
use super::{Actor, Tessera};
use crate::credentials::ConsumerCredentials;
use crate::error::{Error, Result};
use crate::ids::{AccountId, Email, RoleId};
use crate::model::{Account, Context, Timestamp};
use crate::store::{NewUser, TxMode};

/// What the first start creates: an account, its administrator, and optionally an integration
/// record that administrator creates (the CLI's own).
#[derive(Debug)]
pub struct FirstStart {
    pub account: NewAccountInput,
    pub administrator: NewUserInput,
    pub integration: Option<(NewIntegrationInput, ConsumerCredentials)>,
}

/// What [`Tessera::recover_administrator`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovered {
    /// A new user with the Administrator role.
    Created,
    /// An existing user of that email: made active, given the Administrator role and the new
    /// password (its browser sessions end).
    Restored,
}

const OPERATOR: Actor = Actor::Operator {
    context: Context::Cli,
};

impl Tessera {
    /// Creates everything of [`FirstStart`] in one transaction, when the database has no
    /// account: a crash at any point leaves either nothing (the next start does it again) or
    /// all of it. `Ok(None)` when there is an account already (another node's first start, or
    /// an earlier one).
    pub async fn create_first_account(&self, first: FirstStart) -> Result<Option<Account>> {
        let password_hash = first
            .administrator
            .password
            .as_ref()
            .map(hash_password)
            .transpose()?;
        let mut tx = self.tx(TxMode::Write).await?;
        if !tx.list_accounts().await?.is_empty() {
            return Ok(None);
        }
        let account = create_account_in(tx.as_mut(), first.account).await?;
        let admin = create_user_in(
            tx.as_mut(),
            &OPERATOR,
            &account.id,
            first.administrator,
            password_hash,
        )
        .await?;
        if let Some((input, credentials)) = first.integration {
            let actor = Actor::user(&account.id, admin.id, RoleId::ADMINISTRATOR, Context::Cli);
            self.create_integration_in(tx.as_mut(), &actor, input, Some(credentials))
                .await?;
        }
        match self.commit(tx).await {
            Ok(()) => Ok(Some(account)),
            // Another node's first start committed first (the start lock keeps nodes from
            // racing; this covers a database without it).
            Err(Error::Conflict { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The operator gives an account an administrator again: the user with `email` is made
    /// active, given the Administrator role (restored to the account if missing or inactive)
    /// and `password`; a new one is created if there is none. One transaction.
    pub async fn recover_administrator(
        &self,
        account: &AccountId,
        email: &Email,
        name: &str,
        password: &SecretString,
    ) -> Result<Recovered> {
        let name = super::clean_name("user name", name, super::directory::NAME_MAX)?;
        let hash = hash_password(password)?;
        let mut tx = self.tx(TxMode::Write).await?;
        if tx.account(account).await?.is_none() {
            return Err(Error::not_found("account"));
        }
        match tx.role(account, RoleId::ADMINISTRATOR).await? {
            None => tx.insert_role(&administrator_role(account)).await?,
            Some(role) if role.inactive => {
                tx.update_role(&administrator_role(account)).await?;
            }
            Some(_) => {}
        }
        let recovered = match tx.user_by_email(account, email).await? {
            Some(mut user) => {
                user.active = true;
                tx.update_user(&user).await?;
                let mut roles = user.roles.clone();
                if !roles.contains(&RoleId::ADMINISTRATOR) {
                    roles.push(RoleId::ADMINISTRATOR);
                    roles.sort();
                }
                tx.set_user_roles(account, user.id, &roles).await?;
                tx.set_password_hash(account, user.id, Some(&hash)).await?;
                tx.delete_web_sessions_of(account, user.id).await?;
                Recovered::Restored
            }
            None => {
                let id = tx
                    .insert_user(&NewUser {
                        account: account.clone(),
                        name,
                        email: email.clone(),
                        active: true,
                        password_hash: Some(hash),
                        created_at: Timestamp::now(),
                    })
                    .await?;
                tx.set_user_roles(account, id, &[RoleId::ADMINISTRATOR])
                    .await?;
                Recovered::Created
            }
        };
        self.commit(tx).await?;
        Ok(recovered)
    }
}
