//! The `authzen:` section: which agents may ask Warden for decisions through the AuthZEN API
//! (policy enforcement points authenticate with their Warden key, so issuing and revoking their
//! credentials is `warden keys`), and how large a batch may be.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::Validator;

/// AuthZEN settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzenSettings {
    /// Agents whose keys may call the AuthZEN API (none: the API refuses every caller).
    pub clients: Vec<String>,
    /// Most evaluations one `POST /access/v1/evaluations` may carry.
    pub max_evaluations: usize,
}

impl Default for AuthzenSettings {
    fn default() -> Self {
        AuthzenSettings {
            clients: Vec::new(),
            max_evaluations: 1000,
        }
    }
}

/// `authzen:` as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAuthzen {
    /// Agents (ids under `agents:`) whose keys may call the AuthZEN API.
    #[serde(default)]
    pub clients: Vec<String>,
    /// Most evaluations in one batch (default 1000).
    pub max_evaluations: Option<u32>,
}

impl Validator<'_> {
    pub(super) fn authzen(
        &mut self,
        raw: Option<&Spanned<RawAuthzen>>,
        agents: &std::collections::BTreeMap<String, super::AgentConfig>,
    ) -> AuthzenSettings {
        let mut out = AuthzenSettings::default();
        let Some(raw) = raw else {
            return out;
        };
        let at = raw.referenced;
        for (i, client) in raw.value.clients.iter().enumerate() {
            if !agents.contains_key(client) {
                self.problem(
                    at,
                    &format!("authzen.clients[{i}]"),
                    format!("`{client}` is not an agent under `agents:`"),
                );
            }
        }
        out.clients = raw.value.clients.clone();
        match raw.value.max_evaluations {
            Some(0) => self.problem(at, "authzen.max_evaluations", "must be at least 1".into()),
            Some(n) => out.max_evaluations = usize::try_from(n).unwrap_or(usize::MAX),
            None => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use std::path::Path;

    use crate::config::{Config, ConfigError};

    fn parse(extra: &str) -> Result<Config, ConfigError> {
        let text = format!("policy: {{ bundle: ./b }}\nagents:\n  pep: {{}}\n{extra}");
        Config::parse("warden.yaml", &text, Path::new("/etc/warden"))
    }

    #[test]
    fn clients_must_be_configured_agents() {
        let c = parse("authzen: { clients: [pep], max_evaluations: 10 }\n").unwrap();
        assert_eq!(c.authzen.clients, vec!["pep".to_owned()]);
        assert_eq!(c.authzen.max_evaluations, 10);
        let Err(ConfigError::Invalid(problems)) = parse("authzen: { clients: [ghost] }\n") else {
            panic!("an unknown client was accepted");
        };
        assert!(problems.iter().any(|p| p.field == "authzen.clients[0]"));
        assert!(parse("authzen: { max_evaluations: 0 }\n").is_err());
    }

    #[test]
    fn without_the_section_nobody_may_ask() {
        let c = parse("").unwrap();
        assert!(c.authzen.clients.is_empty());
        assert_eq!(c.authzen.max_evaluations, 1000);
    }
}
