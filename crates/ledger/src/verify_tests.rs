//! Verifier unit tests over in-memory ledgers: a clean ledger passes; each kind of tampering is
//! reported at the right seq.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::chain::{ChainState, SealedRecord};
use crate::keys::LedgerSigningKey;
use crate::merkle::{inclusion_proof, root};
use crate::receipt::sign_receipt;
use crate::record::{Action, ActionKind, Actor, Decision, Event, Outcome, RecordDraft};

const ORIGIN: &str = "warden.test/ledger";

fn key() -> LedgerSigningKey {
    LedgerSigningKey::from_seed(&[5u8; 32])
}

fn draft(i: u64) -> RecordDraft {
    RecordDraft {
        actor: Actor {
            agent_id: Some(format!("agent-{}", i % 3)),
            ..Actor::default()
        },
        bundle_digest: Some("sha256:00".into()),
        event: Event::Decision(Box::new(Decision {
            outcome: Outcome::Allow,
            rule_ids: vec!["r1".into()],
            reasons: vec![],
            action: Action {
                kind: ActionKind::ToolCall,
                tool: Some("bash".into()),
                args_digest: None,
                args_redacted: None,
                upstream: None,
                model: None,
            },
            constraints: Default::default(),
            rewrite: None,
            approval: None,
            cost: None,
        })),
    }
}

/// `n` sealed records plus signed checkpoints every `every` records.
fn ledger(n: u64, every: u64) -> (Vec<SealedRecord>, Vec<(u64, String)>) {
    let mut state = ChainState::new();
    let mut records = Vec::new();
    let mut checkpoints = Vec::new();
    for i in 0..n {
        records.push(state.seal(draft(i), 1_000 + i).unwrap());
        if (i + 1).is_multiple_of(every) {
            checkpoints.push((i + 1, state.checkpoint(ORIGIN).sign(&key()).unwrap()));
        }
    }
    (records, checkpoints)
}

fn run(
    records: &[SealedRecord],
    checkpoints: &[(u64, String)],
    receipts: &[String],
) -> Result<VerifyReport, VerifyFailure> {
    let mut v = Verifier::new(key().public_key(), Some(ORIGIN.into()));
    for r in receipts {
        v.receipt(r)?;
    }
    let mut cps = checkpoints.iter().peekable();
    for r in records {
        v.record(RecordEntry {
            stored_seq: None,
            claimed_hash: Some(r.hash),
            bytes: &r.bytes,
            proof: None,
        })?;
        while let Some((size, text)) = cps.peek() {
            if *size > r.record.seq + 1 {
                break;
            }
            v.checkpoint(text)?;
            cps.next();
        }
    }
    for (_, text) in cps {
        v.checkpoint(text)?;
    }
    v.finish()
}

#[test]
fn clean_ledger_verifies() {
    let (records, cps) = ledger(25, 10);
    let report = run(&records, &cps, &[]).unwrap();
    assert_eq!(report.records, 25);
    assert_eq!(report.checkpoints, 2);
    assert_eq!(report.checkpointed_size, 20);
    assert_eq!(report.unanchored, 5);
    assert_eq!(report.agents, 3);
    let leaves: Vec<Hash> = records.iter().map(|r| r.hash).collect();
    assert_eq!(report.root, Some(root(&leaves)));
}

#[test]
fn edited_record_is_named() {
    let (mut records, cps) = ledger(25, 10);
    records[7].bytes = String::from_utf8(records[7].bytes.clone())
        .unwrap()
        .replace("\"allow\"", "\"deny\"")
        .into_bytes();
    let err = run(&records, &cps, &[]).unwrap_err();
    assert_eq!(err.seq, Some(7));
    assert!(matches!(err.problem, Problem::HashMismatch { .. }));
}

#[test]
fn edited_record_with_recomputed_hash_breaks_the_next_link() {
    let (mut records, cps) = ledger(25, 10);
    records[7].bytes = String::from_utf8(records[7].bytes.clone())
        .unwrap()
        .replace("\"allow\"", "\"deny\"")
        .into_bytes();
    records[7].hash = leaf_hash(&records[7].bytes);
    let err = run(&records, &cps, &[]).unwrap_err();
    assert_eq!(err.seq, Some(8));
    assert!(matches!(err.problem, Problem::BrokenLink { .. }));
}

#[test]
fn deleted_and_reordered_records_are_named() {
    let (records, cps) = ledger(25, 10);
    let mut deleted = records.clone();
    deleted.remove(12);
    let err = run(&deleted, &cps, &[]).unwrap_err();
    assert_eq!(err.seq, Some(12));
    assert_eq!(err.problem, Problem::Missing { found: 13 });

    let mut swapped = records.clone();
    swapped.swap(3, 4);
    let err = run(&swapped, &cps, &[]).unwrap_err();
    assert_eq!(err.seq, Some(3));
    assert!(matches!(err.problem, Problem::Missing { found: 4 }));
}

#[test]
fn truncated_tail_is_named() {
    let (records, cps) = ledger(25, 10);
    let err = run(&records[..15], &cps, &[]).unwrap_err();
    assert_eq!(err.seq, Some(15));
    assert_eq!(err.problem, Problem::Truncated { size: 20 });
}

