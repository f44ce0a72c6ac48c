//! The `egress:` section: the egress proxy's listener and its limits. Without the section there
//! is no egress proxy.

use std::net::SocketAddr;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;
use warden_policy::parse_duration_ms;

use super::Validator;

/// Egress proxy settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EgressSettings {
    /// Where agents' HTTP clients connect (`HTTPS_PROXY=http://KEY@ADDR`).
    pub listen: SocketAddr,
    /// Time limit for resolving and connecting to a destination, in milliseconds.
    pub connect_timeout_ms: u64,
}

/// `egress:` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEgress {
    /// The proxy's listener (`127.0.0.1:8082`).
    pub listen: String,
    /// Time limit for resolving and connecting to a destination (default `10s`).
    pub connect_timeout: Option<String>,
}

impl Validator<'_> {
    pub(super) fn egress(&mut self, raw: Option<&Spanned<RawEgress>>) -> Option<EgressSettings> {
        let raw = raw?;
        let at = raw.referenced;
        let listen = match raw.value.listen.parse::<SocketAddr>() {
            Ok(addr) => addr,
            Err(_) => {
                self.problem(
                    at,
                    "egress.listen",
                    format!(
                        "`{}` is not an address (e.g. 127.0.0.1:8082)",
                        raw.value.listen
                    ),
                );
                return None;
            }
        };
        let mut out = EgressSettings {
            listen,
            connect_timeout_ms: 10_000,
        };
        if let Some(s) = &raw.value.connect_timeout {
            match parse_duration_ms(s) {
                Ok(ms) if ms > 0 => out.connect_timeout_ms = ms,
                _ => self.problem(
                    at,
                    "egress.connect_timeout",
                    format!("`{s}` is not a duration (e.g. 10s)"),
                ),
            }
        }
        Some(out)
    }
}
