//! Versioned migrations, one directory per engine, compiled into the binary.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::{Backend, OpenError};

struct Source {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Append only: a released migration never changes (its checksum is recorded).
const MIGRATIONS: &[Source] = &[
    Source {
        version: 1,
        description: "initial schema",
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Source {
        version: 2,
        description: "replay protection, login audit trail, governance",
        sqlite: include_str!("../migrations/sqlite/0002_verification.sql"),
        postgres: include_str!("../migrations/postgres/0002_verification.sql"),
    },
    Source {
        version: 3,
        description: "login audit rows without AUTOINCREMENT",
        sqlite: include_str!("../migrations/sqlite/0003_login_audit_rowid.sql"),
        postgres: include_str!("../migrations/postgres/0003_login_audit_rowid.sql"),
    },
    Source {
        version: 4,
        description: "web UI sessions",
        sqlite: include_str!("../migrations/sqlite/0004_web_sessions.sql"),
        postgres: include_str!("../migrations/postgres/0004_web_sessions.sql"),
    },
    Source {
        version: 5,
        description: "accounts that may install a record by its id",
        sqlite: include_str!("../migrations/sqlite/0005_installable_accounts.sql"),
        postgres: include_str!("../migrations/postgres/0005_installable_accounts.sql"),
    },
    Source {
        version: 6,
        description: "master key checks",
        sqlite: include_str!("../migrations/sqlite/0006_master_key_checks.sql"),
        postgres: include_str!("../migrations/postgres/0006_master_key_checks.sql"),
    },
    Source {
        version: 7,
        description: "the three-step authorization flow",
        sqlite: include_str!("../migrations/sqlite/0007_authorization_flow.sql"),
        postgres: include_str!("../migrations/postgres/0007_authorization_flow.sql"),
    },
    Source {
        version: 8,
        description: "expiring tokens",
        sqlite: include_str!("../migrations/sqlite/0008_token_expiry.sql"),
        postgres: include_str!("../migrations/postgres/0008_token_expiry.sql"),
    },
    Source {
        version: 9,
        description: "IP allow-lists",
        sqlite: include_str!("../migrations/sqlite/0009_ip_allow_lists.sql"),
        postgres: include_str!("../migrations/postgres/0009_ip_allow_lists.sql"),
    },
    Source {
        version: 10,
        description: "the signature debugger",
        sqlite: include_str!("../migrations/sqlite/0010_signature_debugger.sql"),
        postgres: include_str!("../migrations/postgres/0010_signature_debugger.sql"),
    },
];

pub(crate) async fn run<'a, A>(conn: A, backend: Backend) -> Result<(), OpenError>
where
    A: sqlx::Acquire<'a, Database = sqlx::Any>,
    <A::Connection as std::ops::Deref>::Target: sqlx::migrate::Migrate,
{
    let migrations = MIGRATIONS
        .iter()
        .map(|m| {
            let sql = match backend {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            };
            Migration::new(
                m.version,
                Cow::Borrowed(m.description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
        .run(conn)
        .await
        .map_err(OpenError::Migrate)
}

/// A uniqueness constraint of the schema: its name on PostgreSQL, the columns SQLite names
/// when it refuses a write (SQLite reports no constraint name), and what must be unique, as
/// core's `StoreError::Duplicate` says it. Every unique constraint and unique index the
/// migrations create is here (checked against both engines' catalogs by
/// `tests/store.rs::every_unique_constraint_is_classified`); add one with its migration.
#[derive(Debug, Clone, Copy)]
pub struct UniqueConstraint {
    pub postgres: &'static str,
    pub sqlite: &'static str,
    pub what: &'static str,
}

const fn unique(
    postgres: &'static str,
    sqlite: &'static str,
    what: &'static str,
) -> UniqueConstraint {
    UniqueConstraint {
        postgres,
        sqlite,
        what,
    }
}

#[doc(hidden)]
pub const UNIQUE_CONSTRAINTS: &[UniqueConstraint] = &[
    unique("accounts_pkey", "accounts.id", "account id"),
    unique("roles_pkey", "roles.account_id, roles.id", "role id"),
    unique("users_pkey", "users.id", "user id"),
    unique(
        "users_email_unique",
        "users.account_id, users.email",
        "email",
    ),
    unique(
        "user_roles_pkey",
        "user_roles.user_id, user_roles.role_id",
        "role of the user",
    ),
    unique("integrations_pkey", "integrations.id", "integration id"),
    unique(
        "integrations_application_id_key",
        "integrations.application_id",
        "application id",
    ),
    unique(
        "integrations_consumer_key_key",
        "integrations.consumer_key",
        "consumer key",
    ),
    unique(
        "installations_pkey",
        "installations.integration_id, installations.account_id",
        "installation",
    ),
    unique("access_tokens_pkey", "access_tokens.id", "token key"),
    unique(
        "access_tokens_token_id_key",
        "access_tokens.token_id",
        "token id",
    ),
    unique("system_notes_pkey", "system_notes.id", "note id"),
    unique("nonces_pkey", "nonces.id", "nonce"),
    unique("login_audit_pkey", "login_audit.id", "audit row id"),
    unique("token_usage_pkey", "token_usage.token_id", "token usage"),
    unique("web_sessions_pkey", "web_sessions.id_digest", "session id"),
    unique(
        "installable_accounts_pkey",
        "installable_accounts.integration_id, installable_accounts.account_id",
        "installable account",
    ),
    unique(
        "master_key_checks_pkey",
        "master_key_checks.key_id",
        "master key id",
    ),
    unique(
        "request_tokens_pkey",
        "request_tokens.token_id",
        "request token",
    ),
    unique("flow_nonces_pkey", "flow_nonces.digest", "nonce"),
];

/// What a unique violation refused: found by the constraint's name (PostgreSQL) or by the
/// columns SQLite's error names ("UNIQUE constraint failed: t.a, t.b", its fixed form).
/// `"key"` for a constraint not in the table, which the catalog test keeps from happening.
pub(crate) fn unique_violation(error: &dyn sqlx::error::DatabaseError) -> &'static str {
    let found = match error.constraint() {
        Some(name) => UNIQUE_CONSTRAINTS.iter().find(|c| c.postgres == name),
        None => error
            .message()
            .strip_prefix("UNIQUE constraint failed: ")
            .and_then(|columns| UNIQUE_CONSTRAINTS.iter().find(|c| c.sqlite == columns)),
    };
    found.map_or("key", |c| c.what)
}
