//! `/api/v1/integrations`: integration records and their installations (RULES.md §2: R2–R6,
//! R10, R13, R14).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The list of records: by default those enabled in the caller's account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IntegrationListParams {
    /// Also list blocked records and records waiting for approval ("Show Inactives").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive: Option<bool>,
}

/// An integration record as the caller's account sees it. Never its consumer key or secret
/// (R6: shown once, when issued).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IntegrationRecord {
    /// The internal id, used in `/api/v1/integrations/{id}`.
    pub id: i64,
    /// The application id (a UUID), the same in every account.
    pub application_id: String,
    pub name: String,
    pub description: String,
    /// The account that created the record; only its administrators edit the shared fields (R13).
    pub owner_account: String,
    /// Whether the caller's account is the owner.
    pub is_owner: bool,
    pub token_based_auth: bool,
    pub tba_authorization_flow: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    pub tba_issuetoken_endpoint: bool,
    pub user_credentials: bool,
    /// Whether a consumer key and secret have been issued (when TBA was first switched on).
    pub has_credentials: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub modified_at: String,
    /// The installation in the caller's account.
    pub installation: InstallationView,
}

/// The record's installation in one account: its own state, note and limit (R13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InstallationView {
    /// `enabled`, `blocked` or `waiting_for_approval`.
    pub state: String,
    pub note: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_limit: Option<u32>,
    /// `created` (the owner account), `bundle` (cannot reset credentials: R4) or `auto` (R14).
    pub origin: String,
    /// RFC 3339, UTC.
    pub installed_at: String,
    /// RFC 3339, UTC.
    pub state_changed_at: String,
    pub state_changed_by: String,
    /// The networks requests signed with the record's consumer key may come from in this
    /// account (R17); empty: any address.
    pub ip_allow_list: Vec<String>,
    /// RFC 3339: the signature debugger is open for the record in this account until then;
    /// absent: closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_debug_until: Option<String>,
}

/// A record with a consumer key and secret just issued: shown in this response only (R5, R6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IntegrationWithCredentials {
    pub integration: IntegrationRecord,
    /// Present when this call issued credentials (TBA switched on for the first time, or a reset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

fn yes() -> bool {
    true
}

/// New Integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIntegration {
    /// At most 200 characters.
    pub name: String,
    /// At most 4,000 characters.
    #[serde(default)]
    pub description: String,
    /// Token-based Authentication; when on, a consumer key and secret are issued (default on).
    #[serde(default = "yes")]
    pub token_based_auth: bool,
    #[serde(default)]
    pub tba_authorization_flow: bool,
    /// Needed by the authorization flow; https, or http for localhost only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    #[serde(default)]
    pub tba_issuetoken_endpoint: bool,
    #[serde(default)]
    pub user_credentials: bool,
}

/// Edit: the shared fields (owner account's administrators, R13) and this account's
/// installation note and concurrency limit. Omitted fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationEdit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_based_auth: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tba_authorization_flow: Option<bool>,
    /// `""` removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tba_issuetoken_endpoint: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_credentials: Option<bool>,
    /// This account's note on its installation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// This account's concurrency limit for the record; `null` for none.
    #[serde(
        default,
        deserialize_with = "crate::absent_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u32>)]
    pub concurrency_limit: Option<Option<u32>>,
    /// This account's IP allow-list for the record (R17): addresses or CIDR networks, at
    /// most 100; `[]` removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_allow_list: Option<Vec<String>>,
}

impl IntegrationEdit {
    /// Whether it changes a field every installing account shares (the owner's to edit).
    pub fn changes_shared_fields(&self) -> bool {
        self.name.is_some()
            || self.description.is_some()
            || self.token_based_auth.is_some()
            || self.tba_authorization_flow.is_some()
            || self.callback_url.is_some()
            || self.tba_issuetoken_endpoint.is_some()
            || self.user_credentials.is_some()
    }
}

/// Reset Credentials: confirmed explicitly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// Must be `true`: the current consumer key and secret stop working at once (R5).
    #[serde(default)]
    pub confirm: bool,
}

/// The accounts that may install a record by its internal id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallableAccounts {
    /// Account ids (`1234567`, `1234567_SB1`, `TSTDRV…`); they need not exist yet.
    pub accounts: Vec<String>,
}

/// What a delete did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    /// Tokens revoked by it (R10).
    pub revoked_tokens: usize,
}
