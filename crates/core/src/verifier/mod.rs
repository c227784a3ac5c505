//! The verification hot path: is this signed request allowed, right now, exactly once?
//!
//! 1. Parse and check the protocol rules that need no secret (`tessera-oauth1`).
//! 2. Find the credential pair: an in-process cache of grants (the signing key and who it is),
//!    or one store read. Unknown keys are checked against a dummy key, so every failure takes
//!    the same path.
//! 3. Check the signature, then the realm.
//! 4. Claim the nonce: the claim goes to one writer task that commits claims in groups. The
//!    store inserts a nonce record only if the nonce is new, and the request is accepted only
//!    once that transaction is durable: a request is never accepted twice, not across restarts,
//!    crashes or nodes sharing a database.
//!
//! A change that committed before a request started always stops it: through this process, the
//! store's change epoch has moved, so the cached grant is read again (step 2); on a database
//! shared with other nodes, the store also re-checks R9/R11 in the claim's own statement.
//!
//! Refusals carry a Detail code (RULES.md §3.1) for the login audit trail; the wire answer stays
//! generic. Every attempt is written to the audit trail by the same writer, in batches.

mod cache;
mod loader;
mod writer;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
pub use tessera_oauth1::Detail;

use sha2::{Digest, Sha256};
use tessera_oauth1::header::HeaderError;
use tessera_oauth1::verify::{Profile, ProtocolParams, Rejection, RequestParts};
use tessera_oauth1::{AuthorizationHeader, RequestUrl, SigningKey};
use thiserror::Error;

use crate::Tessera;
use crate::ids::{AccountId, ConsumerKey, IntegrationId, RoleId, TokenId, TokenKey, UserId};
use crate::model::Timestamp;
use crate::service::{LoginRefusal, assess};
use crate::store::{LoginAttempt, LoginRecord, NonceClaim, NonceDigest, StoreError};

pub use writer::WriterStats;

/// Settings of the verifier.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// `oauth_timestamp` acceptance window (±seconds).
    pub profile: Profile,
    /// Grants kept in memory at most.
    pub cache_capacity: usize,
    /// A cached grant is read again after this long even if nothing changed through this
    /// store: other nodes may have renamed things (validity never depends on it — the claim
    /// re-checks on a shared database).
    pub cache_ttl: Duration,
    /// Claims and audit rows committed together at most.
    pub batch_max: usize,
    /// `last_used_at` is written at most this often per token.
    pub last_used_resolution: Duration,
    /// Read every active token's grant into the cache at start, in the background (up to the
    /// cache's capacity), so that a load spread over many tokens does not meet them cold.
    pub preload_grants: bool,
    /// Nonce records are kept this long beyond the acceptance window.
    pub purge_margin: Duration,
    /// How often expired nonce records and audit rows are purged.
    pub purge_interval: Duration,
    /// Login audit rows are kept this long, then purged in bounded batches.
    pub audit_retention: Duration,
    /// A refusal is answered no sooner than this after the request came in, so that its time
    /// does not tell its reason (a store read for an unknown key, a cache hit for a wrong
    /// signature). Above the slowest refusal path on this store; `0` turns it off.
    pub refusal_floor: Duration,
    /// How long a request waits for the store (its grant read, its claim written) before it
    /// is answered "unavailable", not held for as long as a half-open connection takes to fail.
    /// A claim still queued then is never written; one already with the store may still land
    /// (on PostgreSQL its statement is cancelled after half this wait).
    pub store_wait: Duration,
    /// Rows of refusals without a known user (an unknown consumer key or token, a malformed
    /// request, an unknown account or email) recorded one by one per source address and
    /// minute; the rest of that minute's are recorded as one summary row.
    pub junk_rows_per_minute: u32,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        Self {
            profile: Profile::default(),
            cache_capacity: 2_000_000,
            cache_ttl: Duration::from_secs(600),
            batch_max: 512,
            last_used_resolution: Duration::from_secs(60),
            preload_grants: true,
            purge_margin: Duration::from_secs(300),
            purge_interval: Duration::from_secs(60),
            audit_retention: Duration::from_secs(90 * 24 * 3600),
            refusal_floor: Duration::from_millis(2),
            store_wait: Duration::from_secs(6),
            junk_rows_per_minute: 60,
        }
    }
}

/// Who a request is signed as: a token and its owner. The owner's fields read through
/// `Deref` (`identity.user_name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub token: TokenKey,
    pub token_name: String,
    /// R16: refused from this moment on; `None`: never expires.
    pub expires_at: Option<Timestamp>,
    /// Until when a refused signature of this token is kept for the signature debugger.
    pub signature_debug_until: Option<Timestamp>,
    /// Shared by the grants of every token of one integration, user and role.
    pub owner: Arc<TokenOwner>,
}

