//! Failed password logins (issuetoken's NLAuth) per user and per source address: at most
//! `limit` failures in a sliding hour; at the limit, passwords are not evaluated for that key
//! until its oldest failure is an hour old. Never a permanent lock-out. Counts are per node.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per user and per source address within an hour, by default.
pub const FAILURES_PER_HOUR: usize = 100;
/// Keys looked at before a sweep drops the ones with no failure left in the window.
const SWEEP_EVERY: u32 = 1024;

#[derive(Debug)]
pub struct LoginThrottle {
    limit: usize,
    window: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures: HashMap<String, VecDeque<Instant>>,
    since_sweep: u32,
}

impl LoginThrottle {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit,
            window,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether a password may be evaluated for every one of `keys` now.
    pub fn allows(&self, keys: &[String]) -> bool {
        let now = Instant::now();
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        keys.iter().all(|key| {
            state.failures.get_mut(key).is_none_or(|times| {
                expire(times, now, self.window);
                times.len() < self.limit
            })
        })
    }

    /// Counts a failed evaluation against every one of `keys`.
    pub fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        for key in keys {
            let times = state.failures.entry(key.clone()).or_default();
            expire(times, now, self.window);
            times.push_back(now);
        }
        state.since_sweep += 1;
        if state.since_sweep >= SWEEP_EVERY {
            state.since_sweep = 0;
            let window = self.window;
            state.failures.retain(|_, times| {
                expire(times, now, window);
                !times.is_empty()
            });
        }
    }
}

fn expire(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_at_the_limit_is_refused_until_its_failures_age_out() {
        let throttle = LoginThrottle::new(3, Duration::from_millis(200));
        let user = vec!["user 1234567 a@example.com".to_owned()];
        let other = vec!["user 1234567 b@example.com".to_owned()];
        for _ in 0..3 {
            assert!(throttle.allows(&user));
            throttle.failed(&user);
        }
        assert!(!throttle.allows(&user));
        assert!(throttle.allows(&other), "another user is not affected");
        std::thread::sleep(Duration::from_millis(250));
        assert!(throttle.allows(&user), "no permanent lock-out");
    }

    #[test]
    fn every_key_of_a_request_must_allow_it() {
        let throttle = LoginThrottle::new(1, Duration::from_secs(60));
        let address = "ip 10.0.0.1".to_owned();
        throttle.failed(&["user x".to_owned(), address.clone()]);
        assert!(!throttle.allows(&["user y".to_owned(), address]));
        assert!(throttle.allows(&["user y".to_owned(), "ip 10.0.0.2".to_owned()]));
    }
}
