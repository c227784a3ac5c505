//! What the web UI needs beyond the rules: who is signed in, and its sessions' storage.

use super::{Actor, Tessera, principal};
use crate::error::Result;
use crate::model::{Account, Role, User};
use crate::store::{StoreTx, TxMode, WebSession};

/// The signed-in user as the UI shows it, resolved like any actor (active user, held role).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub account: Account,
    pub user: User,
    pub role: Role,
    /// The user's other roles it may switch to: active and allowed in the UI.
    pub roles: Vec<Role>,
}

impl Tessera {
    /// Resolves a UI actor; refused as any action would be when the user, role or account no
    /// longer qualifies.
    pub async fn signed_in(&self, actor: &Actor) -> Result<SignedIn> {
        let mut tx = self.tx(TxMode::Read).await?;
        let p = principal(tx.as_mut(), actor).await?;
        if p.role.web_services_only {
            return Err(crate::Error::not_permitted(
                "the role is restricted to web services and cannot sign in to the UI",
            ));
        }
        let account = tx
            .account(&p.account)
            .await?
            .ok_or(crate::Error::not_found("account"))?;
        let roles = ui_roles(tx.as_mut(), &p.user).await?;
        Ok(SignedIn {
            account,
            user: p.user,
            role: p.role,
            roles,
        })
    }

    /// The roles a user whose password was just checked may sign in to the UI with: active,
    /// and not restricted to web services. The first is the one it starts with.
    pub async fn sign_in_roles(&self, user: &User) -> Result<Vec<Role>> {
        let mut tx = self.tx(TxMode::Read).await?;
        ui_roles(tx.as_mut(), user).await
    }

    /// A stored session that has not expired at `now` (unix seconds).
    pub async fn web_session(&self, id_digest: &str, now: i64) -> Result<Option<WebSession>> {
        let mut tx = self.tx(TxMode::Read).await?;
        Ok(tx
            .web_session(id_digest)
            .await?
            .filter(|s| s.expires_at >= now))
    }

    pub async fn save_web_session(&self, session: &WebSession) -> Result<()> {
        let mut tx = self.tx(TxMode::Write).await?;
        tx.put_web_session(session).await?;
        self.commit(tx).await
    }

    pub async fn delete_web_session(&self, id_digest: &str) -> Result<()> {
        let mut tx = self.tx(TxMode::Write).await?;
        tx.delete_web_session(id_digest).await?;
        self.commit(tx).await
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_web_sessions(&self, now: i64) -> Result<u64> {
        let mut tx = self.tx(TxMode::Write).await?;
        let n = tx.purge_web_sessions(now).await?;
        self.commit(tx).await?;
        Ok(n)
    }
}

async fn ui_roles(tx: &mut dyn StoreTx, user: &User) -> Result<Vec<Role>> {
    let mut roles = Vec::with_capacity(user.roles.len());
    for id in &user.roles {
        if let Some(role) = tx.role(&user.account, *id).await?
            && !role.inactive
            && !role.web_services_only
        {
            roles.push(role);
        }
    }
    Ok(roles)
}
