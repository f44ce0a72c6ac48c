//! The rule index: which rules of a bundle can match an action, found without visiting the rules
//! that cannot.
//!
//! A rule is left out when its `kinds` do not cover the action's kind, when its `tools` do not
//! match the action's tool, or when its condition is a conjunction one of whose terms compares an
//! always-present string fact with string literals (`agent.tenant == "acme" && …`,
//! `agent.team in ["a", "b"] && …`) that the action's value is not among. Such a term is false for
//! certain, and CEL's `false && x` is false whatever `x` is, so the rule could only be "not
//! matched". The index never changes a decision; it only avoids work. Explanations do not use it,
//! so that they keep tracing every rule.
//!
//! Pure: no I/O, no CEL evaluation.

use std::collections::HashMap;

use cel::IdedExpr;
use cel::common::ast::{Expr, LiteralValue};

use crate::action::{Action, ActionKind};
use crate::bundle::Rule;
use crate::profiles::Glob;

/// Every action kind, in the order the per-kind masks are kept.
const KINDS: [ActionKind; 5] = [
    ActionKind::ToolCall,
    ActionKind::LlmRequest,
    ActionKind::McpCall,
    ActionKind::Egress,
    ActionKind::Authzen,
];

/// A set of rule positions, one bit per rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleSet(Vec<u64>);

impl RuleSet {
    fn empty(rules: usize) -> RuleSet {
        RuleSet(vec![0; rules.div_ceil(64)])
    }

    fn insert(&mut self, rule: usize) {
        if let Some(word) = self.0.get_mut(rule / 64) {
            *word |= 1 << (rule % 64);
        }
    }

    fn union_with(&mut self, other: &RuleSet) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }

    fn intersect_with(&mut self, other: &RuleSet) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a &= b;
        }
    }

    /// The rule positions in the set, in ascending order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let bit = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                Some(i * 64 + bit)
            })
        })
    }
}

/// A string fact that every action has, so comparing it with a string literal never fails.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum GuardFact {
    Kind,
    AgentId,
    AgentTenant,
    AgentTeam,
    /// `agent.labels.?name.orValue(default)`: the label's value, or the default when absent.
    Label(String, String),
    ToolName,
    RequestModel,
    RequestProvider,
}

impl GuardFact {
    /// The fact a select chain names, when it is one the index can guard on.
    fn of_path(path: &[&str]) -> Option<GuardFact> {
        Some(match path {
            ["action", "kind"] => GuardFact::Kind,
            ["agent", "id"] => GuardFact::AgentId,
            ["agent", "tenant"] => GuardFact::AgentTenant,
            ["agent", "team"] => GuardFact::AgentTeam,
            ["tool", "name"] => GuardFact::ToolName,
            ["request", "model"] => GuardFact::RequestModel,
            ["request", "provider"] => GuardFact::RequestProvider,
            _ => return None,
        })
    }

    /// The fact's value for `action`, exactly as the facts give it to conditions.
    fn value<'a>(&'a self, action: &'a Action) -> &'a str {
        match self {
            GuardFact::Kind => action.kind.as_str(),
            GuardFact::AgentId => &action.agent.id,
            GuardFact::AgentTenant => &action.agent.tenant,
            GuardFact::AgentTeam => &action.agent.team,
            GuardFact::Label(name, default) => action
                .agent
                .labels
                .get(name)
                .map_or(default.as_str(), String::as_str),
            GuardFact::ToolName => action.tool.as_ref().map_or("", |t| t.name.as_str()),
            GuardFact::RequestModel => action.request.as_ref().map_or("", |r| r.model.as_str()),
            GuardFact::RequestProvider => {
                action.request.as_ref().map_or("", |r| r.provider.as_str())
            }
        }
    }
}

/// A term of a rule's top-level conjunction: the fact must be one of the values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Guard {
    fact: GuardFact,
    values: Vec<String>,
}

impl Guard {
    /// The first guard among the top-level `&&` terms of a condition, if any.
    pub(crate) fn find(expr: &IdedExpr) -> Option<Guard> {
        match &expr.expr {
            Expr::Call(call) if call.func_name == "_&&_" && call.target.is_none() => {
                call.args.iter().find_map(Guard::find)
            }
            _ => Guard::term(expr),
        }
    }

    fn term(expr: &IdedExpr) -> Option<Guard> {
        let Expr::Call(call) = &expr.expr else {
            return None;
        };
        if call.target.is_some() {
            return None;
        }
        match (call.func_name.as_str(), call.args.as_slice()) {
            ("_==_", [a, b]) => {
                let (fact, value) = match (guard_fact(a), string_literal(b)) {
                    (Some(fact), Some(value)) => (fact, value),
                    _ => (guard_fact(b)?, string_literal(a)?),
                };
                Some(Guard {
                    fact,
                    values: vec![value.to_owned()],
                })
            }
            ("@in", [a, list]) => {
                let Expr::List(list) = &list.expr else {
                    return None;
                };
                if !list.optional_indices.is_empty() {
                    return None;
                }
                let values = list
                    .elements
                    .iter()
                    .map(|e| string_literal(e).map(str::to_owned))
                    .collect::<Option<Vec<_>>>()?;
                Some(Guard {
                    fact: guard_fact(a)?,
                    values,
                })
            }
            _ => None,
        }
    }
}