/// The integration, user and role a token binds, as they were when its grant was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub account: AccountId,
    pub integration: IntegrationId,
    pub application_name: String,
    pub user: UserId,
    pub user_name: String,
    pub email: String,
    pub role: RoleId,
    pub role_name: String,
    pub account_concurrency_limit: Option<u32>,
    pub install_concurrency_limit: Option<u32>,
    /// R17: the account's allow-list and the installation's.
    pub account_ip_allow: crate::allow::IpAllowList,
    pub install_ip_allow: crate::allow::IpAllowList,
}

impl TokenOwner {
    /// R17: why a request from `client` is refused, if it is: an address the account's list or
    /// the installation's does not hold (both must, where set), or none known.
    pub fn ip_refusal(&self, client: Option<std::net::IpAddr>) -> Option<String> {
        let lists = [
            (&self.account_ip_allow, "the account's"),
            (&self.install_ip_allow, "the integration record's"),
        ];
        for (list, whose) in lists.into_iter().filter(|(l, _)| !l.is_any()) {
            match client {
                None => {
                    return Some(format!(
                        "the client address is unknown, and {whose} IP allow-list is set"
                    ));
                }
                Some(ip) if !list.allows(ip) => {
                    return Some(format!(
                        "{} is not in {whose} IP allow-list",
                        ip.to_canonical()
                    ));
                }
                Some(_) => {}
            }
        }
        None
    }
}

impl std::ops::Deref for Identity {
    type Target = TokenOwner;

    fn deref(&self) -> &TokenOwner {
        &self.owner
    }
}

/// The request as received, borrowed from the HTTP layer.
#[derive(Debug, Clone)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub url: RequestUrl<'a>,
    /// The `Authorization` header value, if any.
    pub authorization: Option<&'a str>,
    /// The body when it is `application/x-www-form-urlencoded`.
    pub form_body: Option<&'a [u8]>,
    pub body: &'a [u8],
}

/// Why an OAuth header cannot be verified, found before any secret is looked at: a refusal
/// with its Detail code and note, or a request that cannot be understood.
#[derive(Debug)]
pub(crate) enum Unread {
    Refused(Detail, String),
    Malformed(String),
}

/// A request's `Authorization: OAuth` header, read and checked against every rule that needs
/// no secret, with the base string its signature covers.
pub(crate) struct ReadOAuth<'a> {
    pub header: AuthorizationHeader<'a>,
    /// `oauth_timestamp`, inside the window.
    pub timestamp: u64,
    pub base_string: String,
}

impl ReadOAuth<'_> {
    /// The protocol parameters; [`read_oauth`] found them all.
    pub fn params(&self) -> ProtocolParams<'_> {
        ProtocolParams::from_header(&self.header).unwrap_or(ProtocolParams {
            consumer_key: "",
            token: None,
            signature_method: "",
            timestamp: "",
            nonce: "",
            version: None,
            signature: "",
            body_hash: None,
        })
    }
}

/// Reads a signed request's OAuth header in RULES.md §3's order — present and `OAuth`
/// (`MissingRequiredParameter`), syntax and required parameters (malformed), then `more` (what
/// a surface requires besides: the authorization flow's own parameters), then method, version,
/// nonce and timestamp, then the base string. The one reader of both the verifier and the
/// authorization flow.
pub(crate) fn read_oauth<'a>(
    request: &SignedRequest<'a>,
    profile: &Profile,
    more: impl FnOnce(&AuthorizationHeader<'_>, &ProtocolParams<'_>) -> Result<(), Unread>,
) -> Result<ReadOAuth<'a>, Unread> {
    let missing = |note: &str| Unread::Refused(Detail::MissingRequiredParameter, note.to_owned());
    let Some(value) = request.authorization else {
        return Err(missing("the request has no Authorization header"));
    };
    let header = match AuthorizationHeader::parse(value) {
        Ok(h) => h,
        Err(HeaderError::NotOAuth) => {
            return Err(missing(
                "the Authorization header does not use the OAuth scheme",
            ));
        }
        Err(e) => return Err(Unread::Malformed(e.to_string())),
    };
    let params =
        ProtocolParams::from_header(&header).map_err(|e| Unread::Malformed(e.to_string()))?;
    more(&header, &params)?;
    let timestamp = profile
        .check(&params, Some(unix_now()))
        .map_err(|r| Unread::Refused(r.detail(), r.to_string()))?;
    let parts = RequestParts {
        method: request.method,
        url: request.url.clone(),
        form_body: request.form_body,
        body: request.body,
    };
    let base_string = parts
        .base_string(&header)
        .map_err(|e| Unread::Malformed(e.to_string()))?;
    Ok(ReadOAuth {
        header,
        timestamp,
        base_string,
    })
}

