//! Stream mode: streamed requests at an open-loop arrival rate against a paced reply; time to
//! first token (due time to the first `delta.content` byte) and time to the end of the stream.

use crate::open_loop::drive;
use crate::schedule::Schedule;
use crate::stats::{Samples, Summary};
use crate::target::{StreamTiming, Target};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::runtime::Runtime;

/// The outcome of a stream run, over its measured period only.
#[derive(Debug, Serialize)]
pub struct TtftReport {
    /// Always `ttft`.
    pub mode: &'static str,
    /// Requested arrival rate, streams per second.
    pub rate: f64,
    /// Streams due in the measured period.
    pub sent: usize,
    /// Of those, the ones that carried text and ended with `[DONE]`.
    pub ok: usize,
    /// Failures by kind.
    pub errors: BTreeMap<String, usize>,
    /// Time to first token.
    pub ttft: Option<Summary>,
    /// Time to the end of the stream.
    pub total: Option<Summary>,
    /// The pacer's worst lateness against the schedule, in milliseconds.
    pub pacer_lag_max_ms: f64,
}

/// Runs the stream measurement.
pub fn run(runtime: &Runtime, target: Target, schedule: Schedule) -> TtftReport {
    let target = Arc::new(target);
    let run = drive(runtime, schedule, move || {
        let target = Arc::clone(&target);
        async move { target.stream(|| ()).await }
    });
    let mut ttft = Samples::default();
    let mut total = Samples::default();
    let mut errors = BTreeMap::new();
    let mut sent = 0;
    for record in run.records.iter().filter(|r| r.measured) {
        sent += 1;
        match &record.result {
            Ok(StreamTiming { first_text, end }) => {
                ttft.push(first_text.saturating_duration_since(record.due));
                total.push(end.saturating_duration_since(record.due));
            }
            Err(failure) => *errors.entry(failure.kind()).or_insert(0) += 1,
        }
    }
    TtftReport {
        mode: "ttft",
        rate: schedule.rate,
        sent,
        ok: ttft.len(),
        errors,
        ttft: ttft.summary(),
        total: total.summary(),
        pacer_lag_max_ms: run.pacer_lag.as_secs_f64() * 1000.0,
    }
}
