//! An operator approving a changed tool definition (`warden mcp approve-change`): the
//! definition the server now gives is pinned (and the signed pin file rewritten), the tool is
//! shown and callable again, and the approval is a ledger record naming the operator.

use serde_json::{Value, json};
use warden_ledger as ledger;

use super::list;
use super::pins::ApproveError;
use crate::state::Gateway;

/// Why a change could not be approved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApproveChangeError {
    /// No server of that name.
    #[error("no MCP server `{0}` on this gateway")]
    UnknownServer(String),
    /// The server could not be asked for its tools.
    #[error("{0}")]
    Upstream(String),
    /// The server does not list the tool.
    #[error("MCP server `{server}` does not list a tool `{tool}`")]
    UnknownTool {
        /// The server.
        server: String,
        /// The tool.
        tool: String,
    },
    /// The tool already matches its pin.
    #[error("tool `{tool}` of MCP server `{server}` already matches its pin; nothing to approve")]
    Unchanged {
        /// The server.
        server: String,
        /// The tool.
        tool: String,
    },
    /// The approval could not be recorded (the pin is changed regardless).
    #[error("the approval could not be recorded in the ledger: {0}")]
    Ledger(String),
}

/// Pins the definition `server` now gives for `tool`, on behalf of `operator`.
pub async fn approve_change(
    gw: &Gateway,
    server: &str,
    tool: &str,
    operator: &str,
) -> Result<Value, ApproveChangeError> {
    let srv = gw
        .mcp
        .server(server)
        .ok_or_else(|| ApproveChangeError::UnknownServer(server.to_owned()))?;
    // Ask the server now, so what is approved is what it currently describes.
    list::refresh(gw, &srv)
        .await
        .map_err(|e| ApproveChangeError::Upstream(e.to_string()))?;
    let (previous, pinned) = srv.pins.approve(tool).map_err(|e| match e {
        ApproveError::Unseen(_) => ApproveChangeError::UnknownTool {
            server: server.to_owned(),
            tool: tool.to_owned(),
        },
        ApproveError::Unchanged(_) => ApproveChangeError::Unchanged {
            server: server.to_owned(),
            tool: tool.to_owned(),
        },
    })?;
    let draft = ledger::RecordDraft {
        actor: ledger::Actor {
            principal: Some(operator.to_owned()),
            ..ledger::Actor::default()
        },
        bundle_digest: gw.policy.current().map(|b| b.digest().to_owned()),
        event: ledger::Event::ToolPin(ledger::ToolPin {
            server: server.to_owned(),
            tool: tool.to_owned(),
            change: "approved".into(),
            pinned_digest: previous.clone(),
            seen_digest: pinned.clone(),
        }),
    };
    let appended = gw
        .ledger
        .append(draft)
        .await
        .map_err(|e| ApproveChangeError::Ledger(e.to_string()))?;
    tracing::warn!(
        operator,
        server,
        tool,
        "tool definition change approved: {pinned}"
    );
    Ok(json!({
        "server": server,
        "tool": tool,
        "previous": previous,
        "pinned": pinned,
        "record": appended.id,
    }))
}
