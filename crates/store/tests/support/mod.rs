//! The test harness: the same behavioural tests on SQLite (a temporary data directory) and on
//! PostgreSQL (a schema of its own per test, in the database named by `TESSERA_TEST_PG_URL`,
//! default the local machine's). PostgreSQL being unreachable fails the test, loudly; set
//! `TESSERA_TEST_PG=skip` to run only the SQLite half on a machine without it.

#![allow(dead_code)]

use std::ops::Deref;
use std::sync::Arc;

use tessera_core::Tessera;
use tessera_core::vault::{Keyring, MasterKey};
use tessera_store::SearchTuning;
use tessera_store::testing::TestDatabase;

/// A test database with the service over it.
pub struct Env {
    pub svc: Tessera,
    db: TestDatabase,
}

impl Deref for Env {
    type Target = TestDatabase;

    fn deref(&self) -> &TestDatabase {
        &self.db
    }
}

pub fn keyring() -> Arc<Keyring> {
    Arc::new(Keyring::new(vec![MasterKey::generate().unwrap()]).unwrap())
}

impl Env {
    fn over(db: TestDatabase) -> Env {
        Env {
            svc: Tessera::new(Arc::new(db.store.clone()), keyring()),
            db,
        }
    }

    pub async fn sqlite() -> Env {
        Self::over(TestDatabase::sqlite().await)
    }

    pub async fn sqlite_with(tuning: SearchTuning) -> Env {
        Self::over(TestDatabase::sqlite_with(tuning).await)
    }

    /// `None` only when `TESSERA_TEST_PG=skip`.
    pub async fn postgres() -> Option<Env> {
        TestDatabase::postgres().await.map(Self::over)
    }

    pub async fn postgres_with(tuning: SearchTuning) -> Option<Env> {
        TestDatabase::postgres_with(tuning).await.map(Self::over)
    }

    pub async fn finish(self) {
        self.db.finish().await;
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
    use tessera_core::model::{AuthSwitches, Context, Permission, PermissionSet, Timestamp};
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
            self.token_expiring(svc, owner, role, None).await
        }

        /// [`World::token`] with an expiry (R16; `None`: the account's maximum, or never).
        pub async fn token_expiring(
            &self,
            svc: &Tessera,
            owner: &Person,
            role: RoleId,
            expires_at: Option<Timestamp>,
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
                        expires_at,
                    },
                )
                .await
                .unwrap();
            (item.token.key, creds)
        }
    }
}
