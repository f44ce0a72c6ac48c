//! Warden's decision engine: policy bundles, CEL conditions, evaluation, explanation and the
//! fixture runner.
//!
//! This crate is pure: it depends on no async runtime, HTTP stack or filesystem. Callers read
//! bundle files and pass their text ([`SourceFile`]); actions come in as plain data ([`Action`]).
//!
//! ```
//! use warden_policy::{Action, Bundle, Outcome, SourceFile};
//!
//! let bundle = Bundle::load(&[SourceFile {
//!     name: "shell.yaml".into(),
//!     text: r#"
//! rules:
//!   - id: no-destructive-shell
//!     when: shell.destructive
//!     decision: deny
//!     reason: Destructive shell commands are never run by agents.
//! default: allow
//! "#
//!     .into(),
//! }])
//! .unwrap();
//! let action = Action::from_json(
//!     r#"{"kind":"tool_call","tool":{"name":"bash","args":{"command":"sudo rm -rf /"}}}"#,
//! )
//! .unwrap();
//! assert_eq!(bundle.evaluate(&action).outcome, Outcome::Deny);
//! ```

mod action;
mod bundle;
mod condition;
mod engine;
mod error;
mod facts;
mod fast;
pub mod fixtures;
mod index;
mod outcome;
mod profiles;
mod raw;

pub use action::{Action, ActionKind, Agent, Egress, HistoryEntry, Request, Tool};
pub use bundle::{ApprovalSpec, Bundle, Constraints, MAX_FILE_BYTES, MAX_RULES, Rule, SourceFile};
pub use condition::Condition;
pub use engine::{
    ApprovalRequirement, Decision, Explanation, MatchedRule, Rewrite, RuleError, RuleTrace,
};
pub use error::{BundleError, Diagnostic, FixtureError};
pub use facts::{Facts, compute as compute_facts};
pub use outcome::Outcome;
pub use profiles::{ArgType, Mapping, ToolMappings, glob_match, patch_paths};
pub use raw::parse_duration_ms;
