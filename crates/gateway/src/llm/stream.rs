//! Streams: upstream bytes go through a [`StreamRewriter`]; text and reasoning reach the agent as
//! they arrive, each tool call is held until complete, judged, recorded, then released or
//! replaced. Receipts travel as SSE comment lines (`: warden-receipt <jws>`), which SDKs ignore.
//!
//! Memory stays bounded whatever the client does: the channel to the agent holds a few chunks, a
//! client that stops reading for the upstream time limit is dropped, and the rewriter's own
//! limits cap what it holds.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use warden_llm::{Api, ErrorKind, Limits, ProtocolError, Step, StreamRewriter};

use super::complete::judge_all;
use super::judge;
use super::{Admitted, relayed_headers};
use crate::state::Gateway;

/// Chunks queued for the agent before the upstream is no longer read.
const CHANNEL_DEPTH: usize = 16;

/// Starts relaying `response` to the agent and returns the streaming response at once.
pub(super) fn respond(
    gw: Arc<Gateway>,
    api: Api,
    admitted: Admitted,
    response: reqwest::Response,
    permit: Option<OwnedSemaphorePermit>,
) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
    let mut headers = axum::http::HeaderMap::new();
    relayed_headers(response.headers(), &mut headers);
    tokio::spawn(async move {
        let _permit = permit;
        let mut relay = Relay { gw, api, tx };
        relay.run(admitted, response).await;
    });
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    }));
    let mut out = Response::new(body);
    *out.status_mut() = StatusCode::OK;
    let h = out.headers_mut();
    h.extend(headers);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out
}

/// The client went away (or stopped reading); the relay stops.
struct Gone;

struct Relay {
    gw: Arc<Gateway>,
    api: Api,
    tx: mpsc::Sender<Bytes>,
}

impl Relay {
    async fn send(&self, bytes: Bytes) -> Result<(), Gone> {
        match tokio::time::timeout(self.gw.upstreams.timeout, self.tx.send(bytes)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Gone),
        }
    }

    async fn receipt(&self, receipt: Option<&str>) -> Result<(), Gone> {
        match receipt {
            Some(r) => {
                self.send(Bytes::from(format!(": warden-receipt {r}\n\n")))
                    .await
            }
            None => Ok(()),
        }
    }

    async fn run(&mut self, admitted: Admitted, mut response: reqwest::Response) {
        let limits = self.gw.config.limits;
        let tool_args = usize::try_from(limits.max_tool_args_bytes).unwrap_or(usize::MAX);
        let rewriter_limits = Limits {
            max_tool_args_bytes: tool_args,
            max_event_bytes: tool_args
                .saturating_add(64 << 10)
                .max(Limits::default().max_event_bytes),
            max_buffered_bytes: tool_args
                .saturating_mul(4)
                .max(Limits::default().max_buffered_bytes),
        };
        let mut rewriter =
            StreamRewriter::new(self.api, rewriter_limits).strip_usage_chunk(admitted.strip_usage);
        if self
            .receipt(admitted.request_receipt.as_deref())
            .await
            .is_err()
        {
            return;
        }
        let mut upstream_over = false;
        loop {
            // Hand over everything ready, judging held calls as they complete.
            let failure = match self.drain(&mut rewriter, &admitted).await {
                Err(Gone) => return,
                Ok(Drained::Done) => return,
                Ok(Drained::Failed(e)) => Some(e),
                Ok(Drained::NeedInput) if upstream_over => return,
                Ok(Drained::NeedInput) => None,
            };
            if let Some(error) = failure {
                self.fail(&mut rewriter, &admitted, &error).await;
                return;
            }
            let fed = match tokio::time::timeout(self.gw.upstreams.timeout, response.chunk()).await
            {
                Ok(Ok(Some(bytes))) => rewriter.feed(&bytes),
                Ok(Ok(None)) => {
                    upstream_over = true;
                    rewriter.finish(true)
                }
                Ok(Err(e)) => {
                    upstream_over = true;
                    tracing::warn!(provider = %admitted.route.name, "stream failed: {}", super::upstream::describe(&e));
                    rewriter.finish(false)
                }
                Err(_) => {
                    upstream_over = true;
                    tracing::warn!(provider = %admitted.route.name, "stream stalled past the upstream time limit");
                    // Nothing more will be read; what is held is never released.
                    let _ = rewriter.finish(false);
                    Err(ProtocolError::Truncated(
                        "the response (the provider stopped sending)".into(),
                    ))
                }
            };
            if let Err(error) = fed {
                self.fail(&mut rewriter, &admitted, &error).await;
                return;
            }
        }
    }

    /// Emits and judges until the rewriter needs input, ends or fails.
    async fn drain(
        &self,
        rewriter: &mut StreamRewriter,
        admitted: &Admitted,
    ) -> Result<Drained, Gone> {
        loop {
            match rewriter.poll() {
                Step::Emit(bytes) => self.send(Bytes::from(bytes)).await?,
                Step::NeedInput => return Ok(Drained::NeedInput),
                Step::Done => return Ok(Drained::Done),
                Step::Judge(call) => {
                    let Some(bundle) = self.gw.policy.current() else {
                        return Ok(Drained::Failed(ProtocolError::Unsupported(
                            "judging without a policy bundle".into(),
                        )));
                    };
                    let judged = judge_all(
                        &self.gw,
                        &bundle,
                        &admitted.ctx,
                        std::slice::from_ref(&call),
                    )
                    .await;
                    let Some(judged) = judged.into_iter().next() else {
                        return Ok(Drained::Failed(ProtocolError::InvalidState("no decision")));
                    };
                    self.receipt(judged.receipt()).await?;
                    if let Err(e) = rewriter.resolve(judge::verdict(&call, &judged)) {
                        return Ok(Drained::Failed(e));
                    }
                }
            }
        }
    }

    /// Sends what is still safe to send, then the provider-shaped error event.
    async fn fail(
        &self,
        rewriter: &mut StreamRewriter,
        admitted: &Admitted,
        error: &ProtocolError,
    ) {
        while let Step::Emit(bytes) = rewriter.poll() {
            if self.send(Bytes::from(bytes)).await.is_err() {
                return;
            }
        }
        let message = match error {
            ProtocolError::Truncated(what) => format!(
                "provider `{}` ended the stream before {what} was complete; no incomplete tool call was delivered",
                admitted.route.name
            ),
            other => format!(
                "the stream from provider `{}` could not be relayed safely ({other}); no unjudged tool call was delivered",
                admitted.route.name
            ),
        };
        tracing::warn!(agent = %admitted.ctx.identity.agent.id, "{message}");
        let _ = self
            .send(Bytes::from(
                rewriter.error_event(ErrorKind::Internal, &message),
            ))
            .await;
    }
}

enum Drained {
    NeedInput,
    Done,
    Failed(ProtocolError),
}
