//! NetSuite's discovery (RULES.md §4.4): which accounts an email belongs to, and the roles a
//! user may log in with — for `GET /rest/roles`, after the password was checked.

use super::Tessera;
use crate::error::Result;
use crate::ids::{AccountId, Email};
use crate::model::{Account, Role, User};
use crate::store::TxMode;

impl Tessera {
    /// The accounts with a user of this email, in account-id order. Only for a caller that
    /// goes on to check the password in each (an email's accounts are not told to anyone who
    /// does not know its password).
    pub async fn accounts_of_email(&self, email: &Email) -> Result<Vec<AccountId>> {
        let mut tx = self.tx(TxMode::Read).await?;
        let mut found = Vec::new();
        for account in tx.list_accounts().await? {
            if tx.user_by_email(&account.id, email).await?.is_some() {
                found.push(account.id);
            }
        }
        found.sort();
        Ok(found)
    }

    /// The account of a user whose password was checked, and the active roles it holds there.
    pub async fn login_roles(
        &self,
        account: &AccountId,
        user: &User,
    ) -> Result<(Account, Vec<Role>)> {
        let mut tx = self.tx(TxMode::Read).await?;
        let account = tx
            .account(account)
            .await?
            .ok_or(crate::Error::not_found("account"))?;
        let mut roles = Vec::new();
        for id in &user.roles {
            if let Some(role) = tx.role(&account.id, *id).await?
                && !role.inactive
            {
                roles.push(role);
            }
        }
        Ok((account, roles))
    }
}
