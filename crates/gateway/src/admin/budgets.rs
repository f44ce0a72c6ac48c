//! `/v1/budgets`: limits, spending and what is left, per scope and window; operators set or
//! remove limits and reset a period's spending. Reading needs any operator role; changing
//! needs `admin`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use warden_budget::{Micros, ScopeKey, Window, utc_timestamp};
use warden_store::{Balance, Role};

use super::{ApiError, json_response, operator};
use crate::approvals::now_ms;
use crate::budget::Budgets;
use crate::state::Gateway;

const READERS: &[Role] = &[Role::Admin, Role::Approver, Role::Auditor];

/// One limit and its state in the current period.
struct Line {
    limit: Option<Micros>,
    source: &'static str,
    balance: Option<Balance>,
}

/// `GET /v1/budgets`: every limit (configured for every id shown as `kind:*`) and every scope
/// with spending in its current period.
pub(super) async fn list(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Err(e) = operator(&gw, &headers, READERS) {
        return e.into_response();
    }
    let budgets = match enabled(&gw) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let now = now_ms();
    let mut lines: BTreeMap<(String, Window), Line> = BTreeMap::new();
    for limit in &budgets.settings.limits {
        let scope = format!(
            "{}:{}",
            limit.kind.name(),
            limit.id.as_deref().unwrap_or("*")
        );
        lines.insert(
            (scope, limit.window),
            Line {
                limit: Some(limit.limit),
                source: "config",
                balance: None,
            },
        );
    }
    let stored = match budgets.store.limits() {
        Ok(l) => l,
        Err(e) => return store_error(&e).into_response(),
    };
    for limit in stored {
        lines.insert(
            (limit.scope, limit.window),
            Line {
                limit: Some(limit.limit),
                source: "operator",
                balance: None,
            },
        );
    }
    let spending = match budgets.store.spending(None, now) {
        Ok(s) => s,
        Err(e) => return store_error(&e).into_response(),
    };
    for balance in spending {
        let key = (balance.scope.clone(), balance.window);
        let limit = match lines.get(&key) {
            Some(line) => (line.limit, line.source),
            None => resolved(budgets, &balance.scope, balance.window),
        };
        lines.insert(
            key,
            Line {
                limit: limit.0,
                source: limit.1,
                balance: Some(balance),
            },
        );
    }
    let outstanding = budgets.store.outstanding().unwrap_or_default();
    let views: Vec<Value> = lines
        .iter()
        .map(|((scope, window), line)| view(scope, *window, line, now))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"budgets": views, "outstanding_reservations": outstanding}),
    )
}

