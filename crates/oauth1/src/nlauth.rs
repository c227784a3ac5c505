//! The `Authorization: NLAuth …` header NetSuite's issuetoken endpoint takes:
//! `NLAuth nlauth_account=…, nlauth_email=…, nlauth_signature=<password>, nlauth_role=…[, nlauth_otp=…]`.
//!
//! Values are unquoted (ending at the next `,`) or double-quoted, and RFC 3986 percent-encoded as
//! NetSuite asks ("strings must be escaped using RFC 3986"); a password with a comma must send it
//! as `%2C`. Errors never contain a value.

use thiserror::Error;

use crate::encode::{self, DecodeError};
use crate::secret::SecretString;

/// Why an NLAuth header cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NlAuthError {
    #[error("the Authorization header does not use the NLAuth scheme")]
    NotNlAuth,
    #[error("malformed NLAuth header at byte {offset}: expected {expected}")]
    Syntax {
        offset: usize,
        expected: &'static str,
    },
    #[error("unknown NLAuth parameter {name:?}")]
    UnknownParameter { name: String },
    #[error("NLAuth parameter {name} appears more than once")]
    DuplicateParameter { name: &'static str },
    #[error("required NLAuth parameter {name} is missing or empty")]
    MissingParameter { name: &'static str },
    #[error("NLAuth parameter {name}: {source} (values must be percent-encoded per RFC 3986)")]
    Encoding {
        name: &'static str,
        #[source]
        source: DecodeError,
    },
}

/// A parsed NLAuth header. `Debug` masks the password and the one-time password.
#[derive(Debug, Clone)]
pub struct NlAuth {
    pub account: String,
    pub email: String,
    pub password: SecretString,
    /// Internal id of the role; NetSuite picks a default role when absent.
    pub role: Option<String>,
    pub application_id: Option<String>,
    pub otp: Option<SecretString>,
}

const NAMES: [&str; 6] = [
    "nlauth_account",
    "nlauth_email",
    "nlauth_signature",
    "nlauth_role",
    "nlauth_application_id",
    "nlauth_otp",
];

impl NlAuth {
    /// Parses the value of an `Authorization` header; `nlauth_account` is required.
    pub fn parse(header: &str) -> Result<Self, NlAuthError> {
        Self::parse_with(header, true)
    }

    /// As [`NlAuth::parse`], but `nlauth_account` may be left out (`account` is then empty):
    /// NetSuite's `/rest/roles` finds the accounts of an email itself.
    pub fn parse_account_optional(header: &str) -> Result<Self, NlAuthError> {
        Self::parse_with(header, false)
    }

    fn parse_with(header: &str, account_required: bool) -> Result<Self, NlAuthError> {
        let trimmed = header.trim_start();
        let offset0 = header.len() - trimmed.len();
        let scheme_len = trimmed.find([' ', '\t']).unwrap_or(trimmed.len());
        if !trimmed[..scheme_len].eq_ignore_ascii_case("NLAuth") {
            return Err(NlAuthError::NotNlAuth);
        }
        let mut values: [Option<String>; NAMES.len()] = Default::default();
        let bytes = header.as_bytes();
        let mut pos = offset0 + scheme_len;
        let syntax = |offset, expected| NlAuthError::Syntax { offset, expected };
        loop {
            while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t' | b',') {
                pos += 1;
            }
            if pos == bytes.len() {
                break;
            }
            let name_start = pos;
            while pos < bytes.len() && (bytes[pos].is_ascii_alphanumeric() || bytes[pos] == b'_') {
                pos += 1;
            }
            let name = &header[name_start..pos];
            if name.is_empty() {
                return Err(syntax(pos, "a parameter name"));
            }
            while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t') {
                pos += 1;
            }
            if bytes.get(pos) != Some(&b'=') {
                return Err(syntax(pos, "'=' after the parameter name"));
            }
            pos += 1;
            while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t') {
                pos += 1;
            }
            let raw = if bytes.get(pos) == Some(&b'"') {
                let start = pos + 1;
                let len = header[start..]
                    .find('"')
                    .ok_or_else(|| syntax(pos, "a closing '\"'"))?;
                pos = start + len + 1;
                while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t') {
                    pos += 1;
                }
                if pos < bytes.len() && bytes[pos] != b',' {
                    return Err(syntax(pos, "',' between parameters"));
                }
                &header[start..start + len]
            } else {
                let start = pos;
                let len = header[start..].find(',').unwrap_or(header.len() - start);
                pos = start + len;
                header[start..start + len].trim_end_matches([' ', '\t'])
            };
            let index = NAMES
                .iter()
                .position(|n| n.eq_ignore_ascii_case(name))
                .ok_or_else(|| NlAuthError::UnknownParameter {
                    name: name.chars().take(64).collect(),
                })?;
            let canonical = NAMES[index];
            if values[index].is_some() {
                return Err(NlAuthError::DuplicateParameter { name: canonical });
            }
            let decoded = encode::decode(raw).map_err(|source| NlAuthError::Encoding {
                name: canonical,
                source,
            })?;
            values[index] = Some(decoded.into_owned());
        }
        let [account, email, password, role, application_id, otp] = values;
        let required = |v: Option<String>, name| {
            v.filter(|s| !s.is_empty())
                .ok_or(NlAuthError::MissingParameter { name })
        };
        Ok(Self {
            account: if account_required {
                required(account, "nlauth_account")?
            } else {
                account.unwrap_or_default()
            },
            email: required(email, "nlauth_email")?,
            password: required(password, "nlauth_signature")?.into(),
            role: role.filter(|s| !s.is_empty()),
            application_id: application_id.filter(|s| !s.is_empty()),
            otp: otp.filter(|s| !s.is_empty()).map(SecretString::from),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_may_be_left_out_for_roles_only() {
        let header = "NLAuth nlauth_email=a@example.com, nlauth_signature=pw";
        assert!(NlAuth::parse(header).is_err());
        let a = NlAuth::parse_account_optional(header).unwrap();
        assert_eq!(a.account, "");
        assert_eq!(a.email, "a@example.com");
    }

    #[test]
    fn parses_netsuite_example() {
        let a = NlAuth::parse(
            "NLAuth nlauth_account=123456, nlauth_email=john@smith.com, nlauth_signature=Welcome123, nlauth_role=3",
        )
        .unwrap();
        assert_eq!(a.account, "123456");
        assert_eq!(a.email, "john@smith.com");
        assert_eq!(a.password.expose(), "Welcome123");
        assert_eq!(a.role.as_deref(), Some("3"));
        assert!(a.otp.is_none());
    }

    #[test]
    fn quoted_and_encoded_values() {
        let a = NlAuth::parse(
            r#"nlauth nlauth_account="123456_SB1",nlauth_email="a%2Bb@x.io",nlauth_signature="p%2Cw,d",nlauth_otp=123456"#,
        )
        .unwrap();
        assert_eq!(a.account, "123456_SB1");
        assert_eq!(a.email, "a+b@x.io");
        assert_eq!(a.password.expose(), "p,w,d");
        assert_eq!(a.otp.as_ref().map(SecretString::expose), Some("123456"));
        assert_eq!(a.role, None);
    }

    #[test]
    fn debug_masks_the_password() {
        let a =
            NlAuth::parse("NLAuth nlauth_account=1, nlauth_email=e@x, nlauth_signature=TopSecret9")
                .unwrap();
        let dbg = format!("{a:?}");
        assert!(!dbg.contains("TopSecret9"), "{dbg}");
    }

    #[test]
    fn errors_never_echo_values() {
        let err =
            NlAuth::parse("NLAuth nlauth_account=1, nlauth_email=e@x, nlauth_signature=100%sure")
                .unwrap_err();
        assert!(matches!(
            err,
            NlAuthError::Encoding {
                name: "nlauth_signature",
                ..
            }
        ));
        assert!(!err.to_string().contains("sure"));
    }

    #[test]
    fn malformed() {
        use NlAuthError::*;
        let err = |s| NlAuth::parse(s).unwrap_err();
        assert_eq!(err("OAuth a=\"b\""), NotNlAuth);
        assert_eq!(
            err("NLAuth nlauth_account=1, nlauth_email=e"),
            MissingParameter {
                name: "nlauth_signature"
            }
        );
        assert_eq!(
            err("NLAuth nlauth_account=1, nlauth_account=2"),
            DuplicateParameter {
                name: "nlauth_account"
            }
        );
        assert!(matches!(
            err("NLAuth nlauth_acount=1"),
            UnknownParameter { .. }
        ));
        assert!(matches!(err("NLAuth nlauth_account"), Syntax { .. }));
        assert!(matches!(err("NLAuth nlauth_account=\"1"), Syntax { .. }));
    }
}
