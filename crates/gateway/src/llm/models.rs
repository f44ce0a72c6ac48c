//! `GET /v1/models`: the models of every provider of the caller's API family, filtered to those
//! the policy lets this agent request. Answered in the OpenAI list shape, or the Anthropic one
//! when the client sends `anthropic-version`.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use warden_llm::{Api, ErrorKind, RequestSummary};

use super::judge::{self, Context};
use super::refusal::Refusal;
use crate::identity::identify;
use crate::state::Gateway;

/// `GET /v1/models`.
pub async fn list(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let api = if headers.contains_key("anthropic-version") {
        Api::Anthropic
    } else {
        Api::OpenAiChat
    };
    match models(&gw, api, &headers).await {
        Ok(body) => ([("content-type", "application/json")], body.to_string()).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn models(gw: &Gateway, api: Api, headers: &HeaderMap) -> Result<Value, Refusal> {
    let identity = identify(headers, gw.credentials.as_ref(), &gw.config)
        .map_err(|e| Refusal::unauthenticated(api, &e))?;
    let bundle = gw
        .policy
        .current()
        .ok_or_else(|| Refusal::new(api, ErrorKind::Internal, "no policy bundle is loaded"))?;
    let mut ids = BTreeSet::new();
    for route in gw.upstreams.routes_for(api) {
        ids.extend(
            route
                .provider
                .models
                .iter()
                .filter(|m| !m.contains('*'))
                .cloned(),
        );
        match gw
            .upstreams
            .send(route, reqwest::Method::GET, "/v1/models", headers, None)
            .await
        {
            Ok(response) if response.status().is_success() => {
                let bytes = response.bytes().await.unwrap_or_default();
                if let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&bytes) {
                    let listed = body
                        .get("data")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten();
                    ids.extend(
                        listed
                            .filter_map(|m| m.get("id").and_then(Value::as_str))
                            .filter(|id| {
                                gw.upstreams
                                    .route(api, id)
                                    .is_some_and(|r| r.name == route.name)
                            })
                            .map(str::to_owned),
                    );
                }
            }
            Ok(response) => {
                tracing::warn!(provider = %route.name, status = response.status().as_u16(), "model list unavailable");
            }
            Err(e) => tracing::warn!("model list unavailable: {e}"),
        }
    }
    let allowed: Vec<String> = ids
        .into_iter()
        .filter(|model| {
            let ctx = Context {
                identity: identity.clone(),
                provider: String::new(),
                model: model.clone(),
                history: Vec::new(),
                changed_tools: Vec::new(),
            };
            let summary = RequestSummary {
                model: model.clone(),
                stream: false,
                max_tokens: None,
                tools: Vec::new(),
                history: Vec::new(),
                prompt_text: String::new(),
                include_usage: false,
            };
            let decision = bundle.evaluate(&judge::request_action(&ctx, &summary, api.name()));
            decision.outcome.releases()
        })
        .collect();
    Ok(match api {
        Api::Anthropic => json!({
            "data": allowed.iter().map(|id| json!({
                "type": "model", "id": id, "display_name": id, "created_at": "1970-01-01T00:00:00Z"
            })).collect::<Vec<_>>(),
            "has_more": false,
            "first_id": allowed.first(),
            "last_id": allowed.last(),
        }),
        Api::OpenAiChat | Api::OpenAiResponses => json!({
            "object": "list",
            "data": allowed.iter().map(|id| json!({
                "id": id, "object": "model", "created": 0, "owned_by": "warden"
            })).collect::<Vec<_>>(),
        }),
    })
}
