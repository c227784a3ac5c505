//! Whether an access token may log in (R9, R11), and the secrets a signature is checked with.

use tessera_oauth1::SecretString;

use super::Tessera;
use crate::error::Result;
use crate::ids::{AccountId, ConsumerKey, IntegrationId, RoleId, TokenId, TokenKey, UserId};
use crate::model::InstallState;
use crate::store::TxMode;
use crate::vault::SecretSlot;

/// Why a token may not log in, as the login audit trail's Detail code (SPEC §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginRefusal {
    /// The account's Token-based Authentication feature is off.
    FeatureDisabled,
    /// No integration record has this consumer key (never had, reset, or deleted).
    ConsumerKeyUnknown,
    /// The record is blocked or waiting for approval in the token's account, or its
    /// Token-based Authentication switch is off (R9).
    ConsumerKeyRefused,
    /// No token has this id, or it belongs to another integration.
    InvalidToken,
    TokenRevoked,
    TokenInactive,
    /// The user is inactive or no longer holds the role, or the role is inactive.
    EntityOrRoleDisabled,
    /// The role has neither Log in using Access Tokens nor User Access Tokens.
    RoleNotAllowed,
}

impl LoginRefusal {
    pub fn detail_code(self) -> &'static str {
        match self {
            LoginRefusal::FeatureDisabled => "FeatureDisabled",
            LoginRefusal::ConsumerKeyUnknown => "consumer_key_unknown",
            LoginRefusal::ConsumerKeyRefused => "consumer_key_refused",
            LoginRefusal::InvalidToken => "InvalidToken",
            LoginRefusal::TokenRevoked => "TokenRevoked",
            LoginRefusal::TokenInactive => "TokenInactive",
            LoginRefusal::EntityOrRoleDisabled => "EntityOrRoleDisabled",
            LoginRefusal::RoleNotAllowed => "RoleNotAllowed",
        }
    }
}

/// A token allowed to log in, with what its signature is checked against.
#[derive(Debug)]
pub struct LoginGrant {
    pub account: AccountId,
    pub integration: IntegrationId,
    pub application_name: String,
    pub user: UserId,
    pub user_name: String,
    pub role: RoleId,
    pub role_name: String,
    pub token: TokenKey,
    pub token_name: String,
    pub consumer_secret: SecretString,
    pub token_secret: SecretString,
}

impl Tessera {
    /// Looks a credential pair up and applies R9 and R11 in the order NetSuite reports them.
    /// The outer error is a failure of storage or of the keyring; the inner one a refusal.
    pub async fn authorize_token(
        &self,
        consumer_key: &ConsumerKey,
        token_id: &TokenId,
    ) -> Result<Result<LoginGrant, LoginRefusal>> {
        let mut tx = self.tx(TxMode::Read).await?;
        let Some(stored) = tx
            .integration_by_consumer_key(consumer_key)
            .await?
            .filter(|s| s.integration.deleted_at.is_none())
        else {
            return Ok(Err(LoginRefusal::ConsumerKeyUnknown));
        };
        let Some(token) = tx
            .token_by_token_id(token_id)
            .await?
            .filter(|t| t.token.integration == stored.integration.id)
        else {
            return Ok(Err(LoginRefusal::InvalidToken));
        };
        let t = &token.token;
        let Some(account) = tx.account(&t.account).await? else {
            return Ok(Err(LoginRefusal::InvalidToken));
        };
        if !account.tba_enabled {
            return Ok(Err(LoginRefusal::FeatureDisabled));
        }
        let installation = tx.installation(stored.integration.id, &t.account).await?;
        if !installation.is_some_and(|i| i.state == InstallState::Enabled)
            || !stored.integration.switches.token_based_auth
        {
            return Ok(Err(LoginRefusal::ConsumerKeyRefused));
        }
        if t.is_revoked() {
            return Ok(Err(LoginRefusal::TokenRevoked));
        }
        if t.inactive {
            return Ok(Err(LoginRefusal::TokenInactive));
        }
        let user = tx.user(&t.account, t.user).await?;
        let role = tx.role(&t.account, t.role).await?;
        let (Some(user), Some(role)) = (user, role) else {
            return Ok(Err(LoginRefusal::EntityOrRoleDisabled));
        };
        if !user.active || !user.holds(role.id) || role.inactive {
            return Ok(Err(LoginRefusal::EntityOrRoleDisabled));
        }
        if !role.can_use_tokens() {
            return Ok(Err(LoginRefusal::RoleNotAllowed));
        }
        drop(tx);
        let Some(sealed_consumer) = &stored.consumer_secret else {
            return Ok(Err(LoginRefusal::ConsumerKeyUnknown));
        };
        let app = &stored.integration.application_id;
        let consumer_secret = self
            .keyring
            .open(sealed_consumer, SecretSlot::ConsumerSecret(app))?;
        let token_secret = self.keyring.open(
            &token.token_secret,
            SecretSlot::TokenSecret(&token.token_id),
        )?;
        Ok(Ok(LoginGrant {
            account: t.account.clone(),
            integration: stored.integration.id,
            application_name: stored.integration.name.clone(),
            user: user.id,
            user_name: user.name,
            role: role.id,
            role_name: role.name,
            token: t.key,
            token_name: t.name.clone(),
            consumer_secret,
            token_secret,
        }))
    }
}
