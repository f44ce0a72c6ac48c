//! Errors the gateway itself raises, in the provider's own JSON shape and status, so the agent's
//! SDK raises its usual exception (`AuthenticationError`, `PermissionDeniedError`, …).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use warden_llm::{Api, ErrorKind, error_body};

/// A refusal of a request, rendered for the API it was made to.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The API whose error shape is used.
    pub api: Api,
    /// The kind of error (fixes the status).
    pub kind: ErrorKind,
    /// The message the SDK shows.
    pub message: String,
    /// Receipts of ledger records the refusal produced.
    pub receipts: Vec<String>,
}

impl Refusal {
    /// A refusal without receipts.
    pub fn new(api: Api, kind: ErrorKind, message: impl Into<String>) -> Refusal {
        Refusal {
            api,
            kind,
            message: message.into(),
            receipts: Vec::new(),
        }
    }
}

impl Refusal {
    /// The refusal of a request whose caller could not be identified.
    pub fn unauthenticated(api: Api, error: &crate::identity::AuthError) -> Refusal {
        use crate::identity::AuthError;
        let kind = match error {
            AuthError::Missing | AuthError::Invalid => ErrorKind::Authentication,
            AuthError::UnknownAgent(_) | AuthError::OperatorToken => ErrorKind::PermissionDenied,
            AuthError::Store(_) => ErrorKind::Internal,
        };
        Refusal::new(api, kind, error.to_string())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.kind.status(self.api))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = error_body(self.api, self.kind, &self.message).to_string();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.kind == ErrorKind::Authentication && self.api != Api::Anthropic {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"warden\""),
            );
        }
        for receipt in &self.receipts {
            if let Ok(value) = HeaderValue::from_str(receipt) {
                headers.append(super::RECEIPT_HEADER, value);
            }
        }
        response
    }
}
