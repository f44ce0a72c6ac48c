//! `export`, `show` and `tail`: reading records out of the ledger.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use warden_ledger::export::{ExportLine, parse_line};
use warden_ledger::{Hash, record_id};
use warden_store::{LedgerItem, LedgerReader, RecordFilter, SqliteReader};

use super::source::{self, Source};

/// Arguments of `warden ledger export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Only records at or after this time (Unix ms or RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Only this agent's records.
    #[arg(long)]
    agent: Option<String>,
    /// The ledger database (default: the data directory's).
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// Arguments of `warden ledger show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// A seq number or a record id (`rec_…`).
    record: String,
    /// A ledger database or export file (default: the data directory's database).
    #[arg(long)]
    ledger: Option<PathBuf>,
}

/// Arguments of `warden ledger tail`.
#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// How many of the latest records to print first.
    #[arg(short = 'n', long, default_value_t = 10)]
    lines: u64,
    /// Keep printing records as they are appended.
    #[arg(short, long)]
    follow: bool,
    /// A ledger database or export file (default: the data directory's database).
    #[arg(long)]
    ledger: Option<PathBuf>,
}

fn db_reader(dir: &Path, ledger: Option<&Path>) -> anyhow::Result<SqliteReader> {
    let path = ledger.map_or_else(|| source::db_path(dir), Path::to_path_buf);
    SqliteReader::open(&path).with_context(|| format!("opening {}", path.display()))
}

/// Runs `export`.
pub fn export(dir: &Path, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let reader = db_reader(dir, args.ledger.as_deref())?;
    let filter = RecordFilter {
        since_ms: args
            .since
            .as_deref()
            .map(super::time::parse_since)
            .transpose()?,
        agent_id: args.agent,
    };
    let key = reader.recorded_public_key()?;
    let summary = match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let s = warden_store::export(&reader, &key, &filter, &mut out)?;
            out.flush()?;
            s
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let s = warden_store::export(&reader, &key, &filter, &mut out)?;
            out.flush()?;
            s
        }
    };
    eprintln!(
        "exported {} records and {} checkpoints",
        summary.records, summary.checkpoints
    );
    if summary.unanchored_skipped > 0 {
        eprintln!(
            "left out {} matching records not yet covered by a checkpoint",
            summary.unanchored_skipped
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One record as printed by `show` and `tail`.
fn render(seq: u64, hash: &Hash, body: &str, pretty: bool) -> anyhow::Result<String> {
    let record: serde_json::Value = serde_json::from_str(body).context("stored record")?;
    let value = serde_json::json!({
        "seq": seq, "id": record_id(hash), "hash": hash, "record": record,
    });
    Ok(if pretty {
        serde_json::to_string_pretty(&value)?
    } else {
        serde_json::to_string(&value)?
    })
}

/// Runs `show`.
pub fn show(dir: &Path, args: ShowArgs) -> anyhow::Result<ExitCode> {
    let wanted = args.record.trim();
    let by_seq = wanted.parse::<u64>().ok();
    let found = match source::open(dir, args.ledger.as_deref())? {
        Source::Db(reader) => match by_seq {
            Some(seq) => reader.record_by_seq(seq)?,
            None => reader.record_by_id(wanted)?,
        }
        .map(|r| (r.seq, r.hash, r.body)),
        Source::Export(path) => {
            let mut hit = None;
            for_each_export_record(&path, &mut |seq, hash, body| {
                if by_seq == Some(seq) || record_id(&hash) == wanted {
                    hit = Some((seq, hash, body.to_owned()));
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            })?;
            hit
        }
    };
    let Some((seq, hash, body)) = found else {
        anyhow::bail!("no record {wanted}");
    };
    writeln!(
        std::io::stdout().lock(),
        "{}",
        render(seq, &hash, &body, true)?
    )?;
    Ok(ExitCode::SUCCESS)
}

fn for_each_export_record(
    path: &Path,
    visit: &mut dyn FnMut(u64, Hash, &str) -> ControlFlow<()>,
) -> anyhow::Result<()> {
    for (i, line) in source::export_lines(path)?.enumerate() {
        let line = line?;
        if let ExportLine::Record {
            seq, hash, bytes, ..
        } = parse_line(&line, i + 1)?
        {
            let body = std::str::from_utf8(bytes)?;
            if visit(seq.unwrap_or_default(), hash, body).is_break() {
                break;
            }
        }
    }
    Ok(())
}

/// Runs `tail`.
pub fn tail(dir: &Path, args: TailArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let reader = match source::open(dir, args.ledger.as_deref())? {
        Source::Db(reader) => reader,
        Source::Export(path) => {
            anyhow::ensure!(!args.follow, "--follow needs a live ledger, not an export");
            let mut last = std::collections::VecDeque::new();
            for_each_export_record(&path, &mut |seq, hash, body| {
                last.push_back((seq, hash, body.to_owned()));
                if last.len() as u64 > args.lines {
                    last.pop_front();
                }
                ControlFlow::Continue(())
            })?;
            for (seq, hash, body) in last {
                writeln!(out, "{}", render(seq, &hash, &body, false)?)?;
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let mut next = reader.len()?.saturating_sub(args.lines);
    loop {
        let mut error = None;
        reader.scan(next, &mut |item| {
            if let LedgerItem::Record(r) = item {
                next = r.seq + 1;
                let line = render(r.seq, &r.hash, &r.body, false)
                    .and_then(|l| writeln!(out, "{l}").map_err(Into::into));
                if let Err(e) = line {
                    error = Some(e);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })?;
        if let Some(e) = error {
            return Err(e);
        }
        out.flush()?;
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