/// `GET /v1/budgets/{scope}`: the limits on one scope (`agent:billing-bot`) and its spending.
pub(super) async fn show(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(scope): Path<String>,
) -> Response {
    if let Err(e) = operator(&gw, &headers, READERS) {
        return e.into_response();
    }
    let (budgets, key) = match enabled(&gw).and_then(|b| Ok((b, parse_scope(&scope)?))) {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let now = now_ms();
    let spending = match budgets.store.spending(Some(&key), now) {
        Ok(s) => s,
        Err(e) => return store_error(&e).into_response(),
    };
    let views: Vec<Value> = Window::ALL
        .iter()
        .filter_map(|&window| {
            let (limit, source) = resolved(budgets, &scope, window);
            let balance = spending.iter().find(|b| b.window == window).cloned();
            (limit.is_some() || balance.is_some()).then(|| {
                view(
                    &scope,
                    window,
                    &Line {
                        limit,
                        source,
                        balance,
                    },
                    now,
                )
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({"scope": scope, "budgets": views}))
}

/// `POST /v1/budgets/{scope}` with `{"window": "day", "usd": 5}` sets a limit; `"usd": null`
/// removes the operator's limit (a configured one applies again).
pub(super) async fn set(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(scope): Path<String>,
    body: Bytes,
) -> Response {
    let op = match operator(&gw, &headers, &[Role::Admin]) {
        Ok(op) => op,
        Err(e) => return e.into_response(),
    };
    let parsed = enabled(&gw).and_then(|b| Ok((b, parse_scope(&scope)?, parse_body(&body)?)));
    let (budgets, key, body) = match parsed {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let window = match window_of(&body) {
        Ok(Some(w)) => w,
        Ok(None) => return invalid("`window` (day, month or total) is required").into_response(),
        Err(e) => return e.into_response(),
    };
    let changed = match body.get("usd") {
        Some(Value::Null) => budgets.store.remove_limit(&key, window).map(|_| ()),
        Some(v) => match v.as_f64().map(Micros::from_usd) {
            Some(Ok(limit)) => budgets
                .store
                .set_limit(&key, window, limit, &op.name, now_ms())
                .map(|_| ()),
            _ => {
                return invalid("`usd` must be an amount between 0 and 1e9, or null")
                    .into_response();
            }
        },
        None => return invalid("`usd` is required (null removes the limit)").into_response(),
    };
    if let Err(e) = changed {
        return store_error(&e).into_response();
    }
    tracing::info!(operator = %op.name, scope = %key, window = %window, "budget limit changed");
    show(State(gw), headers, Path(scope)).await
}

/// `POST /v1/budgets/{scope}/reset` with `{"window": …}` (optional: every window): settled
/// spending in the current period goes back to zero; calls in flight keep their reservations.
pub(super) async fn reset(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(scope): Path<String>,
    body: Bytes,
) -> Response {
    let op = match operator(&gw, &headers, &[Role::Admin]) {
        Ok(op) => op,
        Err(e) => return e.into_response(),
    };
    let parsed = enabled(&gw).and_then(|b| {
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            parse_body(&body)?
        };
        Ok((b, parse_scope(&scope)?, window_of(&body)?))
    });
    let (budgets, key, window) = match parsed {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = budgets.store.reset(&key, window, now_ms()) {
        return store_error(&e).into_response();
    }
    tracing::info!(operator = %op.name, scope = %key, "budget spending reset");
    show(State(gw), headers, Path(scope)).await
}

fn enabled(gw: &Gateway) -> Result<&Budgets, ApiError> {
    gw.budgets.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "budgets_off",
            "budgets are off on this gateway (warden.yaml has no `budgets:` section)",
        )
    })
}

/// The limit in force on `scope` over `window` and where it comes from.
fn resolved(budgets: &Budgets, scope: &str, window: Window) -> (Option<Micros>, &'static str) {
    let Ok(key) = scope.parse::<ScopeKey>() else {
        return (None, "none");
    };
    let stored = budgets
        .store
        .limits()
        .unwrap_or_default()
        .into_iter()
        .find(|l| l.scope == scope && l.window == window);
    if let Some(limit) = stored {
        return (Some(limit.limit), "operator");
    }
    match budgets
        .configured(std::slice::from_ref(&key))
        .into_iter()
        .find(|l| l.window == window)
    {
        Some(l) => (Some(l.limit), "config"),
        None => (None, "none"),
    }
}

fn view(scope: &str, window: Window, line: &Line, now: u64) -> Value {
    let spent = line.balance.as_ref().map_or(Micros::ZERO, |b| b.spent);
    let reserved = line.balance.as_ref().map_or(Micros::ZERO, |b| b.reserved);
    let remaining = line.limit.map(|l| l.minus(spent).minus(reserved));
    let resets = window.period(now).end_ms;
    json!({
        "scope": scope,
        "window": window.name(),
        "source": line.source,
        "limit_usd": line.limit.map(Micros::as_usd),
        "spent_usd": spent.as_usd(),
        "reserved_usd": reserved.as_usd(),
        "remaining_usd": remaining.map(Micros::as_usd),
        "limit_micro_usd": line.limit.map(|m| m.0),
        "spent_micro_usd": spent.0,
        "reserved_micro_usd": reserved.0,
        "remaining_micro_usd": remaining.map(|m| m.0),
        "resets_at": resets.map(utc_timestamp),
    })
}

fn parse_scope(scope: &str) -> Result<ScopeKey, ApiError> {
    scope.parse().map_err(|e: warden_budget::ScopeError| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_scope", e.to_string())
    })
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| invalid(&format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(invalid("the body must be a JSON object"));
    }
    Ok(value)
}

fn window_of(body: &Value) -> Result<Option<Window>, ApiError> {
    match body.get("window") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|e: warden_budget::WindowError| invalid(&e.to_string())),
        Some(_) => Err(invalid("`window` must be day, month or total")),
    }
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message)
}

fn store_error(e: &warden_store::StoreError) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "store",
        format!("the budget store is unavailable: {e}"),
    )
}
