//! The SQLite ledger end to end on real database files: group commit from many threads,
//! recovery after reopening, exports, and the tamper suite — each tampering is detected and the
//! right seq is named.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;
use warden_ledger::{
    Action, ActionKind, Actor, ChainState, Decision, Event, Hash, LedgerSigningKey, Outcome,
    Problem, RecordDraft, Verifier, VerifyFailure, VerifyReport,
};
use warden_store::{
    Durability, FixedClock, LedgerConfig, LedgerReader, LedgerStore, RecordFilter, SqliteLedger,
    SqliteReader, export, replay,
};

fn key() -> LedgerSigningKey {
    LedgerSigningKey::from_seed(&[11u8; 32])
}

fn config(every: u64) -> LedgerConfig {
    LedgerConfig {
        origin: "warden.test/ledger".into(),
        checkpoint_every: every,
        checkpoint_interval_ms: 60_000,
        max_batch: 256,
        ..LedgerConfig::default()
    }
}

fn draft(i: u64) -> RecordDraft {
    RecordDraft {
        actor: Actor {
            agent_id: Some(format!("agent-{}", i % 4)),
            tenant: Some("acme".into()),
            ..Actor::default()
        },
        bundle_digest: Some("sha256:abc".into()),
        event: Event::Decision(Box::new(Decision {
            outcome: if i.is_multiple_of(5) {
                Outcome::Deny
            } else {
                Outcome::Allow
            },
            rule_ids: vec!["rule-1".into()],
            reasons: vec!["because".into()],
            action: Action {
                kind: ActionKind::ToolCall,
                tool: Some("bash".into()),
                args_digest: Some(format!("sha256:{i:064x}")),
                args_redacted: Some(serde_json::json!({"command": "ls", "n": i})),
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

/// Creates a ledger with `n` records (checkpoint every `every`) and returns its receipts.
fn build(path: &Path, n: u64, every: u64) -> Vec<String> {
    let store =
        SqliteLedger::create(path, key(), config(every), Box::new(FixedClock(1_000))).unwrap();
    // One at a time, so checkpoints land exactly every `every` records.
    let receipts = (0..n)
        .map(|i| store.append(draft(i)).wait().unwrap().receipt)
        .collect();
    store.close();
    receipts
}

fn verify(path: &Path, receipts: &[String]) -> Result<VerifyReport, VerifyFailure> {
    let reader = SqliteReader::open(path).unwrap();
    let mut v = Verifier::new(key().public_key(), Some("warden.test/ledger".into()));
    for r in receipts {
        v.receipt(r)?;
    }
    replay(&reader, &mut v).unwrap()?;
    v.finish()
}

fn db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warden.db");
    (dir, path)
}

fn sql(path: &Path, statement: &str) {
    Connection::open(path)
        .unwrap()
        .execute_batch(statement)
        .unwrap();
}

#[test]
fn concurrent_appends_get_distinct_seqs_and_verify() {
    let (_dir, path) = db();
    let store =
        Arc::new(SqliteLedger::create(&path, key(), config(50), Box::new(FixedClock(5))).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                (0..40)
                    .map(|i| store.append(draft(t * 100 + i)).wait().unwrap().seq)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..320).collect::<Vec<_>>());
    Arc::into_inner(store).unwrap().close();
    let report = verify(&path, &[]).unwrap();
    assert_eq!(report.records, 320);
    assert_eq!(
        report.checkpointed_size, 320,
        "close signs a final checkpoint"
    );
    assert_eq!(report.agents, 4);
}

/// A ledger as the gateway opens it: commits reported once written to the operating system, so
/// callers about to wait may commit inline.
fn process_store(path: &Path, every: u64, interval_ms: u64) -> SqliteLedger {
    let config = LedgerConfig {
        checkpoint_interval_ms: interval_ms,
        durability: Durability::Process,
        ..config(every)
    };
    SqliteLedger::create(path, key(), config, Box::new(FixedClock(5))).unwrap()
}

#[test]
fn inline_and_queued_appends_from_many_threads_keep_each_threads_order_and_verify() {
    let (_dir, path) = db();
    let store = Arc::new(process_store(&path, 50, 60_000));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                // Pairs as the gateway makes them: one queued append, then one committed at
                // once; the pair is waited for together.
                (0..30)
                    .flat_map(|i| {
                        let queued = store.append(draft(t * 100 + 2 * i));
                        let now = store.append_now(draft(t * 100 + 2 * i + 1));
                        [queued.wait().unwrap().seq, now.wait().unwrap().seq]
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for thread in threads {
        let mine = thread.join().unwrap();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "a thread's appends were stored out of the order it made them: {mine:?}"
        );
        seqs.extend(mine);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..480).collect::<Vec<_>>());
    Arc::into_inner(store).unwrap().close();
    let report = verify(&path, &[]).unwrap();
    assert_eq!(report.records, 480);
    assert_eq!(report.checkpointed_size, 480);
}

/// Polls `handle` once, without waiting.
fn poll_once(handle: &mut warden_store::AppendHandle) -> Option<warden_store::Appended> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::Pin::new(handle).poll(&mut cx) {
        std::task::Poll::Ready(appended) => Some(appended.unwrap()),
        std::task::Poll::Pending => None,
    }
}

#[test]
fn append_now_on_an_idle_writer_returns_with_the_record_committed() {
    let (_dir, path) = db();
    let store = process_store(&path, 1000, 60_000);
    for i in 0..20 {
        let mut handle = store.append_now(draft(i));
        let appended = poll_once(&mut handle).expect("the record was not committed inline");
        assert_eq!(appended.seq, i);
        // Readable from another connection at once: committed, not merely queued.
        let reader = SqliteReader::open(&path).unwrap();
        assert_eq!(
            reader.record_by_seq(i).unwrap().unwrap().hash,
            appended.hash
        );
    }
    store.close();
    assert_eq!(verify(&path, &[]).unwrap().records, 20);
}

#[test]
fn records_committed_inline_are_anchored_by_a_timed_checkpoint_while_idle() {
    let (_dir, path) = db();
    let store = process_store(&path, 1000, 50);
    for i in 0..3 {
        store.append_now(draft(i)).wait().unwrap();
    }
    // No more appends: the writer thread must wake by itself to sign the checkpoint.
    let reader = SqliteReader::open(&path).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let covered = reader.checkpoints().unwrap().last().map_or(0, |c| c.size);
        if covered == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint covered the 3 records (latest covers {covered})"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    store.close();
}

/// Reopens the ledger at `path` and appends one record for each of the four agents `draft`
/// uses: each must link to that agent's last record before the reopen, which `verify` checks.
fn reopen_and_append_for_every_agent(path: &Path, mut receipts: Vec<String>) -> VerifyReport {
    let before = receipts.len() as u64;
    let store = SqliteLedger::open(path, key(), config(7), Box::new(FixedClock(2_000))).unwrap();
    for i in 96..100 {
        let appended = store.append(draft(i)).wait().unwrap();
        assert_eq!(appended.seq, before + i - 96);
        receipts.push(appended.receipt);
    }
    store.close();
    let report = verify(path, &receipts).unwrap();
    assert_eq!(report.records, before + 4);
    assert_eq!(report.receipts, before + 4);
    report
}

fn pragma(path: &Path, name: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .pragma_query_value(None, name, |r| r.get(0))
        .unwrap()
}

fn has_index(path: &Path, name: &str) -> bool {
    Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        > 0
}

#[test]
fn reopening_continues_the_chain_without_reusing_seqs() {
    let (_dir, path) = db();
    let first = build(&path, 30, 7);
    reopen_and_append_for_every_agent(&path, first);
    // A new file has small pages and no index by agent.
    assert_eq!(pragma(&path, "page_size"), 1024);
    assert!(!has_index(&path, "ledger_records_agent"));
}

#[test]
fn a_reopened_ledger_never_stamps_a_record_earlier_than_the_last_one() {
    let (_dir, path) = db();
    // Records stamped 1,000 ms; after the reopen the clock reads earlier than that.
    build(&path, 5, 10);
    let store = SqliteLedger::open(&path, key(), config(10), Box::new(FixedClock(500))).unwrap();
    let appended = store.append(draft(5)).wait().unwrap();
    store.close();
    let reader = SqliteReader::open(&path).unwrap();
    let row = reader.record_by_seq(appended.seq).unwrap().unwrap();
    assert_eq!(row.time_ms, 1_000);
}

#[test]
fn a_file_from_before_the_agent_index_was_dropped_is_migrated_and_continues() {
    let (_dir, path) = db();
    let first = build(&path, 30, 7);
    // Make it what earlier versions created: 4 KiB pages, the index by agent, schema version 4.
    sql(
        &path,
        "PRAGMA journal_mode = DELETE; PRAGMA page_size = 4096; VACUUM;
         PRAGMA journal_mode = WAL;
         CREATE INDEX ledger_records_agent ON ledger_records(agent_id, seq);
         PRAGMA user_version = 4;",
    );
    assert_eq!(pragma(&path, "page_size"), 4096);
    assert!(has_index(&path, "ledger_records_agent"));
    reopen_and_append_for_every_agent(&path, first);
    assert!(!has_index(&path, "ledger_records_agent"));
    assert_eq!(pragma(&path, "user_version"), 5);
    // The file keeps the page size it was made with.
    assert_eq!(pragma(&path, "page_size"), 4096);
}

#[test]
fn create_refuses_an_existing_ledger_and_open_refuses_another_key() {
    let (_dir, path) = db();
    build(&path, 1, 10);
    let again = SqliteLedger::create(&path, key(), config(10), Box::new(FixedClock(0)));
    assert!(matches!(
        again,
        Err(warden_store::StoreError::AlreadyExists(_))
    ));
    let other = LedgerSigningKey::from_seed(&[12u8; 32]);
    let wrong = SqliteLedger::open(&path, other, config(10), Box::new(FixedClock(0)));
    assert!(matches!(
        wrong,
        Err(warden_store::StoreError::KeyMismatch { .. })
    ));
}

#[test]
fn receipts_carry_the_record_fields() {
    let (_dir, path) = db();
    let receipts = build(&path, 6, 10);
    let claims = warden_ledger::verify_receipt(&receipts[5], &key().public_key()).unwrap();
    let reader = SqliteReader::open(&path).unwrap();
    let row = reader.record_by_seq(5).unwrap().unwrap();
    assert_eq!(claims.seq, 5);
    assert_eq!(claims.leaf, row.hash);
    assert_eq!(claims.outcome, Some(Outcome::Deny));
    assert_eq!(claims.bundle.as_deref(), Some("sha256:abc"));
    assert_eq!(claims.sub.as_deref(), Some("agent-1"));
    assert_eq!(
        claims.agent_prev,
        Some(reader.record_by_seq(1).unwrap().unwrap().hash)
    );
    assert_eq!(reader.record_by_id(&claims.rid).unwrap().unwrap().seq, 5);
}

fn failure(path: &Path, receipts: &[String]) -> VerifyFailure {
    verify(path, receipts).expect_err("tampering must be detected")
}

#[test]
fn tamper_edited_field_is_named() {
    let edits = [
        ("\"deny\"", "\"allow\""),
        ("\"acme\"", "\"evil\""),
        ("\"agent-3\"", "\"agent-0\""),
        ("\"time_ms\":1000", "\"time_ms\":999"),
        ("\"bash\"", "\"zsh\""),
        ("\"command\":\"ls\"", "\"command\":\"rm -rf /\""),
        ("sha256:abc", "sha256:abd"),
        ("\"rule-1\"", "\"rule-2\""),
    ];
    for (from, to) in edits {
        let (_dir, path) = db();
        build(&path, 40, 10);
        let conn = Connection::open(&path).unwrap();
        let changed = conn
            .execute(
                "UPDATE ledger_records SET body = replace(body, ?1, ?2) WHERE seq = 15",
                [from, to],
            )
            .unwrap();
        let body: String = conn
            .query_row("SELECT body FROM ledger_records WHERE seq = 15", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(
            changed == 1 && body.contains(to),
            "edit {from} -> {to} did not apply"
        );
        let f = failure(&path, &[]);
        assert_eq!(f.seq, Some(15), "edit {from} -> {to}: {f}");
        assert!(matches!(f.problem, Problem::HashMismatch { .. }), "{f}");
    }
}

#[test]
fn tamper_edited_field_with_rewritten_hash_is_named() {
    let (_dir, path) = db();
    build(&path, 40, 10);
    let conn = Connection::open(&path).unwrap();
    let body: String = conn
        .query_row("SELECT body FROM ledger_records WHERE seq = 15", [], |r| {
            r.get(0)
        })
        .unwrap();
    let edited = body.replace("\"deny\"", "\"allow\"");
    let hash = warden_ledger::leaf_hash(edited.as_bytes());
    conn.execute(
        "UPDATE ledger_records SET body = ?1, hash = ?2 WHERE seq = 15",
        rusqlite::params![edited, &hash.0[..]],
    )
    .unwrap();
    let f = failure(&path, &[]);
    assert_eq!(f.seq, Some(16));
    assert!(matches!(f.problem, Problem::BrokenLink { .. }), "{f}");
}

#[test]
fn tamper_deleted_record_is_named() {
    let (_dir, path) = db();
    build(&path, 40, 10);
    sql(&path, "DELETE FROM ledger_records WHERE seq = 23");
    let f = failure(&path, &[]);
    assert_eq!(f.seq, Some(23));
    assert_eq!(f.problem, Problem::Missing { found: 24 });
}

#[test]
fn tamper_reordered_records_are_named() {
    let (_dir, path) = db();
    build(&path, 40, 10);
    sql(
        &path,
        "UPDATE ledger_records SET seq = -1 WHERE seq = 8;
         UPDATE ledger_records SET seq = 8 WHERE seq = 9;
         UPDATE ledger_records SET seq = 9 WHERE seq = -1;",
    );
    let f = failure(&path, &[]);
    assert_eq!(f.seq, Some(8));
    assert_eq!(f.problem, Problem::OutOfOrder { found: 9 });
}

#[test]
fn tamper_truncated_tail_is_named() {
    let (_dir, path) = db();
    let receipts = build(&path, 40, 10);
    sql(&path, "DELETE FROM ledger_records WHERE seq >= 33");
    let f = failure(&path, &[]);
    assert_eq!(f.seq, Some(33));
    assert_eq!(f.problem, Problem::Truncated { size: 40 });

    // Also dropping the checkpoints that cover the tail: only receipts (or a checkpoint kept
    // elsewhere) can tell, and they name the first lost record.
    sql(&path, "DELETE FROM ledger_checkpoints WHERE size > 33");
    let f = failure(&path, &receipts);
    assert_eq!(f.seq, Some(33));
    assert!(matches!(f.problem, Problem::ReceiptMismatch { .. }), "{f}");
}

/// Rewrites history from `from` on (new content, consistently re-hashed and re-chained) and
/// re-signs every checkpoint covering it with `signer`.
fn rewrite_from(path: &Path, from: u64, signer: &LedgerSigningKey) {
    let reader = SqliteReader::open(path).unwrap();
    let n = reader.len().unwrap();
    let mut heads = std::collections::HashMap::new();
    let mut hashes = Vec::new();
    for seq in 0..from {
        let r = reader.record_by_seq(seq).unwrap().unwrap();
        heads.insert(r.agent_id.clone().unwrap(), r.hash);
        hashes.push(r.hash);
    }
    drop(reader);
    let mut state = ChainState::restore(hashes, heads);
    let conn = Connection::open(path).unwrap();
    conn.execute("DELETE FROM ledger_records WHERE seq >= ?1", [from as i64])
        .unwrap();
    let sizes: Vec<i64> = conn
        .prepare("SELECT size FROM ledger_checkpoints WHERE size > ?1")
        .unwrap()
        .query_map([from as i64], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    conn.execute(
        "DELETE FROM ledger_checkpoints WHERE size > ?1",
        [from as i64],
    )
    .unwrap();
    for seq in from..n {
        let mut d = draft(seq);
        d.bundle_digest = Some("sha256:forged".into());
        let s = state.seal(d, 1_000).unwrap();
        conn.execute(
            "INSERT INTO ledger_records (seq, hash, agent_id, time_ms, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![seq as i64, &s.hash.0[..], s.record.actor.agent_id, 1_000, String::from_utf8(s.bytes).unwrap()],
        )
        .unwrap();
        if sizes.contains(&((seq + 1) as i64)) {
            let note = state.checkpoint("warden.test/ledger").sign(signer).unwrap();
            conn.execute(
                "INSERT INTO ledger_checkpoints (size, root, note, time_ms) VALUES (?1, ?2, ?3, 0)",
                rusqlite::params![(seq + 1) as i64, &state.checkpoint("x").root.0[..], note],
            )
            .unwrap();
        }
    }
}

#[test]
fn tamper_resigned_with_another_key_is_named() {
    let (_dir, path) = db();
    let receipts = build(&path, 40, 10);
    let attacker = LedgerSigningKey::from_seed(&[66u8; 32]);
    rewrite_from(&path, 27, &attacker);
    let f = failure(&path, &[]);
    // Checkpoints up to size 20 are genuine; the one for size 30 is signed by another key.
    assert_eq!(f.seq, Some(20));
    assert!(
        matches!(f.problem, Problem::Checkpoint { size: 30, .. }),
        "{f}"
    );
    // The receipt for seq 27 pins the exact record.
    let f = failure(&path, &receipts[27..28]);
    assert_eq!(f.seq, Some(27));
    assert!(matches!(f.problem, Problem::ReceiptMismatch { .. }), "{f}");
}

#[test]
fn tamper_forked_history_is_named() {
    let (_dir, path) = db();
    let receipts = build(&path, 40, 10);
    // The operator (holding the real key) forks history at seq 34 and re-signs.
    rewrite_from(&path, 34, &key());
    // The fork is internally consistent, so the ledger alone verifies…
    let report = verify(&path, &[]).unwrap();
    assert_eq!(report.records, 40);
    // …but a receipt from the original history names the first forked record.
    let f = failure(&path, &receipts[34..36]);
    assert_eq!(f.seq, Some(34));
    assert!(matches!(f.problem, Problem::ReceiptMismatch { .. }), "{f}");
}

#[test]
fn fork_against_a_trusted_checkpoint_is_detected() {
    let (_dir, path) = db();
    build(&path, 40, 10);
    let witnessed = SqliteReader::open(&path)
        .unwrap()
        .checkpoints()
        .unwrap()
        .pop()
        .unwrap();
    rewrite_from(&path, 34, &key());
    let reader = SqliteReader::open(&path).unwrap();
    let mut v = Verifier::new(key().public_key(), None);
    v.trusted_checkpoint(&witnessed.note).unwrap();
    let f = replay(&reader, &mut v).unwrap().unwrap_err();
    // Checkpoints up to 30 agree; the witnessed head for 40 does not: the fork is in 30..40.
    assert_eq!(f.seq, Some(30));
    assert_eq!(f.problem, Problem::RootMismatch { size: 40 });
}

#[test]
fn exports_verify_on_their_own() {
    let (_dir, path) = db();
    build(&path, 45, 10);
    let reader = SqliteReader::open(&path).unwrap();
    for filter in [
        RecordFilter::default(),
        RecordFilter {
            agent_id: Some("agent-2".into()),
            since_ms: None,
        },
    ] {
        let mut out = Vec::new();
        let summary = export(&reader, &key().public_key(), &filter, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut v = Verifier::new(key().public_key(), None);
        for (i, line) in text.lines().enumerate() {
            match warden_ledger::export::parse_line(line, i + 1).unwrap() {
                warden_ledger::export::ExportLine::Checkpoint { note } => {
                    v.checkpoint(&note).unwrap()
                }
                l @ warden_ledger::export::ExportLine::Record { .. } => {
                    v.record(l.as_entry().unwrap()).unwrap()
                }
                warden_ledger::export::ExportLine::Header { .. } => {}
            }
        }
        let report = v.finish().unwrap();
        assert_eq!(report.records, summary.records);
        if filter.agent_id.is_some() {
            assert!(report.partial);
            assert_eq!(report.records, 11, "agent-2 holds seqs 2, 6, …, 42");
        } else {
            assert_eq!(report.records, 45);
        }
    }
}

#[test]
fn unused_hash_type_is_exported() {
    // The public Hash type round-trips through the reader.
    let (_dir, path) = db();
    build(&path, 1, 10);
    let r = SqliteReader::open(&path)
        .unwrap()
        .record_by_seq(0)
        .unwrap()
        .unwrap();
    assert_ne!(r.hash, Hash::ZERO);
}
