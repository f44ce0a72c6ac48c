//! MCP calls that need a human: a recorded `require_approval` decision becomes an approval
//! request the agent's `tools/call` waits for, through the same approvals service as the LLM
//! gateway. A grant for the identical call (agent, server, tool, arguments) under the same policy
//! version passes at once. The release, or the refusal, is itself a ledger record.

use serde_json::json;
use warden_ledger as ledger;
use warden_policy::{self as policy, Decision, Outcome};
use warden_store::{ApprovalRequest, ApprovalState, ApprovalStatus};

use super::call::draft;
use crate::approvals::now_ms;
use crate::llm::judge::{self, Context, Judged};
use crate::state::Gateway;

/// Settles a judged call: anything but a recorded `require_approval` comes back unchanged; a
/// held call comes back released (approved, or granted earlier) or refused, naming the approval.
pub(super) async fn settle(
    gw: &Gateway,
    ctx: &Context,
    action: &policy::Action,
    judged: Judged,
) -> Judged {
    if judged.decision.outcome != Outcome::RequireApproval || judged.record.is_err() {
        return judged;
    }
    let Some(tool) = &action.tool else {
        return judged;
    };
    let described = json!({
        "agent": ctx.identity.agent.id,
        "server": tool.server,
        "tool": tool.name,
        "args": tool.args,
    });
    let action_digest = judge::digest(&described).unwrap_or_default();
    let bundle = judged.decision.bundle.clone();
    match gw
        .approvals
        .grant(&ctx.identity.agent.id, &action_digest, &bundle)
    {
        Ok(Some(grant)) => {
            return conclude(gw, ctx, action, judged, &grant, "granted earlier").await;
        }
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
    let now = now_ms();
    let wait = gw.approvals.settings.wait_ms;
    let request = ApprovalRequest {
        id: String::new(),
        agent_id: ctx.identity.agent.id.clone(),
        tool: tool.name.clone(),
        action: json!({
            "agent": ctx.identity.agent.id,
            "server": tool.server,
            "tool": tool.name,
            "args": judge::redact(tool.args.clone()),
        }),
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
        ApprovalStatus::Approved => conclude(gw, ctx, action, judged, &state, "approved").await,
        ApprovalStatus::Expired if on_timeout_allows => {
            let how = "expired; the rule releases it on timeout";
            conclude(gw, ctx, action, judged, &state, how).await
        }
        status => {
            let decision = Decision {
                outcome: Outcome::Deny,
                ..judged.decision.clone()
            };
            let record = with_approval(
                draft(ctx, &decision, action),
                &state.request.id,
                String::new(),
            );
            Judged {
                record: judge::record(gw.ledger.as_ref(), record).await,
                decision,
                approval: Some((state.request.id.clone(), status.to_string())),
            }
        }
    }
}

/// Records the release of a held call and returns it as allowed.
async fn conclude(
    gw: &Gateway,
    ctx: &Context,
    action: &policy::Action,
    judged: Judged,
    state: &ApprovalState,
    how: &str,
) -> Judged {
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
    let record = with_approval(
        draft(ctx, &decision, action),
        &state.request.id,
        approved_by.join(", "),
    );
    Judged {
        record: judge::record(gw.ledger.as_ref(), record).await,
        decision,
        approval: Some((state.request.id.clone(), how.to_owned())),
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
