//! Tessera's domain: the objects of RULES.md §1, the lifecycle rules of RULES.md §2 (R1–R18) carried
//! out by [`Tessera`], and the [`store::Store`] trait it keeps its records through.
//!
//! Knows nothing of HTTP or SQL. Secrets exist in plaintext only inside `SecretString`, and at
//! rest only as [`vault::SealedSecret`].

#![forbid(unsafe_code)]

pub mod allow;
pub mod bootstrap;
pub mod credentials;
pub mod debugger;
mod error;
pub mod fixtures;
pub mod ids;
pub mod model;
mod service;
pub mod store;
pub mod vault;
pub mod verifier;

pub use error::{Chain, Error, Result};
pub use service::*;
pub use tessera_oauth1::{Detail, SecretString};
