//! The lifecycle rules of RULES.md §2, carried out over a [`Store`].
//!
//! Every public operation takes the acting [`Actor`], opens one transaction, resolves the actor
//! inside it (so a role removed a moment ago no longer counts), checks permissions, makes the
//! change, writes its system notes, and commits: a change and its notes land together (R15).

mod audit;
pub(crate) mod authorization_flow;
mod bootstrap;
mod bulk;
mod debugging;
mod directory;
mod discovery;
mod endpoints;
mod integrations;
mod keys;
mod login;
mod sessions;
mod tokens;

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::ids::{AccountId, RoleId, UserId};
use crate::model::{Context, Permission, RecordRef, Role, SystemNote, Timestamp, User};
use crate::store::{Store, StoreTx, TxMode};
use crate::vault::Keyring;

pub use audit::AUDIT_PAGE_MAX;
pub use authorization_flow::{
    ConsentDecision, ConsentRequest, ExchangedToken, FlowOutcome, FlowRefusal, IssuedRequestToken,
    REQUEST_TOKEN_LIFETIME, STATE_MAX, callback_matches, check_flow_state,
};
pub use bootstrap::{FirstStart, Recovered};
pub use bulk::{BULK_MAX, BulkAction, BulkOutcome, BulkPreview, PREVIEW_SAMPLE};
pub use debugging::DebugTarget;
pub use directory::{
    AccountSettings, NewAccountInput, NewRoleInput, NewUserInput, RoleChanges, UserChanges,
    password_hash_checks, prepare_password_checks,
};
pub use endpoints::{IssueRefusal, IssueTokenInput, IssuedToken};
pub use integrations::{
    InstallationChanges, IntegrationChanges, IntegrationView, NewIntegrationInput,
    ResetConfirmation,
};
pub use keys::{KeyCheckError, RotationReport, master_keys_in_use};
pub use login::{LoginGrant, LoginRefusal, assess};
pub use sessions::SignedIn;
pub use tokens::{
    LIFETIME_MAX_DAYS, NewTokenInput, TimeFilters, TokenPage, check_token_name, default_token_name,
    new_token_expiry,
};

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user acting with one of its roles in its account.
    User {
        account: AccountId,
        user: UserId,
        role: RoleId,
        context: Context,
    },
    /// The operator of this installation (the CLI, with access to the data directory). May
    /// administer accounts, roles and users; integration records and tokens are always changed
    /// by a user of an account, so that the rules of RULES.md §2 apply to someone.
    Operator { context: Context },
}

impl Actor {
    pub fn user(account: &AccountId, user: UserId, role: RoleId, context: Context) -> Self {
        Actor::User {
            account: account.clone(),
            user,
            role,
            context,
        }
    }

    pub fn context(&self) -> Context {
        match self {
            Actor::User { context, .. } | Actor::Operator { context } => *context,
        }
    }

    /// The account a user acts in; `None` for the operator.
    pub fn account(&self) -> Option<&AccountId> {
        match self {
            Actor::User { account, .. } => Some(account),
            Actor::Operator { .. } => None,
        }
    }
}

/// A user actor, resolved and checked inside the transaction.
#[derive(Debug)]
pub(crate) struct Principal {
    pub account: AccountId,
    pub user: User,
    pub role: Role,
    pub context: Context,
}

impl Principal {
    pub fn has(&self, p: Permission) -> bool {
        self.role.has(p)
    }

    pub fn is_administrator(&self) -> bool {
        self.role.is_administrator()
    }
}

/// The service: rules over a store, secrets sealed under a keyring.
#[derive(Clone)]
pub struct Tessera {
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    default_concurrency_limit: u32,
}

/// NetSuite's base account concurrency limit with one SuiteCloud Plus licence (5 + 10).
pub const DEFAULT_CONCURRENCY_LIMIT: u32 = 15;

/// RULES.md §5: the installations' own limits leave at least one unit of the account's limit to
/// everything else.
pub(crate) fn check_unallocated(account_limit: u32, allocated: u64) -> Result<()> {
    if allocated >= u64::from(account_limit) {
        return Err(Error::invalid(
            "concurrency_limit",
            format!(
                "the integrations' own limits would total {allocated} of the account's \
                 {account_limit}; at least one unit must stay unallocated"
            ),
        ));
    }
    Ok(())
}

impl std::fmt::Debug for Tessera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tessera")
            .field("store", &self.store.backend())
            .field("keyring", &self.keyring)
            .finish()
    }
}

impl Tessera {
    pub fn new(store: Arc<dyn Store>, keyring: Arc<Keyring>) -> Self {
        Self {
            store,
            keyring,
            default_concurrency_limit: DEFAULT_CONCURRENCY_LIMIT,
        }
    }

    /// Sets the concurrency limit of accounts that have none of their own (RULES.md §5).
    pub fn with_default_concurrency_limit(mut self, limit: u32) -> Self {
        self.default_concurrency_limit = limit.max(1);
        self
    }

    /// The concurrency limit of accounts that have none of their own.
    pub fn default_concurrency_limit(&self) -> u32 {
        self.default_concurrency_limit
    }

