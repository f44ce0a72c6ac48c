//! The one input shape for everything the engine judges.
//!
//! An [`Action`] is plain data: the gateway builds it from an LLM response, an MCP call, an egress
//! request or an AuthZEN query; `warden policy eval` reads it as JSON. Unknown fields are rejected
//! so that a typo in a fixture is an error, not a silently different action.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What kind of action is being judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// A tool call proposed by a model in an LLM response.
    ToolCall,
    /// A request to an LLM provider.
    LlmRequest,
    /// A `tools/call` through the MCP gateway.
    McpCall,
    /// An outbound HTTP request through the egress proxy.
    Egress,
    /// A decision asked for through the AuthZEN API.
    Authzen,
}

impl ActionKind {
    /// The name used in policy files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::ToolCall => "tool_call",
            ActionKind::LlmRequest => "llm_request",
            ActionKind::McpCall => "mcp_call",
            ActionKind::Egress => "egress",
            ActionKind::Authzen => "authzen",
        }
    }
}

/// An action to judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// The kind of action.
    pub kind: ActionKind,
    /// Who initiated it.
    #[serde(default)]
    pub agent: Agent,
    /// The tool being called (`tool_call`, `mcp_call`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<Tool>,
    /// The LLM request (`llm_request`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// The outbound request (`egress`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Egress>,
    /// The AuthZEN subject, resource, action and context (`authzen`), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authzen: Option<serde_json::Value>,
    /// Earlier tool calls and results of the same conversation, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryEntry>,
    /// Free-form facts the enforcement point adds (visible to rules as `context`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, serde_json::Value>,
}

/// The agent that initiated an action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// The agent's id (`billing-bot`).
    #[serde(default)]
    pub id: String,
    /// The tenant it belongs to.
    #[serde(default)]
    pub tenant: String,
    /// The team it belongs to.
    #[serde(default)]
    pub team: String,
    /// Operator-assigned labels (`env: production`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The agent's home directory, used to expand `~` in paths; `~` stays literal when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
}

/// A tool being called.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// The tool's name as the agent knows it.
    pub name: String,
    /// The call's arguments (a JSON object for every known client).
    #[serde(default)]
    pub args: serde_json::Value,
    /// The MCP server the tool belongs to, when called through the MCP gateway.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server: String,
    /// The tool's MCP annotations (`destructiveHint`, `readOnlyHint`, …), when known.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub annotations: serde_json::Map<String, serde_json::Value>,
    /// Whether the tool's definition differs from its pinned digest.
    #[serde(default)]
    pub definition_changed: bool,
}

/// An LLM request being judged before it goes upstream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The model asked for.
    #[serde(default)]
    pub model: String,
    /// The provider API (`openai`, `anthropic`).
    #[serde(default)]
    pub provider: String,
    /// Counted input tokens.
    #[serde(default)]
    pub input_tokens: u64,
    /// The output token limit of the request.
    #[serde(default)]
    pub max_tokens: u64,
    /// Worst-case cost of the request in USD.
    #[serde(default)]
    pub projected_cost_usd: f64,
    /// Whether the response is streamed.
    #[serde(default)]
    pub stream: bool,
    /// Names of the tools the agent offers the model.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Names of offered tools whose definition changed since first seen.
    #[serde(default)]
    pub changed_tools: Vec<String>,
    /// The prompt text, scanned for secrets; never exposed to conditions verbatim.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

/// An outbound HTTP request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Egress {
    /// The URL requested (for CONNECT: `https://host:port`).
    pub url: String,
    /// The HTTP method (`CONNECT` for tunnels).
    #[serde(default)]
    pub method: String,
    /// The IP address the proxy resolved the host to and connects to (empty when not yet
    /// resolved). Judging this address, not the name, leaves no DNS-rebinding gap.
    #[serde(default)]
    pub address: String,
}

/// An earlier tool call of the same conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    /// The tool that was called.
    pub tool: String,
    /// Its arguments.
    #[serde(default)]
    pub args: serde_json::Value,
    /// Its result as text, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

impl Action {
    /// Parses one action from JSON.
    pub fn from_json(text: &str) -> Result<Action, serde_json::Error> {
        serde_json::from_str(text)
    }
}
