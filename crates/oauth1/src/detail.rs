//! The login audit trail's Detail codes (RULES.md §3.1): why an attempt failed, in NetSuite's words
//! where NetSuite publishes them and in Tessera's own where it does not. This enum is their one
//! owner: the verifier, the sign-in, the audit trail (both stores), its filters in the admin API
//! and the web UI, the metrics and the verification API all use it, never a string of their own.

use std::fmt;

/// Why a login attempt ended as it did. (`Default` is `MalformedRequest`, the code that claims
/// least, for rows built field by field.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Detail {
    /// Logged in.
    Success,
    // NetSuite's own codes.
    /// The account's Token-based Authentication feature is off.
    FeatureDisabled,
    /// No integration record has this consumer key.
    ConsumerKeyUnknown,
    /// The record is blocked or waiting for approval in the account, or has TBA off.
    ConsumerKeyRefused,
    /// A SOAP TokenPassport lacks a field.
    MissingTokenPassportRequiredFields,
    /// The nonce is too short, too long or has characters outside RFC 3986's unreserved set.
    NonceRejected,
    /// The (consumer key, token, nonce, timestamp) was accepted before: a replay.
    NonceUsed,
    /// The signature does not match the request (or a signed body hash does not match the body).
    InvalidSignature,
    /// issuetoken and the authorization flow: the record is not enabled in the account (R14).
    IntegrationBlocked,
    /// requesttoken: no integration record has this consumer key.
    UnknownIntegration,
    /// requesttoken: the record does not have TBA: Authorization Flow on.
    AuthorizationFlowRequired,
    /// requesttoken: `oauth_callback` is not the record's callback URL.
    InvalidCallback,
    // Tessera's own, where NetSuite publishes none.
    /// `oauth_timestamp` is not a number or outside the window.
    InvalidTimestamp,
    /// `realm` is not the token's account id exactly.
    InvalidRealm,
    /// A signature method other than HMAC-SHA256.
    UnsupportedSignatureMethod,
    /// `oauth_version` other than `1.0`.
    InvalidVersion,
    /// No such token, or a token of another integration.
    InvalidToken,
    /// The token is revoked (R8).
    TokenRevoked,
    /// The token is inactive (R8).
    TokenInactive,
    /// The token's expiry has passed (R16).
    TokenExpired,
    /// The client address is not in the account's or the integration record's IP allow-list
    /// (R17).
    IpNotAllowed,
    /// The user is inactive, or the role is inactive or gone (R11).
    EntityOrRoleDisabled,
    /// The role may not log in with tokens (R11); on issuetoken also a role the user does not
    /// hold, or one R12 does not let it make tokens for. (A role taken away from the user is
    /// `EntityOrRoleDisabled`.)
    RoleNotAllowed,
    /// A required parameter (or the Authorization header) is missing.
    MissingRequiredParameter,
    /// The request could not be understood (a malformed header, an undecodable form).
    #[default]
    MalformedRequest,
    /// Over the account's or the integration's concurrency limit (RULES.md §5).
    ConcurrencyLimitExceeded,
    /// A password sign-in with an unknown account or email, no password, an inactive user or a
    /// wrong password.
    InvalidCredentials,
    /// A password sign-in refused by the guess throttle before the password was checked.
    TooManyAttempts,
    /// accesstoken: `oauth_verifier` is not the one the consent handed out (or there was no
    /// consent yet).
    InvalidVerifier,
    /// accesstoken: the request token's lifetime ran out.
    RequestTokenExpired,
    /// accesstoken: the user denied the request token.
    RequestTokenDenied,
    /// accesstoken: the request token was exchanged already (single use).
    RequestTokenUsed,
}

