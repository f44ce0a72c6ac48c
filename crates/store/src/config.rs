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
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self {
            origin: "warden/ledger".into(),
            checkpoint_every: 1000,
            checkpoint_interval_ms: 1000,
            max_batch: 4096,
        }
    }
}