/// A SOAP request's `<tokenPassport>`, borrowed from the parsed envelope.
#[derive(Debug, Clone, Copy)]
pub struct PassportRequest<'a> {
    pub passport: tessera_oauth1::TokenPassport<'a>,
    /// `signature`'s `algorithm` attribute, when sent.
    pub algorithm: Option<&'a str>,
    pub signature: &'a str,
}

/// The two ways a request presents its credentials.
enum Presented<'r, 'a> {
    OAuth(&'r SignedRequest<'a>),
    Passport(&'r PassportRequest<'a>),
}

/// What a request claims, however it was signed: who, the nonce, the signature and what it
/// signs, and the account it names.
struct Claimed<'a> {
    consumer_key: &'a str,
    token: Option<&'a str>,
    nonce: &'a str,
    timestamp: u64,
    signature: &'a str,
    message: &'a [u8],
    /// A sent `oauth_body_hash` and the body it must match.
    body_hash: Option<(&'a str, &'a [u8])>,
    account: Option<&'a str>,
    account_named_by: AccountNamedBy,
    /// What the signature debugger keeps of the request, if it is asked to.
    debug: DebugSource<'a>,
}

/// Where a capture of a refused signature comes from.
#[derive(Clone, Copy)]
enum DebugSource<'a> {
    OAuth {
        request: &'a SignedRequest<'a>,
        realm_sent: bool,
        body_hash_sent: bool,
    },
    Passport,
}

impl DebugSource<'_> {
    /// The capture of a refused signature over `base_string`, as JSON.
    fn capture(&self, base_string: &[u8]) -> String {
        let base = String::from_utf8_lossy(base_string);
        match self {
            DebugSource::OAuth {
                request,
                realm_sent,
                body_hash_sent,
            } => {
                let mut c = crate::debugger::Capture::new("oauth", &base);
                c.query_params = crate::debugger::Capture::names(
                    request.url.query().unwrap_or_default().as_bytes(),
                );
                if let Some(form) = request.form_body {
                    c.form_params = crate::debugger::Capture::names(form);
                    c.form_body_signed = true;
                }
                c.realm_sent = *realm_sent;
                c.body_hash_sent = *body_hash_sent;
                c.to_json()
            }
            DebugSource::Passport => crate::debugger::Capture::new("passport", &base).to_json(),
        }
    }
}

#[derive(Clone, Copy)]
enum AccountNamedBy {
    Realm,
    Passport,
}

/// What the audit trail records about where a request came from. Never a secret.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub surface: &'static str,
    /// The client address as the audit trail records it (a forwarded hop that is not an
    /// address, as it came).
    pub ip: String,
    /// The client address the trusted proxy chain establishes, when it is one: what IP
    /// allow-lists (R17) are checked against.
    pub client_ip: Option<std::net::IpAddr>,
    pub user_agent: String,
    pub method: String,
    pub request_uri: String,
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted(Arc<Identity>),
    /// A well-formed request that is not allowed (HTTP 401 on NetSuite's surfaces).
    Refused(Refusal),
    /// A request that cannot be understood (HTTP 400): a malformed Authorization header, an
    /// undecodable query or form body.
    Malformed {
        why: String,
    },
}

/// Why a request was refused: the Detail code and a note for the administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub detail: Detail,
    pub note: String,
}

impl Refusal {
    fn new(detail: Detail, note: impl Into<String>) -> Self {
        Self {
            detail,
            note: note.into(),
        }
    }
}

