//! Typed errors for the analyzers' fallible operations (today only SQL rewriting).
//!
//! Analysis itself never fails: it reports `opaque` instead. Only functions that must produce a
//! transformed artefact return these errors.

/// Why a SQL rewrite could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    /// The input could not be parsed in the requested dialect.
    #[error("SQL does not parse: {0}")]
    Parse(String),
    /// The input holds no statement at all.
    #[error("SQL input is empty")]
    Empty,
    /// The input holds more than one statement; only a single SELECT can be rewritten.
    #[error("expected a single statement, found {0}")]
    MultipleStatements(usize),
    /// The statement is not a plain SELECT query (its kind is given).
    #[error("only a SELECT can be limited, found {0}")]
    NotASelect(String),
    /// The existing LIMIT is not a literal number, so it cannot be compared with the cap.
    #[error("existing LIMIT is not a literal row count: {0}")]
    NonLiteralLimit(String),
    /// The input exceeds the size the analyzer accepts.
    #[error("SQL input of {0} bytes exceeds the {1}-byte limit")]
    TooLarge(usize, usize),
}
