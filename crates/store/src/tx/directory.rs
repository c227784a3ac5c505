//! Accounts, roles, users and their passwords.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use tessera_core::ids::{AccountId, Email, RoleId, UserId};
use tessera_core::model::{AccessToken, Account, Role, User};
use tessera_core::store::{DirectoryTx, NewUser, StoreResult};

use super::{ACCOUNT_COLUMNS, ROLE_COLUMNS, SqlTx, TOKEN_COLUMNS, USER_COLUMNS, b};
use crate::rows::{self, get};
use crate::sql::Run;

impl SqlTx {
    async fn user_roles(&mut self, user: UserId) -> StoreResult<Vec<RoleId>> {
        let rows = sqlx::query("SELECT role_id FROM user_roles WHERE user_id = $1")
            .bind(user.get())
            .all(&mut self.tx)
            .await?;
        rows.iter()
            .map(|r| get::<i64>(r, "role_id").map(RoleId::new))
            .collect()
    }

    async fn user_from_row(&mut self, row: Option<AnyRow>) -> StoreResult<Option<User>> {
        let Some(row) = row else { return Ok(None) };
        let id = UserId::new(get(&row, "id")?);
        let roles = self.user_roles(id).await?;
        rows::user(&row, roles).map(Some)
    }
}

#[async_trait]
impl DirectoryTx for SqlTx {
    async fn insert_account(&mut self, a: &Account) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO accounts (id, name, tba_enabled, require_approval, concurrency_limit, \
             created_at, token_max_lifetime_days, ip_allow) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(a.id.as_str().to_owned())
        .bind(a.name.clone())
        .bind(b(a.tba_enabled))
        .bind(b(a.require_approval_for_auto_install))
        .bind(a.concurrency_limit.map(i64::from))
        .bind(a.created_at.millis())
        .bind(a.token_max_lifetime_days.map(i64::from))
        .bind(a.ip_allow.to_stored())
        .run(&mut self.tx)
        .await?;
        Ok(())
    }

    async fn account(&mut self, id: &AccountId) -> StoreResult<Option<Account>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"
        ));
        let row = sqlx::query(sql)
            .bind(id.as_str().to_owned())
            .optional(&mut self.tx)
            .await?;
        row.as_ref().map(rows::account).transpose()
    }

    async fn update_account(&mut self, a: &Account) -> StoreResult<()> {
        sqlx::query(
            "UPDATE accounts SET name = $2, tba_enabled = $3, require_approval = $4, \
             concurrency_limit = $5, token_max_lifetime_days = $6, ip_allow = $7 WHERE id = $1",
        )
        .bind(a.id.as_str().to_owned())
        .bind(a.name.clone())
        .bind(b(a.tba_enabled))
        .bind(b(a.require_approval_for_auto_install))
        .bind(a.concurrency_limit.map(i64::from))
        .bind(a.token_max_lifetime_days.map(i64::from))
        .bind(a.ip_allow.to_stored())
        .run(&mut self.tx)
        .await?;
        Ok(())
    }

    async fn list_accounts(&mut self) -> StoreResult<Vec<Account>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id"
        ));
        let rows = sqlx::query(sql).all(&mut self.tx).await?;
        rows.iter().map(rows::account).collect()
    }

    async fn next_role_id(&mut self, account: &AccountId) -> StoreResult<RoleId> {
        let row = sqlx::query(
            "UPDATE accounts SET next_role_id = next_role_id + 1 WHERE id = $1 \
             RETURNING next_role_id - 1 AS id",
        )
        .bind(account.as_str().to_owned())
        .one(&mut self.tx)
        .await?;
        Ok(RoleId::new(get(&row, "id")?))
    }

    async fn insert_role(&mut self, r: &Role) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO roles (account_id, id, name, permissions, inactive, web_services_only, \
             token_login) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(r.account.as_str().to_owned())
        .bind(r.id.get())
        .bind(r.name.clone())
        .bind(r.permissions.to_codes())
        .bind(b(r.inactive))
        .bind(b(r.web_services_only))
        .bind(b(r.can_use_tokens()))
        .run(&mut self.tx)
        .await?;
        Ok(())
    }

    async fn role(&mut self, account: &AccountId, id: RoleId) -> StoreResult<Option<Role>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE account_id = $1 AND id = $2"
        ));
        let row = sqlx::query(sql)
            .bind(account.as_str().to_owned())
            .bind(id.get())
            .optional(&mut self.tx)
            .await?;
        row.as_ref().map(rows::role).transpose()
    }

    async fn update_role(&mut self, r: &Role) -> StoreResult<()> {
        let before = self.role(&r.account, r.id).await?;
        sqlx::query(
            "UPDATE roles SET name = $3, permissions = $4, inactive = $5, web_services_only = $6, \
             token_login = $7 WHERE account_id = $1 AND id = $2",
        )
        .bind(r.account.as_str().to_owned())
        .bind(r.id.get())
        .bind(r.name.clone())
        .bind(r.permissions.to_codes())
        .bind(b(r.inactive))
        .bind(b(r.web_services_only))
        .bind(b(r.can_use_tokens()))
        .run(&mut self.tx)
        .await?;
        if before.is_some_and(|old| old.name != r.name) {
            self.refresh_search_text(
                "role_id = $1 AND account_id = $2",
                (r.id.get(), Some(r.account.as_str())),
            )
            .await?;
        }
        Ok(())
    }

    async fn list_roles(&mut self, account: &AccountId) -> StoreResult<Vec<Role>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE account_id = $1 ORDER BY id"
        ));
        let rows = sqlx::query(sql)
            .bind(account.as_str().to_owned())
            .all(&mut self.tx)
            .await?;
        rows.iter().map(rows::role).collect()
    }

    async fn insert_user(&mut self, u: &NewUser) -> StoreResult<UserId> {
        let row = sqlx::query(
            "INSERT INTO users (account_id, name, email, active, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(u.account.as_str().to_owned())
        .bind(u.name.clone())
        .bind(u.email.as_str().to_owned())
        .bind(b(u.active))
        .bind(u.password_hash.clone())
        .bind(u.created_at.millis())
        .one(&mut self.tx)
        .await?;
        Ok(UserId::new(get(&row, "id")?))
    }

    async fn user(&mut self, account: &AccountId, id: UserId) -> StoreResult<Option<User>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE account_id = $1 AND id = $2"
        ));
        let row = sqlx::query(sql)
            .bind(account.as_str().to_owned())
            .bind(id.get())
            .optional(&mut self.tx)
            .await?;
        self.user_from_row(row).await
    }

    async fn user_by_email(
        &mut self,
        account: &AccountId,
        email: &Email,
    ) -> StoreResult<Option<User>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE account_id = $1 AND email = $2"
        ));
        let row = sqlx::query(sql)
            .bind(account.as_str().to_owned())
            .bind(email.as_str().to_owned())
            .optional(&mut self.tx)
            .await?;
        self.user_from_row(row).await
    }

    async fn update_user(&mut self, u: &User) -> StoreResult<()> {
        let before = self.user(&u.account, u.id).await?;
        sqlx::query(
            "UPDATE users SET name = $3, email = $4, active = $5 WHERE account_id = $1 AND id = $2",
        )
        .bind(u.account.as_str().to_owned())
        .bind(u.id.get())
        .bind(u.name.clone())
        .bind(u.email.as_str().to_owned())
        .bind(b(u.active))
        .run(&mut self.tx)
        .await?;
        if before.is_some_and(|old| old.name != u.name) {
            self.refresh_search_text("user_id = $1", (u.id.get(), None))
                .await?;
        }
        Ok(())
    }

    async fn set_user_roles(
        &mut self,
        account: &AccountId,
        user: UserId,
        roles: &[RoleId],
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(user.get())
            .run(&mut self.tx)
            .await?;
        for role in roles {
            sqlx::query(
                "INSERT INTO user_roles (user_id, account_id, role_id) VALUES ($1, $2, $3)",
            )
            .bind(user.get())
            .bind(account.as_str().to_owned())
            .bind(role.get())
            .run(&mut self.tx)
            .await?;
        }
        Ok(())
    }

    async fn password_hash(
        &mut self,
        account: &AccountId,
        user: UserId,
    ) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT password_hash FROM users WHERE account_id = $1 AND id = $2")
            .bind(account.as_str().to_owned())
            .bind(user.get())
            .optional(&mut self.tx)
            .await?;
        match row {
            Some(row) => get(&row, "password_hash"),
            None => Ok(None),
        }
    }

    async fn set_password_hash(
        &mut self,
        account: &AccountId,
        user: UserId,
        hash: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = $3 WHERE account_id = $1 AND id = $2")
            .bind(account.as_str().to_owned())
            .bind(user.get())
            .bind(hash.map(str::to_owned))
            .run(&mut self.tx)
            .await?;
        Ok(())
    }

    async fn delete_user(
        &mut self,
        account: &AccountId,
        id: UserId,
    ) -> StoreResult<Vec<AccessToken>> {
        let sql = AssertSqlSafe(format!(
            "DELETE FROM access_tokens WHERE account_id = $1 AND user_id = $2 RETURNING {TOKEN_COLUMNS}"
        ));
        let deleted = sqlx::query(sql)
            .bind(account.as_str().to_owned())
            .bind(id.get())
            .all(&mut self.tx)
            .await?;
        sqlx::query("DELETE FROM users WHERE account_id = $1 AND id = $2")
            .bind(account.as_str().to_owned())
            .bind(id.get())
            .run(&mut self.tx)
            .await?;
        let mut tokens = deleted
            .iter()
            .map(rows::token)
            .collect::<StoreResult<Vec<_>>>()?;
        tokens.sort_by_key(|t| t.key);
        Ok(tokens)
    }

    async fn list_users(&mut self, account: &AccountId) -> StoreResult<Vec<User>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE account_id = $1 ORDER BY id"
        ));
        let user_rows = sqlx::query(sql)
            .bind(account.as_str().to_owned())
            .all(&mut self.tx)
            .await?;
        let role_rows =
            sqlx::query("SELECT user_id, role_id FROM user_roles WHERE account_id = $1")
                .bind(account.as_str().to_owned())
                .all(&mut self.tx)
                .await?;
        let mut held: std::collections::HashMap<i64, Vec<RoleId>> =
            std::collections::HashMap::new();
        for r in &role_rows {
            held.entry(get(r, "user_id")?)
                .or_default()
                .push(RoleId::new(get(r, "role_id")?));
        }
        user_rows
            .iter()
            .map(|row| {
                let id: i64 = get(row, "id")?;
                rows::user(row, held.remove(&id).unwrap_or_default())
            })
            .collect()
    }
}
