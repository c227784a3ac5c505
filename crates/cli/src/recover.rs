//! `tessera recover-admin`: the operator's way back into an account that has no administrator
//! left (every one deleted, deactivated or stripped of the role, or a data directory whose
//! first start was cut short by an older version). Run with the data directory (SQLite: with
//! the server stopped, it holds the directory's lock) or the database URL.

use anyhow::Context as _;
use clap::Args;
use tessera_core::ids::{AccountId, Email};
use tessera_core::{Recovered, SecretString};

use crate::keys::StoreArgs;

#[derive(Debug, Args)]
pub struct RecoverAdminArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The account to give an administrator.
    #[arg(long, default_value = "1234567")]
    pub account: String,
    /// The administrator's email: an existing user is reactivated and made administrator, or
    /// a new one is created.
    #[arg(long, default_value = "admin@example.com")]
    pub email: String,
    /// The name of a user created by this command.
    #[arg(long, default_value = "Administrator")]
    pub name: String,
}

pub fn run(args: &RecoverAdminArgs) -> anyhow::Result<()> {
    let account = AccountId::parse(&args.account)
        .with_context(|| format!("--account {:?} is not a NetSuite account id", args.account))?;
    let email = Email::parse(&args.email)
        .with_context(|| format!("--email {:?} is not valid", args.email))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (recovered, password) = runtime.block_on(async {
        // A repair of a database that exists: nothing is created where there is none.
        if args.store.database_url.is_none() {
            let db = args.store.data_dir.join(tessera_store::SQLITE_FILE);
            anyhow::ensure!(
                db.exists(),
                "there is no database in {} (no {}): is --data-dir right?",
                args.store.data_dir.display(),
                tessera_store::SQLITE_FILE
            );
        }
        let store = args.store.open().await?;
        let accounts = {
            let mut tx =
                tessera_core::store::Store::begin(&store, tessera_core::store::TxMode::Read)
                    .await
                    .context("cannot read the database")?;
            tx.list_accounts()
                .await
                .context("cannot read the database")?
        };
        anyhow::ensure!(
            !accounts.is_empty(),
            "the database has no accounts: is the database URL (and its search_path) right?"
        );
        let tessera = crate::keys::open_service_with(&store, &args.store.data_dir, false).await?;
        let password = tessera_oauth1::signer::generate_nonce()
            .map(SecretString::from)
            .map_err(|_| {
                anyhow::anyhow!("the operating system's random number generator failed")
            })?;
        let recovered = tessera
            .recover_administrator(&account, &email, &args.name, &password)
            .await
            .with_context(|| format!("cannot give account {account} an administrator"))?;
        store.close().await;
        anyhow::Ok((recovered, password))
    })?;
    let what = match recovered {
        Recovered::Created => "Created administrator",
        Recovered::Restored => "Restored administrator",
    };
    println!(
        "{what} {email} in account {account}.\nPassword (shown once; store it now): {}",
        password.expose()
    );
    Ok(())
}
