//! Password sign-in: the one owner for issuetoken's NLAuth and the web UI's form (RULES.md §7).
//!
//! In order: the typed account and email are checked for form; the guess is counted in the
//! throttle's buckets before the password is looked at (a reservation, so guesses in flight
//! count at once); the password is checked with Argon2 whatever the account and email name
//! (a dummy hash where there is no real one, so unknown users take as long as known ones);
//! a right password is a [`PasswordSignedIn`], which the caller turns into a login with
//! [`PasswordSignedIn::logged_in`] — only then is the guess taken back and the source trusted
//! for that user. A right password that the caller then refuses (a role that may not sign in,
//! a record that is off) stays counted like a wrong one and trusts nothing, so neither the
//! throttle nor the trust tells a right password from a wrong one. Every refusal here is a
//! login-audit row written here; a caller records its own refusals after the password.

use tessera_core::Detail;
use tessera_core::ids::{AccountId, Email};
use tessera_core::model::User;
use tessera_core::store::LoginAttempt;
use tessera_core::verifier::RequestContext;
use tessera_oauth1::SecretString;

use crate::AppState;
use crate::throttle::Reservation;

/// What a person typed to sign in.
pub(crate) struct PasswordAttempt<'a> {
    pub account: &'a str,
    pub email: &'a str,
    pub password: &'a SecretString,
    /// The device id of the browser's device cookie, if it sent one (the web UI).
    pub device: Option<&'a str>,
}

/// A right password, not yet a login: dropped without [`PasswordSignedIn::logged_in`], it
/// counts as a failed guess.
#[derive(Debug)]
pub(crate) struct PasswordSignedIn {
    pub account: AccountId,
    pub email: Email,
    pub user: User,
    guess: Reservation,
    user_key: String,
    address: String,
    /// The device id the browser sent, if the throttle trusts it for this user.
    trusted_device: Option<String>,
}

impl PasswordSignedIn {
    /// The sign-in ended in a login: the guess is taken back, the address (and the browser)
    /// are trusted for the user. Returns the device id the browser should keep: the one it
    /// sent, or a new one.
    pub(crate) fn logged_in(self, state: &AppState) -> String {
        let throttle = state.login_throttle();
        self.guess.succeeded();
        throttle.trust(&self.user_key, &self.address);
        let device = self.trusted_device.unwrap_or_else(new_device_id);
        throttle.trust(&self.user_key, &device_source(&device));
        device
    }
}

/// A refusal, already recorded in the login audit trail.
#[derive(Debug)]
pub(crate) enum PasswordRefused {
    /// The account or email is not even of the right form.
    Malformed,
    /// Too many wrong guesses for this user or from this source; the password was not checked.
    Throttled,
    /// Unknown account or email, no password, an inactive user, or a wrong password.
    Wrong,
}

/// The throttle's name for a user: the account and the (normalised) email.
fn user_key(account: &AccountId, email: &Email) -> String {
    format!("{} {}", account.as_str(), email.as_str())
}

fn device_source(device: &str) -> String {
    format!("device {device}")
}

/// Checks a password as described in the module documentation. `Err` is a failure of the
/// store (nothing was decided).
pub(crate) async fn check(
    state: &AppState,
    context: &RequestContext,
    attempt: PasswordAttempt<'_>,
) -> Result<Result<PasswordSignedIn, PasswordRefused>, tessera_core::Error> {
    Ok(match check_deferred(state, context, attempt).await? {
        Ok(signed_in) => Ok(signed_in),
        Err(Checked::Refused(refused)) => Err(refused),
        Err(Checked::Wrong(wrong)) => {
            wrong.settle(state, context).await;
            Err(PasswordRefused::Wrong)
        }
    })
}