impl Detail {
    /// Every code, in the order the audit trail's filters offer them.
    pub const ALL: [Detail; 32] = [
        Detail::Success,
        Detail::InvalidSignature,
        Detail::InvalidTimestamp,
        Detail::NonceRejected,
        Detail::NonceUsed,
        Detail::InvalidToken,
        Detail::TokenRevoked,
        Detail::TokenInactive,
        Detail::TokenExpired,
        Detail::IpNotAllowed,
        Detail::ConsumerKeyUnknown,
        Detail::ConsumerKeyRefused,
        Detail::FeatureDisabled,
        Detail::EntityOrRoleDisabled,
        Detail::RoleNotAllowed,
        Detail::InvalidRealm,
        Detail::UnsupportedSignatureMethod,
        Detail::InvalidVersion,
        Detail::MissingRequiredParameter,
        Detail::MissingTokenPassportRequiredFields,
        Detail::MalformedRequest,
        Detail::ConcurrencyLimitExceeded,
        Detail::IntegrationBlocked,
        Detail::InvalidCredentials,
        Detail::TooManyAttempts,
        Detail::UnknownIntegration,
        Detail::AuthorizationFlowRequired,
        Detail::InvalidCallback,
        Detail::InvalidVerifier,
        Detail::RequestTokenExpired,
        Detail::RequestTokenDenied,
        Detail::RequestTokenUsed,
    ];

    /// The code as the audit trail stores and shows it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Detail::Success => "Success",
            Detail::FeatureDisabled => "FeatureDisabled",
            Detail::ConsumerKeyUnknown => "consumer_key_unknown",
            Detail::ConsumerKeyRefused => "consumer_key_refused",
            Detail::MissingTokenPassportRequiredFields => "MissingTokenPassportRequiredFields",
            Detail::NonceRejected => "nonce_rejected",
            Detail::NonceUsed => "nonce_used",
            Detail::InvalidSignature => "InvalidSignature",
            Detail::IntegrationBlocked => "IntegrationBlocked",
            Detail::InvalidTimestamp => "InvalidTimestamp",
            Detail::InvalidRealm => "InvalidRealm",
            Detail::UnsupportedSignatureMethod => "UnsupportedSignatureMethod",
            Detail::InvalidVersion => "InvalidVersion",
            Detail::InvalidToken => "InvalidToken",
            Detail::TokenRevoked => "TokenRevoked",
            Detail::TokenInactive => "TokenInactive",
            Detail::TokenExpired => "TokenExpired",
            Detail::IpNotAllowed => "IpNotAllowed",
            Detail::EntityOrRoleDisabled => "EntityOrRoleDisabled",
            Detail::RoleNotAllowed => "RoleNotAllowed",
            Detail::MissingRequiredParameter => "MissingRequiredParameter",
            Detail::MalformedRequest => "MalformedRequest",
            Detail::ConcurrencyLimitExceeded => "ConcurrencyLimitExceeded",
            Detail::InvalidCredentials => "InvalidCredentials",
            Detail::TooManyAttempts => "TooManyAttempts",
            Detail::UnknownIntegration => "UnknownIntegration",
            Detail::AuthorizationFlowRequired => "AuthorizationFlowRequired",
            Detail::InvalidCallback => "InvalidCallback",
            Detail::InvalidVerifier => "InvalidVerifier",
            Detail::RequestTokenExpired => "RequestTokenExpired",
            Detail::RequestTokenDenied => "RequestTokenDenied",
            Detail::RequestTokenUsed => "RequestTokenUsed",
        }
    }

    /// The code spelled exactly as [`Detail::as_str`] spells it.
    pub fn parse(code: &str) -> Option<Detail> {
        Detail::ALL.into_iter().find(|d| d.as_str() == code)
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Detail {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Detail {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::Detail;

    #[test]
    fn every_code_is_listed_once_and_parses_back() {
        let mut codes: Vec<&str> = Detail::ALL.iter().map(|d| d.as_str()).collect();
        for d in Detail::ALL {
            assert_eq!(Detail::parse(d.as_str()), Some(d));
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Detail::ALL.len());
        assert_eq!(
            Detail::parse("invalidsignature"),
            None,
            "codes are case-sensitive"
        );
    }
}
