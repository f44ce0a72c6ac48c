//! The LLM gateway: OpenAI Chat Completions, OpenAI Responses and Anthropic Messages, streaming
//! and not, plus the policy-filtered model list.
//!
//! One request goes: identify the agent → read and summarize the body → decide and record the
//! `llm_request` → forward with the provider's key → judge and record every tool call the model
//! proposes before releasing it (whole responses in [`complete`], streams in [`stream`]). The
//! protocol details live in `warden-llm`; this module moves bytes and makes the calls.

pub mod complete;
mod hold;
pub mod judge;
pub mod models;
pub mod pins;
pub mod refusal;
pub mod stream;
pub mod upstream;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;
use warden_llm::{Api, ErrorKind, RequestSummary, request_stream_usage, summarize_request};

use crate::identity::identify;
use crate::state::Gateway;
use judge::{Context, Judged};
use refusal::Refusal;
use upstream::UpstreamError;

/// Response header carrying one compact-JWS receipt per decision (repeated).
pub const RECEIPT_HEADER: &str = "warden-receipt";

/// `POST /v1/chat/completions`.
pub async fn chat(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    handle(gw, Api::OpenAiChat, "/v1/chat/completions", headers, body).await
}

/// `POST /v1/responses`.
pub async fn responses(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    handle(gw, Api::OpenAiResponses, "/v1/responses", headers, body).await
}

/// `POST /v1/messages`.
pub async fn messages(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    handle(gw, Api::Anthropic, "/v1/messages", headers, body).await
}

async fn handle(
    gw: Arc<Gateway>,
    api: Api,
    path: &'static str,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match exchange(gw, api, path, headers, body).await {
        Ok(response) => response,
        Err(refusal) => {
            tracing::info!(
                api = api.name(),
                status = refusal.kind.status(api),
                "refused: {}",
                refusal.message
            );
            refusal.into_response()
        }
    }
}

/// A request that passed its checks, about to be forwarded.
struct Admitted {
    /// The request decision's record, durable or not yet: it is written while the request goes
    /// upstream, and nothing reaches the agent before it is durable.
    request_record: Option<warden_store::AppendHandle>,
    ctx: Context,
    summary: RequestSummary,
    route: upstream::Route,
    body: Bytes,
    strip_usage: bool,
    request_receipt: Option<String>,
    /// The call's budget reservation, when budgets apply to it.
    budget: Option<crate::budget::Hold>,
}

async fn exchange(
    gw: Arc<Gateway>,
    api: Api,
    path: &'static str,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let mut admitted = admit(&gw, api, &headers, body).await?;
    let permit = if admitted.summary.stream {
        let permit = gw.streams.clone().try_acquire_owned().map_err(|_| {
            Refusal::new(
                api,
                ErrorKind::RateLimited,
                "too many concurrent streams on this gateway; retry shortly",
            )
        })?;
        Some(permit)
    } else {
        None
    };
    // The request decision's record is written while the request is upstream; the answer waits
    // for it, so nothing reaches the agent before its decision is durable.
    let sent = gw.upstreams.send(
        &admitted.route,
        reqwest::Method::POST,
        path,
        &headers,
        Some(admitted.body.clone()),
    );
    let (response, recorded) = match admitted.request_record.take() {
        Some(pending) => {
            let (response, recorded) = tokio::join!(sent, pending);
            (response, Some(recorded))
        }
        None => (sent.await, None),
    };
    if let Some(recorded) = recorded {
        let appended = recorded.map_err(|e| {
            Refusal::new(
                api,
                ErrorKind::Internal,
                format!("Warden refused this request: its decision could not be recorded in the ledger ({e})."),
            )
        })?;
        if let Some(hold) = admitted.budget.as_mut() {
            hold.set_decision_id(&appended.id);
        }
        admitted.request_receipt = Some(appended.receipt);
    }
    let response = response.map_err(|e| upstream_refusal(api, &e))?;
    if !response.status().is_success() {
        return Err(complete::relay_error(&gw, api, &admitted.route, response).await);
    }
    let is_stream = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if is_stream {
        Ok(stream::respond(gw, api, admitted, response, permit))
    } else {
        complete::respond(&gw, api, admitted, response).await
    }
}

