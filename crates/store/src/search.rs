//! The token list's search, planned per engine: SQLite's FTS5 trigram index, PostgreSQL's
//! `pg_trgm` GIN index, or a walk of the list in its order matching each row — whichever
//! gives a page of hits soonest (ARCHITECTURE.md, "Inside crates/store"). Thresholds are in
//! `SearchTuning`.

use sqlx::AssertSqlSafe;
use tessera_core::ids::AccountId;
use tessera_core::store::{StoreResult, TokenQuery, TokenSort};

use crate::Backend;
use crate::rows::get;
use crate::sql::{Bind, Run, SqlText};
use crate::tx::{SqlTx, TOKEN_ITEM_SELECT, TOKEN_ITEM_SELECT_BY_NAME, TOKEN_ITEM_SELECT_BY_SEARCH};

/// How the token list applies a search.
pub(crate) enum SearchPlan {
    None,
    /// SQLite, id order: the FTS5 index streams hits in rowid order into the join.
    IndexDriven(String),
    /// A selective term: its hits, found once in the trigram index.
    Hits(Vec<i64>),
    /// A common term (its `LIKE` pattern): walk the list in order and match each row.
    Walk(String),
}

/// `%`, `_` and `\` taken literally in a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn like_pattern(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// An FTS5 phrase: the term in double quotes, inner quotes doubled.
pub(crate) fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

impl SearchPlan {
    /// The statement's start for this plan (FROM and joins), and the column the list is in
    /// id order by.
    pub(crate) fn select(&self, backend: Backend, sort: TokenSort) -> (SqlText, &'static str) {
        match self {
            SearchPlan::IndexDriven(phrase) => {
                let mut q = SqlText::new(TOKEN_ITEM_SELECT_BY_SEARCH);
                q.push(" WHERE access_tokens_search MATCH ")
                    .bind(Bind::Text(phrase.clone()));
                q.push(" AND");
                (q, "s.rowid")
            }
            SearchPlan::Walk(_) if backend == Backend::Sqlite && sort == TokenSort::Name => {
                (SqlText::new(TOKEN_ITEM_SELECT_BY_NAME), "t.id")
            }
            _ => (SqlText::new(TOKEN_ITEM_SELECT), "t.id"),
        }
    }

    /// The plan's condition, after the filters.
    pub(crate) fn push_match(self, q: &mut SqlText, backend: Backend) {
        match self {
            SearchPlan::None | SearchPlan::IndexDriven(_) => {}
            SearchPlan::Hits(ids) if ids.is_empty() => {
                q.push(" AND 1 = 0");
            }
            SearchPlan::Hits(ids) => {
                // Integers from the database, written as literals: nothing to inject.
                let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
                q.push(&format!(" AND t.id IN ({list})"));
            }
            SearchPlan::Walk(pattern) => {
                let op = match backend {
                    Backend::Postgres => " AND t.search_text ILIKE ",
                    Backend::Sqlite => " AND t.search_text LIKE ",
                };
                q.push(op).bind(Bind::Text(pattern));
                q.push(" ESCAPE '\\'");
            }
        }
    }
}

impl SqlTx {
    /// How this list query applies its search term, if it has one.
    pub(crate) async fn search_plan(&mut self, query: &TokenQuery) -> StoreResult<SearchPlan> {
        Ok(match (self.backend, query.filter.search.as_deref()) {
            (_, None) => SearchPlan::None,
            (Backend::Sqlite, Some(term)) if query.sort != TokenSort::Name => {
                SearchPlan::IndexDriven(fts_phrase(term))
            }
            (Backend::Postgres, Some(term))
                if !self.pg_term_is_rare(&query.account, term).await? =>
            {
                SearchPlan::Walk(like_pattern(term))
            }
            (_, Some(term)) => match self.search_hits(&query.account, term).await? {
                Some(ids) => SearchPlan::Hits(ids),
                None => SearchPlan::Walk(like_pattern(term)),
            },
        })
    }

    /// Runs a planned list query. A common term is matched while walking the list in order:
    /// PostgreSQL is kept from building a bitmap of every hit before sorting them.
    pub(crate) async fn run_planned(
        &mut self,
        q: SqlText,
        walk: bool,
    ) -> StoreResult<Vec<sqlx::any::AnyRow>> {
        let pg_walk = walk && self.backend == Backend::Postgres;
        if pg_walk {
            self.pg_planner(&["enable_bitmapscan"], false).await?;
        }
        let rows = q.query().all(&mut self.tx).await;
        if pg_walk {
            self.pg_planner(&["enable_bitmapscan"], true).await?;
        }
        rows
    }
    async fn search_hits(
        &mut self,
        account: &AccountId,
        term: &str,
    ) -> StoreResult<Option<Vec<i64>>> {
        // PostgreSQL asks the index only for terms its sample found rare (under 1 in 200), and
        // sorting a few thousand hits by id is cheap there.
        let limit = match self.backend {
            Backend::Sqlite => self.search.selective_hits,
            Backend::Postgres => self.search.selective_hits * 5,
        };
        let rows = match self.backend {
            Backend::Sqlite => {
                sqlx::query(
                    "SELECT rowid AS id FROM access_tokens_search \
                     WHERE access_tokens_search MATCH $1 LIMIT $2",
                )
                .bind(fts_phrase(term))
                .bind(limit)
                .all(&mut self.tx)
                .await
            }
            Backend::Postgres => {
                self.pg_planner(&["enable_seqscan", "enable_indexscan"], false)
                    .await?;
                let rows = sqlx::query(
                    "SELECT id FROM access_tokens WHERE account_id = $1 \
                     AND search_text ILIKE $2 ESCAPE '\\' LIMIT $3",
                )
                .bind(account.as_str().to_owned())
                .bind(like_pattern(term))
                .bind(limit)
                .all(&mut self.tx)
                .await;
                self.pg_planner(&["enable_seqscan", "enable_indexscan"], true)
                    .await?;
                rows
            }
        }?;
        if rows.len() >= usize::try_from(limit).unwrap_or(usize::MAX) {
            return Ok(None);
        }
        rows.iter()
            .map(|r| get::<i64>(r, "id"))
            .collect::<StoreResult<_>>()
            .map(Some)
    }

    async fn pg_term_is_rare(&mut self, account: &AccountId, term: &str) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT count(*) AS sampled, \
             count(*) FILTER (WHERE search_text ILIKE $2 ESCAPE '\\') AS hits \
             FROM access_tokens TABLESAMPLE SYSTEM (0.2) REPEATABLE (7) WHERE account_id = $1",
        )
        .bind(account.as_str().to_owned())
        .bind(like_pattern(term))
        .one(&mut self.tx)
        .await?;
        let (sampled, hits): (i64, i64) = (get(&row, "sampled")?, get(&row, "hits")?);
        let large = sampled * 500 >= self.search.large_account;
        Ok(large && hits * 200 < sampled.max(1))
    }

    async fn pg_planner(&mut self, settings: &[&'static str], on: bool) -> StoreResult<()> {
        for setting in settings {
            let sql = format!("SET LOCAL {setting} = {}", if on { "on" } else { "off" });
            sqlx::query(AssertSqlSafe(sql)).run(&mut self.tx).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(fts_phrase("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