/// The verifier could not decide: the store failed. The request must not be accepted.
#[derive(Debug, Error)]
pub enum VerifierError {
    #[error("the store failed while verifying")]
    Store(#[from] StoreError),
    #[error("a stored secret could not be opened")]
    Service(#[from] crate::Error),
    #[error("the verifier is shut down")]
    Closed,
    /// The group of claims this request's claim was written with failed (the same error for
    /// every claim of the group).
    #[error("writing batch failed")]
    Write(#[source] Arc<StoreError>),
    #[error("reading grants failed")]
    Lookup(#[source] Arc<StoreError>),
    #[error("the store did not answer within {0:?}")]
    TimedOut(Duration),
}

/// Verifies signed requests. Cheap to clone; one writer task per verifier.
#[derive(Debug, Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tessera: Tessera,
    config: VerifierConfig,
    cache: cache::GrantCache,
    /// Shares consumer sides and owners between grants, so a million grants stay small.
    interner: std::sync::Mutex<cache::Interner>,
    loader: loader::LoaderHandle,
    writer: writer::WriterHandle,
    /// Checked when the credentials are unknown, so that path costs what a real check costs.
    dummy_key: SigningKey,
    /// Signature captures taken this minute, per token (the debugger keeps a bounded number).
    captures: std::sync::Mutex<CaptureBudget>,
}

/// Signature captures kept per token and minute: a client hammering a token under debugging
/// with big refused requests fills the trail with rows, not with captures of them.
pub const CAPTURES_PER_MINUTE: u32 = 30;

#[derive(Debug, Default)]
struct CaptureBudget {
    minute: u64,
    taken: std::collections::HashMap<TokenKey, u32>,
}

impl CaptureBudget {
    /// Whether one more capture of `token` may be kept this minute.
    fn take(&mut self, token: TokenKey) -> bool {
        let minute = unix_now() / 60;
        if minute != self.minute {
            self.minute = minute;
            self.taken.clear();
        }
        let taken = self.taken.entry(token).or_insert(0);
        *taken += 1;
        *taken <= CAPTURES_PER_MINUTE
    }
}

impl Verifier {
    /// Starts the verifier's writer and purge tasks on the current Tokio runtime.
    pub fn start(tessera: Tessera, config: VerifierConfig) -> Self {
        let writer = writer::WriterHandle::start(tessera.store().clone(), &config);
        let loader = loader::LoaderHandle::start(tessera.store().clone());
        let dummy = crate::credentials::generate_secret()
            .map(|s| SigningKey::new(s.expose(), s.expose()))
            .unwrap_or_else(|_| SigningKey::new("dummy", "dummy"));
        let inner = Arc::new(Inner {
            cache: cache::GrantCache::new(config.cache_capacity),
            interner: std::sync::Mutex::default(),
            tessera,
            config,
            loader,
            writer,
            dummy_key: dummy,
            captures: std::sync::Mutex::default(),
        });
        if inner.config.preload_grants {
            tokio::spawn(preload(Arc::downgrade(&inner)));
        }
        tokio::spawn(purge_authorization_flow(Arc::downgrade(&inner)));
        Self { inner }
    }

    pub fn config(&self) -> &VerifierConfig {
        &self.inner.config
    }

    /// Verifies one request and records the attempt in the login audit trail. A refusal is
    /// answered no sooner than `refusal_floor` after the request came in, whatever its reason:
    /// a cached grant with a wrong signature, an unknown consumer key or token read from the
    /// store and a revoked token then take the same time (RULES.md §3, §7).
    pub async fn verify(
        &self,
        request: &SignedRequest<'_>,
        context: &RequestContext,
    ) -> Result<Outcome, VerifierError> {
        self.verify_presented(&Presented::OAuth(request), context)
            .await
    }

    /// [`Verifier::verify`] for a SOAP request's TokenPassport.
    pub async fn verify_passport(
        &self,
        passport: &PassportRequest<'_>,
        context: &RequestContext,
    ) -> Result<Outcome, VerifierError> {
        self.verify_presented(&Presented::Passport(passport), context)
            .await
    }

    async fn verify_presented(
        &self,
        request: &Presented<'_, '_>,
        context: &RequestContext,
    ) -> Result<Outcome, VerifierError> {
        let started = tokio::time::Instant::now();
        let outcome = self.verify_now(request, context).await?;
        if matches!(outcome, Outcome::Refused(_)) {
            tokio::time::sleep_until(started + self.inner.config.refusal_floor).await;
        }
        Ok(outcome)
    }

    async fn verify_now(
        &self,
        request: &Presented<'_, '_>,
        context: &RequestContext,
    ) -> Result<Outcome, VerifierError> {
        let outcome = match self.decide(request, context).await? {
            Decision::Accepted(identity) => Outcome::Accepted(identity),
            Decision::Refused(refusal, subject) => {
                self.record_failure(context, &refusal, *subject).await;
                Outcome::Refused(refusal)
            }
            Decision::Malformed(why) => {
                let refusal = Refusal::new(Detail::MalformedRequest, why.clone());
                self.record_failure(context, &refusal, Subject::default())
                    .await;
                Outcome::Malformed { why }
            }
        };
        Ok(outcome)
    }

    /// Records a failure found before the verifier was asked (a request the HTTP layer could
    /// not read, a request over the concurrency limit).
    pub async fn record_refusal(
        &self,
        context: &RequestContext,
        refusal: &Refusal,
        identity: Option<&Identity>,
    ) {
        let subject = identity.map(Subject::of_identity).unwrap_or_default();
        self.record_failure(context, refusal, subject).await;
    }

    /// Records an attempt decided outside the verifier (issuetoken's password login), in the
    /// same trail and through the same writer.
    pub async fn record_attempt(&self, attempt: LoginAttempt) {
        self.inner.writer.record(attempt).await;
    }

    /// Waits until every audit row and claim handed over so far is written; `false` if some
    /// could not be (a group failed meanwhile: the database is down).
    pub async fn flush(&self) -> bool {
        let failed = self.inner.writer.stats().failed_batches;
        self.inner.writer.flush().await;
        self.inner.writer.stats().failed_batches == failed
    }

    /// Counters of the writer, for metrics.
    pub fn writer_stats(&self) -> WriterStats {
        self.inner.writer.stats()
    }

    /// Grants held in memory.
    pub fn cached_grants(&self) -> usize {
        self.inner.cache.len()
    }

    async fn decide(
        &self,
        request: &Presented<'_, '_>,
        context: &RequestContext,
    ) -> Result<Decision, VerifierError> {
        match request {
            Presented::OAuth(request) => self.decide_oauth(request, context).await,
            Presented::Passport(passport) => self.decide_passport(passport, context).await,
        }
    }

    /// An OAuth `Authorization` header: its rules, then the signature over the base string.
    async fn decide_oauth(
        &self,
        request: &SignedRequest<'_>,
        context: &RequestContext,
    ) -> Result<Decision, VerifierError> {
        let read = match read_oauth(request, &self.inner.config.profile, |_, _| Ok(())) {
            Ok(read) => read,
            Err(Unread::Refused(detail, note)) => return Ok(refused(detail, note)),
            Err(Unread::Malformed(why)) => return Ok(Decision::Malformed(why)),
        };
        let (header, timestamp, base_string) = (&read.header, read.timestamp, &read.base_string);
        let params = read.params();
        let claimed = Claimed {
            consumer_key: params.consumer_key,
            token: params.token,
            nonce: params.nonce,
            timestamp,
            signature: params.signature,
            message: base_string.as_bytes(),
            body_hash: params.body_hash.map(|hash| (hash, request.body)),
            account: header.realm(),
            account_named_by: AccountNamedBy::Realm,
            debug: DebugSource::OAuth {
                request,
                realm_sent: header.realm().is_some(),
                body_hash_sent: params.body_hash.is_some(),
            },
        };
        self.decide_claimed(claimed, context).await
    }

    /// A SOAP TokenPassport: its field rules, then the signature over
    /// `account&consumerKey&token&nonce&timestamp`.
    async fn decide_passport(
        &self,
        passport: &PassportRequest<'_>,
        context: &RequestContext,
    ) -> Result<Decision, VerifierError> {
        let fields = &passport.passport;
        // NetSuite's passport names its algorithm: a signature without one, or none at all, is
        // a missing field before it is anything else.
        let missing = match (passport.signature.is_empty(), passport.algorithm) {
            (true, _) => Some("signature is missing or empty"),
            (false, None | Some("")) => Some("signature has no algorithm attribute"),
            _ => None,
        };
        if let Some(why) = missing {
            return Ok(refused(Detail::MissingTokenPassportRequiredFields, why));
        }
        let window = self.inner.config.profile.timestamp_window_secs;
        let timestamp = match fields.check_fields(passport.algorithm, Some(unix_now()), window) {
            Ok(ts) => ts,
            Err(r) => return Ok(refused(r.detail(), r.to_string())),
        };
        let base_string = fields.base_string();
        let claimed = Claimed {
            consumer_key: fields.consumer_key,
            token: Some(fields.token),
            nonce: fields.nonce,
            timestamp,
            signature: passport.signature,
            message: base_string.as_bytes(),
            body_hash: None,
            account: Some(fields.account),
            account_named_by: AccountNamedBy::Passport,
            debug: DebugSource::Passport,
        };
        self.decide_claimed(claimed, context).await
    }

    /// What every way of signing shares: the grant, the signature, the account, the claim.
    async fn decide_claimed(
        &self,
        claimed: Claimed<'_>,
        context: &RequestContext,
    ) -> Result<Decision, VerifierError> {
        let params = &claimed;
        let timestamp = claimed.timestamp;
        let token_id = params.token.unwrap_or("");
        let lookup = self.lookup(params.consumer_key, token_id).await?;
        // The HMAC is computed on every path, with a dummy key when there is no real one.
        let signature_matches = match &lookup {
            Lookup::Granted(entry) => entry
                .signing_key()
                .verify(claimed.message, params.signature),
            Lookup::Refused(..) => self
                .inner
                .dummy_key
                .verify(claimed.message, params.signature),
        };
        let mut entry = match lookup {
            Lookup::Granted(entry) => entry,
            Lookup::Refused(refusal, subject) => {
                let note = match (refusal, params.token) {
                    (LoginRefusal::InvalidToken, None) => "the request has no oauth_token",
                    _ => "",
                };
                return Ok(Decision::Refused(
                    Refusal::new(refusal.detail(), note),
                    subject,
                ));
            }
        };
        if !signature_matches {
            let mut subject = Box::new(Subject::of_identity(&entry.identity));
            // The signature debugger, while its window is open for this token or its record.
            let open = entry
                .identity
                .signature_debug_until
                .is_some_and(|until| until > Timestamp::now());
            let budget = || {
                self.inner
                    .captures
                    .lock()
                    .is_ok_and(|mut b| b.take(entry.identity.token))
            };
            if open && budget() {
                subject.capture = Some(claimed.debug.capture(claimed.message));
            }
            return Ok(Decision::Refused(
                Refusal::new(
                    Rejection::InvalidSignature.detail(),
                    "the signature does not match the request",
                ),
                subject,
            ));
        }
        if let Some((provided, body)) = params.body_hash
            && let Err(e) = tessera_oauth1::body_hash::check_body_hash(provided, body)
        {
            let rejection = Rejection::BodyHash(e);
            return Ok(Decision::Refused(
                Refusal::new(rejection.detail(), rejection.to_string()),
                Box::new(Subject::of_identity(&entry.identity)),
            ));
        }
        let expected = entry.identity.account.as_str();
        if claimed.account != Some(expected) {
            let what = match claimed.account_named_by {
                AccountNamedBy::Realm => "realm",
                AccountNamedBy::Passport => "the passport's account",
            };
            let note = match claimed.account {
                Some(account) => {
                    format!("{what} {account:?} is not this token's account; expected {expected:?}")
                }
                None => format!("the realm is missing; expected {expected:?}"),
            };
            return Ok(Decision::Refused(
                Refusal::new(Detail::InvalidRealm, note),
                Box::new(Subject::of_identity(&entry.identity)),
            ));
        }
        // R17, after the signature: only a holder of the secrets learns the lists' verdict.
        if entry.identity.ip_refusal(context.client_ip).is_some() {
            // A cached grant may hold a list another node has loosened since: read it again
            // before refusing (a refusal costs a read; a loosened list works at once).
            self.inner.cache.remove(token_id);
            let again = self.lookup(params.consumer_key, token_id).await?;
            let fresh = match again {
                Lookup::Granted(fresh) => fresh,
                Lookup::Refused(refusal, subject) => {
                    return Ok(Decision::Refused(
                        Refusal::new(refusal.detail(), ""),
                        subject,
                    ));
                }
            };
            if let Some(note) = fresh.identity.ip_refusal(context.client_ip) {
                return Ok(Decision::Refused(
                    Refusal::new(Detail::IpNotAllowed, note),
                    Box::new(Subject::of_identity(&fresh.identity)),
                ));
            }
            // Allowed now; the secrets may have changed too (a reset): check the signature
            // with what was read.
            if !fresh
                .signing_key()
                .verify(claimed.message, params.signature)
            {
                return Ok(Decision::Refused(
                    Refusal::new(
                        Rejection::InvalidSignature.detail(),
                        "the signature does not match the request",
                    ),
                    Box::new(Subject::of_identity(&fresh.identity)),
                ));
            }
            entry = fresh;
        }
        let digest = nonce_digest(params.consumer_key, token_id, params.nonce, timestamp);
        let success =
            Subject::of_identity(&entry.identity).attempt(context, true, Detail::Success, "");
        let claim = NonceClaim {
            digest,
            consumer_key: entry.consumer.consumer_key.clone(),
            token_id: TokenId::parse(token_id).unwrap_or_else(|_| TokenId::never_issued()),
            timestamp: i64::try_from(timestamp).unwrap_or(i64::MAX),
            touch_last_used: entry.should_touch(success.at, self.inner.config.last_used_resolution),
            success,
            client_ip: context.client_ip,
            answer_by: Some(std::time::Instant::now() + self.inner.config.store_wait),
        };
        let wait = self.inner.config.store_wait;
        let durable = tokio::time::timeout(wait, self.inner.writer.claim(claim))
            .await
            .map_err(|_| VerifierError::TimedOut(wait))??;
        if durable {
            return Ok(Decision::Accepted(entry.identity.clone()));
        }
        // Refused by the store: either a replay, or the token may no longer log in.
        self.inner.cache.remove(token_id);
        let timestamp = i64::try_from(timestamp).unwrap_or(i64::MAX);
        if self
            .inner
            .tessera
            .store()
            .nonce_exists(&digest, timestamp)
            .await?
        {
            return Ok(Decision::Refused(
                Refusal::new(
                    Detail::NonceUsed,
                    "this consumer key, token, nonce and timestamp were accepted before",
                ),
                Box::new(Subject::of_identity(&entry.identity)),
            ));
        }
        Ok(match self.lookup(params.consumer_key, token_id).await? {
            Lookup::Refused(refusal, subject) => {
                Decision::Refused(Refusal::new(refusal.detail(), ""), subject)
            }
            // An allow-list changed (by another node) since this node read the grant.
            Lookup::Granted(now) if now.identity.ip_refusal(context.client_ip).is_some() => {
                let note = now
                    .identity
                    .ip_refusal(context.client_ip)
                    .unwrap_or_default();
                Decision::Refused(
                    Refusal::new(Detail::IpNotAllowed, note),
                    Box::new(Subject::of_identity(&now.identity)),
                )
            }
            // It changed back while this request was in flight; it was not allowed when claimed.
            Lookup::Granted(_) => Decision::Refused(
                Refusal::new(
                    LoginRefusal::EntityOrRoleDisabled.detail(),
                    "the token's state changed while the request was verified",
                ),
                Box::new(Subject::of_identity(&entry.identity)),
            ),
        })
    }

    /// The grant for a credential pair: from the cache when it is current, else from the store.
    async fn lookup(&self, consumer_key: &str, token_id: &str) -> Result<Lookup, VerifierError> {
        let epoch = self.inner.tessera.change_epoch();
        if let Some(entry) = self.inner.cache.get(token_id)
            && entry.consumer.consumer_key.as_str() == consumer_key
            && entry.is_current(epoch, self.inner.config.cache_ttl)
        {
            // R16: a grant read while the token was live stops at its expiry, cached or not.
            if entry
                .identity
                .expires_at
                .is_some_and(|at| at <= Timestamp::now())
            {
                return Ok(Lookup::Refused(
                    LoginRefusal::TokenExpired,
                    Box::new(Subject::of_identity(&entry.identity)),
                ));
            }
            return Ok(Lookup::Granted(entry));
        }
        let Ok(ck) = ConsumerKey::parse(consumer_key) else {
            return Ok(Lookup::Refused(
                LoginRefusal::ConsumerKeyUnknown,
                Box::default(),
            ));
        };
        // An id of the wrong shape cannot match a token; the store still says whether the
        // consumer key exists, so the Detail is the same as for a well-formed unknown id.
        let tid = TokenId::parse(token_id).unwrap_or_else(|_| TokenId::never_issued());
        let wait = self.inner.config.store_wait;
        let loaded = tokio::time::timeout(wait, self.inner.loader.load(ck.clone(), tid.clone()))
            .await
            .map_err(|_| VerifierError::TimedOut(wait))??;
        let Some(record) = loaded else {
            return Ok(Lookup::Refused(
                LoginRefusal::ConsumerKeyUnknown,
                Box::default(),
            ));
        };
        let token = match assess(&record, Timestamp::now()) {
            Ok(t) => t,
            Err(refusal) => {
                return Ok(Lookup::Refused(
                    refusal,
                    Box::new(Subject::of_record(&record)),
                ));
            }
        };
        let grant = self.inner.tessera.open_grant(&record, token)?;
        let entry = match self.inner.interner.lock() {
            Ok(mut interner) => cache::Grant::new(ck, grant, epoch, &mut interner),
            Err(_) => cache::Grant::new(ck, grant, epoch, &mut cache::Interner::default()),
        };
        let Some(entry) = entry else {
            return Ok(Lookup::Refused(
                LoginRefusal::InvalidToken,
                Box::new(Subject::of_record(&record)),
            ));
        };
        let entry = Arc::new(entry);
        self.inner.cache.insert(token_id, entry.clone());
        Ok(Lookup::Granted(entry))
    }

    async fn record_failure(&self, context: &RequestContext, refusal: &Refusal, subject: Subject) {
        let attempt = subject.attempt(context, false, refusal.detail, &refusal.note);
        self.inner.writer.record(attempt).await;
    }
}

/// Every purge interval: the authorization flow's expired request tokens and the nonce records
/// of its requests that can no longer matter (kept as long as the hot path's).
async fn purge_authorization_flow(inner: std::sync::Weak<Inner>) {
    let Some(every) = inner.upgrade().map(|i| i.config.purge_interval) else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let horizon = Duration::from_secs(inner.config.profile.timestamp_window_secs)
            + inner.config.purge_margin;
        let before = i64::try_from(unix_now().saturating_sub(horizon.as_secs())).unwrap_or(0);
        if let Err(e) = inner.tessera.purge_authorization_flow(before).await {
            tracing::warn!(error = %crate::Chain(&e), "purging the authorization flow's records failed");
        }
    }
}

/// Tokens read per page while warming the cache.
const PRELOAD_PAGE: u32 = 2_000;

/// Warms the grant cache with every active token, page by page, each page under the change
/// epoch read before it (a change committed meanwhile makes those grants read again on use).
/// Stops when the verifier is gone or the cache is full.
async fn preload(inner: std::sync::Weak<Inner>) {
    let started = std::time::Instant::now();
    let (mut after, mut loaded) = (0i64, 0usize);
    loop {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if inner.cache.len() >= inner.config.cache_capacity {
            break;
        }
        let epoch = inner.tessera.change_epoch();
        let page = match inner
            .tessera
            .store()
            .login_records_after(after, PRELOAD_PAGE)
            .await
        {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %crate::Chain(&e), "warming the grant cache stopped");
                return;
            }
        };
        let Some((last, _)) = page.last() else {
            break;
        };
        after = *last;
        for (_, record) in &page {
            let Ok(token) = assess(record, Timestamp::now()) else {
                continue;
            };
            let Ok(grant) = inner.tessera.open_grant(record, token) else {
                continue;
            };
            let entry = match inner.interner.lock() {
                Ok(mut interner) => {
                    cache::Grant::new(record.consumer_key.clone(), grant, epoch, &mut interner)
                }
                Err(_) => None,
            };
            let Some(entry) = entry else {
                continue;
            };
            if inner
                .cache
                .insert_if_absent(token.token_id.as_str(), Arc::new(entry))
            {
                loaded += 1;
            }
        }
    }
    tracing::info!(
        grants = loaded,
        millis = started.elapsed().as_millis() as u64,
        "grant cache warmed"
    );
}

