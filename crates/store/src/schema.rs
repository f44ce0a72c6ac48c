//! The database schema and its migrations. The file will also hold keys, approvals and budgets,
//! so ledger tables are prefixed `ledger_`; migrations are numbered and `PRAGMA user_version`
//! holds the last one applied.

use rusqlite::Connection;

use crate::error::StoreError;

/// Migrations in order; migration `i` brings `user_version` from `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the ledger.
    "CREATE TABLE ledger_meta (
         key   TEXT PRIMARY KEY,
         value TEXT NOT NULL
     );
     CREATE TABLE ledger_records (
         seq      INTEGER PRIMARY KEY,
         hash     BLOB NOT NULL,
         agent_id TEXT,
         time_ms  INTEGER NOT NULL,
         body     TEXT NOT NULL
     );
     CREATE INDEX ledger_records_agent ON ledger_records(agent_id, seq);
     CREATE TABLE ledger_checkpoints (
         size    INTEGER PRIMARY KEY,
         root    BLOB NOT NULL,
         note    TEXT NOT NULL,
         time_ms INTEGER NOT NULL
     );",
    // 2: agent API keys (only a SHA-256 of each secret). `IF NOT EXISTS` because two processes
    // opening the same file may both find `user_version` 1 and race to apply this.
    "CREATE TABLE IF NOT EXISTS keys_agent (
         key_id        TEXT PRIMARY KEY,
         agent_id      TEXT NOT NULL,
         secret_sha256 BLOB NOT NULL,
         created_ms    INTEGER NOT NULL,
         revoked_ms    INTEGER
     );
     CREATE INDEX IF NOT EXISTS keys_agent_created ON keys_agent(created_ms);",
    // 3: operator tokens (only a SHA-256 of each secret), approval requests with their votes, and
    // halts (the kill switch). List columns (`groups`, `rule_ids`, `approvers`) hold JSON arrays.
    "CREATE TABLE IF NOT EXISTS operators (
         operator_id   TEXT PRIMARY KEY,
         name          TEXT NOT NULL,
         role          TEXT NOT NULL,
         groups        TEXT NOT NULL,
         secret_sha256 BLOB NOT NULL,
         created_ms    INTEGER NOT NULL,
         revoked_ms    INTEGER
     );
     CREATE INDEX IF NOT EXISTS operators_created ON operators(created_ms);
     CREATE TABLE IF NOT EXISTS approvals (
         approval_id     TEXT PRIMARY KEY,
         agent_id        TEXT NOT NULL,
         tool            TEXT NOT NULL,
         action          TEXT NOT NULL,
         action_digest   TEXT NOT NULL,
         bundle_digest   TEXT NOT NULL,
         rule_ids        TEXT NOT NULL,
         reason          TEXT NOT NULL,
         approvers       TEXT NOT NULL,
         quorum          INTEGER NOT NULL,
         requested_ms    INTEGER NOT NULL,
         expires_ms      INTEGER NOT NULL,
         grant_ttl_ms    INTEGER NOT NULL,
         decision_record TEXT NOT NULL,
         status          TEXT NOT NULL,
         decided_ms      INTEGER
     );
     CREATE INDEX IF NOT EXISTS approvals_grant
         ON approvals(agent_id, action_digest, bundle_digest, status);
     CREATE INDEX IF NOT EXISTS approvals_due ON approvals(status, expires_ms);
     CREATE INDEX IF NOT EXISTS approvals_requested ON approvals(requested_ms);
     CREATE TABLE IF NOT EXISTS approval_votes (
         approval_id   TEXT NOT NULL REFERENCES approvals(approval_id),
         operator_id   TEXT NOT NULL,
         operator_name TEXT NOT NULL,
         approve       INTEGER NOT NULL,
         reason        TEXT,
         time_ms       INTEGER NOT NULL,
         PRIMARY KEY (approval_id, operator_id)
     );
     CREATE TABLE IF NOT EXISTS halts (
         scope     TEXT PRIMARY KEY,
         agent_id  TEXT,
         reason    TEXT NOT NULL,
         halted_by TEXT NOT NULL,
         since_ms  INTEGER NOT NULL
     );",
    // 4: budgets: operator-set limits per scope (`kind:id`) and window, spending per period, and
    // reservations (`lines` holds the JSON list of limits each one was taken against).
    "CREATE TABLE IF NOT EXISTS budget_limits (
         scope        TEXT NOT NULL,
         window       TEXT NOT NULL,
         limit_micros INTEGER NOT NULL,
         set_by       TEXT NOT NULL,
         set_ms       INTEGER NOT NULL,
         PRIMARY KEY (scope, window)
     );
     CREATE TABLE IF NOT EXISTS budget_usage (
         scope           TEXT NOT NULL,
         window          TEXT NOT NULL,
         period_start_ms INTEGER NOT NULL,
         spent_micros    INTEGER NOT NULL,
         reserved_micros INTEGER NOT NULL,
         PRIMARY KEY (scope, window, period_start_ms)
     );
     CREATE TABLE IF NOT EXISTS budget_reservations (
         reservation_id INTEGER PRIMARY KEY AUTOINCREMENT,
         amount_micros  INTEGER NOT NULL,
         lines          TEXT NOT NULL,
         created_ms     INTEGER NOT NULL,
         expires_ms     INTEGER NOT NULL
     );
     CREATE INDEX IF NOT EXISTS budget_reservations_due ON budget_reservations(expires_ms);",
    // 5: the ledger's index by agent goes. Only start-up used it (each agent's last record),
    // and start-up reads every record anyway; kept, it cost each commit a page of its own.
    "DROP INDEX IF EXISTS ledger_records_agent;",
];

/// The page size of a database file this store creates (SQLite's default is 4096). Each commit
/// rewrites every page it touches, and a ledger commit touches the partly filled last page
/// (plus the database header and a parent page when it adds a page): with small pages, a
/// commit of a few records writes a few kilobytes to the log, not tens. An existing file keeps
/// the page size it was created with.
pub(crate) const PAGE_SIZE: i64 = 1024;

/// Opens `path` with the durability settings every connection uses: WAL journal,
/// `synchronous=FULL` (a commit is on disk when it returns), and a busy timeout for readers. A
/// file created here gets pages of [`PAGE_SIZE`] bytes.
pub fn connect(path: &std::path::Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Takes effect only on a file with nothing in it yet, and only before it is put in WAL mode.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Applies pending migrations.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let supported = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > supported {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported,
        });
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
    }
    Ok(())
}
