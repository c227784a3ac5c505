//! NetSuite's three-step authorization flow (RULES.md §4.2): an application asks for a request
//! token (`requesttoken`, signed with its consumer credentials alone), sends the user to the
//! consent page, where the user signs in and allows it with one of its roles (or denies it),
//! and exchanges the authorized request token and the verifier the callback received for an
//! access token (`accesstoken`).
//!
//! Request tokens live [`REQUEST_TOKEN_LIFETIME`], are exchanged at most once, and their
//! secrets are sealed like every other secret. The flow's own requests follow the nonce,
//! timestamp and signature rules of RULES.md §3; their nonce records are claimed in the same
//! transaction as the change they ask for, so a replay changes nothing.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tessera_oauth1::header::{AuthorizationHeader, HeaderError, OAuthParam};
use tessera_oauth1::verify::{Profile, ProtocolParams, RequestParts};
use tessera_oauth1::{Detail, SecretString, SigningKey};

use super::tokens::MayCreate;
use super::{Actor, NewTokenInput, Notes, Tessera, principal};
use crate::credentials::{TokenCredentials, generate_hex, generate_secret};
use crate::error::{Error, Result};
use crate::ids::{AccountId, ConsumerKey, IntegrationId, RoleId, TokenId, UserId};
use crate::model::{Account, Context, InstallState, Integration, Role, Timestamp, TokenListItem};
use crate::store::{
    Consent, LoginAttempt, RequestTokenRow, RequestTokenState, StoreTx, StoredIntegration, TxMode,
};
use crate::vault::SecretSlot;
use crate::verifier::{RequestContext, SignedRequest, nonce_digest};

/// How long a request token may wait for consent and exchange (NetSuite does not publish its
/// own; ten minutes is ample for a person to sign in and decide, and short for a stolen one).
pub const REQUEST_TOKEN_LIFETIME: Duration = Duration::from_secs(600);

/// The parameters the consent's redirect adds to the callback (a callback may not carry them).
pub(crate) const CALLBACK_PARAMETERS: &[&str] = &[
    "oauth_token",
    "oauth_verifier",
    "company",
    "role",
    "entity",
    "state",
    "error",
];

/// Longest `state` the consent page carries to the callback.
pub const STATE_MAX: usize = 512;

/// The answer to a flow request: what it asked for, a refusal with its Detail code (the wire
/// answer stays generic), or a request that cannot be understood (HTTP 400).
#[derive(Debug)]
pub enum FlowOutcome<T> {
    Granted(T),
    Refused(FlowRefusal),
    Malformed(String),
}

/// Why a flow request was refused, and who it turned out to come from, for the audit trail.
#[derive(Debug, Clone, Default)]
pub struct FlowRefusal {
    pub detail: Detail,
    pub note: String,
    pub integration: Option<(IntegrationId, String)>,
    pub account: Option<AccountId>,
    pub user: Option<UserId>,
    pub role: Option<RoleId>,
}

impl FlowRefusal {
    fn new(detail: Detail, note: impl Into<String>) -> Self {
        Self {
            detail,
            note: note.into(),
            ..Self::default()
        }
    }

    /// Names the record; the row goes to the owner account's audit trail unless a more
    /// specific account (the consenting one, the one a realm named) is set afterwards.
    fn of(mut self, integration: &Integration) -> Self {
        self.integration = Some((integration.id, integration.name.clone()));
        self.account = Some(integration.owner.clone());
        self
    }

    fn in_account(mut self, account: &AccountId) -> Self {
        self.account = Some(account.clone());
        self
    }

    /// The audit row of this refusal.
    pub fn attempt(&self, context: &RequestContext) -> LoginAttempt {
        let mut row = context.attempt(false, self.detail, &self.note);
        if let Some((id, name)) = &self.integration {
            row.integration = Some(*id);
            row.application_name = Some(name.clone());
        }
        row.account = self.account.clone();
        row.user = self.user;
        row.role = self.role;
        row
    }
}

/// A request token issued by requesttoken; its secret is in this one answer only.
#[derive(Debug)]
pub struct IssuedRequestToken {
    pub token_id: TokenId,
    pub token_secret: SecretString,
    pub integration: (IntegrationId, String),
    /// Whose audit trail records it: the account the realm named, else the record's owner.
    pub account: AccountId,
}

