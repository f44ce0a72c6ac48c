//! Small output helpers the operator subcommands share: timestamps as RFC 3339 UTC and writing
//! to stdout without panicking on a closed pipe.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix milliseconds as an RFC 3339 UTC timestamp with milliseconds.
pub fn utc(ms: u64) -> String {
    warden_budget::utc_timestamp_millis(ms)
}

/// The current Unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Writes to stdout, reporting a closed pipe as an error instead of panicking.
pub fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
    }
}