/// Identifies the agent, reads and summarizes the body, decides and records the request.
async fn admit(
    gw: &Gateway,
    api: Api,
    headers: &HeaderMap,
    body: Body,
) -> Result<Admitted, Refusal> {
    let identity = identify(headers, gw.credentials.as_ref(), &gw.config)
        .map_err(|e| Refusal::unauthenticated(api, &e))?;
    if let Some(halt) = gw.halts.check(&identity.agent.id) {
        return Err(Refusal::new(
            api,
            ErrorKind::PermissionDenied,
            format!(
                "agent `{}` is halted by {}: {}",
                identity.agent.id, halt.by, halt.reason
            ),
        ));
    }
    let bytes = read_body(gw, api, headers, body).await?;
    let mut json: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Refusal::new(
            api,
            ErrorKind::InvalidRequest,
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    let summary = summarize_request(api, &json)
        .map_err(|e| Refusal::new(api, ErrorKind::InvalidRequest, e.to_string()))?;
    let route = gw
        .upstreams
        .route(api, &summary.model)
        .ok_or_else(|| {
            Refusal::new(
                api,
                ErrorKind::NotFound,
                format!(
                    "no provider on this gateway serves model `{}` for {}",
                    summary.model,
                    api.name()
                ),
            )
        })?
        .clone();
    let bundle = gw.policy.current().ok_or_else(|| {
        Refusal::new(
            api,
            ErrorKind::Internal,
            "no policy bundle is loaded; nothing is released",
        )
    })?;
    let ctx = Context {
        changed_tools: gw.pins.observe(&identity.agent.id, &summary.tools),
        history: judge::history(&summary.history),
        provider: route.name.clone(),
        model: summary.model.clone(),
        identity,
    };
    let action = judge::request_action(&ctx, &summary, api.name());
    let decision = bundle.evaluate(&action);
    let reserved = match (&gw.budgets, decision.outcome.releases()) {
        (Some(budgets), true) => budgets.reserve(
            &crate::budget::CallFacts {
                identity: &ctx.identity,
                api,
                model: &summary.model,
                body: &bytes,
                requested_max_tokens: summary.max_tokens,
                max_cost_usd: decision.constraints.max_cost_usd,
            },
            crate::approvals::now_ms(),
        ),
        _ => Ok(None),
    };
    let mut draft = judge::draft(&ctx, &decision, &action);
    if let (Ok(Some(hold)), warden_ledger::Event::Decision(d)) = (&reserved, &mut draft.event) {
        d.cost = Some(warden_ledger::Cost {
            projected_micro_usd: Some(hold.amount().0),
            actual_micro_usd: None,
        });
    }
    let pending = gw.ledger.append(draft);
    if !decision.outcome.releases() {
        let judged = Judged {
            record: pending.await.map_err(|e| e.to_string()),
            decision,
            approval: None,
        };
        let kind = if judged.record.is_ok() {
            ErrorKind::PermissionDenied
        } else {
            ErrorKind::Internal
        };
        let mut refusal = Refusal::new(
            api,
            kind,
            format!(
                "Warden refused this request ({} Ledger record: {}.",
                judged.refusal(),
                judged.record_id()
            ),
        );
        refusal.receipts.extend(judged.receipt().map(str::to_owned));
        return Err(refusal);
    }
    let budget = match reserved {
        Ok(hold) => hold,
        Err(refused) => return Err(budget_refusal(gw, api, &ctx, pending, &refused).await),
    };
    let mut body = bytes;
    if redacts_prompt(&decision) {
        // A `remediate` decision on the request redacts the secrets found in it before it leaves.
        json = judge::redact(json);
        body = Bytes::from(json.to_string());
    }
    let mut strip_usage = false;
    if summary.stream {
        let agent_asked = request_stream_usage(api, &mut json)
            .map_err(|e| Refusal::new(api, ErrorKind::InvalidRequest, e.to_string()))?;
        if !agent_asked {
            strip_usage = true;
            body = Bytes::from(json.to_string());
        }
    }
    if let Some(hold) = &budget {
        let changed = crate::budget::apply_max_tokens(api, &mut json, hold, summary.max_tokens)
            .map_err(|e| Refusal::new(api, ErrorKind::InvalidRequest, e.to_string()))?;
        if changed {
            body = Bytes::from(json.to_string());
        }
    }
    Ok(Admitted {
        budget,
        request_record: Some(pending),
        request_receipt: None,
        ctx,
        summary,
        route,
        body,
        strip_usage,
    })
}

/// The refusal of a call no budget reservation covers (HTTP 402 for an exhausted budget), after
/// its decision and a spend record naming the budget are in the ledger.
async fn budget_refusal(
    gw: &Gateway,
    api: Api,
    ctx: &Context,
    decision: warden_store::AppendHandle,
    refused: &crate::budget::BudgetRefusal,
) -> Refusal {
    let spend = gw.ledger.append(crate::budget::refusal_record(
        &ctx.identity,
        &ctx.model,
        refused,
    ));
    let (decision, spend) = tokio::join!(decision, spend);
    let mut refusal = Refusal::new(api, refused.kind(), refused.to_string());
    match (decision, spend) {
        (Ok(d), Ok(s)) => {
            refusal.message = format!("{} (ledger record {})", refusal.message, s.id);
            refusal.receipts.extend([d.receipt, s.receipt]);
        }
        (Err(e), _) | (_, Err(e)) => tracing::error!("recording a budget refusal failed: {e}"),
    }
    refusal
}

/// Whether a request decision asks for the prompt's secrets to be redacted (a `remediate`
/// outcome whose rewrite targets `@prompt`).
fn redacts_prompt(decision: &warden_policy::Decision) -> bool {
    decision.outcome == warden_policy::Outcome::Remediate
        && decision
            .rewrite
            .as_ref()
            .is_some_and(|r| r.changed.iter().any(|c| c == PROMPT_TARGET))
}

/// The rewrite target naming an LLM request's prompt.
pub const PROMPT_TARGET: &str = "@prompt";

/// Reads the request body, refusing one over the configured limit before reading it all.
async fn read_body(
    gw: &Gateway,
    api: Api,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, Refusal> {
    let limit = usize::try_from(gw.config.limits.max_body_bytes).unwrap_or(usize::MAX);
    let too_large = || {
        Refusal::new(
            api,
            ErrorKind::RequestTooLarge,
            format!("the request body exceeds this gateway's limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > gw.config.limits.max_body_bytes) {
        return Err(too_large());
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(e) => {
            let over = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if over {
                Err(too_large())
            } else {
                Err(Refusal::new(
                    api,
                    ErrorKind::InvalidRequest,
                    format!("the request body could not be read: {e}"),
                ))
            }
        }
    }
}

fn upstream_refusal(api: Api, error: &UpstreamError) -> Refusal {
    let kind = match error {
        UpstreamError::Timeout(_) => ErrorKind::Timeout,
        UpstreamError::NoKey { .. } | UpstreamError::Unreachable { .. } => ErrorKind::Internal,
    };
    tracing::warn!("{error}");
    Refusal::new(api, kind, error.to_string())
}

/// Response headers of the provider worth passing on (request ids, rate-limit figures).
fn relayed_headers(from: &reqwest::header::HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        let n = name.as_str();
        let keep = n == "x-request-id"
            || n == "request-id"
            || n.starts_with("x-ratelimit-")
            || n.starts_with("anthropic-ratelimit-")
            || n == "openai-processing-ms"
            || n == "retry-after";
        if keep {
            to.append(name.clone(), value.clone());
        }
    }
}
