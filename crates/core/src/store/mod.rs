//! The storage boundary. Core decides; storage only keeps rows. Implementations (SQLite,
//! PostgreSQL) live in `tessera-store`; they never see a plaintext secret and enforce no rule
//! beyond uniqueness and referential integrity.
//!
//! Every change runs inside one [`StoreTx`], so a change and its system notes commit together
//! (R15). Dropping a transaction without [`StoreTx::commit`] rolls it back.

use async_trait::async_trait;
use tessera_oauth1::Detail;
use thiserror::Error;

use crate::ids::Email;
use crate::ids::{
    AccountId, ApplicationId, ConsumerKey, IntegrationId, RoleId, TokenId, TokenKey, UserId,
};
use crate::model::{AccessToken, AuthSwitches, Integration, Timestamp};
use crate::vault::SealedSecret;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness constraint refused the write; the string names what must be unique.
    #[error("a record with the same {0} already exists")]
    Duplicate(&'static str),
    /// A write referred to a record that is gone (deleted by a concurrent transaction).
    #[error("a referenced record no longer exists")]
    Dangling,
    /// The database failed or is unreachable. The source is for logs, not for users.
    #[error("the database failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value does not decode into a domain value.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Whether a transaction may write. Read transactions may run concurrently with a writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMode {
    Read,
    Write,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn begin(&self, mode: TxMode) -> StoreResult<Box<dyn StoreTx>>;
    /// `"sqlite"` or `"postgres"`, for diagnostics.
    fn backend(&self) -> &'static str;

    /// Counts write transactions committed through this store object (and its clones); moved
    /// on after each commit, before `commit` returns, and also when a commit fails (whether it
    /// landed is then unknown). A value read before a read of the store proves that the read
    /// saw every change committed through this object before it: caches use it to know they
    /// are current. Changes made by other processes do not move it.
    fn change_epoch(&self) -> u64;

    /// Why the database last failed to give a connection, if that was recent: for a caller
    /// that gave up before the store's own error came (a health probe's short budget).
    fn recent_failure(&self) -> Option<String> {
        None
    }

    // The verification hot path: single statements or one short transaction each, outside the
    // rule-carrying `StoreTx` API.

    /// Everything R9/R11 look at for each credential pair, read in one statement, in the order
    /// given. `None`: no live or deleted integration record has that consumer key.
    async fn login_records(
        &self,
        pairs: &[(ConsumerKey, TokenId)],
    ) -> StoreResult<Vec<Option<LoginRecord>>>;

    /// The records of active (neither revoked nor inactive) tokens whose key is above `after`,
    /// in key order, at most `limit`, each with its token key: for warming a grant cache.
    async fn login_records_after(
        &self,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, LoginRecord)>>;

    /// [`Store::login_records`] for one pair.
    async fn login_record(
        &self,
        consumer_key: &ConsumerKey,
        token_id: &TokenId,
    ) -> StoreResult<Option<LoginRecord>> {
        let pair = [(consumer_key.clone(), token_id.clone())];
        Ok(self.login_records(&pair).await?.pop().flatten())
    }

    /// In one transaction: inserts each claim's nonce record only if no record with the same
    /// digest exists (the first of equal digests in a batch wins), and writes the audit rows of
    /// the claims that succeeded, and `attempts`. Returns, per claim, whether its nonce record
    /// was inserted, and only once the transaction is durable.
    ///
    /// A store that other processes may change (PostgreSQL shared by several nodes) also
    /// inserts a record only if the claim's token may still log in under R9/R11 with that
    /// consumer key, checked in the same statement. A store only this process changes (SQLite
    /// in a locked data directory) may leave that to the caller's [`Store::change_epoch`]
    /// check.
    async fn record_logins(
        &self,
        claims: Vec<NonceClaim>,
        attempts: Vec<LoginAttempt>,
    ) -> StoreResult<Vec<bool>>;

    /// How many `record_logins` calls may be under way at once. More than one only where the
    /// store still writes the groups in the order they were handed over (the audit trail's ids
    /// follow the order of the attempts).
    fn login_groups_in_flight(&self) -> usize {
        1
    }

    /// Moves the tokens' `last_used_at` forward (never back), with the address of that use;
    /// tokens gone meanwhile are skipped.
    async fn record_token_use(&self, uses: Vec<TokenUse>) -> StoreResult<()>;

    /// Whether a nonce record with this digest (and `oauth_timestamp`) exists.
    async fn nonce_exists(&self, digest: &NonceDigest, timestamp: i64) -> StoreResult<bool>;

    /// Deletes up to `limit` nonce records whose timestamp is before `before` (Unix seconds).
    async fn purge_nonces(&self, before: i64, limit: u32) -> StoreResult<u64>;

    /// Deletes up to `limit` of the oldest login audit rows written before `before_ms` (Unix
    /// milliseconds); fewer than `limit` deleted means none that old is left (give or take a
    /// row written out of order, taken by a later purge).
    async fn purge_login_attempts(&self, before_ms: i64, limit: u32) -> StoreResult<u64>;

    /// Login audit rows, newest first.
    async fn login_attempts(&self, query: &AttemptQuery) -> StoreResult<Vec<LoginAttempt>>;

    /// The signature debugger's capture kept with audit row `id`, with the row's account;
    /// `None` when the row has none (or is gone).
    async fn signature_capture(&self, id: i64) -> StoreResult<Option<(Option<AccountId>, String)>>;
}