impl IssuedRequestToken {
    /// The audit row of the request that got it.
    pub fn attempt(&self, context: &RequestContext) -> LoginAttempt {
        let mut row = context.attempt(true, Detail::Success, "request token issued");
        row.account = Some(self.account.clone());
        row.integration = Some(self.integration.0);
        row.application_name = Some(self.integration.1.clone());
        row
    }
}

/// An access token made by accesstoken; its credentials are in this one answer only.
#[derive(Debug)]
pub struct ExchangedToken {
    pub token: TokenListItem,
    pub credentials: TokenCredentials,
}

impl ExchangedToken {
    /// The audit row of the request that got it.
    pub fn attempt(&self, context: &RequestContext) -> LoginAttempt {
        let t = &self.token;
        let mut row = context.attempt(true, Detail::Success, "access token issued");
        row.account = Some(t.token.account.clone());
        row.user = Some(t.token.user);
        row.user_name = Some(t.user_name.clone());
        row.role = Some(t.token.role);
        row.role_name = Some(t.role_name.clone());
        row.integration = Some(t.token.integration);
        row.application_name = Some(t.application_name.clone());
        row.token = Some(t.token.key);
        row.token_name = Some(t.token.name.clone());
        row
    }
}

/// What the consent page shows: who asks, for which account, and the roles to choose from.
#[derive(Debug, Clone)]
pub struct ConsentRequest {
    pub token_id: TokenId,
    pub application_name: String,
    pub application_description: String,
    /// The account that owns the integration record.
    pub owner_name: String,
    pub owner: AccountId,
    /// The account the signed-in user acts in.
    pub account: Account,
    /// The user's active roles that may log in with tokens.
    pub roles: Vec<Role>,
    /// Where the callback is, for the user to see where they are sent.
    pub callback: String,
    /// The record's state in the account: as installed, or — not installed yet — the state
    /// Allow will install it in (R14).
    pub installation: InstallState,
}

/// The user's answer on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentDecision {
    Allow { role: RoleId },
    Deny,
}

/// `state` as the consent page takes it: at most [`STATE_MAX`] ASCII letters and digits.
pub fn check_flow_state(state: &str) -> Result<()> {
    if state.len() > STATE_MAX || !state.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            "state",
            format!("must be at most {STATE_MAX} letters and digits"),
        ));
    }
    Ok(())
}

/// Whether an `oauth_callback` names the record's Callback URL: the same string, except that a
/// registered `http://localhost` callback matches any port (a desktop application's loopback
/// listener gets whatever port is free).
pub fn callback_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    match (loopback_parts(registered), loopback_parts(presented)) {
        (Some((host_a, rest_a)), Some((host_b, rest_b))) => host_a == host_b && rest_a == rest_b,
        _ => false,
    }
}

/// `http://localhost[:port]<rest>` as (host, rest); `None` for anything else.
fn loopback_parts(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("http://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if host != "localhost" {
        return None;
    }
    if let Some(port) = port
        && !(port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0))
    {
        return None;
    }
    Some((host, path))
}

/// The callback URL with the flow's answer appended to its query (before any fragment).
fn redirect_to(callback: &str, params: &[(&str, &str)]) -> String {
    let (base, fragment) = match callback.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (callback, None),
    };
    let mut out = String::from(base);
    let mut sep = if base.contains('?') { '&' } else { '?' };
    for (name, value) in params {
        out.push(sep);
        out.push_str(name);
        out.push('=');
        out.push_str(&tessera_oauth1::encode::encode(value));
        sep = '&';
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

fn verifier_digest(verifier: &str) -> [u8; 32] {
    Sha256::digest(verifier.as_bytes()).into()
}

/// A flow request's header, read and checked against the rules that need no secret.
struct Signed<'a> {
    header: AuthorizationHeader<'a>,
    timestamp: u64,
    base_string: String,
}

impl<'a> Signed<'a> {
    fn params(&self) -> ProtocolParams<'_> {
        // Checked by `read`: the required parameters are there.
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

