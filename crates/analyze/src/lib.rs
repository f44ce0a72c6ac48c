//! Semantic analyzers for tool-call arguments: shell scripts, SQL, file paths, URLs and secrets.
//!
//! Each analyzer turns one untrusted string into a plain facts struct that the policy engine
//! exposes to CEL conditions through `serde::Serialize`; field names are therefore part of the
//! policy language (`shell.destructive`, `sql.has_limit`, `url.private`, ...).
//!
//! This crate is pure: it must not depend on an async runtime, an HTTP stack, the filesystem or
//! the clock. Every analyzer is total: no input makes it panic, and input it cannot understand is
//! reported as `opaque` rather than silently treated as benign.

pub mod path;
pub mod secrets;
pub mod shell;
pub mod sql;
pub mod url;

mod error;

pub use error::SqlError;

/// Why a flag was raised; shown in explanations.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The fact this finding supports, e.g. `destructive`.
    pub fact: String,
    /// Human-readable reason, e.g. `rm -r -f: recursive forced delete`.
    pub detail: String,
}

impl Finding {
    /// Builds a finding for `fact` with the given explanation.
    pub fn new(fact: &str, detail: impl Into<String>) -> Self {
        Self {
            fact: fact.to_owned(),
            detail: detail.into(),
        }
    }
}
