//! Complete (non-streaming) responses: the API-independent entry points that dispatch to each
//! provider module. Must not do I/O or judge anything.

use crate::call::Outcome;
use crate::{
    Api, ProposedCall, ProtocolError, Usage, Verdict, anthropic, openai_chat, openai_responses,
};
use serde_json::Value;

/// Every tool call the model proposes in a complete response, in order.
///
/// # Errors
/// [`ProtocolError::Malformed`] when the response lacks the structure its API requires or a call
/// lacks its name; [`ProtocolError::Unsupported`] for the deprecated chat `function_call`.
pub fn proposed_calls(api: Api, response: &Value) -> Result<Vec<ProposedCall>, ProtocolError> {
    match api {
        Api::OpenAiChat => openai_chat::proposed_calls(response),
        Api::OpenAiResponses => openai_responses::proposed_calls(response),
        Api::Anthropic => anthropic::proposed_calls(response),
    }
}

/// Applies one verdict per proposed call (same order as [`proposed_calls`]): released calls stay
/// (with rewritten arguments where given), blocked calls are replaced by their text, and
/// `finish_reason` / `stop_reason` are corrected when no call remains. Fields this crate does not
/// know pass through untouched.
///
/// # Errors
/// [`ProtocolError::VerdictCount`] when the verdicts do not match the calls, or any error of
/// [`proposed_calls`]. On error the response is left unchanged.
pub fn apply_verdicts(
    api: Api,
    response: &mut Value,
    verdicts: &[Verdict],
) -> Result<(), ProtocolError> {
    let calls = proposed_calls(api, response)?;
    if calls.len() != verdicts.len() {
        return Err(ProtocolError::VerdictCount {
            expected: calls.len(),
            got: verdicts.len(),
        });
    }
    let outcomes: Vec<Outcome> = calls
        .iter()
        .zip(verdicts)
        .map(|(call, verdict)| Outcome::of(call, verdict.clone()))
        .collect();
    match api {
        Api::OpenAiChat => openai_chat::apply(response, outcomes),
        Api::OpenAiResponses => openai_responses::apply(response, outcomes),
        Api::Anthropic => anthropic::apply(response, outcomes),
    }
}

/// Usage figures of a complete response.
#[must_use]
pub fn usage_of(api: Api, response: &Value) -> Usage {
    match api {
        Api::OpenAiChat => openai_chat::usage(response),
        Api::OpenAiResponses => openai_responses::usage(response),
        Api::Anthropic => anthropic::usage(response),
    }
}