    /// Reads the Authorization header: `required` are the flow parameters this step needs
    /// besides the usual ones (`oauth_callback`; `oauth_token` and `oauth_verifier`), and
    /// `token` whether `oauth_token` may appear at all.
    fn read(
        request: &SignedRequest<'a>,
        profile: &Profile,
        required: &[OAuthParam],
        token_allowed: bool,
    ) -> std::result::Result<Self, FlowOutcome<std::convert::Infallible>> {
        let refuse = |detail, note: &str| FlowOutcome::Refused(FlowRefusal::new(detail, note));
        let Some(value) = request.authorization else {
            return Err(refuse(
                Detail::MissingRequiredParameter,
                "the request has no Authorization header",
            ));
        };
        let header = match AuthorizationHeader::parse(value) {
            Ok(h) => h,
            Err(HeaderError::NotOAuth) => {
                return Err(refuse(
                    Detail::MissingRequiredParameter,
                    "the Authorization header does not use the OAuth scheme",
                ));
            }
            Err(e) => return Err(FlowOutcome::Malformed(e.to_string())),
        };
        let params = match ProtocolParams::from_header(&header) {
            Ok(p) => p,
            Err(e) => return Err(FlowOutcome::Malformed(e.to_string())),
        };
        if !token_allowed && params.token.is_some() {
            return Err(FlowOutcome::Malformed(
                "the request-token step is signed with the consumer key alone: leave out oauth_token"
                    .to_owned(),
            ));
        }
        for &param in required {
            if header.get(param).is_none_or(str::is_empty) {
                return Err(refuse(
                    Detail::MissingRequiredParameter,
                    &format!("{} is required", param.name()),
                ));
            }
        }
        let timestamp = match profile.check(&params, Some(unix_now())) {
            Ok(ts) => ts,
            Err(r) => return Err(refuse(r.detail(), &r.to_string())),
        };
        let parts = RequestParts {
            method: request.method,
            url: request.url.clone(),
            form_body: request.form_body,
            body: request.body,
        };
        let base_string = match parts.base_string(&header) {
            Ok(b) => b,
            Err(e) => return Err(FlowOutcome::Malformed(e.to_string())),
        };
        Ok(Self {
            header,
            timestamp,
            base_string,
        })
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Turns an early stop of [`Signed::read`] into the outcome of any step.
fn stop<T>(early: FlowOutcome<std::convert::Infallible>) -> FlowOutcome<T> {
    match early {
        FlowOutcome::Refused(r) => FlowOutcome::Refused(r),
        FlowOutcome::Malformed(m) => FlowOutcome::Malformed(m),
        FlowOutcome::Granted(never) => match never {},
    }
}

impl Tessera {
    /// `POST /rest/requesttoken`: a request token for an integration record with the
    /// authorization flow on, bound to the callback the request names. The outer `Result` is a
    /// failure of the server; the outcome is the answer.
    pub async fn issue_request_token(
        &self,
        request: &SignedRequest<'_>,
        profile: &Profile,
    ) -> Result<FlowOutcome<IssuedRequestToken>> {
        let signed = match Signed::read(request, profile, &[OAuthParam::Callback], false) {
            Ok(s) => s,
            Err(early) => return Ok(stop(early)),
        };
        let params = signed.params();
        let stored = self.integration_for_flow(params.consumer_key).await?;
        let key = stored
            .as_ref()
            .and_then(|(_, secret)| secret.as_ref())
            .map(|cs| SigningKey::consumer_only(cs.expose()));
        // The HMAC is computed on every path, with a throwaway key when there is no real one.
        let matches = self.check_signature(key.as_ref(), &signed.base_string, params.signature)?;
        let Some((stored, Some(_))) = stored else {
            return Ok(FlowOutcome::Refused(FlowRefusal::new(
                Detail::UnknownIntegration,
                "no integration record has this consumer key",
            )));
        };
        let integration = stored.integration;
        let refuse = |detail, note: String| {
            Ok(FlowOutcome::Refused(
                FlowRefusal::new(detail, note).of(&integration),
            ))
        };
        if !matches {
            return refuse(
                Detail::InvalidSignature,
                "the signature does not match the request (key: consumer secret and an empty token secret)".to_owned(),
            );
        }
        let switches = &integration.switches;
        if !switches.token_based_auth || !switches.tba_authorization_flow {
            return refuse(
                Detail::AuthorizationFlowRequired,
                "the integration record does not have TBA: Authorization Flow on".to_owned(),
            );
        }
        // A realm, when sent, is an account id exactly as §3 wants it (canonical form).
        let realm = match signed.header.realm().filter(|r| !r.is_empty()) {
            None => None,
            Some(realm) => match AccountId::parse(realm) {
                Ok(account) if account.as_str() == realm => Some(account),
                _ => {
                    return refuse(
                        Detail::InvalidRealm,
                        format!(
                            "realm {:?} is not an account id as written (e.g. 1234567_SB1)",
                            clip(realm)
                        ),
                    );
                }
            },
        };
        // From here on, a refusal concerns the account the realm named, when it named one.
        let refuse = |detail, note: String| {
            let refusal = FlowRefusal::new(detail, note).of(&integration);
            Ok(FlowOutcome::Refused(match &realm {
                Some(account) => refusal.in_account(account),
                None => refusal,
            }))
        };
        if let Some(account) = &realm {
            let mut tx = self.tx(TxMode::Read).await?;
            let installation = tx.installation(integration.id, account).await?;
            drop(tx);
            if installation.is_some_and(|i| i.state == InstallState::Blocked) {
                return refuse(
                    Detail::IntegrationBlocked,
                    format!("the integration record is blocked in account {account}"),
                );
            }
        }
        let callback = signed.header.get(OAuthParam::Callback).unwrap_or("");
        let registered = switches.callback_url.as_deref().unwrap_or("");
        if !callback_matches(registered, callback) {
            return refuse(
                Detail::InvalidCallback,
                format!(
                    "oauth_callback {:?} is not the record's callback URL {registered:?}",
                    clip(callback)
                ),
            );
        }
        let token_id = TokenId::generate()?;
        let token_secret = generate_secret()?;
        let sealed = self
            .keyring
            .seal(&token_secret, SecretSlot::RequestTokenSecret(&token_id))?;
        let now = Timestamp::now();
        let row = RequestTokenRow {
            token_id: token_id.clone(),
            integration: integration.id,
            token_secret: sealed,
            callback: callback.to_owned(),
            realm: realm.clone(),
            created_at: now,
            expires_at: later(now, REQUEST_TOKEN_LIFETIME),
            state: RequestTokenState::Pending,
            consent: None,
        };
        let mut tx = self.tx(TxMode::Write).await?;
        if !self.claim_nonce(tx.as_mut(), &signed, &params).await? {
            return refuse(Detail::NonceUsed, NONCE_USED.to_owned());
        }
        tx.insert_request_token(&row).await?;
        self.commit(tx).await?;
        Ok(FlowOutcome::Granted(IssuedRequestToken {
            token_id,
            token_secret,
            account: row
                .realm
                .clone()
                .unwrap_or_else(|| integration.owner.clone()),
            integration: (integration.id, integration.name),
        }))
    }

    /// What the consent page shows for a pending request token, to the signed-in `actor`. Reads
    /// only: the record is installed by Allow (R14), never by looking at the page.
    pub async fn consent_request(&self, actor: &Actor, token_id: &str) -> Result<ConsentRequest> {
        let mut tx = self.tx(TxMode::Read).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let (row, stored) = pending(tx.as_mut(), token_id).await?;
        let account = tx
            .account(&p.account)
            .await?
            .ok_or(Error::not_found("account"))?;
        check_realm(&row, &p.account)?;
        if !account.tba_enabled {
            return Err(Error::not_permitted(
                "the Token-based Authentication feature is off in this account",
            ));
        }
        let owner = tx
            .account(&stored.integration.owner)
            .await?
            .map_or_else(String::new, |a| a.name);
        let mut roles = Vec::new();
        for role in &p.user.roles {
            if let Some(r) = tx.role(&p.account, *role).await?
                && !r.inactive
                && r.can_use_tokens()
            {
                roles.push(r);
            }
        }
        let installation = match tx.installation(stored.integration.id, &p.account).await? {
            Some(installed) => installed.state,
            None if account.require_approval_for_auto_install => InstallState::WaitingForApproval,
            None => InstallState::Enabled,
        };
        drop(tx);
        Ok(ConsentRequest {
            token_id: row.token_id,
            application_name: stored.integration.name,
            application_description: stored.integration.description,
            owner_name: owner,
            owner: stored.integration.owner,
            account,
            roles,
            callback: row.callback,
            installation,
        })
    }

    /// The user's answer on the consent page. Returns where to send the browser: the callback
    /// with `oauth_token`, `oauth_verifier`, `company`, `role`, `entity` and `state` when
    /// allowed; with `oauth_token`, `error=access_denied` and `state` when denied. Either way
    /// the request token cannot be decided again.
    pub async fn decide_consent(
        &self,
        actor: &Actor,
        token_id: &str,
        decision: ConsentDecision,
        state: &str,
    ) -> Result<String> {
        check_flow_state(state)?;
        if let ConsentDecision::Allow { role } = decision {
            // R14, before this decision's transaction (the install has its own, with its note).
            let (account, integration) = self.consent_target(actor, token_id, role).await?;
            self.auto_install(&account, integration, Context::Ui)
                .await?;
        }
        let mut tx = self.tx(TxMode::Write).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let (mut row, stored) = pending(tx.as_mut(), token_id).await?;
        check_realm(&row, &p.account)?;
        let now = Timestamp::now();
        let mut answer = vec![("oauth_token", row.token_id.as_str().to_owned())];
        match decision {
            ConsentDecision::Deny => {
                row.state = RequestTokenState::Denied;
                answer.push(("error", "access_denied".to_owned()));
            }
            ConsentDecision::Allow { role } => {
                let chosen = allowable(tx.as_mut(), &p, &stored.integration, role).await?;
                let verifier = generate_hex()?;
                row.state = RequestTokenState::Authorized;
                row.consent = Some(Consent {
                    account: p.account.clone(),
                    user: p.user.id,
                    role: chosen.id,
                    verifier_digest: verifier_digest(&verifier),
                });
                answer.push(("oauth_verifier", verifier));
                answer.push(("company", p.account.as_str().to_owned()));
                answer.push(("role", chosen.id.to_string()));
                answer.push(("entity", p.user.id.to_string()));
            }
        }
        if row.expires_at <= now {
            return Err(Error::invalid(
                "oauth_token",
                "the request has expired; start again from the application",
            ));
        }
        if !tx
            .advance_request_token(&row, RequestTokenState::Pending)
            .await?
        {
            return Err(Error::Conflict {
                why: "this request was answered already".to_owned(),
            });
        }
        let mut notes = Notes::by(&p, now);
        notes.push(
            crate::model::RecordRef::Installation(stored.integration.id, p.account.clone()),
            "authorization flow",
            None,
            Some(match decision {
                ConsentDecision::Allow { role } => format!("allowed with role {role}"),
                ConsentDecision::Deny => "denied".to_owned(),
            }),
        );
        notes.write(tx.as_mut()).await?;
        self.commit(tx).await?;
        answer.push(("state", state.to_owned()));
        let answer: Vec<(&str, &str)> = answer.iter().map(|(n, v)| (*n, v.as_str())).collect();
        Ok(redirect_to(&row.callback, &answer))
    }

    /// The account the actor answers for and the record a pending request token is for.
    async fn consent_target(
        &self,
        actor: &Actor,
        token_id: &str,
        role: RoleId,
    ) -> Result<(AccountId, IntegrationId)> {
        let mut tx = self.tx(TxMode::Read).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let (row, stored) = pending(tx.as_mut(), token_id).await?;
        check_realm(&row, &p.account)?;
        // Checked before anything is installed: an Allow that cannot succeed installs nothing.
        allowable(tx.as_mut(), &p, &stored.integration, role).await?;
        Ok((p.account, stored.integration.id))
    }

    /// `POST /rest/accesstoken`: the access token for an authorized request token, for the
    /// user that consented and the role it chose, created with its system note.
    pub async fn exchange_request_token(
        &self,
        request: &SignedRequest<'_>,
        profile: &Profile,
    ) -> Result<FlowOutcome<ExchangedToken>> {
        let required = [OAuthParam::Token, OAuthParam::Verifier];
        let signed = match Signed::read(request, profile, &required, true) {
            Ok(s) => s,
            Err(early) => return Ok(stop(early)),
        };
        let params = signed.params();
        let token_id = params.token.unwrap_or("");
        let verifier = signed.header.get(OAuthParam::Verifier).unwrap_or("");
        let stored = self.integration_for_flow(params.consumer_key).await?;
        let row = match TokenId::parse(token_id) {
            Ok(id) => {
                let mut tx = self.tx(TxMode::Read).await?;
                tx.request_token(&id).await?
            }
            Err(_) => None,
        };
        // The request token must be this record's.
        let row = row.filter(|r| {
            stored
                .as_ref()
                .is_some_and(|(s, _)| s.integration.id == r.integration)
        });
        let key = match (&stored, &row) {
            (Some((_, Some(cs))), Some(row)) => {
                let secret = self.keyring.open(
                    &row.token_secret,
                    SecretSlot::RequestTokenSecret(&row.token_id),
                )?;
                Some(SigningKey::new(cs.expose(), secret.expose()))
            }
            _ => None,
        };
        let matches = self.check_signature(key.as_ref(), &signed.base_string, params.signature)?;
        let Some((stored, Some(_))) = stored else {
            return Ok(FlowOutcome::Refused(FlowRefusal::new(
                Detail::UnknownIntegration,
                "no integration record has this consumer key",
            )));
        };
        let integration = stored.integration;
        let realm_of_row = row.as_ref().and_then(|r| r.realm.clone());
        let refuse = |detail, note: &str, consent: Option<&Consent>| {
            let mut r = FlowRefusal::new(detail, note).of(&integration);
            if let Some(realm) = &realm_of_row {
                r.account = Some(realm.clone());
            }
            if let Some(c) = consent {
                r.account = Some(c.account.clone());
                r.user = Some(c.user);
                r.role = Some(c.role);
            }
            Ok(FlowOutcome::Refused(r))
        };
        let Some(row) = row else {
            return refuse(
                Detail::InvalidToken,
                "no request token of this integration record has this oauth_token",
                None,
            );
        };
        if !matches {
            return refuse(
                Detail::InvalidSignature,
                "the signature does not match the request (key: consumer secret and the request token secret)",
                None,
            );
        }
        let consent = row.consent.as_ref();
        if row.expires_at <= Timestamp::now() {
            return refuse(
                Detail::RequestTokenExpired,
                "the request token expired; run the flow again",
                consent,
            );
        }
        let consent = match row.state {
            RequestTokenState::Denied => {
                return refuse(
                    Detail::RequestTokenDenied,
                    "the user denied this request",
                    consent,
                );
            }
            RequestTokenState::Exchanged => {
                return refuse(
                    Detail::RequestTokenUsed,
                    "this request token was exchanged already",
                    consent,
                );
            }
            RequestTokenState::Pending => {
                return refuse(
                    Detail::InvalidVerifier,
                    "no user has allowed this request yet",
                    None,
                );
            }
            RequestTokenState::Authorized => match consent {
                Some(c) => c.clone(),
                None => {
                    return Err(crate::store::StoreError::Corrupt(
                        "an authorized request token without its consent".to_owned(),
                    )
                    .into());
                }
            },
        };
        let expected = consent.verifier_digest;
        let given = verifier_digest(verifier);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &given[..])) {
            return refuse(
                Detail::InvalidVerifier,
                "oauth_verifier is not the one this request token's consent gave",
                Some(&consent),
            );
        }
        if let Some(realm) = signed.header.realm().filter(|r| !r.is_empty())
            && realm != consent.account.as_str()
        {
            return refuse(
                Detail::InvalidRealm,
                &format!(
                    "realm {:?} is not the consenting account; expected {:?}",
                    clip(realm),
                    consent.account.as_str()
                ),
                Some(&consent),
            );
        }
        if let Err((detail, why)) = still_allowed(&integration, &row) {
            return refuse(detail, why, Some(&consent));
        }
        let mut tx = self.tx(TxMode::Write).await?;
        if !self.claim_nonce(tx.as_mut(), &signed, &params).await? {
            return refuse(Detail::NonceUsed, NONCE_USED, Some(&consent));
        }
        let mut exchanged = row.clone();
        exchanged.state = RequestTokenState::Exchanged;
        if !tx
            .advance_request_token(&exchanged, RequestTokenState::Authorized)
            .await?
        {
            return refuse(
                Detail::RequestTokenUsed,
                "this request token was exchanged already",
                Some(&consent),
            );
        }
        let actor = Actor::user(
            &consent.account,
            consent.user,
            consent.role,
            Context::Endpoint,
        );
        let created = match principal(tx.as_mut(), &actor).await {
            Ok(p) => {
                let input = NewTokenInput {
                    integration: integration.id,
                    user: consent.user,
                    role: consent.role,
                    name: None,
                };
                self.create_token_in(tx.as_mut(), &p, input, None, MayCreate::ByConsent)
                    .await
            }
            Err(e) => Err(e),
        };
        let (token, credentials) = match created {
            Ok(created) => created,
            // The consent no longer holds: the user, the role, the record or the account
            // changed since. Nothing is written; the request token stays authorized.
            Err(Error::NotPermitted { why }) | Err(Error::Invalid { why, .. }) => {
                let installed = tx.installation(integration.id, &consent.account).await?;
                let detail = if installed.is_some_and(|i| i.state != InstallState::Enabled) {
                    Detail::IntegrationBlocked
                } else {
                    Detail::EntityOrRoleDisabled
                };
                return refuse(detail, &why, Some(&consent));
            }
            Err(Error::NotFound { what }) => {
                return refuse(
                    Detail::EntityOrRoleDisabled,
                    &format!("{what} not found"),
                    Some(&consent),
                );
            }
            Err(e) => return Err(e),
        };
        self.commit(tx).await?;
        Ok(FlowOutcome::Granted(ExchangedToken { token, credentials }))
    }

