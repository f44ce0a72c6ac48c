//! `/v1/agents`: the configured agents with their halt state, and the kill switch (per agent and
//! global). Halting and resuming are ledger records naming the operator.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use warden_ledger as ledger;
use warden_store::{Halt, Operator, Role};

use super::{ApiError, json_response, operator, reason};
use crate::approvals::now_ms;
use crate::state::Gateway;

/// The agent id recorded for a global halt.
const EVERY_AGENT: &str = "*";

/// `GET /v1/agents`.
pub(super) async fn list(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Err(e) = operator(&gw, &headers, &[Role::Admin, Role::Approver, Role::Auditor]) {
        return e.into_response();
    }
    let halts = gw.halts.list();
    let global = halts.iter().find(|h| h.agent_id.is_none()).map(view);
    let agents: Vec<_> = gw
        .config
        .agents
        .iter()
        .map(|(id, a)| {
            let own = halts
                .iter()
                .find(|h| h.agent_id.as_deref() == Some(id.as_str()));
            json!({
                "id": id,
                "tenant": a.tenant,
                "team": a.team,
                "labels": a.labels,
                "halted": own.map(view),
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"agents": agents, "global_halt": global}),
    )
}

fn view(h: &Halt) -> serde_json::Value {
    json!({"reason": h.reason, "by": h.by, "since_ms": h.since_ms})
}

/// `POST /v1/agents/{id}/halt` with `{"reason": …}` (required).
pub(super) async fn halt(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    change(gw, headers, Some(id), body, true).await
}

/// `POST /v1/agents/{id}/resume`.
pub(super) async fn resume(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    change(gw, headers, Some(id), body, false).await
}

/// `POST /v1/halt` with `{"reason": …}`: every agent.
pub(super) async fn halt_all(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    change(gw, headers, None, body, true).await
}

/// `POST /v1/resume`: lifts the global halt.
pub(super) async fn resume_all(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    change(gw, headers, None, body, false).await
}

async fn change(
    gw: Arc<Gateway>,
    headers: HeaderMap,
    agent: Option<String>,
    body: Bytes,
    halting: bool,
) -> Response {
    let op = match operator(&gw, &headers, &[Role::Admin]) {
        Ok(op) => op,
        Err(e) => return e.into_response(),
    };
    let why = match reason(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if let Some(a) = agent
        .as_ref()
        .filter(|a| !gw.config.agents.contains_key(*a))
    {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no agent `{a}` in the configuration"),
        )
        .into_response();
    }
    let result = if halting {
        let Some(why) = why.clone().filter(|r| !r.trim().is_empty()) else {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "reason_required",
                "a halt needs a `reason`",
            )
            .into_response();
        };
        gw.halts
            .halt(agent.as_deref(), &why, &op.name, now_ms())
            .map(|_| true)
    } else {
        gw.halts.resume(agent.as_deref())
    };
    let changed = match result {
        Ok(changed) => changed,
        Err(e) => {
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store",
                format!("the halt store failed: {e}"),
            )
            .into_response();
        }
    };
    record(&gw, &op, agent.as_deref(), halting, why).await;
    let target = agent.as_deref().unwrap_or(EVERY_AGENT);
    tracing::warn!(operator = %op.name, agent = target, "{}", if halting { "halted" } else { "resumed" });
    json_response(
        StatusCode::OK,
        &json!({"agent": target, "halted": halting, "changed": changed}),
    )
}

async fn record(
    gw: &Gateway,
    op: &Operator,
    agent: Option<&str>,
    halting: bool,
    why: Option<String>,
) {
    let draft = ledger::RecordDraft {
        actor: ledger::Actor {
            principal: Some(op.name.clone()),
            ..ledger::Actor::default()
        },
        bundle_digest: gw.policy.current().map(|b| b.digest().to_owned()),
        event: ledger::Event::Halt(ledger::Halt {
            agent_id: agent.unwrap_or(EVERY_AGENT).to_owned(),
            lifted: !halting,
            reason: why,
        }),
    };
    if let Err(e) = gw.ledger.append(draft).await {
        tracing::error!("recording a halt: {e}");
    }
}
