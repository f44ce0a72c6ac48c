//! Human approval of held calls: requests are stored (so they survive a restart and can be
//! decided from another process's admin API), announced to webhooks and to `watch`ers, voted on
//! by operators, and awaited by the agent's response until decided or expired.
//!
//! Every vote and every expiry is a ledger record naming the operator (or none, for expiry).

pub(crate) mod hold;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast;
use warden_ledger as ledger;
use warden_store::{
    ApprovalRequest, ApprovalState, ApprovalStatus, LedgerStore, Operator, SqliteApprovals,
    StoreError, VoteError,
};

use crate::config::ApprovalSettings;

/// Something that happened to an approval request, for watchers.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalEvent {
    /// `requested` or `decided`.
    pub event: &'static str,
    /// The request's state after it.
    pub approval: ApprovalView,
}

/// An approval request as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalView {
    /// `apr_…`.
    pub id: String,
    /// `pending`, `approved`, `denied` or `expired`.
    pub status: String,
    /// The agent whose call waits.
    pub agent: String,
    /// The tool.
    pub tool: String,
    /// The action as approvers see it (secrets redacted).
    pub action: serde_json::Value,
    /// The digest the approval is bound to.
    pub action_digest: String,
    /// The policy version it is bound to.
    pub bundle_digest: String,
    /// The rules that asked.
    pub rules: Vec<String>,
    /// Why.
    pub reason: String,
    /// Groups that may approve (empty: any approver).
    pub approvers: Vec<String>,
    /// Distinct approvals needed.
    pub quorum: u32,
    /// Approvals so far.
    pub approvals: Vec<String>,
    /// When asked (Unix ms).
    pub requested_ms: u64,
    /// When it expires (Unix ms).
    pub expires_ms: u64,
    /// When decided (Unix ms).
    pub decided_ms: Option<u64>,
    /// The decision record that asked.
    pub decision_record: String,
}

impl From<&ApprovalState> for ApprovalView {
    fn from(s: &ApprovalState) -> Self {
        let r = &s.request;
        ApprovalView {
            id: r.id.clone(),
            status: s.status.to_string(),
            agent: r.agent_id.clone(),
            tool: r.tool.clone(),
            action: r.action.clone(),
            action_digest: r.action_digest.clone(),
            bundle_digest: r.bundle_digest.clone(),
            rules: r.rule_ids.clone(),
            reason: r.reason.clone(),
            approvers: r.approvers.clone(),
            quorum: r.quorum,
            approvals: s
                .votes
                .iter()
                .filter(|v| v.approve)
                .map(|v| v.operator_name.clone())
                .collect(),
            requested_ms: r.requested_ms,
            expires_ms: r.expires_ms,
            decided_ms: s.decided_ms,
            decision_record: r.decision_record.clone(),
        }
    }
}

/// The approval service.
pub struct Approvals {
    store: SqliteApprovals,
    ledger: Arc<dyn LedgerStore>,
    events: broadcast::Sender<ApprovalEvent>,
    /// Waiting, keep-alive and webhook settings.
    pub settings: ApprovalSettings,
    http: reqwest::Client,
}

impl std::fmt::Debug for Approvals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approvals")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

impl Approvals {
    /// The service over `store`, recording in `ledger`.
    pub fn new(
        store: SqliteApprovals,
        ledger: Arc<dyn LedgerStore>,
        settings: ApprovalSettings,
        http: reqwest::Client,
    ) -> Approvals {
        Approvals {
            store,
            ledger,
            events: broadcast::channel(1024).0,
            settings,
            http,
        }
    }

