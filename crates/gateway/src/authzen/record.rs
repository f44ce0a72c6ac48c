//! The ledger record of an AuthZEN decision: the calling enforcement point as actor, the action
//! name as the tool, and the 4-tuple (secrets redacted, digest of the original) as arguments.

use std::collections::BTreeMap;

use serde_json::Value;
use warden_ledger::{self as ledger, RecordDraft};
use warden_policy::Decision;

use crate::identity::Identity;
use crate::llm::judge;

/// The record of `decision` on the 4-tuple `tuple` (action name `name`), asked by `pep`.
pub(super) fn draft(
    pep: &Identity,
    name: String,
    tuple: Value,
    decision: &Decision,
) -> RecordDraft {
    let constraints = match serde_json::to_value(&decision.constraints) {
        Ok(Value::Object(map)) => map.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    RecordDraft {
        actor: ledger::Actor {
            agent_id: Some(pep.agent.id.clone()),
            tenant: Some(pep.agent.tenant.clone()).filter(|t| !t.is_empty()),
            key_id: Some(pep.key_id.clone()),
            run_id: pep.run_id.clone(),
            ..ledger::Actor::default()
        },
        bundle_digest: Some(decision.bundle.clone()),
        event: ledger::Event::Decision(Box::new(ledger::Decision {
            outcome: outcome(decision.outcome),
            rule_ids: decision.rules.clone(),
            reasons: vec![decision.reason.clone()],
            action: ledger::Action {
                kind: ledger::ActionKind::Authzen,
                tool: Some(name),
                args_digest: judge::digest(&tuple),
                args_redacted: Some(judge::redact(tuple)),
                upstream: None,
                model: None,
            },
            constraints,
            rewrite: None,
            approval: None,
            cost: None,
        })),
    }
}

fn outcome(outcome: warden_policy::Outcome) -> ledger::Outcome {
    use warden_policy::Outcome as P;
    match outcome {
        P::Allow => ledger::Outcome::Allow,
        P::AllowWithConstraints => ledger::Outcome::AllowWithConstraints,
        P::Remediate => ledger::Outcome::Remediate,
        P::RequireApproval => ledger::Outcome::RequireApproval,
        P::Deny => ledger::Outcome::Deny,
    }
}
