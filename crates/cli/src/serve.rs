//! `tessera serve`: the server, with the embedded SQLite default or PostgreSQL.
//!
//! Settings come from flags, then `TESSERA_*` environment variables (clap reads both), then
//! the config file (`--config`), then the defaults.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;
use serde::Deserialize;
use tessera_core::Tessera;
use tessera_core::bootstrap::{
    BootstrapSettings, CliIntegration, bootstrap_if_empty, ensure_cli_integration,
};
use tessera_core::fixtures;
use tessera_core::ids::{AccountId, Email};
use tessera_core::verifier::VerifierConfig;
use tessera_oauth1::Profile;
use tessera_server::{AppState, ServerConfig};
use tessera_store::{SqlStore, StoreOptions};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML config file; flags and TESSERA_* variables override what it says.
    #[arg(long, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "TESSERA_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory: SQLite database and master key [default: tessera-data].
    #[arg(long, env = "TESSERA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://…) instead of the SQLite database in the data directory.
    #[arg(long, env = "TESSERA_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where clients reach this server, as scheme://host[:port]; repeat or comma-separate.
    /// Signatures are checked against these [default: the listen address, localhost forms].
    #[arg(
        long = "public-origin",
        env = "TESSERA_PUBLIC_ORIGINS",
        value_delimiter = ','
    )]
    pub public_origins: Vec<String>,
    /// Proxy addresses whose X-Forwarded-* headers are believed; repeat or comma-separate.
    #[arg(
        long = "trusted-proxy",
        env = "TESSERA_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpAddr>,
    /// Addresses allowed to call /api/v1/verify and forward-auth [default: loopback].
    #[arg(
        long = "trusted-service",
        env = "TESSERA_TRUSTED_SERVICES",
        value_delimiter = ','
    )]
    pub trusted_services: Vec<IpAddr>,
    /// oauth_timestamp acceptance window, ± seconds [default: 300].
    #[arg(long, env = "TESSERA_TIMESTAMP_WINDOW")]
    pub timestamp_window: Option<u64>,
    /// Concurrency limit of accounts without their own [default: 15].
    #[arg(long, env = "TESSERA_DEFAULT_CONCURRENCY_LIMIT")]
    pub default_concurrency_limit: Option<u32>,
    /// Fixtures (TOML) to create at start-up, idempotently. See fixtures.example.toml.
    #[arg(long, env = "TESSERA_FIXTURES")]
    pub fixtures: Option<PathBuf>,
    /// Account created on first start with an empty database [default: 1234567].
    #[arg(long, env = "TESSERA_BOOTSTRAP_ACCOUNT")]
    pub bootstrap_account: Option<String>,
    /// Email of the administrator created on first start [default: admin@example.com].
    #[arg(long, env = "TESSERA_BOOTSTRAP_ADMIN_EMAIL")]
    pub bootstrap_admin_email: Option<String>,
    /// Log filter (error, warn, info, debug, trace, or tracing directives) [default: info].
    #[arg(long, env = "TESSERA_LOG")]
    pub log: Option<String>,
    /// Database connections for reads and for writes (PostgreSQL) [default: 8].
    #[arg(long, env = "TESSERA_DB_CONNECTIONS")]
    pub db_connections: Option<u32>,
    /// Seconds a request waits for a database connection before it is answered 503 [default: 3].
    #[arg(long, env = "TESSERA_DB_ACQUIRE_TIMEOUT")]
    pub db_acquire_timeout: Option<u64>,
    /// PostgreSQL: seconds after which the database cancels a statement [default: 10].
    #[arg(long, env = "TESSERA_DB_STATEMENT_TIMEOUT")]
    pub db_statement_timeout: Option<u64>,
    /// Seconds requests in flight may take to finish after a shutdown is requested [default: 30].
    #[arg(long, env = "TESSERA_SHUTDOWN_GRACE")]
    pub shutdown_grace: Option<u64>,
}

