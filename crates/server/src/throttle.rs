//! Password guesses (issuetoken's NLAuth and the web UI's sign-in), counted in sliding windows
//! per bucket, with a reservation taken *before* the password is checked: a guess in flight
//! counts at once, so parallel guesses cannot slip past the limit while Argon2 runs.
//!
//! The policy (SECURITY.md, "Password guessing") follows OWASP's device-cookie approach: the
//! buckets a guess is counted in depend on whether its source is one the user has signed in
//! from before ([`LoginThrottle::is_trusted`]) — a browser holding the device cookie issued at a
//! sign-in, or an address the user signed in from. A trusted source is limited only by its
//! own (user, source) bucket, so guesses elsewhere can never lock the real user out of it;
//! an untrusted one also counts against the address and against the user as a whole. Nothing is
//! permanent: a bucket frees as its oldest failure ages out. Counts are per node.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Failures allowed per source address, and per user from untrusted sources, in a window.
pub const FAILURES_PER_HOUR: usize = 100;
/// Failures allowed per (user, source) in a window.
pub const FAILURES_PER_USER_AND_SOURCE: usize = 10;
/// How long a source stays trusted for a user after a sign-in from it.
const TRUSTED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Trusted sources kept per user (the oldest is forgotten first).
const TRUSTED_PER_USER: usize = 16;
/// Buckets looked at before a sweep drops the ones with nothing left in the window.
const SWEEP_EVERY: u32 = 1024;

/// What a guess is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Every guess from one source address, whatever the user.
    Address(String),
    /// One user's guesses from one source (an address, or a device cookie).
    UserSource(String, String),
    /// One user's guesses from every untrusted source.
    User(String),
}

#[derive(Debug)]
pub struct LoginThrottle {
    /// Also the limit of a user's guesses from untrusted sources together.
    per_address: usize,
    per_user_source: usize,
    window: Duration,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// Failures and guesses in flight, oldest first.
    counts: HashMap<Bucket, VecDeque<Instant>>,
    /// Per user: sources it signed in from, and when.
    trusted: HashMap<String, VecDeque<(String, Instant)>>,
    since_sweep: u32,
}

/// A guess counted in its buckets until it is known to have succeeded.
#[derive(Debug)]
pub struct Reservation {
    state: Arc<Mutex<State>>,
    buckets: Vec<Bucket>,
    at: Instant,
    settled: bool,
}

