//! Every setting of `tessera serve`, defined once (`Settings`): clap reads its flags and
//! `TESSERA_*` variables from this struct, serde reads the config file's keys into the same
//! struct, the defaults come from the libraries' own (`ServerConfig`, `StoreOptions`), and
//! `tessera config` prints the effective value of each with where it came from — also as the
//! Markdown table the README carries (`tessera config --reference`; a test keeps them equal).
//!
//! Precedence: flag, then environment variable, then config file, then default. A list given
//! by a flag or variable replaces the file's. Paths in the config file are relative to it.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tessera_server::{Origin, ServerConfig};
use tessera_store::StoreOptions;

/// The settings as given: each `None` unless a flag, variable, file or default gave it.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "TESSERA_LISTEN", value_name = "ADDR")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Data directory: the SQLite database and the master key file (locked while the server
    /// runs).
    #[arg(long, env = "TESSERA_DATA_DIR", value_name = "DIR")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://…) instead of the SQLite database in the data directory.
    #[arg(long, env = "TESSERA_DATABASE_URL", value_name = "URL")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Where clients reach this server, as scheme://host[:port] (repeat or comma-separate):
    /// signatures are checked against these, and requests to other hosts are refused.
    #[arg(
        long = "public-origin",
        env = "TESSERA_PUBLIC_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_origins: Option<Vec<Origin>>,
    /// Proxy addresses whose X-Forwarded-* headers are believed (repeat or comma-separate).
    #[arg(
        long = "trusted-proxy",
        env = "TESSERA_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "IP"
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_proxies: Option<Vec<IpAddr>>,
    /// Addresses allowed to call /api/v1/verify, forward-auth and /metrics: the client the
    /// trusted proxies name, not a proxy's own address (repeat or comma-separate).
    #[arg(
        long = "trusted-service",
        env = "TESSERA_TRUSTED_SERVICES",
        value_delimiter = ',',
        value_name = "IP"
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_services: Option<Vec<IpAddr>>,
    /// oauth_timestamp acceptance window, ± seconds (1–86400).
    #[arg(long, env = "TESSERA_TIMESTAMP_WINDOW", value_name = "SECS")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_window: Option<u64>,
    /// Concurrency limit of accounts without their own.
    #[arg(long, env = "TESSERA_DEFAULT_CONCURRENCY_LIMIT", value_name = "N")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_concurrency_limit: Option<u32>,
    /// Fixtures (TOML) to create at start-up, idempotently (see fixtures.example.toml).
    #[arg(long, env = "TESSERA_FIXTURES", value_name = "FILE")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixtures: Option<PathBuf>,
    /// Account created on first start with an empty database.
    #[arg(long, env = "TESSERA_BOOTSTRAP_ACCOUNT", value_name = "ID")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_account: Option<String>,
    /// Name of that account.
    #[arg(long, env = "TESSERA_BOOTSTRAP_ACCOUNT_NAME", value_name = "NAME")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_account_name: Option<String>,
    /// Email of the administrator created on first start.
    #[arg(long, env = "TESSERA_BOOTSTRAP_ADMIN_EMAIL", value_name = "EMAIL")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_admin_email: Option<String>,
    /// Name of that administrator.
    #[arg(long, env = "TESSERA_BOOTSTRAP_ADMIN_NAME", value_name = "NAME")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_admin_name: Option<String>,
    /// Log filter: error, warn, info, debug, trace, or tracing directives; secrets are never
    /// logged at any level.
    #[arg(long, env = "TESSERA_LOG", value_name = "FILTER")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Database connections for reads and for writes (PostgreSQL: the pool size; the verifier
    /// has one more connection of its own).
    #[arg(long, env = "TESSERA_DB_CONNECTIONS", value_name = "N")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_connections: Option<u32>,
    /// Seconds a request waits for a database connection before it is answered 503; a signed
    /// request waits at most twice this for the store (1–3600).
    #[arg(long, env = "TESSERA_DB_ACQUIRE_TIMEOUT", value_name = "SECS")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_acquire_timeout: Option<u64>,
    /// PostgreSQL cancels a statement that runs longer than this many seconds
    /// (`statement_timeout`; 1–3600).
    #[arg(long, env = "TESSERA_DB_STATEMENT_TIMEOUT", value_name = "SECS")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_statement_timeout: Option<u64>,
    /// Seconds requests in flight may take to finish after SIGTERM; connections still open
    /// then are closed (1–3600).
    #[arg(long, env = "TESSERA_SHUTDOWN_GRACE", value_name = "SECS")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_grace: Option<u64>,
    /// Largest request body, in bytes: larger ones get 413 before they are read.
    #[arg(long, env = "TESSERA_MAX_BODY_BYTES", value_name = "BYTES")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// Wrong passwords (issuetoken, web UI) allowed in a sliding hour from one address, and
    /// for one user from sources it never signed in from.
    #[arg(long, env = "TESSERA_LOGIN_FAILURES_PER_HOUR", value_name = "N")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_failures_per_hour: Option<usize>,
    /// Wrong passwords allowed in a sliding hour for one user from one source (an address, or
    /// a browser's device cookie).
    #[arg(
        long,
        env = "TESSERA_LOGIN_FAILURES_PER_USER_AND_SOURCE",
        value_name = "N"
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_failures_per_user_and_source: Option<usize>,
    /// Minutes without a request after which a web UI session ends (1–1440).
    #[arg(long, env = "TESSERA_UI_IDLE_MINUTES", value_name = "MINUTES")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_idle_minutes: Option<u64>,
    /// Hours after sign-in after which a web UI session ends (1–720).
    #[arg(long, env = "TESSERA_UI_SESSION_HOURS", value_name = "HOURS")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_session_hours: Option<u64>,
    /// Days login audit rows are kept; older ones are purged in batches every minute
    /// (1–36500).
    #[arg(long, env = "TESSERA_AUDIT_RETENTION_DAYS", value_name = "DAYS")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_retention_days: Option<u64>,
    /// A refused signed request is answered no sooner than this many milliseconds after it
    /// came in, whatever the reason; raise it above the p99 of a store read on a remote
    /// PostgreSQL (0–1000).
    #[arg(long, env = "TESSERA_REFUSAL_FLOOR_MS", value_name = "MS")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal_floor_ms: Option<u64>,
    /// Seconds allowed for a request's line and headers, counted from the connection being
    /// ready for them; also the longest wait of a kept-alive connection (1–3600).
    #[arg(long, env = "TESSERA_HEADER_TIMEOUT_SECS", value_name = "SECS")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_timeout_secs: Option<u64>,
    /// Seconds allowed for a request's body after its headers; 408 otherwise (1–3600).
    #[arg(long, env = "TESSERA_BODY_TIMEOUT_SECS", value_name = "SECS")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_timeout_secs: Option<u64>,
    /// Seconds after which a kept-alive connection that sends nothing, or a client that does
    /// not read its answer, is closed (1–3600).
    #[arg(long, env = "TESSERA_KEEPALIVE_TIMEOUT_SECS", value_name = "SECS")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_timeout_secs: Option<u64>,
    /// Open connections at most: lowered to fit `ulimit -n` (the server raises its soft limit
    /// to the hard one at start).
    #[arg(long, env = "TESSERA_MAX_CONNECTIONS", value_name = "N")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// Open connections from one client address at most (trusted proxies are exempt); more
    /// are closed at once.
    #[arg(long, env = "TESSERA_MAX_CONNECTIONS_PER_ADDRESS", value_name = "N")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections_per_address: Option<usize>,
}

