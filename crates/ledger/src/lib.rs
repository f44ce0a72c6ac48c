//! Warden's tamper-evident ledger core.
//!
//! Owns the record schema, RFC 8785 canonical JSON, record hashing and chaining, the RFC 6962
//! Merkle tree, C2SP signed checkpoints, JWS receipts, the public JWK and the verifier. It is
//! pure: no filesystem, database, async runtime, wall clock or randomness — time and key bytes
//! are passed in, so every function can be tested with plain values. Storage lives in
//! `warden-store`.

pub mod canonical;
pub mod chain;
pub mod checkpoint;
pub mod export;
pub mod hash;
pub mod keys;
pub mod merkle;
pub mod nonce;
pub mod receipt;
pub mod record;
pub mod verify;

pub use canonical::{CanonicalError, CanonicalWriter, canonicalize, to_canonical_bytes};
pub use chain::{ChainState, SealedRecord, record_id};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use hash::{Hash, leaf_hash, node_hash};
pub use keys::{Jwk, KeyError, LedgerPublicKey, LedgerSigningKey};
pub use nonce::Nonce;
pub use receipt::{
    ReceiptClaims, ReceiptError, sign_receipt, sign_receipt_with_nonce, verify_receipt,
};
pub use record::{
    Action, ActionKind, Actor, Approval, ApprovalNeed, BudgetBalance, BudgetSpend, Cost, Decision,
    Event, Halt, KeyChange, McpResult, Outcome, Override, PolicyLoad, Record, RecordDraft,
    SCHEMA_VERSION, SpendOutcome, ToolPin, Verdict,
};
pub use verify::{InclusionProof, Problem, RecordEntry, Verifier, VerifyFailure, VerifyReport};