    /// The integration record of a consumer key with its consumer secret opened; `None` when
    /// no live record has it (the secret `None` when the record has none).
    async fn integration_for_flow(
        &self,
        consumer_key: &str,
    ) -> Result<Option<(StoredIntegration, Option<SecretString>)>> {
        let Ok(key) = ConsumerKey::parse(consumer_key) else {
            return Ok(None);
        };
        let mut tx = self.tx(TxMode::Read).await?;
        let Some(stored) = tx
            .integration_by_consumer_key(&key)
            .await?
            .filter(|s| s.integration.deleted_at.is_none())
        else {
            return Ok(None);
        };
        drop(tx);
        let secret = match &stored.consumer_secret {
            Some(sealed) => Some(self.keyring.open(
                sealed,
                SecretSlot::ConsumerSecret(&stored.integration.application_id),
            )?),
            None => None,
        };
        Ok(Some((stored, secret)))
    }

    /// Checks a signature with `key`, or with a throwaway key when there is none, so that an
    /// unknown key costs what a known one does.
    fn check_signature(
        &self,
        key: Option<&SigningKey>,
        base_string: &str,
        signature: &str,
    ) -> Result<bool> {
        match key {
            Some(key) => Ok(key.verify(base_string.as_bytes(), signature)),
            None => {
                let throwaway = generate_secret()?;
                let key = SigningKey::consumer_only(throwaway.expose());
                key.verify(base_string.as_bytes(), signature);
                Ok(false)
            }
        }
    }

