//! Password sign-in: the one owner for issuetoken's NLAuth and the web UI's form (SPEC §7).
//!
//! In order: the typed account and email are checked for form; the guess is counted in the
//! throttle's buckets before the password is looked at (a reservation, so guesses in flight
//! count at once); the password is checked with Argon2 whatever the account and email name
//! (a dummy hash where there is no real one, so unknown users take as long as known ones);
//! a success takes the guess back and trusts the source for that user. Every refusal is a
//! login-audit row written here; what a caller does with a success is its own.

use tessera_core::Detail;
use tessera_core::ids::{AccountId, Email};
use tessera_core::model::User;
use tessera_core::store::LoginAttempt;
use tessera_core::verifier::RequestContext;
use tessera_oauth1::SecretString;

use crate::AppState;

/// What a person typed to sign in.
pub(crate) struct PasswordAttempt<'a> {
    pub account: &'a str,
    pub email: &'a str,
    pub password: &'a SecretString,
    /// The device id of the browser's device cookie, if it sent one (the web UI).
    pub device: Option<&'a str>,
}

/// A right password.
#[derive(Debug)]
pub(crate) struct PasswordSignedIn {
    pub account: AccountId,
    pub email: Email,
    pub user: User,
    /// The device id the browser should keep (the one it sent, if still trusted, or a new one).
    pub device: String,
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
                return Ok(Err(PasswordRefused::Throttled));
            }
        }
        record(
            Detail::InvalidCredentials,
            "the account ID or email address is not valid",
        )
        .await;
        return Ok(Err(PasswordRefused::Malformed));
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
        return Ok(Err(PasswordRefused::Throttled));
    };
    let user = state
        .tessera()
        .check_password(&account, &email, attempt.password)
        .await?;
    let Some(user) = user else {
        guess.failed();
        record(
            Detail::InvalidCredentials,
            "unknown account or email, no password, an inactive user, or a wrong password",
        )
        .await;
        return Ok(Err(PasswordRefused::Wrong));
    };
    guess.succeeded();
    throttle.trust(&user_key, &context.ip);
    let device = match trusted_device {
        Some(d) => d.to_owned(),
        None => new_device_id(),
    };
    throttle.trust(&user_key, &device_source(&device));
    Ok(Ok(PasswordSignedIn {
        account,
        email,
        user,
        device,
    }))
}

/// 128 random bits, hex.
fn new_device_id() -> String {
    let mut bytes = [0u8; 16];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