enum Lookup {
    Granted(Arc<cache::Grant>),
    Refused(LoginRefusal, Box<Subject>),
}

fn refused(detail: Detail, note: impl Into<String>) -> Decision {
    Decision::Refused(Refusal::new(detail, note), Box::default())
}

enum Decision {
    Accepted(Arc<Identity>),
    Refused(Refusal, Box<Subject>),
    Malformed(String),
}

/// What is known about who a failed request claimed to be.
#[derive(Debug, Clone, Default)]
struct Subject {
    account: Option<AccountId>,
    user: Option<UserId>,
    user_name: Option<String>,
    email: Option<String>,
    role: Option<RoleId>,
    role_name: Option<String>,
    integration: Option<IntegrationId>,
    application_name: Option<String>,
    token: Option<TokenKey>,
    token_name: Option<String>,
    /// The signature debugger's capture, for a refused signature.
    capture: Option<String>,
}

impl Subject {
    fn of_record(record: &LoginRecord) -> Self {
        let mut s = Subject {
            integration: Some(record.integration),
            application_name: Some(record.application_name.clone()),
            ..Subject::default()
        };
        if let Some(t) = &record.token {
            s.account = Some(t.account.clone());
            s.user = Some(t.user);
            s.user_name = Some(t.user_name.clone());
            s.email = Some(t.email.clone());
            s.role = Some(t.role);
            s.role_name = Some(t.role_name.clone());
            s.token = Some(t.key);
            s.token_name = Some(t.name.clone());
        }
        s
    }

