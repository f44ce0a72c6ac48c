//! `tools/call`: an `mcp_call` action through the same engine and outcomes as the LLM gateway.
//!
//! Before the policy, Warden's own checks: arguments must be a JSON object within
//! `limits.max_tool_args`, the tool must be one the server lists, and its definition must match
//! its pin (a changed definition — the rug pull — is refused until an operator approves it).
//! Then: `allow` → forwarded; `allow_with_constraints` → forwarded under them (`timeout` cancels
//! the upstream call, `read_only` refuses a tool not annotated read-only); `remediate` →
//! forwarded with the rewritten arguments; `require_approval` → held for a human as in the LLM
//! gateway; `deny` → a tool result with `isError: true` naming the outcome, rule, reason and
//! ledger record, so the agent loop carries on. The decision is durable in the ledger before the
//! call goes upstream, and the server's answer (its digest) is recorded before the agent gets it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use warden_ledger as ledger;
use warden_mcp::reply::{INTERNAL_ERROR, INVALID_PARAMS};
use warden_mcp::{Message, definition_digest, is_read_only, tool_error};
use warden_policy::{self as policy, Bundle, Decision, Outcome};

use super::pins::PinStatus;
use super::upstream::UpstreamError;
use super::{Answer, McpServerState, hold, list};
use crate::identity::Identity;
use crate::llm::judge::{self, ARGUMENTS_TOO_LARGE_RULE, Context, Judged};
use crate::state::Gateway;

/// Rule id recorded when the server does not list the tool called.
pub const UNKNOWN_TOOL_RULE: &str = "warden-mcp-unknown-tool";
/// Rule id recorded when the tool's definition differs from its pin.
pub const DEFINITION_CHANGED_RULE: &str = "warden-mcp-definition-changed";
/// Rule id recorded when the tool has no pin and the server pins from its file only.
pub const UNPINNED_RULE: &str = "warden-mcp-unpinned";
/// Rule id recorded when the server's pin file does not verify.
pub const PINS_REFUSED_RULE: &str = "warden-mcp-pins-refused";
/// Rule id recorded when a `read_only` constraint meets a tool not annotated read-only.
pub const READ_ONLY_RULE: &str = "warden-mcp-read-only";

/// The `mcp_call` action for a call of `name` (defined by `def`) with `args`.
pub(super) fn action(
    srv: &McpServerState,
    identity: &Identity,
    name: &str,
    def: &Value,
    args: Value,
) -> policy::Action {
    policy::Action {
        kind: policy::ActionKind::McpCall,
        agent: identity.agent.clone(),
        tool: Some(policy::Tool {
            name: name.to_owned(),
            args,
            server: srv.name.clone(),
            annotations: warden_mcp::tool::annotations(def),
            definition_changed: false,
        }),
        request: None,
        egress: None,
        authzen: None,
        history: Vec::new(),
        context: BTreeMap::new(),
    }
}

/// The ledger record of a decision on an MCP call.
pub(super) fn draft(
    ctx: &Context,
    decision: &Decision,
    action: &policy::Action,
) -> ledger::RecordDraft {
    let mut draft = judge::draft(ctx, decision, action);
    if let ledger::Event::Decision(d) = &mut draft.event {
        d.action.kind = ledger::ActionKind::McpCall;
        d.action.model = None;
    }
    draft
}

/// The request's tool name and arguments, or the reason they are unusable.
fn name_and_args(message: &Message) -> Result<(String, Value), String> {
    let params = message.params().ok_or("tools/call needs params")?;
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or("params.name must be the tool's name")?;
    let args = match params.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err("params.arguments must be an object".into()),
    };
    Ok((name.to_owned(), args))
}

