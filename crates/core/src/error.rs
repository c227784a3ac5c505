//! The domain's errors: specific, typed, and free of infrastructure types.

use thiserror::Error;

use crate::credentials::RngError;
use crate::ids::InvalidId;
use crate::store::StoreError;
use crate::vault::VaultError;

#[derive(Debug, Error)]
pub enum Error {
    /// Also returned for records of another account, so that existence does not leak.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("not permitted: {why}")]
    NotPermitted { why: String },
    #[error(
        "the credentials of an integration record installed through a bundle cannot be reset; only an administrator of the account that created the record can reset them (R4)"
    )]
    ResetNotAllowedForBundleInstall,
    #[error(
        "resetting credentials invalidates the current consumer key and secret at once; confirm the reset to proceed (R5)"
    )]
    ConfirmationRequired,
    #[error(
        "the access token is revoked; a revoked token is read-only and can never be reactivated (R8)"
    )]
    TokenRevoked,
    #[error("invalid {field}: {why}")]
    Invalid { field: &'static str, why: String },
    #[error("{why}")]
    Conflict { why: String },
    #[error(transparent)]
    Id(#[from] InvalidId),
    #[error("storage failed")]
    Storage(#[source] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Rng(#[from] RngError),
}

impl From<StoreError> for Error {
    /// A uniqueness refusal is the caller's conflict (two requests racing to create the same
    /// thing), not a storage failure.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate(what) => Error::Conflict {
                why: format!("a record with the same {what} already exists"),
            },
            StoreError::Dangling => Error::Conflict {
                why: "a record this change refers to was removed at the same moment; nothing was changed".to_owned(),
            },
            e => Error::Storage(e),
        }
    }
}

impl Error {
    pub fn invalid(field: &'static str, why: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            why: why.into(),
        }
    }

    pub fn not_permitted(why: impl Into<String>) -> Self {
        Error::NotPermitted { why: why.into() }
    }

    pub fn not_found(what: &'static str) -> Self {
        Error::NotFound { what }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error with its whole source chain, for logs: `outer: cause: root cause`. A cause whose
/// text the message before it already contains is not repeated.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut next = self.0.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            if !shown.contains(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
            next = cause.source();
        }
        Ok(())
    }
}

impl std::fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::Chain;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open the database")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open the database: {0}")]
    struct Repeating(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_cause_once() {
        let io = || std::io::Error::other("connection refused by 10.0.0.5:5432");
        assert_eq!(
            Chain(&Outer(io())).to_string(),
            "cannot open the database: connection refused by 10.0.0.5:5432"
        );
        assert_eq!(
            Chain(&Repeating(io())).to_string(),
            "cannot open the database: connection refused by 10.0.0.5:5432"
        );
    }
}
