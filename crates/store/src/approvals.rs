//! Approval requests: the calls a policy holds for a human, the operators' votes on them, and the
//! grants an approval leaves behind.
//!
//! A request is created `pending` with the approver groups and quorum its rule names. Votes are
//! cast in one `BEGIN IMMEDIATE` transaction each, so two processes (or two connections) voting at
//! once are serialized by SQLite and exactly one of them decides. A deny vote decides `denied` at
//! once; approve votes from distinct operators reaching the quorum decide `approved`; a request
//! still pending at its `expires_ms` becomes `expired`. An approved request is a grant: the
//! identical call (same agent, action digest and bundle digest) passes until
//! `decided_ms + grant_ttl_ms`.
//!
//! Owns the `approvals` and `approval_votes` rows and the voting rules; must not depend on HTTP,
//! an async runtime, a clock (callers pass `now_ms`) or how actions are digested.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::operators::{
    InvalidInput, Operator, Role, db_time, json_column, lock, open_migrated, stored_time,
    stored_time_opt, stored_value, to_json,
};
use crate::token::{hex, random};

/// Random bytes in an approval id (`apr_` + twice as many hex characters).
const ID_BYTES: usize = 8;

/// Columns of `approvals` in the order [`approval_state`] reads them.
const COLUMNS: &str = "approval_id, agent_id, tool, action, action_digest, bundle_digest, \
     rule_ids, reason, approvers, quorum, requested_ms, expires_ms, grant_ttl_ms, \
     decision_record, status, decided_ms";

/// A call held for human approval, as the gateway raises it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// `apr_` + 16 random hex characters, assigned by [`SqliteApprovals::create`] (pass `""`).
    pub id: String,
    /// The agent whose call is held.
    pub agent_id: String,
    /// The tool called.
    pub tool: String,
    /// The action as shown to approvers (already redacted by the caller).
    pub action: serde_json::Value,
    /// `sha256:…` of the action: binds the approval to these exact arguments.
    pub action_digest: String,
    /// Digest of the policy bundle in force: binds the approval to this policy version.
    pub bundle_digest: String,
    /// The rules that asked for approval.
    pub rule_ids: Vec<String>,
    /// Why approval is required, as the rule says.
    pub reason: String,
    /// Approver groups any of which may approve; empty: any approver.
    pub approvers: Vec<String>,
    /// Approve votes from distinct operators needed (at least 1).
    pub quorum: u32,
    /// When the call was held, in Unix milliseconds.
    pub requested_ms: u64,
    /// From this instant on, a pending request is expired.
    pub expires_ms: u64,
    /// Once approved, the identical call passes until `decided_ms + grant_ttl_ms`.
    pub grant_ttl_ms: u64,
    /// Ledger record id of the `require_approval` decision.
    pub decision_record: String,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalStatus {
    /// Waiting for votes.
    Pending,
    /// Enough approvers approved.
    Approved,
    /// An approver denied it.
    Denied,
    /// Nobody decided before `expires_ms`.
    Expired,
}

impl ApprovalStatus {
    /// The status as written in the database and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Denied => "denied",
            ApprovalStatus::Expired => "expired",
        }
    }
}

impl fmt::Display for ApprovalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApprovalStatus {
    type Err = InvalidInput;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(ApprovalStatus::Pending),
            "approved" => Ok(ApprovalStatus::Approved),
            "denied" => Ok(ApprovalStatus::Denied),
            "expired" => Ok(ApprovalStatus::Expired),
            other => Err(InvalidInput::Status(other.to_owned())),
        }
    }
}

/// One operator's vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// The voting operator's id.
    pub operator_id: String,
    /// The voting operator's name at the time of the vote.
    pub operator_name: String,
    /// `true` to approve, `false` to deny.
    pub approve: bool,
    /// The operator's comment, if any.
    pub reason: Option<String>,
    /// When the vote was cast, in Unix milliseconds.
    pub time_ms: u64,
}

/// A request with its status and votes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalState {
    /// The request.
    pub request: ApprovalRequest,
    /// Where it stands.
    pub status: ApprovalStatus,
    /// Votes in the order they were cast.
    pub votes: Vec<Vote>,
    /// When it was approved, denied or expired.
    pub decided_ms: Option<u64>,
}

