//! `tessera serve`: the server, with the embedded SQLite default or PostgreSQL; and `tessera
//! config`, which prints the settings it would run with. The settings themselves are defined
//! once, in `crate::settings`.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{ArgMatches, Args};
use tessera_core::Tessera;
use tessera_core::bootstrap::{CliIntegration, bootstrap_if_empty, ensure_cli_integration};
use tessera_core::fixtures;
use tessera_server::AppState;
use tessera_store::SqlStore;

use crate::settings::{self, Effective, Resolved, Settings};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML config file (keys as in `tessera config --reference`); flags and TESSERA_*
    /// variables override what it says.
    #[arg(long, env = "TESSERA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: Settings,
}

impl ServeArgs {
    /// The settings in force: flags and variables over the config file over the defaults.
    pub fn effective(&self, matches: Option<&ArgMatches>) -> anyhow::Result<Effective> {
        settings::layer(&self.settings, matches, self.config.as_deref())
    }
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

pub fn run(args: ServeArgs, matches: Option<&ArgMatches>) -> anyhow::Result<()> {
    let settings = args.effective(matches)?.settings.resolve()?;
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

async fn open_store(s: &Resolved) -> anyhow::Result<SqlStore> {
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

async fn serve(s: Resolved) -> anyhow::Result<()> {
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
    let state = AppState::new(tessera, s.server, local, s.default_concurrency_limit);
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
async fn first_start(tessera: &Tessera, s: &Resolved) -> anyhow::Result<()> {
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
    let first_account = shown.as_ref().map(|c| c.account.clone());
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
        let report = fixtures::apply_at_first_start(tessera, &parsed, first_account.as_ref())
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

/// `tessera config`: the settings `serve` would run with and where each came from.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Print every setting's flag, variable, file key, default and meaning as a Markdown
    /// table (the README's) instead.
    #[arg(long)]
    pub reference: bool,
}

pub fn config(args: &ConfigArgs, matches: Option<&ArgMatches>) -> anyhow::Result<()> {
    if args.reference {
        print!("{}", settings::reference()?);
        return Ok(());
    }
    let effective = args.serve.effective(matches)?;
    print!("{}", settings::describe(&effective)?);
    // Checked as `serve` would check them: a bad value is named before anything starts.
    effective.settings.resolve()?;
    Ok(())
}
