//! Budget windows: a calendar day or month in UTC, or the whole lifetime of the scope. A window
//! and an instant give a [`Period`]; spending is kept per period, so a new period starts at zero
//! without anything being reset.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Milliseconds per day.
const DAY_MS: u64 = 86_400_000;

/// How long a budget runs before it starts again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// A calendar day in UTC.
    Day,
    /// A calendar month in UTC.
    Month,
    /// Never resets.
    Total,
}

/// A window name that is not `day`, `month` or `total`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a budget window (day, month, total)")]
pub struct WindowError(pub String);

/// One period of a window: spending in it counts against the limit until `end_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// First instant of the period, Unix milliseconds (0 for [`Window::Total`]).
    pub start_ms: u64,
    /// First instant after it (when the budget resets); `None` for [`Window::Total`].
    pub end_ms: Option<u64>,
}

impl Window {
    /// Every window, in display order.
    pub const ALL: [Window; 3] = [Window::Day, Window::Month, Window::Total];

    /// The stable name (`day`, `month`, `total`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Window::Day => "day",
            Window::Month => "month",
            Window::Total => "total",
        }
    }

    /// The period containing `now_ms`.
    #[must_use]
    pub fn period(self, now_ms: u64) -> Period {
        match self {
            Window::Total => Period {
                start_ms: 0,
                end_ms: None,
            },
            Window::Day => {
                let start_ms = now_ms - now_ms % DAY_MS;
                Period {
                    start_ms,
                    end_ms: Some(start_ms.saturating_add(DAY_MS)),
                }
            }
            Window::Month => {
                let (year, month, _) = civil_from_days(now_ms / DAY_MS);
                let (next_year, next_month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                Period {
                    start_ms: days_from_civil(year, month).saturating_mul(DAY_MS),
                    end_ms: Some(days_from_civil(next_year, next_month).saturating_mul(DAY_MS)),
                }
            }
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Window {
    type Err = WindowError;
    fn from_str(s: &str) -> Result<Window, WindowError> {
        match s {
            "day" => Ok(Window::Day),
            "month" => Ok(Window::Month),
            "total" => Ok(Window::Total),
            other => Err(WindowError(other.to_owned())),
        }
    }
}

/// `ms` (Unix milliseconds) as an RFC 3339 UTC timestamp to the second (`2026-03-16T00:00:00Z`).
#[must_use]
pub fn utc_timestamp(ms: u64) -> String {
    format!("{}Z", utc_to_the_second(ms))
}

/// `ms` (Unix milliseconds) as an RFC 3339 UTC timestamp with milliseconds
/// (`2026-03-16T00:00:00.250Z`).
#[must_use]
pub fn utc_timestamp_millis(ms: u64) -> String {
    format!("{}.{:03}Z", utc_to_the_second(ms), ms % 1000)
}

/// Date and time of `ms` to the second, without a zone designator.
fn utc_to_the_second(ms: u64) -> String {
    let secs = ms / 1000;
    let (year, month, day) = civil_from_days(secs / 86_400);
    let in_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// Year, month (1–12) and day (1–31) of a day count since 1970-01-01 (H. Hinnant's algorithm,
/// restricted to dates after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of the first day of `month` in `year` (both after the epoch).
fn days_from_civil(year: u64, month: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let m = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * m + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-15T13:45:00Z.
    const MID_MARCH: u64 = 1_773_582_300_000;

    #[test]
    fn a_day_runs_from_utc_midnight_to_the_next() {
        let p = Window::Day.period(MID_MARCH);
        assert_eq!(p.start_ms, 1_773_532_800_000); // 2026-03-15T00:00:00Z
        assert_eq!(p.end_ms, Some(1_773_619_200_000)); // 2026-03-16T00:00:00Z
        assert_eq!(Window::Day.period(p.start_ms), p);
        assert_ne!(Window::Day.period(p.start_ms - 1), p);
    }

    #[test]
    fn a_month_runs_from_its_first_day_to_the_next_months() {
        let p = Window::Month.period(MID_MARCH);
        assert_eq!(p.start_ms, 1_772_323_200_000); // 2026-03-01T00:00:00Z
        assert_eq!(p.end_ms, Some(1_775_001_600_000)); // 2026-04-01T00:00:00Z
        let december = Window::Month.period(1_796_083_200_000); // 2026-12-01
        assert_eq!(december.end_ms, Some(1_798_761_600_000)); // 2027-01-01
        let leap = Window::Month.period(1_709_251_199_000); // 2024-02-29T23:59:59Z
        assert_eq!(leap.start_ms, 1_706_745_600_000); // 2024-02-01
        assert_eq!(leap.end_ms, Some(1_709_251_200_000)); // 2024-03-01
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(utc_timestamp(MID_MARCH), "2026-03-15T13:45:00Z");
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            utc_timestamp_millis(MID_MARCH + 7),
            "2026-03-15T13:45:00.007Z"
        );
    }

    #[test]
    fn the_total_window_never_ends() {
        let p = Window::Total.period(MID_MARCH);
        assert_eq!((p.start_ms, p.end_ms), (0, None));
    }

    #[test]
    fn windows_parse_by_name_only() {
        for w in Window::ALL {
            assert_eq!(w.name().parse::<Window>(), Ok(w));
        }
        assert!("week".parse::<Window>().is_err());
    }

    proptest::proptest! {
        #[test]
        fn every_instant_lies_in_its_period(now in 0u64..4_102_444_800_000) {
            for w in Window::ALL {
                let p = w.period(now);
                proptest::prop_assert!(p.start_ms <= now);
                proptest::prop_assert!(p.end_ms.is_none_or(|end| now < end));
            }
        }
    }
}
