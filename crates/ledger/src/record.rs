//! The ledger record (schema version 1): one record per event, answering the five audit
//! questions — who initiated, what was decided and why, whether approval was needed and who gave
//! it, what executed where and with what limits, and the evidence (record hash and receipt).
//!
//! Owns the schema types only; hashing lives in `chain`, verification in `verify`. Must not
//! depend on storage, clocks or randomness.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hash::Hash;

/// The record schema version written by this crate.
pub const SCHEMA_VERSION: u32 = 1;

/// One ledger record as hashed and stored. Field names are the JSON names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Schema version (`1`).
    pub v: u32,
    /// Position in the ledger, from 0, without gaps.
    pub seq: u64,
    /// When the record was sealed, Unix milliseconds (from the writer's clock).
    pub time_ms: u64,
    /// Hash of the record at `seq - 1`; all zeros for the first record.
    pub prev: Hash,
    /// Hash of the previous record of the same agent; absent for an agent's first record or for
    /// records without an agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_prev: Option<Hash>,
    /// Who initiated the event.
    pub actor: Actor,
    /// Digest of the policy bundle in force, when one applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_digest: Option<String>,
    /// What happened.
    pub event: Event,
}

/// Who initiated an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Agent identifier; records with an agent form that agent's chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Tenant the agent belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Identifier of the Warden key (or IdP subject) the caller authenticated with; never the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Run identifier (`Warden-Run-Id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Trace identifier (W3C trace id) tying the record to the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Human or service principal, for administrative events (approvals, halts, key changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

/// What a record is about. New kinds (budget settlement, tool-pin change) are added as variants;
/// the verifier does not need to understand an event to check the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A policy decision on an action.
    Decision(Box<Decision>),
    /// A human's answer to an approval request.
    Approval(Approval),
    /// An operator overriding a decision.
    Override(Override),
    /// An agent halted (or released) by the kill switch.
    Halt(Halt),
    /// A policy bundle loaded (or rejected).
    PolicyLoad(PolicyLoad),
    /// A signing or verification key added, rotated or retired.
    KeyChange(KeyChange),
    /// What an MCP server answered to a released `tools/call`.
    McpResult(McpResult),
    /// An MCP tool's pinned definition: pinned, found changed, or a change approved.
    ToolPin(ToolPin),
    /// An LLM call's spending against its budgets: settled, or refused for lack of budget.
    Budget(Box<BudgetSpend>),
}

/// The five policy outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The action may run.
    Allow,
    /// The action is refused.
    Deny,
    /// The action waits for a human approver.
    RequireApproval,
    /// The action may run under the listed constraints.
    AllowWithConstraints,
    /// The action was rewritten to a safer variant.
    Remediate,
}

impl Outcome {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::RequireApproval => "require_approval",
            Outcome::AllowWithConstraints => "allow_with_constraints",
            Outcome::Remediate => "remediate",
        }
    }
}

/// A policy decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The outcome after combining all matching rules.
    pub outcome: Outcome,
    /// Ids of the rules that matched (empty when the bundle default applied).
    #[serde(default)]
    pub rule_ids: Vec<String>,
    /// Human-readable reasons, one per matching rule.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The action that was evaluated.
    pub action: Action,
    /// Constraints applied (`max_cost_usd`, `timeout`, `read_only`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub constraints: BTreeMap<String, Value>,
    /// The rewrite applied when the outcome is `remediate` (redacted like the arguments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<Value>,
    /// Approval requirement and its resolution, when a rule asked for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalNeed>,
    /// Projected and actual cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
}

/// Kinds of governed action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// A request to an LLM provider.
    LlmRequest,
    /// A tool call proposed by a model.
    ToolCall,
    /// An MCP `tools/call`.
    McpCall,
    /// An outbound HTTP request through the egress proxy.
    Egress,
    /// A question asked through the AuthZEN API.
    Authzen,
}

/// What was (or would have been) executed, where, with which arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// Kind of action.
    pub kind: ActionKind,
    /// Tool name, for tool and MCP calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// `sha256:<hex>` of the canonical JSON of the arguments *before* redaction, so a holder of
    /// the original arguments can prove them without the ledger holding secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_digest: Option<String>,
    /// The arguments after the caller redacted secrets. Secrets must never be put here in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_redacted: Option<Value>,
    /// Where it went: provider, MCP server or host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// Model name, for LLM requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// An approval requirement carried by a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalNeed {
    /// Roles allowed to approve.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// Identifier of the approval request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
    /// Who approved, when the decision is a release after approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
}