/// Answers `tools/call`.
pub(super) async fn tools_call(
    gw: &Gateway,
    srv: &McpServerState,
    identity: &Identity,
    mut message: Message,
) -> Answer {
    let id = message.id().cloned().unwrap_or(Value::Null);
    let (name, args) = match name_and_args(&message) {
        Ok(v) => v,
        Err(e) => return Answer::error(&id, INVALID_PARAMS, &e),
    };
    let Some(bundle) = gw.policy.current() else {
        return Answer::error(
            &id,
            INTERNAL_ERROR,
            "no policy bundle is loaded; nothing is released",
        );
    };
    // The definition is checked against its pin as the server gives it now: listed again when
    // unknown or when the last listing is older than the catalog's time to live.
    if (srv.definition(&name).is_none() || srv.catalog_stale())
        && let Err(e) = list::refresh(gw, srv).await
    {
        return Answer::upstream(&id, &e);
    }
    let def = srv.definition(&name);
    let ctx = Context {
        identity: identity.clone(),
        provider: srv.name.clone(),
        model: String::new(),
        history: Vec::new(),
        changed_tools: Vec::new(),
    };
    let empty = json!({"name": name});
    let act = action(
        srv,
        identity,
        &name,
        def.as_ref().unwrap_or(&empty),
        args.clone(),
    );
    let decision = match precheck(gw, srv, &bundle, &name, def.as_ref(), &args) {
        Some(denial) => denial,
        None => constrain(bundle.evaluate(&act), def.as_ref().unwrap_or(&empty), &name),
    };
    let judged = Judged {
        record: judge::record(gw.ledger.as_ref(), draft(&ctx, &decision, &act)).await,
        decision,
        approval: None,
    };
    let judged = hold::settle(gw, &ctx, &act, judged).await;
    let mut receipts: Vec<String> = judged.receipt().map(str::to_owned).into_iter().collect();
    if !judged.releases() {
        let text = format!(
            "Warden blocked the call to tool `{name}` on MCP server `{}` ({} Ledger record: {}.",
            srv.name,
            judged.refusal(),
            judged.record_id()
        );
        return Answer::ok(warden_mcp::result_response(&id, tool_error(&text)))
            .with_receipts(receipts);
    }
    let sent_args = match (&judged.decision.outcome, &judged.decision.rewrite) {
        (Outcome::Remediate, Some(rewrite)) => rewrite.args.clone(),
        _ => args,
    };
    if let Some(params) = message.params_mut().as_object_mut() {
        params.insert("arguments".into(), sent_args.clone());
    }
    let limit = judged
        .decision
        .constraints
        .timeout_ms
        .map_or(srv.timeout(), |ms| {
            srv.timeout().min(Duration::from_millis(ms))
        });
    let answer = match srv.upstream.request(message.into_value(), limit).await {
        Ok(answer) => answer,
        Err(UpstreamError::Timeout { ms, .. }) => {
            let text = format!(
                "Warden cancelled the call to tool `{name}` on MCP server `{}`: no answer within its time limit of {ms} ms. Ledger record: {}.",
                srv.name,
                judged.record_id()
            );
            return Answer::ok(warden_mcp::result_response(&id, tool_error(&text)))
                .with_receipts(receipts);
        }
        Err(e) => return Answer::upstream(&id, &e),
    };
    match record_result(
        gw,
        &ctx,
        srv,
        &name,
        &sent_args,
        &answer,
        judged.record_id(),
    )
    .await
    {
        Ok(receipt) => {
            receipts.push(receipt);
            Answer::ok(answer).with_receipts(receipts)
        }
        Err(e) => {
            let text = format!(
                "Warden withheld the answer of tool `{name}`: it could not be recorded in the ledger ({e})."
            );
            Answer::ok(warden_mcp::result_response(&id, tool_error(&text))).with_receipts(receipts)
        }
    }
}

/// Warden's own refusals: oversized arguments, an unknown tool, a definition that is not pinned.
fn precheck(
    gw: &Gateway,
    srv: &McpServerState,
    bundle: &Bundle,
    name: &str,
    def: Option<&Value>,
    args: &Value,
) -> Option<Decision> {
    let max = gw.config.limits.max_tool_args_bytes;
    let size = serde_json::to_string(args).map_or(u64::MAX, |t| t.len() as u64);
    if size > max {
        return Some(Decision::denial(
            bundle,
            ARGUMENTS_TOO_LARGE_RULE,
            format!(
                "The call's arguments are {size} bytes, over this gateway's limit of {max}; it was not evaluated."
            ),
        ));
    }
    let Some(def) = def else {
        return Some(Decision::denial(
            bundle,
            UNKNOWN_TOOL_RULE,
            format!("MCP server `{}` does not list a tool `{name}`.", srv.name),
        ));
    };
    let Ok(digest) = definition_digest(def) else {
        return Some(Decision::denial(
            bundle,
            UNKNOWN_TOOL_RULE,
            format!(
                "MCP server `{}` lists tool `{name}` with a definition that cannot be digested.",
                srv.name
            ),
        ));
    };
    match srv.pins.observe(name, &digest) {
        PinStatus::Pinned | PinStatus::PinnedNow => None,
        PinStatus::Changed { pinned, .. } => Some(Decision::denial(
            bundle,
            DEFINITION_CHANGED_RULE,
            format!(
                "The definition of tool `{name}` on MCP server `{}` changed since it was pinned ({pinned}, now {digest}); an operator must approve it (`warden mcp approve-change {} {name}`).",
                srv.name, srv.name
            ),
        )),
        PinStatus::Unpinned => Some(Decision::denial(
            bundle,
            UNPINNED_RULE,
            format!(
                "Tool `{name}` on MCP server `{}` is not pinned and this server takes pins from its pin file only (`warden mcp pin {}`).",
                srv.name, srv.name
            ),
        )),
        PinStatus::Refused(why) => Some(Decision::denial(
            bundle,
            PINS_REFUSED_RULE,
            format!("{why}."),
        )),
    }
}

