//! WAL checkpointing off the writer's path. SQLite normally checkpoints the write-ahead log on
//! the committing connection once it grows past 1000 pages, which stalls that commit (and every
//! append queued behind it) for a disk flush. The ledger writer turns that off, and this thread
//! checkpoints passively on its own connection instead: it never blocks the writer.

use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::StoreError;
use crate::schema::connect;

/// How often the log is checkpointed.
const INTERVAL: Duration = Duration::from_millis(500);

/// Starts the checkpointer for the database at `path`; it stops when `stop` is dropped or sent
/// to, after a last checkpoint.
pub(crate) fn start(path: &Path, stop: Receiver<()>) -> Result<JoinHandle<()>, StoreError> {
    let conn = connect(path)?;
    let handle = std::thread::Builder::new()
        .name("warden-ledger-checkpointer".into())
        .spawn(move || {
            loop {
                let last = match stop.recv_timeout(INTERVAL) {
                    Err(RecvTimeoutError::Timeout) => false,
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
                };
                // PASSIVE: copies what it can without waiting for, or blocking, the writer.
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                if last {
                    return;
                }
            }
        })?;
    Ok(handle)
}
