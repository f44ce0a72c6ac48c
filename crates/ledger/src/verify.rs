//! The verifier: replays records and checkpoints from any source (a live store or an export
//! file) and stops at the first problem, naming the seq and what is wrong.
//!
//! Full ledgers are checked link by link: every seq present and in order, every record's bytes
//! hash to its stored hash, every `prev` and `agent_prev` link, every checkpoint's signature and
//! its root against the tree recomputed from the records, checkpoints never shrinking, and any
//! receipts given. Partial exports carry inclusion proofs instead. Pure: fed values, no I/O.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::chain::record_id;
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::hash::{Hash, leaf_hash};
use crate::keys::LedgerPublicKey;
use crate::merkle::{Frontier, verify_inclusion};
use crate::receipt::{ReceiptClaims, ReceiptError, verify_receipt};
use crate::record::SCHEMA_VERSION;

/// An inclusion proof attached to a record in a partial export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Size of the checkpoint the proof is against.
    pub tree_size: u64,
    /// Audit path, leaf to root.
    pub path: Vec<Hash>,
}

/// One record to verify.
#[derive(Debug, Clone, Copy)]
pub struct RecordEntry<'a> {
    /// The seq the source files the record under (row key or export field), if any.
    pub stored_seq: Option<u64>,
    /// The hash the source claims for the record (stored column or export field), if any.
    pub claimed_hash: Option<Hash>,
    /// The record's canonical bytes.
    pub bytes: &'a [u8],
    /// Inclusion proof, for partial exports.
    pub proof: Option<&'a InclusionProof>,
}

/// What is wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The record is not JSON with the v1 link fields.
    #[error("record is not a valid v{SCHEMA_VERSION} record: {0}")]
    Malformed(String),
    /// The record has a schema version this verifier does not know.
    #[error("unsupported schema version {0}")]
    UnsupportedVersion(u64),
    /// The record expected at this seq is absent (deleted or truncated).
    #[error("record is missing (next record present is seq {found})")]
    Missing {
        /// The seq of the record found instead.
        found: u64,
    },
    /// The record filed at this seq carries another seq (reordered or duplicated).
    #[error("record filed at this seq claims seq {found}")]
    OutOfOrder {
        /// The seq the record claims.
        found: u64,
    },
    /// The record's bytes do not hash to the hash stored with it (the record was edited).
    #[error("content hash {computed} does not match stored hash {claimed}")]
    HashMismatch {
        /// Hash of the bytes.
        computed: Hash,
        /// Hash stored beside them.
        claimed: Hash,
    },
    /// `prev` is not the hash of the previous record.
    #[error("prev link {found} is not the previous record's hash {expected}")]
    BrokenLink {
        /// The previous record's hash.
        expected: Hash,
        /// The record's `prev`.
        found: Hash,
    },
    /// `agent_prev` is not the hash of this agent's previous record.
    #[error("agent chain of {agent:?} broken: agent_prev {found:?}, expected {expected:?}")]
    BrokenAgentLink {
        /// The agent.
        agent: String,
        /// That agent's previous record hash.
        expected: Option<Hash>,
        /// The record's `agent_prev`.
        found: Option<Hash>,
    },
    /// A checkpoint is unreadable, for another origin, or not signed by the ledger key.
    #[error("checkpoint for tree size {size}: {error}")]
    Checkpoint {
        /// The size the checkpoint claims (0 when unreadable).
        size: u64,
        /// The problem.
        error: CheckpointError,
    },
    /// A checkpoint names another origin.
    #[error("checkpoint origin {found:?} is not the ledger origin {expected:?}")]
    WrongOrigin {
        /// The expected origin.
        expected: String,
        /// The checkpoint's origin.
        found: String,
    },
    /// A checkpoint's root differs from the tree recomputed from the records. The failure's seq
    /// is the first record not covered by an earlier good checkpoint: the rewrite is at or after
    /// it.
    #[error(
        "records up to tree size {size} do not hash to its signed root (history rewritten or forked at or after this seq)"
    )]
    RootMismatch {
        /// The checkpoint's size.
        size: u64,
    },
    /// A checkpoint is for a smaller tree than an earlier one, or the same size with another root.
    #[error(
        "checkpoint for size {size} is inconsistent with an earlier checkpoint for size {earlier}"
    )]
    Inconsistent {
        /// This checkpoint's size.
        size: u64,
        /// The earlier checkpoint's size.
        earlier: u64,
    },
    /// A ledger checkpoint appears after records it does not cover (stored out of order).
    #[error("checkpoint for size {size} appears after later records")]
    LateCheckpoint {
        /// The checkpoint's size.
        size: u64,
    },
    /// The ledger ends before a signed checkpoint's size (tail truncated).
    #[error("ledger ends here but a signed checkpoint covers {size} records")]
    Truncated {
        /// The checkpoint's size.
        size: u64,
    },
    /// A receipt does not verify.
    #[error("receipt invalid: {0}")]
    Receipt(ReceiptError),
    /// A valid receipt names this seq but the record differs or is absent.
    #[error("receipt {rid} for leaf {leaf} does not match the record ({found})")]
    ReceiptMismatch {
        /// The receipt's record id.
        rid: String,
        /// The receipt's leaf hash.
        leaf: Hash,
        /// What the ledger holds.
        found: String,
    },
    /// An inclusion proof does not lead to the signed root, or its checkpoint is absent.
    #[error("inclusion proof against tree size {size} fails: {reason}")]
    Inclusion {
        /// The checkpoint size the proof names.
        size: u64,
        /// Why.
        reason: &'static str,
    },
}

