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
use tessera_core::bootstrap::BootstrapSettings;
use tessera_core::ids::{AccountId, Email};
use tessera_oauth1::Profile;
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
    /// Database connections for reads and for writes (the PostgreSQL pool sizes).
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

/// Settings that may hold a secret: shown masked.
fn masked(name: &str, value: &str) -> String {
    match name {
        // postgres://user:password@host/db: the password.
        "database_url" => match value.split_once("://") {
            Some((scheme, rest)) => match rest.split_once('@') {
                Some((credentials, host)) => {
                    let user = credentials.split_once(':').map_or(credentials, |(u, _)| u);
                    if credentials.contains(':') {
                        format!("{scheme}://{user}:***@{host}")
                    } else {
                        value.to_owned()
                    }
                }
                None => value.to_owned(),
            },
            None => "***".to_owned(),
        },
        _ => value.to_owned(),
    }
}

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
    let mut settings: Settings = toml::from_str(&text)
        .with_context(|| format!("config file {} is not valid", path.display()))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    settings.data_dir = settings.data_dir.map(|p| base.join(p));
    settings.fixtures = settings.fixtures.map(|p| base.join(p));
    Ok(settings)
}

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
            log: given(s.log, "log")?,
            store,
            server,
        })
    }
}

/// One row per setting: its file key, flag, variable, default and description.
struct Row {
    name: &'static str,
    flag: String,
    env: String,
    default: DefaultValue,
    help: String,
}

/// A default: a value, or what it is when it depends on others (`COMPUTED_DEFAULTS`).
enum DefaultValue {
    Fixed(String),
    Described(&'static str),
}

fn rows() -> anyhow::Result<Vec<Row>> {
    let defaults = to_map(&Settings::defaults())?;
    let command = Settings::augment_args(clap::Command::new("serve"));
    Ok(command
        .get_arguments()
        .map(|arg| {
            let name = field_name(arg.get_id().as_str());
            let default = match defaults.get(name) {
                Some(Value::String(s)) => DefaultValue::Fixed(s.clone()),
                Some(other) => DefaultValue::Fixed(other.to_string()),
                None => DefaultValue::Described(
                    COMPUTED_DEFAULTS
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map_or("", |(_, d)| *d),
                ),
            };
            Row {
                name,
                flag: arg.get_long().map(|l| format!("--{l}")).unwrap_or_default(),
                env: arg
                    .get_env()
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                default,
                help: arg
                    .get_help()
                    .map(|h| h.to_string().replace('\n', " "))
                    .unwrap_or_default(),
            }
        })
        .collect())
}

/// The Markdown table of every setting, as the README carries it.
pub fn reference() -> anyhow::Result<String> {
    let mut out = String::from(
        "| File key | Flag | Variable | Default | What it is |\n|---|---|---|---|---|\n",
    );
    for r in rows()? {
        out.push_str(&format!(
            "| `{}` | `{}` | `{}` | {} | {} |\n",
            r.name,
            r.flag,
            r.env,
            match &r.default {
                DefaultValue::Fixed(v) => format!("`{}`", v.replace('|', "\\|")),
                DefaultValue::Described(d) => (*d).to_owned(),
            },
            r.help.replace('|', "\\|")
        ));
    }
    Ok(out)
}

/// The effective settings, one per line: name, value (secrets masked), where it came from.
pub fn describe(effective: &Effective) -> anyhow::Result<String> {
    let values = to_map(&effective.settings)?;
    let lines: Vec<(&str, String, String)> = effective
        .sources
        .iter()
        .map(|(name, source)| {
            let value = match values.get(*name) {
                Some(Value::String(s)) => masked(name, s),
                Some(other) => other.to_string(),
                None => COMPUTED_DEFAULTS
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, d)| format!("({d})"))
                    .unwrap_or_default(),
            };
            (*name, value, source.to_string())
        })
        .collect();
    let width = lines.iter().map(|(n, _, _)| n.len()).max().unwrap_or(0);
    Ok(lines
        .iter()
        .map(|(name, value, source)| format!("{name:<width$}  {value}  ({source})\n"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_a_flag_a_variable_and_a_default_or_says_what_it_is() {
        let rows = rows().unwrap_or_default();
        assert_eq!(rows.len(), Settings::names().len());
        for r in &rows {
            assert!(r.flag.starts_with("--"), "{} has no flag", r.name);
            assert_eq!(
                r.env,
                format!("TESSERA_{}", r.name.to_uppercase()),
                "{}",
                r.name
            );
            assert!(
                !matches!(r.default, DefaultValue::Described("")),
                "{} has no default and no word on it",
                r.name
            );
            assert!(!r.help.is_empty(), "{} is not described", r.name);
        }
    }

    #[test]
    fn a_password_in_the_database_url_is_masked() {
        assert_eq!(
            masked("database_url", "postgres://tessera:s3cret@db:5432/tessera"),
            "postgres://tessera:***@db:5432/tessera"
        );
        assert_eq!(masked("database_url", "postgres://db/t"), "postgres://db/t");
        assert_eq!(masked("log", "debug"), "debug");
    }

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
        let unknown = toml::from_str::<Settings>("listn = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("listn"), "{unknown}");
    }
}
