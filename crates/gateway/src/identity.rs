//! Who is calling: the Warden key an agent presents, resolved to the agent it belongs to and the
//! attributes the configuration gives that agent.
//!
//! Key storage is behind [`Credentials`] so the gateway does not care where keys live; the
//! embedded store's [`warden_store::SqliteKeys`] is the implementation `warden serve` uses.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::config::Config;

/// Looks up presented agent keys.
pub trait Credentials: Send + Sync {
    /// The key's owner if `presented` is a live key, `Ok(None)` for anything else; `Err` only
    /// when the key store itself failed (the request is then refused, never let through).
    fn authenticate(&self, presented: &str) -> Result<Option<KeyOwner>, String>;
}

/// The owner of a live key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    /// The key's id (never the secret).
    pub key_id: String,
    /// The agent it was issued to.
    pub agent_id: String,
}

impl Credentials for warden_store::SqliteKeys {
    fn authenticate(&self, presented: &str) -> Result<Option<KeyOwner>, String> {
        warden_store::SqliteKeys::authenticate(self, presented)
            .map(|found| {
                found.map(|info| KeyOwner {
                    key_id: info.key_id,
                    agent_id: info.agent_id,
                })
            })
            .map_err(|e| e.to_string())
    }
}

/// An authenticated agent with the attributes policies read.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The key it presented.
    pub key_id: String,
    /// The agent as policies see it.
    pub agent: warden_policy::Agent,
    /// The run this request belongs to (`Warden-Run-Id`), if the agent names one.
    pub run_id: Option<String>,
}

/// Why a request has no identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Neither `Authorization: Bearer` nor `x-api-key` was sent.
    #[error(
        "no Warden API key: send it as `Authorization: Bearer KEY` or `x-api-key: KEY` (create one with `warden keys create --agent NAME`)"
    )]
    Missing,
    /// The key is unknown, revoked or malformed.
    #[error("invalid Warden API key")]
    Invalid,
    /// The key's agent is no longer in the configuration.
    #[error("agent `{0}` is not configured on this gateway")]
    UnknownAgent(String),
    /// An operator token was presented where only agents may call.
    #[error("operator tokens are not accepted on the agent API; agents use their Warden API key")]
    OperatorToken,
    /// The key store failed; the request is refused.
    #[error("the key store is unavailable: {0}")]
    Store(String),
}

/// How operator tokens begin (agent keys begin `wdn_`).
pub const OPERATOR_TOKEN_PREFIX: &str = "wdo_";

/// The key presented in `headers`: `Authorization: Bearer KEY` first, then `x-api-key`.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|k| !k.is_empty());
    bearer.or_else(|| {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
    })
}

/// Resolves the caller of a request.
pub fn identify(
    headers: &HeaderMap,
    credentials: &dyn Credentials,
    config: &Config,
) -> Result<Identity, AuthError> {
    let key = presented_key(headers).ok_or(AuthError::Missing)?;
    let run_id = headers
        .get("warden-run-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|r| !r.is_empty() && r.len() <= 128)
        .map(str::to_owned);
    identify_key(key, run_id, credentials, config)
}

/// Resolves a presented agent key (however it was presented) to its agent.
pub fn identify_key(
    key: &str,
    run_id: Option<String>,
    credentials: &dyn Credentials,
    config: &Config,
) -> Result<Identity, AuthError> {
    if key.starts_with(OPERATOR_TOKEN_PREFIX) {
        return Err(AuthError::OperatorToken);
    }
    let owner = credentials
        .authenticate(key)
        .map_err(AuthError::Store)?
        .ok_or(AuthError::Invalid)?;
    let configured = config
        .agents
        .get(&owner.agent_id)
        .ok_or_else(|| AuthError::UnknownAgent(owner.agent_id.clone()))?;
    Ok(Identity {
        key_id: owner.key_id,
        agent: warden_policy::Agent {
            id: owner.agent_id,
            tenant: configured.tenant.clone(),
            team: configured.team.clone(),
            labels: configured.labels.clone(),
            home: configured.home.clone(),
        },
        run_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn bearer_and_x_api_key_are_both_read() {
        assert_eq!(
            presented_key(&headers(&[("authorization", "Bearer wdn_a_b")])),
            Some("wdn_a_b")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "bearer  wdn_a_b ")])),
            Some("wdn_a_b")
        );
        assert_eq!(
            presented_key(&headers(&[("x-api-key", "wdn_c_d")])),
            Some("wdn_c_d")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "Basic xyz")])),
            None
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "Bearer ")])),
            None
        );
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }
}