/// The config file: the same settings, snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    #[serde(default)]
    public_origins: Vec<String>,
    #[serde(default)]
    trusted_proxies: Vec<IpAddr>,
    #[serde(default)]
    trusted_services: Vec<IpAddr>,
    timestamp_window: Option<u64>,
    default_concurrency_limit: Option<u32>,
    fixtures: Option<PathBuf>,
    bootstrap_account: Option<String>,
    bootstrap_account_name: Option<String>,
    bootstrap_admin_email: Option<String>,
    bootstrap_admin_name: Option<String>,
    log: Option<String>,
    db_connections: Option<u32>,
    db_acquire_timeout: Option<u64>,
    db_statement_timeout: Option<u64>,
    shutdown_grace: Option<u64>,
    max_body_bytes: Option<usize>,
    login_failures_per_hour: Option<usize>,
    login_failures_per_user_and_source: Option<usize>,
    /// Minutes without a request after which a web UI session ends.
    ui_idle_minutes: Option<u64>,
    /// Hours after sign-in after which a web UI session ends.
    ui_session_hours: Option<u64>,
    /// Days login audit rows are kept [default: 90].
    audit_retention_days: Option<u64>,
    /// A refused signed request is answered no sooner than this many milliseconds after it
    /// came in, whatever the reason [default: 2].
    refusal_floor_ms: Option<u64>,
    /// Seconds allowed for a request's line and headers (also the longest keep-alive wait).
    header_timeout_secs: Option<u64>,
    /// Seconds allowed for a request's body after its headers.
    body_timeout_secs: Option<u64>,
    /// Seconds a kept-alive connection may wait for its next request.
    keepalive_timeout_secs: Option<u64>,
    /// Open connections at most (lowered to fit the open-file limit).
    max_connections: Option<usize>,
    /// Open connections from one client address at most [default: half of max_connections].
    max_connections_per_address: Option<usize>,
}

/// Everything `serve` needs, resolved.
#[derive(Debug)]
struct Settings {
    listen: SocketAddr,
    data_dir: PathBuf,
    database_url: Option<String>,
    fixtures: Option<PathBuf>,
    bootstrap: BootstrapSettings,
    default_concurrency_limit: u32,
    log: String,
    store: StoreOptions,
    server: ServerConfig,
}

fn either<T>(flag: Option<T>, file: Option<T>) -> Option<T> {
    flag.or(file)
}

fn list<T>(flag: Vec<T>, file: Vec<T>) -> Vec<T> {
    if flag.is_empty() { file } else { flag }
}

