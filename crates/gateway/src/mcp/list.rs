//! `tools/list`: the server's answer with every tool the agent may not call removed — tools
//! whose definition is not pinned (changed since pinned, or unpinned where pins come from the
//! file only) and tools the policy denies whatever the arguments
//! ([`warden_mcp::denied_for_every_argument`]). Each listed definition is remembered, so a
//! later `tools/call` is judged against what the agent was shown, and pinned on first sight
//! when the server's configuration allows; pins made and changes found are ledger records.

use serde_json::{Value, json};
use warden_ledger as ledger;
use warden_mcp::reply::INTERNAL_ERROR;
use warden_mcp::tool::name_of;
use warden_mcp::{Message, definition_digest, denied_for_every_argument, filter_tools};
use warden_policy::Bundle;

use super::pins::PinStatus;
use super::upstream::UpstreamError;
use super::{Answer, McpServerState};
use crate::identity::Identity;
use crate::state::Gateway;

/// Answers `tools/list`.
pub(super) async fn tools_list(
    gw: &Gateway,
    srv: &McpServerState,
    identity: &Identity,
    message: Message,
) -> Answer {
    let id = message.id().cloned().unwrap_or(Value::Null);
    let Some(bundle) = gw.policy.current() else {
        return Answer::error(
            &id,
            INTERNAL_ERROR,
            "no policy bundle is loaded; no tool is shown",
        );
    };
    let first_page = message.params().and_then(|p| p.get("cursor")).is_none();
    let mut answer = match srv
        .upstream
        .request(message.into_value(), srv.timeout())
        .await
    {
        Ok(a) => a,
        Err(e) => return Answer::upstream(&id, &e),
    };
    let mut events = Vec::new();
    if let Some(result) = answer.get_mut("result") {
        let hidden = filter_tools(result, |def| {
            shown(srv, Some((identity, &bundle)), def, &mut events)
        });
        if hidden > 0 {
            tracing::debug!(server = %srv.name, agent = %identity.agent.id, hidden, "tools/list filtered");
        }
    }
    if first_page
        && answer
            .pointer("/result/nextCursor")
            .is_none_or(Value::is_null)
    {
        srv.mark_listed();
    }
    record_pin_events(gw, events).await;
    Answer::ok(answer)
}

/// Whether a listed tool is shown (remembering it and checking its pin on the way). Without an
/// agent and bundle, only the pin is checked.
fn shown(
    srv: &McpServerState,
    judge: Option<(&Identity, &Bundle)>,
    def: &Value,
    events: &mut Vec<ledger::ToolPin>,
) -> bool {
    let (Some(name), Ok(digest)) = (name_of(def), definition_digest(def)) else {
        return false;
    };
    srv.remember(def);
    let event = |change: &str, pinned: Option<String>| ledger::ToolPin {
        server: srv.name.clone(),
        tool: name.to_owned(),
        change: change.to_owned(),
        pinned_digest: pinned,
        seen_digest: digest.clone(),
    };
    match srv.pins.observe(name, &digest) {
        PinStatus::Pinned => {}
        PinStatus::PinnedNow => events.push(event("pinned", None)),
        PinStatus::Changed {
            pinned,
            first_report,
        } => {
            if first_report {
                tracing::warn!(server = %srv.name, tool = name, "tool definition changed since pinned ({pinned} -> {digest}); hidden until approved");
                events.push(event("changed", Some(pinned)));
            }
            return false;
        }
        PinStatus::Unpinned | PinStatus::Refused(_) => return false,
    }
    let Some((identity, bundle)) = judge else {
        return true;
    };
    let action = super::call::action(srv, identity, name, def, json!({}));
    !denied_for_every_argument(bundle, &action)
}

/// Records pin events (pinned at first sight, changed) in the ledger.
pub(super) async fn record_pin_events(gw: &Gateway, events: Vec<ledger::ToolPin>) {
    for event in events {
        let draft = ledger::RecordDraft {
            actor: ledger::Actor {
                principal: Some("warden".into()),
                ..ledger::Actor::default()
            },
            bundle_digest: None,
            event: ledger::Event::ToolPin(event),
        };
        if let Err(e) = gw.ledger.append(draft).await {
            tracing::error!("recording a tool pin event: {e}");
        }
    }
}

/// Lists the server's tools for Warden itself (every page), remembering and pinning them.
pub(super) async fn refresh(gw: &Gateway, srv: &McpServerState) -> Result<(), UpstreamError> {
    let tools = srv.upstream.list_tools(srv.timeout()).await?;
    srv.mark_listed();
    let mut events = Vec::new();
    for def in &tools {
        shown(srv, None, def, &mut events);
    }
    record_pin_events(gw, events).await;
    Ok(())
}
