//! Sealing: turning drafts into hashed, linked records. `ChainState` is the writer's state
//! machine — next seq, last hash, each agent's head and the Merkle frontier — and is the only
//! place links are made.
//!
//! Pure: time is passed in; persistence and recovery of the state belong to the store.

use std::collections::HashMap;

use crate::canonical::{CanonicalError, CanonicalWriter};
use crate::checkpoint::Checkpoint;
use crate::hash::{Hash, leaf_hash};
use crate::merkle::Frontier;
use crate::receipt::ReceiptClaims;
use crate::record::{Record, RecordDraft, SCHEMA_VERSION};

/// A record's id: `rec_` followed by the first 16 bytes of its hash in hex.
pub fn record_id(hash: &Hash) -> String {
    let mut text = *b"rec_00000000000000000000000000000000";
    let (_, hex_part) = text.split_at_mut(4);
    let prefix = hash.0.get(..16).unwrap_or(&hash.0);
    if hex::encode_to_slice(prefix, hex_part).is_err() {
        return format!("rec_{}", hex::encode(prefix));
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// A sealed record: the typed record, the exact canonical bytes that were hashed, and the hash.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedRecord {
    /// The record.
    pub record: Record,
    /// RFC 8785 canonical JSON of `record`: the stored form.
    pub bytes: Vec<u8>,
    /// `SHA-256(0x00 || bytes)`: the record hash and Merkle leaf.
    pub hash: Hash,
}

impl SealedRecord {
    /// The record id.
    pub fn id(&self) -> String {
        record_id(&self.hash)
    }

    /// The receipt claims for this record under ledger `origin`.
    pub fn receipt_claims(&self, origin: &str) -> ReceiptClaims {
        ReceiptClaims {
            iss: origin.to_owned(),
            sub: self.record.actor.agent_id.clone(),
            rid: self.id(),
            seq: self.record.seq,
            leaf: self.hash,
            agent_prev: self.record.agent_prev,
            iat: self.record.time_ms / 1000,
            time_ms: self.record.time_ms,
            bundle: self.record.bundle_digest.clone(),
            outcome: self.record.event.outcome(),
        }
    }
}

/// The writer's view of the ledger head.
#[derive(Debug, Clone, Default)]
pub struct ChainState {
    next_seq: u64,
    last_hash: Hash,
    agent_heads: HashMap<String, Hash>,
    tree: Frontier,
    /// Buffers reused from one record to the next.
    canonical: CanonicalWriter,
}

impl ChainState {
    /// The state of an empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the state from what a store recovered: every record hash in seq order (for the
    /// Merkle frontier) and each agent's last record hash.
    pub fn restore(
        hashes: impl IntoIterator<Item = Hash>,
        agent_heads: HashMap<String, Hash>,
    ) -> Self {
        let mut tree = Frontier::new();
        let mut last_hash = Hash::ZERO;
        for h in hashes {
            tree.push(h);
            last_hash = h;
        }
        Self {
            next_seq: tree.size(),
            last_hash,
            agent_heads,
            tree,
            canonical: CanonicalWriter::new(),
        }
    }

    /// The seq the next record will get (= number of records).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Hash of the last record (zero when empty).
    pub fn last_hash(&self) -> Hash {
        self.last_hash
    }

    /// The current tree head for `origin`.
    pub fn checkpoint(&self, origin: &str) -> Checkpoint {
        Checkpoint {
            origin: origin.to_owned(),
            size: self.tree.size(),
            root: self.tree.root(),
        }
    }

    /// Seals `draft` at `time_ms`: assigns the next seq, links the previous record and the
    /// agent's previous record, canonicalizes and hashes, and advances the state.
    pub fn seal(
        &mut self,
        draft: RecordDraft,
        time_ms: u64,
    ) -> Result<SealedRecord, CanonicalError> {
        let agent_prev = draft
            .actor
            .agent_id
            .as_ref()
            .and_then(|a| self.agent_heads.get(a).copied());
        let record = Record {
            v: SCHEMA_VERSION,
            seq: self.next_seq,
            time_ms,
            prev: self.last_hash,
            agent_prev,
            actor: draft.actor,
            bundle_digest: draft.bundle_digest,
            event: draft.event,
        };
        let bytes = self.canonical.to_bytes(&record)?;
        let hash = leaf_hash(&bytes);
        if let Some(agent) = &record.actor.agent_id {
            self.agent_heads.insert(agent.clone(), hash);
        }
        self.next_seq += 1;
        self.last_hash = hash;
        self.tree.push(hash);
        Ok(SealedRecord {
            record,
            bytes,
            hash,
        })
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_record_id_is_rec_and_the_first_half_of_the_hash_in_hex() {
        let hash = Hash::sha256(b"record");
        let id = record_id(&hash);
        assert_eq!(id, format!("rec_{}", &hash.to_hex()[..32]));
        assert_eq!(id.len(), 36);
    }
}