/// The first problem found: the seq it concerns (when there is one) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{}{problem}", seq.map(|s| format!("seq {s}: ")).unwrap_or_default())]
pub struct VerifyFailure {
    /// The first bad seq.
    pub seq: Option<u64>,
    /// What is wrong.
    #[serde(serialize_with = "display")]
    pub problem: Problem,
}

fn display<S: serde::Serializer>(p: &Problem, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(p)
}

/// Summary of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Records checked.
    pub records: u64,
    /// First seq seen.
    pub first_seq: Option<u64>,
    /// Last seq seen.
    pub last_seq: Option<u64>,
    /// Distinct agents.
    pub agents: u64,
    /// Checkpoints whose signature and root were checked.
    pub checkpoints: u64,
    /// The largest checkpoint size checked.
    pub checkpointed_size: u64,
    /// Records after the last checkpoint (checked by chain only, not yet signed).
    pub unanchored: u64,
    /// Receipts checked.
    pub receipts: u64,
    /// Root over all records (full ledgers only).
    pub root: Option<Hash>,
    /// `true` when records were checked by inclusion proofs (a filtered export).
    pub partial: bool,
}

#[derive(Deserialize)]
struct Links<'a> {
    v: u64,
    seq: u64,
    #[serde(borrow)]
    prev: &'a str,
    #[serde(default, borrow)]
    agent_prev: Option<&'a str>,
    #[serde(borrow)]
    actor: ActorLinks<'a>,
}

#[derive(Deserialize)]
struct ActorLinks<'a> {
    #[serde(default, borrow)]
    agent_id: Option<std::borrow::Cow<'a, str>>,
}

/// Replays a ledger. Feed [`Verifier::checkpoint`] and [`Verifier::record`] in ledger order
/// (checkpoints may come before the records they cover), then call [`Verifier::finish`].
#[derive(Debug)]
pub struct Verifier {
    key: LedgerPublicKey,
    origin: Option<String>,
    partial: Option<bool>,
    next_seq: u64,
    first_seq: Option<u64>,
    last_hash: Hash,
    agent_heads: HashMap<String, Hash>,
    tree: Frontier,
    pending: BTreeMap<u64, Checkpoint>,
    known: BTreeMap<u64, Hash>,
    last_stream: Option<(u64, Hash)>,
    good_size: u64,
    checkpoints: u64,
    receipts: BTreeMap<u64, Vec<ReceiptClaims>>,
    receipts_checked: u64,
    records: u64,
}

fn fail<T>(seq: Option<u64>, problem: Problem) -> Result<T, VerifyFailure> {
    Err(VerifyFailure { seq, problem })
}

impl Verifier {
    /// A verifier trusting `key`; `origin`, when given, is the only accepted checkpoint origin
    /// (otherwise the first checkpoint's origin is pinned).
    pub fn new(key: LedgerPublicKey, origin: Option<String>) -> Self {
        Self {
            key,
            origin,
            partial: None,
            next_seq: 0,
            first_seq: None,
            last_hash: Hash::ZERO,
            agent_heads: HashMap::new(),
            tree: Frontier::new(),
            pending: BTreeMap::new(),
            known: BTreeMap::new(),
            last_stream: None,
            good_size: 0,
            checkpoints: 0,
            receipts: BTreeMap::new(),
            receipts_checked: 0,
            records: 0,
        }
    }

    /// Registers a receipt to check against its record. Call before feeding records. Fails at
    /// once when the receipt's signature does not verify.
    pub fn receipt(&mut self, jws: &str) -> Result<(), VerifyFailure> {
        let claims = verify_receipt(jws, &self.key).map_err(|e| VerifyFailure {
            seq: None,
            problem: Problem::Receipt(e),
        })?;
        self.receipts.entry(claims.seq).or_default().push(claims);
        Ok(())
    }

