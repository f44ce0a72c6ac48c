//! Judging: the policy action for an LLM request or a proposed tool call, the decision, its
//! ledger record, and what the agent receives. Nothing is released before its record is durable:
//! a decision that cannot be recorded blocks the call.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use warden_ledger::{self as ledger, RecordDraft};
use warden_llm::{Arguments, HistoryItem, ProposedCall, RequestSummary, Verdict};
use warden_policy::{self as policy, Bundle, Decision, Outcome};
use warden_store::{Appended, LedgerStore};

use crate::identity::Identity;

/// The rule id recorded when a call's arguments are not JSON and so were never evaluated.
pub const INVALID_ARGUMENTS_RULE: &str = "warden-invalid-arguments";
/// The rule id recorded when a call's arguments exceed `limits.max_tool_args`.
pub const ARGUMENTS_TOO_LARGE_RULE: &str = "warden-arguments-too-large";

/// What Warden knows about one request while judging it and its response.
#[derive(Debug, Clone)]
pub struct Context {
    /// The caller.
    pub identity: Identity,
    /// The provider the request goes to.
    pub provider: String,
    /// The requested model.
    pub model: String,
    /// Earlier tool calls and their results.
    pub history: Vec<policy::HistoryEntry>,
    /// Offered tools whose definition changed since first seen.
    pub changed_tools: Vec<String>,
}

/// A decision and its durable record.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The policy decision.
    pub decision: Decision,
    /// The ledger record, or why it could not be written (the action is then not released).
    pub record: Result<Appended, String>,
    /// The approval request that decided it, and how it ended (`denied`, `expired`, …).
    pub approval: Option<(String, String)>,
}

impl Judged {
    /// The record id, or a placeholder naming the failure.
    pub fn record_id(&self) -> &str {
        self.record
            .as_ref()
            .map_or("(not recorded)", |a| a.id.as_str())
    }

    /// The signed receipt, when recorded.
    pub fn receipt(&self) -> Option<&str> {
        self.record.as_ref().ok().map(|a| a.receipt.as_str())
    }

    /// Whether the action may go ahead: the outcome releases it and its record is durable.
    pub fn releases(&self) -> bool {
        self.record.is_ok() && self.decision.outcome.releases()
    }

    /// Why it does not go ahead, in words for the agent.
    pub fn refusal(&self) -> String {
        if let Err(e) = &self.record {
            return format!("the decision could not be recorded in the ledger ({e})");
        }
        let rules = if self.decision.rules.is_empty() {
            "bundle default".to_owned()
        } else {
            self.decision.rules.join(", ")
        };
        let mut text = format!(
            "outcome: {}; rule: {}): {}",
            self.decision.outcome.as_str(),
            rules,
            self.decision.reason.trim()
        );
        match &self.approval {
            Some((id, status)) => text.push_str(&format!(" Approval {id} was {status}.")),
            None if self.decision.outcome == Outcome::RequireApproval => {
                text.push_str(" It needs human approval, which could not be requested.");
            }
            None => {}
        }
        text
    }
}

/// The conversation's earlier tool calls, each with its result when the agent sent one.
pub fn history(items: &[HistoryItem]) -> Vec<policy::HistoryEntry> {
    let results: HashMap<&str, &str> = items
        .iter()
        .filter_map(|item| match item {
            HistoryItem::Result { id, text } => Some((id.as_str(), text.as_str())),
            HistoryItem::Call { .. } => None,
        })
        .collect();
    items
        .iter()
        .filter_map(|item| match item {
            HistoryItem::Call {
                id,
                name,
                arguments,
            } => Some(policy::HistoryEntry {
                tool: name.clone(),
                args: arguments_value(arguments),
                result: results.get(id.as_str()).map(|t| (*t).to_owned()),
            }),
            HistoryItem::Result { .. } => None,
        })
        .collect()
}

fn arguments_value(arguments: &Arguments) -> Value {
    match arguments {
        Arguments::Json(v) => v.clone(),
        Arguments::Invalid { raw, .. } => Value::String(raw.clone()),
    }
}

/// The `llm_request` action for a request.
pub fn request_action(ctx: &Context, summary: &RequestSummary, api: &str) -> policy::Action {
    policy::Action {
        kind: policy::ActionKind::LlmRequest,
        agent: ctx.identity.agent.clone(),
        tool: None,
        request: Some(policy::Request {
            model: summary.model.clone(),
            provider: api.to_owned(),
            input_tokens: 0,
            max_tokens: summary.max_tokens.unwrap_or(0),
            projected_cost_usd: 0.0,
            stream: summary.stream,
            tools: summary.tools.iter().map(|t| t.name.clone()).collect(),
            changed_tools: ctx.changed_tools.clone(),
            text: summary.prompt_text.clone(),
        }),
        egress: None,
        authzen: None,
        history: ctx.history.clone(),
        context: BTreeMap::new(),
    }
}

