//! The listeners: the agents' routes, serving them and the admin API until shutdown.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use warden_llm::{Api, ErrorKind};

use crate::llm::{self, refusal::Refusal};
use crate::state::Gateway;

/// The agent-facing routes.
pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(llm::chat))
        .route("/v1/responses", post(llm::responses))
        .route("/v1/messages", post(llm::messages))
        .route("/v1/models", get(llm::models::list))
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(crate::authzen::routes())
        .merge(crate::mcp::routes())
        .fallback(not_found)
        .with_state(gw)
}

async fn not_found(uri: Uri) -> Response {
    Refusal::new(
        Api::OpenAiChat,
        ErrorKind::NotFound,
        format!("no route {} on this gateway", uri.path()),
    )
    .into_response()
}

/// Serves agents on `agents` and operators on `admin` (when given) until `shutdown` resolves,
/// reloading policy and expiring approvals meanwhile; in-flight requests finish first.
pub async fn serve(
    gw: Arc<Gateway>,
    agents: TcpListener,
    admin: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Compiled here (about 7 ms) rather than by the first request that carries text.
    if !warden_analyze::secrets::prepare() {
        tracing::error!("a secret-detection pattern failed to compile; scans use the others");
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let watcher = tokio::spawn(crate::reload::watch(gw.clone()));
    let expirer = tokio::spawn(expire_approvals(gw.clone()));
    let budget_expirer = gw
        .budgets
        .clone()
        .map(|b| tokio::spawn(crate::budget::expire_reservations(b)));
    let admin_server = admin.map(|listener| {
        let app = crate::admin::router(gw.clone());
        let until = until(stopped.clone());
        tokio::spawn(async move {
            axum::serve(listener.tap_io(no_delay), app)
                .with_graceful_shutdown(until)
                .await
        })
    });
    let mcp = gw.clone();
    let served = axum::serve(agents.tap_io(no_delay), router(gw))
        .with_graceful_shutdown(until(stopped))
        .await;
    if let Some(handle) = admin_server {
        match handle.await {
            Ok(Err(e)) => tracing::error!("admin listener: {e}"),
            Err(e) => tracing::error!("admin listener: {e}"),
            Ok(Ok(())) => {}
        }
    }
    watcher.abort();
    expirer.abort();
    mcp.mcp.shutdown().await;
    if let Some(task) = budget_expirer {
        task.abort();
    }
    served
}

/// Small writes (one SSE event) go out at once instead of waiting for Nagle's algorithm.
fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!("TCP_NODELAY: {e}");
    }
}

/// Expires approval requests nobody waits for any more (their agent went away, or Warden
/// restarted), so none stays pending forever.
async fn expire_approvals(gw: Arc<Gateway>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tick.tick().await;
        gw.approvals.expire_due(crate::approvals::now_ms()).await;
    }
}
