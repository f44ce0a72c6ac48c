//! Auditing a stored ledger: replaying it through the `warden-ledger` verifier, and writing
//! exports (JSON Lines) that verify on their own.

use std::io::Write;
use std::ops::ControlFlow;

use warden_ledger::export::{checkpoint_line, header_line, record_line};
use warden_ledger::merkle::inclusion_proof;
use warden_ledger::{InclusionProof, LedgerPublicKey, RecordEntry, Verifier, VerifyFailure};

use crate::LedgerReader;
use crate::error::StoreError;
use crate::reader::{LedgerItem, RecordFilter};

/// Feeds every record and checkpoint of `reader` to `verifier`, stopping at the first failure.
/// The outer error is a read failure; the inner one is what the verifier found.
pub fn replay(
    reader: &dyn LedgerReader,
    verifier: &mut Verifier,
) -> Result<Result<(), VerifyFailure>, StoreError> {
    let mut outcome = Ok(());
    reader.scan(0, &mut |item| {
        let step = match item {
            LedgerItem::Record(r) => verifier.record(RecordEntry {
                stored_seq: Some(r.seq),
                claimed_hash: Some(r.hash),
                bytes: r.body.as_bytes(),
                proof: None,
            }),
            LedgerItem::Checkpoint(c) => verifier.checkpoint(&c.note),
        };
        match step {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                outcome = Err(e);
                ControlFlow::Break(())
            }
        }
    })?;
    Ok(outcome)
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Records written.
    pub records: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// Matching records left out because no checkpoint covers them yet (filtered exports).
    pub unanchored_skipped: u64,
}

/// An export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the ledger failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the output failed.
    #[error("writing export: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes the ledger as JSON Lines. Without a filter: every record and checkpoint (verifiable
/// link by link). With a filter: the latest checkpoint and the matching records it covers, each
/// with an inclusion proof against it.
pub fn export(
    reader: &dyn LedgerReader,
    key: &LedgerPublicKey,
    filter: &RecordFilter,
    out: &mut dyn Write,
) -> Result<ExportSummary, ExportError> {
    writeln!(out, "{}", header_line(&reader.origin()?, &key.to_jwk()))?;
    let mut summary = ExportSummary::default();
    let mut io_error = None;
    if filter.since_ms.is_none() && filter.agent_id.is_none() {
        reader.scan(0, &mut |item| {
            let line = match item {
                LedgerItem::Record(r) => {
                    summary.records += 1;
                    record_line(r.seq, &r.hash, r.body.as_bytes(), None)
                }
                LedgerItem::Checkpoint(c) => {
                    summary.checkpoints += 1;
                    checkpoint_line(c.size, &c.note)
                }
            };
            match writeln!(out, "{line}") {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    io_error = Some(e);
                    ControlFlow::Break(())
                }
            }
        })?;
    } else {
        let Some(latest) = reader.checkpoints()?.pop() else {
            return Ok(summary);
        };
        writeln!(out, "{}", checkpoint_line(latest.size, &latest.note))?;
        summary.checkpoints = 1;
        let leaves = reader.leaf_hashes(latest.size)?;
        reader.scan_filtered(filter, &mut |r| {
            if r.seq >= latest.size {
                summary.unanchored_skipped += 1;
                return ControlFlow::Continue(());
            }
            let path = inclusion_proof(&leaves, r.seq).unwrap_or_default();
            let proof = InclusionProof {
                tree_size: latest.size,
                path,
            };
            summary.records += 1;
            let line = record_line(r.seq, &r.hash, r.body.as_bytes(), Some(&proof));
            match writeln!(out, "{line}") {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    io_error = Some(e);
                    ControlFlow::Break(())
                }
            }
        })?;
    }
    match io_error {
        Some(e) => Err(e.into()),
        None => Ok(summary),
    }
}