/// Applies what Warden enforces itself of a released decision's constraints: `read_only`
/// refuses a tool that does not declare itself read-only (`timeout` is applied when sending).
fn constrain(decision: Decision, def: &Value, name: &str) -> Decision {
    if !(decision.outcome.releases() && decision.constraints.read_only) || is_read_only(def) {
        return decision;
    }
    let mut rules = decision.rules.clone();
    rules.push(READ_ONLY_RULE.to_owned());
    Decision {
        outcome: Outcome::Deny,
        reason: format!(
            "{} The call runs under a read_only constraint and tool `{name}` is not annotated read-only (readOnlyHint) or is annotated destructive.",
            decision.reason.trim()
        ),
        rules,
        ..decision
    }
}

/// Records the server's answer (digests only) before the agent receives it.
async fn record_result(
    gw: &Gateway,
    ctx: &Context,
    srv: &McpServerState,
    name: &str,
    args: &Value,
    answer: &Value,
    decision_id: &str,
) -> Result<String, String> {
    let (payload, is_error) = match (answer.get("result"), answer.get("error")) {
        (Some(result), _) => (
            result,
            result
                .get("isError")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        (None, Some(error)) => (error, true),
        (None, None) => (&Value::Null, true),
    };
    let draft = ledger::RecordDraft {
        actor: ledger::Actor {
            agent_id: Some(ctx.identity.agent.id.clone()),
            tenant: Some(ctx.identity.agent.tenant.clone()).filter(|t| !t.is_empty()),
            key_id: Some(ctx.identity.key_id.clone()),
            run_id: ctx.identity.run_id.clone(),
            ..ledger::Actor::default()
        },
        bundle_digest: None,
        event: ledger::Event::McpResult(ledger::McpResult {
            decision_id: decision_id.to_owned(),
            server: srv.name.clone(),
            tool: name.to_owned(),
            args_digest: judge::digest(args).unwrap_or_default(),
            result_digest: judge::digest(payload).unwrap_or_default(),
            is_error,
        }),
    };
    judge::record(gw.ledger.as_ref(), draft)
        .await
        .map(|a| a.receipt)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn released(read_only: bool) -> Decision {
        Decision {
            outcome: Outcome::AllowWithConstraints,
            rules: vec!["notes".into()],
            reason: "Notes run read-only.".into(),
            matched: Vec::new(),
            constraints: policy::Constraints {
                read_only,
                ..policy::Constraints::default()
            },
            approvals: Vec::new(),
            rewrite: None,
            errors: Vec::new(),
            defaulted: false,
            bundle: "sha256:b".into(),
        }
    }

    #[test]
    fn read_only_refuses_tools_not_declared_read_only() {
        let unannotated = json!({"name": "write_note"});
        let refused = constrain(released(true), &unannotated, "write_note");
        assert_eq!(refused.outcome, Outcome::Deny);
        assert_eq!(
            refused.rules,
            vec!["notes".to_owned(), READ_ONLY_RULE.to_owned()]
        );
        assert!(refused.reason.contains("not annotated read-only"));
        let reader = json!({"name": "read", "annotations": {"readOnlyHint": true}});
        assert_eq!(
            constrain(released(true), &reader, "read").outcome,
            Outcome::AllowWithConstraints
        );
        assert_eq!(
            constrain(released(false), &unannotated, "write_note").outcome,
            Outcome::AllowWithConstraints
        );
    }

    #[test]
    fn arguments_must_be_an_object() {
        let message = |params: &str| {
            Message::parse(
                format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{params}}}"#)
                    .as_bytes(),
            )
            .unwrap()
        };
        assert_eq!(
            name_and_args(&message(r#"{"name":"t"}"#)).unwrap(),
            ("t".to_owned(), json!({}))
        );
        assert_eq!(
            name_and_args(&message(r#"{"name":"t","arguments":{"a":1}}"#)).unwrap(),
            ("t".to_owned(), json!({"a": 1}))
        );
        assert!(name_and_args(&message(r#"{"name":"t","arguments":[1]}"#)).is_err());
        assert!(name_and_args(&message(r#"{"arguments":{}}"#)).is_err());
    }
}
