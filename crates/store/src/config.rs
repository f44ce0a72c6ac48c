//! Ledger writer configuration.

/// How the writer batches and checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerConfig {
    /// Checkpoint origin line and signed-note key name, e.g. `warden.example.com/ledger`.
    pub origin: String,
    /// Sign a checkpoint once this many records are not yet covered by one (N).
    pub checkpoint_every: u64,
    /// ... or once this many milliseconds have passed since the last one, if any record is
    /// uncovered (T).
    pub checkpoint_interval_ms: u64,
    /// Most records committed in one transaction.
    pub max_batch: usize,
    /// What a commit survives before the writer reports it durable.
    pub durability: Durability,
}

/// What a committed record survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The process crashing or being killed (`kill -9`): each group commit is written to the
    /// operating system before it is reported (SQLite WAL, `synchronous=NORMAL`). A power loss or
    /// kernel crash may lose the last commits (never corrupting the chain).
    Process,
    /// Also power loss: each group commit is flushed to the disk (`synchronous=FULL`), at the cost
    /// of one disk flush per batch.
    #[default]
    PowerLoss,
}

impl Durability {
    /// The SQLite `synchronous` setting that gives it.
    pub fn synchronous(self) -> &'static str {
        match self {
            Durability::Process => "NORMAL",
            Durability::PowerLoss => "FULL",
        }
    }
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self {
            origin: "warden/ledger".into(),
            checkpoint_every: 1000,
            checkpoint_interval_ms: 1000,
            max_batch: 4096,
            durability: Durability::PowerLoss,
        }
    }
}
