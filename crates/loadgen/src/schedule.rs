//! The open-loop arrival schedule: request `i` is due at `i / rate` seconds after the start,
//! whatever happened to earlier requests.
//!
//! Latency is measured from the due time, not from when the request was actually sent, so a
//! server (or client) that falls behind is charged for the queueing it causes instead of
//! silently slowing the arrival rate down (coordinated omission). The pacer runs on its own OS
//! thread with `std::thread::sleep`, which is precise to tens of microseconds, rather than on the
//! async timer wheel, whose millisecond ticks would add up to a millisecond of false latency.
//!
//! The schedule itself is pure; only [`pace`] touches a clock.

use std::time::{Duration, Instant};

/// A fixed arrival rate held for a warm-up period and then a measured period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Requests per second.
    pub rate: f64,
    /// Time at the start whose requests are sent but not recorded.
    pub warmup: Duration,
    /// Time after the warm-up whose requests are recorded.
    pub duration: Duration,
}

/// One scheduled request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// When it is due, from the start of the run.
    pub due: Duration,
    /// Whether it falls in the measured period (not the warm-up).
    pub measured: bool,
}

impl Schedule {
    /// Every arrival, in order.
    pub fn arrivals(&self) -> impl Iterator<Item = Arrival> + use<> {
        let interval = 1.0 / self.rate;
        let warmup = self.warmup;
        let end = (self.warmup + self.duration).as_secs_f64();
        let total = if self.rate > 0.0 && self.rate.is_finite() {
            (end * self.rate).floor() as u64
        } else {
            0
        };
        (0..total).map(move |i| {
            let due = Duration::from_secs_f64(i as f64 * interval);
            Arrival {
                due,
                measured: due >= warmup,
            }
        })
    }
}

/// Calls `send` for every arrival at its due time (relative to `start`), from the calling
/// thread, and returns the largest lateness of a call against its due time.
pub fn pace(
    start: Instant,
    schedule: &Schedule,
    mut send: impl FnMut(Arrival, Instant),
) -> Duration {
    let mut worst = Duration::ZERO;
    for arrival in schedule.arrivals() {
        let due = start + arrival.due;
        let now = Instant::now();
        if let Some(wait) = due.checked_duration_since(now) {
            std::thread::sleep(wait);
        }
        worst = worst.max(Instant::now().saturating_duration_since(due));
        send(arrival, due);
    }
    worst
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn schedule(rate: f64, warmup_ms: u64, duration_ms: u64) -> Schedule {
        Schedule {
            rate,
            warmup: Duration::from_millis(warmup_ms),
            duration: Duration::from_millis(duration_ms),
        }
    }

    #[test]
    fn arrivals_are_evenly_spaced_at_the_rate() {
        let all: Vec<_> = schedule(500.0, 0, 1000).arrivals().collect();
        assert_eq!(all.len(), 500);
        assert_eq!(all[0].due, Duration::ZERO);
        assert_eq!(all[1].due, Duration::from_millis(2));
        assert_eq!(all[499].due, Duration::from_millis(998));
    }

    #[test]
    fn warmup_arrivals_are_not_measured() {
        let s = schedule(100.0, 2000, 10_000);
        let all: Vec<_> = s.arrivals().collect();
        assert_eq!(all.len(), 1200);
        assert!(all[..200].iter().all(|a| !a.measured));
        assert!(all[200..].iter().all(|a| a.measured));
        assert_eq!(all.iter().filter(|a| a.measured).count(), 1000);
    }

    #[test]
    fn a_rate_that_is_not_positive_schedules_nothing() {
        assert_eq!(schedule(0.0, 0, 1000).arrivals().count(), 0);
        assert_eq!(schedule(-5.0, 0, 1000).arrivals().count(), 0);
        assert_eq!(schedule(f64::NAN, 0, 1000).arrivals().count(), 0);
    }

    #[test]
    fn pace_calls_each_arrival_no_earlier_than_it_is_due() {
        let start = Instant::now();
        let mut calls = Vec::new();
        pace(start, &schedule(200.0, 0, 50), |arrival, due| {
            calls.push((arrival, due, Instant::now()));
        });
        assert_eq!(calls.len(), 10);
        for (arrival, due, called) in calls {
            assert_eq!(due, start + arrival.due);
            assert!(called >= due);
        }
    }
}