/// The `tool_call` action for a proposed call.
pub fn tool_action(ctx: &Context, call: &ProposedCall) -> policy::Action {
    policy::Action {
        kind: policy::ActionKind::ToolCall,
        agent: ctx.identity.agent.clone(),
        tool: Some(policy::Tool {
            name: call.name.clone(),
            args: arguments_value(&call.arguments),
            definition_changed: ctx.changed_tools.contains(&call.name),
            ..policy::Tool::default()
        }),
        request: None,
        egress: None,
        authzen: None,
        history: ctx.history.clone(),
        context: BTreeMap::new(),
    }
}

/// Decides a proposed call. Arguments that are not JSON, or larger than `max_args_bytes`, are
/// never evaluated: they are denied.
pub fn decide_call(
    bundle: &Bundle,
    ctx: &Context,
    call: &ProposedCall,
    max_args_bytes: u64,
) -> Decision {
    let refused = |rule: &str, reason: String| Decision::denial(bundle, rule, reason);
    match &call.arguments {
        Arguments::Json(args) => {
            let size = serde_json::to_string(args).map_or(u64::MAX, |t| t.len() as u64);
            if size > max_args_bytes {
                return refused(
                    ARGUMENTS_TOO_LARGE_RULE,
                    format!(
                        "The call's arguments are {size} bytes, over this gateway's limit of {max_args_bytes}; it was not evaluated."
                    ),
                );
            }
            bundle.evaluate(&tool_action(ctx, call))
        }
        Arguments::Invalid { error, .. } => refused(
            INVALID_ARGUMENTS_RULE,
            format!("The call's arguments are not valid JSON ({error}); it was not evaluated."),
        ),
    }
}

