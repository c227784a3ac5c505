//! NetSuite's issuetoken endpoint (RULES.md §4): a user that proved who it is with its password
//! (NLAuth, checked by the caller through [`Tessera::check_password`]) gets a token of its own for an integration record whose issuetoken switch is on,
//! installing the record into its account when needed (R14).

use super::{Actor, NewTokenInput, Tessera};
use crate::credentials::TokenCredentials;
use crate::error::{Error, Result};
use crate::ids::{AccountId, ConsumerKey, IntegrationId, RoleId};
use crate::model::{Context, InstallState, TokenListItem, User};
use crate::store::TxMode;
use tessera_oauth1::Detail;

/// An issuetoken request, parsed, from a user whose password was checked.
#[derive(Debug)]
pub struct IssueTokenInput {
    pub account: AccountId,
    /// The user the password belongs to.
    pub user: User,
    /// `nlauth_role`; without it, the user's only role.
    pub role: Option<RoleId>,
    pub consumer_key: ConsumerKey,
    /// The token's name; defaults to "application - user - role".
    pub name: Option<String>,
}

/// A token issued: its credentials are shown in the one response (R6).
#[derive(Debug)]
pub struct IssuedToken {
    pub token: TokenListItem,
    pub credentials: TokenCredentials,
}

/// Why issuetoken refused: answered with the generic 401, recorded with its Detail code.
#[derive(Debug, Clone)]
pub struct IssueRefusal {
    pub detail: Detail,
    pub note: String,
    /// Who asked, once the password proved it.
    pub user: Option<User>,
    pub role: Option<RoleId>,
    pub integration: Option<(IntegrationId, String)>,
}

impl IssueRefusal {
    fn new(detail: Detail, note: impl Into<String>) -> Self {
        Self {
            detail,
            note: note.into(),
            user: None,
            role: None,
            integration: None,
        }
    }
}

impl Tessera {
    /// Issues a token to the user the password belongs to, for itself, with the role it asks
    /// for (R12 applies as for any token the user makes for itself). The outer `Result` is a
    /// failure of the server; the inner one the answer.
    pub async fn issue_token(
        &self,
        input: IssueTokenInput,
    ) -> Result<std::result::Result<IssuedToken, IssueRefusal>> {
        let user = input.user;
        let mut tx = self.tx(TxMode::Read).await?;
        let account = tx.account(&input.account).await?;
        drop(tx);
        // Told only after the password proved who asks: no answer says whether an account
        // exists or has the feature on to someone who does not know a password in it.
        let Some(account) = account.filter(|a| a.tba_enabled) else {
            return Ok(Err(IssueRefusal {
                user: Some(user),
                ..IssueRefusal::new(
                    Detail::FeatureDisabled,
                    "the Token-based Authentication feature is off in the account",
                )
            }));
        };
        let refusal = |detail, note: String| IssueRefusal {
            detail,
            note,
            user: Some(user.clone()),
            role: None,
            integration: None,
        };
        let role = match (input.role, user.roles.as_slice()) {
            (Some(role), _) if user.holds(role) => role,
            (Some(role), _) => {
                return Ok(Err(refusal(
                    Detail::RoleNotAllowed,
                    format!("the user does not hold role {role}"),
                )));
            }
            (None, [only]) => *only,
            (None, _) => {
                return Ok(Err(refusal(
                    Detail::MissingRequiredParameter,
                    "nlauth_role is required: the user holds several roles, or none".to_owned(),
                )));
            }
        };
        let mut tx = self.tx(TxMode::Read).await?;
        let role_record = tx.role(&account.id, role).await?;
        let stored = tx.integration_by_consumer_key(&input.consumer_key).await?;
        drop(tx);
        let refusal = |detail, note: String| {
            let mut r = refusal(detail, note);
            r.role = Some(role);
            r
        };
        if role_record.is_none_or(|r| r.inactive) {
            return Ok(Err(refusal(
                Detail::EntityOrRoleDisabled,
                format!("role {role} is inactive or gone"),
            )));
        }
        let Some(stored) = stored.filter(|s| s.integration.deleted_at.is_none()) else {
            return Ok(Err(refusal(
                Detail::ConsumerKeyUnknown,
                "no integration record has this consumer key".to_owned(),
            )));
        };
        let integration = stored.integration;
        let refusal = |detail, note: String| {
            let mut r = refusal(detail, note);
            r.integration = Some((integration.id, integration.name.clone()));
            r
        };
        if !integration.switches.token_based_auth {
            return Ok(Err(refusal(
                Detail::ConsumerKeyRefused,
                "Token-based Authentication is off on the integration record".to_owned(),
            )));
        }
        if !integration.switches.tba_issuetoken_endpoint {
            return Ok(Err(refusal(
                Detail::ConsumerKeyRefused,
                "the integration record's TBA: issuetoken Endpoint switch is off".to_owned(),
            )));
        }
        let installation = self
            .auto_install(&account.id, integration.id, Context::Endpoint)
            .await?;
        // Installed a moment ago or before: until the account enables it, the record's
        // requests are refused, this one included (R14).
        if installation.state != InstallState::Enabled {
            return Ok(Err(refusal(
                Detail::IntegrationBlocked,
                format!(
                    "the integration record is {} in this account; an administrator must enable it",
                    installation.state.label()
                ),
            )));
        }
        let actor = Actor::user(&account.id, user.id, role, Context::Endpoint);
        let created = self
            .create_token(
                &actor,
                NewTokenInput {
                    integration: integration.id,
                    user: user.id,
                    role,
                    name: input.name,
                    // The account's maximum lifetime, if it sets one (R16).
                    expires_at: None,
                },
            )
            .await;
        match created {
            Ok((token, credentials)) => Ok(Ok(IssuedToken { token, credentials })),
            Err(Error::NotPermitted { why }) => Ok(Err(refusal(Detail::RoleNotAllowed, why))),
            // The name was checked before the password (`check_token_name`); what is left is
            // the role, the user or the record refusing, after the password: a refusal like
            // the others, never an answer of its own that would confirm the password.
            Err(Error::Invalid { field: "role", why }) => {
                Ok(Err(refusal(Detail::RoleNotAllowed, why)))
            }
            Err(Error::Invalid { field, why }) => Ok(Err(refusal(
                Detail::EntityOrRoleDisabled,
                format!("{field}: {why}"),
            ))),
            Err(e) => Err(e),
        }
    }
}