    /// Feeds one signed checkpoint (signed-note text) from the ledger itself. Successive ledger
    /// checkpoints must never shrink.
    pub fn checkpoint(&mut self, text: &str) -> Result<(), VerifyFailure> {
        self.add_checkpoint(text, false)
    }

    /// Adds a checkpoint obtained independently (from a witness, an earlier audit or another
    /// replica). It must agree with the ledger: a ledger shorter than it, or with another root at
    /// its size, fails (truncation, fork).
    pub fn trusted_checkpoint(&mut self, text: &str) -> Result<(), VerifyFailure> {
        self.add_checkpoint(text, true)
    }

    fn add_checkpoint(&mut self, text: &str, external: bool) -> Result<(), VerifyFailure> {
        let here = Some(self.good_size);
        let cp = Checkpoint::verify(text, &self.key).map_err(|error| VerifyFailure {
            seq: here,
            problem: Problem::Checkpoint {
                size: claimed_size(text),
                error,
            },
        })?;
        match &self.origin {
            Some(o) if *o != cp.origin => {
                let problem = Problem::WrongOrigin {
                    expected: o.clone(),
                    found: cp.origin,
                };
                return fail(here, problem);
            }
            Some(_) => {}
            None => self.origin = Some(cp.origin.clone()),
        }
        if !external {
            if let Some((earlier, root)) = self.last_stream
                && (cp.size < earlier || (cp.size == earlier && cp.root != root))
            {
                return fail(
                    here,
                    Problem::Inconsistent {
                        size: cp.size,
                        earlier,
                    },
                );
            }
            self.last_stream = Some((cp.size, cp.root));
        }
        if let Some(root) = self.known.get(&cp.size) {
            if *root != cp.root {
                let problem = Problem::Inconsistent {
                    size: cp.size,
                    earlier: cp.size,
                };
                return fail(here, problem);
            }
            return Ok(());
        }
        self.known.insert(cp.size, cp.root);
        self.checkpoints += 1;
        if self.partial == Some(true) {
            return Ok(());
        }
        if cp.size == self.tree.size() {
            return self.check_root(&cp);
        }
        if cp.size < self.tree.size() {
            return fail(here, Problem::LateCheckpoint { size: cp.size });
        }
        self.pending.insert(cp.size, cp);
        Ok(())
    }

    fn check_root(&mut self, cp: &Checkpoint) -> Result<(), VerifyFailure> {
        if cp.root != self.tree.root() {
            return fail(
                Some(self.good_size),
                Problem::RootMismatch { size: cp.size },
            );
        }
        self.good_size = cp.size;
        Ok(())
    }

