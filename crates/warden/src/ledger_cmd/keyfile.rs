//! The signing key file `ledger-signing.key`: PKCS#8 PEM, created with mode 0600 and never
//! overwritten.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use warden_ledger::LedgerSigningKey;

/// Path of the key file in `dir`.
pub fn key_path(dir: &Path) -> PathBuf {
    dir.join("ledger-signing.key")
}

/// Generates a key from OS randomness and writes it; fails if a key file already exists. (A
/// database that already holds a ledger is refused by `SqliteLedger::create`; the caller then
/// discards the new key.)
pub fn create(dir: &Path) -> anyhow::Result<LedgerSigningKey> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = key_path(dir);
    let key = warden_store::generate_signing_key()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).with_context(|| {
        format!(
            "creating {} (a signing key already exists?)",
            path.display()
        )
    })?;
    file.write_all(key.to_pkcs8_pem().as_bytes())?;
    file.sync_all()?;
    Ok(key)
}

/// Removes a key file just created when the ledger could not be created.
pub fn discard(dir: &Path) {
    let _ = std::fs::remove_file(key_path(dir));
}

/// Reads the key file.
pub fn load(dir: &Path) -> anyhow::Result<LedgerSigningKey> {
    let path = key_path(dir);
    let pem = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (run `warden ledger init`)", path.display()))?;
    LedgerSigningKey::from_pkcs8_pem(&pem).with_context(|| format!("reading {}", path.display()))
}
