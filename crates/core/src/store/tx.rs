//! One transaction's operations, one trait per aggregate; [`StoreTx`] is all of them plus
//! `commit`. Core's services take `&mut dyn StoreTx`; bring the traits into scope with
//! `use crate::store::tx::*` (or name the one you need).

use async_trait::async_trait;

use super::{
    NewIntegration, NewToken, NewUser, NonceDigest, RequestTokenRow, RequestTokenState, SealedSlot,
    StoreResult, StoredIntegration, StoredToken, TokenQuery, WebSession,
};
use crate::ids::{AccountId, ConsumerKey, Email, IntegrationId, RoleId, TokenId, TokenKey, UserId};
use crate::model::{
    AccessToken, Account, Installation, Integration, RecordRef, Revocation, Role, SystemNote,
    Timestamp, TokenListItem, User,
};
use crate::vault::SealedSecret;

/// Everything one transaction can do. Dropping it without [`StoreTx::commit`] rolls it back.
#[async_trait]
pub trait StoreTx:
    DirectoryTx + IntegrationTx + TokenTx + FlowTx + AuditTx + SessionTx + KeyTx + Send
{
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// Accounts, roles and users (the directory).
#[async_trait]
pub trait DirectoryTx: Send {
    // Accounts.
    async fn insert_account(&mut self, account: &Account) -> StoreResult<()>;
    async fn account(&mut self, id: &AccountId) -> StoreResult<Option<Account>>;
    async fn update_account(&mut self, account: &Account) -> StoreResult<()>;
    async fn list_accounts(&mut self) -> StoreResult<Vec<Account>>;

    // Roles. Custom role ids come from a per-account counter.
    async fn next_role_id(&mut self, account: &AccountId) -> StoreResult<RoleId>;
    async fn insert_role(&mut self, role: &Role) -> StoreResult<()>;
    async fn role(&mut self, account: &AccountId, id: RoleId) -> StoreResult<Option<Role>>;
    async fn update_role(&mut self, role: &Role) -> StoreResult<()>;
    async fn list_roles(&mut self, account: &AccountId) -> StoreResult<Vec<Role>>;

    // Users.
    async fn insert_user(&mut self, user: &NewUser) -> StoreResult<UserId>;
    async fn user(&mut self, account: &AccountId, id: UserId) -> StoreResult<Option<User>>;
    async fn user_by_email(
        &mut self,
        account: &AccountId,
        email: &Email,
    ) -> StoreResult<Option<User>>;
    /// Name, email and active flag.
    async fn update_user(&mut self, user: &User) -> StoreResult<()>;
    async fn set_user_roles(
        &mut self,
        account: &AccountId,
        user: UserId,
        roles: &[RoleId],
    ) -> StoreResult<()>;
    async fn password_hash(
        &mut self,
        account: &AccountId,
        user: UserId,
    ) -> StoreResult<Option<String>>;
    async fn set_password_hash(
        &mut self,
        account: &AccountId,
        user: UserId,
        hash: Option<&str>,
    ) -> StoreResult<()>;
    /// Deletes the user, its role assignments and its tokens; returns the deleted tokens.
    async fn delete_user(
        &mut self,
        account: &AccountId,
        id: UserId,
    ) -> StoreResult<Vec<AccessToken>>;
    async fn list_users(&mut self, account: &AccountId) -> StoreResult<Vec<User>>;
}

/// Integration records and their installations.
#[async_trait]
pub trait IntegrationTx: Send {
    // Integration records.
    async fn insert_integration(&mut self, new: &NewIntegration) -> StoreResult<IntegrationId>;
    async fn integration(&mut self, id: IntegrationId) -> StoreResult<Option<StoredIntegration>>;
    async fn integration_by_consumer_key(
        &mut self,
        key: &ConsumerKey,
    ) -> StoreResult<Option<StoredIntegration>>;
    /// Name, description, switches, modified_at, deleted_at.
    async fn update_integration(&mut self, integration: &Integration) -> StoreResult<()>;
    /// Replaces the consumer key and secret if the key is still `previous` (`None`: none yet);
    /// false when a concurrent change got there first.
    async fn set_consumer_credentials(
        &mut self,
        id: IntegrationId,
        previous: Option<&ConsumerKey>,
        key: &ConsumerKey,
        secret: &SealedSecret,
        at: Timestamp,
    ) -> StoreResult<bool>;

    // Installations.
    /// False when the record is already installed in that account (a concurrent install won).
    async fn insert_installation(&mut self, installation: &Installation) -> StoreResult<bool>;
    async fn installation(
        &mut self,
        integration: IntegrationId,
        account: &AccountId,
    ) -> StoreResult<Option<Installation>>;
    async fn update_installation(&mut self, installation: &Installation) -> StoreResult<()>;
    async fn delete_installation(
        &mut self,
        integration: IntegrationId,
        account: &AccountId,
    ) -> StoreResult<()>;
    async fn installations_of(
        &mut self,
        integration: IntegrationId,
    ) -> StoreResult<Vec<Installation>>;
    /// The integrations installed in an account, with their installation there.
    /// The accounts the record's owner lets install it by its id, in account-id order.
    async fn installable_accounts(
        &mut self,
        integration: IntegrationId,
    ) -> StoreResult<Vec<AccountId>>;
    /// Replaces that list.
    async fn set_installable_accounts(
        &mut self,
        integration: IntegrationId,
        accounts: &[AccountId],
    ) -> StoreResult<()>;
    async fn installed_in(
        &mut self,
        account: &AccountId,
    ) -> StoreResult<Vec<(Integration, Installation)>>;
}

/// Access tokens.
#[async_trait]
pub trait TokenTx: Send {
    // Access tokens.
    async fn insert_token(&mut self, new: &NewToken) -> StoreResult<TokenKey>;
    async fn token(
        &mut self,
        account: &AccountId,
        key: TokenKey,
    ) -> StoreResult<Option<TokenListItem>>;
    async fn token_by_token_id(&mut self, token_id: &TokenId) -> StoreResult<Option<StoredToken>>;
    /// These two change an unrevoked token only; false when it is revoked (R8), even by a
    /// transaction that committed a moment ago. Renaming also updates the sort key
    /// ([`token_name_sort_key`]) and the search text.
    async fn rename_token(&mut self, key: TokenKey, name: &str) -> StoreResult<bool>;
    async fn set_token_inactive(&mut self, key: TokenKey, inactive: bool) -> StoreResult<bool>;
    /// Opens (or, `None`, closes) the signature debugger's window of an unrevoked token; false
    /// when it is revoked.
    async fn set_token_signature_debug(
        &mut self,
        key: TokenKey,
        until: Option<Timestamp>,
    ) -> StoreResult<bool>;
    /// Revokes one token if it is not revoked yet; false when it already was.
    async fn revoke_token(&mut self, key: TokenKey, revocation: &Revocation) -> StoreResult<bool>;
    /// Revokes every unrevoked token of an integration (in one account, or everywhere);
    /// returns the tokens it revoked, as they were before.
    async fn revoke_tokens_of_integration(
        &mut self,
        integration: IntegrationId,
        account: Option<&AccountId>,
        revocation: &Revocation,
    ) -> StoreResult<Vec<AccessToken>>;
    async fn list_tokens(&mut self, query: &TokenQuery) -> StoreResult<Vec<TokenListItem>>;
    /// A bulk change (R18): of these tokens of `account`, revokes those not revoked yet, or
    /// (`revocation` `None`) makes inactive those neither revoked nor inactive; returns the keys
    /// it changed, in key order. Those it skipped changed in a transaction that committed
    /// after the caller read them.
    async fn change_tokens(
        &mut self,
        account: &AccountId,
        keys: &[TokenKey],
        revocation: Option<&Revocation>,
    ) -> StoreResult<Vec<TokenKey>>;
}

/// The authorization flow's request tokens and the nonce records of its requests.
#[async_trait]
pub trait FlowTx: Send {
    /// Inserts the nonce record of a requesttoken or accesstoken request unless one with this
    /// digest exists; false when it does (a replay).
    async fn claim_flow_nonce(&mut self, digest: &NonceDigest, timestamp: i64)
    -> StoreResult<bool>;
    async fn insert_request_token(&mut self, token: &RequestTokenRow) -> StoreResult<()>;
    async fn request_token(&mut self, token_id: &TokenId) -> StoreResult<Option<RequestTokenRow>>;
    /// Writes the row's state and consent if the stored state is still `from`; false when a
    /// concurrent transaction moved it first (a second consent, a second exchange).
    async fn advance_request_token(
        &mut self,
        token: &RequestTokenRow,
        from: RequestTokenState,
    ) -> StoreResult<bool>;
    /// Deletes request tokens that expired before `expired_before` and flow nonce records
    /// whose timestamp is before `nonces_before` (Unix seconds); returns how many rows went.
    async fn purge_flow(
        &mut self,
        expired_before: Timestamp,
        nonces_before: i64,
    ) -> StoreResult<u64>;
}

/// System notes (R15): written in the transaction of the change they record.
#[async_trait]
pub trait AuditTx: Send {
    // System notes.
    async fn insert_notes(&mut self, notes: &[SystemNote]) -> StoreResult<()>;
    /// Notes of one record, oldest first.
    async fn notes(&mut self, record: &RecordRef) -> StoreResult<Vec<SystemNote>>;
}

/// The web UI's sessions.
#[async_trait]
pub trait SessionTx: Send {
    // Web UI sessions.
    async fn web_session(&mut self, id_digest: &str) -> StoreResult<Option<WebSession>>;
    /// Inserts or replaces the session with this digest.
    async fn put_web_session(&mut self, session: &WebSession) -> StoreResult<()>;
    async fn delete_web_session(&mut self, id_digest: &str) -> StoreResult<()>;
    /// Ends every session of a user; returns how many there were.
    async fn delete_web_sessions_of(
        &mut self,
        account: &AccountId,
        user: UserId,
    ) -> StoreResult<u64>;
    /// Removes sessions that expired before `now` (unix seconds).
    async fn purge_web_sessions(&mut self, now: i64) -> StoreResult<u64>;
}

/// Sealed secrets and master keys: rotation and the start-up key check.
#[async_trait]
pub trait KeyTx: Send {
    // Master key rotation: every sealed secret not sealed by `key_id`, a batch at a time.
    async fn secrets_not_sealed_by(
        &mut self,
        key_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<(SealedSlot, SealedSecret)>>;
    async fn replace_sealed(&mut self, slot: &SealedSlot, sealed: &SealedSecret)
    -> StoreResult<()>;

    // Master key checks: one known value per key id, sealed with that key (`vault::Keyring::
    // key_check`). Key ids of the sealed secrets themselves, for a database without checks.
    async fn master_key_checks(&mut self) -> StoreResult<Vec<SealedSecret>>;
    /// Adds the check of a key unless it has one.
    async fn add_master_key_check(&mut self, check: &SealedSecret, at: i64) -> StoreResult<()>;
    /// Drops the checks of every key but `key_id` (after a rotation re-sealed everything).
    async fn retain_master_key_check(&mut self, key_id: &str) -> StoreResult<()>;
    async fn sealed_key_ids(&mut self) -> StoreResult<Vec<String>>;
}
