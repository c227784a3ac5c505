//! `/api/v1/tokens`: the Access Tokens page as an API (RULES.md §2: R1, R6–R8, R12).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::query::{choice, internal_id, rows};

/// What a token is bound to: an internal id and the name it has now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Named {
    pub id: i64,
    pub name: String,
}

/// An access token as listed and viewed. Never its token id or secret (R6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    /// The token's internal id, used in `/api/v1/tokens/{id}`.
    pub id: i64,
    pub name: String,
    pub account: String,
    /// The integration record (application) the token belongs to.
    pub application: Named,
    pub user: Named,
    pub role: Named,
    pub inactive: bool,
    /// Revoked tokens are read-only and can never be used again (R8).
    pub revoked: bool,
    /// RFC 3339, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub created_by: String,
    /// RFC 3339, UTC; to the minute.
    pub last_used_at: Option<String>,
    /// The client address of that use (R17).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_from: Option<String>,
    /// RFC 3339, UTC: refused from then on (R16); `null`: never expires.
    pub expires_at: Option<String>,
    /// Whether `expires_at` has passed (at the time of the answer).
    pub expired: bool,
    /// RFC 3339: the signature debugger is open until then; absent: closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_debug_until: Option<String>,
}

impl TokenView {
    /// `revoked`, `inactive`, `expired` or `active`, in that order (the refusal's order).
    pub fn status(&self) -> &'static str {
        if self.revoked {
            "revoked"
        } else if self.inactive {
            "inactive"
        } else if self.expired {
            "expired"
        } else {
            "active"
        }
    }
}

/// One page of the token list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenPageView {
    pub items: Vec<TokenView>,
    /// Pass as `after` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

choice!(
    /// Which tokens by their revocation.
    RevokedChoice {
        /// Revoked or not (the default).
        All = "all",
        Yes = "yes",
        No = "no",
    }
);

choice!(
    /// The list's order.
    TokenSortChoice {
        /// Newest first (the default).
        Newest = "newest",
        Oldest = "oldest",
        /// By token name, then oldest first.
        Name = "name",
    }
);

/// The token list's filters, written once for the two structs that take them: the list's
/// parameters (with its order and paging) and a bulk change's (without: it takes every token
/// they select).
macro_rules! token_filter_params {
    ($(#[$meta:meta])* $name:ident { $($more:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            /// `all` (default), `yes` or `no`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub revoked: Option<RevokedChoice>,
            /// Only inactive (`true`) or only active (`false`) tokens.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub inactive: Option<bool>,
            /// Internal id of an integration record.
            #[serde(
                default,
                deserialize_with = "internal_id",
                skip_serializing_if = "Option::is_none"
            )]
            #[param(minimum = 1)]
            pub application: Option<i64>,
            /// Internal id of a user.
            #[serde(
                default,
                deserialize_with = "internal_id",
                skip_serializing_if = "Option::is_none"
            )]
            #[param(minimum = 1)]
            pub user: Option<i64>,
            /// Internal id of a role.
            #[serde(
                default,
                deserialize_with = "internal_id",
                skip_serializing_if = "Option::is_none"
            )]
            #[param(minimum = 1)]
            pub role: Option<i64>,
            /// Case-insensitive part of the token, application, user or role name; at least 3
            /// characters.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub search: Option<String>,
            /// Only tokens whose expiry has passed (`true`), or only tokens that have not expired
            /// (`false`: no expiry, or one still ahead).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub expired: Option<bool>,
            /// Only tokens that expire within this many days from now (and have not expired yet),
            /// 1–36500.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[param(minimum = 1, maximum = 36500)]
            pub expiring_within_days: Option<u32>,
            /// Only tokens not used for at least this many days (a token never used counts from its
            /// creation), 1–36500.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[param(minimum = 1, maximum = 36500)]
            pub unused_for_days: Option<u32>,
            $($more)*
        }
    };
}

token_filter_params!(
    /// The Access Tokens list's filters and paging. Filters combine.
    TokenListParams {
            /// `newest` (default), `oldest` or `name`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub sort: Option<TokenSortChoice>,
            /// The `next` of the previous page.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub after: Option<String>,
            /// Rows per page, 1–1000 (default 50).
            #[serde(
                default,
                deserialize_with = "rows",
                skip_serializing_if = "Option::is_none"
            )]
            #[param(minimum = 1, maximum = 1000)]
            pub limit: Option<u32>,
    }
);

token_filter_params!(
    /// A bulk change's filter (R18): the list's filters, which combine.
    TokenFilterParams {}
);

impl From<TokenFilterParams> for TokenListParams {
    fn from(f: TokenFilterParams) -> Self {
        TokenListParams {
            revoked: f.revoked,
            inactive: f.inactive,
            application: f.application,
            user: f.user,
            role: f.role,
            search: f.search,
            expired: f.expired,
            expiring_within_days: f.expiring_within_days,
            unused_for_days: f.unused_for_days,
            sort: None,
            after: None,
            limit: None,
        }
    }
}

/// New Access Token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Internal id of the integration record (TBA enabled, installed in the account).
    pub application: i64,
    /// Internal id of the user the token acts as.
    pub user: i64,
    /// Internal id of one of that user's roles.
    pub role: i64,
    /// Defaults to "application - user - role"; at most 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// RFC 3339: when the token stops working (R16), in the future and within the account's
    /// maximum lifetime. Absent: that maximum from now, or never when the account sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Or: that many days from now by the server's clock, 1–36500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 36500)]
    pub expires_in_days: Option<u32>,
}

/// A new token with its credentials: shown in this response only (R6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    pub token: TokenView,
    pub token_id: String,
    pub token_secret: String,
    pub warning: String,
}

/// Edit: the name and the reversible Inactive switch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenChanges {
    /// At most 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An inactive token is refused (Detail `TokenInactive`) until it is made active again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive: Option<bool>,
}

/// What a bulk change (R18) would do now: how many tokens the filter selects, and the first 20.
/// Nothing is changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BulkPreviewView {
    /// `revoke` or `inactivate`.
    pub action: String,
    /// Send this as `expected_count` to carry the change out.
    pub count: usize,
    /// The first tokens selected, oldest first.
    pub sample: Vec<TokenView>,
    /// The most tokens one bulk change may touch.
    pub max: usize,
    /// The selection holds the token this request is signed with (after the change, the
    /// caller — the CLI's profile, say — needs another).
    pub includes_caller: bool,
}

/// Carries out a bulk change (R18): only if the filter still selects `expected_count` tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkConfirm {
    /// The `count` of the preview: the change is refused (409) when the filter selects another
    /// number of tokens by now.
    pub expected_count: usize,
}

/// What a bulk change did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BulkResultView {
    /// `revoke` or `inactivate`.
    pub action: String,
    /// How many tokens were changed.
    pub changed: usize,
    /// Their internal ids.
    pub tokens: Vec<i64>,
}
