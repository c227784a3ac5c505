//! Identifiers that cannot hold invalid values.

use std::fmt;

use thiserror::Error;

/// Why a string is not a valid identifier. Never echoes the input (it may be a pasted secret).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidId {
    #[error(
        "account id must be digits (1234567), a sandbox id (1234567_SB1) or TSTDRV followed by digits"
    )]
    Account,
    #[error("{what} must be 64 lower-case hexadecimal characters")]
    Credential { what: &'static str },
    #[error("application id must be a UUID (8-4-4-4-12 hexadecimal digits)")]
    Application,
    #[error("{what} must be a positive integer")]
    Internal { what: &'static str },
}

/// A NetSuite account id in canonical form: upper case with `_` (`1234567`, `1234567_SB1`,
/// `TSTDRV1234567`). The canonical form is the OAuth `realm`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    const MAX_LEN: usize = 32;

    /// Accepts any case and `-` for `_` (the host form), and returns the canonical form.
    pub fn parse(input: &str) -> Result<Self, InvalidId> {
        if input.is_empty() || input.len() > Self::MAX_LEN || !input.is_ascii() {
            return Err(InvalidId::Account);
        }
        let canonical: String = input
            .chars()
            .map(|c| {
                if c == '-' {
                    '_'
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect();
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let valid = if let Some(rest) = canonical.strip_prefix("TSTDRV") {
            all_digits(rest)
        } else if let Some((base, sandbox)) = canonical.split_once("_SB") {
            all_digits(base) && all_digits(sandbox)
        } else {
            all_digits(&canonical)
        };
        if valid {
            Ok(Self(canonical))
        } else {
            Err(InvalidId::Account)
        }
    }

    /// The canonical form (`1234567_SB1`), as used in `realm`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host form (`1234567-sb1`), as in `1234567-sb1.suitetalk.api.netsuite.com`.
    pub fn host_form(&self) -> String {
        self.0
            .chars()
            .map(|c| {
                if c == '_' {
                    '-'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.0)
    }
}

macro_rules! internal_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(value: i64) -> Self {
                Self(value)
            }

            pub const fn get(self) -> i64 {
                self.0
            }

            /// Parses a positive decimal integer, as found in URLs and CLI arguments.
            pub fn parse(input: &str) -> Result<Self, InvalidId> {
                match input.parse::<i64>() {
                    Ok(v) if v > 0 && input.bytes().all(|b| b.is_ascii_digit()) => Ok(Self(v)),
                    _ => Err(InvalidId::Internal { what: $what }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    };
}

internal_id!(
    /// A role's internal id, unique within its account. The built-in Administrator is 3.
    RoleId,
    "role id"
);
internal_id!(
    /// A user's (NetSuite "entity") internal id.
    UserId,
    "user id"
);
internal_id!(
    /// An integration record's internal id.
    IntegrationId,
    "integration id"
);
internal_id!(
    /// An access token's internal id (not its secret-ish token id).
    TokenKey,
    "access token internal id"
);

impl RoleId {
    /// The built-in Administrator role, internal id 3 in every account as in NetSuite.
    pub const ADMINISTRATOR: RoleId = RoleId(3);
}

macro_rules! credential_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn parse(input: &str) -> Result<Self, InvalidId> {
                if crate::credentials::is_credential_hex(input) {
                    Ok(Self(input.to_owned()))
                } else {
                    Err(InvalidId::Credential { what: $what })
                }
            }

            /// A fresh value from 32 bytes of OS randomness.
            pub fn generate() -> Result<Self, crate::credentials::RngError> {
                crate::credentials::generate_hex().map(Self)
            }

            /// The full value. Shown to a person once (R6); otherwise only used to look records up.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Only the first 8 characters: enough to tell two apart in a log, useless to an attacker.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({}…)"), &self.0[..8])
            }
        }
    };
}

credential_id!(
    /// An integration record's consumer key: 64 lower-case hex characters.
    ConsumerKey,
    "consumer key"
);
credential_id!(
    /// An access token's token id: 64 lower-case hex characters.
    TokenId,
    "token id"
);

/// An integration record's application id: a UUID in upper-case hex, as NetSuite shows it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ApplicationId(String);

impl ApplicationId {
    pub fn parse(input: &str) -> Result<Self, InvalidId> {
        let groups: Vec<&str> = input.split('-').collect();
        let lengths = [8, 4, 4, 4, 12];
        let valid = groups.len() == lengths.len()
            && groups
                .iter()
                .zip(lengths)
                .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
        if valid {
            Ok(Self(input.to_ascii_uppercase()))
        } else {
            Err(InvalidId::Application)
        }
    }

    /// A random (version 4) UUID from the OS RNG.
    pub fn generate() -> Result<Self, crate::credentials::RngError> {
        let mut b = [0u8; 16];
        crate::credentials::fill_random(&mut b)?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
        Ok(Self(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApplicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ApplicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApplicationId({})", self.0)
    }
}

/// An e-mail address, trimmed and lower-cased so that uniqueness per account ignores case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, crate::Error> {
        let s = input.trim();
        let invalid = |why: &str| crate::Error::invalid("email", why);
        if s.is_empty() || s.len() > 254 {
            return Err(invalid("must be 1 to 254 characters"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(invalid("must contain @"));
        };
        if local.is_empty() || domain.is_empty() || !domain.contains('.') {
            return Err(invalid("must look like name@example.com"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces or control characters"));
        }
        Ok(Self(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

impl TokenId {
    /// An id no token has: 32 zero bytes are never drawn from the OS RNG in practice (2^-256).
    /// Used to ask the store about a consumer key alone.
    pub fn never_issued() -> Self {
        Self("0".repeat(64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_take_canonical_form() {
        for (input, canonical, host) in [
            ("1234567", "1234567", "1234567"),
            ("1234567_SB1", "1234567_SB1", "1234567-sb1"),
            ("1234567-sb12", "1234567_SB12", "1234567-sb12"),
            ("tstdrv998877", "TSTDRV998877", "tstdrv998877"),
        ] {
            let id = AccountId::parse(input).unwrap();
            assert_eq!(id.as_str(), canonical);
            assert_eq!(id.host_form(), host);
        }
        for bad in [
            "",
            "abc",
            "1234567_SB",
            "_SB1",
            "1234567_XX1",
            "TSTDRV",
            "12 34",
            "１２３",
            "1234567__SB1",
        ] {
            assert_eq!(AccountId::parse(bad), Err(InvalidId::Account), "{bad:?}");
        }
    }

    #[test]
    fn credentials_are_64_lower_hex_and_debug_shows_a_prefix() {
        let key = ConsumerKey::generate().unwrap();
        assert_eq!(key.as_str().len(), 64);
        assert!(ConsumerKey::parse(key.as_str()).is_ok());
        assert!(ConsumerKey::parse(&key.as_str().to_uppercase()).is_err());
        assert!(TokenId::parse("abc").is_err());
        let debug = format!("{key:?}");
        assert!(debug.contains(&key.as_str()[..8]));
        assert!(!debug.contains(&key.as_str()[8..]));
    }

    #[test]
    fn application_ids_are_upper_case_v4_uuids() {
        let id = ApplicationId::generate().unwrap();
        assert_eq!(id.as_str().len(), 36);
        assert_eq!(&id.as_str()[14..15], "4");
        assert_eq!(id.as_str(), id.as_str().to_uppercase());
        assert_eq!(
            ApplicationId::parse("8c7a4a2e-1f0b-4c3d-9e8f-0a1b2c3d4e5f")
                .unwrap()
                .as_str(),
            "8C7A4A2E-1F0B-4C3D-9E8F-0A1B2C3D4E5F"
        );
        assert!(ApplicationId::parse("8c7a4a2e1f0b4c3d9e8f0a1b2c3d4e5f").is_err());
    }

    #[test]
    fn internal_ids_are_positive_decimal() {
        assert_eq!(UserId::parse("42").unwrap().get(), 42);
        for bad in ["0", "-1", "+4", "x", ""] {
            assert!(UserId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse(" Jane.Doe@Example.COM ").unwrap().as_str(),
            "jane.doe@example.com"
        );
        for bad in [
            "",
            "jane",
            "@x.com",
            "jane@",
            "jane@localhost",
            "ja ne@x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }
}
