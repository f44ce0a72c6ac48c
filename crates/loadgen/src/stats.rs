//! Latency samples and their summary: percentiles by nearest rank, mean and maximum.
//!
//! Pure: no clock, no I/O. Samples are whole microseconds; the summary reports milliseconds.

use serde::Serialize;
use std::time::Duration;

/// The distribution of a set of latency samples, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
}

/// Latency samples collected during a run, in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    micros: Vec<u64>,
}

impl Samples {
    /// Adds one sample.
    pub fn push(&mut self, latency: Duration) {
        self.micros
            .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// Adds every sample of `other`.
    pub fn extend(&mut self, other: &Samples) {
        self.micros.extend_from_slice(&other.micros);
    }

    /// Number of samples so far.
    pub fn len(&self) -> usize {
        self.micros.len()
    }

    /// The summary, or `None` when there are no samples.
    pub fn summary(&self) -> Option<Summary> {
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let count = sorted.len();
        let max = *sorted.last()?;
        let total: u128 = sorted.iter().map(|&us| u128::from(us)).sum();
        let mean_us = total as f64 / count as f64;
        Some(Summary {
            count,
            p50_ms: millis(nearest_rank(&sorted, 0.50)),
            p90_ms: millis(nearest_rank(&sorted, 0.90)),
            p99_ms: millis(nearest_rank(&sorted, 0.99)),
            max_ms: millis(max),
            mean_ms: round3(mean_us / 1000.0),
        })
    }
}

/// The smallest sample with at least `quantile` of all samples at or below it.
/// `sorted` must be sorted ascending; an empty slice gives 0.
fn nearest_rank(sorted: &[u64], quantile: f64) -> u64 {
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    let index = rank.saturating_sub(1).min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or(0)
}

/// Microseconds as milliseconds, rounded to the microsecond.
fn millis(micros: u64) -> f64 {
    round3(micros as f64 / 1000.0)
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn samples(micros: impl IntoIterator<Item = u64>) -> Samples {
        let mut s = Samples::default();
        for us in micros {
            s.push(Duration::from_micros(us));
        }
        s
    }

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(Samples::default().summary(), None);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        // 1..=100 ms: p50 is the 50th sample, p90 the 90th, p99 the 99th.
        let s = samples((1..=100).rev().map(|ms| ms * 1000));
        let summary = s.summary().unwrap();
        assert_eq!(summary.count, 100);
        assert_eq!(summary.p50_ms, 50.0);
        assert_eq!(summary.p90_ms, 90.0);
        assert_eq!(summary.p99_ms, 99.0);
        assert_eq!(summary.max_ms, 100.0);
        assert_eq!(summary.mean_ms, 50.5);
    }

    #[test]
    fn a_single_sample_is_every_percentile() {
        let summary = samples([1234]).summary().unwrap();
        assert_eq!(summary.p50_ms, 1.234);
        assert_eq!(summary.p99_ms, 1.234);
        assert_eq!(summary.max_ms, 1.234);
    }

    #[test]
    fn the_tail_is_not_hidden_by_the_median() {
        // 98 fast samples and 2 slow ones: p99 must land on a slow one.
        let s = samples(std::iter::repeat_n(500, 98).chain([20_000, 30_000]));
        let summary = s.summary().unwrap();
        assert_eq!(summary.p50_ms, 0.5);
        assert_eq!(summary.p99_ms, 20.0);
        assert_eq!(summary.max_ms, 30.0);
    }
}