/// A vote that was not counted. The admin API maps these to 404, 409 and 403.
#[derive(Debug, thiserror::Error)]
pub enum VoteError {
    /// There is no request with this id (404).
    #[error("no approval request with this id")]
    NotFound,
    /// The request was already approved, denied or expired (409).
    #[error("approval request already {0}")]
    AlreadyDecided(ApprovalStatus),
    /// The request reached its expiry before this vote; it is now marked expired (409).
    #[error("approval request expired")]
    Expired,
    /// This operator has already voted on the request (409): one vote per operator.
    #[error("this operator has already voted on the request")]
    AlreadyVoted,
    /// The operator is not an approver, or belongs to none of the request's groups (403).
    #[error(
        "not an approver for this request (needs one of: {})",
        groups_text(needed)
    )]
    NotAnApprover {
        /// The request's approver groups (empty: any approver would do).
        needed: Vec<String>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for VoteError {
    fn from(err: rusqlite::Error) -> Self {
        VoteError::Store(err.into())
    }
}

fn groups_text(groups: &[String]) -> String {
    if groups.is_empty() {
        "any approver group".into()
    } else {
        groups.join(", ")
    }
}

/// Approval requests in the embedded store.
pub struct SqliteApprovals {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl fmt::Debug for SqliteApprovals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteApprovals")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteApprovals {
    /// Opens (creating if absent, running migrations) the store at `path` (`DATA_DIR/warden.db`).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(SqliteApprovals {
            path: path.to_owned(),
            conn: Mutex::new(open_migrated(path)?),
        })
    }

    /// Stores a new pending request under a fresh `apr_…` id (the `id` passed is ignored).
    /// A quorum of 0 is refused ([`InvalidInput::ZeroQuorum`]).
    pub fn create(&self, request: ApprovalRequest) -> Result<ApprovalState, StoreError> {
        if request.quorum == 0 {
            return Err(InvalidInput::ZeroQuorum.into());
        }
        let mut request = request;
        request.id = format!("apr_{}", hex(&random::<ID_BYTES>()?));
        let conn = lock(&self.conn);
        conn.execute(
            &format!(
                "INSERT INTO approvals ({COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, NULL)"
            ),
            params![
                request.id,
                request.agent_id,
                request.tool,
                to_json(&request.action)?,
                request.action_digest,
                request.bundle_digest,
                to_json(&request.rule_ids)?,
                request.reason,
                to_json(&request.approvers)?,
                request.quorum,
                db_time(request.requested_ms),
                db_time(request.expires_ms),
                db_time(request.grant_ttl_ms),
                request.decision_record,
                ApprovalStatus::Pending.as_str(),
            ],
        )?;
        Ok(ApprovalState {
            request,
            status: ApprovalStatus::Pending,
            votes: Vec::new(),
            decided_ms: None,
        })
    }

    /// The request with this id, with its votes.
    pub fn get(&self, id: &str) -> Result<Option<ApprovalState>, StoreError> {
        load(&lock(&self.conn), id)
    }

    /// Up to `limit` requests, newest first, optionally only those with `status`.
    pub fn list(
        &self,
        status: Option<ApprovalStatus>,
        limit: usize,
    ) -> Result<Vec<ApprovalState>, StoreError> {
        let conn = lock(&self.conn);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM approvals WHERE ?1 IS NULL OR status = ?1
             ORDER BY requested_ms DESC, rowid DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![status.map(ApprovalStatus::as_str), limit], |r| {
            approval_state(r)
        })?;
        let mut states = rows.collect::<Result<Vec<_>, _>>()?;
        for state in &mut states {
            state.votes = votes(&conn, &state.request.id)?;
        }
        Ok(states)
    }

    /// Atomic (one IMMEDIATE transaction, safe across processes): checks pending and not expired
    /// (expiring it if due), one vote per operator, group membership (operator `groups` ∩ request
    /// `approvers` non-empty, or approvers empty; the operator must have the approver role); a
    /// deny vote decides Denied at once; approve votes from distinct operators reaching `quorum`
    /// decide Approved. Returns the new state.
    pub fn vote(
        &self,
        id: &str,
        operator: &Operator,
        approve: bool,
        reason: Option<&str>,
        now_ms: u64,
    ) -> Result<ApprovalState, VoteError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let state = load(&tx, id)?.ok_or(VoteError::NotFound)?;
        if state.status != ApprovalStatus::Pending {
            return Err(VoteError::AlreadyDecided(state.status));
        }
        if now_ms >= state.request.expires_ms {
            decide(&tx, id, ApprovalStatus::Expired, now_ms)?;
            tx.commit()?;
            return Err(VoteError::Expired);
        }
        if !may_vote(operator, &state.request.approvers) {
            return Err(VoteError::NotAnApprover {
                needed: state.request.approvers,
            });
        }
        if state.votes.iter().any(|v| v.operator_id == operator.id) {
            return Err(VoteError::AlreadyVoted);
        }
        tx.execute(
            "INSERT INTO approval_votes
                 (approval_id, operator_id, operator_name, approve, reason, time_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id,
                operator.id,
                operator.name,
                approve,
                reason,
                db_time(now_ms)
            ],
        )?;
        let approvals = state.votes.iter().filter(|v| v.approve).count() + 1;
        if !approve {
            decide(&tx, id, ApprovalStatus::Denied, now_ms)?;
        } else if approvals >= usize::try_from(state.request.quorum).unwrap_or(usize::MAX) {
            decide(&tx, id, ApprovalStatus::Approved, now_ms)?;
        }
        let state = load(&tx, id)?.ok_or(VoteError::NotFound)?;
        tx.commit()?;
        Ok(state)
    }

    /// Marks every pending request whose expires_ms ≤ now as expired; returns them.
    pub fn expire_due(&self, now_ms: u64) -> Result<Vec<ApprovalState>, StoreError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ids: Vec<String> = {
            let mut stmt = tx.prepare_cached(
                "SELECT approval_id FROM approvals WHERE status = 'pending' AND expires_ms <= ?1
                 ORDER BY expires_ms, rowid",
            )?;
            let rows = stmt.query_map([db_time(now_ms)], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut expired = Vec::with_capacity(ids.len());
        for id in &ids {
            decide(&tx, id, ApprovalStatus::Expired, now_ms)?;
            expired.extend(load(&tx, id)?);
        }
        tx.commit()?;
        Ok(expired)
    }

    /// An approved request for this exact agent, action digest and bundle digest whose grant is
    /// still valid at `now_ms` (`now_ms < decided_ms + grant_ttl_ms`); the latest decided if
    /// several are.
    pub fn find_grant(
        &self,
        agent_id: &str,
        action_digest: &str,
        bundle_digest: &str,
        now_ms: u64,
    ) -> Result<Option<ApprovalState>, StoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM approvals
             WHERE agent_id = ?1 AND action_digest = ?2 AND bundle_digest = ?3
               AND status = 'approved' AND decided_ms IS NOT NULL
               AND grant_ttl_ms > ?4 - decided_ms
             ORDER BY decided_ms DESC, rowid DESC LIMIT 1"
        ))?;
        let found = stmt
            .query_row(
                params![agent_id, action_digest, bundle_digest, db_time(now_ms)],
                approval_state,
            )
            .optional()?;
        match found {
            Some(mut state) => {
                state.votes = votes(&conn, &state.request.id)?;
                Ok(Some(state))
            }
            None => Ok(None),
        }
    }
}

