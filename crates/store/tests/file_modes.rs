//! The data directory and every file in it are the owner's alone, whatever the umask (issue 14,
//! gap 15). Its own test binary: the umask is process-wide.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tessera_core::store::{Store, TxMode};
use tessera_store::SqlStore;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn gap15_data_directory_is_0700_and_its_files_0600_whatever_the_umask() {
    // The most permissive umask there is: nothing masked.
    rustix::process::umask(rustix::fs::Mode::empty());
    let root = tempfile::tempdir().unwrap();

    // A new data directory.
    let dir = root.path().join("fresh");
    let store = SqlStore::open_data_dir(&dir).await.unwrap();
    // A write, so the WAL and shared-memory files exist.
    let tx = store.begin(TxMode::Write).await.unwrap();
    tx.commit().await.unwrap();
    let (_, _) = tessera_store::keyfile::load_or_create(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700, "data directory");
    for name in [
        "tessera.db",
        "tessera.db-wal",
        "tessera.db-shm",
        "tessera.lock",
        "master.key",
    ] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    store.close().await;

    // One made by hand, world-readable, with a world-readable database in it: tightened.
    let dir = root.path().join("loose");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("tessera.db"), b"").unwrap();
    std::fs::set_permissions(
        dir.join("tessera.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let store = SqlStore::open_data_dir(&dir).await.unwrap();
    let tx = store.begin(TxMode::Write).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(mode(&dir), 0o700);
    for name in [
        "tessera.db",
        "tessera.db-wal",
        "tessera.db-shm",
        "tessera.lock",
    ] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    store.close().await;
}
