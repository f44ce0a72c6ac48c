//! Provider-shaped errors: the JSON bodies and mid-stream events each provider itself sends, so
//! the agent's SDK raises its usual exception for Warden's refusals (bad key, exhausted budget,
//! halted agent, a stream Warden had to end). Must not do I/O.

use crate::Api;
use crate::json::write_event;
use serde_json::{Value, json};

/// The kind of error, mapped to each provider's error type and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is invalid (400).
    InvalidRequest,
    /// Missing or unknown key (401).
    Authentication,
    /// A budget is exhausted (402).
    BudgetExhausted,
    /// The agent may not do this, or is halted (403).
    PermissionDenied,
    /// Unknown route or model (404).
    NotFound,
    /// The body is too large (413).
    RequestTooLarge,
    /// Too many requests (429).
    RateLimited,
    /// Warden or the upstream failed (500).
    Internal,
    /// The upstream did not answer in time (504).
    Timeout,
    /// The upstream is overloaded (529 for Anthropic, 503 for OpenAI).
    Overloaded,
}

impl ErrorKind {
    /// The HTTP status the provider uses for this kind.
    #[must_use]
    pub fn status(self, api: Api) -> u16 {
        match self {
            ErrorKind::InvalidRequest => 400,
            ErrorKind::Authentication => 401,
            ErrorKind::BudgetExhausted => 402,
            ErrorKind::PermissionDenied => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::RequestTooLarge => 413,
            ErrorKind::RateLimited => 429,
            ErrorKind::Internal => 500,
            ErrorKind::Timeout => 504,
            ErrorKind::Overloaded if api == Api::Anthropic => 529,
            ErrorKind::Overloaded => 503,
        }
    }

    /// Anthropic's `error.type`.
    fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::BudgetExhausted => "billing_error",
            ErrorKind::PermissionDenied => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::RequestTooLarge => "request_too_large",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Internal => "api_error",
            ErrorKind::Timeout => "timeout_error",
            ErrorKind::Overloaded => "overloaded_error",
        }
    }

    /// OpenAI's `error.type` and `error.code`.
    fn openai_type_and_code(self) -> (&'static str, Option<&'static str>) {
        match self {
            ErrorKind::InvalidRequest => ("invalid_request_error", None),
            ErrorKind::Authentication => ("invalid_request_error", Some("invalid_api_key")),
            ErrorKind::BudgetExhausted => ("insufficient_quota", Some("insufficient_quota")),
            ErrorKind::PermissionDenied => ("invalid_request_error", Some("permission_denied")),
            ErrorKind::NotFound => ("invalid_request_error", Some("not_found")),
            ErrorKind::RequestTooLarge => ("invalid_request_error", Some("request_too_large")),
            ErrorKind::RateLimited => ("requests", Some("rate_limit_exceeded")),
            ErrorKind::Internal => ("server_error", None),
            ErrorKind::Timeout => ("server_error", Some("timeout")),
            ErrorKind::Overloaded => ("server_error", Some("overloaded")),
        }
    }
}

/// The error body the provider returns with [`ErrorKind::status`]: OpenAI
/// `{"error": {"message", "type", "param": null, "code"}}`, Anthropic
/// `{"type": "error", "error": {"type", "message"}}`.
#[must_use]
pub fn error_body(api: Api, kind: ErrorKind, message: &str) -> Value {
    match api {
        Api::OpenAiChat | Api::OpenAiResponses => {
            let (kind, code) = kind.openai_type_and_code();
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
        Api::Anthropic => {
            json!({"type": "error", "error": {"type": kind.anthropic_type(), "message": message}})
        }
    }
}

/// A mid-stream error event as the provider sends it: a `data: {"error": {...}}` line for OpenAI
/// Chat, `event: error` for Anthropic and for Responses (whose event carries no
/// `sequence_number` here; use [`crate::StreamRewriter::error_event`] inside a rewritten stream).
#[must_use]
pub fn error_event(api: Api, kind: ErrorKind, message: &str) -> Vec<u8> {
    error_event_numbered(api, kind, message, None)
}

/// [`error_event`] with the Responses `sequence_number` given.
pub(crate) fn error_event_numbered(
    api: Api,
    kind: ErrorKind,
    message: &str,
    sequence_number: Option<u64>,
) -> Vec<u8> {
    let mut out = Vec::new();
    match api {
        Api::OpenAiChat => write_event(&mut out, None, &error_body(api, kind, message)),
        Api::Anthropic => write_event(&mut out, Some("error"), &error_body(api, kind, message)),
        Api::OpenAiResponses => {
            let (_, code) = kind.openai_type_and_code();
            let mut event =
                json!({"type": "error", "code": code, "message": message, "param": null});
            if let (Some(number), Some(fields)) = (sequence_number, event.as_object_mut()) {
                fields.insert("sequence_number".into(), number.into());
            }
            write_event(&mut out, Some("error"), &event);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_body_has_the_sdk_shape() {
        let body = error_body(Api::OpenAiChat, ErrorKind::BudgetExhausted, "no budget");
        assert_eq!(
            body,
            json!({"error": {"message": "no budget", "type": "insufficient_quota",
                "param": null, "code": "insufficient_quota"}})
        );
        assert_eq!(ErrorKind::BudgetExhausted.status(Api::OpenAiChat), 402);
    }

    #[test]
    fn anthropic_body_has_the_sdk_shape() {
        let body = error_body(Api::Anthropic, ErrorKind::Authentication, "bad key");
        assert_eq!(
            body,
            json!({"type": "error", "error": {"type": "authentication_error", "message": "bad key"}})
        );
        assert_eq!(ErrorKind::Overloaded.status(Api::Anthropic), 529);
    }

    #[test]
    fn stream_error_events_match_each_provider() {
        let chat = String::from_utf8(error_event(Api::OpenAiChat, ErrorKind::Internal, "x"))
            .unwrap_or_default();
        assert!(chat.starts_with("data: {\"error\":"), "{chat}");
        let anthropic = String::from_utf8(error_event(Api::Anthropic, ErrorKind::Overloaded, "x"))
            .unwrap_or_default();
        assert!(
            anthropic.starts_with(
                "event: error\ndata: {\"error\":{\"message\":\"x\",\"type\":\"overloaded_error\"}"
            ),
            "{anthropic}"
        );
        let responses = String::from_utf8(error_event_numbered(
            Api::OpenAiResponses,
            ErrorKind::Internal,
            "x",
            Some(7),
        ))
        .unwrap_or_default();
        assert!(
            responses.contains("\"sequence_number\":7") && responses.starts_with("event: error\n"),
            "{responses}"
        );
    }
}
