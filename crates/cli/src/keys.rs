//! The master key of a node: found (or, for a database without secrets, made) and checked
//! against the database before anything is served; and `tessera rotate-master-key`, which
//! re-seals every stored secret under a new one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;
use tessera_core::Tessera;
use tessera_store::keyfile::{self, MASTER_KEY_ENV, MASTER_KEY_FILE, MasterKeySource};
use tessera_store::{SqlStore, StoreOptions};

use crate::Output;

/// Where the data lives: shared by every command that opens the store.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Data directory: the SQLite database (`tessera.db`) and the master key file (`master.key`).
    #[arg(long, env = "TESSERA_DATA_DIR", default_value = crate::settings::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// PostgreSQL URL (postgres://…) to use instead of the SQLite file in the data directory.
    #[arg(long, env = "TESSERA_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl StoreArgs {
    pub async fn open(&self) -> anyhow::Result<SqlStore> {
        match &self.database_url {
            Some(url) => SqlStore::connect(url, StoreOptions::default())
                .await
                .context("cannot open the PostgreSQL database"),
            None => {
                tessera_store::datadir::secure_dir(&self.data_dir).with_context(|| {
                    format!(
                        "cannot create the data directory {}",
                        self.data_dir.display()
                    )
                })?;
                SqlStore::open_data_dir(&self.data_dir)
                    .await
                    .context("cannot open the SQLite database")
            }
        }
    }
}

/// The service over `store` with this node's master keys, once they are known to open every
/// secret the database holds. A node never makes a new key for a database with secrets (it
/// would open none of them), and never starts with a key that lacks one the secrets need:
/// either would answer 503 to every signed request while looking healthy.
pub async fn open_service(store: &SqlStore, data_dir: &Path) -> anyhow::Result<Tessera> {
    open_service_with(store, data_dir, true).await
}

/// [`open_service`]; `may_make_key` false for commands that only repair a database that
/// exists (they must not leave a key behind where there was none).
pub async fn open_service_with(
    store: &SqlStore,
    data_dir: &Path,
    may_make_key: bool,
) -> anyhow::Result<Tessera> {
    let in_use = tessera_core::master_keys_in_use(store)
        .await
        .context("cannot read which master keys the database's secrets need")?;
    let env_value = std::env::var(MASTER_KEY_ENV).ok();
    let found = keyfile::load_with(data_dir, env_value).context("cannot load the master key")?;
    let (keyring, source) = match found {
        Some(found) => found,
        None if in_use.is_empty() && may_make_key => {
            let created = keyfile::create(data_dir).context("cannot create the master key")?;
            if tessera_core::store::Store::backend(store) == "postgres" {
                tracing::warn!(
                    file = %data_dir.join(MASTER_KEY_FILE).display(),
                    "made a new master key for a PostgreSQL database: every other node of it needs this key (copy the file, or set {MASTER_KEY_ENV} on every node); a node without it will refuse to start"
                );
            }
            created
        }
        None if in_use.is_empty() => bail!(
            "no master key: {MASTER_KEY_ENV} is not set (or empty) and {} does not exist",
            data_dir.join(MASTER_KEY_FILE).display()
        ),
        None => bail!(
            "this database's secrets are sealed with master key {}, and this node has no master \
             key: {MASTER_KEY_ENV} is not set (or empty) and {} does not exist. Give every node of a \
             database the same key (copy {MASTER_KEY_FILE} from a node that serves, mode 0600, \
             or set {MASTER_KEY_ENV}); a new key would open none of them",
            in_use.join(", "),
            data_dir.join(MASTER_KEY_FILE).display()
        ),
    };
    let active = keyring.active().id().to_owned();
    tracing::info!(key_id = %active, from = %source, "master key loaded");
    let tessera = Tessera::new(Arc::new(store.clone()), Arc::new(keyring));
    if let Err(e) = tessera.check_master_keys().await {
        let hint = match &source {
            MasterKeySource::Environment => format!("set {MASTER_KEY_ENV} to the cluster's keys"),
            MasterKeySource::File { path, .. } => format!(
                "put the cluster's key file at {} or set {MASTER_KEY_ENV}",
                path.display()
            ),
        };
        return Err(anyhow::Error::new(e).context(format!(
            "master key {active} read from {source} does not fit this database; {hint}"
        )));
    }
    Ok(tessera)
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

pub fn run(args: &RotateArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(async {
        let store = args.store.open().await?;
        // The keys must fit before any secret is re-sealed.
        open_service(&store, &args.store.data_dir).await?;
        let report = tessera_store::keyfile::rotate_master_key(&args.store.data_dir, store.clone())
            .await
            .context("master key rotation failed; run it again to finish (no secret is lost)")?;
        store.close().await;
        anyhow::Ok(report)
    })?;
    match args.output {
        Output::Text => println!(
            "re-sealed {} secrets under master key {}",
            report.resealed, report.active_key_id
        ),
        Output::Json => println!(
            "{}",
            serde_json::json!({"resealed": report.resealed, "active_key_id": report.active_key_id})
        ),
    }
    Ok(())
}