    fn of_identity(id: &Identity) -> Self {
        Subject {
            account: Some(id.account.clone()),
            user: Some(id.user),
            user_name: Some(id.user_name.clone()),
            email: Some(id.email.clone()),
            role: Some(id.role),
            role_name: Some(id.role_name.clone()),
            integration: Some(id.integration),
            application_name: Some(id.application_name.clone()),
            token: Some(id.token),
            token_name: Some(id.token_name.clone()),
            capture: None,
        }
    }

    fn attempt(
        self,
        context: &RequestContext,
        success: bool,
        detail: Detail,
        note: &str,
    ) -> LoginAttempt {
        LoginAttempt {
            account: self.account,
            user: self.user,
            user_name: self.user_name,
            email: self.email,
            role: self.role,
            role_name: self.role_name,
            integration: self.integration,
            application_name: self.application_name,
            token: self.token,
            token_name: self.token_name,
            signature_capture: self.capture,
            ..context.attempt(success, detail, note)
        }
    }
}

impl RequestContext {
    /// An audit row for this request, naming nobody yet: the caller fills in who it was, as far
    /// as it knows.
    pub fn attempt(&self, success: bool, detail: Detail, note: &str) -> LoginAttempt {
        LoginAttempt {
            id: None,
            at: Timestamp::now(),
            account: None,
            user: None,
            user_name: None,
            email: None,
            role: None,
            role_name: None,
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            method: self.method.clone(),
            request_uri: self.request_uri.clone(),
            surface: self.surface.to_owned(),
            success,
            detail,
            detail_note: note.to_owned(),
            integration: None,
            application_name: None,
            token: None,
            token_name: None,
            signature_capture: None,
            has_signature_capture: false,
        }
    }
}

/// The digest that identifies a nonce record. Fields are length-prefixed so that no two
/// different tuples share an input.
pub fn nonce_digest(
    consumer_key: &str,
    token_id: &str,
    nonce: &str,
    timestamp: u64,
) -> NonceDigest {
    let mut h = Sha256::new();
    for part in [consumer_key, token_id, nonce] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.update(timestamp.to_be_bytes());
    let full = h.finalize();
    let mut digest = [0u8; 16];
    digest.copy_from_slice(&full[..16]);
    digest
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debugger_keeps_at_most_30_captures_per_token_and_minute() {
        let mut budget = CaptureBudget::default();
        let (a, b) = (TokenKey::new(1), TokenKey::new(2));
        // The same minute throughout (a minute boundary crossed here would only reset it).
        let taken = (0..40).filter(|_| budget.take(a)).count();
        assert!(taken == 30 || budget.minute != unix_now() / 60, "{taken}");
        assert!(budget.take(b), "another token has its own budget");
    }
}
