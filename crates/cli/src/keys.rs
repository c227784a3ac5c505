//! `tessera rotate-master-key`: re-seal every stored secret under a new master key.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use tessera_store::{PoolSizes, SqlStore};

use crate::Output;

/// Where the data lives: shared by every command that opens the store.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Data directory: the SQLite database (`tessera.db`) and the master key file (`master.key`).
    #[arg(long, env = "TESSERA_DATA_DIR", default_value = "tessera-data")]
    pub data_dir: PathBuf,
    /// PostgreSQL URL (postgres://…) to use instead of the SQLite file in the data directory.
    #[arg(long, env = "TESSERA_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl StoreArgs {
    pub async fn open(&self) -> anyhow::Result<SqlStore> {
        match &self.database_url {
            Some(url) => SqlStore::connect(url, PoolSizes::default())
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
