//! The test harness: the same behavioural tests on SQLite (a temporary data directory) and on
//! PostgreSQL (a schema of its own per test, in the database named by `TESSERA_TEST_PG_URL`,
//! default the local machine's). PostgreSQL being unreachable fails the test, loudly; set
//! `TESSERA_TEST_PG=skip` to run only the SQLite half on a machine without it.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{Connection, Executor};
use tempfile::TempDir;
use tessera_core::Tessera;
use tessera_core::vault::{Keyring, MasterKey};
use tessera_store::{Backend, PoolSizes, SearchTuning, SqlStore};

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub struct Env {
    pub svc: Tessera,
    pub store: SqlStore,
    pub backend: Backend,
    pub dir: TempDir,
    pg: Option<(String, String)>,
}

/// `None` when the PostgreSQL half is switched off on purpose.
pub fn pg_url() -> Option<String> {
    if std::env::var("TESSERA_TEST_PG").is_ok_and(|v| v == "skip") {
        return None;
    }
    Some(std::env::var("TESSERA_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned()))
}

fn keyring() -> Arc<Keyring> {
    Arc::new(Keyring::new(vec![MasterKey::generate().unwrap()]).unwrap())
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!(
        "tessera_t_{secs}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}%2Cpublic")
}

impl Env {
    pub async fn sqlite() -> Env {
        Self::sqlite_with(SearchTuning::default()).await
    }

    pub async fn sqlite_with(tuning: SearchTuning) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlStore::open_data_dir(dir.path())
            .await
            .unwrap()
            .with_search_tuning(tuning);
        Env {
            svc: Tessera::new(Arc::new(store.clone()), keyring()),
            store,
            backend: Backend::Sqlite,
            dir,
            pg: None,
        }
    }

    /// `None` only when `TESSERA_TEST_PG=skip`.
    pub async fn postgres() -> Option<Env> {
        Self::postgres_with(SearchTuning::default()).await
    }

    pub async fn postgres_with(tuning: SearchTuning) -> Option<Env> {
        let url = pg_url()?;
        let schema = unique_name();
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {url} is unreachable ({e}). The storage tests run on both backends; \
                 start PostgreSQL, point TESSERA_TEST_PG_URL at one, or set TESSERA_TEST_PG=skip \
                 to run the SQLite half only."
            )
        });
        // The extension lives in `public`, shared by every test schema. Two test processes
        // creating it at once can race; the loser sees it exist on the retry.
        for attempt in 0..3 {
            match admin
                .execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
                .await
            {
                Ok(_) => break,
                Err(e) if attempt == 2 => panic!("cannot create extension pg_trgm: {e}"),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
        drop_stale_schemas(&mut admin).await;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .await
            .unwrap();
        let store = SqlStore::connect(
            &with_search_path(&url, &schema),
            PoolSizes {
                readers: 3,
                writers: 3,
            },
        )
        .await
        .unwrap()
        .with_search_tuning(tuning);
        Some(Env {
            svc: Tessera::new(Arc::new(store.clone()), keyring()),
            store,
            backend: Backend::Postgres,
            dir: tempfile::tempdir().unwrap(),
            pg: Some((url, schema)),
        })
    }

    /// A raw connection to the same database (and schema), for looking under the store.
    pub async fn raw(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        let url = match &self.pg {
            Some((url, schema)) => with_search_path(url, schema),
            None => format!(
                "sqlite://{}",
                self.dir.path().join(tessera_store::SQLITE_FILE).display()
            ),
        };
        sqlx::AnyConnection::connect(&url).await.unwrap()
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Some((url, schema)) = &self.pg {
            let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
            admin
                .execute(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .await
                .unwrap();
        }
    }
}

/// Schemas left by tests that panicked more than an hour ago.
async fn drop_stale_schemas(admin: &mut sqlx::PgConnection) {
    let cutoff = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .saturating_sub(3600);
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tessera\\_t\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for (name,) in names {
        let created: Option<u64> = name.split('_').nth(2).and_then(|s| s.parse().ok());
        if created.is_some_and(|c| c < cutoff) {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE"
                )))
                .await;
        }
    }
}

/// Runs each named `async fn(&Env)` on SQLite and on PostgreSQL, as `sqlite::NAME` and
/// `postgres::NAME`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let env = $crate::support::Env::sqlite().await;
                    super::$name(&env).await;
                    env.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(env) = $crate::support::Env::postgres().await else {
                        eprintln!("TESSERA_TEST_PG=skip: PostgreSQL half not run");
                        return;
                    };
                    super::$name(&env).await;
                    env.finish().await;
                }
            )*
        }
    };
}

pub mod world {
    use tessera_core::credentials::{ConsumerCredentials, TokenCredentials};
    use tessera_core::ids::{AccountId, Email, IntegrationId, RoleId, TokenKey, UserId};
    use tessera_core::model::{AuthSwitches, Context, Permission, PermissionSet};
    use tessera_core::{
        Actor, NewAccountInput, NewIntegrationInput, NewRoleInput, NewTokenInput, NewUserInput,
        Tessera,
    };

    pub const OP: Actor = Actor::Operator {
        context: Context::Cli,
    };

    /// A person acting with one role.
    #[derive(Debug, Clone)]
    pub struct Person {
        pub id: UserId,
        pub role: RoleId,
        pub actor: Actor,
    }

