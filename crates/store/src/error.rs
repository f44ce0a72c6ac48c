//! Errors of the store: opening and migrating the database, and appending records.

/// Opening, creating or reading the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// `create` was called on a database that already holds a ledger.
    #[error("a ledger already exists in {0}")]
    AlreadyExists(String),
    /// `open` was called on a database without a ledger.
    #[error("no ledger in {0} (run `warden ledger init`)")]
    NotInitialized(String),
    /// The database was written by a newer Warden.
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew {
        /// `user_version` found.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// The signing key given does not match the ledger's recorded public key.
    #[error("signing key {given} does not match the ledger's key {recorded}")]
    KeyMismatch {
        /// Key id of the key given.
        given: String,
        /// Key id recorded in the ledger.
        recorded: String,
    },
    /// Stored data is not what the writer left (refusing to append on top of it).
    #[error("ledger data is inconsistent: {0}")]
    Corrupt(String),
    /// The writer thread could not be started.
    #[error("cannot start the ledger writer: {0}")]
    Thread(#[from] std::io::Error),
    /// The operating system could not supply randomness for a new key.
    #[error("no OS randomness: {0}")]
    Randomness(String),
    /// A checkpoint could not be signed.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] warden_ledger::CheckpointError),
    /// The budget writer could not commit budget changes (or has stopped).
    #[error("budget store write failed: {0}")]
    BudgetWrite(String),
    /// A key was revoked, but the processes serving the database could not be told at once.
    #[error("{0}")]
    KeyEpoch(String),
}

/// An append did not become durable. The caller must treat the action as not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The record cannot be canonicalized (e.g. a non-finite number in its arguments).
    #[error("record rejected: {0}")]
    Rejected(String),
    /// The transaction holding the record failed to commit.
    #[error("ledger write failed: {0}")]
    Storage(String),
    /// The writer has stopped (store closed or crashed).
    #[error("ledger writer is not running")]
    WriterGone,
    /// The receipt could not be produced.
    #[error("receipt: {0}")]
    Receipt(String),
}
