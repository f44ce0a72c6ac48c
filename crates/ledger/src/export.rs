//! The export format: JSON Lines. A `header` line (origin and public JWK), then `record` lines
//! carrying each record's canonical bytes verbatim with its hash (and, in filtered exports, an
//! inclusion proof), and `checkpoint` lines carrying signed notes. Pure: lines in, lines out.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::hash::Hash;
use crate::keys::Jwk;
use crate::verify::{InclusionProof, RecordEntry};

/// An export line that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// Not a JSON object of a known line type with its fields.
    #[error("line {line}: {reason}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// One parsed export line, borrowing from the line text.
#[derive(Debug)]
pub enum ExportLine<'a> {
    /// The ledger identity (informational: verifiers should pin the key independently).
    Header {
        /// Checkpoint origin.
        origin: String,
        /// Public key as JWK.
        jwk: Jwk,
    },
    /// A record.
    Record {
        /// Stored seq.
        seq: Option<u64>,
        /// Stored hash.
        hash: Hash,
        /// Canonical bytes, verbatim.
        bytes: &'a [u8],
        /// Inclusion proof (filtered exports).
        proof: Option<InclusionProof>,
    },
    /// A signed checkpoint note.
    Checkpoint {
        /// Signed-note text.
        note: String,
    },
}

impl<'a> ExportLine<'a> {
    /// The verifier entry for a record line.
    pub fn as_entry(&'a self) -> Option<RecordEntry<'a>> {
        match self {
            ExportLine::Record {
                seq,
                hash,
                bytes,
                proof,
            } => Some(RecordEntry {
                stored_seq: *seq,
                claimed_hash: Some(*hash),
                bytes,
                proof: proof.as_ref(),
            }),
            _ => None,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct LineFields<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwk: Option<Jwk>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hash: Option<Hash>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    record: Option<&'a RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    proof: Option<InclusionProof>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl LineFields<'_> {
    fn new(kind: &str) -> Self {
        LineFields {
            kind: kind.to_owned(),
            origin: None,
            jwk: None,
            seq: None,
            hash: None,
            record: None,
            proof: None,
            size: None,
            note: None,
        }
    }

    fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The header line.
pub fn header_line(origin: &str, jwk: &Jwk) -> String {
    let mut l = LineFields::new("header");
    l.origin = Some(origin.to_owned());
    l.jwk = Some(jwk.clone());
    l.line()
}

/// A record line. `bytes` must be the record's canonical JSON.
pub fn record_line(seq: u64, hash: &Hash, bytes: &[u8], proof: Option<&InclusionProof>) -> String {
    let record = std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| RawValue::from_string(s.to_owned()).ok());
    let mut l = LineFields::new("record");
    l.seq = Some(seq);
    l.hash = Some(*hash);
    l.record = record.as_deref();
    l.proof = proof.cloned();
    l.line()
}

/// A checkpoint line.
pub fn checkpoint_line(size: u64, note: &str) -> String {
    let mut l = LineFields::new("checkpoint");
    l.size = Some(size);
    l.note = Some(note.to_owned());
    l.line()
}

/// Parses line `number` (1-based, for error messages).
pub fn parse_line(text: &str, number: usize) -> Result<ExportLine<'_>, ExportError> {
    let bad = |reason: String| ExportError::BadLine {
        line: number,
        reason,
    };
    let f: LineFields<'_> = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    match f.kind.as_str() {
        "header" => Ok(ExportLine::Header {
            origin: f
                .origin
                .ok_or_else(|| bad("header without origin".into()))?,
            jwk: f.jwk.ok_or_else(|| bad("header without jwk".into()))?,
        }),
        "record" => Ok(ExportLine::Record {
            seq: f.seq,
            hash: f.hash.ok_or_else(|| bad("record without hash".into()))?,
            bytes: f
                .record
                .ok_or_else(|| bad("record line without record".into()))?
                .get()
                .as_bytes(),
            proof: f.proof,
        }),
        "checkpoint" => Ok(ExportLine::Checkpoint {
            note: f
                .note
                .ok_or_else(|| bad("checkpoint without note".into()))?,
        }),
        other => Err(bad(format!("unknown line type {other:?}"))),
    }
}
