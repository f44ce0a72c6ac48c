//! Operator tokens: issuing, authenticating, listing and revoking the tokens humans present to the
//! admin API, each carrying a [`Role`] and, for approvers, the approver groups they belong to.
//!
//! A token reads `wdo_<id>_<secret>`: `id` is 12 lowercase hex characters (the operator's public
//! id, shown by `list` and used to revoke), `secret` is 32 random bytes in base64url without
//! padding. Only a SHA-256 of the secret's bytes is stored, in the `operators` table of the same
//! SQLite file as the ledger; the full token exists only in the [`IssuedToken`] returned by
//! [`SqliteOperators::create`]. Every call reads the database, so a token issued or revoked by
//! another process (`warden admin token …` while the gateway runs) takes effect at once.
//!
//! Owns the token format, hashing, name validation and the `operators` rows; must not depend on
//! HTTP, an async runtime or how the admin API extracts the token from a request. The small row
//! and randomness helpers at the end are shared with `approvals` and `halts`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::schema::{connect, migrate};
#[cfg(test)]
use crate::token::SECRET_BYTES;
use crate::token::{ID_ATTEMPTS, TokenFormat, is_id_clash, secret_digest, secret_matches};

/// The operator token format.
const TOKEN: TokenFormat = TokenFormat::new("wdo_");
/// Length of a whole token.
#[cfg(test)]
const TOKEN_LEN: usize = TOKEN.len();
/// Longest operator name or group name, in characters.
const NAME_MAX: usize = 64;

/// What an operator may do on the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything: tokens, halts, configuration.
    Admin,
    /// Votes on approval requests of the groups the operator belongs to.
    Approver,
    /// Reads the ledger, approvals and halts; changes nothing.
    Auditor,
}

impl Role {
    /// The role's name as written in the CLI, the database and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Approver => "approver",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = InvalidInput;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "approver" => Ok(Role::Approver),
            "auditor" => Ok(Role::Auditor),
            other => Err(InvalidInput::Role(other.to_owned())),
        }
    }
}

/// A value refused before it reached the database. It reaches callers inside
/// [`StoreError::Sqlite`] as [`rusqlite::Error::ToSqlConversionFailure`] (its `source()` is this
/// error); [`InvalidInput::of`] finds it, so an API can tell a caller's mistake (400) from a
/// storage failure (500).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    /// An operator or group name is empty, too long or holds characters outside
    /// `A-Za-z0-9._@-`.
    #[error("{field} {value:?}: expected 1 to 64 characters of A-Za-z0-9._@-")]
    Name {
        /// Which name: `operator name`, `group`, `agent`.
        field: &'static str,
        /// The value refused.
        value: String,
    },
    /// An agent id that is empty or holds control characters.
    #[error("agent {0:?}: expected a non-empty name without control characters")]
    Agent(String),
    /// Not one of `admin`, `approver`, `auditor`.
    #[error("role {0:?}: expected admin, approver or auditor")]
    Role(String),
    /// Approver groups given for a role other than `approver`.
    #[error("only approvers belong to approver groups (role {0})")]
    GroupsWithoutApprover(Role),
    /// Not one of `pending`, `approved`, `denied`, `expired`.
    #[error("approval status {0:?}: expected pending, approved, denied or expired")]
    Status(String),
    /// An approval request asking for no approvals at all.
    #[error("approval quorum must be at least 1")]
    ZeroQuorum,
}

impl InvalidInput {
    /// The input refused, when `err` is one (`None` for storage failures).
    pub fn of(err: &StoreError) -> Option<&InvalidInput> {
        match err {
            StoreError::Sqlite(rusqlite::Error::ToSqlConversionFailure(inner)) => {
                inner.downcast_ref()
            }
            _ => None,
        }
    }
}

impl From<InvalidInput> for StoreError {
    fn from(err: InvalidInput) -> Self {
        StoreError::Sqlite(rusqlite::Error::ToSqlConversionFailure(Box::new(err)))
    }
}

/// An operator as the store knows it (never the token's secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    /// The operator's public id (12 lowercase hex characters; the token reads `wdo_<id>_…`).
    pub id: String,
    /// The operator's name, e.g. `oncall-lead` (what ledger records and approvals show).
    pub name: String,
    /// What the operator may do.
    pub role: Role,
    /// The approver groups the operator belongs to, sorted (empty unless the role is approver).
    pub groups: Vec<String>,
    /// When the token was issued, in milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// When the token was revoked, if it was.
    pub revoked_ms: Option<u64>,
}

