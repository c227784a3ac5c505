//! The data directory's permissions: it holds password hashes, emails, the audit trail and
//! (by default) the master key, so it is the owner's alone — directory 0700, files 0600 —
//! whatever the umask of the process that created it.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of the data directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in it.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (0700) if missing and tightens it to 0700 if it exists.
pub fn secure_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    tighten(dir, DIR_MODE)
}

/// Creates `path` empty with mode 0600 if missing, and tightens it to 0600 if it exists.
/// SQLite gives its `-wal` and `-shm` files the mode of the database file, so creating that
/// file first is what keeps them private too.
pub fn secure_file(path: &Path) -> std::io::Result<()> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)?;
    tighten(path, FILE_MODE)
}

/// Tightens `path` to `mode` if it exists (left alone when already that strict).
pub fn tighten_if_present(path: &Path, mode: u32) -> std::io::Result<()> {
    match fs::metadata(path) {
        Ok(_) => tighten(path, mode),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn tighten(path: &Path, mode: u32) -> std::io::Result<()> {
    let current = fs::metadata(path)?.permissions().mode() & 0o777;
    if current & !mode != 0 {
        fs::set_permissions(path, Permissions::from_mode(current & mode))?;
    }
    Ok(())
}