    /// Approval events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ApprovalEvent> {
        self.events.subscribe()
    }

    fn publish(&self, event: &'static str, state: &ApprovalState) {
        let _ = self.events.send(ApprovalEvent {
            event,
            approval: ApprovalView::from(state),
        });
    }

    /// A still-valid grant for this exact call under this policy version.
    pub fn grant(
        &self,
        agent: &str,
        action_digest: &str,
        bundle_digest: &str,
    ) -> Result<Option<ApprovalState>, StoreError> {
        self.store
            .find_grant(agent, action_digest, bundle_digest, now_ms())
    }

    /// Stores a new request, announces it and returns it.
    pub fn request(&self, request: ApprovalRequest) -> Result<ApprovalState, StoreError> {
        let state = self.store.create(request)?;
        tracing::info!(approval = %state.request.id, agent = %state.request.agent_id, tool = %state.request.tool, "approval requested");
        self.publish("requested", &state);
        for hook in &self.settings.webhooks {
            webhook::notify(self.http.clone(), hook.clone(), ApprovalView::from(&state));
        }
        Ok(state)
    }

    /// Reads one request.
    pub fn get(&self, id: &str) -> Result<Option<ApprovalState>, StoreError> {
        self.store.get(id)
    }

    /// Lists requests, newest first.
    pub fn list(
        &self,
        status: Option<ApprovalStatus>,
        limit: usize,
    ) -> Result<Vec<ApprovalState>, StoreError> {
        self.store.list(status, limit)
    }

    /// Records `operator`'s vote (the store checks it), then the ledger record naming them.
    pub async fn vote(
        &self,
        id: &str,
        operator: &Operator,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<ApprovalState, VoteError> {
        let state = self.store.vote(id, operator, approve, reason, now_ms())?;
        let verdict = if approve {
            ledger::Verdict::Approved
        } else {
            ledger::Verdict::Denied
        };
        self.record(&state, verdict, Some(operator)).await;
        if state.status != ApprovalStatus::Pending {
            self.publish("decided", &state);
        }
        Ok(state)
    }

    /// Waits until request `id` is decided or `deadline` passes (then it is expired and the
    /// expiry recorded). Returns its final state, or `None` if it vanished from the store.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Option<ApprovalState> {
        let mut events = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.store.get(id) {
                Ok(Some(state)) if state.status != ApprovalStatus::Pending => return Some(state),
                Ok(Some(_)) => {}
                Ok(None) => return None,
                Err(e) => {
                    tracing::error!("reading approval {id}: {e}");
                    return None;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return self.expire(id).await,
                event = events.recv() => match event {
                    Ok(e) if e.approval.id != id => continue,
                    // Decided (or the channel lagged): re-read the store.
                    _ => continue,
                },
            }
        }
    }

    async fn expire(&self, id: &str) -> Option<ApprovalState> {
        let due = self
            .store
            .get(id)
            .ok()
            .flatten()
            .map_or(0, |s| s.request.expires_ms);
        self.expire_due(due.max(now_ms())).await;
        self.store.get(id).ok().flatten()
    }

    /// Expires every pending request due by `now` (requests whose waiter is gone included),
    /// recording each expiry.
    pub async fn expire_due(&self, now: u64) {
        match self.store.expire_due(now) {
            Ok(expired) => {
                for state in &expired {
                    self.record(state, ledger::Verdict::Expired, None).await;
                    self.publish("decided", state);
                }
            }
            Err(e) => tracing::error!("expiring approvals: {e}"),
        }
    }

    async fn record(&self, state: &ApprovalState, verdict: ledger::Verdict, by: Option<&Operator>) {
        let draft = ledger::RecordDraft {
            actor: ledger::Actor {
                agent_id: Some(state.request.agent_id.clone()),
                principal: by.map(|o| o.name.clone()),
                ..ledger::Actor::default()
            },
            bundle_digest: Some(state.request.bundle_digest.clone()),
            event: ledger::Event::Approval(ledger::Approval {
                approval_id: state.request.id.clone(),
                decision_id: Some(state.request.decision_record.clone()),
                verdict,
                approver: by.map(|o| o.name.clone()),
                role: by.map(|o| o.role.to_string()),
                action_digest: Some(state.request.action_digest.clone()),
            }),
        };
        if let Err(e) = self.ledger.append(draft).await {
            tracing::error!("recording approval {}: {e}", state.request.id);
        }
    }
}
