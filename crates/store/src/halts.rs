//! Halts: the kill switch's persistent state. A halt names one agent, or none for a global halt
//! that stops every agent; it stays until resumed, across restarts and for every process sharing
//! the database.
//!
//! Owns the `halts` rows; must not depend on HTTP, an async runtime, a clock (callers pass
//! `now_ms`) or how the gateway refuses a halted agent's calls.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::operators::{check_agent, db_time, lock, open_migrated, stored_time};

/// The `scope` key of the global halt (agent halts use `agent:<id>`, which never equals it).
const GLOBAL: &str = "*";

/// A halt in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Halt {
    /// The halted agent; `None` for a global halt.
    pub agent_id: Option<String>,
    /// Why, as the operator said.
    pub reason: String,
    /// Who halted it (an operator name).
    pub by: String,
    /// When the halt began, in Unix milliseconds (re-halting keeps the first time).
    pub since_ms: u64,
}

/// Halts in the embedded store.
pub struct SqliteHalts {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl fmt::Debug for SqliteHalts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteHalts")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteHalts {
    /// Opens (creating if absent, running migrations) the store at `path` (`DATA_DIR/warden.db`).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(SqliteHalts {
            path: path.to_owned(),
            conn: Mutex::new(open_migrated(path)?),
        })
    }

    /// Halts `agent_id` (or every agent with `None`). Idempotent: halting what is already halted
    /// updates `reason` and `by` and keeps `since_ms`. An agent id must be non-empty and free of
    /// control characters ([`crate::InvalidInput::Agent`] otherwise).
    pub fn halt(
        &self,
        agent_id: Option<&str>,
        reason: &str,
        by: &str,
        now_ms: u64,
    ) -> Result<Halt, StoreError> {
        if let Some(agent) = agent_id {
            check_agent(agent)?;
        }
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached(
            "INSERT INTO halts (scope, agent_id, reason, halted_by, since_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(scope) DO UPDATE SET reason = excluded.reason, halted_by = excluded.halted_by
             RETURNING agent_id, reason, halted_by, since_ms",
        )?;
        Ok(stmt.query_row(
            params![scope(agent_id), agent_id, reason, by, db_time(now_ms)],
            halt,
        )?)
    }

    /// Lifts the halt on `agent_id` (or the global halt with `None`); `false` if it was not
    /// halted. Lifting the global halt leaves agent halts in force, and the reverse.
    pub fn resume(&self, agent_id: Option<&str>) -> Result<bool, StoreError> {
        let changed =
            lock(&self.conn).execute("DELETE FROM halts WHERE scope = ?1", [scope(agent_id)])?;
        Ok(changed > 0)
    }

    /// Every halt in force: the global one first, then agents by halt time.
    pub fn list(&self) -> Result<Vec<Halt>, StoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached(
            "SELECT agent_id, reason, halted_by, since_ms FROM halts
             ORDER BY agent_id IS NOT NULL, since_ms, agent_id",
        )?;
        let rows = stmt.query_map([], halt)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

/// The primary key of a halt.
fn scope(agent_id: Option<&str>) -> String {
    agent_id.map_or_else(|| GLOBAL.to_owned(), |agent| format!("agent:{agent}"))
}

/// Reads `agent_id, reason, halted_by, since_ms`.
fn halt(row: &rusqlite::Row<'_>) -> rusqlite::Result<Halt> {
    Ok(Halt {
        agent_id: row.get(0)?,
        reason: row.get(1)?,
        by: row.get(2)?,
        since_ms: stored_time(row, 3)?,
    })
}
