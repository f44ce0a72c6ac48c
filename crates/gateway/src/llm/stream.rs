//! Streams: upstream bytes go through a [`StreamRewriter`]; text and reasoning reach the agent as
//! they arrive, each tool call is held until complete, judged, recorded (and, when policy asks,
//! approved by a human while keep-alive comments flow), then released or replaced. Receipts
//! travel as SSE comment lines (`: warden-receipt <jws>`), which SDKs ignore. A halt of the agent
//! ends the stream at once with an error event.
//!
//! Memory stays bounded whatever the client does: the channel to the agent holds a few chunks, a
//! client that stops reading for the upstream time limit is dropped, and the rewriter's own
//! limits cap what it holds.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use warden_llm::{Api, ErrorKind, Limits, ProposedCall, ProtocolError, Step, StreamRewriter};

use super::complete::judge_all;
use super::judge::{self, Judged};
use super::{Admitted, hold, relayed_headers};
use crate::budget::Hold;
use crate::budget::hold::Ending;
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
        let mut admitted = admitted;
        let hold = admitted.budget.take();
        let mut relay = Relay::new(gw, api, tx, admitted.strip_usage, hold.as_ref());
        let mut response = response;
        relay.run_until_halted(admitted, &mut response).await;
        if let Some(hold) = hold {
            relay.settle(hold, &mut response).await;
        }
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

enum Drained {
    NeedInput,
    Done,
    Failed(ProtocolError),
}

struct Relay {
    gw: Arc<Gateway>,
    /// The agent's stream; `None` once it is closed.
    tx: Option<mpsc::Sender<Bytes>>,
    rewriter: StreamRewriter,
    /// The upstream's answer was relayed to its end.
    completed: bool,
}

impl Relay {
    fn new(
        gw: Arc<Gateway>,
        api: Api,
        tx: mpsc::Sender<Bytes>,
        strip_usage: bool,
        hold: Option<&Hold>,
    ) -> Relay {
        let tool_args = usize::try_from(gw.config.limits.max_tool_args_bytes).unwrap_or(usize::MAX);
        let limits = Limits {
            max_tool_args_bytes: tool_args,
            max_event_bytes: tool_args
                .saturating_add(64 << 10)
                .max(Limits::default().max_event_bytes),
            max_buffered_bytes: tool_args
                .saturating_mul(4)
                .max(Limits::default().max_buffered_bytes),
        };
        let mut rewriter = StreamRewriter::new(api, limits).strip_usage_chunk(strip_usage);
        if let Some(hold) = hold {
            rewriter = rewriter.meter_output(Box::new(hold.meter()));
        }
        Relay {
            rewriter,
            gw,
            tx: Some(tx),
            completed: false,
        }
    }