/// A token just issued. Its `secret` is the only copy: show it once, never log it.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The operator the token authenticates.
    pub operator: Operator,
    /// The full token (`wdo_<id>_<secret>`), shown once.
    pub secret: String,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("operator", &self.operator)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Operator tokens in the embedded store: only a SHA-256 of each token's secret is stored.
pub struct SqliteOperators {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl fmt::Debug for SqliteOperators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteOperators")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteOperators {
    /// Opens (creating if absent, running migrations) the store at `path` (`DATA_DIR/warden.db`).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(SqliteOperators {
            path: path.to_owned(),
            conn: Mutex::new(open_migrated(path)?),
        })
    }

    /// Issues a token for a new operator. `name` and each group must be 1 to 64 characters of
    /// `A-Za-z0-9._@-`, and only approvers may have groups ([`InvalidInput`] otherwise). Groups
    /// are stored sorted, without duplicates. The returned secret is the only copy.
    pub fn create(
        &self,
        name: &str,
        role: Role,
        groups: &[String],
        now_ms: u64,
    ) -> Result<IssuedToken, StoreError> {
        check_name("operator name", name)?;
        for group in groups {
            check_name("group", group)?;
        }
        if role != Role::Approver && !groups.is_empty() {
            return Err(InvalidInput::GroupsWithoutApprover(role).into());
        }
        let mut groups = groups.to_vec();
        groups.sort();
        groups.dedup();
        let groups_json = to_json(&groups)?;
        let conn = self.conn();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (id, secret) = TOKEN.draw()?;
            let inserted = conn.execute(
                "INSERT INTO operators
                     (operator_id, name, role, groups, secret_sha256, created_ms, revoked_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
                params![
                    id,
                    name,
                    role.as_str(),
                    groups_json,
                    secret_digest(&secret),
                    db_time(now_ms)
                ],
            );
            match inserted {
                Ok(_) => {
                    let secret = TOKEN.render(&id, &secret);
                    let operator = Operator {
                        id,
                        name: name.to_owned(),
                        role,
                        groups,
                        created_ms: now_ms,
                        revoked_ms: None,
                    };
                    return Ok(IssuedToken { operator, secret });
                }
                Err(e) if is_id_clash(&e) && attempt < ID_ATTEMPTS => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The operator if `presented` is a live (not revoked) token; `Ok(None)` for anything else,
    /// malformed input included.
    pub fn authenticate(&self, presented: &str) -> Result<Option<Operator>, StoreError> {
        let Some((id, secret)) = TOKEN.parse(presented) else {
            return Ok(None);
        };
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT operator_id, name, role, groups, created_ms, revoked_ms, secret_sha256
             FROM operators WHERE operator_id = ?1",
        )?;
        let row = stmt
            .query_row([id], |r| Ok((operator(r)?, r.get::<_, Vec<u8>>(6)?)))
            .optional()?;
        let Some((operator, stored)) = row else {
            return Ok(None);
        };
        Ok((secret_matches(&secret, &stored) && operator.revoked_ms.is_none()).then_some(operator))
    }

    /// Every operator, newest first (never secrets).
    pub fn list(&self) -> Result<Vec<Operator>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT operator_id, name, role, groups, created_ms, revoked_ms FROM operators
             ORDER BY created_ms DESC, rowid DESC",
        )?;
        let rows = stmt.query_map([], operator)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Revokes an operator's token by id; `false` if there is no such live token.
    pub fn revoke(&self, id: &str, now_ms: u64) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE operators SET revoked_ms = ?2 WHERE operator_id = ?1 AND revoked_ms IS NULL",
            params![id, db_time(now_ms)],
        )?;
        Ok(changed > 0)
    }

    /// The connection (a poisoned lock is taken over: SQLite rolls back unfinished work).
    fn conn(&self) -> MutexGuard<'_, Connection> {
        lock(&self.conn)
    }
}

/// Reads `operator_id, name, role, groups, created_ms, revoked_ms` (columns 0 to 5).
fn operator(row: &rusqlite::Row<'_>) -> rusqlite::Result<Operator> {
    let role: String = row.get(2)?;
    Ok(Operator {
        id: row.get(0)?,
        name: row.get(1)?,
        role: role.parse().map_err(|e| stored_value(2, e))?,
        groups: json_column(row, 3)?,
        created_ms: stored_time(row, 4)?,
        revoked_ms: stored_time_opt(row, 5)?,
    })
}

