//! Policy fixtures: files of actions with the outcome (and optionally the rules) expected.
//!
//! ```yaml
//! agent: { id: ci-bot, labels: { env: production } }   # optional, for cases without an agent
//! cases:
//!   - name: rm-rf-root
//!     action: { kind: tool_call, tool: { name: bash, args: { command: "rm -rf /" } } }
//!     expect: deny
//!     rules: [no-destructive-shell]                    # optional: the deciding rules, exactly
//! ```

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::Outcome;
use crate::action::Action;
use crate::bundle::{Bundle, SourceFile};
use crate::error::{Diagnostic, FixtureError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixtureFile {
    #[serde(default)]
    agent: Option<serde_json::Value>,
    cases: Vec<Spanned<RawCase>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "description documents the case; the runner does not read it"
)]
struct RawCase {
    name: String,
    #[serde(default)]
    description: Option<String>,
    action: serde_json::Value,
    expect: Outcome,
    #[serde(default)]
    rules: Option<Vec<String>>,
}

/// One fixture case, ready to run.
#[derive(Debug, Clone)]
pub struct Case {
    /// The fixture file.
    pub file: String,
    /// 1-based line of the case.
    pub line: u64,
    /// The case name.
    pub name: String,
    /// The action to decide.
    pub action: Action,
    /// The outcome expected.
    pub expect: Outcome,
    /// The deciding rules expected (any when `None`).
    pub rules: Option<Vec<String>>,
}

/// Parses a fixture file into cases.
pub fn parse(file: &SourceFile) -> Result<Vec<Case>, FixtureError> {
    let err = |line: u64, column: u64, field: String, message: String| {
        FixtureError::Invalid(Diagnostic {
            file: file.name.clone(),
            line,
            column,
            field,
            message,
        })
    };
    let raw: RawFixtureFile = serde_saphyr::from_str(&file.text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        let msg = e.without_snippet().to_string();
        err(
            line,
            column,
            String::new(),
            msg.lines().next().unwrap_or("invalid YAML").to_owned(),
        )
    })?;
    let mut cases = Vec::with_capacity(raw.cases.len());
    for (i, case) in raw.cases.into_iter().enumerate() {
        let loc = case.referenced;
        let RawCase {
            name,
            description: _,
            mut action,
            expect,
            rules,
        } = case.value;
        if let (Some(agent), serde_json::Value::Object(map)) = (&raw.agent, &mut action) {
            map.entry("agent").or_insert_with(|| agent.clone());
        }
        let action: Action = serde_json::from_value(action).map_err(|e| {
            err(
                loc.line(),
                loc.column(),
                format!("cases[{i}].action"),
                format!("case `{name}`: {e}"),
            )
        })?;
        cases.push(Case {
            file: file.name.clone(),
            line: loc.line(),
            name,
            action,
            expect,
            rules,
        });
    }
    Ok(cases)
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case.
    pub case: Case,
    /// Whether outcome (and rules, when given) were as expected.
    pub passed: bool,
    /// The decision's outcome.
    pub outcome: Outcome,
    /// The decision's deciding rules.
    pub rules: Vec<String>,
    /// On failure: the explanation of the decision.
    pub explanation: Option<String>,
}

/// Runs every case against the bundle.
pub fn run(bundle: &Bundle, cases: Vec<Case>) -> Vec<CaseResult> {
    cases
        .into_iter()
        .map(|case| {
            let decision = bundle.evaluate(&case.action);
            let mut got_rules = decision.rules.clone();
            got_rules.sort();
            let rules_ok = case.rules.as_ref().is_none_or(|want| {
                let mut want = want.clone();
                want.sort();
                want == got_rules
            });
            let passed = decision.outcome == case.expect && rules_ok;
            let explanation = (!passed).then(|| bundle.explain(&case.action).render_text());
            CaseResult {
                outcome: decision.outcome,
                rules: decision.rules,
                passed,
                explanation,
                case,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> SourceFile {
        SourceFile {
            name: "t.yaml".into(),
            text: text.into(),
        }
    }

    #[test]
    fn file_agent_fills_cases_without_one() {
        let cases = parse(&source(
            "agent: {id: a1, labels: {env: prod}}\ncases:\n  - name: x\n    action: {kind: tool_call, tool: {name: bash, args: {command: ls}}}\n    expect: allow\n",
        ))
        .unwrap();
        assert_eq!(cases[0].action.agent.id, "a1");
        assert_eq!(cases[0].line, 3);
    }

    #[test]
    fn bad_action_is_located() {
        let e = parse(&source(
            "cases:\n  - name: x\n    action: {kind: tool_call, tol: {}}\n    expect: allow\n",
        ))
        .unwrap_err();
        let FixtureError::Invalid(d) = e;
        assert_eq!(d.line, 2);
        assert!(d.message.contains("unknown field `tol`"), "{}", d.message);
    }
}
