//! The signature debugger's switch and its captures (`crate::debugger`): who opens a window,
//! for how long, and who reads what was kept.

use super::integrations::visible_integration;
use super::tokens::visible_token;
use super::{Actor, Notes, Tessera, principal};
use crate::debugger::{Capture, DEBUG_MINUTES_MAX};
use crate::error::{Error, Result};
use crate::ids::{IntegrationId, TokenKey};
use crate::model::{Permission, RecordRef, Timestamp};
use crate::store::TxMode;

/// What a debugging window is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebugTarget {
    /// One token.
    Token(TokenKey),
    /// Every token of an integration record, in the caller's account.
    Integration(IntegrationId),
}

impl Tessera {
    /// Opens the signature debugger for `minutes` (1 to a day) from now, or closes it (`0`):
    /// while open, a request of the target refused as `InvalidSignature` keeps the base string the
    /// server computed with its audit row. Administrators open it for anything of their account;
    /// token managers for tokens; installation managers (Integration Application) for records.
    /// Returns when it closes. On other nodes a window is seen when their cached grant is read
    /// again (at most the grant cache's time to live).
    pub async fn set_signature_debug(
        &self,
        actor: &Actor,
        target: DebugTarget,
        minutes: u32,
    ) -> Result<Option<Timestamp>> {
        if minutes > DEBUG_MINUTES_MAX {
            return Err(Error::invalid(
                "minutes",
                format!("must be between 0 (close) and {DEBUG_MINUTES_MAX} (a day)"),
            ));
        }
        let now = Timestamp::now();
        let until = (minutes > 0)
            .then(|| Timestamp::from_millis(now.millis() + i64::from(minutes) * 60_000));
        let mut tx = self.tx(TxMode::Write).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let mut notes = Notes::by(&p, now);
        let shown = |t: Option<Timestamp>| {
            Some(t.map_or_else(|| "off".to_owned(), |t| format!("until {t}")))
        };
        match target {
            DebugTarget::Token(key) => {
                if !p.is_administrator() && !p.has(Permission::AccessTokenManagement) {
                    return Err(Error::not_permitted(
                        "the signature debugger of a token is opened by an administrator or a token manager",
                    ));
                }
                let item = visible_token(tx.as_mut(), &p, key).await?;
                if !tx.set_token_signature_debug(key, until).await? {
                    return Err(Error::TokenRevoked);
                }
                notes.change(
                    RecordRef::Token(key),
                    "signature debugger",
                    shown(item.token.signature_debug_until.filter(|t| *t > now)),
                    shown(until),
                );
            }
            DebugTarget::Integration(id) => {
                if !p.is_administrator() && !p.has(Permission::IntegrationApplication) {
                    return Err(Error::not_permitted(
                        "the signature debugger of an integration record is opened by an administrator or a holder of Integration Application",
                    ));
                }
                let (_, mut installation) = visible_integration(tx.as_mut(), &p, id).await?;
                let before = installation.signature_debug_until.filter(|t| *t > now);
                installation.signature_debug_until = until;
                tx.update_installation(&installation).await?;
                notes.change(
                    RecordRef::Installation(id, p.account.clone()),
                    "signature debugger",
                    shown(before),
                    shown(until),
                );
            }
        }
        notes.write(tx.as_mut()).await?;
        self.commit(tx).await?;
        Ok(until)
    }

    /// What the signature debugger kept with audit row `id`: for those who read the login audit
    /// trail of the row's account. A row of another account, or one without a capture, is
    /// not found.
    pub async fn signature_capture(&self, actor: &Actor, id: i64) -> Result<Capture> {
        let not_found = || Error::not_found("signature capture");
        let mut tx = self.tx(TxMode::Read).await?;
        let p = principal(tx.as_mut(), actor).await?;
        if !p.is_administrator() && !p.has(Permission::LoginAuditTrail) {
            return Err(Error::not_permitted(
                "the login audit trail needs the Administrator role or the Login Audit Trail permission",
            ));
        }
        drop(tx);
        let (account, json) = self
            .store()
            .signature_capture(id)
            .await?
            .ok_or_else(not_found)?;
        if account.as_ref() != Some(&p.account) {
            return Err(not_found());
        }
        Capture::from_json(&json).ok_or_else(not_found)
    }
}
