//! Rebuilding the writer's head from the database after a restart or a failed commit: the
//! record count and last hash, every agent's last record hash, the Merkle frontier, and how far
//! checkpoints reach. Refuses to continue on a ledger whose seqs are not contiguous.

use std::collections::HashMap;

use rusqlite::Connection;
use warden_ledger::{ChainState, Hash};

use crate::error::StoreError;

/// What recovery found.
pub(crate) struct Recovered {
    pub chain: ChainState,
    pub checkpointed: u64,
    /// The latest record time, so that new records never go back in time (0 when empty).
    pub last_time_ms: u64,
}

fn hash_of(bytes: Vec<u8>) -> Result<Hash, StoreError> {
    Hash::from_slice(&bytes)
        .ok_or_else(|| StoreError::Corrupt("record hash is not 32 bytes".into()))
}

/// Reads the head state, in one pass over the records.
pub(crate) fn recover(conn: &Connection) -> Result<Recovered, StoreError> {
    let mut hashes = Vec::new();
    let mut heads: HashMap<String, Hash> = HashMap::new();
    let mut last_time_ms: i64 = 0;
    let mut stmt =
        conn.prepare("SELECT seq, hash, agent_id, time_ms FROM ledger_records ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        if usize::try_from(seq).ok() != Some(hashes.len()) {
            return Err(StoreError::Corrupt(format!(
                "seq {} is missing (found seq {seq})",
                hashes.len()
            )));
        }
        let hash = hash_of(row.get(1)?)?;
        // Each agent's head is its last record: later rows overwrite earlier ones.
        let agent = row
            .get_ref(2)?
            .as_str_or_null()
            .map_err(|e| StoreError::Corrupt(format!("seq {seq}: agent_id is not text: {e}")))?;
        if let Some(agent) = agent {
            match heads.get_mut(agent) {
                Some(head) => *head = hash,
                None => {
                    heads.insert(agent.to_owned(), hash);
                }
            }
        }
        last_time_ms = last_time_ms.max(row.get(3)?);
        hashes.push(hash);
    }
    let checkpointed: i64 = conn.query_row(
        "SELECT COALESCE(MAX(size), 0) FROM ledger_checkpoints",
        [],
        |r| r.get(0),
    )?;
    let checkpointed = u64::try_from(checkpointed).unwrap_or(0);
    if checkpointed > hashes.len() as u64 {
        return Err(StoreError::Corrupt(format!(
            "a checkpoint covers {checkpointed} records but only {} exist",
            hashes.len()
        )));
    }
    Ok(Recovered {
        chain: ChainState::restore(hashes, heads),
        checkpointed,
        last_time_ms: u64::try_from(last_time_ms).unwrap_or(0),
    })
}
