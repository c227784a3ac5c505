//! NetSuite's three-step authorization flow (RULES.md §4.2): an application asks for a request
//! token (`requesttoken`, signed with its consumer credentials alone), sends the user to the
//! consent page, where the user signs in and allows it with one of its roles (or denies it),
//! and exchanges the authorized request token and the verifier the callback received for an
//! access token (`accesstoken`).
//!
//! Request tokens live [`REQUEST_TOKEN_LIFETIME`], are exchanged at most once, and their
//! secrets are sealed like every other secret. The flow's own requests follow the nonce,
//! timestamp and signature rules of RULES.md §3; their nonce records are claimed in the same
//! transaction as the change they ask for, so a replay changes nothing.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tessera_oauth1::header::{AuthorizationHeader, OAuthParam};
use tessera_oauth1::verify::{Profile, ProtocolParams};
use tessera_oauth1::{Detail, SecretString, SigningKey};

use super::tokens::MayCreate;
use super::{Actor, NewTokenInput, Notes, Tessera, principal};
use crate::credentials::{TokenCredentials, generate_hex, generate_secret};
use crate::error::{Error, Result};
use crate::ids::{AccountId, ConsumerKey, IntegrationId, RoleId, TokenId, UserId};
use crate::model::{Account, Context, InstallState, Integration, Role, Timestamp, TokenListItem};
use crate::store::{
    Consent, LoginAttempt, RequestTokenRow, RequestTokenState, StoreTx, StoredIntegration, TxMode,
};
use crate::vault::SecretSlot;
use crate::verifier::{ReadOAuth, RequestContext, SignedRequest, Unread, nonce_digest, read_oauth};

mod consent;
mod exchange;
mod request_token;
mod rules;

pub(crate) use rules::validate_callback;
pub use rules::{STATE_MAX, callback_matches, check_flow_state};
use rules::{redirect_to, still_allowed, verifier_digest};

/// How long a request token may wait for consent and exchange (NetSuite does not publish its
/// own; ten minutes is ample for a person to sign in and decide, and short for a stolen one).
pub const REQUEST_TOKEN_LIFETIME: Duration = Duration::from_secs(600);

/// The answer to a flow request: what it asked for, a refusal with its Detail code (the wire
/// answer stays generic), or a request that cannot be understood (HTTP 400).
#[derive(Debug)]
pub enum FlowOutcome<T> {
    Granted(T),
    Refused(FlowRefusal),
    Malformed(String),
}

/// Why a flow request was refused, and who it turned out to come from, for the audit trail.
#[derive(Debug, Clone, Default)]
pub struct FlowRefusal {
    pub detail: Detail,
    pub note: String,
    pub integration: Option<(IntegrationId, String)>,
    pub account: Option<AccountId>,
    pub user: Option<UserId>,
    pub role: Option<RoleId>,
}

impl FlowRefusal {
    fn new(detail: Detail, note: impl Into<String>) -> Self {
        Self {
            detail,
            note: note.into(),
            ..Self::default()
        }
    }

    /// Names the record; the row goes to the owner account's audit trail unless a more
    /// specific account (the consenting one, the one a realm named) is set afterwards.
    fn of(mut self, integration: &Integration) -> Self {
        self.integration = Some((integration.id, integration.name.clone()));
        self.account = Some(integration.owner.clone());
        self
    }

    fn in_account(mut self, account: &AccountId) -> Self {
        self.account = Some(account.clone());
        self
    }

    /// The audit row of this refusal.
    pub fn attempt(&self, context: &RequestContext) -> LoginAttempt {
        let mut row = context.attempt(false, self.detail, &self.note);
        if let Some((id, name)) = &self.integration {
            row.integration = Some(*id);
            row.application_name = Some(name.clone());
        }
        row.account = self.account.clone();
        row.user = self.user;
        row.role = self.role;
        row
    }
}

/// A request token issued by requesttoken; its secret is in this one answer only.
#[derive(Debug)]
pub struct IssuedRequestToken {
    pub token_id: TokenId,
    pub token_secret: SecretString,
    pub integration: (IntegrationId, String),
    /// Whose audit trail records it: the account the realm named, else the record's owner.
    pub account: AccountId,
}

impl IssuedRequestToken {
    /// The audit row of the request that got it.
    pub fn attempt(&self, context: &RequestContext) -> LoginAttempt {
        let mut row = context.attempt(true, Detail::Success, "request token issued");
        row.account = Some(self.account.clone());
        row.integration = Some(self.integration.0);
        row.application_name = Some(self.integration.1.clone());
        row
    }
}

/// An access token made by accesstoken; its credentials are in this one answer only.
#[derive(Debug)]
pub struct ExchangedToken {
    pub token: TokenListItem,
    pub credentials: TokenCredentials,
}

impl ExchangedToken {
    /// The audit row of the request that got it.
    pub fn attempt(&self, context: &RequestContext) -> LoginAttempt {
        let t = &self.token;
        let mut row = context.attempt(true, Detail::Success, "access token issued");
        row.account = Some(t.token.account.clone());
        row.user = Some(t.token.user);
        row.user_name = Some(t.user_name.clone());
        row.role = Some(t.token.role);
        row.role_name = Some(t.role_name.clone());
        row.integration = Some(t.token.integration);
        row.application_name = Some(t.application_name.clone());
        row.token = Some(t.token.key);
        row.token_name = Some(t.token.name.clone());
        row
    }
}