    /// Claims the request's nonce record in `tx`; false for a replay.
    async fn claim_nonce(
        &self,
        tx: &mut dyn StoreTx,
        signed: &Signed<'_>,
        params: &ProtocolParams<'_>,
    ) -> Result<bool> {
        let digest = nonce_digest(
            params.consumer_key,
            params.token.unwrap_or(""),
            params.nonce,
            signed.timestamp,
        );
        let ts = i64::try_from(signed.timestamp).unwrap_or(i64::MAX);
        Ok(tx.claim_flow_nonce(&digest, ts).await?)
    }

    /// Deletes request tokens expired longer than the acceptance window and the flow's nonce
    /// records older than `nonces_before` (Unix seconds). Returns how many rows went.
    pub async fn purge_authorization_flow(&self, nonces_before: i64) -> Result<u64> {
        let expired_before = Timestamp::from_millis(
            Timestamp::now()
                .millis()
                .saturating_sub(i64::try_from(REQUEST_TOKEN_LIFETIME.as_millis()).unwrap_or(0)),
        );
        let mut tx = self.tx(TxMode::Write).await?;
        let purged = tx.purge_flow(expired_before, nonces_before).await?;
        self.commit(tx).await?;
        Ok(purged)
    }
}

const NONCE_USED: &str = "this consumer key, token, nonce and timestamp were accepted before";

