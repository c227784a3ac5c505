//! The objects of RULES.md §1 as they are stored and shown. Secrets are not here: they live in
//! [`crate::vault::SealedSecret`] at rest and in `SecretString` for the one moment they are used.

use std::fmt;

use crate::ids::{AccountId, ApplicationId, Email, IntegrationId, RoleId, TokenKey, UserId};

/// One day, in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub fn now() -> Self {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self(ms)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// This moment plus (or, negative, minus) whole days; saturating.
    pub fn plus_days(self, days: i64) -> Self {
        Self(self.0.saturating_add(days.saturating_mul(DAY_MS)))
    }

    /// RFC 3339 in UTC with milliseconds (`2026-11-28T01:02:03.456Z`).
    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| format!("@{}ms", self.0))
    }
}

impl Timestamp {
    /// Parses an RFC 3339 date and time with an offset (`2026-11-28T01:02:03Z`,
    /// `2026-11-28T02:02:03.5+01:00`), to the millisecond.
    pub fn parse_rfc3339(input: &str) -> Result<Self, crate::Error> {
        let t = time::OffsetDateTime::parse(input, &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                crate::Error::invalid(
                    "time",
                    "must be an RFC 3339 date and time such as 2026-11-28T09:00:00Z",
                )
            })?;
        let millis = t.unix_timestamp_nanos() / 1_000_000;
        i64::try_from(millis)
            .map(Self)
            .map_err(|_| crate::Error::invalid("time", "is out of range"))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// The permissions Tessera knows (RULES.md §1). Stored by their NetSuite-style codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    AccessTokenManagement,
    UserAccessTokens,
    LogInUsingAccessTokens,
    IntegrationApplication,
    LoginAuditTrail,
    RestWebServices,
    SoapWebServices,
}

impl Permission {
    pub const ALL: [Permission; 7] = [
        Permission::AccessTokenManagement,
        Permission::UserAccessTokens,
        Permission::LogInUsingAccessTokens,
        Permission::IntegrationApplication,
        Permission::LoginAuditTrail,
        Permission::RestWebServices,
        Permission::SoapWebServices,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Permission::AccessTokenManagement => "ACCESS_TOKEN_MANAGEMENT",
            Permission::UserAccessTokens => "USER_ACCESS_TOKENS",
            Permission::LogInUsingAccessTokens => "LOG_IN_USING_ACCESS_TOKENS",
            Permission::IntegrationApplication => "INTEGRATION_APPLICATION",
            Permission::LoginAuditTrail => "LOGIN_AUDIT_TRAIL",
            Permission::RestWebServices => "REST_WEB_SERVICES",
            Permission::SoapWebServices => "SOAP_WEB_SERVICES",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of permissions.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PermissionSet(u16);

impl PermissionSet {
    pub const fn empty() -> Self {
        Self(0)
    }

    pub fn all() -> Self {
        Self::from_iter(Permission::ALL)
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn with(self, p: Permission) -> Self {
        Self(self.0 | p.bit())
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }

    /// Comma-separated codes, in a fixed order (the storage form).
    pub fn to_codes(self) -> String {
        self.iter()
            .map(Permission::code)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parses the storage form; unknown codes are an error naming the code.
    pub fn from_codes(codes: &str) -> Result<Self, crate::Error> {
        codes
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .try_fold(Self::empty(), |set, code| {
                match Permission::from_code(code) {
                    Some(p) => Ok(set.with(p)),
                    None => Err(crate::Error::invalid(
                        "permissions",
                        format!("unknown permission {code:?}"),
                    )),
                }
            })
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        iter.into_iter().fold(Self::empty(), Self::with)
    }
}

impl fmt::Debug for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(Permission::code))
            .finish()
    }
}

/// A tenant (RULES.md §1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    /// The "Token-based Authentication" feature switch (R11).
    pub tba_enabled: bool,
    /// "Require approval during auto-installation of integrations" (R14).
    pub require_approval_for_auto_install: bool,
    /// Requests of this account served at the same time (RULES.md §5); `None`: the server's default.
    pub concurrency_limit: Option<u32>,
    /// The longest a new access token may live, in days (R16); `None`: tokens may live forever.
    pub token_max_lifetime_days: Option<u32>,
    /// The networks this account's signed requests may come from (R17).
    pub ip_allow: crate::allow::IpAllowList,
    pub created_at: Timestamp,
}

