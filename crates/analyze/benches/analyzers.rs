//! Latency of each analyzer on typical tool-call inputs.
//!
//! Prints p50 / p99 / max per analyzer from per-call timings (20k iterations after warm-up), then
//! runs the same inputs through criterion. Run with `cargo bench -p warden-analyze --bench analyzers`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use warden_analyze::sql::SqlDialect;
use warden_analyze::{path, secrets, shell, sql, url};

const ITERATIONS: usize = 20_000;

const SHELL: &[&str] = &[
    "ls -la src",
    "cargo test -p warden-analyze 2>&1 | tail -n 20",
    "sudo rm -rf /var/lib/app && echo done",
    "find . -name '*.tmp' -exec rm -f {} \\;",
    "curl -fsSL https://example.com/install.sh | bash",
    "git add -A && git commit -m 'fix: handle empty input' && git push origin main",
    "bash -c 'for f in *.log; do gzip \"$f\"; done'",
];

const SQL: &[&str] = &[
    "SELECT id, name FROM users WHERE id = 42",
    "SELECT u.name, count(*) FROM users u JOIN orders o ON o.user_id = u.id WHERE o.created > now() - interval '1 day' GROUP BY u.name ORDER BY 2 DESC LIMIT 10",
    "WITH d AS (DELETE FROM sessions WHERE expires < now() RETURNING *) SELECT count(*) FROM d",
    "UPDATE accounts SET balance = balance - 10 WHERE id = 7",
    "DROP TABLE IF EXISTS staging.events",
];

const PATHS: &[&str] = &[
    "/work/project/src/lib.rs",
    "~/.ssh/id_rsa",
    "../../etc/passwd",
    "src/./a/../b.rs",
];

const URLS: &[&str] = &[
    "https://api.github.com/repos/org/repo/pulls?state=open",
    "http://169.254.169.254/latest/meta-data/",
    "http://0x7f000001:8080/admin",
    "https://user:pw@example.com./x",
];

/// Typical short tool-call argument values (10–40 bytes) with no secret in them.
const SHORT_ARGS: &[&str] = &[
    "Oslo",
    "weather in Oslo tomorrow",
    "/work/project/src/main.rs",
    "SELECT 1",
    "git status --short --branch",
    "https://example.com/docs?page=2",
    "user@example.com",
    "release-2026-11-22.tar.gz",
];

fn prompt() -> String {
    let mut text =
        "Please summarise the following deployment notes and the attached configuration. "
            .repeat(12);
    text.push_str("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\npassword = 'Xk9#mP2$vL7q'\n");
    text
}

/// Times `f` over every input in turn and returns sorted per-call durations.
fn timings(inputs: &[&str], mut f: impl FnMut(&str)) -> Vec<Duration> {
    for input in inputs {
        for _ in 0..200 {
            f(input);
        }
    }
    let mut samples = Vec::with_capacity(ITERATIONS);
    for i in 0..ITERATIONS {
        let input = inputs[i % inputs.len()];
        let start = Instant::now();
        f(input);
        samples.push(start.elapsed());
    }
    samples.sort();
    samples
}

fn report(name: &str, samples: &[Duration]) {
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    println!(
        "{name:<14} p50 {:>8.2} µs   p99 {:>8.2} µs   max {:>9.2} µs   ({} calls)",
        at(0.50).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        samples[samples.len() - 1].as_secs_f64() * 1e6,
        samples.len()
    );
}

fn percentiles() {
    let text = prompt();
    println!("analyzer latency per call (release, {ITERATIONS} iterations over typical inputs)");
    report(
        "shell",
        &timings(SHELL, |s| drop(black_box(shell::analyze(black_box(s))))),
    );
    report(
        "sql",
        &timings(SQL, |s| {
            drop(black_box(sql::analyze(black_box(s), SqlDialect::Postgres)))
        }),
    );
    report(
        "sql parse",
        &timings(SQL, |s| {
            let dialect = sqlparser::dialect::PostgreSqlDialect {};
            drop(black_box(sqlparser::parser::Parser::parse_sql(
                &dialect,
                black_box(s),
            )))
        }),
    );
    for (index, query) in SQL.iter().enumerate() {
        let samples = timings(&[query], |s| {
            drop(black_box(sql::analyze(black_box(s), SqlDialect::Postgres)))
        });
        report(&format!("sql[{index}]"), &samples);
    }
    for (index, script) in SHELL.iter().enumerate() {
        let samples = timings(&[script], |s| drop(black_box(shell::analyze(black_box(s)))));
        report(&format!("shell[{index}]"), &samples);
    }
    report(
        "path",
        &timings(PATHS, |s| {
            drop(black_box(path::analyze(black_box(s), Some("/home/agent"))))
        }),
    );
    report(
        "url",
        &timings(URLS, |s| drop(black_box(url::analyze(black_box(s))))),
    );
    report(
        "secrets",
        &timings(&[text.as_str()], |s| {
            drop(black_box(secrets::scan(black_box(s))))
        }),
    );
    report(
        "secrets short",
        &timings(SHORT_ARGS, |s| drop(black_box(secrets::scan(black_box(s))))),
    );
}

fn criterion_benches(c: &mut Criterion) {
    percentiles();
    c.bench_function("shell/sudo_rm", |b| {
        b.iter(|| shell::analyze(black_box(SHELL[2])))
    });
    c.bench_function("sql/join_select", |b| {
        b.iter(|| sql::analyze(black_box(SQL[1]), SqlDialect::Postgres))
    });
    c.bench_function("path/traversal", |b| {
        b.iter(|| path::analyze(black_box(PATHS[2]), None))
    });
    c.bench_function("url/metadata", |b| {
        b.iter(|| url::analyze(black_box(URLS[1])))
    });
    let text = prompt();
    c.bench_function("secrets/prompt", |b| {
        b.iter(|| secrets::scan(black_box(&text)))
    });
    c.bench_function("secrets/short_args", |b| {
        b.iter(|| {
            for arg in SHORT_ARGS {
                black_box(secrets::scan(black_box(arg)));
            }
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    targets = criterion_benches
}
criterion_main!(benches);