/// The guardable fact an expression reads: a plain select chain, or a label read with
/// `agent.labels.?name.orValue("default")`.
fn guard_fact(expr: &IdedExpr) -> Option<GuardFact> {
    match &expr.expr {
        Expr::Select(_) => GuardFact::of_path(&select_chain(expr)?),
        Expr::Call(call) if call.func_name == "orValue" => {
            let (Some(target), [default]) = (&call.target, call.args.as_slice()) else {
                return None;
            };
            let default = string_literal(default)?;
            let Expr::Call(opt) = &target.expr else {
                return None;
            };
            let ("_?._", None, [labels, field]) =
                (opt.func_name.as_str(), &opt.target, opt.args.as_slice())
            else {
                return None;
            };
            if select_chain(labels)? != ["agent", "labels"] {
                return None;
            }
            Some(GuardFact::Label(
                string_literal(field)?.to_owned(),
                default.to_owned(),
            ))
        }
        _ => None,
    }
}

fn string_literal(expr: &IdedExpr) -> Option<&str> {
    match &expr.expr {
        Expr::Literal(LiteralValue::String(s)) => Some(s.inner()),
        _ => None,
    }
}

fn select_chain(expr: &IdedExpr) -> Option<Vec<&str>> {
    let mut fields = Vec::new();
    let mut cur = expr;
    loop {
        match &cur.expr {
            Expr::Select(s) if !s.test => {
                fields.push(s.field.as_str());
                cur = &s.operand;
            }
            Expr::Ident(name) => {
                fields.push(name.as_str());
                fields.reverse();
                return Some(fields);
            }
            _ => return None,
        }
    }
}

/// The rules guarded on one fact, by the value they need.
#[derive(Debug)]
struct GuardTable {
    fact: GuardFact,
    by_value: HashMap<String, RuleSet>,
}

/// The index of one bundle's rules.
#[derive(Debug)]
pub(crate) struct RuleIndex {
    /// Per action kind (in [`KINDS`] order): the rules whose `kinds` cover it.
    by_kind: Vec<RuleSet>,
    /// Rules without a `tools` filter.
    any_tool: RuleSet,
    /// Tool name → rules naming it exactly.
    tool_names: HashMap<String, RuleSet>,
    /// Tool-name patterns with `*`, and the rule each belongs to.
    tool_globs: Vec<(Glob, usize)>,
    /// Rules without a guard.
    unguarded: RuleSet,
    /// Guarded rules, per fact.
    guards: Vec<GuardTable>,
    /// An empty set of the bundle's size, cloned to start each lookup.
    none: RuleSet,
}

impl RuleIndex {
    /// Indexes `rules`.
    pub(crate) fn build(rules: &[Rule]) -> RuleIndex {
        let none = RuleSet::empty(rules.len());
        let mut index = RuleIndex {
            by_kind: vec![none.clone(); KINDS.len()],
            any_tool: none.clone(),
            tool_names: HashMap::new(),
            tool_globs: Vec::new(),
            unguarded: none.clone(),
            guards: Vec::new(),
            none,
        };
        for (i, rule) in rules.iter().enumerate() {
            index.add(i, rule);
        }
        index
    }

    fn add(&mut self, i: usize, rule: &Rule) {
        for (kind, set) in KINDS.iter().zip(&mut self.by_kind) {
            if rule.kinds.as_ref().is_none_or(|k| k.contains(kind)) {
                set.insert(i);
            }
        }
        match &rule.tools {
            None => self.any_tool.insert(i),
            Some(patterns) => {
                for pattern in patterns {
                    if pattern.contains('*') {
                        self.tool_globs.push((Glob::new(pattern), i));
                    } else {
                        self.tool_names
                            .entry(pattern.clone())
                            .or_insert_with(|| self.none.clone())
                            .insert(i);
                    }
                }
            }
        }
        let guard = rule
            .condition
            .as_ref()
            .and_then(|c| Guard::find(c.expression()));
        let Some(guard) = guard else {
            self.unguarded.insert(i);
            return;
        };
        let position = match self.guards.iter().position(|t| t.fact == guard.fact) {
            Some(p) => p,
            None => {
                self.guards.push(GuardTable {
                    fact: guard.fact.clone(),
                    by_value: HashMap::new(),
                });
                self.guards.len() - 1
            }
        };
        if let Some(table) = self.guards.get_mut(position) {
            for value in guard.values {
                table
                    .by_value
                    .entry(value)
                    .or_insert_with(|| self.none.clone())
                    .insert(i);
            }
        }
    }

