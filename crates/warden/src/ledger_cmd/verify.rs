//! `warden ledger verify`: replays a live ledger or an export through the verifier, with any
//! receipts and independently kept checkpoints, and reports the first bad seq.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use warden_ledger::export::{ExportLine, parse_line};
use warden_ledger::{LedgerPublicKey, Verifier, VerifyFailure, VerifyReport};
use warden_store::{LedgerReader, replay};

use super::source::{self, Source};

/// Arguments of `warden ledger verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// A ledger database or an export file (default: the data directory's database).
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// A receipt (compact JWS) to check against the ledger; repeatable.
    #[arg(long = "receipt", value_name = "JWS")]
    receipts: Vec<String>,
    /// A file of receipts, one per line (the last whitespace-separated field of each line).
    #[arg(long, value_name = "FILE")]
    receipts_file: Option<PathBuf>,
    /// A checkpoint kept outside the ledger (signed-note file); the ledger must agree with it.
    #[arg(long = "checkpoint", value_name = "FILE")]
    checkpoints: Vec<PathBuf>,
    /// The public key to trust (JWK or PEM); default: the data directory's key.
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(dir: &Path, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let source = source::open(dir, args.ledger.as_deref())?;
    let (outcome, key_source) = match &source {
        Source::Db(reader) => {
            let (key, key_source) = source::trusted_key(dir, args.public_key.as_deref(), || {
                Ok(reader.recorded_public_key()?)
            })?;
            let mut v = prepare(key, Some(reader.origin()?), &args)?;
            let outcome = match v.as_mut() {
                Ok(v) => replay(reader, v)?,
                Err(f) => Err(f.clone()),
            };
            (outcome.and(v).and_then(Verifier::finish), key_source)
        }
        Source::Export(path) => verify_export(dir, path, &args)?,
    };
    let elapsed = started.elapsed();
    report(&outcome, &key_source, elapsed.as_secs_f64(), args.json)?;
    Ok(if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A verifier loaded with the receipts and trusted checkpoints given on the command line.
fn prepare(
    key: LedgerPublicKey,
    origin: Option<String>,
    args: &VerifyArgs,
) -> anyhow::Result<Result<Verifier, VerifyFailure>> {
    let mut v = Verifier::new(key, origin);
    let mut receipts = args.receipts.clone();
    if let Some(path) = &args.receipts_file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        receipts.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().last())
                .map(str::to_owned),
        );
    }
    for r in &receipts {
        if let Err(f) = v.receipt(r) {
            return Ok(Err(f));
        }
    }
    for path in &args.checkpoints {
        let note =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        if let Err(f) = v.trusted_checkpoint(&note) {
            return Ok(Err(f));
        }
    }
    Ok(Ok(v))
}

type Outcome = Result<VerifyReport, VerifyFailure>;

fn verify_export(dir: &Path, path: &Path, args: &VerifyArgs) -> anyhow::Result<(Outcome, String)> {
    let mut lines = source::export_lines(path)?;
    let first = lines.next().transpose()?.unwrap_or_default();
    let (origin, recorded) = match parse_line(&first, 1)? {
        ExportLine::Header { origin, jwk } => (origin, jwk),
        _ => anyhow::bail!("{}: line 1 is not an export header", path.display()),
    };
    let (key, key_source) = source::trusted_key(dir, args.public_key.as_deref(), || {
        Ok(LedgerPublicKey::from_jwk(&recorded)?)
    })?;
    let mut v = match prepare(key, Some(origin), args)? {
        Ok(v) => v,
        Err(f) => return Ok((Err(f), key_source)),
    };
    for (i, line) in lines.enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let step = match parse_line(&line, i + 2)? {
            ExportLine::Checkpoint { note } => v.checkpoint(&note),
            l @ ExportLine::Record { .. } => match l.as_entry() {
                Some(entry) => v.record(entry),
                None => Ok(()),
            },
            ExportLine::Header { .. } => anyhow::bail!("line {}: second header", i + 2),
        };
        if let Err(f) = step {
            return Ok((Err(f), key_source));
        }
    }
    Ok((v.finish(), key_source))
}

fn report(outcome: &Outcome, key_source: &str, secs: f64, json: bool) -> anyhow::Result<()> {
    if json {
        let value = match outcome {
            Ok(r) => serde_json::json!({
                "ok": true, "report": r, "key": key_source, "seconds": secs,
            }),
            Err(f) => serde_json::json!({
                "ok": false, "seq": f.seq, "problem": f.problem.to_string(), "key": key_source,
            }),
        };
        return super::emit(&format!("{}\n", serde_json::to_string_pretty(&value)?));
    }
    let text = match outcome {
        Ok(r) => text_report(r, key_source, secs),
        Err(f) => {
            let seq = f.seq.map_or_else(
                || "(none: the input itself is invalid)".to_owned(),
                |s| s.to_string(),
            );
            format!(
                "ledger verification FAILED\n  first bad seq: {seq}\n  problem:       {}\n  \
                 key:           {key_source}\n",
                f.problem
            )
        }
    };
    super::emit(&text)
}

fn text_report(r: &VerifyReport, key_source: &str, secs: f64) -> String {
    let range = match (r.first_seq, r.last_seq) {
        (Some(first), Some(last)) => format!(" (seq {first}..={last})"),
        _ => String::new(),
    };
    let mut lines = vec![
        "ledger OK".to_owned(),
        format!("  records:      {}{range}", r.records),
        format!("  agents:       {}", r.agents),
        format!(
            "  checkpoints:  {} (signed coverage: {} records; {} after the last one)",
            r.checkpoints, r.checkpointed_size, r.unanchored
        ),
        format!("  receipts:     {}", r.receipts),
    ];
    if let Some(root) = r.root {
        lines.push(format!("  root:         {root}"));
    }
    if r.partial {
        lines.push("  mode:         filtered export (inclusion proofs)".to_owned());
    }
    lines.push(format!("  key:          {key_source}"));
    let rate = r.records as f64 / secs.max(1e-9);
    lines.push(format!("  time:         {secs:.3} s ({rate:.0} records/s)"));
    lines.join("\n") + "\n"
}