/// Splits a presented token into its id and decoded secret (see [`TokenFormat::parse`]).
#[cfg(test)]
fn parse_token(presented: &str) -> Option<(&str, [u8; SECRET_BYTES])> {
    TOKEN.parse(presented)
}

/// Refuses a name that is empty, longer than 64 characters or holds anything but
/// `A-Za-z0-9._@-` (names reach tables, logs, ledger records and notifications).
pub(crate) fn check_name(field: &'static str, value: &str) -> Result<(), InvalidInput> {
    let valid = (1..=NAME_MAX).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(InvalidInput::Name {
            field,
            value: value.to_owned(),
        })
    }
}

/// Refuses an agent id that is empty or holds control characters (agent ids come from the
/// gateway's configuration, which allows more than operator names do).
pub(crate) fn check_agent(agent: &str) -> Result<(), InvalidInput> {
    if agent.is_empty() || agent.chars().any(char::is_control) {
        return Err(InvalidInput::Agent(agent.to_owned()));
    }
    Ok(())
}

/// Opens a connection to `path` and brings its schema up to date.
pub(crate) fn open_migrated(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = connect(path)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Locks a store's connection. A panic while it was held cannot leave it half-written (SQLite
/// rolls back an unfinished transaction), so a poisoned lock is taken over rather than reported.
pub(crate) fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A timestamp or count as SQLite stores it; values past `i64::MAX` are clamped.
pub(crate) fn db_time(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// A stored timestamp column; a negative one is reported rather than wrapped.
pub(crate) fn stored_time(row: &rusqlite::Row<'_>, col: usize) -> rusqlite::Result<u64> {
    let ms: i64 = row.get(col)?;
    u64::try_from(ms).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(col, ms))
}

/// A nullable stored timestamp column.
pub(crate) fn stored_time_opt(
    row: &rusqlite::Row<'_>,
    col: usize,
) -> rusqlite::Result<Option<u64>> {
    match row.get::<_, Option<i64>>(col)? {
        Some(_) => stored_time(row, col).map(Some),
        None => Ok(None),
    }
}

/// A JSON column decoded into `T`.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    col: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(col)?;
    serde_json::from_str(&text).map_err(|e| stored_value(col, e))
}

/// A value as JSON text for a JSON column.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Sqlite(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))
}

/// A stored column whose text does not decode (the row was not written by this store).
pub(crate) fn stored_value(
    col: usize,
    err: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(err))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const GOOD: &str = "wdo_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn parses_a_well_formed_token() {
        assert_eq!(GOOD.len(), TOKEN_LEN);
        let (id, secret) = parse_token(GOOD).unwrap();
        assert_eq!(id, "0123456789ab");
        assert_eq!(secret, [0u8; SECRET_BYTES]);
    }

    #[test]
    fn refuses_each_malformed_part() {
        let upper_id = GOOD.replace("0123456789ab", "0123456789AB");
        let bad_sep = GOOD.replacen("ab_", "ab-", 1);
        let agent_prefix = GOOD.replacen("wdo_", "wdn_", 1);
        let trailing_bits = format!("{}B", &GOOD[..TOKEN_LEN - 1]);
        let split_inside = format!("wdo_0123456789a\u{e9}{}", &GOOD[17..]);
        for bad in [upper_id, bad_sep, agent_prefix, trailing_bits, split_inside] {
            assert_eq!(bad.len(), TOKEN_LEN, "{bad}");
            assert!(parse_token(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn roles_round_trip_through_text() {
        for role in [Role::Admin, Role::Approver, Role::Auditor] {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
        }
        assert_eq!(
            "Admin".parse::<Role>(),
            Err(InvalidInput::Role("Admin".into()))
        );
    }

    #[test]
    fn names_are_checked() {
        for good in [
            "oncall-lead",
            "a",
            "alice@example.com",
            "team_1.x",
            &"x".repeat(64),
        ] {
            assert!(check_name("group", good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a\n", "é", "a/b", &"x".repeat(65)] {
            assert!(check_name("group", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn issued_token_debug_redacts_the_secret() {
        let token = IssuedToken {
            operator: Operator {
                id: "0123456789ab".into(),
                name: "lead".into(),
                role: Role::Admin,
                groups: vec![],
                created_ms: 1,
                revoked_ms: None,
            },
            secret: GOOD.into(),
        };
        let shown = format!("{token:?}");
        assert!(!shown.contains(GOOD), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("0123456789ab"));
    }
}