/// The pending request token of `token_id` with its integration record; not found unless it
/// is pending, unexpired and its record is live.
async fn pending(
    tx: &mut dyn StoreTx,
    token_id: &str,
) -> Result<(RequestTokenRow, StoredIntegration)> {
    let gone = || Error::not_found("request token");
    let id = TokenId::parse(token_id).map_err(|_| gone())?;
    let row = tx.request_token(&id).await?.ok_or_else(gone)?;
    match row.state {
        RequestTokenState::Pending => {}
        _ => {
            return Err(Error::Conflict {
                why: "this request was answered already; start again from the application"
                    .to_owned(),
            });
        }
    }
    if row.expires_at <= Timestamp::now() {
        return Err(Error::invalid(
            "oauth_token",
            "the request has expired; start again from the application",
        ));
    }
    let stored = tx
        .integration(row.integration)
        .await?
        .filter(|s| s.integration.deleted_at.is_none())
        .ok_or_else(gone)?;
    if let Err((_, why)) = still_allowed(&stored.integration, &row) {
        return Err(Error::not_permitted(format!(
            "{why}; ask the application to start again"
        )));
    }
    Ok((row, stored))
}

/// Whether the record still lets this request token through: the flow may have been switched
/// off, or the callback changed, since requesttoken (a request token outlives neither).
fn still_allowed(
    integration: &Integration,
    row: &RequestTokenRow,
) -> std::result::Result<(), (Detail, &'static str)> {
    let s = &integration.switches;
    if !s.token_based_auth || !s.tba_authorization_flow {
        return Err((
            Detail::AuthorizationFlowRequired,
            "the integration record's authorization flow was switched off",
        ));
    }
    if !callback_matches(s.callback_url.as_deref().unwrap_or(""), &row.callback) {
        return Err((
            Detail::InvalidCallback,
            "the integration record's callback URL changed",
        ));
    }
    Ok(())
}

