//! Whole (non-streaming) responses: every proposed tool call is judged and recorded, then the
//! verdicts are applied to the body, and the receipts travel in `Warden-Receipt` headers. Also
//! upstream error responses, relayed in the provider's own shape.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;
use warden_llm::{Api, ErrorKind, ProposedCall, apply_verdicts, proposed_calls};
use warden_policy::Bundle;

use super::judge::{self, Context, Judged};
use super::refusal::Refusal;
use super::upstream::{Route, describe};
use super::{Admitted, RECEIPT_HEADER, relayed_headers};
use crate::state::Gateway;

/// Largest upstream response body read.
const MAX_RESPONSE_BYTES: usize = 32 << 20;

/// Judges the calls in a whole response and answers the agent.
pub(super) async fn respond(
    gw: &Gateway,
    api: Api,
    mut admitted: Admitted,
    response: reqwest::Response,
) -> Result<Response, Refusal> {
    let status = response.status();
    let mut headers = axum::http::HeaderMap::new();
    relayed_headers(response.headers(), &mut headers);
    let body = read_limited(gw, response).await.map_err(|reason| {
        Refusal::new(
            api,
            ErrorKind::Internal,
            format!(
                "provider `{}` failed mid-response: {reason}",
                admitted.route.name
            ),
        )
    })?;
    let mut value: Value = serde_json::from_slice(&body).map_err(|e| {
        Refusal::new(
            api,
            ErrorKind::Internal,
            format!(
                "provider `{}` returned malformed JSON ({e}); nothing was released",
                admitted.route.name
            ),
        )
    })?;
    if let Some(hold) = admitted.budget.take() {
        let usage = warden_llm::usage_of(api, &value);
        hold.settle(usage, 0, crate::budget::hold::Ending::Complete);
    }
    let calls = proposed_calls(api, &value).map_err(|e| {
        Refusal::new(
            api,
            ErrorKind::Internal,
            format!("the provider's response could not be judged ({e}); nothing was released"),
        )
    })?;
    let bundle = gw.policy.current().ok_or_else(|| {
        Refusal::new(
            api,
            ErrorKind::Internal,
            "no policy bundle is loaded; nothing is released",
        )
    })?;
    let judged = judge_all(gw, &bundle, &admitted.ctx, &calls).await;
    let judged = futures_util::future::join_all(
        calls
            .iter()
            .zip(judged)
            .map(|(call, j)| super::hold::settle(gw, &admitted.ctx, call, j)),
    )
    .await;
    if let Some(halt) = gw.halts.check(&admitted.ctx.identity.agent.id) {
        return Err(Refusal::new(
            api,
            ErrorKind::PermissionDenied,
            format!(
                "agent halted by {}: {}; nothing was released",
                halt.by, halt.reason
            ),
        ));
    }
    let verdicts: Vec<_> = calls
        .iter()
        .zip(&judged)
        .map(|(call, j)| judge::verdict(call, j))
        .collect();
    apply_verdicts(api, &mut value, &verdicts).map_err(|e| {
        Refusal::new(
            api,
            ErrorKind::Internal,
            format!("the verdicts could not be applied ({e}); nothing was released"),
        )
    })?;
    let mut out = (
        StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::OK),
        value.to_string(),
    )
        .into_response();
    let out_headers = out.headers_mut();
    out_headers.extend(headers);
    out_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let receipts = admitted
        .request_receipt
        .iter()
        .map(String::as_str)
        .chain(judged.iter().filter_map(Judged::receipt));
    for receipt in receipts {
        if let Ok(v) = HeaderValue::from_str(receipt) {
            out_headers.append(RECEIPT_HEADER, v);
        }
    }
    Ok(out)
}

/// Decides every call and writes all their records at once (one group commit), then waits for
/// each to be durable.
pub(super) async fn judge_all(
    gw: &Gateway,
    bundle: &Arc<Bundle>,
    ctx: &Context,
    calls: &[ProposedCall],
) -> Vec<Judged> {
    let last = calls.len().saturating_sub(1);
    let pending: Vec<_> = calls
        .iter()
        .enumerate()
        .map(|(i, call)| {
            let decision =
                judge::decide_call(bundle, ctx, call, gw.config.limits.max_tool_args_bytes);
            let draft = judge::draft(ctx, &decision, &judge::tool_action(ctx, call));
            // Awaited at once: the last append may commit them all inline.
            let handle = if i == last {
                gw.ledger.append_now(draft)
            } else {
                gw.ledger.append(draft)
            };
            (decision, handle)
        })
        .collect();
    let mut judged = Vec::with_capacity(pending.len());
    for (decision, handle) in pending {
        judged.push(Judged {
            decision,
            record: handle.await.map_err(|e| e.to_string()),
            approval: None,
        });
    }
    for (call, j) in calls.iter().zip(&judged) {
        tracing::info!(
            agent = %ctx.identity.agent.id,
            tool = %call.name,
            outcome = j.decision.outcome.as_str(),
            record = j.record_id(),
            "tool call judged"
        );
    }
    judged
}

/// Reads an upstream body, bounded in size and in time between chunks.
async fn read_limited(gw: &Gateway, mut response: reqwest::Response) -> Result<Bytes, String> {
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout(gw.upstreams.timeout, response.chunk()).await {
            Err(_) => return Err("it stopped sending before the response was complete".into()),
            Ok(Err(e)) => return Err(describe(&e)),
            Ok(Ok(None)) => return Ok(Bytes::from(body)),
            Ok(Ok(Some(chunk))) => {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(format!("the response exceeds {MAX_RESPONSE_BYTES} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
}

/// An upstream error response, relayed: the provider's own JSON error passes through with its
/// status; anything else becomes a provider-shaped error. A provider refusing Warden's own key
/// is Warden's configuration problem, not the agent's, so it is never relayed as 401/403.
pub(super) async fn relay_error(
    gw: &Gateway,
    api: Api,
    route: &Route,
    response: reqwest::Response,
) -> Refusal {
    let status = response.status().as_u16();
    let body = read_limited(gw, response).await.ok();
    let message = body
        .as_ref()
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .and_then(|v| provider_message(&v))
        .unwrap_or_else(|| format!("provider `{}` answered HTTP {status}", route.name));
    tracing::warn!(provider = %route.name, status, "upstream error: {message}");
    let kind = match status {
        401 | 403 => {
            return Refusal::new(
                api,
                ErrorKind::Internal,
                format!(
                    "provider `{}` refused this gateway's credentials (HTTP {status}); an operator must fix its key",
                    route.name
                ),
            );
        }
        400 | 422 => ErrorKind::InvalidRequest,
        404 => ErrorKind::NotFound,
        413 => ErrorKind::RequestTooLarge,
        429 => ErrorKind::RateLimited,
        504 | 408 => ErrorKind::Timeout,
        503 | 529 => ErrorKind::Overloaded,
        _ => ErrorKind::Internal,
    };
    Refusal::new(api, kind, message)
}

/// The message of a provider error body of either shape.
fn provider_message(body: &Value) -> Option<String> {
    body.pointer("/error/message")
        .and_then(Value::as_str)
        .map(str::to_owned)
}