/// What the defaults of the settings without a fixed value are.
const COMPUTED_DEFAULTS: &[(&str, &str)] = &[
    ("database_url", "none: SQLite in the data directory"),
    (
        "public_origins",
        "http:// the listen address and its localhost, 127.0.0.1 and [::1] forms",
    ),
    ("trusted_proxies", "none"),
    ("trusted_services", "the loopback addresses"),
    ("fixtures", "none"),
    (
        "max_connections_per_address",
        "a sixteenth of max_connections, at least 16",
    ),
];

impl Settings {
    /// The defaults, from the libraries that own them.
    pub fn defaults() -> Self {
        let server = ServerConfig::default();
        let store = StoreOptions::default();
        let secs = |d: Duration| Some(d.as_secs());
        Settings {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: Some(PathBuf::from(DEFAULT_DATA_DIR)),
            database_url: None,
            public_origins: None,
            trusted_proxies: None,
            trusted_services: None,
            timestamp_window: Some(server.verifier.profile.timestamp_window_secs),
            default_concurrency_limit: Some(tessera_core::DEFAULT_CONCURRENCY_LIMIT),
            fixtures: None,
            bootstrap_account: Some("1234567".to_owned()),
            bootstrap_account_name: Some("Tessera".to_owned()),
            bootstrap_admin_email: Some("admin@example.com".to_owned()),
            bootstrap_admin_name: Some("Administrator".to_owned()),
            log: Some("info".to_owned()),
            db_connections: Some(store.readers),
            db_acquire_timeout: secs(store.acquire_timeout),
            db_statement_timeout: secs(store.statement_timeout),
            shutdown_grace: secs(server.shutdown_grace),
            max_body_bytes: Some(server.max_body_bytes),
            login_failures_per_hour: Some(server.login_failures_per_hour),
            login_failures_per_user_and_source: Some(server.login_failures_per_user_and_source),
            ui_idle_minutes: Some(server.ui_idle_timeout.as_secs() / 60),
            ui_session_hours: Some(server.ui_session_lifetime.as_secs() / 3600),
            audit_retention_days: Some(server.verifier.audit_retention.as_secs() / 86_400),
            refusal_floor_ms: u64::try_from(server.verifier.refusal_floor.as_millis()).ok(),
            header_timeout_secs: secs(server.edge.header_timeout),
            body_timeout_secs: secs(server.edge.body_timeout),
            keepalive_timeout_secs: secs(server.edge.keepalive_timeout),
            max_connections: Some(server.edge.max_connections),
            max_connections_per_address: server.edge.max_connections_per_address,
        }
    }
}

