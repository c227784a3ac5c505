//! The surfaces that verify signed requests (RULES.md §4). Each is one small module with the same
//! two halves: what the request presents — a `Received` read as the `Presented` request the
//! one `SignedRequest` builder takes — and how an `Outcome` is answered in that surface's
//! shape. Between them runs the one pipeline in `admission` (builder, malformed path,
//! verifier, governance).
//!
//! - `restlet`: the echo RESTlet, verified as sent.
//! - `rest_web_services`: `/services/rest/*`, verified as sent; `governanceLimits`.
//! - `token_endpoints`: `issuetoken` (NLAuth, a password sign-in) and `revoketoken` (signed).
//! - `authorization_flow`: `requesttoken` and `accesstoken`, the flow's signed steps; they
//!   verify through core's flow (the request token is the credential), not the verifier.
//! - `discovery`: `datacenterurls` and `roles`, NetSuite's account and role lookup.
//! - `soap`: SOAP web services with a TokenPassport, and their WSDL.
//! - `verify_api`: a trusted service describes a request in JSON and learns the Detail code.
//! - `forward_auth`: a reverse proxy describes the original request in headers.
//! - `trusted`: the gate in front of the last two (and `/metrics`).
//! - `answers`: who is calling, as the echo and the verification API render it.
//!
//! The admin API (`crate::admin`) is a signed surface too and goes through `admit`.

pub(crate) mod admission;
mod answers;
pub(crate) mod authorization_flow;
pub(crate) mod discovery;
pub(crate) mod forward_auth;
pub(crate) mod rest_web_services;
pub(crate) mod restlet;
pub(crate) mod soap;
pub(crate) mod token_endpoints;
pub(crate) mod trusted;
pub(crate) mod verify_api;

pub(crate) use admission::{Admitted, admit};
