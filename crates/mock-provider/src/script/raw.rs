//! The script file as written: serde types that mirror the YAML one to one.
//!
//! Owns the `Raw*` types. Every struct rejects unknown fields and keeps the location of the
//! nodes that validation may complain about. Validation lives in the parent module.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::Finish;

/// The whole script file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScript {
    /// Provider key clients must present; absent means any key (or none) is accepted.
    #[serde(default)]
    pub api_key: Option<Spanned<String>>,
    /// Model ids listed by `GET /v1/models`.
    #[serde(default)]
    pub models: Vec<Spanned<String>>,
    /// Name of the reply used when no other reply matches.
    #[serde(default)]
    pub default: Option<Spanned<String>>,
    /// The scripted replies, tried in order.
    pub replies: Spanned<Vec<Spanned<RawReply>>>,
}

/// One scripted reply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReply {
    pub name: Spanned<String>,
    #[serde(default)]
    pub when: Option<Spanned<RawCondition>>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub tool_calls: Vec<Spanned<RawToolCall>>,
    #[serde(default)]
    pub chunk_size: Option<Spanned<u64>>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub chunk_delay_ms: Option<u64>,
    #[serde(default)]
    pub usage: Option<RawUsage>,
    #[serde(default)]
    pub finish: Option<Finish>,
    #[serde(default)]
    pub fault: Option<Spanned<RawFault>>,
}

/// When a reply applies; every condition given must hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCondition {
    #[serde(default)]
    pub last_user_contains: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub after_tool_result: Option<bool>,
}

/// One tool call the model proposes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawToolCall {
    pub name: Spanned<String>,
    #[serde(default)]
    pub arguments: Option<Spanned<serde_json::Value>>,
}

/// Token counts reported in `usage`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// A failure to inject; exactly one field must be set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFault {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub reset_mid_stream: Option<u64>,
    #[serde(default)]
    pub malformed_sse: Option<u64>,
    #[serde(default)]
    pub truncate_tool_call: Option<bool>,
    #[serde(default)]
    pub slow_headers_ms: Option<u64>,
    #[serde(default)]
    pub ignore_max_tokens: Option<bool>,
}