/// The default data directory (also of the commands that open the store themselves).
pub const DEFAULT_DATA_DIR: &str = "tessera-data";

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env(String),
    File(PathBuf),
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => f.write_str("flag"),
            Source::Env(name) => write!(f, "environment {name}"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

/// The settings in force: every value, and where each came from (in declaration order).
#[derive(Debug)]
pub struct Effective {
    pub settings: Settings,
    pub sources: Vec<(&'static str, Source)>,
}

fn to_map(settings: &Settings) -> anyhow::Result<Map<String, Value>> {
    match serde_json::to_value(settings).context("cannot represent the settings")? {
        Value::Object(map) => Ok(map),
        _ => bail!("the settings are not a table"),
    }
}

/// Layers flags and variables (`given`, with the `matches` that tell one from the other) over
/// the config file (`file`, if any) over the defaults.
pub fn layer(
    given: &Settings,
    matches: Option<&ArgMatches>,
    file: Option<&Path>,
) -> anyhow::Result<Effective> {
    let from_file = match file {
        Some(path) => read_file(path)?,
        None => Settings::default(),
    };
    let given_map = to_map(given)?;
    let file_map = to_map(&from_file)?;
    let mut merged = to_map(&Settings::defaults())?;
    let mut sources = Vec::new();
    let command = Settings::augment_args(clap::Command::new("serve"));
    for arg in command.get_arguments() {
        let name: &'static str = field_name(arg.get_id().as_str());
        let source = if let Some(value) = given_map.get(name) {
            merged.insert(name.to_owned(), value.clone());
            match matches.and_then(|m| m.value_source(name)) {
                Some(ValueSource::EnvVariable) => Source::Env(
                    arg.get_env()
                        .map(|e| e.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                ),
                _ => Source::Flag,
            }
        } else if let (Some(value), Some(path)) = (file_map.get(name), file) {
            merged.insert(name.to_owned(), value.clone());
            Source::File(path.to_owned())
        } else {
            Source::Default
        };
        sources.push((name, source));
    }
    let settings: Settings =
        serde_json::from_value(Value::Object(merged)).context("cannot combine the settings")?;
    Ok(Effective { settings, sources })
}

/// The `&'static` name of a field from clap's id for it (the same text).
fn field_name(id: &str) -> &'static str {
    Settings::names()
        .iter()
        .copied()
        .find(|n| *n == id)
        .unwrap_or("?")
}

impl Settings {
    /// Every setting's name (its file key), in declaration order.
    pub fn names() -> &'static [&'static str] {
        tessera_api::query::field_names::<Settings>()
    }
}

/// The config file, its relative paths made relative to it.
fn read_file(path: &Path) -> anyhow::Result<Settings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    // The parser's own message quotes the offending line, which may hold a password: only
    // its message and the line number are said.
    let mut settings: Settings = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
        anyhow::anyhow!(
            "config file {} is not valid{at}: {}",
            path.display(),
            e.message()
        )
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    settings.data_dir = settings.data_dir.map(|p| base.join(p));
    settings.fixtures = settings.fixtures.map(|p| base.join(p));
    Ok(settings)
}