    /// An account's concurrency limit: its own, or the server's default.
    pub fn effective_limit(&self, account: &crate::model::Account) -> u32 {
        account
            .concurrency_limit
            .unwrap_or(self.default_concurrency_limit)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// See [`Store::change_epoch`].
    pub fn change_epoch(&self) -> u64 {
        self.store.change_epoch()
    }

    /// Commits a change (the store moves its change epoch on before this returns).
    async fn commit(&self, tx: Box<dyn StoreTx>) -> Result<()> {
        Ok(tx.commit().await?)
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    async fn tx(&self, mode: TxMode) -> Result<Box<dyn StoreTx>> {
        Ok(self.store.begin(mode).await?)
    }
}

/// Resolves a user actor: the user exists in its account, is active, holds the role it acts
/// with, and the role is active. Anything else is refused before any rule is looked at.
pub(crate) async fn principal(tx: &mut dyn StoreTx, actor: &Actor) -> Result<Principal> {
    let Actor::User {
        account,
        user,
        role,
        context,
    } = actor
    else {
        return Err(Error::not_permitted(
            "this action must be taken by a user of the account, not by the operator",
        ));
    };
    let refused = || Error::not_permitted("the acting user is not an active user of this account");
    let user = tx.user(account, *user).await?.ok_or_else(refused)?;
    if !user.active {
        return Err(refused());
    }
    if !user.holds(*role) {
        return Err(Error::not_permitted(
            "the acting user does not hold the role it acts with",
        ));
    }
    let role = tx.role(account, *role).await?.ok_or_else(refused)?;
    if role.inactive {
        return Err(Error::not_permitted("the acting role is inactive"));
    }
    Ok(Principal {
        account: account.clone(),
        user,
        role,
        context: *context,
    })
}

/// The system notes of one change, written with it (R15).
pub(crate) struct Notes {
    at: Timestamp,
    account: AccountId,
    actor: Option<UserId>,
    actor_name: String,
    context: Context,
    notes: Vec<SystemNote>,
}

impl Notes {
    pub fn by(p: &Principal, at: Timestamp) -> Self {
        Self {
            at,
            account: p.account.clone(),
            actor: Some(p.user.id),
            actor_name: p.user.name.clone(),
            context: p.context,
            notes: Vec::new(),
        }
    }

    /// A change made by Tessera itself (auto-installation, cascades run for an endpoint).
    pub fn system(account: &AccountId, context: Context, at: Timestamp) -> Self {
        Self {
            at,
            account: account.clone(),
            actor: None,
            actor_name: "System".to_owned(),
            context,
            notes: Vec::new(),
        }
    }

    /// A change made by the operator of this installation.
    pub fn operator(account: &AccountId, context: Context, at: Timestamp) -> Self {
        Self {
            actor_name: "Operator".to_owned(),
            ..Self::system(account, context, at)
        }
    }

    /// Records a field change; an unchanged field writes nothing.
    pub fn change(
        &mut self,
        record: RecordRef,
        field: &str,
        old: Option<String>,
        new: Option<String>,
    ) {
        if old != new {
            self.push(record, field, old, new);
        }
    }

    /// Records an event (creation, reset, revocation) even when no displayed value changes.
    pub fn push(
        &mut self,
        record: RecordRef,
        field: &str,
        old: Option<String>,
        new: Option<String>,
    ) {
        self.notes.push(SystemNote {
            at: self.at,
            account: self.account.clone(),
            actor: self.actor,
            actor_name: self.actor_name.clone(),
            context: self.context,
            record,
            field: field.to_owned(),
            old_value: old,
            new_value: new,
        });
    }

    pub async fn write(self, tx: &mut dyn StoreTx) -> Result<()> {
        if !self.notes.is_empty() {
            tx.insert_notes(&self.notes).await?;
        }
        Ok(())
    }
}

pub(crate) fn yes_no(b: bool) -> Option<String> {
    Some(if b { "Yes" } else { "No" }.to_owned())
}

/// Validates a display name: trimmed, 1 to `max` characters, no control characters.
pub(crate) fn clean_name(field: &'static str, input: &str, max: usize) -> Result<String> {
    let name = input.trim();
    if name.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if name.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(name.to_owned())
}

impl Tessera {
    /// The system notes of a record, oldest first, if the actor may see the record.
    pub async fn system_notes(
        &self,
        actor: &Actor,
        record: &RecordRef,
    ) -> Result<Vec<crate::model::SystemNote>> {
        let mut tx = self.tx(TxMode::Read).await?;
        let p = principal(tx.as_mut(), actor).await?;
        match record {
            RecordRef::Token(key) => {
                tokens::visible_token(tx.as_mut(), &p, *key).await?;
            }
            RecordRef::Integration(id) => {
                let (stored, _) = integrations::visible_integration(tx.as_mut(), &p, *id).await?;
                // An installing account sees its installation's notes, never the owner's
                // changes to the record (nor the names of the owner's users).
                if stored.integration.owner != p.account {
                    return Ok(Vec::new());
                }
            }
            // Another account's installation is that account's business.
            RecordRef::Installation(id, account) => {
                if account != &p.account {
                    return Err(Error::not_found("installation"));
                }
                integrations::visible_integration(tx.as_mut(), &p, *id).await?;
            }
        }
        Ok(tx.notes(record).await?)
    }
}