/// `true` when `operator` may vote on a request naming `approvers`: an approver who belongs to
/// one of the groups, or any approver when the request names none.
fn may_vote(operator: &Operator, approvers: &[String]) -> bool {
    operator.role == Role::Approver
        && (approvers.is_empty() || operator.groups.iter().any(|g| approvers.contains(g)))
}

/// Sets a pending request's final status.
fn decide(
    tx: &Transaction<'_>,
    id: &str,
    status: ApprovalStatus,
    now_ms: u64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE approvals SET status = ?2, decided_ms = ?3
         WHERE approval_id = ?1 AND status = 'pending'",
        params![id, status.as_str(), db_time(now_ms)],
    )?;
    Ok(())
}

/// The request `id` with its votes.
fn load(conn: &Connection, id: &str) -> Result<Option<ApprovalState>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM approvals WHERE approval_id = ?1"
    ))?;
    let Some(mut state) = stmt.query_row([id], approval_state).optional()? else {
        return Ok(None);
    };
    state.votes = votes(conn, id)?;
    Ok(Some(state))
}

/// The votes on request `id`, in the order they were cast.
fn votes(conn: &Connection, id: &str) -> Result<Vec<Vote>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT operator_id, operator_name, approve, reason, time_ms FROM approval_votes
         WHERE approval_id = ?1 ORDER BY time_ms, rowid",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(Vote {
            operator_id: r.get(0)?,
            operator_name: r.get(1)?,
            approve: r.get(2)?,
            reason: r.get(3)?,
            time_ms: stored_time(r, 4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Reads a row of [`COLUMNS`] (votes left empty).
fn approval_state(row: &rusqlite::Row<'_>) -> rusqlite::Result<ApprovalState> {
    let status: String = row.get(14)?;
    let request = ApprovalRequest {
        id: row.get(0)?,
        agent_id: row.get(1)?,
        tool: row.get(2)?,
        action: json_column(row, 3)?,
        action_digest: row.get(4)?,
        bundle_digest: row.get(5)?,
        rule_ids: json_column(row, 6)?,
        reason: row.get(7)?,
        approvers: json_column(row, 8)?,
        quorum: row.get(9)?,
        requested_ms: stored_time(row, 10)?,
        expires_ms: stored_time(row, 11)?,
        grant_ttl_ms: stored_time(row, 12)?,
        decision_record: row.get(13)?,
    };
    Ok(ApprovalState {
        request,
        status: status.parse().map_err(|e| stored_value(14, e))?,
        votes: Vec::new(),
        decided_ms: stored_time_opt(row, 15)?,
    })
}
