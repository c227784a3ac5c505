//! `/api/v1/account`, `/roles`, `/users`: the caller's account, its roles and its users.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Password;

/// The caller's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    /// The Token-based Authentication feature (R11).
    pub tba_enabled: bool,
    /// Auto-installed integration records wait for approval (R14).
    pub require_approval_for_auto_install: bool,
    /// The account's own limit; absent: the server's default applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_limit: Option<u32>,
    /// The limit in force (RULES.md §5).
    pub effective_concurrency_limit: u32,
    /// The longest a new access token may live, in days (R16); absent: no maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_max_lifetime_days: Option<u32>,
    /// The networks the account's signed requests may come from (R17); empty: any address.
    pub ip_allow_list: Vec<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// Changes to the account's settings (administrators); omitted fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountEdit {
    /// The Token-based Authentication feature (R11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tba_enabled: Option<bool>,
    /// Auto-installed integration records wait for approval (R14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_approval_for_auto_install: Option<bool>,
    /// The account's concurrency limit; `null`: the server's default.
    #[serde(
        default,
        deserialize_with = "crate::absent_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u32>)]
    pub concurrency_limit: Option<Option<u32>>,
    /// The longest a new access token may live, 1–36500 days (R16); `null`: no maximum. Tokens
    /// that exist keep their expiry.
    #[serde(
        default,
        deserialize_with = "crate::absent_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u32>)]
    pub token_max_lifetime_days: Option<Option<u32>>,
    /// The account's IP allow-list (R17): addresses or CIDR networks (`10.0.0.0/8`), at most
    /// 100; `[]` removes it. Checked after the signature, against the client address the
    /// trusted proxies establish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_allow_list: Option<Vec<String>>,
}

/// A role of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleView {
    pub id: i64,
    pub name: String,
    /// Permission codes: `ACCESS_TOKEN_MANAGEMENT`, `USER_ACCESS_TOKENS`,
    /// `LOG_IN_USING_ACCESS_TOKENS`, `INTEGRATION_APPLICATION`, `LOGIN_AUDIT_TRAIL`,
    /// `REST_WEB_SERVICES`, `SOAP_WEB_SERVICES`.
    pub permissions: Vec<String>,
    pub inactive: bool,
    pub web_services_only: bool,
    /// The built-in Administrator role (internal id 3): every permission, never changed.
    pub administrator: bool,
}

/// New Role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    pub name: String,
    /// Permission codes (see the role's `permissions`).
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub web_services_only: bool,
}

/// Changes to a role; omitted fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleEdit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The whole new set of permission codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    /// An inactive role cannot log in (R11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_services_only: Option<bool>,
}

/// A user of the account. Never a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub name: String,
    pub email: String,
    /// An inactive user cannot log in (R11).
    pub active: bool,
    /// Internal ids of the roles the user holds.
    pub roles: Vec<i64>,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// New User.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    /// Unique in the account.
    pub email: String,
    /// Internal ids of the roles the user holds.
    #[serde(default)]
    pub roles: Vec<i64>,
    /// For `tessera login` and the web UI; at least 12 characters. Without one, the user can
    /// only use tokens made for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<Password>,
}

/// Changes to a user; omitted fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserEdit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// The whole new set of role ids; a role taken away stops the user's tokens for it (R11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<i64>>,
    /// A new password (at least 12 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<Password>,
}

/// What deleting a user did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserDeleted {
    /// The user's tokens, deleted with it (R10).
    pub revoked_tokens: usize,
}