/// A token's latest use, as its `last_used_at` and last address record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUse {
    pub token: TokenKey,
    pub at: Timestamp,
    /// The client address (canonical), when the request's was one (R17).
    pub ip: Option<String>,
}

impl TokenUse {
    /// A use without an address.
    pub fn at(token: TokenKey, at: Timestamp) -> Self {
        Self {
            token,
            at,
            ip: None,
        }
    }
}

/// The identity of a nonce record: a 128-bit digest of (consumer key, token id, nonce,
/// timestamp). A collision could only make a fresh request look replayed, never the reverse.
pub type NonceDigest = [u8; 16];

/// A verified request asking to be accepted: its nonce record and the audit row written if it is.
#[derive(Debug, Clone)]
pub struct NonceClaim {
    pub digest: NonceDigest,
    pub consumer_key: ConsumerKey,
    pub token_id: TokenId,
    /// `oauth_timestamp`, Unix seconds.
    pub timestamp: i64,
    /// Move the token's `last_used_at` to the success row's time if the claim succeeds (the
    /// writer collects these and writes them every few seconds).
    pub touch_last_used: bool,
    /// The audit row written if the claim succeeds; it names the token.
    pub success: LoginAttempt,
    /// The client address (R17): a store that other processes may change checks the IP
    /// allow-lists again with it, in the claim's statement.
    pub client_ip: Option<std::net::IpAddr>,
    /// When its request stops waiting and is answered "unavailable" (`None`: it waits as long
    /// as it takes). A store that could not answer by then does not write the claim: its nonce
    /// must stay unspent for the request's retry.
    pub answer_by: Option<std::time::Instant>,
}

/// What the R9/R11 check reads about a credential pair.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    pub consumer_key: ConsumerKey,
    pub integration: IntegrationId,
    pub application_id: ApplicationId,
    pub application_name: String,
    /// The record's Token-based Authentication switch.
    pub token_based_auth: bool,
    pub deleted: bool,
    pub consumer_secret: Option<SealedSecret>,
    /// `None`: no token with this id belongs to this integration.
    pub token: Option<LoginTokenRecord>,
}

/// The token side of a [`LoginRecord`], with its account, installation, user and role.
#[derive(Debug, Clone)]
pub struct LoginTokenRecord {
    pub key: TokenKey,
    pub token_id: TokenId,
    pub account: AccountId,
    pub name: String,
    pub inactive: bool,
    pub revoked: bool,
    /// R16; `None`: never.
    pub expires_at: Option<Timestamp>,
    /// The signature debugger's window for this token, and for its record in its account.
    pub token_debug_until: Option<Timestamp>,
    pub install_debug_until: Option<Timestamp>,
    pub token_secret: SealedSecret,
    pub account_tba_enabled: bool,
    pub account_concurrency_limit: Option<u32>,
    /// The account's allow-list (R17).
    pub account_ip_allow: crate::allow::IpAllowList,
    /// The installation's allow-list in the token's account (R17).
    pub install_ip_allow: crate::allow::IpAllowList,
    /// `None`: the record is not installed in the token's account.
    pub install_state: Option<crate::model::InstallState>,
    pub install_concurrency_limit: Option<u32>,
    pub user: UserId,
    pub user_name: String,
    pub email: String,
    pub user_active: bool,
    pub user_holds_role: bool,
    pub role: RoleId,
    pub role_name: String,
    pub role_inactive: bool,
    /// The role has Log in using Access Tokens or User Access Tokens.
    pub role_token_login: bool,
}

