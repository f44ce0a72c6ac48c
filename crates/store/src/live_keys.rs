//! Live keys remembered between requests, so that authenticating a known key costs one `pread`
//! instead of a SQLite read transaction.
//!
//! Revocation must still take effect at once, even when another process (`warden keys revoke`)
//! revokes. Every revocation therefore writes 8 fresh random bytes, the *epoch*, into a sidecar
//! file beside the database (`warden.db-keys`), after its transaction has committed. Each lookup
//! reads the epoch first: while it is unchanged, no key has been revoked since the remembered
//! entries were read from the database; when it changes, everything remembered is forgotten.
//! A remembered key is also read again from the database at least every [`RECHECK_AFTER`], so a
//! change that bypassed the epoch (a hand-edited database, a deleted sidecar) is seen within it.
//!
//! Only live keys are remembered, with the digest of their secret: unknown ids always go to the
//! database (so a key created elsewhere is accepted at once), and a wrong secret for a known id is
//! refused by the same constant-time comparison as before. When the sidecar cannot be opened or
//! read, nothing is remembered and every lookup reads the database.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::keys::KeyInfo;

/// The longest a remembered key is trusted without reading the database again.
pub(crate) const RECHECK_AFTER: Duration = Duration::from_secs(1);
/// Remembered keys at most; past it the memory starts over.
const CAPACITY: usize = 4096;

/// The epoch sidecar of the database at `db`: `warden.db` → `warden.db-keys`.
fn epoch_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-keys");
    PathBuf::from(name)
}

/// The remembered live keys of one database.
pub(crate) struct LiveKeys {
    path: PathBuf,
    /// The sidecar, kept open for reading the epoch; `None` when it could not be opened.
    epoch: Option<File>,
    remembered: RwLock<Remembered>,
    recheck_after: Duration,
}

#[derive(Default)]
struct Remembered {
    /// The epoch under which every entry was read from the database.
    epoch: u64,
    entries: HashMap<String, Entry>,
}

struct Entry {
    info: KeyInfo,
    digest: [u8; 32],
    read_at: Instant,
}

/// What a lookup found in memory.
pub(crate) enum Recall {
    /// A remembered live key: its info and the digest of its secret.
    Live(KeyInfo, [u8; 32]),
    /// Not remembered (or too old): read the database, then [`LiveKeys::remember`] under `epoch`.
    Unknown { epoch: Option<u64> },
}

impl LiveKeys {
    /// The memory for the database at `db`, creating its sidecar if there is none.
    pub(crate) fn open(db: &Path) -> Self {
        let path = epoch_path(db);
        let epoch = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .ok();
        LiveKeys {
            path,
            epoch,
            remembered: RwLock::new(Remembered::default()),
            recheck_after: RECHECK_AFTER,
        }
    }

    /// The epoch file.
    pub(crate) fn file(&self) -> &Path {
        &self.path
    }

    /// The remembered entry for `key_id`, if the epoch has not moved since it was read.
    pub(crate) fn recall(&self, key_id: &str) -> Recall {
        let Some(epoch) = self.read_epoch() else {
            return Recall::Unknown { epoch: None };
        };
        let remembered = self
            .remembered
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        match remembered.entries.get(key_id) {
            Some(entry)
                if remembered.epoch == epoch && entry.read_at.elapsed() < self.recheck_after =>
            {
                Recall::Live(entry.info.clone(), entry.digest)
            }
            _ => Recall::Unknown { epoch: Some(epoch) },
        }
    }

    /// Remembers a live key read from the database after the epoch read `epoch`.
    pub(crate) fn remember(&self, epoch: Option<u64>, info: &KeyInfo, digest: [u8; 32]) {
        let Some(epoch) = epoch else { return };
        let mut remembered = self
            .remembered
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if remembered.epoch != epoch || remembered.entries.len() >= CAPACITY {
            // Entries read under another epoch are not known to be current; start over.
            remembered.entries.clear();
            remembered.epoch = epoch;
        }
        remembered.entries.insert(
            info.key_id.clone(),
            Entry {
                info: info.clone(),
                digest,
                read_at: Instant::now(),
            },
        );
    }