/// The ledger record of a decision on `action` (secrets in arguments redacted).
pub fn draft(ctx: &Context, decision: &Decision, action: &policy::Action) -> RecordDraft {
    let (kind, tool, args) = match (&action.tool, &action.request) {
        (Some(tool), _) => (
            ledger::ActionKind::ToolCall,
            Some(tool.name.clone()),
            Some(tool.args.clone()),
        ),
        (None, Some(_)) => (ledger::ActionKind::LlmRequest, None, None),
        (None, None) => (ledger::ActionKind::LlmRequest, None, None),
    };
    let args_digest = args.as_ref().and_then(digest);
    let args_redacted = args.map(redact);
    let constraints = match serde_json::to_value(&decision.constraints) {
        Ok(Value::Object(map)) => map.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    let approval = (!decision.approvals.is_empty()).then(|| ledger::ApprovalNeed {
        approvers: decision
            .approvals
            .iter()
            .flat_map(|a| a.spec.approvers.iter().cloned())
            .collect(),
        approval_id: None,
        approved_by: None,
    });
    RecordDraft {
        actor: ledger::Actor {
            agent_id: Some(ctx.identity.agent.id.clone()),
            tenant: Some(ctx.identity.agent.tenant.clone()).filter(|t| !t.is_empty()),
            key_id: Some(ctx.identity.key_id.clone()),
            run_id: ctx.identity.run_id.clone(),
            ..ledger::Actor::default()
        },
        bundle_digest: Some(decision.bundle.clone()),
        event: ledger::Event::Decision(Box::new(ledger::Decision {
            outcome: ledger_outcome(decision.outcome),
            rule_ids: decision.rules.clone(),
            reasons: vec![decision.reason.clone()],
            action: ledger::Action {
                kind,
                tool,
                args_digest,
                args_redacted,
                upstream: Some(ctx.provider.clone()),
                model: Some(ctx.model.clone()),
            },
            constraints,
            rewrite: decision.rewrite.as_ref().map(|r| redact(r.args.clone())),
            approval,
            cost: None,
        })),
    }
}

/// Writes the record and waits until it is durable (committed inline when the writer is free).
pub async fn record(ledger: &dyn LedgerStore, draft: RecordDraft) -> Result<Appended, String> {
    ledger.append_now(draft).await.map_err(|e| e.to_string())
}

/// What the agent receives for a judged call.
pub fn verdict(call: &ProposedCall, judged: &Judged) -> Verdict {
    if judged.releases() {
        let arguments = match judged.decision.outcome {
            Outcome::Remediate => judged.decision.rewrite.as_ref().map(|r| r.args.clone()),
            _ => None,
        };
        return Verdict::Release { arguments };
    }
    Verdict::Block {
        text: format!(
            "Warden blocked the call to tool `{}` ({} Ledger record: {}.",
            call.name,
            judged.refusal(),
            judged.record_id()
        ),
    }
}

fn ledger_outcome(outcome: Outcome) -> ledger::Outcome {
    match outcome {
        Outcome::Allow => ledger::Outcome::Allow,
        Outcome::AllowWithConstraints => ledger::Outcome::AllowWithConstraints,
        Outcome::Remediate => ledger::Outcome::Remediate,
        Outcome::RequireApproval => ledger::Outcome::RequireApproval,
        Outcome::Deny => ledger::Outcome::Deny,
    }
}

/// `sha256:<hex>` of the canonical JSON of `value`.
pub fn digest(value: &Value) -> Option<String> {
    warden_ledger::canonicalize(value)
        .ok()
        .map(|bytes| format!("sha256:{}", warden_ledger::Hash::sha256(&bytes).to_hex()))
}

/// `value` with every secret in its strings (keys included) replaced by `[REDACTED:kind]`.
pub fn redact(mut value: Value) -> Value {
    redact_in_place(&mut value);
    value
}

/// [`redact`] without rebuilding what holds no secret: strings are replaced where they are, and
/// an object is rebuilt only when one of its keys holds a secret.
fn redact_in_place(value: &mut Value) {
    match value {
        Value::String(s) => {
            let found = warden_analyze::secrets::scan(s);
            if !found.is_empty() {
                *s = warden_analyze::secrets::redact(s, &found);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_in_place),
        Value::Object(map) => {
            if map
                .keys()
                .any(|k| !warden_analyze::secrets::scan(k).is_empty())
            {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, mut v)| {
                        redact_in_place(&mut v);
                        (redact_text(k), v)
                    })
                    .collect();
            } else {
                map.values_mut().for_each(redact_in_place);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn redact_text(text: String) -> String {
    let found = warden_analyze::secrets::scan(&text);
    if found.is_empty() {
        text
    } else {
        warden_analyze::secrets::redact(&text, &found)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn history_pairs_calls_with_their_results() {
        let items = vec![
            HistoryItem::Call {
                id: "c1".into(),
                name: "bash".into(),
                arguments: Arguments::parse(r#"{"command":"ls"}"#),
            },
            HistoryItem::Call {
                id: "c2".into(),
                name: "query".into(),
                arguments: Arguments::parse("not json"),
            },
            HistoryItem::Result {
                id: "c1".into(),
                text: "a b c".into(),
            },
        ];
        let entries = history(&items);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].tool, "bash");
        assert_eq!(entries[0].args, json!({"command": "ls"}));
        assert_eq!(entries[0].result.as_deref(), Some("a b c"));
        assert_eq!(entries[1].args, json!("not json"));
        assert_eq!(entries[1].result, None);
    }

    #[test]
    fn secrets_are_redacted_everywhere_in_arguments() {
        let key = "AKIAIOSFODNN7EXAMPLE";
        let redacted = redact(json!({"env": [format!("AWS_ACCESS_KEY_ID={key}")], key: 1}));
        let text = redacted.to_string();
        assert!(!text.contains(key), "{text}");
        assert!(text.contains("[REDACTED:"), "{text}");

        // Deeper: under clean keys, under a key that is itself a secret, and in a clean
        // neighbourhood that must come back unchanged.
        let nested = redact(json!({
            "a": {"b": [{"c": key}], "n": 3, "t": true, "z": null},
            key: {"d": key, "e": "plain"},
            "plain": ["x", 1.5]
        }));
        let text = nested.to_string();
        assert!(!text.contains(key), "{text}");
        assert_eq!(text.matches("[REDACTED:").count(), 3, "{text}");
        assert_eq!(nested["a"]["n"], json!(3));
        assert_eq!(nested["a"]["t"], json!(true));
        assert_eq!(nested["a"]["z"], json!(null));
        assert_eq!(nested["plain"], json!(["x", 1.5]));
        let renamed = nested
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.starts_with("[REDACTED:"))
            .map(|(_, v)| v.clone())
            .unwrap();
        assert_eq!(renamed["e"], json!("plain"));
    }

    fn allow_all() -> Bundle {
        Bundle::load(&[policy::SourceFile {
            name: "all.yaml".into(),
            text:
                "rules:\n  - id: all\n    decision: allow\n    reason: everything\ndefault: deny\n"
                    .into(),
        }])
        .unwrap()
    }

    fn context() -> Context {
        Context {
            identity: Identity {
                key_id: "k".into(),
                agent: policy::Agent::default(),
                run_id: None,
            },
            provider: "p".into(),
            model: "m".into(),
            history: Vec::new(),
            changed_tools: Vec::new(),
        }
    }

    fn call(raw: &str) -> ProposedCall {
        ProposedCall {
            index: 0,
            id: "c".into(),
            name: "bash".into(),
            arguments: Arguments::parse(raw),
        }
    }

    #[test]
    fn oversized_and_invalid_arguments_are_denied_without_evaluation() {
        let bundle = allow_all();
        let ok = decide_call(&bundle, &context(), &call(r#"{"command":"ls"}"#), 64);
        assert_eq!(ok.outcome, Outcome::Allow);
        let big = format!(r#"{{"command":"{}"}}"#, "x".repeat(100));
        let too_large = decide_call(&bundle, &context(), &call(&big), 64);
        assert_eq!(too_large.outcome, Outcome::Deny);
        assert_eq!(too_large.rules, vec![ARGUMENTS_TOO_LARGE_RULE.to_owned()]);
        let invalid = decide_call(&bundle, &context(), &call("{\"command\": "), 64);
        assert_eq!(invalid.outcome, Outcome::Deny);
        assert_eq!(invalid.rules, vec![INVALID_ARGUMENTS_RULE.to_owned()]);
    }

    #[test]
    fn digest_is_canonical() {
        assert_eq!(
            digest(&json!({"a": 1, "b": 2})),
            digest(&json!({"b": 2, "a": 1}))
        );
        assert!(digest(&json!({})).is_some_and(|d| d.starts_with("sha256:")));
    }
}
