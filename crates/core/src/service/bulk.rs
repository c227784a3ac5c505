//! Bulk changes of access tokens (R18, Tessera's choice): revoke, or make inactive, every token
//! a filter selects — previewed first, then carried out in one transaction, and only if the
//! filter still selects as many tokens as the preview counted.

use super::tokens::scope_filter;
use super::{Notes, Tessera, principal, yes_no};
use crate::Actor;
use crate::error::{Error, Result};
use crate::ids::TokenKey;
use crate::model::{RecordRef, Revocation, Timestamp, TokenListItem};
use crate::store::{RevokedFilter, TokenFilter, TokenQuery, TokenSort, TxMode};

/// The most tokens one bulk change may touch: its notes are written in its one transaction.
pub const BULK_MAX: usize = 10_000;
/// Tokens a preview shows.
pub const PREVIEW_SAMPLE: usize = 20;

/// What a bulk change does to each token it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    /// Revoke (R8): permanent.
    Revoke,
    /// Make inactive (R8): reversible, token by token.
    Inactivate,
}

impl BulkAction {
    pub fn code(self) -> &'static str {
        match self {
            BulkAction::Revoke => "revoke",
            BulkAction::Inactivate => "inactivate",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [BulkAction::Revoke, BulkAction::Inactivate]
            .into_iter()
            .find(|a| a.code() == code)
    }
}

/// How many tokens a bulk change would touch now, with the first few.
#[derive(Debug, Clone)]
pub struct BulkPreview {
    pub action: BulkAction,
    pub count: usize,
    /// The first [`PREVIEW_SAMPLE`] of them, oldest first.
    pub sample: Vec<TokenListItem>,
    /// All of them.
    pub selected: Vec<TokenKey>,
}

/// What a bulk change did.
#[derive(Debug, Clone)]
pub struct BulkOutcome {
    pub action: BulkAction,
    /// The tokens changed, in key order.
    pub changed: Vec<TokenKey>,
}

/// The tokens an action can change: not revoked; for Inactivate, not inactive either.
fn selectable(mut filter: TokenFilter, action: BulkAction) -> Result<TokenFilter> {
    if filter.revoked == RevokedFilter::Yes {
        return Err(Error::invalid(
            "revoked",
            "a bulk change acts on tokens that are not revoked; revoked=yes selects none",
        ));
    }
    filter.revoked = RevokedFilter::No;
    if action == BulkAction::Inactivate {
        if filter.inactive == Some(true) {
            return Err(Error::invalid(
                "inactive",
                "inactive=true selects only tokens that are inactive already",
            ));
        }
        filter.inactive = Some(false);
    }
    Ok(filter)
}

impl Tessera {
    /// The tokens `filter` selects for `action`, as the caller may see them (R12): more than
    /// [`BULK_MAX`] is refused, naming the count.
    async fn bulk_selection(
        &self,
        tx: &mut dyn crate::store::StoreTx,
        actor: &Actor,
        filter: TokenFilter,
        action: BulkAction,
    ) -> Result<(super::Principal, Vec<TokenListItem>)> {
        let p = principal(tx, actor).await?;
        let mut filter = selectable(filter, action)?;
        scope_filter(&p, &mut filter)?;
        let items = tx
            .list_tokens(&TokenQuery {
                account: p.account.clone(),
                filter,
                sort: TokenSort::OldestFirst,
                after: None,
                limit: u32::try_from(BULK_MAX + 1).unwrap_or(u32::MAX),
            })
            .await?;
        if items.len() > BULK_MAX {
            return Err(Error::invalid(
                "filter",
                format!(
                    "selects more than {BULK_MAX} tokens, more than one bulk change may touch; \
                     narrow it (by application, user, role, or time)"
                ),
            ));
        }
        Ok((p, items))
    }

    /// How many tokens a bulk change would touch now, with the first few. Changes nothing.
    pub async fn preview_bulk(
        &self,
        actor: &Actor,
        filter: TokenFilter,
        action: BulkAction,
    ) -> Result<BulkPreview> {
        let filter = super::tokens::checked_filter(filter)?;
        let mut tx = self.tx(TxMode::Read).await?;
        let (_, mut items) = self
            .bulk_selection(tx.as_mut(), actor, filter, action)
            .await?;
        let count = items.len();
        let selected = items.iter().map(|i| i.token.key).collect();
        items.truncate(PREVIEW_SAMPLE);
        Ok(BulkPreview {
            action,
            count,
            sample: items,
            selected,
        })
    }

    /// Revokes, or makes inactive, every token `filter` selects, in one transaction with one
    /// system note per token (R15) — only if it still selects `expected` tokens (the preview's
    /// count), else nothing is done and the answer says how many it selects now. Like a single
    /// revoke, the change stops the tokens before this returns.
    pub async fn apply_bulk(
        &self,
        actor: &Actor,
        filter: TokenFilter,
        action: BulkAction,
        expected: usize,
    ) -> Result<BulkOutcome> {
        let filter = super::tokens::checked_filter(filter)?;
        let mut tx = self.tx(TxMode::Write).await?;
        let (p, items) = self
            .bulk_selection(tx.as_mut(), actor, filter, action)
            .await?;
        if items.len() != expected {
            return Err(Error::Conflict {
                why: format!(
                    "the filter now selects {} tokens, not the {expected} confirmed; preview again",
                    items.len()
                ),
            });
        }
        if items.is_empty() {
            return Ok(BulkOutcome {
                action,
                changed: Vec::new(),
            });
        }
        let keys: Vec<TokenKey> = items.iter().map(|i| i.token.key).collect();
        let now = Timestamp::now();
        let revocation = Revocation {
            at: now,
            by: Some(p.user.id),
            by_name: p.user.name.clone(),
        };
        let changed = tx
            .change_tokens(
                &p.account,
                &keys,
                (action == BulkAction::Revoke).then_some(&revocation),
            )
            .await?;
        if changed.len() != keys.len() {
            // Another change took some of them after they were read: nothing is done.
            return Err(Error::Conflict {
                why: format!(
                    "{} of the {} tokens changed while this ran; preview again",
                    keys.len() - changed.len(),
                    keys.len()
                ),
            });
        }
        let mut notes = Notes::by(&p, now);
        for key in &changed {
            let record = RecordRef::Token(*key);
            match action {
                BulkAction::Revoke => notes.push(record, "revoked", yes_no(false), yes_no(true)),
                BulkAction::Inactivate => {
                    notes.push(record, "inactive", yes_no(false), yes_no(true))
                }
            }
        }
        notes.write(tx.as_mut()).await?;
        self.commit(tx).await?;
        Ok(BulkOutcome { action, changed })
    }
}
