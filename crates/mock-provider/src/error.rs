//! Errors raised while loading a script.
//!
//! Owns [`MockError`]. Errors that a running server sends to its clients are shaped per provider
//! in `api_error`; this module must not depend on HTTP.

/// Why a script could not be loaded. Every variant names the line and column it refers to
/// (1-based; `0` when the problem concerns the script as a whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MockError {
    /// The text is not YAML of the script's shape: a syntax error, a value of the wrong type,
    /// a missing required field or an unknown field.
    #[error("line {line}, column {column}: {message}")]
    Yaml {
        /// Line of the offending node.
        line: u64,
        /// Column of the offending node.
        column: u64,
        /// What the YAML reader reported.
        message: String,
    },
    /// The YAML has the script's shape but a field holds a value the script does not allow.
    #[error("line {line}, column {column}: `{field}`: {message}")]
    Invalid {
        /// Line of the offending node.
        line: u64,
        /// Column of the offending node.
        column: u64,
        /// Path of the offending field, such as `replies[2].fault`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
}