/// What the consent page shows: who asks, for which account, and the roles to choose from.
#[derive(Debug, Clone)]
pub struct ConsentRequest {
    pub token_id: TokenId,
    pub application_name: String,
    pub application_description: String,
    /// The account that owns the integration record.
    pub owner_name: String,
    pub owner: AccountId,
    /// The account the signed-in user acts in.
    pub account: Account,
    /// The user's active roles that may log in with tokens.
    pub roles: Vec<Role>,
    /// Where the callback is, for the user to see where they are sent.
    pub callback: String,
    /// The record's state in the account: as installed, or — not installed yet — the state
    /// Allow will install it in (R14).
    pub installation: InstallState,
}

/// The user's answer on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentDecision {
    Allow { role: RoleId },
    Deny,
}

/// Reads a flow request's header with the verifier's reader ([`read_oauth`]); `required` are
/// the flow parameters this step needs besides the usual ones (`oauth_callback`; `oauth_token`
/// and `oauth_verifier`), and `token_allowed` whether `oauth_token` may appear at all.
fn read_flow<'a, T>(
    request: &SignedRequest<'a>,
    profile: &Profile,
    required: &[OAuthParam],
    token_allowed: bool,
) -> std::result::Result<ReadOAuth<'a>, FlowOutcome<T>> {
    let more = |header: &AuthorizationHeader<'_>, params: &ProtocolParams<'_>| {
        if !token_allowed && params.token.is_some() {
            return Err(Unread::Malformed(
                "the request-token step is signed with the consumer key alone: leave out oauth_token"
                    .to_owned(),
            ));
        }
        match required
            .iter()
            .find(|p| header.get(**p).is_none_or(str::is_empty))
        {
            Some(param) => Err(Unread::Refused(
                Detail::MissingRequiredParameter,
                format!("{} is required", param.name()),
            )),
            None => Ok(()),
        }
    };
    read_oauth(request, profile, more).map_err(|unread| match unread {
        Unread::Refused(detail, note) => FlowOutcome::Refused(FlowRefusal::new(detail, note)),
        Unread::Malformed(why) => FlowOutcome::Malformed(why),
    })
}

impl Tessera {
    /// The integration record of a consumer key with its consumer secret opened; `None` when
    /// no live record has it (the secret `None` when the record has none).
    async fn integration_for_flow(
        &self,
        consumer_key: &str,
    ) -> Result<Option<(StoredIntegration, Option<SecretString>)>> {
        let Ok(key) = ConsumerKey::parse(consumer_key) else {
            return Ok(None);
        };
        let mut tx = self.tx(TxMode::Read).await?;
        let Some(stored) = tx
            .integration_by_consumer_key(&key)
            .await?
            .filter(|s| s.integration.deleted_at.is_none())
        else {
            return Ok(None);
        };
        drop(tx);
        let secret = match &stored.consumer_secret {
            Some(sealed) => Some(self.keyring.open(
                sealed,
                SecretSlot::ConsumerSecret(&stored.integration.application_id),
            )?),
            None => None,
        };
        Ok(Some((stored, secret)))
    }

    /// Checks a signature with `key`, or with a throwaway key when there is none, so that an
    /// unknown key costs what a known one does.
    fn check_signature(
        &self,
        key: Option<&SigningKey>,
        base_string: &str,
        signature: &str,
    ) -> Result<bool> {
        match key {
            Some(key) => Ok(key.verify(base_string.as_bytes(), signature)),
            None => {
                let throwaway = generate_secret()?;
                let key = SigningKey::consumer_only(throwaway.expose());
                key.verify(base_string.as_bytes(), signature);
                Ok(false)
            }
        }
    }

    /// Claims the request's nonce record in `tx`; false for a replay.
    async fn claim_nonce(
        &self,
        tx: &mut dyn StoreTx,
        signed: &ReadOAuth<'_>,
        params: &ProtocolParams<'_>,
    ) -> Result<bool> {
        let digest = nonce_digest(
            params.consumer_key,
            params.token.unwrap_or(""),
            params.nonce,
            signed.timestamp,
        );
        let ts = i64::try_from(signed.timestamp).unwrap_or(i64::MAX);
        Ok(tx.claim_flow_nonce(&digest, ts).await?)
    }

    /// Deletes request tokens expired longer than the acceptance window and the flow's nonce
    /// records older than `nonces_before` (Unix seconds). Returns how many rows went.
    pub async fn purge_authorization_flow(&self, nonces_before: i64) -> Result<u64> {
        let expired_before = Timestamp::from_millis(
            Timestamp::now()
                .millis()
                .saturating_sub(i64::try_from(REQUEST_TOKEN_LIFETIME.as_millis()).unwrap_or(0)),
        );
        let mut tx = self.tx(TxMode::Write).await?;
        let purged = tx.purge_flow(expired_before, nonces_before).await?;
        self.commit(tx).await?;
        Ok(purged)
    }
}

const NONCE_USED: &str = "this consumer key, token, nonce and timestamp were accepted before";

fn later(t: Timestamp, by: Duration) -> Timestamp {
    Timestamp::from_millis(
        t.millis()
            .saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX)),
    )
}

/// A presented value as a note may quote it.
fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}
