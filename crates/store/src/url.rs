//! What of a database URL is checked before the driver reads it: the driver logs a query
//! parameter it does not know together with its value, and such a value is often a secret.

use crate::OpenError;

/// The query parameters sqlx's PostgreSQL driver reads from a URL (`sqlx-postgres`'s
/// `options/parse.rs`).
pub(crate) const POSTGRES_URL_PARAMETERS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// Every query parameter of a PostgreSQL URL is one the driver knows, written plainly.
pub(crate) fn check_postgres_url_parameters(url: &str) -> Result<(), OpenError> {
    // The query starts after the user information, which ends at the last `@` (a password
    // may hold a raw `?`).
    let after_credentials = url.rfind('@').map_or(url, |at| &url[at + 1..]);
    let Some((_, query)) = after_credentials.split_once('?') else {
        return Ok(());
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        if !POSTGRES_URL_PARAMETERS.contains(&name) {
            // Named only when it is a plain word: anything else may be part of a secret.
            let plain = name.len() <= 40
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            let shown = if plain { name } else { "(not a plain word)" };
            return Err(OpenError::UnknownUrlParameter(shown.to_owned()));
        }
    }
    Ok(())
}
