//! Calls that need a human, for every gateway: a recorded `require_approval` decision becomes an
//! approval request the agent's answer waits for. A grant for the identical call under the same
//! policy version passes at once. The release, or the refusal, is itself a ledger record whose id
//! the agent sees.

use serde_json::Value;
use warden_ledger as ledger;
use warden_policy::{Decision, Outcome};
use warden_store::{ApprovalRequest, ApprovalState, ApprovalStatus};

use crate::approvals::now_ms;
use crate::llm::judge::{self, Judged};
use crate::state::Gateway;

/// A judged call as the approval flow sees it.
pub(crate) struct HeldCall<'a, F> {
    /// The agent making the call.
    pub agent_id: &'a str,
    /// The tool called.
    pub tool: &'a str,
    /// What identifies the call (agent, tool, arguments, and whatever else names it): its digest
    /// binds the approval; approvers see it with the arguments' secrets redacted.
    pub described: Value,
    /// The ledger record of the call under a given decision.
    pub draft: F,
}

/// Whether a judged call waits for a human: a `require_approval` decision that is recorded.
pub(crate) fn is_held(judged: &Judged) -> bool {
    judged.decision.outcome == Outcome::RequireApproval && judged.record.is_ok()
}

/// Settles a judged call: anything but a held call (see [`is_held`]) comes back unchanged; a
/// held call comes back released (approved, or granted earlier) or refused, naming the approval.
pub(crate) async fn settle<F>(gw: &Gateway, judged: Judged, call: HeldCall<'_, F>) -> Judged
where
    F: Fn(&Decision) -> ledger::RecordDraft,
{
    if !is_held(&judged) {
        return judged;
    }
    let action_digest = judge::digest(&call.described).unwrap_or_default();
    let bundle = judged.decision.bundle.clone();
    match gw.approvals.grant(call.agent_id, &action_digest, &bundle) {
        Ok(Some(grant)) => return conclude(gw, &call, judged, &grant, "granted earlier").await,
        Ok(None) => {}
        Err(e) => {
            tracing::error!("looking up approval grants: {e}");
            return judged;
        }
    }
    let spec = &judged.decision.approvals;
    let mut approvers: Vec<String> = spec.iter().flat_map(|a| a.spec.approvers.clone()).collect();
    approvers.sort();
    approvers.dedup();
    let mut shown = call.described.clone();
    if let Some(args) = shown.get_mut("args") {
        *args = judge::redact(args.take());
    }
    let now = now_ms();
    let wait = gw.approvals.settings.wait_ms;
    let request = ApprovalRequest {
        id: String::new(),
        agent_id: call.agent_id.to_owned(),
        tool: call.tool.to_owned(),
        action: shown,
        action_digest,
        bundle_digest: bundle,
        rule_ids: judged.decision.rules.clone(),
        reason: judged.decision.reason.clone(),
        approvers,
        quorum: spec.iter().map(|a| a.spec.quorum).max().unwrap_or(1).max(1),
        requested_ms: now,
        expires_ms: now.saturating_add(wait),
        grant_ttl_ms: spec.iter().map(|a| a.spec.ttl_ms).max().unwrap_or(0),
        decision_record: judged.record_id().to_owned(),
    };
    let created = match gw.approvals.request(request) {
        Ok(state) => state,
        Err(e) => {
            tracing::error!("storing an approval request: {e}");
            return judged;
        }
    };
    let id = created.request.id.clone();
    let Some(state) = gw
        .approvals
        .wait(&id, std::time::Duration::from_millis(wait))
        .await
    else {
        return Judged {
            approval: Some((id, "lost".into())),
            ..judged
        };
    };
    let on_timeout_allows =
        spec.iter().all(|a| a.spec.on_timeout == Outcome::Allow) && !spec.is_empty();
    match state.status {
        ApprovalStatus::Approved => conclude(gw, &call, judged, &state, "approved").await,
        ApprovalStatus::Expired if on_timeout_allows => {
            let how = "expired; the rule releases it on timeout";
            conclude(gw, &call, judged, &state, how).await
        }
        status => refuse(gw, &call, judged, &state, status).await,
    }
}

/// Records the release of a held call and returns it as allowed.
async fn conclude<F>(
    gw: &Gateway,
    call: &HeldCall<'_, F>,
    judged: Judged,
    state: &ApprovalState,
    how: &str,
) -> Judged
where
    F: Fn(&Decision) -> ledger::RecordDraft,
{
    let approved_by: Vec<String> = state
        .votes
        .iter()
        .filter(|v| v.approve)
        .map(|v| v.operator_name.clone())
        .collect();
    let by = if approved_by.is_empty() {
        String::new()
    } else {
        format!(" by {}", approved_by.join(", "))
    };
    let decision = Decision {
        outcome: Outcome::Allow,
        reason: format!("Approval {} {how}{by}.", state.request.id),
        ..judged.decision.clone()
    };
    let draft = with_approval(
        (call.draft)(&decision),
        &state.request.id,
        approved_by.join(", "),
    );
    Judged {
        record: judge::record(gw.ledger.as_ref(), draft).await,
        decision,
        approval: Some((state.request.id.clone(), how.to_owned())),
    }
}

/// Records the refusal of a held call.
async fn refuse<F>(
    gw: &Gateway,
    call: &HeldCall<'_, F>,
    judged: Judged,
    state: &ApprovalState,
    status: ApprovalStatus,
) -> Judged
where
    F: Fn(&Decision) -> ledger::RecordDraft,
{
    let decision = Decision {
        outcome: Outcome::Deny,
        ..judged.decision.clone()
    };
    let draft = with_approval((call.draft)(&decision), &state.request.id, String::new());
    Judged {
        record: judge::record(gw.ledger.as_ref(), draft).await,
        decision,
        approval: Some((state.request.id.clone(), status.to_string())),
    }
}

fn with_approval(
    mut draft: ledger::RecordDraft,
    id: &str,
    approved_by: String,
) -> ledger::RecordDraft {
    if let ledger::Event::Decision(d) = &mut draft.event {
        let need = d.approval.get_or_insert(ledger::ApprovalNeed {
            approvers: Vec::new(),
            approval_id: None,
            approved_by: None,
        });
        need.approval_id = Some(id.to_owned());
        need.approved_by = Some(approved_by).filter(|a| !a.is_empty());
    }
    draft
}
