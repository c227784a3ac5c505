//! `tessera bench`: a load generator that signs every request freshly (a new nonce each time)
//! with many tokens over many keep-alive connections, and reports throughput and latency
//! percentiles; optionally the same load against an unauthenticated endpoint first, as the
//! baseline. `tessera bench-seed`: writes N tokens whose credentials `bench --seeded N` derives.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tessera_core::bootstrap::OPERATOR;
use tessera_core::ids::{AccountId, ConsumerKey, Email, RoleId, TokenId};
use tessera_core::model::{Context, Timestamp};
use tessera_core::store::{NewToken, TxMode};
use tessera_core::vault::SecretSlot;
use tessera_core::{Actor, SecretString};
use tessera_oauth1::{RequestToSign, Signer};

use crate::Output;
use crate::keys::StoreArgs;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The signed endpoint to load, e.g. http://127.0.0.1:8080/app/site/hosting/restlet.nl?script=1&deploy=1
    #[arg(long)]
    url: String,
    /// Tokens from a fixtures file (those with explicit credentials).
    #[arg(long, conflicts_with = "seeded")]
    fixtures: Option<std::path::PathBuf>,
    /// Use the N tokens written by `tessera bench-seed` (credentials derived from --seed).
    #[arg(long, value_name = "N")]
    seeded: Option<u64>,
    /// The seed the tokens were written with.
    #[arg(long, default_value = "tessera")]
    seed: String,
    /// Keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Load generator threads [default: the number of cores].
    #[arg(long)]
    threads: Option<usize>,
    /// First run the same load, unsigned, against this path of the same server (e.g. /healthz).
    #[arg(long, value_name = "PATH")]
    baseline: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

#[derive(Debug, Args)]
pub struct BenchSeedArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Tokens to have (idempotent: existing ones are kept, missing ones written).
    #[arg(long, value_name = "N")]
    tokens: u64,
    /// Seed of the derived credentials.
    #[arg(long, default_value = "tessera")]
    seed: String,
    /// Account to write them in (created with its administrator if the database is empty).
    #[arg(long, default_value = "1234567")]
    account: String,
}

