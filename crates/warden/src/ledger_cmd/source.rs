//! Where `verify`, `show` and `tail` read from: the live SQLite ledger or an export file
//! (detected by the SQLite header), and which public key they trust.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use warden_ledger::{Jwk, LedgerPublicKey};
use warden_store::{LedgerReader, SqliteReader};

/// `warden.db` in the data directory.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("warden.db")
}

/// An opened ledger source.
pub enum Source {
    /// A live database.
    Db(SqliteReader),
    /// An export file, read line by line.
    Export(PathBuf),
}

/// Opens `--ledger PATH`, or the data directory's database.
pub fn open(dir: &Path, ledger: Option<&Path>) -> anyhow::Result<Source> {
    let path = ledger.map_or_else(|| db_path(dir), Path::to_path_buf);
    let mut magic = [0u8; 16];
    let mut file =
        std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let n = file.read(&mut magic)?;
    if magic.get(..n) == Some(b"SQLite format 3\0".as_slice()) {
        let reader =
            SqliteReader::open(&path).with_context(|| format!("opening {}", path.display()))?;
        Ok(Source::Db(reader))
    } else {
        Ok(Source::Export(path))
    }
}

/// The lines of an export file.
pub fn export_lines(path: &Path) -> anyhow::Result<impl Iterator<Item = std::io::Result<String>>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(BufReader::with_capacity(1 << 20, file).lines())
}

/// The origin recorded in the data directory's ledger.
pub fn recorded_origin(dir: &Path) -> anyhow::Result<String> {
    Ok(SqliteReader::open(&db_path(dir))?.origin()?)
}

/// Reads a public key file: a JWK (JSON) or an SPKI PEM.
pub fn read_public_key(path: &Path) -> anyhow::Result<LedgerPublicKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if text.trim_start().starts_with('{') {
        let jwk: Jwk = serde_json::from_str(&text).context("public key JWK")?;
        Ok(LedgerPublicKey::from_jwk(&jwk)?)
    } else {
        Ok(LedgerPublicKey::from_spki_pem(&text)?)
    }
}

/// The key to verify with and where it came from: `--public-key`, else the data directory's
/// signing key, else the key recorded in the ledger itself (flagged as not independently pinned).
pub fn trusted_key(
    dir: &Path,
    explicit: Option<&Path>,
    recorded: impl FnOnce() -> anyhow::Result<LedgerPublicKey>,
) -> anyhow::Result<(LedgerPublicKey, String)> {
    if let Some(path) = explicit {
        return Ok((read_public_key(path)?, format!("{}", path.display())));
    }
    let key_file = super::keyfile::key_path(dir);
    if key_file.exists() {
        let key = super::keyfile::load(dir)?.public_key();
        return Ok((key, format!("{}", key_file.display())));
    }
    Ok((
        recorded()?,
        "recorded in the ledger itself (not independently pinned; pass --public-key)".into(),
    ))
}
