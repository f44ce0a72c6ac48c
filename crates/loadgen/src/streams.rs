//! Concurrency mode: opens N streams at once against a slow-typing reply and samples the
//! server's resident memory before, while they are all open, and after they end. Several rounds
//! show whether memory returns to a plateau or keeps growing.

use crate::rss::{RssError, resident_kib};
use crate::stats::{Samples, Summary};
use crate::target::Target;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

/// How often the server's memory is sampled while streams are open.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// One round of N simultaneous streams.
#[derive(Debug, Serialize)]
pub struct Round {
    /// Server RSS before the streams were opened, KiB.
    pub rss_before_kib: u64,
    /// Highest server RSS sampled while streams were open, KiB.
    pub rss_peak_kib: u64,
    /// Server RSS once the round ended and the server had a moment to settle, KiB.
    pub rss_after_kib: u64,
    /// `(peak - before) / streams`, KiB per stream.
    pub rss_per_stream_kib: f64,
    /// The most streams that had their response headers and had not yet ended, at once.
    pub max_open: usize,
    /// Streams that carried text and ended with `[DONE]`.
    pub ok: usize,
    /// Failures by kind.
    pub errors: BTreeMap<String, usize>,
    /// Time to first token, from the moment the round began.
    pub ttft: Option<Summary>,
    /// Time to the end of each stream, from the moment the round began.
    pub total: Option<Summary>,
}

/// The outcome of a concurrency run.
#[derive(Debug, Serialize)]
pub struct StreamsReport {
    /// Always `streams`.
    pub mode: &'static str,
    /// Streams opened at once in each round.
    pub streams: usize,
    /// The process whose memory was sampled.
    pub pid: u32,
    /// Each round, in order.
    pub rounds: Vec<Round>,
}

/// Shared counters of one round.
#[derive(Default)]
struct Gauge {
    open: AtomicUsize,
    max_open: AtomicUsize,
    finished: AtomicBool,
}

impl Gauge {
    fn opened(&self) {
        let now = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_open.fetch_max(now, Ordering::SeqCst);
    }

    fn closed(&self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `rounds` rounds of `streams` simultaneous streams, sampling the memory of `pid`.
pub fn run(
    runtime: &Runtime,
    target: Target,
    streams: usize,
    rounds: usize,
    pid: u32,
) -> Result<StreamsReport, RssError> {
    let target = Arc::new(target);
    let mut report = StreamsReport {
        mode: "streams",
        streams,
        pid,
        rounds: Vec::new(),
    };
    for _ in 0..rounds {
        let round = runtime.block_on(round(&target, streams, pid))?;
        report.rounds.push(round);
    }
    Ok(report)
}

async fn round(target: &Arc<Target>, streams: usize, pid: u32) -> Result<Round, RssError> {
    let rss_before_kib = resident_kib(pid)?;
    let gauge = Arc::new(Gauge::default());
    let sampler = tokio::spawn(sample_peak(Arc::clone(&gauge), pid, rss_before_kib));
    let began = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..streams {
        let target = Arc::clone(target);
        let gauge = Arc::clone(&gauge);
        set.spawn(async move {
            let mut was_open = false;
            let result = target
                .stream(|| {
                    was_open = true;
                    gauge.opened();
                })
                .await;
            if was_open {
                gauge.closed();
            }
            result
        });
    }
    let mut ttft = Samples::default();
    let mut total = Samples::default();
    let mut errors = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(timing)) => {
                ttft.push(timing.first_text.saturating_duration_since(began));
                total.push(timing.end.saturating_duration_since(began));
            }
            Ok(Err(failure)) => *errors.entry(failure.kind()).or_insert(0) += 1,
            Err(_) => *errors.entry("task_failed".to_owned()).or_insert(0) += 1,
        }
    }
    gauge.finished.store(true, Ordering::SeqCst);
    let rss_peak_kib = sampler.await.unwrap_or(Ok(rss_before_kib))?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after_kib = resident_kib(pid)?;
    let grown = rss_peak_kib.saturating_sub(rss_before_kib) as f64;
    Ok(Round {
        rss_before_kib,
        rss_peak_kib,
        rss_after_kib,
        rss_per_stream_kib: (grown / streams.max(1) as f64 * 10.0).round() / 10.0,
        max_open: gauge.max_open.load(Ordering::SeqCst),
        ok: ttft.len(),
        errors,
        ttft: ttft.summary(),
        total: total.summary(),
    })
}

/// Samples the RSS of `pid` until the round is finished; returns the highest sample.
async fn sample_peak(gauge: Arc<Gauge>, pid: u32, floor: u64) -> Result<u64, RssError> {
    let mut peak = floor;
    while !gauge.finished.load(Ordering::SeqCst) {
        tokio::time::sleep(SAMPLE_EVERY).await;
        peak = peak.max(resident_kib(pid)?);
    }
    Ok(peak)
}
