//! Agent API keys: issuing, authenticating, listing and revoking the keys agents present to the
//! gateway (`Authorization: Bearer KEY` or `x-api-key: KEY`).
//!
//! A key reads `wdn_<id>_<secret>`: `id` is 12 lowercase hex characters (the key's public name,
//! shown by `list` and used to revoke), `secret` is 32 random bytes in base64url without padding.
//! Only a SHA-256 of the secret's bytes is stored, in the `keys_agent` table of the same SQLite
//! file as the ledger; the full key exists only in the [`IssuedKey`] returned by
//! [`SqliteKeys::create`]. An unknown key id is always looked up in the database, so a key created
//! by another process (e.g. `warden keys create` while the gateway runs) is accepted at once; a
//! live key is remembered after its first use, and a revocation by any process is seen by the
//! next request (see [`crate::live_keys`]).
//!
//! Owns the key format, hashing and the `keys_agent` rows; must not depend on HTTP, an async
//! runtime or how the gateway extracts the key from a request.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreError;
use crate::live_keys::{LiveKeys, Recall};
use crate::operators::{db_time, stored_time, stored_time_opt};
use crate::schema::{connect, migrate};
#[cfg(test)]
use crate::token::SECRET_BYTES;
use crate::token::{ID_ATTEMPTS, TokenFormat, is_id_clash, secret_digest, secret_matches};

/// The key format.
const KEY: TokenFormat = TokenFormat::new("wdn_");
/// Length of a whole key.
#[cfg(test)]
const KEY_LEN: usize = KEY.len();

/// Agent API keys in the embedded store: only a SHA-256 of each key's secret is stored.
pub struct SqliteKeys {
    path: PathBuf,
    conn: Mutex<Connection>,
    live: LiveKeys,
}

/// A key just issued. Its `secret` is the only copy: show it once, never log it.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedKey {
    /// The key's public id (12 lowercase hex characters).
    pub key_id: String,
    /// The agent the key authenticates.
    pub agent_id: String,
    /// The full key (`wdn_<id>_<secret>`), shown once.
    pub secret: String,
}

/// What the store knows about a key (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's public id (12 lowercase hex characters).
    pub key_id: String,
    /// The agent the key authenticates.
    pub agent_id: String,
    /// When the key was issued, in milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// When the key was revoked, if it was.
    pub revoked_ms: Option<u64>,
}

impl fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedKey")
            .field("key_id", &self.key_id)
            .field("agent_id", &self.agent_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for SqliteKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteKeys")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteKeys {
    /// Opens (creating if absent, running migrations) the store at `path` (`DATA_DIR/warden.db`).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = connect(path)?;
        migrate(&mut conn)?;
        Ok(SqliteKeys {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            live: LiveKeys::open(path),
        })
    }

    /// Issues a new key for `agent_id`. The returned secret is the only copy.
    pub fn create(&self, agent_id: &str, now_ms: u64) -> Result<IssuedKey, StoreError> {
        let conn = self.conn();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (key_id, secret) = KEY.draw()?;
            let inserted = conn.execute(
                "INSERT INTO keys_agent (key_id, agent_id, secret_sha256, created_ms, revoked_ms)
                 VALUES (?1, ?2, ?3, ?4, NULL)",
                params![key_id, agent_id, secret_digest(&secret), db_time(now_ms)],
            );
            match inserted {
                Ok(_) => {
                    let secret = KEY.render(&key_id, &secret);
                    return Ok(IssuedKey {
                        key_id,
                        agent_id: agent_id.to_owned(),
                        secret,
                    });
                }
                Err(e) if is_id_clash(&e) && attempt < ID_ATTEMPTS => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The key's owner if `presented` is a live (not revoked) key; `Ok(None)` for anything else,
    /// malformed input included.
    pub fn authenticate(&self, presented: &str) -> Result<Option<KeyInfo>, StoreError> {
        let Some((key_id, secret)) = KEY.parse(presented) else {
            return Ok(None);
        };
        let epoch = match self.live.recall(key_id) {
            Recall::Live(info, digest) => {
                return Ok(secret_matches(&secret, &digest).then_some(info));
            }
            Recall::Unknown { epoch } => epoch,
        };
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT key_id, agent_id, created_ms, revoked_ms, secret_sha256
             FROM keys_agent WHERE key_id = ?1",
        )?;
        let row = stmt
            .query_row([key_id], |r| Ok((key_info(r)?, r.get::<_, Vec<u8>>(4)?)))
            .optional()?;
        let Some((info, stored)) = row else {
            return Ok(None);
        };
        if info.revoked_ms.is_some() {
            return Ok(None);
        }
        if let Ok(digest) = <[u8; 32]>::try_from(stored.as_slice()) {
            self.live.remember(epoch, &info, digest);
        }
        Ok(secret_matches(&secret, &stored).then_some(info))
    }

    /// Every key, newest first (never secrets).
    pub fn list(&self) -> Result<Vec<KeyInfo>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT key_id, agent_id, created_ms, revoked_ms FROM keys_agent
             ORDER BY created_ms DESC, rowid DESC",
        )?;
        let rows = stmt.query_map([], key_info)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Revokes a key by id; `false` if there is no such live key. Once it returns, no process
    /// serving this database accepts the key.
    pub fn revoke(&self, key_id: &str, now_ms: u64) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE keys_agent SET revoked_ms = ?2 WHERE key_id = ?1 AND revoked_ms IS NULL",
            params![key_id, db_time(now_ms)],
        )?;
        if changed > 0 {
            self.live.advance().map_err(|e| {
                StoreError::KeyEpoch(format!(
                    "key {key_id} is revoked, but a running gateway may accept it for up to {} s more: \
                     its epoch file {} could not be written: {e}",
                    crate::live_keys::RECHECK_AFTER.as_secs(),
                    self.live.file().display()
                ))
            })?;
        }
        Ok(changed > 0)
    }

    /// The connection. A panic while it was held cannot leave it half-written (SQLite rolls back
    /// an unfinished transaction), so a poisoned lock is taken over rather than reported.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads the first four columns (`key_id, agent_id, created_ms, revoked_ms`) of a row.
