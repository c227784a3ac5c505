//! Access tokens: R1, R6–R8, R12.

use super::{Actor, Notes, Principal, Tessera, principal, yes_no};
use crate::credentials::{TokenCredentials, generate_secret};
use crate::error::{Error, Result};
use crate::ids::{IntegrationId, RoleId, TokenId, TokenKey, UserId};
use crate::model::{
    Account, InstallState, Permission, RecordRef, Revocation, Role, Timestamp, TokenListItem, User,
};
use crate::store::{
    ExpiryFilter, NewToken, StoreTx, TokenCursor, TokenFilter, TokenQuery, TokenSort, TxMode,
    token_name_sort_key,
};
use crate::vault::SecretSlot;

/// NetSuite's limit on token names.
pub const TOKEN_NAME_MAX: usize = 200;

/// A token name as given (trimmed), or why it cannot be one: for callers that must refuse a
/// bad name before anything else is looked at (issuetoken, before the password).
pub fn check_token_name(name: &str) -> Result<String> {
    super::clean_name("token name", name, TOKEN_NAME_MAX)
}
pub const PAGE_MAX: u32 = 1000;
const SEARCH_MAX: usize = 200;
/// Shortest search term: the trigram indexes need three characters.
pub const SEARCH_MIN: usize = 3;

#[derive(Debug, Clone)]
pub struct NewTokenInput {
    pub integration: IntegrationId,
    pub user: UserId,
    pub role: RoleId,
    /// Defaults to "application - user - role" (RULES.md §1).
    pub name: Option<String>,
    /// R16: when the token stops working. `None`: the account's maximum lifetime from now, or
    /// never when the account sets none.
    pub expires_at: Option<Timestamp>,
}

/// The longest maximum lifetime an account may set, and the furthest expiry a token may have:
/// 100 years.
pub const LIFETIME_MAX_DAYS: u32 = 36_500;

/// The token list's filters on time as people give them, in days from now (R16).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeFilters {
    /// Expired (`true`) or not (`false`: no expiry, or one still ahead).
    pub expired: Option<bool>,
    /// Not expired, and expiring within this many days.
    pub expiring_within_days: Option<u32>,
    /// Last used (never used: created) at least this many days ago.
    pub unused_for_days: Option<u32>,
}

impl TimeFilters {
    /// Sets `filter`'s time conditions as of `now`.
    pub fn apply(self, filter: &mut TokenFilter, now: Timestamp) -> Result<()> {
        let days = |field: &'static str, d: u32| {
            if d == 0 || d > LIFETIME_MAX_DAYS {
                return Err(Error::invalid(
                    field,
                    format!("must be between 1 and {LIFETIME_MAX_DAYS} days"),
                ));
            }
            Ok(now.plus_days(i64::from(d)))
        };
        filter.expiry = match (self.expired, self.expiring_within_days) {
            (None, None) => ExpiryFilter::Any,
            (Some(true), None) => ExpiryFilter::ExpiredAt(now),
            (Some(false), None) => ExpiryFilter::LiveAt(now),
            (None | Some(false), Some(d)) => {
                ExpiryFilter::ExpiringBetween(now, days("expiring_within_days", d)?)
            }
            (Some(true), Some(_)) => {
                return Err(Error::invalid(
                    "expiring_within_days",
                    "cannot be combined with expired=true (an expired token expires within no days)",
                ));
            }
        };
        if let Some(d) = self.unused_for_days {
            days("unused_for_days", d)?;
            filter.unused_since = Some(now.plus_days(-i64::from(d)));
        }
        Ok(())
    }
}

