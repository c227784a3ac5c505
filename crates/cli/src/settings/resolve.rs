//! The layered settings checked and turned into the configurations of the libraries that use
//! them (`ServerConfig`, `StoreOptions`, `BootstrapSettings`): each value out of range is
//! refused naming its setting.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tessera_core::bootstrap::BootstrapSettings;
use tessera_core::ids::{AccountId, Email};
use tessera_oauth1::Profile;
use tessera_server::ServerConfig;
use tessera_store::StoreOptions;

use super::Settings;

/// What `serve` runs with: the settings validated and handed to the libraries that use them.
#[derive(Debug)]
pub struct Resolved {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub fixtures: Option<PathBuf>,
    pub bootstrap: BootstrapSettings,
    pub default_concurrency_limit: u32,
    pub log: String,
    pub store: StoreOptions,
    pub server: ServerConfig,
}

/// A setting that always has a value once layered over the defaults.
fn given<T>(value: Option<T>, name: &str) -> anyhow::Result<T> {
    value.with_context(|| format!("the setting {name} has no value"))
}

/// `value` within `min..=max`, or an error naming the setting.
fn within<T: PartialOrd + std::fmt::Display + Copy>(
    name: &str,
    value: T,
    min: T,
    max: T,
) -> anyhow::Result<T> {
    if value < min || value > max {
        bail!("{name} must be between {min} and {max} (got {value})");
    }
    Ok(value)
}

impl Settings {
    /// Validates the layered settings and builds the libraries' configurations from them.
    pub fn resolve(self) -> anyhow::Result<Resolved> {
        let s = self;
        let account = given(s.bootstrap_account, "bootstrap_account")?;
        let account = AccountId::parse(&account).with_context(|| {
            format!("bootstrap_account {account:?} is not a NetSuite account id")
        })?;
        let email = given(s.bootstrap_admin_email, "bootstrap_admin_email")?;
        let email = Email::parse(&email)
            .with_context(|| format!("bootstrap_admin_email {email:?} is not valid"))?;
        let window = within(
            "timestamp_window",
            given(s.timestamp_window, "timestamp_window")?,
            1,
            86_400,
        )?;
        let limit = given(s.default_concurrency_limit, "default_concurrency_limit")?;
        within("default_concurrency_limit", limit, 1, u32::MAX)?;
        let secs = |name: &str, value: Option<u64>| -> anyhow::Result<Duration> {
            Ok(Duration::from_secs(within(
                name,
                given(value, name)?,
                1,
                3600,
            )?))
        };
        let mut server = ServerConfig {
            public_origins: s.public_origins.unwrap_or_default(),
            trusted_proxies: s.trusted_proxies.unwrap_or_default(),
            trusted_services: s.trusted_services.unwrap_or_default(),
            ..ServerConfig::default()
        };
        server.verifier.profile = Profile {
            timestamp_window_secs: window,
        };
        server.max_body_bytes = within(
            "max_body_bytes",
            given(s.max_body_bytes, "max_body_bytes")?,
            1,
            usize::MAX,
        )?;
        server.login_failures_per_hour = within(
            "login_failures_per_hour",
            given(s.login_failures_per_hour, "login_failures_per_hour")?,
            1,
            usize::MAX,
        )?;
        server.login_failures_per_user_and_source = within(
            "login_failures_per_user_and_source",
            given(
                s.login_failures_per_user_and_source,
                "login_failures_per_user_and_source",
            )?,
            1,
            usize::MAX,
        )?;
        let minutes = within(
            "ui_idle_minutes",
            given(s.ui_idle_minutes, "ui_idle_minutes")?,
            1,
            24 * 60,
        )?;
        server.ui_idle_timeout = Duration::from_secs(minutes * 60);
        let hours = within(
            "ui_session_hours",
            given(s.ui_session_hours, "ui_session_hours")?,
            1,
            24 * 30,
        )?;
        server.ui_session_lifetime = Duration::from_secs(hours * 3600);
        let days = within(
            "audit_retention_days",
            given(s.audit_retention_days, "audit_retention_days")?,
            1,
            100 * 365,
        )?;
        server.verifier.audit_retention = Duration::from_secs(days * 86_400);
        let floor = within(
            "refusal_floor_ms",
            given(s.refusal_floor_ms, "refusal_floor_ms")?,
            0,
            1000,
        )?;
        server.verifier.refusal_floor = Duration::from_millis(floor);
        server.edge.header_timeout = secs("header_timeout_secs", s.header_timeout_secs)?;
        server.edge.body_timeout = secs("body_timeout_secs", s.body_timeout_secs)?;
        server.edge.keepalive_timeout = secs("keepalive_timeout_secs", s.keepalive_timeout_secs)?;
        server.edge.max_connections = within(
            "max_connections",
            given(s.max_connections, "max_connections")?,
            1,
            usize::MAX,
        )?;
        server.edge.max_connections_per_address = s
            .max_connections_per_address
            .map(|n| within("max_connections_per_address", n, 1, usize::MAX))
            .transpose()?;
        let connections = within(
            "db_connections",
            given(s.db_connections, "db_connections")?,
            1,
            u32::MAX,
        )?;
        let store = StoreOptions {
            readers: connections,
            writers: connections,
            acquire_timeout: secs("db_acquire_timeout", s.db_acquire_timeout)?,
            statement_timeout: secs("db_statement_timeout", s.db_statement_timeout)?,
        };
        // A signed request waits for the store no longer than two acquire time-outs.
        server.verifier.store_wait = store.acquire_timeout * 2;
        server.shutdown_grace = secs("shutdown_grace", s.shutdown_grace)?;
        if s.database_url.as_deref().is_some_and(str::is_empty) {
            bail!("database_url is empty: give a postgres:// URL, or leave it out for SQLite");
        }
        let log = given(s.log, "log")?;
        if log.trim().is_empty() {
            bail!("log is empty: give a level (error, warn, info, debug, trace) or directives");
        }
        tracing_subscriber::EnvFilter::try_new(&log)
            .with_context(|| format!("log filter {log:?} is not valid"))?;
        if let Some(path) = &s.fixtures
            && !path.is_file()
        {
            bail!("fixtures file {} does not exist", path.display());
        }
        Ok(Resolved {
            listen: given(s.listen, "listen")?,
            data_dir: given(s.data_dir, "data_dir")?,
            database_url: s.database_url,
            fixtures: s.fixtures,
            bootstrap: BootstrapSettings {
                account,
                account_name: given(s.bootstrap_account_name, "bootstrap_account_name")?,
                admin_name: given(s.bootstrap_admin_name, "bootstrap_admin_name")?,
                admin_email: email,
            },
            default_concurrency_limit: limit,
            log,
            store,
            server,
        })
    }
}