fn key_info(row: &rusqlite::Row<'_>) -> rusqlite::Result<KeyInfo> {
    Ok(KeyInfo {
        key_id: row.get(0)?,
        agent_id: row.get(1)?,
        created_ms: stored_time(row, 2)?,
        revoked_ms: stored_time_opt(row, 3)?,
    })
}

/// Splits a presented key into its id and decoded secret (see [`TokenFormat::parse`]).
#[cfg(test)]
fn parse_key(presented: &str) -> Option<(&str, [u8; SECRET_BYTES])> {
    KEY.parse(presented)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const GOOD: &str = "wdn_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn parses_a_well_formed_key() {
        assert_eq!(GOOD.len(), KEY_LEN);
        let (id, secret) = parse_key(GOOD).unwrap();
        assert_eq!(id, "0123456789ab");
        assert_eq!(secret, [0u8; SECRET_BYTES]);
    }

    #[test]
    fn refuses_each_malformed_part() {
        let upper_id = GOOD.replace("0123456789ab", "0123456789AB");
        let bad_sep = GOOD.replacen("ab_", "ab-", 1);
        let bad_prefix = GOOD.replacen("wdn_", "wdx_", 1);
        // Non-canonical trailing bits: the last character of 43 may only carry 4 bits.
        let trailing_bits = format!("{}B", &GOOD[..KEY_LEN - 1]);
        let not_b64 = format!("{}!", &GOOD[..KEY_LEN - 1]);
        for bad in [upper_id, bad_sep, bad_prefix, trailing_bits, not_b64] {
            assert_eq!(bad.len(), KEY_LEN, "{bad}");
            assert!(parse_key(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn refuses_multibyte_text_of_the_right_byte_length() {
        // 'é' is two bytes: the id split falls inside it, or it sits in the id.
        let split_inside = format!("wdn_0123456789a\u{e9}{}", &GOOD[17..]);
        let in_id = format!("wdn_0123456789\u{e9}_{}", &GOOD[17..]);
        for bad in [split_inside, in_id] {
            assert_eq!(bad.len(), KEY_LEN, "{bad}");
            assert!(parse_key(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn issued_key_debug_redacts_the_secret() {
        let key = IssuedKey {
            key_id: "0123456789ab".into(),
            agent_id: "bot".into(),
            secret: GOOD.into(),
        };
        let shown = format!("{key:?}");
        assert!(!shown.contains(GOOD), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("0123456789ab"));
    }
}
