//! WAL checkpointing off the writer's path, and keeping the log file short under sustained load.
//!
//! SQLite normally checkpoints the write-ahead log on the committing connection once it grows
//! past 1000 pages, which stalls that commit (and every append queued behind it) for a disk
//! flush. The ledger writer turns that off, and this thread checkpoints passively on its own
//! connection instead: it never blocks the writer.
//!
//! A passive checkpoint alone never lets the log start over while appends keep coming: SQLite
//! rewinds the log only when a write begins with every frame already copied into the database,
//! and under load new frames arrive while each checkpoint runs, so the file would grow without
//! bound (over a gigabyte a minute at full rate). So when the log passes
//! [`WalLimits::restart_frames`], this thread checkpoints again and again until it is nearly
//! caught up, then asks the writer ([`Restart`]) to copy the last few frames itself
//! between two batches ([`restart`]); the writer's next commit then rewinds the log. The pause
//! that costs the writer is a checkpoint of at most [`WalLimits::catch_up_frames`] frames.
//!
//! That last checkpoint must flush the database file before the log may start over, and SQLite
//! flushes it only in a checkpoint that reaches the end of the log: under load, only the
//! writer's. Everything this thread copied since the previous restart would then be flushed on
//! the writer's time. So before asking, this thread flushes the database file itself
//! ([`DbFile`]), and the writer's flush is left with its last few pages.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::StoreError;
use crate::schema::connect;
use crate::writer::Shared;

/// How often the log is checkpointed.
const INTERVAL: Duration = Duration::from_millis(500);
/// Passes in a row while catching up, before waiting for the next interval.
const MAX_PASSES: usize = 16;
/// The size the log file is cut back to after it starts over (SQLite's `journal_size_limit`):
/// a little more than [`WalLimits::default`] lets it grow to, so that once the file has reached
/// its working size it is overwritten in place rather than cut and grown again (growing a file
/// makes the filesystem allocate blocks, which the next disk flush must also write).
pub(crate) const KEEP_BYTES: i64 = 320 << 20;

/// When the log is to start over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WalLimits {
    /// Frames (pages) in the log past which it is made to start over.
    pub restart_frames: i64,
    /// Frames left to copy at most when the writer is asked to finish the checkpoint.
    pub catch_up_frames: i64,
}

/// Bytes of log past which it is made to start over: about 256 MiB. The writer's part costs it a
/// disk flush or two, so it is asked for at most every several seconds at full rate.
const RESTART_BYTES: i64 = 256 << 20;
/// Bytes of log left to copy at most when the writer is asked to finish the checkpoint.
const CATCH_UP_BYTES: i64 = 1 << 20;

impl WalLimits {
    /// The limits for a database whose pages (log frames) hold `page_size` bytes.
    pub(crate) fn for_page_size(page_size: i64) -> Self {
        let page_size = page_size.max(512);
        WalLimits {
            restart_frames: RESTART_BYTES / page_size,
            catch_up_frames: CATCH_UP_BYTES / page_size,
        }
    }
}

/// The checkpointer's request to the writer.
#[derive(Default)]
pub(crate) struct Restart {
    wanted: AtomicBool,
    /// The writer to wake when a restart is wanted.
    writer: OnceLock<Weak<Shared>>,
}

impl Restart {
    /// Whether the writer should finish a checkpoint now; clears the request.
    pub(crate) fn take(&self) -> bool {
        self.wanted.swap(false, Ordering::Relaxed)
    }

    /// Whether a restart is wanted, leaving the request in place.
    pub(crate) fn wanted(&self) -> bool {
        self.wanted.load(Ordering::Relaxed)
    }

    /// The writer thread to wake with each request.
    pub(crate) fn wake_with(&self, writer: &Arc<Shared>) {
        let _ = self.writer.set(Arc::downgrade(writer));
    }

    fn request(&self) {
        self.wanted.store(true, Ordering::Relaxed);
        if let Some(writer) = self.writer.get().and_then(Weak::upgrade) {
            writer.wake();
        }
    }
}

/// Starts the checkpointer for the database at `path`; it stops when `stop` is dropped or sent
/// to, after a last checkpoint.
pub(crate) fn start(
    path: &Path,
    stop: Receiver<()>,
    limits: WalLimits,
    restart: Arc<Restart>,
) -> Result<JoinHandle<()>, StoreError> {
    let conn = connect(path)?;
    let db = DbFile::open(path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("opening {} to flush it: {e}", path.display()),
        )
    })?;
    let handle = std::thread::Builder::new()
        .name("warden-ledger-checkpointer".into())
        .spawn(move || {
            loop {
                let last = match stop.recv_timeout(INTERVAL) {
                    Err(RecvTimeoutError::Timeout) => false,
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
                };
                if last {
                    let _ = checkpoint(&conn);
                    return;
                }
                catch_up(&conn, limits, &restart, &db);
            }
        })?;
    Ok(handle)
}

/// One round: a passive checkpoint, repeated while the log is long and far from copied; once it
/// is close, flushes what was copied and asks the writer to finish.
pub(crate) fn catch_up(conn: &Connection, limits: WalLimits, restart: &Restart, db: &DbFile) {
    for _ in 0..MAX_PASSES {
        let Ok(progress) = checkpoint(conn) else {
            return;
        };
        if progress.log < limits.restart_frames {
            return;
        }
        if progress.log - progress.copied <= limits.catch_up_frames {
            // Only the writer's pause depends on this flush: if it fails, the writer's own
            // checkpoint still flushes the file (and meets the same error) before the log can
            // start over.
            let _ = db.flush();
            restart.request();
            return;
        }
    }
}

