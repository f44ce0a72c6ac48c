//! Proposed tool calls and the caller's verdicts on them, shared by every API module.
//! Must not depend on any one provider's wire format.

use serde_json::Value;

/// A tool call's arguments as the model produced them.
#[derive(Debug, Clone, PartialEq)]
pub enum Arguments {
    /// Arguments that parsed as JSON (for free-form custom tools: a JSON string).
    Json(Value),
    /// Arguments that are not valid JSON. Such a call is never released unchanged.
    Invalid {
        /// The arguments text exactly as the model produced it.
        raw: String,
        /// Why it did not parse.
        error: String,
    },
}

impl Arguments {
    /// Parses a JSON arguments string.
    #[must_use]
    pub fn parse(raw: &str) -> Self {
        match serde_json::from_str(raw) {
            Ok(value) => Arguments::Json(value),
            Err(error) => Arguments::Invalid {
                raw: raw.to_owned(),
                error: error.to_string(),
            },
        }
    }

    /// The parsed arguments, if they are valid JSON.
    #[must_use]
    pub fn json(&self) -> Option<&Value> {
        match self {
            Arguments::Json(value) => Some(value),
            Arguments::Invalid { .. } => None,
        }
    }
}

/// One tool call the model proposed, complete.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposedCall {
    /// Position among the response's tool calls, counting from 0 in the order they appear.
    pub index: usize,
    /// The provider's call id (`tool_calls[].id`, `call_id`, `tool_use.id`).
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The call's arguments.
    pub arguments: Arguments,
}

/// What the caller decided for one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Deliver the call; `Some` replaces its arguments (remediation).
    Release {
        /// Rewritten arguments, or `None` to deliver them unchanged.
        arguments: Option<Value>,
    },
    /// Remove the call and put this assistant text in its place.
    Block {
        /// The text naming the tool, outcome, rule, reason and ledger record id.
        text: String,
    },
}

/// A verdict made safe to apply: a call whose arguments are not JSON is never released unchanged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// Deliver exactly what the model produced.
    Unchanged,
    /// Deliver with these arguments.
    Rewritten(Value),
    /// Replace with this text.
    Blocked(String),
}

impl Outcome {
    /// Turns the caller's verdict on `call` into what is applied.
    pub(crate) fn of(call: &ProposedCall, verdict: Verdict) -> Self {
        match (verdict, &call.arguments) {
            (Verdict::Release { arguments: Some(v) }, _) => Outcome::Rewritten(v),
            (Verdict::Release { arguments: None }, Arguments::Json(_)) => Outcome::Unchanged,
            (Verdict::Release { arguments: None }, Arguments::Invalid { .. }) => {
                Outcome::Blocked(format!(
                    "Tool call `{}` was withheld: its arguments are not valid JSON.",
                    call.name
                ))
            }
            (Verdict::Block { text }, _) => Outcome::Blocked(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(arguments: Arguments) -> ProposedCall {
        ProposedCall {
            index: 0,
            id: "c".into(),
            name: "bash".into(),
            arguments,
        }
    }

    #[test]
    fn invalid_arguments_are_never_released_unchanged() {
        let c = call(Arguments::parse("{\"command\": "));
        let outcome = Outcome::of(&c, Verdict::Release { arguments: None });
        assert!(matches!(outcome, Outcome::Blocked(text) if text.contains("`bash`")));
    }

    #[test]
    fn rewritten_arguments_replace_invalid_ones() {
        let c = call(Arguments::parse("nope"));
        let outcome = Outcome::of(
            &c,
            Verdict::Release {
                arguments: Some(json!({"a": 1})),
            },
        );
        assert_eq!(outcome, Outcome::Rewritten(json!({"a": 1})));
    }

    #[test]
    fn valid_arguments_release_unchanged() {
        let c = call(Arguments::parse("{\"a\":1}"));
        assert_eq!(c.arguments.json(), Some(&json!({"a": 1})));
        let outcome = Outcome::of(&c, Verdict::Release { arguments: None });
        assert_eq!(outcome, Outcome::Unchanged);
    }
}
