//! Durable append throughput through the real SQLite store with group commit: 8 submitter
//! threads, each keeping 256 appends in flight, 20,000 records per iteration.
//! Run: `cargo bench -p warden-store`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use warden_ledger::{
    Action, ActionKind, Actor, Decision, Event, LedgerSigningKey, Outcome, RecordDraft,
};
use warden_store::{LedgerConfig, LedgerStore, SqliteLedger, SystemClock};

const RECORDS: u64 = 20_000;
const THREADS: u64 = 8;
const WINDOW: usize = 256;

fn draft(i: u64) -> RecordDraft {
    RecordDraft {
        actor: Actor {
            agent_id: Some(format!("agent-{}", i % 16)),
            ..Actor::default()
        },
        bundle_digest: Some("sha256:5f1d2c".into()),
        event: Event::Decision(Box::new(Decision {
            outcome: Outcome::Allow,
            rule_ids: vec!["rule".into()],
            reasons: vec![],
            action: Action {
                kind: ActionKind::ToolCall,
                tool: Some("bash".into()),
                args_digest: Some(format!("sha256:{i:064x}")),
                args_redacted: Some(serde_json::json!({"command": format!("ls /srv/{i}")})),
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

fn run_once() -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteLedger::create(
            &dir.path().join("warden.db"),
            LedgerSigningKey::from_seed(&[2u8; 32]),
            LedgerConfig::default(),
            Box::new(SystemClock),
        )
        .unwrap(),
    );
    let start = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut pending = VecDeque::new();
                for i in (t..RECORDS).step_by(THREADS as usize) {
                    pending.push_back(store.append(draft(i)));
                    if pending.len() >= WINDOW {
                        pending.pop_front().unwrap().wait().unwrap();
                    }
                }
                for h in pending {
                    h.wait().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    start.elapsed()
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(RECORDS));
    group.sample_size(10);
    group.bench_function("durable_append_20k", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run_once()).sum())
    });
    group.finish();
}

criterion_group!(store_benches, benches);
criterion_main!(store_benches);
