//! Warden's LLM protocol core: what Warden needs to read from, and change in, the traffic between
//! an agent's LLM SDK and the provider, for OpenAI Chat Completions, OpenAI Responses and Anthropic
//! Messages, streaming and not.
//!
//! The crate is sans-I/O, in the manner of rustls: callers feed it JSON values or raw upstream
//! bytes and ask it for output. It owns request summaries (policy facts and budget inputs),
//! tool-call extraction, applying the caller's verdicts to a complete response, an incremental
//! SSE parser, and one streaming state machine per API that holds each tool call until it is
//! judged. It must not depend on an async runtime, an HTTP stack, the filesystem or a clock, and
//! it does no judging itself: policy and ledger live with the caller.
//!
//! Non-streaming use: [`proposed_calls`], judge each call, then [`apply_verdicts`]. Streaming use:
//! [`StreamRewriter`], driven by [`StreamRewriter::feed`], [`StreamRewriter::poll`] and
//! [`StreamRewriter::resolve`]:
//!
//! ```
//! use warden_llm::{Api, Limits, Step, StreamRewriter, Verdict};
//!
//! let upstream: &[&[u8]] = &[
//!     b"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,",
//!     b"\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"bash\",\"input\":{}}}\n\n",
//!     b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,",
//!     b"\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"command\\\":\\\"rm -rf /\\\"}\"}}\n\n",
//!     b"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
//! ];
//! let mut rewriter = StreamRewriter::new(Api::Anthropic, Limits::default());
//! let mut to_agent = Vec::new();
//! for bytes in upstream {
//!     rewriter.feed(bytes)?;
//!     loop {
//!         match rewriter.poll() {
//!             Step::Emit(bytes) => to_agent.extend_from_slice(&bytes),
//!             // The caller evaluates policy and writes the ledger record here.
//!             Step::Judge(call) => rewriter.resolve(Verdict::Block {
//!                 text: format!("Tool call `{}` denied by rule no-destructive-shell.", call.name),
//!             })?,
//!             Step::NeedInput | Step::Done => break,
//!         }
//!     }
//! }
//! rewriter.finish(true)?;
//! let text = String::from_utf8(to_agent)?;
//! assert!(text.contains("\"type\":\"text_delta\""));
//! assert!(!text.contains("rm -rf"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Design notes. Each stream machine keeps three things apart: events it passes on at once
//! (text, reasoning, keep-alives: their original bytes, after a borrowed parse of the few fields
//! that matter), events it holds (everything belonging to one tool call, plus in the Responses
//! API events of later items that must not overtake it), and events it composes (a released call
//! re-chunked with rewritten arguments, the text replacing a blocked call). A blocked call is
//! replaced one for one (an Anthropic `text` block at the same `index`, a Responses `message`
//! item at the same `output_index`, a chat `delta.content` chunk), so only chat tool-call
//! indexes and Responses sequence numbers ever need renumbering. Errors latch: after one, no held
//! call is released.

mod anthropic;
mod call;
mod cut;
mod error;
mod head;
mod json;
mod openai_chat;
mod openai_responses;
mod provider_error;
mod request;
mod response;
mod sse;
mod stream;

pub use call::{Arguments, ProposedCall, Verdict};
pub use cut::OutputMeter;
pub use error::ProtocolError;
pub use provider_error::{ErrorKind, error_body, error_event};
pub use request::{
    HistoryItem, RequestSummary, ToolDefinition, clamp_max_tokens, request_stream_usage,
    summarize_request,
};
pub use response::{apply_verdicts, proposed_calls, usage_of};
pub use sse::{SseEvent, SseParser};
pub use stream::{Limits, Step, StreamRewriter};

/// The provider API a request or response speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// OpenAI Chat Completions (`POST /v1/chat/completions`).
    OpenAiChat,
    /// OpenAI Responses (`POST /v1/responses`).
    OpenAiResponses,
    /// Anthropic Messages (`POST /v1/messages`).
    Anthropic,
}

impl Api {
    /// A short, stable name for messages and logs.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Api::OpenAiChat => "openai-chat",
            Api::OpenAiResponses => "openai-responses",
            Api::Anthropic => "anthropic",
        }
    }
}

/// Token counts a provider reported for one response; `None` where it reported nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens (`prompt_tokens` / `input_tokens`).
    pub input_tokens: Option<u64>,
    /// Generated tokens (`completion_tokens` / `output_tokens`).
    pub output_tokens: Option<u64>,
    /// The part of `input_tokens` read from the provider's prompt cache (`cached_tokens` /
    /// Anthropic's `cache_read_input_tokens`), charged at the cached-input price.
    pub cached_input_tokens: Option<u64>,
}
