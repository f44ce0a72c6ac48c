//! Errors of the policy engine: located load diagnostics and evaluation failures.

use std::fmt;

/// Where in a bundle a problem is, and what it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// The file, relative to the bundle directory.
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    /// The field or rule the problem is in (`rules[2].when`, `rule no-rm`), empty when the whole file.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A bundle that cannot be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BundleError {
    /// One or more files or rules are invalid; every problem found is listed.
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
    /// The bundle has no policy file at all.
    #[error("the bundle has no policy files (*.yaml or *.yml)")]
    Empty,
}

impl BundleError {
    /// Every located problem (empty for [`BundleError::Empty`]).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            BundleError::Invalid(list) => list,
            BundleError::Empty => &[],
        }
    }
}

fn render(list: &[Diagnostic]) -> String {
    let mut out = format!("{} problem(s) in the bundle", list.len());
    for d in list {
        out.push_str("\n  ");
        out.push_str(&d.to_string());
    }
    out
}

/// A fixture file that cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FixtureError {
    /// The fixture file is not valid.
    #[error("{0}")]
    Invalid(Diagnostic),
}
