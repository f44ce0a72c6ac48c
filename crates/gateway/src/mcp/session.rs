//! Agents' session-era sessions on `/mcp/{server}`: Warden answers `initialize` itself and
//! issues the `Mcp-Session-Id`; a session belongs to one agent and one server, and is ended by
//! DELETE or evicted (oldest first) beyond [`MAX_SESSIONS`]. Upstream, all agents share Warden's
//! own session with the server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Most sessions kept at once.
pub const MAX_SESSIONS: usize = 10_000;

/// One agent session.
#[derive(Debug, Clone)]
struct AgentSession {
    agent: String,
    server: String,
    version: String,
    used: Instant,
}

/// Why a session id is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// No such session (never issued, ended, or evicted): the client must initialize again.
    #[error("unknown or expired Mcp-Session-Id; send initialize to open a new session")]
    Unknown,
    /// Randomness for a new id was unavailable.
    #[error("a session id could not be drawn: {0}")]
    Randomness(String),
}

/// The open sessions.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, AgentSession>>,
}

impl Sessions {
    /// Opens a session and returns its id.
    pub fn open(&self, agent: &str, server: &str, version: &str) -> Result<String, SessionError> {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).map_err(|e| SessionError::Randomness(e.to_string()))?;
        let id = hex::encode(bytes);
        let mut map = self
            .map
            .lock()
            .map_err(|_| SessionError::Randomness("session table poisoned".into()))?;
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            id.clone(),
            AgentSession {
                agent: agent.to_owned(),
                server: server.to_owned(),
                version: version.to_owned(),
                used: Instant::now(),
            },
        );
        Ok(id)
    }

    /// The negotiated version of `id`, if it is `agent`'s session on `server`.
    pub fn check(&self, id: &str, agent: &str, server: &str) -> Result<String, SessionError> {
        let mut map = self.map.lock().map_err(|_| SessionError::Unknown)?;
        match map.get_mut(id) {
            Some(s) if s.agent == agent && s.server == server => {
                s.used = Instant::now();
                Ok(s.version.clone())
            }
            _ => Err(SessionError::Unknown),
        }
    }

    /// Ends `agent`'s session `id` on `server`.
    pub fn close(&self, id: &str, agent: &str, server: &str) -> Result<(), SessionError> {
        self.check(id, agent, server)?;
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
        Ok(())
    }

    /// Whether `id` is open.
    pub fn is_open(&self, id: &str) -> bool {
        self.map.lock().is_ok_and(|m| m.contains_key(id))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_session_belongs_to_one_agent_and_server() {
        let sessions = Sessions::default();
        let id = sessions.open("a", "files", "2025-06-18").unwrap();
        assert_eq!(sessions.check(&id, "a", "files").unwrap(), "2025-06-18");
        assert_eq!(
            sessions.check(&id, "b", "files"),
            Err(SessionError::Unknown)
        );
        assert_eq!(sessions.check(&id, "a", "db"), Err(SessionError::Unknown));
        assert_eq!(
            sessions.close(&id, "b", "files"),
            Err(SessionError::Unknown)
        );
        sessions.close(&id, "a", "files").unwrap();
        assert!(!sessions.is_open(&id));
        assert_eq!(
            sessions.check(&id, "a", "files"),
            Err(SessionError::Unknown)
        );
    }
}
