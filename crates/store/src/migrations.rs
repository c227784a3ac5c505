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