#[test]
fn agent_chain_breaks_are_named() {
    let (records, cps) = ledger(6, 100);
    // Rebuild record 4 with a forged agent_prev and a recomputed hash.
    let mut forged = records.clone();
    let mut rec = forged[4].record.clone();
    rec.agent_prev = None;
    forged[4].bytes = crate::canonical::to_canonical_bytes(&rec).unwrap();
    forged[4].hash = leaf_hash(&forged[4].bytes);
    let err = run(&forged[..5], &cps, &[]).unwrap_err();
    assert_eq!(err.seq, Some(4));
    assert!(matches!(err.problem, Problem::BrokenAgentLink { .. }));
}

#[test]
fn checkpoint_signed_by_another_key_is_rejected() {
    let (records, mut cps) = ledger(25, 10);
    let other = LedgerSigningKey::from_seed(&[6u8; 32]);
    let mut state = ChainState::new();
    for i in 0..20 {
        state.seal(draft(i), 1_000 + i).unwrap();
    }
    cps[1].1 = state.checkpoint(ORIGIN).sign(&other).unwrap();
    let err = run(&records, &cps, &[]).unwrap_err();
    assert_eq!(err.seq, Some(10));
    assert!(matches!(
        err.problem,
        Problem::Checkpoint {
            size: 20,
            error: CheckpointError::UnknownKey(_)
        }
    ));
}

#[test]
fn forked_history_is_caught_by_checkpoints_and_receipts() {
    let (records, cps) = ledger(25, 10);
    // Fork at seq 14: same prefix, different record 14 onward, consistently re-chained.
    let mut state = ChainState::restore(records[..14].iter().map(|r| r.hash), {
        let mut heads = std::collections::HashMap::new();
        for r in &records[..14] {
            heads.insert(r.record.actor.agent_id.clone().unwrap(), r.hash);
        }
        heads
    });
    let mut fork = records[..14].to_vec();
    for i in 14..25 {
        let mut d = draft(i);
        d.bundle_digest = Some("sha256:ff".into());
        fork.push(state.seal(d, 9_000 + i).unwrap());
    }
    let err = run(&fork, &cps, &[]).unwrap_err();
    assert_eq!(err.seq, Some(10));
    assert_eq!(err.problem, Problem::RootMismatch { size: 20 });

    let receipt = sign_receipt(&records[14].receipt_claims(ORIGIN), &key()).unwrap();
    let err = run(&fork, &cps, &[receipt]).unwrap_err();
    assert_eq!(err.seq, Some(14));
    assert!(matches!(err.problem, Problem::ReceiptMismatch { .. }));
}

#[test]
fn receipts_verify_and_missing_records_are_named() {
    let (records, cps) = ledger(12, 10);
    let receipts: Vec<String> = records
        .iter()
        .map(|r| sign_receipt(&r.receipt_claims(ORIGIN), &key()).unwrap())
        .collect();
    assert_eq!(run(&records, &cps, &receipts).unwrap().receipts, 12);
    let err = run(&records[..11], &cps, &receipts).unwrap_err();
    assert_eq!(err.seq, Some(11));
    let other = LedgerSigningKey::from_seed(&[8u8; 32]);
    let forged = sign_receipt(&records[3].receipt_claims(ORIGIN), &other).unwrap();
    assert!(matches!(
        run(&records, &cps, &[forged]).unwrap_err().problem,
        Problem::Receipt(_)
    ));
}

#[test]
fn shrinking_checkpoints_are_rejected() {
    let (records, cps) = ledger(25, 10);
    let mut v = Verifier::new(key().public_key(), None);
    for r in &records[..20] {
        v.record(RecordEntry {
            stored_seq: None,
            claimed_hash: None,
            bytes: &r.bytes,
            proof: None,
        })
        .unwrap();
    }
    v.checkpoint(&cps[1].1).unwrap();
    let err = v.checkpoint(&cps[0].1).unwrap_err();
    assert_eq!(
        err.problem,
        Problem::Inconsistent {
            size: 10,
            earlier: 20
        }
    );
}

#[test]
fn partial_exports_verify_by_inclusion_proof() {
    let (records, cps) = ledger(25, 10);
    let leaves: Vec<Hash> = records[..20].iter().map(|r| r.hash).collect();
    let mut v = Verifier::new(key().public_key(), Some(ORIGIN.into()));
    v.checkpoint(&cps[1].1).unwrap();
    for seq in [2u64, 5, 8, 11] {
        let r = &records[seq as usize];
        let proof = InclusionProof {
            tree_size: 20,
            path: inclusion_proof(&leaves, seq).unwrap(),
        };
        v.record(RecordEntry {
            stored_seq: None,
            claimed_hash: Some(r.hash),
            bytes: &r.bytes,
            proof: Some(&proof),
        })
        .unwrap();
    }
    let report = v.finish().unwrap();
    assert!(report.partial);
    assert_eq!(report.records, 4);

    let mut v = Verifier::new(key().public_key(), Some(ORIGIN.into()));
    v.checkpoint(&cps[1].1).unwrap();
    let proof = InclusionProof {
        tree_size: 20,
        path: inclusion_proof(&leaves, 3).unwrap(),
    };
    let r = &records[2];
    let err = v
        .record(RecordEntry {
            stored_seq: None,
            claimed_hash: Some(r.hash),
            bytes: &r.bytes,
            proof: Some(&proof),
        })
        .unwrap_err();
    assert_eq!(err.seq, Some(2));
    assert!(matches!(err.problem, Problem::Inclusion { .. }));
}
