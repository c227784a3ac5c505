//! Rows to domain values. A stored value that does not decode is `StoreError::Corrupt`, naming
//! the column, never the value.

use sqlx::Row;
use sqlx::any::AnyRow;
use tessera_core::allow::IpAllowList;
use tessera_core::ids::{
    AccountId, ApplicationId, ConsumerKey, Email, IntegrationId, RoleId, TokenId, TokenKey, UserId,
};
use tessera_core::model::{
    AccessToken, Account, AuthSwitches, Context, InstallOrigin, InstallState, Installation,
    Integration, PermissionSet, RecordRef, Revocation, Role, SystemNote, Timestamp, TokenListItem,
    User,
};
use tessera_core::store::{StoreError, StoreResult, StoredIntegration, StoredToken, WebSession};
use tessera_core::vault::SealedSecret;

pub(crate) fn corrupt(column: &str) -> StoreError {
    StoreError::Corrupt(format!("column {column}"))
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column).map_err(|_| corrupt(column))
}

pub(crate) fn flag(row: &AnyRow, column: &str) -> StoreResult<bool> {
    Ok(get::<i64>(row, column)? != 0)
}

pub(crate) fn time(row: &AnyRow, column: &str) -> StoreResult<Timestamp> {
    get::<i64>(row, column).map(Timestamp::from_millis)
}

pub(crate) fn opt_time(row: &AnyRow, column: &str) -> StoreResult<Option<Timestamp>> {
    Ok(get::<Option<i64>>(row, column)?.map(Timestamp::from_millis))
}

pub(crate) fn account_id(row: &AnyRow, column: &str) -> StoreResult<AccountId> {
    AccountId::parse(&get::<String>(row, column)?).map_err(|_| corrupt(column))
}

pub(crate) fn web_session(row: &AnyRow) -> StoreResult<WebSession> {
    let account = get::<Option<String>>(row, "account_id")?;
    let user = get::<Option<i64>>(row, "user_id")?;
    let owner = match (account, user) {
        (Some(account), Some(user)) => Some((
            AccountId::parse(&account).map_err(|_| corrupt("account_id"))?,
            UserId::new(user),
        )),
        _ => None,
    };
    Ok(WebSession {
        id_digest: get(row, "id_digest")?,
        owner,
        data: get(row, "data")?,
        expires_at: get(row, "expires_at")?,
    })
}

pub(crate) fn account(row: &AnyRow) -> StoreResult<Account> {
    Ok(Account {
        id: account_id(row, "id")?,
        name: get(row, "name")?,
        tba_enabled: flag(row, "tba_enabled")?,
        require_approval_for_auto_install: flag(row, "require_approval")?,
        concurrency_limit: get::<Option<i64>>(row, "concurrency_limit")?
            .map(|n| u32::try_from(n).map_err(|_| corrupt("concurrency_limit")))
            .transpose()?,
        token_max_lifetime_days: get::<Option<i64>>(row, "token_max_lifetime_days")?
            .map(|n| u32::try_from(n).map_err(|_| corrupt("token_max_lifetime_days")))
            .transpose()?,
        ip_allow: allow_list(row, "ip_allow")?,
        created_at: time(row, "created_at")?,
    })
}

/// An IP allow-list column (R17): NULL is no list.
pub(crate) fn allow_list(row: &AnyRow, column: &str) -> StoreResult<IpAllowList> {
    let stored: Option<String> = get(row, column)?;
    IpAllowList::from_stored(stored.as_deref()).ok_or_else(|| corrupt(column))
}

pub(crate) fn role(row: &AnyRow) -> StoreResult<Role> {
    Ok(Role {
        account: account_id(row, "account_id")?,
        id: RoleId::new(get(row, "id")?),
        name: get(row, "name")?,
        permissions: PermissionSet::from_codes(&get::<String>(row, "permissions")?)
            .map_err(|_| corrupt("permissions"))?,
        inactive: flag(row, "inactive")?,
        web_services_only: flag(row, "web_services_only")?,
    })
}

/// A user row, with the roles it holds (read separately from `user_roles`).
pub(crate) fn user(row: &AnyRow, mut roles: Vec<RoleId>) -> StoreResult<User> {
    roles.sort();
    Ok(User {
        account: account_id(row, "account_id")?,
        id: UserId::new(get(row, "id")?),
        name: get(row, "name")?,
        email: Email::parse(&get::<String>(row, "email")?).map_err(|_| corrupt("email"))?,
        active: flag(row, "active")?,
        roles,
        created_at: time(row, "created_at")?,
    })
}

pub(crate) fn integration(row: &AnyRow) -> StoreResult<StoredIntegration> {
    let consumer_key = get::<Option<String>>(row, "consumer_key")?
        .map(|k| ConsumerKey::parse(&k).map_err(|_| corrupt("consumer_key")))
        .transpose()?;
    let secret: Option<Vec<u8>> = get(row, "consumer_secret")?;
    let key_id: Option<String> = get(row, "consumer_secret_key_id")?;
    let consumer_secret = match (secret, key_id) {
        (Some(blob), Some(key_id)) => Some(SealedSecret { key_id, blob }),
        (None, None) => None,
        _ => return Err(corrupt("consumer_secret")),
    };
    let integration = Integration {
        id: IntegrationId::new(get(row, "id")?),
        application_id: ApplicationId::parse(&get::<String>(row, "application_id")?)
            .map_err(|_| corrupt("application_id"))?,
        owner: account_id(row, "owner_account_id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        switches: AuthSwitches {
            token_based_auth: flag(row, "tba")?,
            tba_authorization_flow: flag(row, "tba_authorization_flow")?,
            callback_url: get(row, "callback_url")?,
            tba_issuetoken_endpoint: flag(row, "tba_issuetoken")?,
            user_credentials: flag(row, "user_credentials")?,
        },
        has_credentials: consumer_key.is_some(),
        created_at: time(row, "created_at")?,
        modified_at: time(row, "modified_at")?,
        deleted_at: opt_time(row, "deleted_at")?,
    };
    Ok(StoredIntegration {
        integration,
        consumer_key,
        consumer_secret,
    })
}

