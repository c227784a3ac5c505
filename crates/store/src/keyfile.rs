//! The master key, kept outside the database: the `TESSERA_MASTER_KEY` environment variable, or
//! the file `master.key` in the data directory (created on first use, mode 0600).
//!
//! Rotation (`tessera rotate-master-key`): a new key is generated and written first in the file,
//! with the old keys after it; every secret is re-sealed under the new key; then the old keys
//! are dropped from the file. Interrupted at any point, the file still holds every key some
//! secret is sealed with, and running the rotation again finishes it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tessera_core::vault::{Keyring, MasterKey, VaultError};
use tessera_core::{RotationReport, Tessera};
use thiserror::Error;

use crate::SqlStore;

pub const MASTER_KEY_ENV: &str = "TESSERA_MASTER_KEY";
pub const MASTER_KEY_FILE: &str = "master.key";

#[derive(Debug, Error)]
pub enum KeyFileError {
    #[error("cannot read or write the master key file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "the master key file {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("the master key in {origin} is invalid: {source}")]
    Invalid { origin: String, source: VaultError },
    #[error("re-sealing the stored secrets failed")]
    Reseal(#[source] tessera_core::Error),
}

/// Where the keyring came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    Environment,
    File { path: PathBuf, created: bool },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Loads the keyring from the environment variable if set, else from the data directory's key
/// file, creating the file with a fresh key on first use.
pub fn load_or_create(data_dir: &Path) -> Result<(Keyring, MasterKeySource), KeyFileError> {
    load_or_create_with(data_dir, std::env::var(MASTER_KEY_ENV).ok())
}

/// [`load_or_create`] with the environment variable's value passed in.
pub fn load_or_create_with(
    data_dir: &Path,
    env_value: Option<String>,
) -> Result<(Keyring, MasterKeySource), KeyFileError> {
    match load_with(data_dir, env_value)? {
        Some(found) => Ok(found),
        None => create(data_dir),
    }
}

/// The keyring from the environment variable's value if set (non-empty), else from the data
/// directory's key file; `None` when there is neither.
pub fn load_with(
    data_dir: &Path,
    env_value: Option<String>,
) -> Result<Option<(Keyring, MasterKeySource)>, KeyFileError> {
    let env_value = env_value.map(zeroize::Zeroizing::new);
    if let Some(text) = env_value.as_deref()
        && !text.trim().is_empty()
    {
        let ring = Keyring::parse(text).map_err(|source| KeyFileError::Invalid {
            origin: MASTER_KEY_ENV.to_owned(),
            source,
        })?;
        return Ok(Some((ring, MasterKeySource::Environment)));
    }
    let path = data_dir.join(MASTER_KEY_FILE);
    match read_key_file(&path) {
        Ok(ring) => Ok(Some((
            ring,
            MasterKeySource::File {
                path,
                created: false,
            },
        ))),
        Err(KeyFileError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A new key in a new key file in the data directory (refused if the file exists).
pub fn create(data_dir: &Path) -> Result<(Keyring, MasterKeySource), KeyFileError> {
    let path = data_dir.join(MASTER_KEY_FILE);
    let ring = Keyring::new(vec![MasterKey::generate().map_err(|source| {
        KeyFileError::Invalid {
            origin: "the random number generator".to_owned(),
            source,
        }
    })?])
    .map_err(|source| KeyFileError::Invalid {
        origin: path.display().to_string(),
        source,
    })?;
    create_key_file(&path, &ring)?;
    Ok((
        ring,
        MasterKeySource::File {
            path,
            created: true,
        },
    ))
}

impl std::fmt::Display for MasterKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MasterKeySource::Environment => write!(f, "the environment variable {MASTER_KEY_ENV}"),
            MasterKeySource::File {
                path,
                created: false,
            } => write!(f, "the key file {}", path.display()),
            MasterKeySource::File {
                path,
                created: true,
            } => write!(f, "the key file {} (created now)", path.display()),
        }
    }
}

fn read_key_file(path: &Path) -> Result<Keyring, KeyFileError> {
    let file = File::open(path).map_err(io_error(path))?;
    check_private(&file, path)?;
    let text = zeroize::Zeroizing::new(fs::read_to_string(path).map_err(io_error(path))?);
    Keyring::parse(&text).map_err(|source| KeyFileError::Invalid {
        origin: path.display().to_string(),
        source,
    })
}

#[cfg(unix)]
fn check_private(file: &File, path: &Path) -> Result<(), KeyFileError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(io_error(path))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_file: &File, _path: &Path) -> Result<(), KeyFileError> {
    Ok(())
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

fn write_and_sync(path: &Path, ring: &Keyring) -> Result<(), KeyFileError> {
    let mut file = private_options().open(path).map_err(io_error(path))?;
    file.write_all(ring.to_file_text().expose().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(path))
}

fn sync_dir(path: &Path) -> Result<(), KeyFileError> {
    if let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error(dir))?;
    }
    Ok(())
}

/// Creates the key file whole or not at all: written and synced beside it, then linked into
/// place (which fails if the file appeared meanwhile). A crash mid-write leaves no half key
/// file that would stop every later start.
fn create_key_file(path: &Path, ring: &Keyring) -> Result<(), KeyFileError> {
    if let Some(dir) = path.parent() {
        crate::datadir::secure_dir(dir).map_err(io_error(dir))?;
    }
    let tmp = path.with_extension(format!("key.{}.new", std::process::id()));
    let _ = fs::remove_file(&tmp);
    write_and_sync(&tmp, ring)?;
    let linked = fs::hard_link(&tmp, path).map_err(io_error(path));
    let _ = fs::remove_file(&tmp);
    linked?;
    sync_dir(path)
}

/// Replaces the key file atomically: a new file beside it, synced, then renamed over it.
pub fn replace_key_file(path: &Path, ring: &Keyring) -> Result<(), KeyFileError> {
    let tmp = path.with_extension("key.new");
    let _ = fs::remove_file(&tmp);
    write_and_sync(&tmp, ring)?;
    fs::rename(&tmp, path).map_err(io_error(path))?;
    sync_dir(path)
}

/// Rotates the master key of a data directory's store (see the module documentation).
pub async fn rotate_master_key(
    data_dir: &Path,
    store: SqlStore,
) -> Result<RotationReport, KeyFileError> {
    rotate_master_key_with(data_dir, store, std::env::var(MASTER_KEY_ENV).ok()).await
}

/// [`rotate_master_key`] with the environment variable's value passed in.
pub async fn rotate_master_key_with(
    data_dir: &Path,
    store: SqlStore,
    env_value: Option<String>,
) -> Result<RotationReport, KeyFileError> {
    let (ring, source) = load_or_create_with(data_dir, env_value)?;
    let ring = match source {
        MasterKeySource::Environment => {
            // The operator manages the keys; re-seal under the first one.
            ring
        }
        MasterKeySource::File { path, .. } => {
            let new_key = MasterKey::generate().map_err(|source| KeyFileError::Invalid {
                origin: "the random number generator".to_owned(),
                source,
            })?;
            let ring = ring.with_active(new_key);
            replace_key_file(&path, &ring)?;
            let report = reseal(store, ring).await?;
            let (ring, _) = load_or_create_with(data_dir, None)?;
            replace_key_file(&path, &ring.only_active())?;
            return Ok(report);
        }
    };
    reseal(store, ring).await
}

async fn reseal(store: SqlStore, ring: Keyring) -> Result<RotationReport, KeyFileError> {
    Tessera::new(Arc::new(store), Arc::new(ring))
        .reseal_all_secrets()
        .await
        .map_err(KeyFileError::Reseal)
}
