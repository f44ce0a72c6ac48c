//! Errors the mock answers with, in each provider's own error JSON shape.
//!
//! Owns [`ApiError`] and [`Dialect`]; the status and error type of every error are decided in one
//! exhaustive `match` each. The shapes are the ones the official SDKs turn into their usual
//! exceptions (`openai.AuthenticationError`, `anthropic.InternalServerError`, …).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Which provider's error shape to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `{"error": {"message", "type", "param", "code"}}`
    OpenAi,
    /// `{"type": "error", "error": {"type", "message"}}`
    Anthropic,
}

/// A request the mock refuses, or a scripted failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiError {
    /// No provider key was presented but the script requires one.
    MissingKey,
    /// The presented provider key is not the scripted one.
    WrongKey,
    /// The body is not JSON.
    MalformedJson(String),
    /// A required field is missing or has the wrong type.
    InvalidField {
        /// The field at fault.
        param: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The `Warden-Mock-Reply` header names no reply in the script.
    UnknownReply(String),
    /// The body exceeds the configured limit.
    BodyTooLarge,
    /// The body could not be read from the connection.
    BodyUnreadable(String),
    /// No such endpoint.
    NotFound(String),
    /// A reply scripted to fail with this status.
    Scripted(StatusCode),
    /// A response could not be encoded.
    Internal(String),
}

#[derive(Serialize)]
struct OpenAiBody<'a> {
    error: OpenAiError<'a>,
}

#[derive(Serialize)]
struct OpenAiError<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

#[derive(Serialize)]
struct AnthropicBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: AnthropicError<'a>,
}

#[derive(Serialize)]
struct AnthropicError<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
}

impl ApiError {
    /// The HTTP status of this error.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingKey | ApiError::WrongKey => StatusCode::UNAUTHORIZED,
            ApiError::MalformedJson(_)
            | ApiError::InvalidField { .. }
            | ApiError::UnknownReply(_)
            | ApiError::BodyUnreadable(_) => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Scripted(status) => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::MissingKey => "You didn't provide an API key.".to_owned(),
            ApiError::WrongKey => "Incorrect API key provided.".to_owned(),
            ApiError::MalformedJson(e) => {
                format!("We could not parse the JSON body of your request: {e}")
            }
            ApiError::InvalidField { param, message } => format!("{param}: {message}"),
            ApiError::UnknownReply(name) => {
                format!("Warden-Mock-Reply names no scripted reply: `{name}`")
            }
            ApiError::BodyTooLarge => "Request body too large.".to_owned(),
            ApiError::BodyUnreadable(e) => format!("Could not read the request body: {e}"),
            ApiError::NotFound(path) => format!("Unknown request URL: {path}"),
            ApiError::Scripted(status) => format!(
                "Scripted failure: {}",
                status.canonical_reason().unwrap_or("error")
            ),
            ApiError::Internal(e) => {
                format!("The server had an error while processing your request: {e}")
            }
        }
    }

    fn param(&self) -> Option<&'static str> {
        match self {
            ApiError::InvalidField { param, .. } => Some(param),
            _ => None,
        }
    }

    /// OpenAI's `(type, code)` for this error.
    fn openai_kind(&self) -> (&'static str, Option<&'static str>) {
        match self.status().as_u16() {
            401 => ("invalid_request_error", Some("invalid_api_key")),
            404 => ("invalid_request_error", Some("unknown_url")),
            429 => ("requests", Some("rate_limit_exceeded")),
            500..=599 => ("server_error", None),
            _ => ("invalid_request_error", None),
        }
    }

    /// Anthropic's error `type` for this error.
    fn anthropic_kind(&self) -> &'static str {
        match self.status().as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            503 | 529 => "overloaded_error",
            500..=599 => "api_error",
            _ => "invalid_request_error",
        }
    }

    /// The error body, serialized in `dialect`'s shape.
    pub(crate) fn body(&self, dialect: Dialect) -> Vec<u8> {
        let message = self.message();
        let encoded = match dialect {
            Dialect::OpenAi => {
                let (kind, code) = self.openai_kind();
                serde_json::to_vec(&OpenAiBody {
                    error: OpenAiError {
                        message: &message,
                        kind,
                        param: self.param(),
                        code,
                    },
                })
            }
            Dialect::Anthropic => serde_json::to_vec(&AnthropicBody {
                kind: "error",
                error: AnthropicError {
                    kind: self.anthropic_kind(),
                    message: &message,
                },
            }),
        };
        // Plain structs of strings always encode; an empty body is still an error response.
        encoded.unwrap_or_default()
    }

    /// The complete HTTP response in `dialect`'s shape.
    pub(crate) fn into_response(self, dialect: Dialect) -> Response {
        let mut response = (self.status(), self.body(dialect)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}