    /// Moves the epoch, so that every process serving this database forgets the keys it
    /// remembers. Called after a revocation has committed.
    pub(crate) fn advance(&self) -> io::Result<()> {
        let mut fresh = [0u8; 8];
        getrandom::fill(&mut fresh).map_err(io::Error::other)?;
        match &self.epoch {
            Some(file) => file.write_all_at(&fresh, 0),
            None => OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.path)?
                .write_all_at(&fresh, 0),
        }
    }

    /// The current epoch: the sidecar's first 8 bytes (an empty sidecar is epoch 0).
    fn read_epoch(&self) -> Option<u64> {
        let file = self.epoch.as_ref()?;
        let mut bytes = [0u8; 8];
        let mut filled = 0;
        while filled < bytes.len() {
            match file.read_at(bytes.get_mut(filled..)?, filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        Some(u64::from_le_bytes(bytes))
    }

    /// Shortens how long a remembered key is trusted (tests of the recheck).
    #[cfg(test)]
    pub(crate) fn set_recheck_after(&mut self, after: Duration) {
        self.recheck_after = after;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn info(id: &str) -> KeyInfo {
        KeyInfo {
            key_id: id.into(),
            agent_id: "bot".into(),
            created_ms: 1,
            revoked_ms: None,
        }
    }

    fn epoch_of(recall: Recall) -> Option<u64> {
        match recall {
            Recall::Unknown { epoch } => epoch,
            Recall::Live(..) => panic!("expected nothing remembered"),
        }
    }

    #[test]
    fn a_remembered_key_is_recalled_until_the_epoch_moves() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("warden.db");
        let live = LiveKeys::open(&db);
        let epoch = epoch_of(live.recall("aaaaaaaaaaaa"));
        assert_eq!(epoch, Some(0), "an empty sidecar is epoch 0");
        live.remember(epoch, &info("aaaaaaaaaaaa"), [7; 32]);
        assert!(
            matches!(live.recall("aaaaaaaaaaaa"), Recall::Live(i, d) if i.key_id == "aaaaaaaaaaaa" && d == [7; 32])
        );

        // Another process revokes: its own handle on the same database moves the epoch.
        LiveKeys::open(&db).advance().unwrap();
        let moved = epoch_of(live.recall("aaaaaaaaaaaa"));
        assert!(moved.is_some_and(|e| e != 0));
    }

    #[test]
    fn an_entry_read_under_an_older_epoch_does_not_survive_a_newer_one() {
        let dir = tempfile::tempdir().unwrap();
        let live = LiveKeys::open(&dir.path().join("warden.db"));
        let old = epoch_of(live.recall("aaaaaaaaaaaa"));
        live.advance().unwrap();
        let new = epoch_of(live.recall("bbbbbbbbbbbb"));
        live.remember(new, &info("bbbbbbbbbbbb"), [1; 32]);
        // A lookup that read the epoch before the revocation finishes late.
        live.remember(old, &info("aaaaaaaaaaaa"), [2; 32]);
        assert!(matches!(
            live.recall("aaaaaaaaaaaa"),
            Recall::Unknown { .. }
        ));
        assert!(matches!(
            live.recall("bbbbbbbbbbbb"),
            Recall::Unknown { .. }
        ));
    }

    #[test]
    fn a_remembered_key_is_read_again_after_the_recheck_interval() {
        let dir = tempfile::tempdir().unwrap();
        let mut live = LiveKeys::open(&dir.path().join("warden.db"));
        live.set_recheck_after(Duration::ZERO);
        let epoch = epoch_of(live.recall("aaaaaaaaaaaa"));
        live.remember(epoch, &info("aaaaaaaaaaaa"), [7; 32]);
        assert!(matches!(
            live.recall("aaaaaaaaaaaa"),
            Recall::Unknown { .. }
        ));
    }

    #[test]
    fn without_a_sidecar_nothing_is_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let live = LiveKeys::open(&dir.path().join("missing").join("warden.db"));
        let epoch = epoch_of(live.recall("aaaaaaaaaaaa"));
        assert_eq!(epoch, None);
        live.remember(epoch, &info("aaaaaaaaaaaa"), [7; 32]);
        assert!(matches!(
            live.recall("aaaaaaaaaaaa"),
            Recall::Unknown { epoch: None }
        ));
    }
}
