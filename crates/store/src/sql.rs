//! The one SQL code path's tools: queries run within their round-trip deadline with their
//! errors mapped once (`Run`), SQL text built with `$n` placeholders (`SqlText`), and what a
//! database error means to core (`backend_error`).

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AssertSqlSafe};
use tessera_core::store::{StoreError, StoreResult};

use crate::deadline;

/// A database error as core sees it: a unique or foreign-key violation is a refusal of the
/// write (named by the constraint, `migrations::UNIQUE_CONSTRAINTS`); anything else a failure
/// of the database, its cause kept as the source.
pub(crate) fn backend_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Duplicate(crate::migrations::unique_violation(db.as_ref()));
        }
        if db.is_foreign_key_violation() {
            return StoreError::Dangling;
        }
    }
    StoreError::Backend(Box::new(e))
}

pub(crate) type Q<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

/// Runs a query in a transaction, its error mapped once for all.
pub(crate) trait Run {
    async fn optional(self, conn: &mut AnyConnection) -> StoreResult<Option<AnyRow>>;
    async fn all(self, conn: &mut AnyConnection) -> StoreResult<Vec<AnyRow>>;
    async fn one(self, conn: &mut AnyConnection) -> StoreResult<AnyRow>;
    /// Rows affected.
    async fn run(self, conn: &mut AnyConnection) -> StoreResult<u64>;
}

/// Each within its round-trip deadline on PostgreSQL (`deadline`).
impl Run for Q<'_> {
    async fn optional(self, conn: &mut AnyConnection) -> StoreResult<Option<AnyRow>> {
        let pg = deadline::is_postgres(conn);
        deadline::bounded(pg, async {
            self.fetch_optional(conn).await.map_err(backend_error)
        })
        .await
    }

    async fn all(self, conn: &mut AnyConnection) -> StoreResult<Vec<AnyRow>> {
        let pg = deadline::is_postgres(conn);
        deadline::bounded(pg, async {
            self.fetch_all(conn).await.map_err(backend_error)
        })
        .await
    }

    async fn one(self, conn: &mut AnyConnection) -> StoreResult<AnyRow> {
        let pg = deadline::is_postgres(conn);
        deadline::bounded(pg, async {
            self.fetch_one(conn).await.map_err(backend_error)
        })
        .await
    }

    async fn run(self, conn: &mut AnyConnection) -> StoreResult<u64> {
        let pg = deadline::is_postgres(conn);
        deadline::bounded(pg, async {
            self.execute(conn)
                .await
                .map(|r| r.rows_affected())
                .map_err(backend_error)
        })
        .await
    }
}

pub(crate) enum Bind {
    Int(i64),
    Text(String),
    OptInt(Option<i64>),
    OptText(Option<String>),
}

/// SQL text built piece by piece with `$n` placeholders, which both engines accept (sqlx's
/// `QueryBuilder` writes `?` for `Any`, which PostgreSQL does not).
pub(crate) struct SqlText {
    sql: String,
    binds: Vec<Bind>,
}

impl SqlText {
    pub(crate) fn new(start: &str) -> Self {
        Self {
            sql: start.to_owned(),
            binds: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }

    pub(crate) fn bind(&mut self, value: Bind) {
        self.binds.push(value);
        self.sql.push_str(&format!("${}", self.binds.len()));
    }

    pub(crate) fn query(self) -> Q<'static> {
        self.binds
            .into_iter()
            .fold(sqlx::query(AssertSqlSafe(self.sql)), |q, b| match b {
                Bind::Int(v) => q.bind(v),
                Bind::Text(v) => q.bind(v),
                Bind::OptInt(v) => q.bind(v),
                Bind::OptText(v) => q.bind(v),
            })
    }
}