    async fn send(&self, bytes: Bytes) -> Result<(), Gone> {
        let Some(tx) = &self.tx else {
            return Err(Gone);
        };
        match tokio::time::timeout(self.gw.upstreams.timeout, tx.send(bytes)).await {
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

    /// Relays until the stream ends or the agent is halted; a halt ends the stream at once
    /// (whatever is held, a call awaiting approval included, is dropped) with an error event.
    async fn run_until_halted(&mut self, admitted: Admitted, response: &mut reqwest::Response) {
        let gw = self.gw.clone();
        let agent = admitted.ctx.identity.agent.id.clone();
        let mut changes = gw.halts.subscribe();
        let halted = async move {
            loop {
                if let Some(halt) = gw.halts.check(&agent) {
                    return halt;
                }
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        let halt = tokio::select! {
            () = self.run(admitted, response) => return,
            halt = halted => halt,
        };
        let message = format!("agent halted by {}: {}", halt.by, halt.reason);
        tracing::warn!("stream ended: {message}");
        let event = self
            .rewriter
            .error_event(ErrorKind::PermissionDenied, &message);
        let _ = self.send(Bytes::from(event)).await;
    }

    async fn run(&mut self, admitted: Admitted, response: &mut reqwest::Response) {
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
            let failure = match self.drain(&admitted).await {
                Err(Gone) => return,
                Ok(Drained::Done) => {
                    self.completed = true;
                    return;
                }
                Ok(Drained::Failed(e)) => Some(e),
                Ok(Drained::NeedInput) if upstream_over => {
                    self.completed = true;
                    return;
                }
                Ok(Drained::NeedInput) => None,
            };
            if let Some(error) = failure {
                self.fail(&admitted, &error).await;
                return;
            }
            let read = tokio::time::timeout(self.gw.upstreams.timeout, response.chunk()).await;
            let fed = match read {
                Ok(Ok(Some(bytes))) => self.rewriter.feed(&bytes),
                Ok(Ok(None)) => {
                    upstream_over = true;
                    self.rewriter.finish(true)
                }
                Ok(Err(e)) => {
                    upstream_over = true;
                    tracing::warn!(provider = %admitted.route.name, "stream failed: {}", super::upstream::describe(&e));
                    self.rewriter.finish(false)
                }
                Err(_) => {
                    upstream_over = true;
                    tracing::warn!(provider = %admitted.route.name, "stream stalled past the upstream time limit");
                    // Nothing more will be read; what is held is never released.
                    let _ = self.rewriter.finish(false);
                    Err(ProtocolError::Truncated(
                        "the response (the provider stopped sending)".into(),
                    ))
                }
            };
            if let Err(error) = fed {
                self.fail(&admitted, &error).await;
                return;
            }
        }
    }

    /// Emits and judges until the rewriter needs input, ends or fails.
    async fn drain(&mut self, admitted: &Admitted) -> Result<Drained, Gone> {
        loop {
            match self.rewriter.poll() {
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
                    let judged = self.settle_keeping_alive(admitted, &call, judged).await?;
                    self.receipt(judged.receipt()).await?;
                    if let Err(e) = self.rewriter.resolve(judge::verdict(&call, &judged)) {
                        return Ok(Drained::Failed(e));
                    }
                }
            }
        }
    }

    /// Settles a call that may need approval, sending keep-alive comments while it waits.
    async fn settle_keeping_alive(
        &self,
        admitted: &Admitted,
        call: &ProposedCall,
        judged: Judged,
    ) -> Result<Judged, Gone> {
        let settle = hold::settle(&self.gw, &admitted.ctx, call, judged);
        tokio::pin!(settle);
        let every = Duration::from_millis(self.gw.approvals.settings.keepalive_ms.max(1));
        let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                judged = &mut settle => return Ok(judged),
                _ = keepalive.tick() => self.send(Bytes::from_static(b": keep-alive\n\n")).await?,
            }
        }
    }

    /// Settles the stream's reservation. A stream Warden cut is closed to the agent first; the
    /// upstream is then read to its end only for the usage figures (it stops at the
    /// `max_tokens` the reservation set).
    async fn settle(&mut self, hold: Hold, response: &mut reqwest::Response) {
        let ending = if self.rewriter.was_cut() {
            self.tx = None;
            tracing::info!(
                tokens = self.rewriter.metered_output_tokens(),
                "stream ended: its budget reservation is spent"
            );
            while let Ok(Ok(Some(bytes))) =
                tokio::time::timeout(self.gw.upstreams.timeout, response.chunk()).await
            {
                let _ = self.rewriter.feed(&bytes);
            }
            Ending::Cut
        } else if self.completed {
            Ending::Complete
        } else {
            Ending::Aborted
        };
        hold.settle(
            self.rewriter.usage(),
            self.rewriter.metered_output_tokens(),
            ending,
        );
    }

    /// Sends what is still safe to send, then the provider-shaped error event.
    async fn fail(&mut self, admitted: &Admitted, error: &ProtocolError) {
        while let Step::Emit(bytes) = self.rewriter.poll() {
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
        let event = self.rewriter.error_event(ErrorKind::Internal, &message);
        let _ = self.send(Bytes::from(event)).await;
    }
}
