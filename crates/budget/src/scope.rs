//! Budget scopes: whose spending a budget limits. A [`ScopeKey`] is written `kind:id`
//! (`agent:billing-bot`, `team:payments`, `tenant:acme`, `run:4f2c…`), which is also how the
//! store keys it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest scope id accepted.
const MAX_ID_LEN: usize = 200;

/// What a budget is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    /// One agent (its id).
    Agent,
    /// The agent's team.
    Team,
    /// The agent's tenant.
    Tenant,
    /// One run of an agent (the `Warden-Run-Id` header).
    Run,
}

/// One scope: a kind and an id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeKey {
    /// The kind.
    pub kind: ScopeKind,
    /// The agent, team, tenant or run id.
    pub id: String,
}

/// A scope that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Not `kind:id`, or an unknown kind.
    #[error("`{0}` is not a budget scope (agent:ID, team:ID, tenant:ID or run:ID)")]
    Syntax(String),
    /// The id is empty, too long, or holds control characters.
    #[error("`{0}` is not a valid scope id (1 to 200 characters, no control characters)")]
    Id(String),
}

impl ScopeKind {
    /// Every kind, in the order reservations check them.
    pub const ALL: [ScopeKind; 4] = [
        ScopeKind::Run,
        ScopeKind::Agent,
        ScopeKind::Team,
        ScopeKind::Tenant,
    ];

    /// The stable name (`agent`, `team`, `tenant`, `run`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ScopeKind::Agent => "agent",
            ScopeKind::Team => "team",
            ScopeKind::Tenant => "tenant",
            ScopeKind::Run => "run",
        }
    }
}

impl FromStr for ScopeKind {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<ScopeKind, ScopeError> {
        match s {
            "agent" => Ok(ScopeKind::Agent),
            "team" => Ok(ScopeKind::Team),
            "tenant" => Ok(ScopeKind::Tenant),
            "run" => Ok(ScopeKind::Run),
            other => Err(ScopeError::Syntax(other.to_owned())),
        }
    }
}

impl ScopeKey {
    /// A scope of `kind` for `id`.
    ///
    /// # Errors
    /// [`ScopeError::Id`] when the id is empty, longer than 200 characters or holds control
    /// characters.
    pub fn new(kind: ScopeKind, id: &str) -> Result<ScopeKey, ScopeError> {
        if id.is_empty() || id.chars().count() > MAX_ID_LEN || id.chars().any(char::is_control) {
            return Err(ScopeError::Id(id.to_owned()));
        }
        Ok(ScopeKey {
            kind,
            id: id.to_owned(),
        })
    }
}

impl fmt::Display for ScopeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.name(), self.id)
    }
}

impl FromStr for ScopeKey {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<ScopeKey, ScopeError> {
        let (kind, id) = s
            .split_once(':')
            .ok_or_else(|| ScopeError::Syntax(s.to_owned()))?;
        let kind = kind
            .parse::<ScopeKind>()
            .map_err(|_| ScopeError::Syntax(s.to_owned()))?;
        ScopeKey::new(kind, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_their_text_form() {
        let key: ScopeKey = "run:4f2c:retry-1".parse().unwrap_or_else(unreachable);
        assert_eq!(key.kind, ScopeKind::Run);
        assert_eq!(key.id, "4f2c:retry-1");
        assert_eq!(key.to_string(), "run:4f2c:retry-1");
    }

    #[test]
    fn malformed_scopes_name_the_problem() {
        assert_eq!(
            "user:bob".parse::<ScopeKey>(),
            Err(ScopeError::Syntax("user:bob".into()))
        );
        assert_eq!(
            "agent".parse::<ScopeKey>(),
            Err(ScopeError::Syntax("agent".into()))
        );
        assert_eq!(
            "agent:".parse::<ScopeKey>(),
            Err(ScopeError::Id(String::new()))
        );
        assert!("team:a\nb".parse::<ScopeKey>().is_err());
    }

    fn unreachable(e: ScopeError) -> ScopeKey {
        ScopeKey {
            kind: ScopeKind::Agent,
            id: format!("unexpected error: {e}"),
        }
    }
}
