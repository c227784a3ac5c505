//! The token list at scale: first pages (unfiltered, revoked=Yes, text searches) with one
//! account holding N tokens, and create-token throughput through the service.
//!
//! ```text
//! cargo run --release -p tessera-store --example list_bench -- sqlite 1000000
//! cargo run --release -p tessera-store --example list_bench -- postgres 1000000
//! ```
//! PostgreSQL comes from `TESSERA_TEST_PG_URL` (default: the local machine's), in a schema of
//! its own that is dropped afterwards. Bulk seeding writes rows directly (sealed secrets and
//! all, as the service would); the timed calls all go through `Tessera`, as the API will.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection, Executor};
use tessera_core::ids::{AccountId, Email, IntegrationId, RoleId, TokenId, UserId};
use tessera_core::model::{AuthSwitches, Context, Permission, PermissionSet};
use tessera_core::store::{RevokedFilter, TokenFilter, TokenSort};
use tessera_core::vault::{Keyring, MasterKey, SecretSlot};
use tessera_core::{
    Actor, NewAccountInput, NewIntegrationInput, NewRoleInput, NewTokenInput, NewUserInput, Tessera,
};
use tessera_store::{SqlStore, StoreOptions};

const USERS: usize = 2000;
const APPS: usize = 20;
const BATCH: usize = 500;
const PAGE: u32 = 50;
const RUNS: usize = 25;

struct Setup {
    svc: Tessera,
    store: SqlStore,
    actor: Actor,
    account: AccountId,
    users: Vec<(UserId, String)>,
    apps: Vec<(IntegrationId, String)>,
    role: (RoleId, String),
    url: String,
}

/// A small deterministic generator, so runs are comparable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

const FIRST: [&str; 20] = [
    "Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jade", "Kai", "Lena", "Milo",
    "Nia", "Otto", "Pia", "Quin", "Rosa", "Sol", "Tara",
];
const LAST: [&str; 10] = [
    "Moreau",
    "Okafor",
    "Lindqvist",
    "Tanaka",
    "Silva",
    "Novak",
    "Haddad",
    "Kowalski",
    "Brennan",
    "Ibarra",
];

async fn setup(backend: &str) -> Setup {
    let op = Actor::Operator {
        context: Context::Cli,
    };
    let (store, url) = match backend {
        "sqlite" => {
            let dir = std::env::temp_dir().join(format!("tessera-bench-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(tessera_store::SQLITE_FILE);
            let store = SqlStore::open_sqlite_file(&path).await.unwrap();
            (store, format!("sqlite://{}", path.display()))
        }
        "postgres" => {
            let base = std::env::var("TESSERA_TEST_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            let schema = format!("tessera_bench_{}", std::process::id());
            let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
            admin
                .execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
                .await
                .unwrap();
            admin
                .execute(AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                )))
                .await
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}%2Cpublic");
            let store = SqlStore::connect(&url, StoreOptions::default())
                .await
                .unwrap();
            (store, url)
        }
        other => panic!("backend must be sqlite or postgres, not {other}"),
    };
    let keyring = Arc::new(Keyring::new(vec![MasterKey::generate().unwrap()]).unwrap());
    let svc = Tessera::new(Arc::new(store.clone()), keyring);
    let account = svc
        .create_account(
            &op,
            NewAccountInput {
                id: AccountId::parse("1234567").unwrap(),
                name: "Bench".to_owned(),
                tba_enabled: true,
                require_approval_for_auto_install: false,
                concurrency_limit: None,
            },
        )
        .await
        .unwrap()
        .id;
    let role = svc
        .create_role(
            &op,
            &account,
            NewRoleInput {
                name: "Web Services Login".to_owned(),
                permissions: PermissionSet::from_iter([Permission::LogInUsingAccessTokens]),
                web_services_only: true,
            },
        )
        .await
        .unwrap();
    let manager_role = svc
        .create_role(
            &op,
            &account,
            NewRoleInput {
                name: "Token Manager".to_owned(),
                permissions: PermissionSet::from_iter([Permission::AccessTokenManagement]),
                web_services_only: false,
            },
        )
        .await
        .unwrap();
    let admin = svc
        .create_user(
            &op,
            &account,
            NewUserInput {
                name: "Admin".to_owned(),
                email: Email::parse("admin@example.com").unwrap(),
                password: None,
                roles: vec![RoleId::ADMINISTRATOR, manager_role.id],
            },
        )
        .await
        .unwrap();
    let admin_actor = Actor::user(&account, admin.id, RoleId::ADMINISTRATOR, Context::Api);
    let actor = Actor::user(&account, admin.id, manager_role.id, Context::Api);
    let mut users = Vec::new();
    for i in 0..USERS {
        let name = format!(
            "{} {}-{i}",
            FIRST[i % FIRST.len()],
            LAST[(i / FIRST.len()) % LAST.len()]
        );
        let u = svc
            .create_user(
                &op,
                &account,
                NewUserInput {
                    name: name.clone(),
                    email: Email::parse(&format!("user{i}@example.com")).unwrap(),
                    password: None,
                    roles: vec![role.id],
                },
            )
            .await
            .unwrap();
        users.push((u.id, name));
    }
    let mut apps = Vec::new();
    for i in 0..APPS {
        let name = format!(
            "Connector {i:02} {}",
            ["Orders", "Billing", "Payroll", "Shipping"][i % 4]
        );
        let (view, _) = svc
            .create_integration(
                &admin_actor,
                NewIntegrationInput {
                    name: name.clone(),
                    description: String::new(),
                    switches: AuthSwitches {
                        token_based_auth: true,
                        ..AuthSwitches::default()
                    },
                },
            )
            .await
            .unwrap();
        apps.push((view.integration.id, name));
    }
    Setup {
        svc,
        store,
        actor,
        account,
        users,
        apps,
        role: (role.id, role.name),
        url,
    }
}