impl LoginThrottle {
    /// `per_address` also bounds a user's guesses from untrusted sources together.
    pub fn new(per_address: usize, per_user_source: usize, window: Duration) -> Self {
        Self {
            per_address: per_address.max(1),
            per_user_source: per_user_source.max(1),
            window,
            state: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `source` (an address, or a device id) signed in as `user` recently.
    pub fn is_trusted(&self, user: &str, source: &str) -> bool {
        let now = Instant::now();
        self.lock().trusted.get(user).is_some_and(|sources| {
            sources
                .iter()
                .any(|(s, at)| s == source && now.duration_since(*at) < TRUSTED_FOR)
        })
    }

    /// Remembers a successful sign-in of `user` from `source`.
    pub fn trust(&self, user: &str, source: &str) {
        let now = Instant::now();
        let mut state = self.lock();
        let sources = state.trusted.entry(user.to_owned()).or_default();
        sources.retain(|(s, at)| s != source && now.duration_since(*at) < TRUSTED_FOR);
        sources.push_back((source.to_owned(), now));
        while sources.len() > TRUSTED_PER_USER {
            sources.pop_front();
        }
    }

    /// The buckets a guess for `user` from `source` (seen at `address`) counts in.
    pub fn buckets(&self, user: &str, source: &str, address: &str) -> Vec<Bucket> {
        let mine = Bucket::UserSource(user.to_owned(), source.to_owned());
        if self.is_trusted(user, source) {
            vec![mine]
        } else {
            vec![
                mine,
                Bucket::Address(address.to_owned()),
                Bucket::User(user.to_owned()),
            ]
        }
    }

    fn limit(&self, bucket: &Bucket) -> usize {
        match bucket {
            Bucket::Address(_) | Bucket::User(_) => self.per_address,
            Bucket::UserSource(..) => self.per_user_source,
        }
    }

    /// Counts a guess in every bucket at once, if each of them has room; `None` (nothing
    /// counted) when one is full. Check and count are one step under one lock.
    pub fn reserve(&self, buckets: Vec<Bucket>) -> Option<Reservation> {
        let now = Instant::now();
        let window = self.window;
        let mut state = self.lock();
        state.since_sweep += 1;
        if state.since_sweep >= SWEEP_EVERY {
            state.since_sweep = 0;
            state.counts.retain(|_, times| {
                expire(times, now, window);
                !times.is_empty()
            });
            state.trusted.retain(|_, sources| {
                sources.retain(|(_, at)| now.duration_since(*at) < TRUSTED_FOR);
                !sources.is_empty()
            });
        }
        for bucket in &buckets {
            if let Some(times) = state.counts.get_mut(bucket) {
                expire(times, now, window);
                if times.len() >= self.limit(bucket) {
                    return None;
                }
            }
        }
        for bucket in &buckets {
            state
                .counts
                .entry(bucket.clone())
                .or_default()
                .push_back(now);
        }
        Some(Reservation {
            state: self.state.clone(),
            buckets,
            at: now,
            settled: false,
        })
    }
}

impl Reservation {
    /// The guess was wrong: it stays counted until it ages out.
    pub fn failed(mut self) {
        self.settled = true;
    }

    /// The guess was right: it is taken back out of every bucket.
    pub fn succeeded(self) {
        self.take_back();
    }

    /// The password was never checked (the database failed before it could be): not a guess.
    /// Counting it would lock users out for an hour after a database outage.
    pub fn withdrawn(self) {
        self.take_back();
    }

    fn take_back(mut self) {
        self.settled = true;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for bucket in &self.buckets {
            if let Some(times) = state.counts.get_mut(bucket)
                && let Some(i) = times.iter().position(|t| *t == self.at)
            {
                times.remove(i);
            }
        }
    }
}

impl Drop for Reservation {
    /// Neither said (an error on the way): it counts as a failure.
    fn drop(&mut self) {
        if !self.settled {
            tracing::debug!("a password guess was left unsettled; it stays counted");
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

    const USER: &str = "1234567 a@example.com";

    #[test]
    fn a_full_bucket_refuses_until_its_failures_age_out() {
        let throttle = LoginThrottle::new(100, 3, Duration::from_millis(200));
        for _ in 0..3 {
            throttle
                .reserve(throttle.buckets(USER, "10.0.0.1", "10.0.0.1"))
                .unwrap()
                .failed();
        }
        assert!(
            throttle
                .reserve(throttle.buckets(USER, "10.0.0.1", "10.0.0.1"))
                .is_none()
        );
        let other = throttle.buckets("1234567 b@example.com", "10.0.0.1", "10.0.0.1");
        assert!(throttle.reserve(other).is_some(), "another user");
        std::thread::sleep(Duration::from_millis(250));
        assert!(
            throttle
                .reserve(throttle.buckets(USER, "10.0.0.1", "10.0.0.1"))
                .is_some(),
            "no permanent lock-out"
        );
    }

    #[test]
    fn guesses_in_flight_count_before_they_are_settled() {
        let throttle = LoginThrottle::new(100, 5, Duration::from_secs(60));
        let held: Vec<_> = (0..5)
            .map(|_| {
                throttle
                    .reserve(throttle.buckets(USER, "ip", "ip"))
                    .unwrap()
            })
            .collect();
        assert!(
            throttle
                .reserve(throttle.buckets(USER, "ip", "ip"))
                .is_none()
        );
        // A success gives its place back.
        for r in held {
            r.succeeded();
        }
        assert!(
            throttle
                .reserve(throttle.buckets(USER, "ip", "ip"))
                .is_some()
        );
    }

    #[test]
    fn a_trusted_source_is_not_locked_out_by_guesses_elsewhere() {
        let throttle = LoginThrottle::new(4, 2, Duration::from_secs(60));
        throttle.trust(USER, "device:home");
        // Two guessing addresses fill the user's untrusted bucket.
        for address in ["10.0.0.1", "10.0.0.2"] {
            for _ in 0..2 {
                throttle
                    .reserve(throttle.buckets(USER, address, address))
                    .unwrap()
                    .failed();
            }
        }
        assert!(
            throttle
                .reserve(throttle.buckets(USER, "10.0.0.3", "10.0.0.3"))
                .is_none(),
            "a new untrusted address waits"
        );
        assert!(
            throttle
                .reserve(throttle.buckets(USER, "device:home", "10.0.0.1"))
                .is_some(),
            "the user's own browser is let in, even from a guessing address"
        );
    }
}
