//! Warden's state store. Today: the ledger in embedded SQLite (WAL; `synchronous=FULL` or
//! `NORMAL`, see [`Durability`]) behind a
//! single writer with group commit. The [`LedgerStore`] and [`LedgerReader`] traits are the
//! boundary, so a PostgreSQL implementation can be added without touching `warden-ledger`.
//!
//! Owns persistence, recovery after crashes, key generation from OS randomness and the writer
//! thread. Record format, hashing, signing and verification belong to `warden-ledger`; this
//! crate must not depend on HTTP or an async runtime (its handles are runtime-agnostic futures).

mod approvals;
mod audit;
mod budget_book;
mod budget_writer;
mod budgets;
mod clock;
mod config;
mod error;
mod halts;
mod handle;
pub mod keys;
mod live_keys;
mod operators;
mod reader;
mod receipts;
mod recovery;
mod schema;
mod sqlite;
mod token;
mod wal;
mod writer;

use std::ops::ControlFlow;

use warden_ledger::{Hash, LedgerPublicKey, LedgerSigningKey, RecordDraft};

pub use approvals::{
    ApprovalRequest, ApprovalState, ApprovalStatus, SqliteApprovals, Vote, VoteError,
};
pub use audit::{ExportError, ExportSummary, export, replay};
pub use budgets::{
    Balance, BudgetLimit, Reservation, ReserveError, ReserveRequest, Settlement, SqliteBudgets,
    StoredLimit,
};
pub use clock::{Clock, FixedClock, SystemClock};
pub use config::{Durability, LedgerConfig};
pub use error::{AppendError, StoreError};
pub use halts::{Halt, SqliteHalts};
pub use handle::{AppendHandle, Appended, Committed};
pub use keys::{IssuedKey, KeyInfo, SqliteKeys};
pub use operators::{InvalidInput, IssuedToken, Operator, Role, SqliteOperators};
pub use reader::{LedgerItem, RecordFilter, SqliteReader, StoredCheckpoint, StoredRecord};
pub use sqlite::SqliteLedger;

/// Appending to a ledger. Implementations serialize appends through one writer and resolve each
/// handle only after the record is durable.
pub trait LedgerStore: Send + Sync {
    /// Queues `draft`; the handle resolves with seq, hash and receipt once it is durable.
    fn append(&self, draft: RecordDraft) -> AppendHandle;
    /// Like [`LedgerStore::append`], for a caller that will wait for the record at once: the
    /// store may commit it (with everything queued before it) on the calling thread, in which
    /// case the handle is already resolved. Takes as long as a commit that needs no disk flush;
    /// never a flush nor a log restart.
    fn append_now(&self, draft: RecordDraft) -> AppendHandle {
        self.append(draft)
    }
    /// The ledger's public key.
    fn public_key(&self) -> LedgerPublicKey;
    /// The checkpoint origin.
    fn origin(&self) -> &str;
}

/// Reading a ledger.
pub trait LedgerReader {
    /// The checkpoint origin.
    fn origin(&self) -> Result<String, StoreError>;
    /// The public key recorded in the ledger. Auditors should pin the key independently; this
    /// one is only as trustworthy as the database.
    fn recorded_public_key(&self) -> Result<LedgerPublicKey, StoreError>;
    /// Number of records.
    fn len(&self) -> Result<u64, StoreError>;
    /// `true` when the ledger has no records.
    fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }
    /// All checkpoints by size.
    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError>;
    /// Streams records from `from_seq` and checkpoints covering more than `from_seq` records, in
    /// verification order, until `visit` breaks.
    fn scan(
        &self,
        from_seq: u64,
        visit: &mut dyn FnMut(LedgerItem<'_>) -> ControlFlow<()>,
    ) -> Result<(), StoreError>;
    /// Streams records matching `filter` by seq.
    fn scan_filtered(
        &self,
        filter: &RecordFilter,
        visit: &mut dyn FnMut(&StoredRecord) -> ControlFlow<()>,
    ) -> Result<(), StoreError>;
    /// The record at `seq`.
    fn record_by_seq(&self, seq: u64) -> Result<Option<StoredRecord>, StoreError>;
    /// The record with id `rec_…`.
    fn record_by_id(&self, id: &str) -> Result<Option<StoredRecord>, StoreError>;
    /// Hashes of records `0..size`, for inclusion proofs.
    fn leaf_hashes(&self, size: u64) -> Result<Vec<Hash>, StoreError>;
}

/// Generates a new ledger signing key from OS randomness.
pub fn generate_signing_key() -> Result<LedgerSigningKey, StoreError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| StoreError::Randomness(e.to_string()))?;
    Ok(LedgerSigningKey::from_seed(&seed))
}
