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
