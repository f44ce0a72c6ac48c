//! Runs a request at every arrival of a [`Schedule`] on the async runtime, without waiting for
//! earlier requests, and collects each one's outcome with its due and completion times.
//!
//! Depends on the tokio runtime handle only; what a request does is the caller's closure.

use crate::schedule::{Schedule, pace};
use crate::target::Failure;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// One request's outcome.
#[derive(Debug)]
pub struct Record<T> {
    /// Whether it fell in the measured period.
    pub measured: bool,
    /// When it was due to be sent.
    pub due: Instant,
    /// When its outcome was known.
    pub done: Instant,
    /// What the request produced.
    pub result: Result<T, Failure>,
}

/// Every request's outcome, and when the measured period began.
#[derive(Debug)]
pub struct Run<T> {
    /// One record per arrival, in completion order.
    pub records: Vec<Record<T>>,
    /// Start of the measured period (end of the warm-up).
    pub measured_from: Instant,
    /// The worst lateness of the pacer against the schedule.
    pub pacer_lag: Duration,
}

/// Sends `request()` at each arrival of `schedule` and waits for every one to finish.
pub fn drive<T, F, Fut>(runtime: &Runtime, schedule: Schedule, request: F) -> Run<T>
where
    T: Send + 'static,
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Failure>> + Send + 'static,
{
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let handle = runtime.handle().clone();
    let start = Instant::now() + Duration::from_millis(10);
    let pacer = std::thread::spawn(move || {
        pace(start, &schedule, |arrival, due| {
            let sender = sender.clone();
            let future = request();
            handle.spawn(async move {
                let result = future.await;
                let done = Instant::now();
                // The receiver outlives every sender, so a send cannot fail.
                let _ = sender.send(Record {
                    measured: arrival.measured,
                    due,
                    done,
                    result,
                });
            });
        })
    });
    let records = runtime.block_on(async {
        let mut records = Vec::new();
        while let Some(record) = receiver.recv().await {
            records.push(record);
        }
        records
    });
    Run {
        records,
        measured_from: start + schedule.warmup,
        pacer_lag: pacer.join().unwrap_or(Duration::MAX),
    }
}
