//! MCP calls that need a human: the call (agent, server, tool, arguments) handed to the approval
//! flow the LLM gateway uses too ([`crate::approvals::hold`]).

use serde_json::json;
use warden_policy as policy;

use super::call::draft;
use crate::approvals::hold::{HeldCall, is_held, settle as hold};
use crate::llm::judge::{Context, Judged};
use crate::state::Gateway;

/// Settles a judged call: anything but a recorded `require_approval` comes back unchanged; a
/// held call comes back released (approved, or granted earlier) or refused, naming the approval.
pub(super) async fn settle(
    gw: &Gateway,
    ctx: &Context,
    action: &policy::Action,
    judged: Judged,
) -> Judged {
    if !is_held(&judged) {
        return judged;
    }
    let Some(tool) = &action.tool else {
        return judged;
    };
    let held = HeldCall {
        agent_id: &ctx.identity.agent.id,
        tool: &tool.name,
        described: json!({
            "agent": ctx.identity.agent.id,
            "server": tool.server,
            "tool": tool.name,
            "args": tool.args,
        }),
        draft: |decision: &policy::Decision| draft(ctx, decision, action),
    };
    hold(gw, judged, held).await
}