/// An installation row; with `prefix` for joined queries (`inst_`).
pub(crate) fn installation(row: &AnyRow, prefix: &str) -> StoreResult<Installation> {
    let col = |c: &str| format!("{prefix}{c}");
    let state: String = get(row, &col("state"))?;
    let origin: String = get(row, &col("origin"))?;
    let limit: Option<i64> = get(row, &col("concurrency_limit"))?;
    Ok(Installation {
        integration: IntegrationId::new(get(row, &col("integration_id"))?),
        account: account_id(row, &col("account_id"))?,
        state: InstallState::from_code(&state).ok_or_else(|| corrupt("state"))?,
        note: get(row, &col("note"))?,
        concurrency_limit: limit
            .map(|l| u32::try_from(l).map_err(|_| corrupt("concurrency_limit")))
            .transpose()?,
        origin: InstallOrigin::from_code(&origin).ok_or_else(|| corrupt("origin"))?,
        installed_at: time(row, &col("installed_at"))?,
        state_changed_at: time(row, &col("state_changed_at"))?,
        state_changed_by: get(row, &col("state_changed_by"))?,
        ip_allow: allow_list(row, &col("ip_allow"))?,
        signature_debug_until: opt_time(row, &col("signature_debug_until"))?,
    })
}

pub(crate) fn token(row: &AnyRow) -> StoreResult<AccessToken> {
    let revoked = if flag(row, "revoked")? {
        Some(Revocation {
            at: time(row, "revoked_at")?,
            by: get::<Option<i64>>(row, "revoked_by")?.map(UserId::new),
            by_name: get::<Option<String>>(row, "revoked_by_name")?.unwrap_or_default(),
        })
    } else {
        None
    };
    Ok(AccessToken {
        key: TokenKey::new(get(row, "id")?),
        account: account_id(row, "account_id")?,
        integration: IntegrationId::new(get(row, "integration_id")?),
        user: UserId::new(get(row, "user_id")?),
        role: RoleId::new(get(row, "role_id")?),
        name: get(row, "name")?,
        inactive: flag(row, "inactive")?,
        revoked,
        created_at: time(row, "created_at")?,
        created_by: get::<Option<i64>>(row, "created_by")?.map(UserId::new),
        created_by_name: get(row, "created_by_name")?,
        last_used_at: opt_time(row, "last_used_at")?,
        expires_at: opt_time(row, "expires_at")?,
        last_used_from: get(row, "last_used_from")?,
        signature_debug_until: opt_time(row, "signature_debug_until")?,
    })
}

pub(crate) fn token_item(row: &AnyRow) -> StoreResult<TokenListItem> {
    Ok(TokenListItem {
        token: token(row)?,
        application_name: get(row, "application_name")?,
        user_name: get(row, "user_name")?,
        role_name: get(row, "role_name")?,
    })
}

pub(crate) fn stored_token(row: &AnyRow) -> StoreResult<StoredToken> {
    Ok(StoredToken {
        token: token(row)?,
        token_id: TokenId::parse(&get::<String>(row, "token_id")?)
            .map_err(|_| corrupt("token_id"))?,
        token_secret: SealedSecret {
            key_id: get(row, "token_secret_key_id")?,
            blob: get(row, "token_secret")?,
        },
    })
}

pub(crate) fn record_parts(record: &RecordRef) -> (&'static str, i64, String) {
    match record {
        RecordRef::Integration(id) => ("integration", id.get(), String::new()),
        RecordRef::Installation(id, account) => ("installation", id.get(), account.to_string()),
        RecordRef::Token(key) => ("token", key.get(), String::new()),
    }
}

pub(crate) fn note(row: &AnyRow) -> StoreResult<SystemNote> {
    let kind: String = get(row, "record_type")?;
    let id: i64 = get(row, "record_id")?;
    let record = match kind.as_str() {
        "integration" => RecordRef::Integration(IntegrationId::new(id)),
        "installation" => RecordRef::Installation(
            IntegrationId::new(id),
            account_id(row, "record_account_id")?,
        ),
        "token" => RecordRef::Token(TokenKey::new(id)),
        _ => return Err(corrupt("record_type")),
    };
    let context: String = get(row, "context")?;
    Ok(SystemNote {
        at: time(row, "at")?,
        account: account_id(row, "account_id")?,
        actor: get::<Option<i64>>(row, "actor_user_id")?.map(UserId::new),
        actor_name: get(row, "actor_name")?,
        context: Context::from_code(&context).ok_or_else(|| corrupt("context"))?,
        record,
        field: get(row, "field")?,
        old_value: get(row, "old_value")?,
        new_value: get(row, "new_value")?,
    })
}
