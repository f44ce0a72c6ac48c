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
//! [`StreamRewriter::resolve`].

mod anthropic;
mod call;
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
}