fn resolve(args: ServeArgs) -> anyhow::Result<Settings> {
    let file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the config file {}", path.display()))?;
            toml::from_str::<FileConfig>(&text)
                .with_context(|| format!("config file {} is not valid", path.display()))?
        }
        None => FileConfig::default(),
    };
    // Paths in the config file are relative to the file.
    let base = args
        .config
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let from_file = |p: Option<PathBuf>| p.map(|p| base.join(p));
    let account = either(args.bootstrap_account, file.bootstrap_account)
        .unwrap_or_else(|| "1234567".to_owned());
    let account = AccountId::parse(&account)
        .with_context(|| format!("bootstrap account {account:?} is not a NetSuite account id"))?;
    let email = either(args.bootstrap_admin_email, file.bootstrap_admin_email)
        .unwrap_or_else(|| "admin@example.com".to_owned());
    let email = Email::parse(&email)
        .with_context(|| format!("bootstrap administrator email {email:?} is not valid"))?;
    let window = either(args.timestamp_window, file.timestamp_window).unwrap_or(300);
    if window == 0 || window > 24 * 3600 {
        bail!("the timestamp window must be between 1 and 86400 seconds (got {window})");
    }
    let limit = either(
        args.default_concurrency_limit,
        file.default_concurrency_limit,
    )
    .unwrap_or(tessera_core::DEFAULT_CONCURRENCY_LIMIT);
    if limit == 0 {
        bail!("the default concurrency limit must be at least 1");
    }
    let mut server = ServerConfig {
        public_origins: list(args.public_origins, file.public_origins),
        trusted_proxies: list(args.trusted_proxies, file.trusted_proxies),
        trusted_services: list(args.trusted_services, file.trusted_services),
        verifier: VerifierConfig {
            profile: Profile {
                timestamp_window_secs: window,
            },
            ..VerifierConfig::default()
        },
        ..ServerConfig::default()
    };
    if let Some(max) = file.max_body_bytes {
        server.max_body_bytes = max;
    }
    if let Some(limit) = file.login_failures_per_hour {
        if limit == 0 {
            bail!("login_failures_per_hour must be at least 1");
        }
        server.login_failures_per_hour = limit;
    }
    if let Some(limit) = file.login_failures_per_user_and_source {
        if limit == 0 {
            bail!("login_failures_per_user_and_source must be at least 1");
        }
        server.login_failures_per_user_and_source = limit;
    }
    if let Some(minutes) = file.ui_idle_minutes {
        if minutes == 0 || minutes > 24 * 60 {
            bail!("ui_idle_minutes must be between 1 and 1440 (got {minutes})");
        }
        server.ui_idle_timeout = std::time::Duration::from_secs(minutes * 60);
    }
    if let Some(hours) = file.ui_session_hours {
        if hours == 0 || hours > 24 * 30 {
            bail!("ui_session_hours must be between 1 and 720 (got {hours})");
        }
        server.ui_session_lifetime = std::time::Duration::from_secs(hours * 3600);
    }
    let seconds = |name: &str, value: Option<u64>, into: &mut std::time::Duration| {
        if let Some(secs) = value {
            if secs == 0 || secs > 3600 {
                bail!("{name} must be between 1 and 3600 (got {secs})");
            }
            *into = std::time::Duration::from_secs(secs);
        }
        Ok(())
    };
    seconds(
        "header_timeout_secs",
        file.header_timeout_secs,
        &mut server.edge.header_timeout,
    )?;
    seconds(
        "body_timeout_secs",
        file.body_timeout_secs,
        &mut server.edge.body_timeout,
    )?;
    seconds(
        "keepalive_timeout_secs",
        file.keepalive_timeout_secs,
        &mut server.edge.keepalive_timeout,
    )?;
    if let Some(days) = file.audit_retention_days {
        if days == 0 || days > 100 * 365 {
            bail!("audit_retention_days must be between 1 and 36500 (got {days})");
        }
        server.verifier.audit_retention = std::time::Duration::from_secs(days * 24 * 3600);
    }
    if let Some(ms) = file.refusal_floor_ms {
        if ms > 1000 {
            bail!("refusal_floor_ms must be at most 1000 (got {ms})");
        }
        server.verifier.refusal_floor = std::time::Duration::from_millis(ms);
    }
    if let Some(max) = file.max_connections {
        if max == 0 {
            bail!("max_connections must be at least 1");
        }
        server.edge.max_connections = max;
    }
    if let Some(max) = file.max_connections_per_address {
        if max == 0 {
            bail!("max_connections_per_address must be at least 1");
        }
        server.edge.max_connections_per_address = Some(max);
    }
    let db_connections = either(args.db_connections, file.db_connections).unwrap_or(8);
    if db_connections == 0 {
        bail!("db_connections must be at least 1");
    }
    let mut store = StoreOptions {
        readers: db_connections,
        writers: db_connections,
        ..StoreOptions::default()
    };
    seconds(
        "db_acquire_timeout",
        either(args.db_acquire_timeout, file.db_acquire_timeout),
        &mut store.acquire_timeout,
    )?;
    seconds(
        "db_statement_timeout",
        either(args.db_statement_timeout, file.db_statement_timeout),
        &mut store.statement_timeout,
    )?;
    // A signed request waits for the store no longer than two acquire time-outs.
    server.verifier.store_wait = store.acquire_timeout * 2;
    seconds(
        "shutdown_grace",
        either(args.shutdown_grace, file.shutdown_grace),
        &mut server.shutdown_grace,
    )?;
    for origin in &server.public_origins {
        tessera_server::Origin::parse(origin).map_err(anyhow::Error::msg)?;
    }
    Ok(Settings {
        listen: either(args.listen, file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        data_dir: args
            .data_dir
            .or_else(|| from_file(file.data_dir))
            .unwrap_or_else(|| PathBuf::from("tessera-data")),
        database_url: either(args.database_url, file.database_url),
        fixtures: args.fixtures.or_else(|| from_file(file.fixtures)),
        bootstrap: BootstrapSettings {
            account,
            account_name: file
                .bootstrap_account_name
                .unwrap_or_else(|| "Tessera".to_owned()),
            admin_name: file
                .bootstrap_admin_name
                .unwrap_or_else(|| "Administrator".to_owned()),
            admin_email: email,
        },
        default_concurrency_limit: limit,
        log: either(args.log, file.log).unwrap_or_else(|| "info".to_owned()),
        store,
        server,
    })
}

/// The log filter in force: the operator's, with the database driver at WARN unless the filter
/// names it (its INFO lines — pings of idle connections, PostgreSQL notices such as "relation
/// already exists" at every start — say nothing an operator acts on; Tessera logs every
/// database failure itself, with the driver's message).
fn effective_filter(filter: &str) -> String {
    if filter.contains("sqlx") {
        filter.to_owned()
    } else {
        format!("{filter},sqlx=warn")
    }
}

fn init_logging(filter: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(effective_filter(filter))
        .with_context(|| format!("log filter {filter:?} is not valid"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = resolve(args)?;
    init_logging(&settings.log)?;
    raise_open_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(settings))
}

/// Raises the soft open-file limit to the hard one, as nginx's `worker_rlimit_nofile` does:
/// every connection is a descriptor, and the connection cap is fitted under this limit.
fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %tessera_core::Chain(&e), "cannot raise the open-file limit");
        }
    }
}