/// One row of the login audit trail (RULES.md §1). Never holds a secret or a signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginAttempt {
    /// Set by the store when read back.
    pub id: Option<i64>,
    pub at: Timestamp,
    pub account: Option<AccountId>,
    pub user: Option<UserId>,
    pub user_name: Option<String>,
    pub email: Option<String>,
    pub role: Option<RoleId>,
    pub role_name: Option<String>,
    pub ip: String,
    pub user_agent: String,
    pub method: String,
    pub request_uri: String,
    /// Which surface was called: `restlet`, `rest`, `verify`, `forward-auth`, ….
    pub surface: String,
    pub success: bool,
    /// The Detail code (RULES.md §3.1); `Success` on success.
    pub detail: Detail,
    /// What an administrator needs to fix a failure (the expected realm, the clock skew …).
    pub detail_note: String,
    pub integration: Option<IntegrationId>,
    pub application_name: Option<String>,
    pub token: Option<TokenKey>,
    pub token_name: Option<String>,
    /// The signature debugger's capture of a refused signature (JSON of
    /// [`crate::debugger::Capture`]), written with the row; read on its own
    /// ([`Store::signature_capture`]), never with a list.
    pub signature_capture: Option<String>,
    /// Read back: whether the row has a capture.
    pub has_signature_capture: bool,
}

/// Filters of the login audit trail. `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct AttemptQuery {
    pub account: Option<AccountId>,
    pub success: Option<bool>,
    pub detail: Option<Detail>,
    pub token: Option<TokenKey>,
    pub user: Option<UserId>,
    pub role: Option<RoleId>,
    pub integration: Option<IntegrationId>,
    /// Part of the token's name, without regard to ASCII case.
    pub token_name: Option<String>,
    /// Attempts at or after this moment.
    pub from: Option<crate::model::Timestamp>,
    /// Attempts before this moment.
    pub to: Option<crate::model::Timestamp>,
    /// Rows with an id below this one (keyset pagination, newest first).
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// An integration record with its credentials as stored.
#[derive(Debug, Clone)]
pub struct StoredIntegration {
    pub integration: Integration,
    pub consumer_key: Option<ConsumerKey>,
    pub consumer_secret: Option<SealedSecret>,
}

/// What creating an integration record writes.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    pub application_id: ApplicationId,
    pub owner: AccountId,
    pub name: String,
    pub description: String,
    pub switches: AuthSwitches,
    pub created_at: Timestamp,
}

/// An access token with its token id and sealed secret.
#[derive(Debug, Clone)]
pub struct StoredToken {
    pub token: AccessToken,
    pub token_id: TokenId,
    pub token_secret: SealedSecret,
}

/// What creating an access token writes.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub account: AccountId,
    pub integration: IntegrationId,
    pub user: UserId,
    pub role: RoleId,
    pub name: String,
    pub token_id: TokenId,
    pub token_secret: SealedSecret,
    pub created_at: Timestamp,
    pub created_by: Option<UserId>,
    pub created_by_name: String,
    /// R16; `None`: the token never expires.
    pub expires_at: Option<Timestamp>,
}

/// What creating a user writes.
#[derive(Clone)]
pub struct NewUser {
    pub account: AccountId,
    pub name: String,
    pub email: Email,
    pub active: bool,
    pub password_hash: Option<String>,
    pub created_at: Timestamp,
}

/// The password hash is left out: it is not a secret, but nothing gains from printing it.
impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("account", &self.account)
            .field("name", &self.name)
            .field("email", &self.email)
            .field("active", &self.active)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "***"))
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// The Revoked filter of the Access Tokens page (R1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RevokedFilter {
    #[default]
    All,
    Yes,
    No,
}

/// Filters of the token list (R1). `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFilter {
    pub revoked: RevokedFilter,
    pub inactive: Option<bool>,
    pub integration: Option<IntegrationId>,
    pub user: Option<UserId>,
    pub role: Option<RoleId>,
    /// Case-insensitive substring of the token, application, user or role name.
    pub search: Option<String>,
    /// By expiry (R16).
    pub expiry: ExpiryFilter,
    /// Tokens last used (or, never used, created) before this moment.
    pub unused_since: Option<Timestamp>,
}

