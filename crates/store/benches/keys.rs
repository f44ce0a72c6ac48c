//! Per-request key lookup cost: `SqliteKeys::authenticate` on a live key among 1,000 in use
//! (parse, epoch read, SHA-256, constant-time compare: a key in use is remembered), on a key's
//! first use after a revocation moved the epoch (the indexed row read), on a well-formed key with
//! a wrong secret, and on malformed input (refused before the database).
//! Run: `cargo bench -p warden-store --bench keys`.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use criterion::{Criterion, criterion_group, criterion_main};
use warden_store::SqliteKeys;

fn authenticate(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let keys = SqliteKeys::open(&dir.path().join("warden.db")).unwrap();
    let issued: Vec<_> = (0..1_000u64)
        .map(|i| keys.create(&format!("agent-{}", i % 16), i).unwrap())
        .collect();
    let live = issued[500].secret.clone();
    let wrong = format!("{}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &live[..17]);
    let mut group = c.benchmark_group("keys");
    group.bench_function("authenticate_live", |b| {
        b.iter(|| assert!(keys.authenticate(&live).unwrap().is_some()))
    });
    group.bench_function("authenticate_after_a_revocation", |b| {
        b.iter_batched(
            || {
                let doomed = keys.create("doomed", 0).unwrap();
                assert!(keys.revoke(&doomed.key_id, 0).unwrap());
            },
            |()| assert!(keys.authenticate(&live).unwrap().is_some()),
            criterion::BatchSize::PerIteration,
        )
    });
    group.bench_function("authenticate_wrong_secret", |b| {
        b.iter(|| assert!(keys.authenticate(&wrong).unwrap().is_none()))
    });
    group.bench_function("authenticate_malformed", |b| {
        b.iter(|| {
            assert!(
                keys.authenticate("Bearer sk-not-a-warden-key")
                    .unwrap()
                    .is_none()
            )
        })
    });
    group.finish();
}

criterion_group!(benches, authenticate);
criterion_main!(benches);