async fn open_store(s: &Settings) -> anyhow::Result<SqlStore> {
    // 0700 whatever the umask: it holds the master key (and, on SQLite, the database).
    tessera_store::datadir::secure_dir(&s.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {} (mode 0700)",
            s.data_dir.display()
        )
    })?;
    match &s.database_url {
        Some(url) => SqlStore::connect(url, s.store)
            .await
            .context("cannot open the PostgreSQL database"),
        None => SqlStore::open_data_dir(&s.data_dir)
            .await
            .context("cannot open the SQLite database"),
    }
}

async fn serve(s: Settings) -> anyhow::Result<()> {
    let store = open_store(&s).await?;
    tracing::info!(
        backend = tessera_core::store::Store::backend(&store),
        "store open"
    );
    // Of several nodes started at once on one database, one at a time makes the key check,
    // the first account and the fixtures; the others then find them.
    let lock = store
        .start_lock(|| tracing::info!("another node is starting on this database; waiting for it"))
        .await
        .context("cannot take the database's start-up lock")?;
    let tessera = crate::keys::open_service(&store, &s.data_dir).await?;
    let tessera = tessera.with_default_concurrency_limit(s.default_concurrency_limit);
    first_start(&tessera, &s).await?;
    lock.release().await;
    let listener = tokio::net::TcpListener::bind(s.listen)
        .await
        .with_context(|| format!("cannot listen on {}", s.listen))?;
    let local = listener.local_addr()?;
    let state = AppState::new(tessera, s.server, local, s.default_concurrency_limit)
        .map_err(anyhow::Error::msg)?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "tessera listening on http://{local}")?;
        writeln!(out, "Admin web UI: http://{local}/app")?;
        out.flush()?;
    }
    tracing::info!(%local, "listening");
    tessera_server::serve(listener, state, shutdown_signal())
        .await
        .context("the server failed")?;
    tracing::info!("shut down");
    store.close().await;
    Ok(())
}

/// The first account (its password shown once, on stdout, never in the log), the fixtures,
/// and the built-in CLI record of a database made before it was part of the first account.
async fn first_start(tessera: &Tessera, s: &Settings) -> anyhow::Result<()> {
    let shown = bootstrap_if_empty(tessera, &s.bootstrap, |created| {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "Password (shown once; store it now): {}",
            created.admin_password.expose()
        )?;
        out.flush()
    })
    .await
    .context("cannot create the first account (a password printed above was not saved)")?;
    if let Some(created) = shown {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "Created account {} with administrator {}.",
            created.account, created.admin_email
        )?;
        out.flush()?;
    }
    if let Some(path) = &s.fixtures {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the fixtures file {}", path.display()))?;
        let parsed = fixtures::Fixtures::parse(&text)
            .with_context(|| format!("fixtures file {}", path.display()))?;
        let report = fixtures::apply(tessera, &parsed)
            .await
            .with_context(|| format!("fixtures file {}", path.display()))?;
        tracing::info!(
            created = report.created.len(),
            existing = report.existing.len(),
            file = %path.display(),
            "fixtures applied"
        );
    }
    let recover = format!(
        "`tessera recover-admin --account {}` gives it one",
        s.bootstrap.account
    );
    match ensure_cli_integration(tessera, &s.bootstrap.account).await {
        Ok(CliIntegration::Present) => {}
        Ok(CliIntegration::Created(account)) => {
            tracing::info!(%account, "created the built-in \"Tessera CLI\" integration record")
        }
        Ok(CliIntegration::NoAdministrator(account)) => tracing::warn!(
            %account,
            "the built-in \"Tessera CLI\" integration record is missing and the account has no active administrator to create it; `tessera login` cannot work until it exists; {recover}"
        ),
        Err(tessera_core::Error::NotFound { .. }) => tracing::warn!(
            account = %s.bootstrap.account,
            "the built-in \"Tessera CLI\" integration record is missing and its account does not exist here; `tessera login` cannot work until it exists"
        ),
        Err(e) => {
            return Err(e).context("cannot create the built-in Tessera CLI integration record");
        }
    }
    Ok(())
}

/// Resolves on ctrl-c or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!(
        "shutdown requested; finishing requests in flight (a second signal stops at once)"
    );
    tokio::spawn(async {
        let again = async {
            #[cfg(unix)]
            if let Ok(mut s) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                tokio::select! {
                    _ = s.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                return;
            }
            let _ = tokio::signal::ctrl_c().await;
        };
        again.await;
        tracing::warn!("second shutdown signal: stopping now; requests in flight are dropped");
        std::process::exit(130);
    });
}