mod describe;
mod resolve;

pub use describe::{describe, reference};
pub use resolve::Resolved;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_over_file_over_defaults_and_each_says_where_it_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tessera.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nlog = \"debug\"\ndata_dir = \"d\"\nheader_timeout_secs = 5\n").unwrap();
        let given = Settings {
            log: Some("warn".into()),
            ..Settings::default()
        };
        let e = layer(&given, None, Some(&file)).unwrap();
        assert_eq!(e.settings.log.as_deref(), Some("warn"));
        assert_eq!(e.settings.listen, Some("127.0.0.1:9000".parse().unwrap()));
        assert_eq!(e.settings.data_dir, Some(dir.path().join("d")));
        assert_eq!(e.settings.db_connections, Some(8));
        let source = |n: &str| {
            e.sources
                .iter()
                .find(|(name, _)| *name == n)
                .map(|(_, s)| s.clone())
        };
        assert_eq!(source("log"), Some(Source::Flag));
        assert_eq!(source("listen"), Some(Source::File(file.clone())));
        assert_eq!(source("db_connections"), Some(Source::Default));
        let resolved = e.settings.resolve().unwrap();
        assert_eq!(resolved.server.edge.header_timeout, Duration::from_secs(5));
    }

    #[test]
    fn a_value_out_of_range_is_refused_by_name() {
        let s = Settings {
            ui_idle_minutes: Some(0),
            ..Settings::defaults()
        };
        let e = s.resolve().unwrap_err().to_string();
        assert!(e.contains("ui_idle_minutes"), "{e}");
        // A file that does not parse is named with its line, never quoted: it may hold a secret.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(
            &file,
            "log = \"info\"\ndatabase_url = \"postgres://u:s3cretPW@h/db\n",
        )
        .unwrap();
        let e = format!(
            "{:#}",
            layer(&Settings::default(), None, Some(&file)).unwrap_err()
        );
        assert!(e.contains("line 2") && !e.contains("s3cretPW"), "{e}");
        for (bad, name) in [
            (
                Settings {
                    log: Some(String::new()),
                    ..Settings::defaults()
                },
                "log",
            ),
            (
                Settings {
                    log: Some("foo[[=bar".into()),
                    ..Settings::defaults()
                },
                "log filter",
            ),
            (
                Settings {
                    database_url: Some(String::new()),
                    ..Settings::defaults()
                },
                "database_url",
            ),
        ] {
            let e = bad.resolve().unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
        let unknown = toml::from_str::<Settings>("listn = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("listn"), "{unknown}");
    }
}