    /// Feeds one record.
    pub fn record(&mut self, entry: RecordEntry<'_>) -> Result<(), VerifyFailure> {
        let partial = match self.partial {
            Some(p) => p,
            None => {
                let p = entry.proof.is_some();
                if p {
                    // Filtered export: checkpoints anchor inclusion proofs, not a recomputed tree.
                    self.pending.clear();
                }
                self.partial = Some(p);
                p
            }
        };
        let expected = self.next_seq;
        let links: Links<'_> = serde_json::from_slice(entry.bytes).map_err(|e| VerifyFailure {
            seq: Some(expected),
            problem: Problem::Malformed(e.to_string()),
        })?;
        let seq = links.seq;
        if let Some(stored) = entry.stored_seq.filter(|s| *s != seq) {
            return fail(Some(stored), Problem::OutOfOrder { found: seq });
        }
        if partial {
            if self.records > 0 && seq < expected {
                return fail(Some(expected), Problem::OutOfOrder { found: seq });
            }
        } else if seq > expected {
            return fail(Some(expected), Problem::Missing { found: seq });
        } else if seq < expected {
            return fail(Some(expected), Problem::OutOfOrder { found: seq });
        }
        let at = Some(seq);
        if links.v != u64::from(SCHEMA_VERSION) {
            return fail(at, Problem::UnsupportedVersion(links.v));
        }
        let hash = leaf_hash(entry.bytes);
        if let Some(claimed) = entry.claimed_hash.filter(|c| *c != hash) {
            return fail(
                at,
                Problem::HashMismatch {
                    computed: hash,
                    claimed,
                },
            );
        }
        let prev = parse_hash(links.prev, seq)?;
        let contiguous = !partial || (self.records > 0 && seq == expected);
        if contiguous && prev != self.last_hash {
            return fail(
                at,
                Problem::BrokenLink {
                    expected: self.last_hash,
                    found: prev,
                },
            );
        }
        let agent_prev = links.agent_prev.map(|h| parse_hash(h, seq)).transpose()?;
        if let Some(agent) = links.actor.agent_id {
            let head = self.agent_heads.get(agent.as_ref()).copied();
            let known = !partial || head.is_some();
            if known && head != agent_prev {
                return fail(
                    at,
                    Problem::BrokenAgentLink {
                        agent: agent.into_owned(),
                        expected: head,
                        found: agent_prev,
                    },
                );
            }
            match self.agent_heads.get_mut(agent.as_ref()) {
                Some(slot) => *slot = hash,
                None => {
                    self.agent_heads.insert(agent.into_owned(), hash);
                }
            }
        } else if agent_prev.is_some() && !partial {
            return fail(
                at,
                Problem::BrokenAgentLink {
                    agent: String::new(),
                    expected: None,
                    found: agent_prev,
                },
            );
        }
        self.check_receipts(seq, &hash)?;
        if let Some(proof) = entry.proof {
            self.check_inclusion(seq, &hash, proof)?;
        } else if partial {
            return fail(
                at,
                Problem::Inclusion {
                    size: 0,
                    reason: "record has no proof",
                },
            );
        }
        self.first_seq.get_or_insert(seq);
        self.records += 1;
        self.next_seq = seq + 1;
        self.last_hash = hash;
        if !partial {
            self.tree.push(hash);
            if let Some(cp) = self.pending.remove(&self.tree.size()) {
                self.check_root(&cp)?;
            }
        }
        Ok(())
    }

    fn check_receipts(&mut self, seq: u64, hash: &Hash) -> Result<(), VerifyFailure> {
        let Some(claims) = self.receipts.remove(&seq) else {
            return Ok(());
        };
        for c in claims {
            if c.leaf != *hash || c.rid != record_id(hash) {
                return fail(
                    Some(seq),
                    Problem::ReceiptMismatch {
                        rid: c.rid,
                        leaf: c.leaf,
                        found: format!("record hash {hash}"),
                    },
                );
            }
            self.receipts_checked += 1;
        }
        Ok(())
    }

    fn check_inclusion(
        &self,
        seq: u64,
        hash: &Hash,
        proof: &InclusionProof,
    ) -> Result<(), VerifyFailure> {
        let size = proof.tree_size;
        let Some(root) = self.known.get(&size) else {
            return fail(
                Some(seq),
                Problem::Inclusion {
                    size,
                    reason: "no signed checkpoint of that size",
                },
            );
        };
        if !verify_inclusion(seq, size, hash, &proof.path, root) {
            return fail(
                Some(seq),
                Problem::Inclusion {
                    size,
                    reason: "path does not lead to the signed root",
                },
            );
        }
        Ok(())
    }

    /// Ends the replay: fails if a checkpoint or receipt names records that never came.
    pub fn finish(self) -> Result<VerifyReport, VerifyFailure> {
        let partial = self.partial.unwrap_or(false);
        if let Some((&size, _)) = self.pending.iter().next() {
            return fail(Some(self.next_seq), Problem::Truncated { size });
        }
        if let Some((&seq, claims)) = self.receipts.iter().next() {
            let rid = claims.first().map(|c| c.rid.clone()).unwrap_or_default();
            let leaf = claims.first().map(|c| c.leaf).unwrap_or_default();
            return fail(
                Some(seq),
                Problem::ReceiptMismatch {
                    rid,
                    leaf,
                    found: "no such record".into(),
                },
            );
        }
        let checkpointed_size = if partial {
            self.known.keys().max().copied().unwrap_or(0)
        } else {
            self.good_size
        };
        Ok(VerifyReport {
            records: self.records,
            first_seq: self.first_seq,
            last_seq: self.first_seq.map(|_| self.next_seq.saturating_sub(1)),
            agents: self.agent_heads.len() as u64,
            checkpoints: self.checkpoints,
            checkpointed_size,
            unanchored: if partial {
                0
            } else {
                self.tree.size().saturating_sub(self.good_size)
            },
            receipts: self.receipts_checked,
            root: (!partial).then(|| self.tree.root()),
            partial,
        })
    }
}

fn parse_hash(text: &str, seq: u64) -> Result<Hash, VerifyFailure> {
    text.parse()
        .map_err(|e: crate::hash::HashParseError| VerifyFailure {
            seq: Some(seq),
            problem: Problem::Malformed(e.to_string()),
        })
}

fn claimed_size(text: &str) -> u64 {
    text.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
