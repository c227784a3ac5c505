//! What `sign` and `check-signature` share: secrets from arguments, the URL as sent, bodies
//! from files, the timestamp warning.

use std::borrow::Cow;
use std::path::Path;

use anyhow::{Context, Result};
use tessera_oauth1::SecretString;
use tessera_oauth1::url::escape_disallowed;
use tessera_oauth1::verify;

/// A secret given on the command line; `Debug` never shows it.
#[derive(Clone)]
pub struct SecretArg(pub SecretString);

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for SecretArg {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(SecretString::from(s)))
    }
}

/// The URL as it is sent: characters a URL cannot carry are percent-encoded first.
pub fn prepare_url<'u>(url: &'u str, warnings: &mut Vec<String>) -> Cow<'u, str> {
    let prepared = escape_disallowed(url.trim());
    if prepared != url {
        warnings.push(format!(
            "the URL has characters that cannot be sent as they are; using {prepared}"
        ));
    }
    prepared
}

pub fn read_body_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read --body-file {}", path.display()))
}

/// A warning when a timestamp lies outside the window a server accepts.
pub fn timestamp_warning(timestamp: u64, now: u64, window: u64) -> Option<String> {
    verify::check_timestamp_window(timestamp, now, window)
        .err()
        .map(|rejection| format!("a server would refuse this request now: {rejection}"))
}
