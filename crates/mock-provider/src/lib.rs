//! A scripted LLM provider that speaks the OpenAI Chat Completions, OpenAI Responses and
//! Anthropic Messages wire formats, streaming and not, byte for byte as the real providers do,
//! so the official SDKs parse it (directly or through Warden) without error.
//!
//! Owns the mock's script format ([`Script`]), its HTTP server ([`serve`], [`router`]) and the
//! rendering of one provider-neutral [`Reply`] into each API shape. It is a test and benchmark
//! fixture: it must not depend on any other Warden crate, so the gateway is always tested against
//! an upstream that knows nothing about it.
//!
//! Layout: `script` (YAML → validated replies), `request` (what is read from a request body),
//! `turn` (a reply bound to one request: ids, clock, usage), `openai_chat`, `openai_responses`
//! and `anthropic` (one module per wire format), `sse` (framing, pacing, stream faults),
//! `api_error` (provider-shaped errors) and `server` (routes and delivery).

mod anthropic;
mod api_error;
mod clock;
mod error;
mod openai_chat;
mod openai_responses;
mod request;
mod script;
mod server;
mod sse;
mod turn;

pub use clock::{Clock, FixedClock, SystemClock};
pub use error::MockError;
pub use script::{Condition, DEFAULT_CHUNK_SIZE, Fault, Finish, Reply, Script, ToolCall, Usage};
pub use server::{DEFAULT_BODY_LIMIT, MockConfig, REPLY_HEADER, router, serve, serve_with};