/// Writes `n` tokens in multi-row INSERTs: ~10% revoked, ~5% inactive, every 7th renamed.
async fn seed(s: &Setup, n: usize) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&s.url).await.unwrap();
    let mut rng = Lcg(42);
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let rows = BATCH.min(n - done);
        let mut sql = String::from(
            "INSERT INTO access_tokens (account_id, integration_id, user_id, role_id, name, name_key, \
             token_id, token_secret, token_secret_key_id, inactive, revoked, revoked_at, created_at, \
             created_by_name, search_text) VALUES ",
        );
        let mut p = 0;
        for r in 0..rows {
            if r > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..15 {
                if c > 0 {
                    sql.push(',');
                }
                p += 1;
                sql.push_str(&format!("${p}"));
            }
            sql.push(')');
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for _ in 0..rows {
            let (user, user_name) = &s.users[rng.next() as usize % s.users.len()];
            let (app, app_name) = &s.apps[rng.next() as usize % s.apps.len()];
            let name = if rng.next().is_multiple_of(7) {
                format!("Nightly export {}", rng.next() % 100_000)
            } else {
                format!("{app_name} - {user_name} - {}", s.role.1)
            };
            let token_id = TokenId::generate().unwrap();
            let sealed = s
                .svc
                .keyring()
                .seal(
                    &tessera_core::credentials::generate_secret().unwrap(),
                    SecretSlot::TokenSecret(&token_id),
                )
                .unwrap();
            let revoked = rng.next().is_multiple_of(10);
            let inactive = rng.next().is_multiple_of(20);
            let created = 1_700_000_000_000i64 + i64::try_from(done).unwrap();
            let search = format!("{name}\n{app_name}\n{user_name}\n{}", s.role.1);
            q = q
                .bind(s.account.as_str().to_owned())
                .bind(app.get())
                .bind(user.get())
                .bind(s.role.0.get())
                .bind(name.clone())
                .bind(name.to_lowercase())
                .bind(token_id.as_str().to_owned())
                .bind(sealed.blob)
                .bind(sealed.key_id)
                .bind(i64::from(inactive))
                .bind(i64::from(revoked))
                .bind(revoked.then_some(created + 1000))
                .bind(created)
                .bind("Seeder".to_owned())
                .bind(search);
            done += 1;
        }
        conn.transaction(|tx| Box::pin(async move { q.execute(&mut **tx).await }))
            .await
            .unwrap();
        if done % 100_000 == 0 {
            eprintln!(
                "  seeded {done} tokens ({:.0}/s)",
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    // The steady state of a live system: planner statistics (as PostgreSQL's autovacuum and
    // SQLite's `PRAGMA optimize` keep them) and, on PostgreSQL, a vacuumed table, so that the
    // measurements below do not race the autovacuum that a bulk load sets off.
    if s.url.starts_with("sqlite") {
        conn.execute("ANALYZE").await.unwrap();
    } else {
        conn.execute("VACUUM ANALYZE").await.unwrap();
    }
    eprintln!("seeded {n} tokens in {:.1?}", started.elapsed());
}

fn stats(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "median {:7.2} ms   p95 {:7.2} ms   max {:7.2} ms",
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() * 95 / 100]),
        ms(samples[samples.len() - 1])
    )
}