/// Cost in micro-US-dollars (integers keep the hash stable across languages).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    /// Worst-case cost reserved before the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projected_micro_usd: Option<u64>,
    /// Cost settled from the provider's usage figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_micro_usd: Option<u64>,
}

/// How a call's budget reservation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpendOutcome {
    /// The call completed and was settled from the provider's usage figures.
    Settled,
    /// The stream was ended by Warden when its reservation was spent, then settled.
    Cut,
    /// The call failed or was abandoned; settled at what it can have cost (often nothing).
    Aborted,
    /// No reservation was possible: the call was refused (HTTP 402).
    Refused,
}

/// One budget's state after a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetBalance {
    /// `kind:id` (`agent:billing-bot`, `run:…`).
    pub scope: String,
    /// `day`, `month` or `total`.
    pub window: String,
    /// The limit per period.
    pub limit_micro_usd: u64,
    /// Settled spending in the period.
    pub spent_micro_usd: u64,
    /// Outstanding reservations in the period.
    pub reserved_micro_usd: u64,
    /// When the period ends (absent for `total`), Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_ms: Option<u64>,
}

/// An LLM call's spending against its budgets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetSpend {
    /// Id of the call's request decision record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
    /// The model called.
    pub model: String,
    /// How the reservation ended.
    pub outcome: SpendOutcome,
    /// Reserved before the call.
    pub reserved_micro_usd: u64,
    /// Charged after it.
    pub settled_micro_usd: u64,
    /// Input tokens charged (the provider's figure when it reported one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Of which read from the provider's cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_tokens: Option<u64>,
    /// Output tokens charged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Every budget the call was held against, after it (for a refusal: the exhausted one).
    #[serde(default)]
    pub balances: Vec<BudgetBalance>,
    /// Why, for a refusal or an abort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A human's answer to an approval request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Identifier of the approval request.
    pub approval_id: String,
    /// Id of the decision record that asked for approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
    /// The answer.
    pub verdict: Verdict,
    /// Who answered (absent on expiry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// The role under which they answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Digest of the exact action approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_digest: Option<String>,
}

/// The answer to an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Approved.
    Approved,
    /// Denied.
    Denied,
    /// Nobody answered before the TTL.
    Expired,
}

/// An operator overriding a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// Id of the overridden decision record.
    pub target_id: String,
    /// The outcome imposed.
    pub outcome: Outcome,
    /// Why.
    pub reason: String,
}

/// The kill switch acting on an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Halt {
    /// The halted agent.
    pub agent_id: String,
    /// `true` when the halt is lifted rather than imposed.
    #[serde(default)]
    pub lifted: bool,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A policy bundle load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyLoad {
    /// Digest of the bundle.
    pub bundle_digest: String,
    /// Digest of the bundle it replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_digest: Option<String>,
    /// Where it came from (path, git revision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Set when the bundle was rejected (the previous one stays in force).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A key lifecycle event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChange {
    /// Fingerprint (RFC 7638 thumbprint) of the key concerned.
    pub key_id: String,
    /// What happened: `created`, `rotated`, `retired`.
    pub change: String,
    /// Fingerprint of the key it replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_key_id: Option<String>,
}

/// The answer to a released MCP `tools/call`, recorded before the agent receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpResult {
    /// Id of the decision record that released the call.
    pub decision_id: String,
    /// The MCP server.
    pub server: String,
    /// The tool.
    pub tool: String,
    /// `sha256:<hex>` of the canonical JSON of the arguments sent.
    pub args_digest: String,
    /// `sha256:<hex>` of the canonical JSON of the `result` (or `error`) received.
    pub result_digest: String,
    /// Whether the server reported failure (`isError: true`, or a JSON-RPC error).
    #[serde(default)]
    pub is_error: bool,
}

/// A change to an MCP tool's pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolPin {
    /// The MCP server.
    pub server: String,
    /// The tool.
    pub tool: String,
    /// What happened: `pinned` (first sight), `changed` (the server now describes it
    /// differently; the tool is hidden and refused), `approved` (an operator pinned the new
    /// definition).
    pub change: String,
    /// The digest pinned before the event, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_digest: Option<String>,
    /// The digest of the definition the server now gives.
    pub seen_digest: String,
}

/// A record before it is sealed: what the caller supplies. The writer adds seq, time and links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordDraft {
    /// Who initiated the event.
    pub actor: Actor,
    /// Bundle digest in force.
    pub bundle_digest: Option<String>,
    /// What happened.
    pub event: Event,
}

impl Event {
    /// The outcome, for decisions.
    pub fn outcome(&self) -> Option<Outcome> {
        match self {
            Event::Decision(d) => Some(d.outcome),
            _ => None,
        }
    }
}
