//! A process's resident memory, read from `/proc/PID/status` (`VmRSS`).
//!
//! [`parse_vm_rss`] is pure; [`resident_kib`] reads the file.

use thiserror::Error;

/// Why a process's resident memory could not be read.
#[derive(Debug, Error)]
pub enum RssError {
    /// `/proc/PID/status` could not be read (no such process, or no procfs).
    #[error("cannot read /proc/{pid}/status: {source}")]
    Read {
        /// The process id.
        pid: u32,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The status file has no `VmRSS: N kB` line.
    #[error("/proc/{pid}/status has no VmRSS line in kB")]
    NoVmRss {
        /// The process id.
        pid: u32,
    },
}

/// The resident set size of process `pid`, in KiB.
pub fn resident_kib(pid: u32) -> Result<u64, RssError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|source| RssError::Read { pid, source })?;
    parse_vm_rss(&status).ok_or(RssError::NoVmRss { pid })
}

/// The `VmRSS` figure of a `/proc/PID/status` text, in KiB.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let rest = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let mut words = rest.split_whitespace();
    let value = words.next()?.parse().ok()?;
    (words.next()? == "kB").then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_vm_rss_line() {
        let status = "Name:\twarden\nVmPeak:\t  900000 kB\nVmRSS:\t   24576 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(24576));
    }

    #[test]
    fn no_vm_rss_line_is_none() {
        assert_eq!(parse_vm_rss("Name:\tkthreadd\nThreads:\t1\n"), None);
    }

    #[test]
    fn a_figure_without_its_unit_is_refused() {
        assert_eq!(parse_vm_rss("VmRSS:\t24576\n"), None);
        assert_eq!(parse_vm_rss("VmRSS:\tmany kB\n"), None);
    }

    #[test]
    fn this_process_has_resident_memory() {
        let kib = resident_kib(std::process::id());
        assert!(kib.is_ok_and(|k| k > 0));
    }

    #[test]
    fn a_missing_process_is_a_read_error() {
        // PIDs above the kernel's maximum (2^22) are never assigned.
        assert!(matches!(resident_kib(u32::MAX), Err(RssError::Read { .. })));
    }
}