/// The role an Allow may choose, in the principal's account: TBA on there, one of the user's
/// active roles that may log in with tokens, the record not blocked there.
async fn allowable(
    tx: &mut dyn StoreTx,
    p: &super::Principal,
    integration: &Integration,
    role: RoleId,
) -> Result<Role> {
    let account = tx
        .account(&p.account)
        .await?
        .ok_or(Error::not_found("account"))?;
    if !account.tba_enabled {
        return Err(Error::not_permitted(
            "the Token-based Authentication feature is off in this account",
        ));
    }
    let chosen = tx.role(&p.account, role).await?;
    let Some(chosen) = chosen.filter(|r| p.user.holds(r.id) && !r.inactive && r.can_use_tokens())
    else {
        return Err(Error::invalid(
            "role",
            "choose one of your active roles that may log in with access tokens",
        ));
    };
    let installation = tx.installation(integration.id, &p.account).await?;
    if installation.is_some_and(|i| i.state == InstallState::Blocked) {
        return Err(Error::not_permitted(format!(
            "{} is blocked in this account",
            integration.name
        )));
    }
    Ok(chosen)
}

/// A request token whose request named an account (its realm) is for that account only.
fn check_realm(row: &RequestTokenRow, account: &AccountId) -> Result<()> {
    match &row.realm {
        Some(realm) if realm != account => Err(Error::not_permitted(format!(
            "this request is for account {realm}; sign in to that account to answer it"
        ))),
        _ => Ok(()),
    }
}