/// [`check`], with a wrong password left unsettled (see [`WrongPassword`]).
pub(crate) async fn check_deferred(
    state: &AppState,
    context: &RequestContext,
    attempt: PasswordAttempt<'_>,
) -> Result<Result<PasswordSignedIn, Checked>, tessera_core::Error> {
    let record = |detail: Detail, note: &str| {
        let mut row: LoginAttempt = context.attempt(false, detail, note);
        // Who the attempt was for, as typed: the trail shows failed sign-ins of unknown users.
        row.account = AccountId::parse(attempt.account).ok();
        row.email = (!attempt.email.is_empty()).then(|| attempt.email.to_owned());
        state.verifier().record_attempt(row)
    };
    let throttle = state.login_throttle();
    let (Ok(account), Ok(email)) = (
        AccountId::parse(attempt.account),
        Email::parse(attempt.email),
    ) else {
        // Junk still counts against its source address.
        let address = crate::throttle::Bucket::Address(context.ip.clone());
        match throttle.reserve(vec![address]) {
            Some(guess) => guess.failed(),
            None => {
                record(
                    Detail::TooManyAttempts,
                    "too many failed sign-ins from this address",
                )
                .await;
                return Ok(Err(Checked::Refused(PasswordRefused::Throttled)));
            }
        }
        record(
            Detail::InvalidCredentials,
            "the account ID or email address is not valid",
        )
        .await;
        return Ok(Err(Checked::Refused(PasswordRefused::Malformed)));
    };
    let user_key = user_key(&account, &email);
    let trusted_device = attempt
        .device
        .filter(|d| throttle.is_trusted(&user_key, &device_source(d)));
    let source = trusted_device.map_or_else(|| context.ip.clone(), device_source);
    let Some(guess) = throttle.reserve(throttle.buckets(&user_key, &source, &context.ip)) else {
        let note = format!(
            "too many failed sign-ins for this user from this source, from this address, or \
             for this user from sources it never signed in from (limits {} and {} an hour)",
            state.config().login_failures_per_user_and_source,
            state.config().login_failures_per_hour
        );
        record(Detail::TooManyAttempts, &note).await;
        return Ok(Err(Checked::Refused(PasswordRefused::Throttled)));
    };
    // Every error comes before the password is compared (the user and its hash are read
    // first): the guess is taken back, and the answer (503) says nothing about the password.
    let user = match state
        .tessera()
        .check_password(&account, &email, attempt.password)
        .await
    {
        Ok(user) => user,
        Err(e) => {
            guess.withdrawn();
            return Err(e);
        }
    };
    let Some(user) = user else {
        return Ok(Err(Checked::Wrong(WrongPassword {
            guess,
            account,
            email,
        })));
    };
    Ok(Ok(PasswordSignedIn {
        account,
        email,
        user,
        guess,
        user_key,
        address: context.ip.clone(),
        trusted_device: trusted_device.map(str::to_owned),
    }))
}

/// A wrong password whose guess is not counted yet: `/rest/roles` checks one password against
/// several accounts and counts the misses only when it matched none.
#[derive(Debug)]
pub(crate) struct WrongPassword {
    guess: Reservation,
    account: AccountId,
    email: Email,
}

impl WrongPassword {
    /// Counts the guess and records the failure, in the account's audit trail.
    pub(crate) async fn settle(self, state: &AppState, context: &RequestContext) {
        let account = self.account.clone();
        self.settle_in(state, context, Some(account)).await;
    }

    /// [`WrongPassword::settle`] for a password checked against no real account (an email no
    /// account has): the row names no account.
    pub(crate) async fn settle_anywhere(self, state: &AppState, context: &RequestContext) {
        self.settle_in(state, context, None).await;
    }

    async fn settle_in(
        self,
        state: &AppState,
        context: &RequestContext,
        account: Option<AccountId>,
    ) {
        self.guess.failed();
        let mut row: LoginAttempt = context.attempt(
            false,
            Detail::InvalidCredentials,
            "unknown account or email, no password, an inactive user, or a wrong password",
        );
        row.account = account;
        row.email = Some(self.email.as_str().to_owned());
        state.verifier().record_attempt(row).await;
    }

    /// Not a guess after all (the same password opened another account of this email).
    pub(crate) fn withdraw(self) {
        self.guess.withdrawn();
    }
}

/// A password check whose failure is left to the caller to settle.
#[derive(Debug)]
pub(crate) enum Checked {
    /// Refused before the password was looked at (recorded already).
    Refused(PasswordRefused),
    Wrong(WrongPassword),
}

fn new_device_id() -> String {
    let mut bytes = [0u8; 16];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
