//! LLM tool calls that need a human: the call's arguments and identity handed to the shared
//! approval flow ([`crate::approvals::hold`]).

use serde_json::json;
use warden_llm::ProposedCall;

use super::judge::{self, Context, Judged};
use crate::approvals::hold::{HeldCall, is_held, settle as hold};
use crate::state::Gateway;

/// Settles a judged call: anything but a recorded `require_approval` comes back unchanged; a
/// held call comes back released (approved, or granted earlier) or refused, naming the approval.
pub(super) async fn settle(
    gw: &Gateway,
    ctx: &Context,
    call: &ProposedCall,
    judged: Judged,
) -> Judged {
    if !is_held(&judged) {
        return judged;
    }
    let Some(args) = call.arguments.json() else {
        return judged;
    };
    let held = HeldCall {
        agent_id: &ctx.identity.agent.id,
        tool: &call.name,
        described: json!({
            "agent": ctx.identity.agent.id,
            "tool": call.name,
            "args": args,
        }),
        draft: |decision: &warden_policy::Decision| {
            judge::draft(ctx, decision, &judge::tool_action(ctx, call))
        },
    };
    hold(gw, judged, held).await
}