fn later(t: Timestamp, by: Duration) -> Timestamp {
    Timestamp::from_millis(
        t.millis()
            .saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX)),
    )
}

/// A presented value as a note may quote it.
fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_match_exactly_or_on_a_loopback_port() {
        assert!(callback_matches(
            "https://a.example/cb",
            "https://a.example/cb"
        ));
        assert!(!callback_matches(
            "https://a.example/cb",
            "https://a.example/cb2"
        ));
        assert!(!callback_matches(
            "https://a.example/cb",
            "https://a.example:444/cb"
        ));
        assert!(callback_matches(
            "http://localhost/cb",
            "http://localhost:51234/cb"
        ));
        assert!(callback_matches(
            "http://localhost:8080/cb",
            "http://localhost:9/cb"
        ));
        assert!(!callback_matches(
            "http://localhost:8080/cb",
            "http://localhost:9/other"
        ));
        assert!(!callback_matches(
            "http://localhost/cb",
            "http://localhost.evil.com/cb"
        ));
        assert!(!callback_matches(
            "http://localhost/cb",
            "http://localhost:x/cb"
        ));
        assert!(!callback_matches(
            "http://localhost/cb",
            "http://evil.com@localhost/cb"
        ));
        assert!(!callback_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:9/cb"
        ));
        assert!(!callback_matches("http://localhost/cb", ""));
        assert!(!callback_matches(
            "http://localhost/cb",
            "http://localhost:99999/cb"
        ));
        assert!(!callback_matches(
            "http://localhost/cb",
            "http://localhost:0/cb"
        ));
        assert!(!callback_matches(
            "http://localhost/cb",
            "http://localhost:+80/cb"
        ));
    }

    #[test]
    fn redirects_append_to_the_query_before_the_fragment() {
        assert_eq!(
            redirect_to(
                "https://a.example/cb",
                &[("oauth_token", "t"), ("state", "")]
            ),
            "https://a.example/cb?oauth_token=t&state="
        );
        assert_eq!(
            redirect_to("https://a.example/cb?x=1#top", &[("a", "b c")]),
            "https://a.example/cb?x=1&a=b%20c#top"
        );
    }

    #[test]
    fn state_is_short_and_alphanumeric() {
        assert!(check_flow_state("").is_ok());
        assert!(check_flow_state(&"a".repeat(512)).is_ok());
        assert!(check_flow_state(&"a".repeat(513)).is_err());
        assert!(check_flow_state("a-b").is_err());
        assert!(check_flow_state("a b").is_err());
    }
}
