//! Fixed-rate mode: complete (non-stream) requests at an open-loop arrival rate; latency from
//! each request's due time to the end of its answer, achieved throughput, and failures by kind.

use crate::open_loop::{Run, drive};
use crate::schedule::Schedule;
use crate::stats::{Samples, Summary};
use crate::target::Target;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::runtime::Runtime;

/// The outcome of a fixed-rate run, over its measured period only.
#[derive(Debug, Serialize)]
pub struct RateReport {
    /// Always `rate`.
    pub mode: &'static str,
    /// Requested arrival rate, per second.
    pub rate: f64,
    /// Length of the measured period, in seconds.
    pub duration_s: f64,
    /// Requests due in the measured period.
    pub sent: usize,
    /// Of those, the ones answered as expected.
    pub ok: usize,
    /// Failures by kind.
    pub errors: BTreeMap<String, usize>,
    /// Expected answers per second, from the start of the measured period to its last answer.
    pub throughput_rps: f64,
    /// Latency of the expected answers, from due time to the end of the answer.
    pub latency: Option<Summary>,
    /// The pacer's worst lateness against the schedule, in milliseconds (a large figure means
    /// the load generator itself could not keep up).
    pub pacer_lag_max_ms: f64,
}

/// Runs the fixed-rate measurement; every answer must contain `expect`.
pub fn run(runtime: &Runtime, target: Target, schedule: Schedule, expect: String) -> RateReport {
    let target = Arc::new(target);
    let expect = Arc::new(expect);
    let run = drive(runtime, schedule, move || {
        let target = Arc::clone(&target);
        let expect = Arc::clone(&expect);
        async move { target.complete(&expect).await }
    });
    report(&schedule, &run)
}

/// The report of a fixed-rate run whose requests produce nothing but success or failure.
pub(crate) fn report(schedule: &Schedule, run: &Run<()>) -> RateReport {
    let mut latency = Samples::default();
    let mut errors = BTreeMap::new();
    let mut sent = 0;
    let mut last = run.measured_from;
    for record in run.records.iter().filter(|r| r.measured) {
        sent += 1;
        match &record.result {
            Ok(()) => {
                latency.push(record.done.saturating_duration_since(record.due));
                last = last.max(record.done);
            }
            Err(failure) => *errors.entry(failure.kind()).or_insert(0) += 1,
        }
    }
    let window = last
        .saturating_duration_since(run.measured_from)
        .as_secs_f64();
    let ok = latency.len();
    RateReport {
        mode: "rate",
        rate: schedule.rate,
        duration_s: schedule.duration.as_secs_f64(),
        sent,
        ok,
        errors,
        throughput_rps: if window > 0.0 {
            ok as f64 / window
        } else {
            0.0
        },
        latency: latency.summary(),
        pacer_lag_max_ms: run.pacer_lag.as_secs_f64() * 1000.0,
    }
}
