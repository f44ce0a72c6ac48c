//! The kill switch: which agents are halted (or whether everything is), persisted in the store
//! and mirrored in memory so every request checks it without I/O. Changes are broadcast so
//! in-flight streams of a halted agent end at once.

use std::collections::HashMap;
use std::sync::RwLock;

use tokio::sync::watch;
use warden_store::{Halt, SqliteHalts, StoreError};

/// Halted agents.
pub struct Halts {
    store: SqliteHalts,
    state: RwLock<State>,
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    global: Option<Halt>,
    agents: HashMap<String, Halt>,
}

impl std::fmt::Debug for Halts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Halts").finish_non_exhaustive()
    }
}

impl Halts {
    /// Loads the halts in force from `store`.
    pub fn load(store: SqliteHalts) -> Result<Halts, StoreError> {
        let mut state = State::default();
        for halt in store.list()? {
            match halt.agent_id.clone() {
                Some(agent) => {
                    state.agents.insert(agent, halt);
                }
                None => state.global = Some(halt),
            }
        }
        Ok(Halts {
            store,
            state: RwLock::new(state),
            changed: watch::channel(0).0,
        })
    }

    /// The halt that stops `agent`, if any (a global halt stops every agent).
    pub fn check(&self, agent: &str) -> Option<Halt> {
        let Ok(state) = self.state.read() else {
            // A poisoned lock: treat everything as halted rather than let calls through.
            return Some(Halt {
                agent_id: None,
                reason: "the kill-switch state is unavailable".into(),
                by: "warden".into(),
                since_ms: 0,
            });
        };
        state
            .global
            .clone()
            .or_else(|| state.agents.get(agent).cloned())
    }

    /// Notified on every halt or resume.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Halts `agent` (`None`: every agent).
    pub fn halt(
        &self,
        agent: Option<&str>,
        reason: &str,
        by: &str,
        now_ms: u64,
    ) -> Result<Halt, StoreError> {
        let halt = self.store.halt(agent, reason, by, now_ms)?;
        if let Ok(mut state) = self.state.write() {
            match agent {
                Some(a) => {
                    state.agents.insert(a.to_owned(), halt.clone());
                }
                None => state.global = Some(halt.clone()),
            }
        }
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        Ok(halt)
    }

    /// Lifts the halt of `agent` (`None`: the global one); `false` if there was none.
    pub fn resume(&self, agent: Option<&str>) -> Result<bool, StoreError> {
        let lifted = self.store.resume(agent)?;
        if let Ok(mut state) = self.state.write() {
            match agent {
                Some(a) => {
                    state.agents.remove(a);
                }
                None => state.global = None,
            }
        }
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        Ok(lifted)
    }

    /// Every halt in force.
    pub fn list(&self) -> Vec<Halt> {
        self.state
            .read()
            .map(|s| s.global.iter().chain(s.agents.values()).cloned().collect())
            .unwrap_or_default()
    }
}