/// The token list's filter on expiry (R16). The moments are the caller's "now" (and horizon),
/// so one request's filters and answer agree on the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpiryFilter {
    #[default]
    Any,
    /// Tokens whose expiry has passed at this moment.
    ExpiredAt(Timestamp),
    /// Tokens without an expiry, or whose expiry is after this moment.
    LiveAt(Timestamp),
    /// Tokens whose expiry is after the first moment and at or before the second.
    ExpiringBetween(Timestamp, Timestamp),
}

/// Sort orders of the token list; every one ends with the internal id, so it is total and stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenSort {
    #[default]
    NewestFirst,
    OldestFirst,
    /// By token name (case-insensitive), then id.
    Name,
}

/// The sort key of a token name for [`TokenSort::Name`]: case-insensitive, compared bytewise
/// by both databases. Stored with the token; cursors carry it.
pub fn token_name_sort_key(name: &str) -> String {
    name.to_lowercase()
}

/// A keyset position: the last row of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCursor {
    pub key: TokenKey,
    /// The sort key for [`TokenSort::Name`].
    pub name_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TokenQuery {
    pub account: AccountId,
    pub filter: TokenFilter,
    pub sort: TokenSort,
    pub after: Option<TokenCursor>,
    /// Rows to return; the store returns at most this many.
    pub limit: u32,
}

/// A session of the web UI, as stored: the session id only as its digest, the data opaque to
/// the store (the UI's own encoding), and who it belongs to once someone has signed in.
#[derive(Clone, PartialEq, Eq)]
pub struct WebSession {
    pub id_digest: String,
    pub owner: Option<(AccountId, UserId)>,
    pub data: String,
    /// Unix seconds after which the session no longer counts.
    pub expires_at: i64,
}

impl std::fmt::Debug for WebSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The data holds the CSRF token: never printed.
        f.debug_struct("WebSession")
            .field("owner", &self.owner)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A secret to re-seal during master key rotation.
#[derive(Debug, Clone)]
pub enum SealedSlot {
    ConsumerSecret(ApplicationId),
    TokenSecret(TokenId),
    RequestTokenSecret(TokenId),
}

/// Where a request token of the authorization flow stands (RULES.md §4.2). It only moves
/// forward: pending → authorized or denied; authorized → exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestTokenState {
    /// Issued by requesttoken; waiting for the user's consent.
    Pending,
    /// The user allowed it; the verifier went to the callback.
    Authorized,
    /// The user denied it.
    Denied,
    /// accesstoken turned it into an access token.
    Exchanged,
}

impl RequestTokenState {
    /// The stored form.
    pub fn code(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Authorized => "authorized",
            Self::Denied => "denied",
            Self::Exchanged => "exchanged",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Some(match code {
            "pending" => Self::Pending,
            "authorized" => Self::Authorized,
            "denied" => Self::Denied,
            "exchanged" => Self::Exchanged,
            _ => return None,
        })
    }
}

/// Who consented to a request token: the user, the account and role it chose, and the
/// SHA-256 of the verifier handed to the callback (the verifier itself is never stored).
#[derive(Clone, PartialEq, Eq)]
pub struct Consent {
    pub account: AccountId,
    pub user: UserId,
    pub role: RoleId,
    pub verifier_digest: [u8; 32],
}

impl std::fmt::Debug for Consent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consent")
            .field("account", &self.account)
            .field("user", &self.user)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A request token as stored; its secret sealed like every other secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTokenRow {
    pub token_id: TokenId,
    pub integration: IntegrationId,
    pub token_secret: SealedSecret,
    /// The `oauth_callback` the request token was issued for (it matched the record's).
    pub callback: String,
    /// The account the request named in its realm, if any: only that account may consent.
    pub realm: Option<AccountId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub state: RequestTokenState,
    /// Set from the consent on (allowed or denied).
    pub consent: Option<Consent>,
}

pub mod tx;
pub use tx::{AuditTx, DirectoryTx, FlowTx, IntegrationTx, KeyTx, SessionTx, StoreTx, TokenTx};
