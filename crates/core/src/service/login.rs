//! Whether an access token may log in (R9, R11), and the secrets a signature is checked with.

use tessera_oauth1::SecretString;

use super::Tessera;
use crate::error::Result;
use crate::ids::{ConsumerKey, TokenId, TokenKey};
use crate::model::{InstallState, Timestamp};
use crate::store::{LoginRecord, LoginTokenRecord};
use crate::vault::SecretSlot;
use crate::verifier::TokenOwner;

/// Why a token may not log in, as the login audit trail's Detail code (RULES.md §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginRefusal {
    /// The account's Token-based Authentication feature is off.
    FeatureDisabled,
    /// No integration record has this consumer key (never had, reset, or deleted).
    ConsumerKeyUnknown,
    /// The record is blocked or waiting for approval in the token's account, or its
    /// Token-based Authentication switch is off (R9, R11).
    ConsumerKeyRefused,
    /// No token has this id, or it belongs to another integration.
    InvalidToken,
    TokenRevoked,
    TokenInactive,
    /// The token's expiry has passed (R16).
    TokenExpired,
    /// The user is inactive or no longer holds the role, or the role is inactive.
    EntityOrRoleDisabled,
    /// The role has neither Log in using Access Tokens nor User Access Tokens.
    RoleNotAllowed,
}

use tessera_oauth1::Detail;

impl LoginRefusal {
    pub fn detail(self) -> Detail {
        match self {
            LoginRefusal::FeatureDisabled => Detail::FeatureDisabled,
            LoginRefusal::ConsumerKeyUnknown => Detail::ConsumerKeyUnknown,
            LoginRefusal::ConsumerKeyRefused => Detail::ConsumerKeyRefused,
            LoginRefusal::InvalidToken => Detail::InvalidToken,
            LoginRefusal::TokenRevoked => Detail::TokenRevoked,
            LoginRefusal::TokenInactive => Detail::TokenInactive,
            LoginRefusal::TokenExpired => Detail::TokenExpired,
            LoginRefusal::EntityOrRoleDisabled => Detail::EntityOrRoleDisabled,
            LoginRefusal::RoleNotAllowed => Detail::RoleNotAllowed,
        }
    }
}

/// A token allowed to log in, with what its signature is checked against.
#[derive(Debug)]
pub struct LoginGrant {
    pub owner: TokenOwner,
    pub token: TokenKey,
    pub token_name: String,
    /// R16: the grant stops at this moment, wherever it is kept.
    pub expires_at: Option<Timestamp>,
    /// The signature debugger's window (the token's or its record's, the later).
    pub signature_debug_until: Option<Timestamp>,
    pub consumer_secret: SecretString,
    pub token_secret: SecretString,
}

/// Applies R9 and R11, in the order NetSuite reports them, and R16's expiry at `now` (after
/// revoked and inactive, which say more), to what the store read.
pub fn assess(record: &LoginRecord, now: Timestamp) -> Result<&LoginTokenRecord, LoginRefusal> {
    if record.deleted || record.consumer_secret.is_none() {
        return Err(LoginRefusal::ConsumerKeyUnknown);
    }
    let Some(t) = &record.token else {
        return Err(LoginRefusal::InvalidToken);
    };
    if !t.account_tba_enabled {
        return Err(LoginRefusal::FeatureDisabled);
    }
    if t.install_state != Some(InstallState::Enabled) || !record.token_based_auth {
        return Err(LoginRefusal::ConsumerKeyRefused);
    }
    if t.revoked {
        return Err(LoginRefusal::TokenRevoked);
    }
    if t.inactive {
        return Err(LoginRefusal::TokenInactive);
    }
    if t.expires_at.is_some_and(|at| at <= now) {
        return Err(LoginRefusal::TokenExpired);
    }
    if !t.user_active || !t.user_holds_role || t.role_inactive {
        return Err(LoginRefusal::EntityOrRoleDisabled);
    }
    if !t.role_token_login {
        return Err(LoginRefusal::RoleNotAllowed);
    }
    Ok(t)
}

impl Tessera {
    /// Looks a credential pair up and applies R9 and R11 (see [`assess`]). The outer error is a
    /// failure of storage or of the keyring; the inner one a refusal.
    pub async fn authorize_token(
        &self,
        consumer_key: &ConsumerKey,
        token_id: &TokenId,
    ) -> Result<Result<LoginGrant, LoginRefusal>> {
        let Some(record) = self.store.login_record(consumer_key, token_id).await? else {
            return Ok(Err(LoginRefusal::ConsumerKeyUnknown));
        };
        match assess(&record, Timestamp::now()) {
            Ok(token) => self.open_grant(&record, token).map(Ok),
            Err(refusal) => Ok(Err(refusal)),
        }
    }

    /// Opens the secrets of a credential pair that [`assess`] let through.
    pub fn open_grant(&self, record: &LoginRecord, t: &LoginTokenRecord) -> Result<LoginGrant> {
        let sealed_consumer = record
            .consumer_secret
            .as_ref()
            .ok_or_else(|| crate::Error::not_found("consumer secret"))?;
        let consumer_secret = self.keyring.open(
            sealed_consumer,
            SecretSlot::ConsumerSecret(&record.application_id),
        )?;
        let token_secret = self
            .keyring
            .open(&t.token_secret, SecretSlot::TokenSecret(&t.token_id))?;
        Ok(LoginGrant {
            owner: TokenOwner {
                account: t.account.clone(),
                integration: record.integration,
                application_name: record.application_name.clone(),
                user: t.user,
                user_name: t.user_name.clone(),
                email: t.email.clone(),
                role: t.role,
                role_name: t.role_name.clone(),
                account_concurrency_limit: t.account_concurrency_limit,
                install_concurrency_limit: t.install_concurrency_limit,
                account_ip_allow: t.account_ip_allow.clone(),
                install_ip_allow: t.install_ip_allow.clone(),
            },
            token: t.key,
            token_name: t.name.clone(),
            expires_at: t.expires_at,
            signature_debug_until: t.token_debug_until.max(t.install_debug_until),
            consumer_secret,
            token_secret,
        })
    }
}