/// R16: the expiry a new token gets at `now` in `account`. An expiry asked for must be in the
/// future and, when the account sets a maximum lifetime, within it; none asked for is that
/// maximum (or never, when the account sets none).
pub fn new_token_expiry(
    account: &Account,
    asked: Option<Timestamp>,
    now: Timestamp,
) -> Result<Option<Timestamp>> {
    let days = |d: u32| now.plus_days(i64::from(d));
    let latest = account.token_max_lifetime_days.map(days);
    let Some(at) = asked else {
        return Ok(latest);
    };
    if at <= now {
        return Err(Error::invalid(
            "expires_at",
            format!("must be in the future (it is {at}, now is {now})"),
        ));
    }
    match latest {
        Some(latest) if at > latest => Err(Error::invalid(
            "expires_at",
            format!(
                "is after this account's maximum token lifetime of {} ({latest})",
                days_text(account.token_max_lifetime_days.unwrap_or_default()),
            ),
        )),
        _ if at > days(LIFETIME_MAX_DAYS) => Err(Error::invalid(
            "expires_at",
            format!("must be within {LIFETIME_MAX_DAYS} days"),
        )),
        _ => Ok(Some(at)),
    }
}

#[derive(Debug, Clone)]
pub struct TokenPage {
    pub items: Vec<TokenListItem>,
    /// Pass back as `after` for the next page; `None` on the last page.
    pub next: Option<TokenCursor>,
}

impl TokenCursor {
    /// An opaque, URL-safe form for APIs and links.
    pub fn encode(&self) -> String {
        match &self.name_key {
            None => self.key.to_string(),
            Some(name) => format!("{}~{}", self.key, tessera_oauth1::encode::encode(name)),
        }
    }

    pub fn decode(s: &str) -> Result<Self> {
        let invalid = || Error::invalid("cursor", "is not a cursor this server issued");
        let (key, name) = match s.split_once('~') {
            None => (s, None),
            Some((k, n)) => {
                let name = tessera_oauth1::encode::decode(n).map_err(|_| invalid())?;
                (k, Some(name.into_owned()))
            }
        };
        Ok(TokenCursor {
            key: TokenKey::parse(key).map_err(|_| invalid())?,
            name_key: name,
        })
    }
}

pub fn default_token_name(application: &str, user: &str, role: &str) -> String {
    let full = format!("{application} - {user} - {role}");
    full.chars().take(TOKEN_NAME_MAX).collect()
}

/// R12: who may create a token for whom.
/// Whether R12's who-may-create-for-whom applies to a new token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MayCreate {
    ByR12,
    /// The user consented to the token for itself in the authorization flow.
    ByConsent,
}

fn may_create_token(p: &Principal, user: &User, role: &Role) -> Result<()> {
    let own = user.id == p.user.id;
    if role.is_administrator() {
        return if own && p.is_administrator() {
            Ok(())
        } else {
            Err(Error::not_permitted(
                "a token for the Administrator role can only be created by that administrator, for itself, while acting as Administrator",
            ))
        };
    }
    if own {
        if p.is_administrator() {
            return Ok(());
        }
        if p.has(Permission::UserAccessTokens) {
            return if role.id == p.role.id {
                Ok(())
            } else {
                Err(Error::not_permitted(
                    "with User Access Tokens you can create tokens only for yourself with your current role",
                ))
            };
        }
        if p.has(Permission::AccessTokenManagement) {
            return Err(Error::not_permitted(
                "Access Token Management creates tokens for other users, not for yourself; your own tokens need User Access Tokens",
            ));
        }
        return Err(Error::not_permitted(
            "creating your own tokens needs the User Access Tokens permission",
        ));
    }
    if p.has(Permission::AccessTokenManagement) {
        Ok(())
    } else {
        Err(Error::not_permitted(
            "creating tokens for other users needs the Access Token Management permission",
        ))
    }
}

/// A token the principal may see: every token of its account for token managers, its own
/// otherwise. Tokens of other accounts do not exist for it.
pub(crate) async fn visible_token(
    tx: &mut dyn StoreTx,
    p: &Principal,
    key: TokenKey,
) -> Result<TokenListItem> {
    let item = tx
        .token(&p.account, key)
        .await?
        .ok_or(Error::not_found("access token"))?;
    if item.token.user != p.user.id && !p.has(Permission::AccessTokenManagement) {
        return Err(Error::not_found("access token"));
    }
    Ok(item)
}