/// A role in one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub account: AccountId,
    pub id: RoleId,
    pub name: String,
    /// As stored; see [`Role::effective_permissions`].
    pub permissions: PermissionSet,
    pub inactive: bool,
    pub web_services_only: bool,
}

impl Role {
    pub fn is_administrator(&self) -> bool {
        self.id == RoleId::ADMINISTRATOR
    }

    /// The Administrator holds every permission, whatever is stored.
    pub fn effective_permissions(&self) -> PermissionSet {
        if self.is_administrator() {
            PermissionSet::all()
        } else {
            self.permissions
        }
    }

    pub fn has(&self, p: Permission) -> bool {
        self.effective_permissions().contains(p)
    }

    /// A role whose holders may own and log in with access tokens (R11, R12).
    pub fn can_use_tokens(&self) -> bool {
        self.has(Permission::LogInUsingAccessTokens) || self.has(Permission::UserAccessTokens)
    }
}

/// A user (NetSuite "entity") of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub account: AccountId,
    pub id: UserId,
    pub name: String,
    pub email: Email,
    pub active: bool,
    /// The roles this user holds, in ascending id order.
    pub roles: Vec<RoleId>,
    pub created_at: Timestamp,
}

impl User {
    pub fn holds(&self, role: RoleId) -> bool {
        self.roles.contains(&role)
    }
}

/// The authentication switches of an integration record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthSwitches {
    pub token_based_auth: bool,
    pub tba_authorization_flow: bool,
    pub callback_url: Option<String>,
    pub tba_issuetoken_endpoint: bool,
    pub user_credentials: bool,
}

/// An integration record: the global definition, owned by the account that created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    pub id: IntegrationId,
    pub application_id: ApplicationId,
    pub owner: AccountId,
    pub name: String,
    pub description: String,
    pub switches: AuthSwitches,
    /// Whether a consumer key and secret exist (they are issued when TBA is first switched on).
    pub has_credentials: bool,
    pub created_at: Timestamp,
    pub modified_at: Timestamp,
    /// Set when the owner deleted the record; kept so revoked tokens still name it (R8, R10).
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstallState {
    Enabled,
    Blocked,
    WaitingForApproval,
}

impl InstallState {
    pub fn code(self) -> &'static str {
        match self {
            InstallState::Enabled => "enabled",
            InstallState::Blocked => "blocked",
            InstallState::WaitingForApproval => "waiting_for_approval",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [
            InstallState::Enabled,
            InstallState::Blocked,
            InstallState::WaitingForApproval,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// The label NetSuite shows.
    pub fn label(self) -> &'static str {
        match self {
            InstallState::Enabled => "Enabled",
            InstallState::Blocked => "Blocked",
            InstallState::WaitingForApproval => "Waiting for Approval",
        }
    }
}

/// How an integration record came to be installed in an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstallOrigin {
    /// The owner account, where the record was created.
    Created,
    /// Installed through a bundle (cannot be reset: R4).
    Bundle,
    /// Auto-installed by the authorization flow or issuetoken (R14).
    Auto,
}

