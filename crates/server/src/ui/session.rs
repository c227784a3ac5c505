//! The web UI's sessions: `tower-sessions` for the cookie and the session's life, our own store
//! underneath (the same database as everything else, so any node serves any browser, and a
//! restart signs no one out).
//!
//! The cookie is `__Host-` prefixed, HttpOnly, Secure and SameSite=Strict; only when every
//! public origin is plain HTTP to this machine does it go without `Secure` (and so without the
//! prefix, which browsers refuse without it). The id is random (128 bits) and stored only as
//! its SHA-256 digest.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_core::Tessera;
use tessera_core::ids::{AccountId, RoleId, UserId};
use tessera_core::store::WebSession;
use time::OffsetDateTime;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, Error};
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::AppState;

/// The session key under which a signed-in user is kept.
pub(crate) const AUTH: &str = "auth";
/// A one-time message for the next page ("Token revoked.").
pub(crate) const FLASH: &str = "flash";

/// Who is signed in, with what, since when, and the form token that proves a post came from
/// one of our pages.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct SessionAuth {
    pub account: String,
    pub user: i64,
    pub role: i64,
    /// Unix seconds.
    pub signed_in_at: i64,
    pub csrf: String,
}

impl std::fmt::Debug for SessionAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionAuth")
            .field("account", &self.account)
            .field("user", &self.user)
            .field("role", &self.role)
            .field("signed_in_at", &self.signed_in_at)
            .finish_non_exhaustive()
    }
}

impl SessionAuth {
    pub(crate) fn new(account: &AccountId, user: UserId, role: RoleId) -> Self {
        Self {
            account: account.as_str().to_owned(),
            user: user.get(),
            role: role.get(),
            signed_in_at: OffsetDateTime::now_utc().unix_timestamp(),
            csrf: random_token(),
        }
    }

    pub(crate) fn owner(&self) -> Option<(AccountId, UserId)> {
        Some((
            AccountId::parse(&self.account).ok()?,
            UserId::new(self.user),
        ))
    }
}

/// 256 random bits, URL-safe: form tokens and the sign-in form's cookie.
pub(crate) fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        // Without the OS's randomness no token can be trusted: a fresh one that never matches
        // a stored one is the safe failure (every post is then refused).
        tracing::error!("the operating system's random number generator failed");
        return String::from("unavailable");
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether the session cookie may go without `Secure`: every public origin is plain HTTP to
/// this machine.
pub(crate) fn relaxed(state: &AppState) -> bool {
    state.origins().iter().all(crate::Origin::is_loopback_http)
}

/// The name of a cookie: `__Host-` prefixed whenever it is `Secure`.
pub(crate) fn cookie_name(state: &AppState, name: &str) -> String {
    if relaxed(state) {
        name.to_owned()
    } else {
        format!("__Host-{name}")
    }
}

pub(crate) fn layer(state: &AppState) -> SessionManagerLayer<Store> {
    let idle = time::Duration::try_from(state.config().ui_idle_timeout)
        .unwrap_or(time::Duration::minutes(30));
    SessionManagerLayer::new(Store {
        tessera: state.tessera().clone(),
    })
    .with_name(cookie_name(state, "tessera-session"))
    .with_path("/")
    .with_http_only(true)
    .with_secure(!relaxed(state))
    .with_same_site(SameSite::Strict)
    .with_expiry(Expiry::OnInactivity(idle))
    // Saved on every request, so that the idle timeout counts from the last one.
    .with_always_save(true)
}

/// Sessions kept by `tessera-core`'s store.
#[derive(Clone)]
pub(crate) struct Store {
    tessera: Tessera,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionStore")
    }
}

fn digest(id: &Id) -> String {
    let hash = Sha256::digest(id.0.to_le_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The store's error with its whole cause (tower-sessions keeps only a string, and logs it).
fn backend(e: tessera_core::Error) -> Error {
    Error::Backend(tessera_core::Chain(&e).to_string())
}

#[async_trait::async_trait]
impl session_store::SessionStore for Store {
    /// A new session under an id no session has: ids are 128 random bits, so a collision is
    /// only guarded against, never expected.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        while self
            .tessera
            .web_session(&digest(&record.id), now)
            .await
            .map_err(backend)?
            .is_some()
        {
            record.id = Id::default();
        }
        self.save(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let owner = record
            .data
            .get(AUTH)
            .and_then(|v| serde_json::from_value::<SessionAuth>(v.clone()).ok())
            .and_then(|auth| auth.owner());
        let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
        self.tessera
            .save_web_session(&WebSession {
                id_digest: digest(&record.id),
                owner,
                data,
                expires_at: record.expiry_date.unix_timestamp(),
            })
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let Some(stored) = self
            .tessera
            .web_session(&digest(id), now)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data = serde_json::from_str(&stored.data).map_err(|e| Error::Decode(e.to_string()))?;
        let expiry_date = OffsetDateTime::from_unix_timestamp(stored.expires_at)
            .map_err(|e| Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.tessera
            .delete_web_session(&digest(id))
            .await
            .map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_token_is_never_printed() {
        let auth = SessionAuth::new(
            &AccountId::parse("1234567").unwrap(),
            UserId::new(1),
            RoleId::new(3),
        );
        let printed = format!("{auth:?}");
        assert!(!printed.contains(&auth.csrf), "{printed}");
        assert_eq!(auth.csrf.len(), 43);
    }

    #[test]
    fn a_session_id_is_stored_as_its_digest() {
        let id = Id(42);
        let d = digest(&id);
        assert_eq!(d.len(), 64);
        assert!(!d.contains(&id.to_string()));
        assert_eq!(d, digest(&Id(42)));
        assert_ne!(d, digest(&Id(43)));
    }
}
