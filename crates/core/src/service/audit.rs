//! The Login Audit Trail (RULES.md §1, §4): who may read it, and only their own account's.

use super::{Actor, Tessera, principal};
use crate::error::{Error, Result};
use crate::model::Permission;
use crate::store::{AttemptQuery, LoginAttempt, TxMode};

/// Most attempts in one page of the trail.
pub const AUDIT_PAGE_MAX: u32 = 1000;

impl Tessera {
    /// The login audit trail, newest first. A user reads its own account's with the
    /// Administrator role or the Login Audit Trail permission (whatever `query.account` says);
    /// the operator reads every account's, and the attempts no account could be told for (an
    /// unknown consumer key, a malformed header).
    pub async fn login_audit_trail(
        &self,
        actor: &Actor,
        mut query: AttemptQuery,
    ) -> Result<Vec<LoginAttempt>> {
        if query.limit == 0 || query.limit > AUDIT_PAGE_MAX {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {AUDIT_PAGE_MAX}"),
            ));
        }
        if let (Some(from), Some(to)) = (query.from, query.to)
            && from >= to
        {
            return Err(Error::invalid("to", "must be later than from"));
        }
        if let Actor::User { .. } = actor {
            let mut tx = self.tx(TxMode::Read).await?;
            let p = principal(tx.as_mut(), actor).await?;
            if !p.is_administrator() && !p.has(Permission::LoginAuditTrail) {
                return Err(Error::not_permitted(
                    "the login audit trail needs the Administrator role or the Login Audit Trail permission",
                ));
            }
            query.account = Some(p.account.clone());
        }
        Ok(self.store().login_attempts(&query).await?)
    }
}
