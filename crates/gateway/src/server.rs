//! The agents' listener: routes, and serving until shutdown.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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

/// Serves agents on `listener` until `shutdown` resolves, reloading policy meanwhile; in-flight
/// requests finish first.
pub async fn serve(
    gw: Arc<Gateway>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let watcher = tokio::spawn(crate::reload::watch(gw.clone()));
    let served = axum::serve(listener, router(gw))
        .with_graceful_shutdown(shutdown)
        .await;
    watcher.abort();
    served
}