/// The database file, open for flushing it outside SQLite.
///
/// Closing any descriptor of a file drops every POSIX lock the process holds on it, SQLite's
/// included (they guard the file against other processes). So the descriptor is never closed:
/// one per database file, kept for the life of the process and shared by every ledger opened on
/// that file.
pub(crate) struct DbFile(Arc<File>);

/// What identifies a file: its device and inode (a file created later at the same path is
/// another file; the number of one held open is never reused).
#[cfg(unix)]
type FileKey = (u64, u64);
#[cfg(not(unix))]
type FileKey = std::path::PathBuf;

/// The key of the file at `path`, or of `opened` (the file opened from it) when given.
#[cfg(unix)]
fn file_key(path: &Path, opened: Option<&File>) -> std::io::Result<FileKey> {
    use std::os::unix::fs::MetadataExt;
    let meta = match opened {
        Some(file) => file.metadata()?,
        None => std::fs::metadata(path)?,
    };
    Ok((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_key(path: &Path, _opened: Option<&File>) -> std::io::Result<FileKey> {
    std::fs::canonicalize(path)
}

impl DbFile {
    /// The descriptor for the database at `path`, opened on first use.
    pub(crate) fn open(path: &Path) -> std::io::Result<Self> {
        static OPEN: OnceLock<Mutex<HashMap<FileKey, Arc<File>>>> = OnceLock::new();
        let mut open = OPEN
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let at_path = file_key(path, None)?;
        if let Some(known) = open.get(&at_path) {
            return Ok(DbFile(Arc::clone(known)));
        }
        let file = Arc::new(File::open(path)?);
        // Keyed by what was opened (the path may have changed hands in between); once open, the
        // file is kept whatever happens.
        let key = file_key(path, Some(&file)).unwrap_or(at_path);
        open.insert(key, Arc::clone(&file));
        Ok(DbFile(file))
    }

    /// Writes the file's data to the disk (`fdatasync`).
    pub(crate) fn flush(&self) -> std::io::Result<()> {
        self.0.sync_data()
    }
}

/// The writer's part: copies the frames still in the log into the database, between two
/// batches, so that its next commit rewinds the log.
pub(crate) fn restart(conn: &Connection) {
    let _ = checkpoint(conn);
}

/// What a checkpoint reports: frames in the log, and frames copied into the database.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Progress {
    pub log: i64,
    pub copied: i64,
}

/// `PRAGMA wal_checkpoint(PASSIVE)`: copies what it can without waiting for, or blocking,
/// anyone.
pub(crate) fn checkpoint(conn: &Connection) -> rusqlite::Result<Progress> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok(Progress {
            log: r.get(1)?,
            copied: r.get(2)?,
        })
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Bytes of one row the test writer appends: a few pages.
    const ROW: usize = 4000;

    #[test]
    fn a_database_file_gets_one_descriptor_that_outlives_its_users() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.db");
        let _conn = connect(&path).unwrap();
        let first = DbFile::open(&path).unwrap();
        let kept = Arc::downgrade(&first.0);
        drop(first);
        // Another spelling of the same path finds the descriptor opened first, still open.
        let second = DbFile::open(&dir.path().join(".").join("warden.db")).unwrap();
        assert!(
            kept.upgrade().is_some_and(|f| Arc::ptr_eq(&f, &second.0)),
            "the database file was opened again instead of reusing the open descriptor"
        );
        second.flush().unwrap();
        // A file created later at the same path is another file.
        std::fs::rename(&path, dir.path().join("old.db")).unwrap();
        std::fs::write(&path, b"").unwrap();
        let recreated = DbFile::open(&path).unwrap();
        assert!(!Arc::ptr_eq(&recreated.0, &second.0));
    }

    #[test]
    fn the_log_starts_over_while_appends_never_stop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.db");
        let writer = connect(&path).unwrap();
        writer
            .execute_batch("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
            .unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer
            .pragma_update(None, "journal_size_limit", 1 << 20)
            .unwrap();
        let checkpointer = connect(&path).unwrap();
        let db = DbFile::open(&path).unwrap();
        let limits = WalLimits {
            restart_frames: 64,
            catch_up_frames: 16,
        };
        let restart = Arc::new(Restart::default());
        let done = Arc::new(AtomicBool::new(false));

        // The writer appends rows without pause, finishing a checkpoint when asked,
        // as the ledger writer does between batches.
        let appender = {
            let (restart, done) = (Arc::clone(&restart), Arc::clone(&done));
            std::thread::spawn(move || {
                let body = vec![7u8; ROW];
                let mut restarts = 0;
                for _ in 0..4000 {
                    writer
                        .execute("INSERT INTO rows (body) VALUES (?1)", [&body])
                        .unwrap();
                    if restart.take() {
                        crate::wal::restart(&writer);
                        restarts += 1;
                    }
                }
                done.store(true, Ordering::Relaxed);
                restarts
            })
        };
        let wal = dir.path().join("warden.db-wal");
        let mut largest = 0;
        while !done.load(Ordering::Relaxed) {
            catch_up(&checkpointer, limits, &restart, &db);
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
            std::thread::sleep(Duration::from_millis(2));
        }
        let restarts = appender.join().unwrap();
        // 16 MB of rows went through the log; without rewinds the file would hold them all.
        assert!(
            restarts > 0,
            "the writer was never asked to finish a checkpoint"
        );
        assert!(
            largest < 6 << 20,
            "the log grew to {largest} bytes although it should start over past 64 frames"
        );
    }
}