    /// The rules that can match `action`, as positions in bundle order.
    pub(crate) fn candidates(&self, action: &Action) -> RuleSet {
        let kind = KINDS.iter().position(|k| *k == action.kind).unwrap_or(0);
        let mut out = self
            .by_kind
            .get(kind)
            .cloned()
            .unwrap_or_else(|| self.none.clone());

        let mut tools = self.any_tool.clone();
        if let Some(tool) = &action.tool {
            if let Some(set) = self.tool_names.get(&tool.name) {
                tools.union_with(set);
            }
            for (glob, rule) in &self.tool_globs {
                if glob.matches(&tool.name) {
                    tools.insert(*rule);
                }
            }
        }
        out.intersect_with(&tools);

        let mut guarded = self.unguarded.clone();
        for table in &self.guards {
            if let Some(set) = table.by_value.get(table.fact.value(action)) {
                guarded.union_with(set);
            }
        }
        out.intersect_with(&guarded);
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use crate::condition::Condition;

    fn guard(source: &str) -> Option<Guard> {
        Guard::find(Condition::compile(source).unwrap().expression())
    }

    #[test]
    fn guards_are_found_in_top_level_conjunctions() {
        let g = guard("agent.tenant == \"acme\" && shell.destructive").unwrap();
        assert_eq!(g.fact, GuardFact::AgentTenant);
        assert_eq!(g.values, ["acme"]);
        let g = guard("shell.mutates && (\"x\" == tool.name && sql.writes)").unwrap();
        assert_eq!(g.fact, GuardFact::ToolName);
        let g = guard("agent.team in [\"a\", \"b\"]").unwrap();
        assert_eq!(g.values, ["a", "b"]);
        let g = guard("agent.labels.?env.orValue(\"\") == \"production\" && sql.writes").unwrap();
        assert_eq!(g.fact, GuardFact::Label("env".into(), String::new()));
    }

    #[test]
    fn terms_that_may_be_true_otherwise_are_not_guards() {
        assert!(guard("agent.tenant == \"acme\" || shell.destructive").is_none());
        assert!(guard("!(agent.tenant == \"acme\")").is_none());
        assert!(guard("agent.tenant != \"acme\"").is_none());
        assert!(guard("agent.team in [\"a\", 1]").is_none());
        assert!(guard("agent.labels.env == \"production\"").is_none());
        assert!(guard("tool.server == \"fs\"").is_none());
        assert!(guard("request.max_tokens == 1").is_none());
    }

    fn candidates(bundle: &crate::Bundle, action: serde_json::Value) -> Vec<&str> {
        let action: Action = serde_json::from_value(action).unwrap();
        bundle
            .index
            .candidates(&action)
            .iter()
            .map(|i| bundle.rules[i].id.as_str())
            .collect()
    }

    #[test]
    fn rules_that_cannot_match_are_left_out() {
        let bundle = crate::Bundle::load(&[crate::SourceFile {
            name: "p.yaml".into(),
            text: r#"
rules:
  - id: any
    decision: allow
  - id: llm-only
    kinds: [llm_request]
    decision: allow
  - id: bash-only
    tools: [bash]
    decision: allow
  - id: svc-glob
    tools: ["svc_*", "other"]
    decision: allow
  - id: acme
    when: shell.destructive && agent.tenant == "acme"
    decision: deny
  - id: teams
    when: agent.team in ["a", "b"] && tool.name.startsWith("x")
    decision: deny
  - id: prod
    kinds: [tool_call]
    when: agent.labels.?env.orValue("none") == "production"
    decision: deny
"#
            .into(),
        }])
        .unwrap();
        let bash = serde_json::json!({"kind": "tool_call", "agent": {"tenant": "acme", "team": "b"},
            "tool": {"name": "bash", "args": {}}});
        assert_eq!(
            candidates(&bundle, bash),
            ["any", "bash-only", "acme", "teams"]
        );
        let svc = serde_json::json!({"kind": "tool_call", "agent": {"labels": {"env": "production"}},
            "tool": {"name": "svc_x", "args": {}}});
        assert_eq!(candidates(&bundle, svc), ["any", "svc-glob", "prod"]);
        let llm = serde_json::json!({"kind": "llm_request", "agent": {"team": "a"}});
        assert_eq!(candidates(&bundle, llm), ["any", "llm-only", "teams"]);
        // An absent label reads as the `orValue` default.
        let none = serde_json::json!({"kind": "tool_call", "tool": {"name": "other", "args": {}}});
        assert_eq!(candidates(&bundle, none), ["any", "svc-glob"]);
    }

    #[test]
    fn sets_iterate_in_order() {
        let mut s = RuleSet::empty(130);
        for i in [129, 0, 64, 63, 5] {
            s.insert(i);
        }
        assert_eq!(s.iter().collect::<Vec<_>>(), [0, 5, 63, 64, 129]);
        s.insert(500);
        assert_eq!(s.iter().count(), 5);
    }
}
