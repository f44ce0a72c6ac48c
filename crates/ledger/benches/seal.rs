//! Cost of sealing one realistic decision record (canonical JSON, leaf hash, links, Merkle
//! frontier): an LLM tool-call decision and an AuthZEN decision with nested arguments.
//! Prints nanoseconds per record for each.
//!
//! Run: `cargo bench -p warden-ledger --bench seal`; pass a record count to change the default
//! (`cargo bench -p warden-ledger --bench seal -- 2000`, handy under `valgrind --tool=callgrind`).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use serde_json::json;
use warden_ledger::{Action, ActionKind, Actor, ChainState, Decision, Event, Outcome, RecordDraft};

/// A model's tool call, judged by the LLM gateway.
fn tool_call(i: u64) -> RecordDraft {
    RecordDraft {
        actor: Actor {
            agent_id: Some(format!("agent-{}", i % 16)),
            tenant: Some("acme".into()),
            key_id: Some("wk_4f2a9c1e".into()),
            run_id: Some(format!("run-{}", i / 100)),
            trace_id: Some(format!("{i:032x}")),
            principal: None,
        },
        bundle_digest: Some(
            "sha256:5f1d2c0e9b8a7f6e5d4c3b2a19081716151413121110090807060504030201ff".into(),
        ),
        event: Event::Decision(Box::new(Decision {
            outcome: Outcome::Deny,
            rule_ids: vec!["no-destructive-shell".into()],
            reasons: vec!["Destructive shell commands are never run by agents.".into()],
            action: Action {
                kind: ActionKind::ToolCall,
                tool: Some("bash".into()),
                args_digest: Some(format!("sha256:{i:064x}")),
                args_redacted: Some(json!({
                    "command": format!("rm -rf /srv/data/{i}"),
                    "cwd": "/home/agent",
                    "env": {"PATH": "/usr/bin:/bin", "TOKEN": "[redacted]"},
                    "timeout_s": 30,
                })),
                upstream: Some("openai".into()),
                model: Some("gpt-4o-mini".into()),
            },
            constraints: Default::default(),
            rewrite: None,
            approval: None,
            cost: None,
        })),
    }
}

/// An AuthZEN evaluation answered for an enforcement point.
fn authzen(i: u64) -> RecordDraft {
    RecordDraft {
        actor: Actor {
            agent_id: Some(format!("pep-{}", i % 4)),
            key_id: Some("wk_9a8b7c6d".into()),
            ..Actor::default()
        },
        bundle_digest: Some(
            "sha256:5f1d2c0e9b8a7f6e5d4c3b2a19081716151413121110090807060504030201ff".into(),
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
                                "properties": {"department": "engineering", "clearance": 2}},
                    "action": {"name": "can_read"},
                    "resource": {"type": "document", "id": format!("doc-{i}"),
                                 "properties": {"owner": "alice", "tags": ["eng", "design"]}},
                    "context": {"ip": "10.0.0.7", "time": "2026-11-22T17:00:00Z"},
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

/// Seals `n` drafts made by `make`; returns the nanoseconds per record spent in `seal` alone and
/// the chain head, which commits to every record's bytes (so runs of different builds can be
/// compared for identical output).
fn ns_per_record(n: u64, make: fn(u64) -> RecordDraft) -> (f64, String) {
    let drafts: Vec<RecordDraft> = (0..n).map(make).collect();
    let mut state = ChainState::new();
    let start = Instant::now();
    for (i, draft) in drafts.into_iter().enumerate() {
        black_box(state.seal(draft, 1_700_000_000_000 + i as u64).unwrap());
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    (ns, state.last_hash().to_hex())
}

fn main() {
    let n = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<u64>().ok())
        .unwrap_or(200_000);
    for (name, make) in [
        ("tool_call", tool_call as fn(u64) -> RecordDraft),
        ("authzen", authzen),
    ] {
        // One warm-up pass, then the measured one.
        ns_per_record(n.min(10_000), make);
        let (ns, head) = ns_per_record(n, make);
        println!("seal {name:<10} {ns:>8.0} ns/record ({n} records, chain head {head})");
    }
}
