//! Sealing (canonical JSON + hash + links + Merkle frontier) and verification throughput over
//! in-memory records. Run: `cargo bench -p warden-ledger`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use warden_ledger::{
    Action, ActionKind, Actor, ChainState, Decision, Event, LedgerSigningKey, Outcome, RecordDraft,
    RecordEntry, SealedRecord, Verifier,
};

const N: u64 = 10_000;
const ORIGIN: &str = "warden.bench/ledger";

fn draft(i: u64) -> RecordDraft {
    RecordDraft {
        actor: Actor {
            agent_id: Some(format!("agent-{}", i % 16)),
            tenant: Some("bench".into()),
            key_id: Some("wk_bench".into()),
            run_id: Some(format!("run-{}", i / 100)),
            trace_id: Some(format!("{i:032x}")),
            principal: None,
        },
        bundle_digest: Some("sha256:5f1d2c".into()),
        event: Event::Decision(Box::new(Decision {
            outcome: Outcome::Allow,
            rule_ids: vec!["no-destructive-shell".into()],
            reasons: vec!["Destructive shell commands are never run by agents.".into()],
            action: Action {
                kind: ActionKind::ToolCall,
                tool: Some("bash".into()),
                args_digest: Some(format!("sha256:{i:064x}")),
                args_redacted: Some(serde_json::json!({"command": format!("ls -la /srv/{i}")})),
                upstream: Some("mcp:shell".into()),
                model: None,
            },
            constraints: Default::default(),
            rewrite: None,
            approval: None,
            cost: None,
        })),
    }
}

fn ledger(key: &LedgerSigningKey) -> (Vec<SealedRecord>, Vec<String>) {
    let mut state = ChainState::new();
    let mut records = Vec::new();
    let mut notes = Vec::new();
    for i in 0..N {
        records.push(state.seal(draft(i), 1_700_000_000_000 + i).unwrap());
        if (i + 1) % 1000 == 0 {
            notes.push(state.checkpoint(ORIGIN).sign(key).unwrap());
        }
    }
    (records, notes)
}

fn benches(c: &mut Criterion) {
    let key = LedgerSigningKey::from_seed(&[1u8; 32]);
    let (records, notes) = ledger(&key);
    let mut group = c.benchmark_group("ledger");
    group.throughput(Throughput::Elements(N));
    group.sample_size(20);
    group.bench_function("seal_10k", |b| {
        b.iter(|| {
            let mut state = ChainState::new();
            for i in 0..N {
                state.seal(draft(i), 1_700_000_000_000 + i).unwrap();
            }
        })
    });
    group.bench_function("verify_10k", |b| {
        b.iter(|| {
            let mut v = Verifier::new(key.public_key(), Some(ORIGIN.into()));
            let mut notes = notes.iter();
            for r in &records {
                v.record(RecordEntry {
                    stored_seq: Some(r.record.seq),
                    claimed_hash: Some(r.hash),
                    bytes: &r.bytes,
                    proof: None,
                })
                .unwrap();
                if (r.record.seq + 1) % 1000 == 0 {
                    v.checkpoint(notes.next().unwrap()).unwrap();
                }
            }
            v.finish().unwrap()
        })
    });
    group.finish();
}

criterion_group!(ledger_benches, benches);
criterion_main!(ledger_benches);