    impl Person {
        pub fn as_role(&self, role: RoleId) -> Actor {
            match &self.actor {
                Actor::User {
                    account,
                    user,
                    context,
                    ..
                } => Actor::user(account, *user, role, *context),
                Actor::Operator { .. } => unreachable!(),
            }
        }
    }

    /// Account A (1234567) with an administrator, a token manager, two token users, a clerk
    /// and an integration manager, and one integration record with TBA on; account B
    /// (7654321_SB1) with its own administrator.
    pub struct World {
        pub a: AccountId,
        pub b: AccountId,
        pub admin: Person,
        pub manager: Person,
        pub alice: Person,
        pub bob: Person,
        pub clerk: Person,
        pub integrator: Person,
        pub b_admin: Person,
        pub token_manager_role: RoleId,
        pub token_user_role: RoleId,
        pub token_login_role: RoleId,
        pub app: IntegrationId,
        pub app_creds: ConsumerCredentials,
    }

    pub async fn account(svc: &Tessera, id: &str, name: &str) -> AccountId {
        svc.create_account(
            &OP,
            NewAccountInput {
                id: AccountId::parse(id).unwrap(),
                name: name.to_owned(),
                tba_enabled: true,
                require_approval_for_auto_install: false,
                concurrency_limit: None,
            },
        )
        .await
        .unwrap()
        .id
    }

    pub async fn role(
        svc: &Tessera,
        account: &AccountId,
        name: &str,
        perms: &[Permission],
    ) -> RoleId {
        svc.create_role(
            &OP,
            account,
            NewRoleInput {
                name: name.to_owned(),
                permissions: PermissionSet::from_iter(perms.iter().copied()),
                web_services_only: false,
            },
        )
        .await
        .unwrap()
        .id
    }

    pub async fn person(
        svc: &Tessera,
        account: &AccountId,
        name: &str,
        roles: &[RoleId],
    ) -> Person {
        let email = format!("{}@example.com", name.to_lowercase().replace(' ', "."));
        let user = svc
            .create_user(
                &OP,
                account,
                NewUserInput {
                    name: name.to_owned(),
                    email: Email::parse(&email).unwrap(),
                    password: None,
                    roles: roles.to_vec(),
                },
            )
            .await
            .unwrap();
        Person {
            id: user.id,
            role: roles[0],
            actor: Actor::user(account, user.id, roles[0], Context::Api),
        }
    }

    pub fn tba() -> AuthSwitches {
        AuthSwitches {
            token_based_auth: true,
            ..AuthSwitches::default()
        }
    }

    pub async fn integration(
        svc: &Tessera,
        by: &Actor,
        name: &str,
    ) -> (IntegrationId, ConsumerCredentials) {
        let (view, creds) = svc
            .create_integration(
                by,
                NewIntegrationInput {
                    name: name.to_owned(),
                    description: String::new(),
                    switches: tba(),
                },
            )
            .await
            .unwrap();
        (view.integration.id, creds.unwrap())
    }

    impl World {
        pub async fn build(svc: &Tessera) -> World {
            use Permission::*;
            let a = account(svc, "1234567", "Wolfe Electronics").await;
            let b = account(svc, "7654321_sb1", "Partner Sandbox").await;
            let token_manager_role = role(svc, &a, "Token Manager", &[AccessTokenManagement]).await;
            let token_user_role =
                role(svc, &a, "Token User", &[UserAccessTokens, RestWebServices]).await;
            let token_login_role = role(svc, &a, "Token Login", &[LogInUsingAccessTokens]).await;
            let clerk_role = role(svc, &a, "Clerk", &[]).await;
            let integrator_role =
                role(svc, &a, "Integration Manager", &[IntegrationApplication]).await;
            let admin = person(
                svc,
                &a,
                "Ada Admin",
                &[RoleId::ADMINISTRATOR, token_user_role],
            )
            .await;
            let manager = person(svc, &a, "Max Manager", &[token_manager_role]).await;
            let alice = person(svc, &a, "Alice Able", &[token_user_role, token_login_role]).await;
            let bob = person(svc, &a, "Bob Baker", &[token_login_role]).await;
            let clerk = person(svc, &a, "Carl Clerk", &[clerk_role]).await;
            let integrator = person(svc, &a, "Ivy Integrator", &[integrator_role]).await;
            let b_admin = person(svc, &b, "Bea Admin", &[RoleId::ADMINISTRATOR]).await;
            let (app, app_creds) = integration(svc, &admin.actor, "Acme Sync").await;
            World {
                a,
                b,
                admin,
                manager,
                alice,
                bob,
                clerk,
                integrator,
                b_admin,
                token_manager_role,
                token_user_role,
                token_login_role,
                app,
                app_creds,
            }
        }

        /// A token for `owner` with `role`, created by the manager (or the owner itself for
        /// the Administrator role).
        pub async fn token(
            &self,
            svc: &Tessera,
            owner: &Person,
            role: RoleId,
        ) -> (TokenKey, TokenCredentials) {
            let by = if role == RoleId::ADMINISTRATOR {
                &owner.actor
            } else {
                &self.manager.actor
            };
            let (item, creds) = svc
                .create_token(
                    by,
                    NewTokenInput {
                        integration: self.app,
                        user: owner.id,
                        role,
                        name: None,
                    },
                )
                .await
                .unwrap();
            (item.token.key, creds)
        }
    }
}
