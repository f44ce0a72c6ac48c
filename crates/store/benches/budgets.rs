//! The budget reservation and settlement path on the embedded store: one `reserve` across five
//! limits (run total, agent day and month, tenant day and total) and its `settle`, as the gateway
//! does for every LLM call. The reservation is decided in memory and written behind; `settle`
//! returns once the budget tables have committed it (the gateway's settler waits once for a
//! batch instead). Prints p50, p99 and max per call, for reserve, settle and both.
//!
//! `cargo bench -p warden-store --bench budgets [-- --calls N]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use warden_budget::{Micros, ScopeKey, Window};
use warden_store::{BudgetLimit, ReserveRequest, SqliteBudgets};

fn main() {
    let calls: usize = std::env::args()
        .skip_while(|a| a != "--calls")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let budgets = SqliteBudgets::open(&dir.path().join("warden.db")).unwrap();
    let scopes: Vec<ScopeKey> = ["run:bench-run", "agent:bench-bot", "tenant:acme"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let limit = |scope: &ScopeKey, window| BudgetLimit {
        scope: scope.clone(),
        window,
        limit: Micros(1_000_000_000_000),
    };
    let configured = vec![
        limit(&scopes[0], Window::Total),
        limit(&scopes[1], Window::Day),
        limit(&scopes[1], Window::Month),
        limit(&scopes[2], Window::Day),
        limit(&scopes[2], Window::Total),
    ];
    let request = ReserveRequest {
        scopes: &scopes,
        configured: &configured,
        min: Micros(20),
        max: Micros(5_000),
        ttl_ms: 600_000,
    };
    let now = 1_773_582_300_000;
    let (mut reserve, mut settle, mut both) = (
        Vec::with_capacity(calls),
        Vec::with_capacity(calls),
        Vec::with_capacity(calls),
    );
    for i in 0..calls + calls / 10 {
        let start = Instant::now();
        let held = budgets.reserve(&request, now).unwrap().unwrap();
        let reserved = start.elapsed();
        budgets.settle(held.id, Micros(1_234)).unwrap().unwrap();
        let total = start.elapsed();
        // The first tenth warms the page cache and the statement cache.
        if i >= calls / 10 {
            reserve.push(reserved);
            settle.push(total - reserved);
            both.push(total);
        }
    }
    println!(
        "budget store: reserve across 5 limits (in memory, written behind) + settle (waits for the commit, WAL, synchronous=NORMAL), {calls} calls"
    );
    for (what, samples) in [
        ("reserve", &mut reserve),
        ("settle", &mut settle),
        ("reserve+settle", &mut both),
    ] {
        samples.sort_unstable();
        println!(
            "  {what:<15} p50 {:>8.1} µs   p99 {:>8.1} µs   max {:>8.1} µs",
            micros(percentile(samples, 50)),
            micros(percentile(samples, 99)),
            micros(*samples.last().unwrap_or(&Duration::ZERO)),
        );
    }
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