/// R12 for changes: token managers change others' tokens; every user changes its own.
/// Revoked tokens are read-only (R8).
async fn changeable_token(
    tx: &mut dyn StoreTx,
    p: &Principal,
    key: TokenKey,
) -> Result<TokenListItem> {
    let item = visible_token(tx, p, key).await?;
    if item.token.is_revoked() {
        return Err(Error::TokenRevoked);
    }
    Ok(item)
}

/// The token list's filter with its search term checked and trimmed (an empty one is none).
pub(crate) fn checked_filter(mut filter: TokenFilter) -> Result<TokenFilter> {
    if let Some(search) = filter.search.take() {
        let s = search.trim();
        if s.chars().count() > SEARCH_MAX {
            return Err(Error::invalid(
                "search",
                format!("must be at most {SEARCH_MAX} characters"),
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(Error::invalid(
                "search",
                "must not contain control characters",
            ));
        }
        // Substring search runs on trigram indexes; shorter terms would scan every token.
        if !s.is_empty() && s.chars().count() < SEARCH_MIN {
            return Err(Error::invalid(
                "search",
                format!("needs at least {SEARCH_MIN} characters"),
            ));
        }
        filter.search = (!s.is_empty()).then(|| s.to_owned());
    }
    Ok(filter)
}

/// R12 for lists and bulk changes: without Access Token Management a user selects its own
/// tokens only ("My Access Tokens"); asking for another user's is refused.
pub(crate) fn scope_filter(p: &Principal, filter: &mut TokenFilter) -> Result<()> {
    if !p.has(Permission::AccessTokenManagement) {
        match filter.user {
            Some(u) if u != p.user.id => {
                return Err(Error::not_permitted(
                    "other users' tokens need the Access Token Management permission",
                ));
            }
            _ => filter.user = Some(p.user.id),
        }
    }
    Ok(())
}

impl Tessera {
    /// New Access Token (R1, R7, R12). The token id and secret are returned once (R6).
    pub async fn create_token(
        &self,
        actor: &Actor,
        input: NewTokenInput,
    ) -> Result<(TokenListItem, TokenCredentials)> {
        self.create_token_with(actor, input, None).await
    }

    /// [`Self::create_token`] with a token id and secret chosen by the caller: for fixtures, so
    /// a test suite can sign with known credentials. Every rule of R12 still applies.
    pub async fn create_token_with(
        &self,
        actor: &Actor,
        input: NewTokenInput,
        given: Option<TokenCredentials>,
    ) -> Result<(TokenListItem, TokenCredentials)> {
        if let Some(c) = &given {
            super::integrations::check_given_secret("token_secret", &c.token_secret)?;
        }
        let mut tx = self.tx(TxMode::Write).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let created = self
            .create_token_in(tx.as_mut(), &p, input, given, MayCreate::ByR12)
            .await?;
        self.commit(tx).await?;
        Ok(created)
    }

    /// Creates a token inside `tx` as `p`, checking every rule but, with
    /// [`MayCreate::ByConsent`], R12's who-may-create-for-whom: the authorization flow creates
    /// a token for the user that consented to it, with the role it chose.
    pub(crate) async fn create_token_in(
        &self,
        tx: &mut dyn StoreTx,
        p: &Principal,
        input: NewTokenInput,
        given: Option<TokenCredentials>,
        may: MayCreate,
    ) -> Result<(TokenListItem, TokenCredentials)> {
        let account = tx
            .account(&p.account)
            .await?
            .ok_or(Error::not_found("account"))?;
        if !account.tba_enabled {
            return Err(Error::not_permitted(
                "the Token-based Authentication feature is off in this account",
            ));
        }
        let user = tx
            .user(&p.account, input.user)
            .await?
            .ok_or(Error::not_found("user"))?;
        let role = tx
            .role(&p.account, input.role)
            .await?
            .ok_or(Error::not_found("role"))?;
        if may == MayCreate::ByR12 {
            may_create_token(p, &user, &role)?;
        }
        if !user.active {
            return Err(Error::invalid("user", format!("{} is inactive", user.name)));
        }
        if !user.holds(role.id) {
            return Err(Error::invalid(
                "role",
                format!("{} does not hold the role {}", user.name, role.name),
            ));
        }
        if role.inactive {
            return Err(Error::invalid(
                "role",
                format!("the role {} is inactive", role.name),
            ));
        }
        if !role.can_use_tokens() {
            return Err(Error::invalid(
                "role",
                format!(
                    "the role {} has neither Log in using Access Tokens nor User Access Tokens",
                    role.name
                ),
            ));
        }
        let stored = tx
            .integration(input.integration)
            .await?
            .filter(|s| s.integration.deleted_at.is_none())
            .ok_or(Error::not_found("integration record"))?;
        let installation = tx
            .installation(input.integration, &p.account)
            .await?
            .ok_or(Error::not_found("integration record"))?;
        let integration = stored.integration;
        if installation.state != InstallState::Enabled {
            return Err(Error::invalid(
                "integration",
                format!(
                    "{} is {} in this account",
                    integration.name,
                    installation.state.label()
                ),
            ));
        }
        if !integration.switches.token_based_auth {
            return Err(Error::invalid(
                "integration",
                format!(
                    "{} does not have Token-based Authentication on",
                    integration.name
                ),
            ));
        }
        let name = match input.name.as_deref() {
            Some(n) => super::clean_name("token name", n, TOKEN_NAME_MAX)?,
            None => default_token_name(&integration.name, &user.name, &role.name),
        };
        let (token_id, token_secret) = match given {
            Some(c) => (c.token_id, c.token_secret),
            None => (TokenId::generate()?, generate_secret()?),
        };
        let sealed = self
            .keyring
            .seal(&token_secret, SecretSlot::TokenSecret(&token_id))?;
        let now = Timestamp::now();
        let expires_at = new_token_expiry(&account, input.expires_at, now)?;
        let key = tx
            .insert_token(&NewToken {
                account: p.account.clone(),
                integration: integration.id,
                user: user.id,
                role: role.id,
                name: name.clone(),
                token_id: token_id.clone(),
                token_secret: sealed,
                created_at: now,
                created_by: Some(p.user.id),
                created_by_name: p.user.name.clone(),
                expires_at,
            })
            .await?;
        let mut notes = Notes::by(p, now);
        notes.push(RecordRef::Token(key), "created", None, Some(name));
        if let Some(at) = expires_at {
            notes.push(
                RecordRef::Token(key),
                "expires_at",
                None,
                Some(at.to_rfc3339()),
            );
        }
        notes.write(tx).await?;
        let item = tx
            .token(&p.account, key)
            .await?
            .ok_or(Error::not_found("access token"))?;
        Ok((
            item,
            TokenCredentials {
                token_id,
                token_secret,
            },
        ))
    }

    /// View (R1).
    pub async fn token(&self, actor: &Actor, key: TokenKey) -> Result<TokenListItem> {
        let mut tx = self.tx(TxMode::Read).await?;
        let p = principal(tx.as_mut(), actor).await?;
        visible_token(tx.as_mut(), &p, key).await
    }

    /// The Access Tokens list (R1): filters, search, stable sort, keyset pages. Users without
    /// Access Token Management see their own tokens only ("My Access Tokens").
    pub async fn list_tokens(
        &self,
        actor: &Actor,
        filter: TokenFilter,
        sort: TokenSort,
        after: Option<TokenCursor>,
        limit: u32,
    ) -> Result<TokenPage> {
        if limit == 0 || limit > PAGE_MAX {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {PAGE_MAX}"),
            ));
        }
        let mut filter = checked_filter(filter)?;
        if let Some(c) = &after
            && (c.name_key.is_some() != (sort == TokenSort::Name))
        {
            return Err(Error::invalid(
                "cursor",
                "belongs to a different sort order",
            ));
        }
        let mut tx = self.tx(TxMode::Read).await?;
        let p = principal(tx.as_mut(), actor).await?;
        scope_filter(&p, &mut filter)?;
        let mut items = tx
            .list_tokens(&TokenQuery {
                account: p.account.clone(),
                filter,
                sort,
                after,
                limit: limit + 1,
            })
            .await?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|last| TokenCursor {
                key: last.token.key,
                name_key: (sort == TokenSort::Name).then(|| token_name_sort_key(&last.token.name)),
            })
        } else {
            None
        };
        Ok(TokenPage { items, next })
    }

    /// Edit: the token name.
    pub async fn rename_token(
        &self,
        actor: &Actor,
        key: TokenKey,
        name: &str,
    ) -> Result<TokenListItem> {
        let name = super::clean_name("token name", name, TOKEN_NAME_MAX)?;
        let mut tx = self.tx(TxMode::Write).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let mut item = changeable_token(tx.as_mut(), &p, key).await?;
        if item.token.name != name {
            let mut notes = Notes::by(&p, Timestamp::now());
            notes.change(
                RecordRef::Token(key),
                "name",
                Some(item.token.name.clone()),
                Some(name.clone()),
            );
            if !tx.rename_token(key, &name).await? {
                return Err(Error::TokenRevoked);
            }
            notes.write(tx.as_mut()).await?;
            item.token.name = name;
            self.commit(tx).await?;
        }
        Ok(item)
    }

    /// Edit: the reversible Inactive switch (R8).
    pub async fn set_token_inactive(
        &self,
        actor: &Actor,
        key: TokenKey,
        inactive: bool,
    ) -> Result<TokenListItem> {
        let mut tx = self.tx(TxMode::Write).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let mut item = changeable_token(tx.as_mut(), &p, key).await?;
        if item.token.inactive != inactive {
            let mut notes = Notes::by(&p, Timestamp::now());
            notes.change(
                RecordRef::Token(key),
                "inactive",
                yes_no(item.token.inactive),
                yes_no(inactive),
            );
            if !tx.set_token_inactive(key, inactive).await? {
                return Err(Error::TokenRevoked);
            }
            notes.write(tx.as_mut()).await?;
            item.token.inactive = inactive;
            self.commit(tx).await?;
        }
        Ok(item)
    }

    /// Revoke (R8): permanent. The token stays for audit, read-only.
    pub async fn revoke_token(&self, actor: &Actor, key: TokenKey) -> Result<TokenListItem> {
        let mut tx = self.tx(TxMode::Write).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let mut item = changeable_token(tx.as_mut(), &p, key).await?;
        let now = Timestamp::now();
        let revocation = Revocation {
            at: now,
            by: Some(p.user.id),
            by_name: p.user.name.clone(),
        };
        if !tx.revoke_token(key, &revocation).await? {
            return Err(Error::TokenRevoked);
        }
        let mut notes = Notes::by(&p, now);
        notes.push(
            RecordRef::Token(key),
            "revoked",
            yes_no(false),
            yes_no(true),
        );
        notes.write(tx.as_mut()).await?;
        self.commit(tx).await?;
        item.token.revoked = Some(revocation);
        Ok(item)
    }
}

/// "1 day", "30 days".
pub(crate) fn days_text(days: u32) -> String {
    if days == 1 {
        "1 day".to_owned()
    } else {
        format!("{days} days")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for c in [
            TokenCursor {
                key: TokenKey::new(42),
                name_key: None,
            },
            TokenCursor {
                key: TokenKey::new(7),
                name_key: Some("a~b ü%".to_owned()),
            },
        ] {
            assert_eq!(TokenCursor::decode(&c.encode()).unwrap(), c);
        }
        for bad in ["", "x", "0", "5~%zz", "-1"] {
            assert!(TokenCursor::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn default_names_are_capped() {
        let long = "x".repeat(150);
        let name = default_token_name(&long, &long, "Role");
        assert_eq!(name.chars().count(), TOKEN_NAME_MAX);
        assert_eq!(
            default_token_name("App", "Jane", "Sales"),
            "App - Jane - Sales"
        );
    }
}
