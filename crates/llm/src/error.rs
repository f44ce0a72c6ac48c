//! The crate's one error type. Owns nothing else; depends on nothing but `thiserror`.

/// Why a request, response or stream could not be read or rewritten.
///
/// After any of these in a stream, no held tool call is ever released; the caller ends the stream
/// with a provider-shaped error (see [`crate::error_event`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Bytes or JSON that do not follow the provider's wire format (invalid UTF-8, invalid JSON,
    /// a missing or mistyped field the protocol requires).
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A configured size limit was exceeded.
    #[error("{what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// What grew too large (an SSE event, a tool call's arguments, the held bytes).
        what: &'static str,
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// The stream ended, or its final events arrived, while a tool call was still incomplete
    /// (the call was dropped), or an upstream that failed ended before its final events. Names
    /// what was incomplete.
    #[error("stream ended before {0} was complete")]
    Truncated(String),
    /// The number of verdicts does not match the number of proposed calls.
    #[error("{got} verdicts given for {expected} proposed tool calls")]
    VerdictCount {
        /// How many tool calls the response proposes.
        expected: usize,
        /// How many verdicts were given.
        got: usize,
    },
    /// A construct that would carry a tool call this crate cannot judge (for example the
    /// deprecated chat `function_call`); refused rather than passed through unjudged.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The stream rewriter was used out of order (fed after `finish`, resolved with nothing to
    /// judge).
    #[error("invalid use of the stream rewriter: {0}")]
    InvalidState(&'static str),
}
