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