/// A credential derived from the seed: 64 lower-case hex characters.
fn derive(seed: &str, what: &str, i: u64) -> String {
    let digest = Sha256::digest(format!("tessera-bench {seed} {what} {i}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One signing identity of the load.
#[derive(Clone)]
struct Creds {
    realm: String,
    consumer_key: String,
    consumer_secret: SecretString,
    token_id: String,
    token_secret: SecretString,
}

/// Where the load's tokens come from.
enum Tokens {
    /// Signers built once.
    Fixed(Vec<Signer>),
    /// Derived for every request (the same client cost for 1 or 1,000,000 tokens).
    Seeded {
        seed: String,
        count: u64,
        realm: String,
    },
}

impl Tokens {
    /// The Authorization header of `request` signed as token `i`, with a fresh nonce.
    fn authorization(&self, i: u64, request: &RequestToSign<'_>) -> Option<String> {
        let signed = match self {
            Tokens::Fixed(signers) => {
                signers[(i % signers.len() as u64) as usize].authorization(request)
            }
            Tokens::Seeded { seed, count, realm } => {
                let n = i % count;
                signer_of(&Creds {
                    realm: realm.clone(),
                    consumer_key: derive(seed, "consumer key", 0),
                    consumer_secret: derive(seed, "consumer secret", 0).into(),
                    token_id: derive(seed, "token id", n),
                    token_secret: derive(seed, "token secret", n).into(),
                })
                .authorization(request)
            }
        };
        signed.ok()
    }

    fn len(&self) -> u64 {
        match self {
            Tokens::Fixed(s) => s.len() as u64,
            Tokens::Seeded { count, .. } => *count,
        }
    }
}

fn signer_of(c: &Creds) -> Signer {
    Signer::new(
        &c.consumer_key,
        &c.consumer_secret,
        &c.token_id,
        &c.token_secret,
    )
    .with_realm(&c.realm)
}

fn fixture_tokens(path: &std::path::Path) -> anyhow::Result<Vec<Signer>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let f = tessera_core::fixtures::Fixtures::parse(&text)?;
    let mut signers = Vec::new();
    for t in &f.tokens {
        let (Some(tid), Some(ts)) = (&t.token_id, &t.token_secret) else {
            continue;
        };
        let Some(app) = f.integrations.iter().find(|i| i.name == t.integration) else {
            continue;
        };
        let (Some(ck), Some(cs)) = (&app.consumer_key, &app.consumer_secret) else {
            continue;
        };
        let realm = AccountId::parse(&t.account)
            .map(|a| a.as_str().to_owned())
            .unwrap_or_else(|_| t.account.clone());
        signers.push(signer_of(&Creds {
            realm,
            consumer_key: ck.clone(),
            consumer_secret: cs.as_str().into(),
            token_id: tid.clone(),
            token_secret: ts.as_str().into(),
        }));
    }
    if signers.is_empty() {
        bail!(
            "{} has no token with explicit token_id/token_secret whose integration has explicit \
             consumer credentials",
            path.display()
        );
    }
    Ok(signers)
}

/// What one run measured.
#[derive(Debug, Serialize)]
struct Report {
    label: &'static str,
    requests: u64,
    seconds: f64,
    throughput: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    statuses: std::collections::BTreeMap<u16, u64>,
    errors: u64,
}

struct Target {
    addr: String,
    host: String,
    url: String,
    path_and_query: String,
}

fn target(url: &str) -> anyhow::Result<Target> {
    let parsed = tessera_oauth1::RequestUrl::parse(url).context("--url")?;
    if parsed.scheme() != tessera_oauth1::Scheme::Http {
        bail!("bench speaks plain HTTP to a local server; use an http:// URL");
    }
    let port = parsed.port().unwrap_or(80);
    let host = parsed.host().to_owned();
    let authority = match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let path_and_query = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let addr_host = host.trim_start_matches('[').trim_end_matches(']');
    Ok(Target {
        addr: format!("{addr_host}:{port}").replace("localhost:", "127.0.0.1:"),
        host: authority,
        url: url.to_owned(),
        path_and_query,
    })
}

async fn connection_loop(
    target: Arc<Target>,
    tokens: Option<Arc<Tokens>>,
    start_index: u64,
    warm_until: Instant,
    stop_at: Instant,
) -> (Vec<u32>, std::collections::BTreeMap<u16, u64>, u64) {
    let mut latencies = Vec::with_capacity(100_000);
    let mut statuses = std::collections::BTreeMap::new();
    let mut errors = 0u64;
    // A different sequence every run, so one run does not find the tokens the last one warmed.
    let run_seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut rng = (start_index ^ run_seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    'reconnect: while Instant::now() < stop_at {
        let Ok(stream) = tokio::net::TcpStream::connect(&target.addr).await else {
            errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, conn)) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await
        else {
            errors += 1;
            continue;
        };
        tokio::spawn(conn);
        while Instant::now() < stop_at {
            let mut request = hyper::Request::get(&target.path_and_query)
                .header(hyper::header::HOST, &target.host);
            if let Some(tokens) = &tokens {
                // xorshift: a uniform spread over the tokens.
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let to_sign = RequestToSign {
                    method: "GET",
                    url: &target.url,
                    ..RequestToSign::default()
                };
                let Some(authorization) = tokens.authorization(rng % tokens.len().max(1), &to_sign)
                else {
                    errors += 1;
                    continue;
                };
                request = request.header(hyper::header::AUTHORIZATION, authorization);
            }
            let Ok(request) = request.body(Empty::new()) else {
                errors += 1;
                continue;
            };
            let started = Instant::now();
            let Ok(response) = sender.send_request(request).await else {
                errors += 1;
                continue 'reconnect;
            };
            let status = response.status().as_u16();
            if response.into_body().collect().await.is_err() {
                errors += 1;
                continue 'reconnect;
            }
            let done = Instant::now();
            if started >= warm_until {
                let micros = done.duration_since(started).as_micros();
                latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                *statuses.entry(status).or_insert(0) += 1;
            }
        }
    }
    (latencies, statuses, errors)
}

async fn run_load(
    label: &'static str,
    target: Arc<Target>,
    tokens: Option<Arc<Tokens>>,
    args: &BenchArgs,
) -> Report {
    let begin = Instant::now();
    let warm_until = begin + Duration::from_secs(args.warmup);
    let stop_at = warm_until + Duration::from_secs(args.duration);
    let tasks: Vec<_> = (0..args.connections)
        .map(|c| {
            tokio::spawn(connection_loop(
                target.clone(),
                tokens.clone(),
                c as u64 + 1,
                warm_until,
                stop_at,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut statuses = std::collections::BTreeMap::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, s, e)) = t.await {
            latencies.extend(l);
            for (k, v) in s {
                *statuses.entry(k).or_insert(0) += v;
            }
            errors += e;
        }
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        f64::from(latencies[i]) / 1000.0
    };
    let seconds = args.duration as f64;
    Report {
        label,
        requests: latencies.len() as u64,
        seconds,
        throughput: latencies.len() as f64 / seconds,
        p50_ms: pct(0.5),
        p90_ms: pct(0.9),
        p99_ms: pct(0.99),
        p999_ms: pct(0.999),
        max_ms: pct(1.0),
        statuses,
        errors,
    }
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let target = Arc::new(target(&args.url)?);
    let tokens = match (&args.fixtures, args.seeded) {
        (Some(path), _) => Tokens::Fixed(fixture_tokens(path)?),
        (None, Some(count)) if count > 0 => Tokens::Seeded {
            seed: args.seed.clone(),
            count,
            realm: "1234567".to_owned(),
        },
        _ => bail!("give --fixtures FILE or --seeded N (tokens written by tessera bench-seed)"),
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let reports = runtime.block_on(async {
        let mut reports = Vec::new();
        if let Some(path) = &args.baseline {
            let base = Arc::new(Target {
                addr: target.addr.clone(),
                host: target.host.clone(),
                url: String::new(),
                path_and_query: path.clone(),
            });
            reports.push(run_load("baseline (unsigned)", base, None, args).await);
        }
        reports.push(run_load("signed", target.clone(), Some(Arc::new(tokens)), args).await);
        reports
    });
    let ok = reports
        .last()
        .map(|r| r.statuses.get(&200).copied().unwrap_or(0))
        .unwrap_or(0);
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
        Output::Text => {
            println!(
                "{} connections, {} s measured after {} s warm-up",
                args.connections, args.duration, args.warmup
            );
            for r in &reports {
                println!(
                    "{:<20} {:>9.0} req/s  p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms  statuses {:?}  errors {}",
                    r.label,
                    r.throughput,
                    r.p50_ms,
                    r.p90_ms,
                    r.p99_ms,
                    r.p999_ms,
                    r.max_ms,
                    r.statuses,
                    r.errors
                );
            }
            if let [base, signed] = &reports[..] {
                println!(
                    "signed / baseline throughput: {:.1} %",
                    100.0 * signed.throughput / base.throughput.max(1.0)
                );
            }
        }
    }
    if ok == 0 {
        bail!("no signed request got a 200: check the URL, the realm and the tokens");
    }
    Ok(())
}

// ----- bench-seed -----

pub fn seed(args: &BenchSeedArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(seed_async(args))
}

async fn seed_async(args: &BenchSeedArgs) -> anyhow::Result<()> {
    let store = args.store.open().await?;
    let tessera = crate::keys::open_service(&store, &args.store.data_dir).await?;
    let account = AccountId::parse(&args.account).context("--account")?;
    let bootstrap = tessera_core::bootstrap::BootstrapSettings {
        account: account.clone(),
        account_name: "Tessera".into(),
        admin_name: "Administrator".into(),
        admin_email: Email::parse("admin@example.com")?,
    };
    if let Some(created) =
        tessera_core::bootstrap::bootstrap_if_empty(&tessera, &bootstrap, |created| {
            println!(
                "Password (shown once; store it now): {}",
                created.admin_password.expose()
            );
            Ok(())
        })
        .await?
    {
        println!(
            "Created account {} with administrator {}.",
            created.account, created.admin_email
        );
    }
    // The role, user and integration record through the service (idempotent via fixtures).
    let f = tessera_core::fixtures::Fixtures::parse(&format!(
        r#"
[[roles]]
account = "{account}"
name = "Bench Login"
permissions = ["LOG_IN_USING_ACCESS_TOKENS"]

[[users]]
account = "{account}"
name = "Bench User"
email = "bench@example.com"
roles = ["Bench Login"]

[[integrations]]
account = "{account}"
name = "Tessera Bench"
consumer_key = "{ck}"
consumer_secret = "{cs}"
"#,
        ck = derive(&args.seed, "consumer key", 0),
        cs = derive(&args.seed, "consumer secret", 0),
    ))?;
    tessera_core::fixtures::apply(&tessera, &f).await?;
    let users = tessera.list_users(&OPERATOR, &account).await?;
    let user = users
        .iter()
        .find(|u| u.email.as_str() == "bench@example.com")
        .context("bench user missing")?;
    let role = tessera
        .list_roles(&OPERATOR, &account)
        .await?
        .into_iter()
        .find(|r| r.name == "Bench Login")
        .context("bench role missing")?;
    let admin = users
        .iter()
        .find(|u| u.holds(RoleId::ADMINISTRATOR))
        .context("the account has no administrator")?;
    let actor = Actor::user(&account, admin.id, RoleId::ADMINISTRATOR, Context::Cli);
    let app = tessera
        .list_integrations(&actor, true)
        .await?
        .into_iter()
        .find(|v| v.is_owner && v.integration.name == "Tessera Bench")
        .context("bench integration missing")?;
    let ck = ConsumerKey::parse(&derive(&args.seed, "consumer key", 0))?;
    // Tokens are written in order and committed in batches: the first missing one is found
    // by bisection.
    let exists = |i: u64| {
        let tessera = tessera.clone();
        let ck = ck.clone();
        let seed = args.seed.clone();
        async move {
            let tid = TokenId::parse(&derive(&seed, "token id", i))?;
            anyhow::Ok(
                tessera
                    .store()
                    .login_record(&ck, &tid)
                    .await?
                    .is_some_and(|r| r.token.is_some()),
            )
        }
    };
    let (mut lo, mut hi) = (0u64, args.tokens);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if exists(mid).await? {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let started = Instant::now();
    let mut i = lo;
    const BATCH: u64 = 5_000;
    while i < args.tokens {
        let end = (i + BATCH).min(args.tokens);
        let mut tx = tessera.store().begin(TxMode::Write).await?;
        for n in i..end {
            let token_id = TokenId::parse(&derive(&args.seed, "token id", n))?;
            let secret = SecretString::from(derive(&args.seed, "token secret", n));
            let sealed = tessera
                .keyring()
                .seal(&secret, SecretSlot::TokenSecret(&token_id))?;
            tx.insert_token(&NewToken {
                account: account.clone(),
                integration: app.integration.id,
                user: user.id,
                role: role.id,
                name: format!("bench {n}"),
                token_id,
                token_secret: sealed,
                created_at: Timestamp::now(),
                created_by: Some(admin.id),
                created_by_name: "tessera bench-seed".into(),
                expires_at: None,
            })
            .await?;
        }
        tx.commit().await?;
        i = end;
        if i % 100_000 == 0 || i == args.tokens {
            eprintln!(
                "  {i} tokens ({:.0}/s)",
                (i - lo) as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    store.close().await;
    println!(
        "{} bench tokens in account {account} ({} written now); consumer key {}",
        args.tokens,
        args.tokens - lo,
        ck.as_str()
    );
    Ok(())
}
