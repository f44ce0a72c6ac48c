//! Cost of committing records through the writer thread (seal, insert, group commit), measured
//! from one submitter keeping a window of appends in flight, so batches form as under load.
//! Prints nanoseconds per record. Receipts are not signed (`committed()`), as for AuthZEN.
//!
//! Run: `cargo bench -p warden-store --bench commit`; pass a record count to change the default
//! (`cargo bench -p warden-store --bench commit -- 5000`, handy under
//! `valgrind --tool=callgrind --toggle-collect='*Writer*write*'`).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::time::Instant;

use serde_json::json;
use warden_ledger::{
    Action, ActionKind, Actor, Decision, Event, LedgerSigningKey, Outcome, RecordDraft,
};
use warden_store::{Durability, LedgerConfig, LedgerStore, SqliteLedger, SystemClock};

const WINDOW: usize = 512;

/// An AuthZEN decision with a few nested arguments.
fn authzen(i: u64) -> RecordDraft {
    RecordDraft {
        actor: Actor {
            agent_id: Some(format!("pep-{}", i % 4)),
            key_id: Some("wk_9a8b7c6d".into()),
            ..Actor::default()
        },
        bundle_digest: Some(
            "sha256:5f1d2c0e9b8a7f6e5d4c3b2a1908171615141312111009080706050403".into(),
        ),
        event: Event::Decision(Box::new(Decision {
            outcome: Outcome::Allow,
            rule_ids: vec!["docs-readers".into()],
            reasons: vec!["Engineers may read engineering documents.".into()],
            action: Action {
                kind: ActionKind::Authzen,
                tool: Some("can_read".into()),
                args_digest: Some(format!("sha256:{i:064x}")),
                args_redacted: Some(json!({
                    "subject": {"type": "user", "id": format!("user-{}", i % 1000),
                                "properties": {"department": "engineering"}},
                    "action": {"name": "can_read"},
                    "resource": {"type": "document", "id": format!("doc-{i}")},
                })),
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

fn main() {
    let n = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<u64>().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteLedger::create(
        &dir.path().join("warden.db"),
        LedgerSigningKey::from_seed(&[2u8; 32]),
        LedgerConfig {
            durability: Durability::Process,
            ..LedgerConfig::default()
        },
        Box::new(SystemClock),
    )
    .unwrap();
    let drafts: Vec<RecordDraft> = (0..n).map(authzen).collect();
    let start = Instant::now();
    let mut pending = VecDeque::with_capacity(WINDOW);
    for draft in drafts {
        pending.push_back(store.append(draft));
        if pending.len() >= WINDOW {
            futures_executor::block_on(pending.pop_front().unwrap().committed()).unwrap();
        }
    }
    for handle in pending {
        futures_executor::block_on(handle.committed()).unwrap();
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    println!("commit authzen {ns:>8.0} ns/record ({n} records, window {WINDOW})");
}
