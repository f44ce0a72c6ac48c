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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use std::path::Path;

    use crate::config::{Config, ConfigError};

    fn parse(extra: &str) -> Result<Config, ConfigError> {
        let text = format!("policy: {{ bundle: ./b }}\n{extra}");
        Config::parse("warden.yaml", &text, Path::new("/etc/warden"))
    }

    #[test]
    fn the_proxy_exists_only_when_configured() {
        assert_eq!(parse("").unwrap().egress, None);
        let c = parse("egress: { listen: \"127.0.0.1:8082\", connect_timeout: 3s }\n").unwrap();
        let egress = c.egress.unwrap();
        assert_eq!(egress.listen.to_string(), "127.0.0.1:8082");
        assert_eq!(egress.connect_timeout_ms, 3000);
    }

    #[test]
    fn bad_values_are_located() {
        for (text, field) in [
            ("egress: { listen: nowhere }\n", "egress.listen"),
            (
                "egress: { listen: \"127.0.0.1:1\", connect_timeout: soon }\n",
                "egress.connect_timeout",
            ),
        ] {
            let Err(ConfigError::Invalid(problems)) = parse(text) else {
                panic!("{text} was accepted");
            };
            assert!(problems.iter().any(|p| p.field == field), "{problems:?}");
        }
        assert!(parse("egress: { listen: \"127.0.0.1:1\", extra: 1 }\n").is_err());
    }
}
