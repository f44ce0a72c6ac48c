//! `warden ledger bench`: appends synthetic decision records through the real store (many
//! concurrent submitters, group commit, durable before each handle resolves) and reports
//! records/s; `--verify` then times a full verification. `--print-receipts` prints
//! `seq<TAB>receipt` for each durable record as soon as it is acknowledged (used by the crash
//! test).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use warden_ledger::{
    Action, ActionKind, Actor, Decision, Event, Hash, Outcome, RecordDraft, Verifier,
};
use warden_store::{LedgerConfig, LedgerReader, LedgerStore, SqliteLedger, SqliteReader};

use super::{keyfile, source};

/// Arguments of `warden ledger bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Records to append.
    #[arg(long, default_value_t = 10_000)]
    records: u64,
    /// Submitting threads.
    #[arg(long, default_value_t = 4)]
    writers: u64,
    /// Appends each submitter keeps in flight (awaiting durability) at once.
    #[arg(long, default_value_t = 512)]
    in_flight: usize,
    /// Distinct synthetic agents.
    #[arg(long, default_value_t = 16)]
    agents: u64,
    /// Most records per transaction (group commit batch).
    #[arg(long, default_value_t = 4096)]
    batch_size: usize,
    /// Sign a checkpoint every N records…
    #[arg(long, default_value_t = 1000)]
    checkpoint_every: u64,
    /// …or every T milliseconds.
    #[arg(long, default_value_t = 1000)]
    checkpoint_interval_ms: u64,
    /// Print `seq<TAB>receipt` to stdout for every durable record.
    #[arg(long)]
    print_receipts: bool,
    /// Afterwards, verify the whole ledger and report records/s.
    #[arg(long)]
    verify: bool,
}

fn synthetic(i: u64, agents: u64) -> RecordDraft {
    let command = format!("ls -la /srv/data/{i}");
    let digest = Some(format!("sha256:{}", Hash::sha256(command.as_bytes())));
    let args = serde_json::json!({ "command": command, "timeout": 30 });
    RecordDraft {
        actor: Actor {
            agent_id: Some(format!("bench-agent-{}", i % agents.max(1))),
            tenant: Some("bench".into()),
            key_id: Some("wk_bench".into()),
            run_id: Some(format!("run-{}", i / 100)),
            trace_id: Some(format!("{:032x}", i)),
            principal: None,
        },
        bundle_digest: Some("sha256:5f1d2c".into()),
        event: Event::Decision(Box::new(Decision {
            outcome: if i.is_multiple_of(7) {
                Outcome::Deny
            } else {
                Outcome::Allow
            },
            rule_ids: vec!["no-destructive-shell".into()],
            reasons: vec!["Destructive shell commands are never run by agents.".into()],
            action: Action {
                kind: ActionKind::ToolCall,
                tool: Some("bash".into()),
                args_digest: digest,
                args_redacted: Some(args),
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

/// Runs the command.
pub fn run(dir: &Path, args: BenchArgs) -> anyhow::Result<ExitCode> {
    let key = keyfile::load(dir)?;
    let config = LedgerConfig {
        checkpoint_every: args.checkpoint_every,
        checkpoint_interval_ms: args.checkpoint_interval_ms,
        max_batch: args.batch_size.max(1),
        ..LedgerConfig::default()
    };
    let db = source::db_path(dir);
    let store = Arc::new(SqliteLedger::open(
        &db,
        key,
        config,
        Box::new(warden_store::SystemClock),
    )?);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let writers: Vec<_> = (0..args.writers.max(1))
        .map(|_| {
            let (store, next) = (Arc::clone(&store), Arc::clone(&next));
            let (total, window, agents, print) = (
                args.records,
                args.in_flight.max(1),
                args.agents,
                args.print_receipts,
            );
            std::thread::spawn(move || submit(&*store, &next, total, window, agents, print))
        })
        .collect();
    let mut appended = 0u64;
    for w in writers {
        appended += w
            .join()
            .map_err(|_| anyhow::anyhow!("a submitter thread panicked"))??;
    }
    let secs = started.elapsed().as_secs_f64();
    if let Some(store) = Arc::into_inner(store) {
        store.close();
    }
    let summary = format!(
        "appended {appended} durable records in {secs:.3} s: {:.0} records/s \
         ({} submitters x {} in flight, batch <= {})",
        appended as f64 / secs.max(1e-9),
        args.writers.max(1),
        args.in_flight.max(1),
        args.batch_size.max(1)
    );
    say(args.print_receipts, &summary);
    if args.verify {
        let reader = SqliteReader::open(&db)?;
        let started = Instant::now();
        let mut v = Verifier::new(reader.recorded_public_key()?, Some(reader.origin()?));
        warden_store::replay(&reader, &mut v)??;
        let report = v.finish()?;
        let secs = started.elapsed().as_secs_f64();
        say(
            args.print_receipts,
            &format!(
                "verified {} records ({} checkpoints) in {secs:.3} s: {:.0} records/s",
                report.records,
                report.checkpoints,
                report.records as f64 / secs.max(1e-9)
            ),
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn say(receipts_on_stdout: bool, line: &str) {
    if receipts_on_stdout {
        eprintln!("{line}");
    } else {
        let _ = super::emit(&format!("{line}\n"));
    }
}

fn submit(
    store: &dyn LedgerStore,
    next: &AtomicU64,
    total: u64,
    window: usize,
    agents: u64,
    print: bool,
) -> anyhow::Result<u64> {
    let mut pending = std::collections::VecDeque::with_capacity(window);
    let mut done = 0u64;
    let stdout = std::io::stdout();
    let mut finish = |handle: warden_store::AppendHandle| -> anyhow::Result<()> {
        let appended = handle.wait()?;
        done += 1;
        if print {
            let mut out = stdout.lock();
            writeln!(out, "{}\t{}", appended.seq, appended.receipt)?;
            out.flush()?;
        }
        Ok(())
    };
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            break;
        }
        pending.push_back(store.append(synthetic(i, agents)));
        if pending.len() >= window
            && let Some(h) = pending.pop_front()
        {
            finish(h)?;
        }
    }
    while let Some(h) = pending.pop_front() {
        finish(h)?;
    }
    Ok(done)
}
