//! Concurrency governance (RULES.md §5): requests of one account in progress at the same time, and
//! of one integration in that account when it has its own limit. Counted on this node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tessera_core::ids::{AccountId, IntegrationId};
use tessera_core::verifier::Identity;

#[derive(Debug, Default)]
struct Counts {
    accounts: HashMap<AccountId, u32>,
    installs: HashMap<(IntegrationId, AccountId), u32>,
}

/// Counts requests in progress per account and per installation.
#[derive(Debug, Clone)]
pub struct Governor {
    counts: Arc<Mutex<Counts>>,
    default_limit: u32,
}

/// A request's place in the counts; given back when dropped.
#[derive(Debug)]
pub struct Permit {
    counts: Arc<Mutex<Counts>>,
    account: AccountId,
    install: Option<(IntegrationId, AccountId)>,
}

impl Governor {
    pub fn new(default_limit: u32) -> Self {
        Self {
            counts: Arc::default(),
            default_limit,
        }
    }

    /// A permit, or `None` when the account or the integration is at its limit.
    pub fn try_acquire(&self, who: &Identity) -> Option<Permit> {
        let account_limit = who.account_concurrency_limit.unwrap_or(self.default_limit);
        let mut counts = self.counts.lock().ok()?;
        let in_account = counts.accounts.get(&who.account).copied().unwrap_or(0);
        if in_account >= account_limit {
            return None;
        }
        let install = who
            .install_concurrency_limit
            .map(|limit| ((who.integration, who.account.clone()), limit));
        if let Some((key, limit)) = &install
            && counts.installs.get(key).copied().unwrap_or(0) >= *limit
        {
            return None;
        }
        *counts.accounts.entry(who.account.clone()).or_default() += 1;
        if let Some((key, _)) = &install {
            *counts.installs.entry(key.clone()).or_default() += 1;
        }
        Some(Permit {
            counts: self.counts.clone(),
            account: who.account.clone(),
            install: install.map(|(key, _)| key),
        })
    }

    pub fn default_limit(&self) -> u32 {
        self.default_limit
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        release(&mut counts.accounts, &self.account);
        if let Some(key) = &self.install {
            release(&mut counts.installs, key);
        }
    }
}

fn release<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u32>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::ids::{RoleId, TokenKey, UserId};

    fn who(limit: Option<u32>, install: Option<u32>) -> Identity {
        Identity {
            token: TokenKey::new(1),
            token_name: String::new(),
            expires_at: None,
            signature_debug_until: None,
            owner: std::sync::Arc::new(tessera_core::verifier::TokenOwner {
                account: AccountId::parse("1234567").unwrap(),
                integration: IntegrationId::new(1),
                application_name: String::new(),
                user: UserId::new(1),
                user_name: String::new(),
                email: String::new(),
                role: RoleId::new(3),
                role_name: String::new(),
                account_concurrency_limit: limit,
                install_concurrency_limit: install,
                account_ip_allow: tessera_core::allow::IpAllowList::any(),
                install_ip_allow: tessera_core::allow::IpAllowList::any(),
            }),
        }
    }

    #[test]
    fn the_account_limit_counts_requests_in_progress() {
        let g = Governor::new(15);
        let w = who(Some(2), None);
        let a = g.try_acquire(&w).unwrap();
        let _b = g.try_acquire(&w).unwrap();
        assert!(g.try_acquire(&w).is_none());
        drop(a);
        assert!(g.try_acquire(&w).is_some());
    }

    #[test]
    fn an_integration_limit_applies_within_the_account() {
        let g = Governor::new(5);
        let w = who(None, Some(1));
        let held = g.try_acquire(&w).unwrap();
        assert!(g.try_acquire(&w).is_none());
        drop(held);
        let _again = g.try_acquire(&w).unwrap();
    }
}