impl InstallOrigin {
    pub fn code(self) -> &'static str {
        match self {
            InstallOrigin::Created => "created",
            InstallOrigin::Bundle => "bundle",
            InstallOrigin::Auto => "auto",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [
            InstallOrigin::Created,
            InstallOrigin::Bundle,
            InstallOrigin::Auto,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// The per-account side of an integration record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub integration: IntegrationId,
    pub account: AccountId,
    pub state: InstallState,
    pub note: String,
    pub concurrency_limit: Option<u32>,
    /// The networks requests signed with this record's consumer key may come from in this
    /// account (R17).
    pub ip_allow: crate::allow::IpAllowList,
    /// Until when refused signatures with this record's consumer key are kept in this account
    /// for the signature debugger.
    pub signature_debug_until: Option<Timestamp>,
    pub origin: InstallOrigin,
    pub installed_at: Timestamp,
    pub state_changed_at: Timestamp,
    /// Who last changed the state (a user's name, or "System").
    pub state_changed_by: String,
}

/// A revocation: permanent (R8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub at: Timestamp,
    pub by: Option<UserId>,
    pub by_name: String,
}

/// An access token, without its token id and secret (R6: shown once, never again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub key: TokenKey,
    pub account: AccountId,
    pub integration: IntegrationId,
    pub user: UserId,
    pub role: RoleId,
    pub name: String,
    pub inactive: bool,
    pub revoked: Option<Revocation>,
    pub created_at: Timestamp,
    pub created_by: Option<UserId>,
    pub created_by_name: String,
    pub last_used_at: Option<Timestamp>,
    /// From this moment on the token is refused (R16); `None`: it never expires.
    pub expires_at: Option<Timestamp>,
    /// The client address of its last use (R17), written with `last_used_at`.
    pub last_used_from: Option<String>,
    /// Until when refused signatures of this token are kept for the signature debugger.
    pub signature_debug_until: Option<Timestamp>,
}

impl AccessToken {
    pub fn is_revoked(&self) -> bool {
        self.revoked.is_some()
    }

    /// Whether the token's expiry has passed at `now` (R16).
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A token as listed: with the names of what it binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenListItem {
    pub token: AccessToken,
    pub application_name: String,
    pub user_name: String,
    pub role_name: String,
}

/// Where a change was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    Ui,
    Api,
    Cli,
    /// A NetSuite-compatible endpoint (authorization flow, issuetoken, revoketoken).
    Endpoint,
}

impl Context {
    pub fn code(self) -> &'static str {
        match self {
            Context::Ui => "UI",
            Context::Api => "API",
            Context::Cli => "CLI",
            Context::Endpoint => "Endpoint",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [Context::Ui, Context::Api, Context::Cli, Context::Endpoint]
            .into_iter()
            .find(|c| c.code() == code)
    }
}

/// The record a system note belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordRef {
    Integration(IntegrationId),
    Installation(IntegrationId, AccountId),
    Token(TokenKey),
}

/// One immutable line of change history (R15). Values are display text; secrets never appear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemNote {
    pub at: Timestamp,
    /// The account in which the change was made.
    pub account: AccountId,
    pub actor: Option<UserId>,
    pub actor_name: String,
    pub context: Context,
    pub record: RecordRef,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_to_the_millisecond() {
        let t = Timestamp::parse_rfc3339("2026-11-28T02:02:03.456+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-28T01:02:03.456Z");
        assert!(Timestamp::parse_rfc3339("2026-11-28").is_err());
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn permission_codes_round_trip() {
        let set =
            PermissionSet::from_iter([Permission::UserAccessTokens, Permission::RestWebServices]);
        assert_eq!(set.to_codes(), "USER_ACCESS_TOKENS,REST_WEB_SERVICES");
        assert_eq!(PermissionSet::from_codes(&set.to_codes()).unwrap(), set);
        assert_eq!(
            PermissionSet::from_codes("").unwrap(),
            PermissionSet::empty()
        );
        assert!(PermissionSet::from_codes("USER_ACCESS_TOKENS,NOPE").is_err());
        assert_eq!(PermissionSet::all().iter().count(), Permission::ALL.len());
    }

    #[test]
    fn timestamps_format_as_rfc3339() {
        assert_eq!(
            Timestamp::from_millis(1_700_000_000_123).to_rfc3339(),
            "2023-11-14T22:13:20.123Z"
        );
    }
}