async fn first_page(s: &Setup, label: &str, filter: TokenFilter, sort: TokenSort) {
    let mut samples = Vec::new();
    let mut rows = 0;
    for i in 0..RUNS + 3 {
        let t = Instant::now();
        let page = s
            .svc
            .list_tokens(&s.actor, filter.clone(), sort, None, PAGE)
            .await
            .unwrap();
        if i >= 3 {
            samples.push(t.elapsed());
        }
        rows = page.items.len();
    }
    println!("  {label:<44} {rows:>3} rows   {}", stats(samples));
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let backend = args.get(1).map_or("sqlite", String::as_str).to_owned();
    let n: usize = args.get(2).map_or(1_000_000, |a| a.parse().unwrap());
    // `keep` leaves the database behind, for EXPLAIN and experiments.
    let keep = args.get(3).is_some_and(|a| a == "keep");
    let s = setup(&backend).await;
    seed(&s, n).await;

    println!("backend {backend}, {n} tokens in one account, page of {PAGE}, {RUNS} runs each");
    let search = |t: &str| TokenFilter {
        search: Some(t.to_owned()),
        ..TokenFilter::default()
    };
    first_page(
        &s,
        "unfiltered, newest first",
        TokenFilter::default(),
        TokenSort::NewestFirst,
    )
    .await;
    first_page(
        &s,
        "unfiltered, by name",
        TokenFilter::default(),
        TokenSort::Name,
    )
    .await;
    let revoked = TokenFilter {
        revoked: RevokedFilter::Yes,
        ..TokenFilter::default()
    };
    first_page(&s, "revoked = Yes", revoked, TokenSort::NewestFirst).await;
    let not_revoked = TokenFilter {
        revoked: RevokedFilter::No,
        ..TokenFilter::default()
    };
    first_page(&s, "revoked = No", not_revoked, TokenSort::NewestFirst).await;
    let user_name = &s.users[1234].1;
    first_page(
        &s,
        &format!("search {user_name:?} (one user)"),
        search(user_name),
        TokenSort::NewestFirst,
    )
    .await;
    first_page(
        &s,
        "search \"Payroll\" (a quarter)",
        search("Payroll"),
        TokenSort::NewestFirst,
    )
    .await;
    first_page(
        &s,
        "search \"export 4242\" (a few)",
        search("export 4242"),
        TokenSort::NewestFirst,
    )
    .await;
    first_page(
        &s,
        "search \"zqxj\" (nothing)",
        search("zqxj"),
        TokenSort::NewestFirst,
    )
    .await;
    first_page(
        &s,
        "search \"Tin\" (three letters, nothing)",
        search("Tin"),
        TokenSort::NewestFirst,
    )
    .await;
    first_page(
        &s,
        "search \"ada\" (three letters, common)",
        search("ada"),
        TokenSort::NewestFirst,
    )
    .await;
    first_page(
        &s,
        &format!("search {user_name:?}, by name"),
        search(user_name),
        TokenSort::Name,
    )
    .await;
    first_page(
        &s,
        "search \"Payroll\", by name",
        search("Payroll"),
        TokenSort::Name,
    )
    .await;
    let combined = TokenFilter {
        search: Some("Shipping".to_owned()),
        revoked: RevokedFilter::Yes,
        ..TokenFilter::default()
    };
    first_page(
        &s,
        "search \"Shipping\" + revoked = Yes",
        combined,
        TokenSort::NewestFirst,
    )
    .await;

    // Create-token throughput through the service: one transaction, one fsync, per token.
    let count = 500;
    let t = Instant::now();
    for i in 0..count {
        let (user, _) = s.users[i % s.users.len()];
        s.svc
            .create_token(
                &s.actor,
                NewTokenInput {
                    integration: s.apps[i % s.apps.len()].0,
                    user,
                    role: s.role.0,
                    name: None,
                    expires_at: None,
                },
            )
            .await
            .unwrap();
    }
    let serial = count as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let svc = s.svc.clone();
        let actor = s.actor.clone();
        let users: Vec<UserId> = s.users.iter().map(|u| u.0).collect();
        let app = s.apps[worker].0;
        let role = s.role.0;
        tasks.push(tokio::spawn(async move {
            for i in 0..count / 8 {
                svc.create_token(
                    &actor,
                    NewTokenInput {
                        integration: app,
                        user: users[(worker * 100 + i) % users.len()],
                        role,
                        name: None,
                        expires_at: None,
                    },
                )
                .await
                .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let parallel = (count / 8 * 8) as f64 / t.elapsed().as_secs_f64();
    println!(
        "  create token: {serial:.0}/s one at a time, {parallel:.0}/s from 8 concurrent callers"
    );

    s.store.close().await;
    if keep {
        eprintln!("kept: {}", s.url);
    } else if backend == "postgres" {
        let base = std::env::var("TESSERA_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
        admin
            .execute(AssertSqlSafe(format!(
                "DROP SCHEMA tessera_bench_{} CASCADE",
                std::process::id()
            )))
            .await
            .unwrap();
    } else if let Some(path) = s.url.strip_prefix("sqlite://") {
        let _ = std::fs::remove_dir_all(std::path::Path::new(path).parent().unwrap());
    }
}
