//! Evaluation: every applicable rule is evaluated, the most restrictive matching outcome wins,
//! and the bundle default applies when none matches.
//!
//! A rule whose condition fails at run time denies (fail closed) with a reason naming the rule.

use serde::Serialize;
use serde_json::Value;

use crate::Outcome;
use crate::action::Action;
use crate::bundle::{ApprovalSpec, Bundle, Constraints, Rule};
use crate::condition::{Condition, json_to_cel, sql_limit_json, with_scope};
use crate::facts::{self, Facts};
use crate::profiles::{ArgType, ToolMappings, glob_match};

/// What the engine decided, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The outcome.
    pub outcome: Outcome,
    /// The rules that decided it (those whose outcome is the final one), in bundle order.
    pub rules: Vec<String>,
    /// Why, in words: the deciding rules' reasons.
    pub reason: String,
    /// Every rule that matched, with its own outcome.
    pub matched: Vec<MatchedRule>,
    /// Constraints the action runs under when released.
    #[serde(skip_serializing_if = "Constraints::is_empty")]
    pub constraints: Constraints,
    /// For `require_approval`: what each deciding rule asks for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalRequirement>,
    /// For `remediate`: the rewritten tool call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<Rewrite>,
    /// Rules whose condition failed to evaluate (each makes the decision `deny`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<RuleError>,
    /// Whether no rule matched and the bundle default applied.
    pub defaulted: bool,
    /// The digest of the bundle that decided.
    pub bundle: String,
}

impl Decision {
    /// A denial the caller makes itself, before or instead of the rules (an action that cannot
    /// be evaluated, a tool whose definition changed, …): `rule` names the caller's check, and
    /// the decision carries `bundle`'s digest like any other.
    #[must_use]
    pub fn denial(bundle: &Bundle, rule: &str, reason: String) -> Decision {
        Decision {
            outcome: Outcome::Deny,
            rules: vec![rule.to_owned()],
            reason,
            matched: Vec::new(),
            constraints: Constraints::default(),
            approvals: Vec::new(),
            rewrite: None,
            errors: Vec::new(),
            defaulted: false,
            bundle: bundle.digest().to_owned(),
        }
    }
}

/// A rule that matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchedRule {
    /// The rule id.
    pub id: String,
    /// The rule's outcome.
    pub outcome: Outcome,
}

/// What one `require_approval` rule asks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalRequirement {
    /// The rule that asks.
    pub rule: String,
    /// Its approval terms.
    #[serde(flatten)]
    pub spec: ApprovalSpec,
}

/// A rewritten tool call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rewrite {
    /// The tool.
    pub tool: String,
    /// The arguments after the rewrite.
    pub args: Value,
    /// The argument paths that changed.
    pub changed: Vec<String>,
}

/// A rule whose condition or rewrite failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleError {
    /// The rule id.
    pub rule: String,
    /// What failed.
    pub error: String,
}

/// How one rule fared, for explanations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleTrace {
    /// The rule id.
    pub id: String,
    /// Where it is defined (`file:line`).
    pub source: String,
    /// Its outcome when it matches.
    pub outcome: Outcome,
    /// Why it was not evaluated (its `kinds` or `tools` do not cover the action).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Whether it matched.
    pub matched: bool,
    /// The error its condition raised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The condition as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// The facts the condition read, with their values.
    pub read: Vec<(String, Value)>,
}

/// A decision with the trace of every rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The decision.
    pub decision: Decision,
    /// Every rule of the bundle, in order.
    pub rules: Vec<RuleTrace>,
    /// The facts the action has (roots that differ from their defaults).
    pub facts: serde_json::Map<String, Value>,
}

/// The result of one rule's condition.
enum Verdict {
    Skipped(Skip),
    Matched,
    NotMatched,
    Failed(String),
}

impl Bundle {
    /// Decides `action`.
    pub fn evaluate(&self, action: &Action) -> Decision {
        self.run(action, false).0
    }

    /// Decides `action` and traces every rule.
    pub fn explain(&self, action: &Action) -> Explanation {
        let (decision, traces, facts) = self.run(action, true);
        let facts = facts
            .roots
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        Explanation {
            decision,
            rules: traces,
            facts,
        }
    }

    fn run(&self, action: &Action, trace: bool) -> (Decision, Vec<RuleTrace>, Facts) {
        // Decisions build only the analyzer facts the rules read; explanations show them all.
        let facts = if trace {
            facts::compute(action, &self.mappings)
        } else {
            facts::compute_with(action, &self.mappings, &self.needs)
        };
        let (decision, traces) = with_scope(facts.home.as_deref(), |ctx| {
            let mut scope = Scope {
                ctx,
                facts: &facts,
                bound: Vec::new(),
            };
            let mut traces = Vec::new();
            let mut verdicts: Vec<(&Rule, Verdict)> = Vec::new();
            if trace {
                // Explanations trace every rule, so they walk the whole bundle.
                for rule in &self.rules {
                    let verdict = match applies(rule, action) {
                        Some(why) => Verdict::Skipped(why),
                        None => scope.verdict(rule),
                    };
                    traces.push(trace_rule(rule, &verdict, scope.cel()));
                    verdicts.push((rule, verdict));
                }
            } else {
                // Only the rules the index cannot rule out; the others could not match.
                for position in self.index.candidates(action).iter() {
                    if let Some(rule) = self.rules.get(position) {
                        verdicts.push((rule, scope.verdict(rule)));
                    }
                }
            }
            let decision = self.combine(action, &verdicts, &mut scope);
            (decision, traces)
        });
        (decision, traces, facts)
    }

    fn combine(
        &self,
        action: &Action,
        verdicts: &[(&Rule, Verdict)],
        scope: &mut Scope<'_, '_, '_>,
    ) -> Decision {
        let mut errors: Vec<RuleError> = verdicts
            .iter()
            .filter_map(|(r, v)| match v {
                Verdict::Failed(e) => Some(RuleError {
                    rule: r.id.clone(),
                    error: e.clone(),
                }),
                _ => None,
            })
            .collect();
        let matched: Vec<&Rule> = verdicts
            .iter()
            .filter(|(_, v)| matches!(v, Verdict::Matched))
            .map(|(r, _)| *r)
            .collect();
        let matched_out: Vec<MatchedRule> = matched
            .iter()
            .map(|r| MatchedRule {
                id: r.id.clone(),
                outcome: r.outcome,
            })
            .collect();

        let mut decision = Decision {
            outcome: self.default,
            rules: Vec::new(),
            reason: String::new(),
            matched: matched_out,
            constraints: Constraints::default(),
            approvals: Vec::new(),
            rewrite: None,
            errors: Vec::new(),
            defaulted: false,
            bundle: self.digest.clone(),
        };

        if !errors.is_empty() {
            decision.outcome = Outcome::Deny;
            decision.rules = errors.iter().map(|e| e.rule.clone()).collect();
            decision.reason = errors
                .iter()
                .map(|e| {
                    format!(
                        "rule {} failed to evaluate ({}); failing closed",
                        e.rule, e.error
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            decision.errors = errors;
            return decision;
        }

        let Some(outcome) = matched
            .iter()
            .map(|r| r.outcome)
            .reduce(Outcome::most_restrictive)
        else {
            decision.defaulted = true;
            decision.reason = format!("no rule matched; the bundle default is {}", self.default);
            return decision;
        };
        let deciding: Vec<&Rule> = matched
            .iter()
            .copied()
            .filter(|r| r.outcome == outcome)
            .collect();
        decision.outcome = outcome;
        decision.rules = deciding.iter().map(|r| r.id.clone()).collect();
        decision.reason = deciding
            .iter()
            .map(|r| r.reason.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        if outcome != Outcome::Deny {
            for r in &matched {
                decision.constraints.tighten(&r.constraints);
            }
        }
        if outcome == Outcome::RequireApproval {
            decision.approvals = deciding
                .iter()
                .filter_map(|r| {
                    r.approval.clone().map(|spec| ApprovalRequirement {
                        rule: r.id.clone(),
                        spec,
                    })
                })
                .collect();
        }
        if outcome == Outcome::Remediate {
            match rewrite(action, &deciding, &self.mappings, scope) {
                Ok(r) => decision.rewrite = Some(r),
                Err(e) => {
                    decision.outcome = Outcome::Deny;
                    decision.reason = format!(
                        "the remediation of rule {} failed ({}); failing closed",
                        e.rule, e.error
                    );
                    decision.rules = vec![e.rule.clone()];
                    errors.push(e);
                    decision.errors = errors;
                }
            }
        }
        decision
    }
}

/// The CEL scope of one evaluation. The action's facts are bound root by root, the first time a
/// condition that reads the root needs CEL; unbound roots keep their defaults from the root
/// context, which is what they are for actions that do not set them.
struct Scope<'s, 'p, 'f> {
    ctx: &'s mut cel::Context<'p, 'static>,
    facts: &'f Facts,
    bound: Vec<&'static str>,
}

impl Scope<'_, '_, '_> {
    /// The CEL context with every fact of the action bound.
    fn cel(&mut self) -> &cel::Context<'_, 'static> {
        let roots: Vec<&'static str> = self.facts.roots.iter().map(|(r, _)| *r).collect();
        self.cel_for(&roots)
    }

    /// The CEL context with the given roots bound.
    fn cel_for(&mut self, roots: &[&'static str]) -> &cel::Context<'_, 'static> {
        for root in roots {
            if self.bound.contains(root) {
                continue;
            }
            if let Some(value) = self.facts.get(root) {
                self.ctx.add_variable_from_value(*root, json_to_cel(value));
            }
            self.bound.push(root);
        }
        self.ctx
    }

    /// The verdict of a rule that applies to the action.
    fn verdict(&mut self, rule: &Rule) -> Verdict {
        match &rule.condition {
            None => Verdict::Matched,
            Some(c) => match self.decide(c, rule.default_verdict.as_ref()) {
                Ok(true) => Verdict::Matched,
                Ok(false) => Verdict::NotMatched,
                Err(e) => Verdict::Failed(e),
            },
        }
    }

    /// A condition's result: precomputed when the action leaves every fact it reads at its
    /// default, native when the fast path is certain, CEL otherwise.
    fn decide(
        &mut self,
        condition: &Condition,
        default_verdict: Option<&Result<bool, String>>,
    ) -> Result<bool, String> {
        if let Some(verdict) = default_verdict
            && !condition.roots().iter().any(|r| self.facts.sets(r))
        {
            return verdict.clone();
        }
        if let Some(fast) = condition.fast() {
            let facts = self.facts;
            let lookup = |root: &str| facts.value(root);
            if let Ok(result) = fast.eval_bool(&lookup, facts.home.as_deref()) {
                return Ok(result);
            }
        }
        condition.eval_bool(self.cel_for(condition.roots()))
    }
}

/// Why a rule was not evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// Its `kinds` do not include the action's kind.
    Kind,
    /// Its `tools` do not match the action's tool.
    Tool,
}

impl Skip {
    fn explain(self, rule: &Rule) -> String {
        match self {
            Skip::Kind => format!(
                "applies to {}",
                names(rule.kinds.iter().flatten().map(|k| k.as_str()))
            ),
            Skip::Tool => format!(
                "applies to tools {}",
                names(rule.tools.iter().flatten().map(String::as_str))
            ),
        }
    }
}

/// `None` when the rule applies to the action, else why not.
fn applies(rule: &Rule, action: &Action) -> Option<Skip> {
    if let Some(kinds) = &rule.kinds
        && !kinds.contains(&action.kind)
    {
        return Some(Skip::Kind);
    }
    if let Some(tools) = &rule.tools {
        let name = action.tool.as_ref().map(|t| t.name.as_str());
        if !name.is_some_and(|n| tools.iter().any(|p| glob_match(p, n))) {
            return Some(Skip::Tool);
        }
    }
    None
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

/// Applies the deciding rules' rewrites, in rule-id order so the result is order-independent.
fn rewrite(
    action: &Action,
    deciding: &[&Rule],
    mappings: &ToolMappings,
    scope: &mut Scope<'_, '_, '_>,
) -> Result<Rewrite, RuleError> {
    let tool = action.tool.as_ref().ok_or_else(|| RuleError {
        rule: deciding.first().map(|r| r.id.clone()).unwrap_or_default(),
        error: "only tool calls can be rewritten".into(),
    })?;
    let mut rules: Vec<&&Rule> = deciding.iter().collect();
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    let mut args = tool.args.clone();
    let mut changed = Vec::new();
    for rule in rules {
        for (target, expr) in &rule.rewrite {
            let fail = |error: String| RuleError {
                rule: rule.id.clone(),
                error,
            };
            let path = resolve_target(target, &tool.name, &tool.args, mappings).map_err(fail)?;
            // `sql.with_limit(n)` is computed natively; other expressions by CEL, with only the
            // facts they read bound (converting every fact to CEL costs more than the rewrite).
            let value = match expr.sql_limit() {
                Some(limit) => sql_limit_json(scope.facts.value("sql"), limit),
                None => expr.eval_json(scope.cel_for(expr.roots())),
            }
            .map_err(fail)?;
            set_path(&mut args, &path, value).map_err(fail)?;
            changed.push(path);
        }
    }
    changed.sort();
    changed.dedup();
    Ok(Rewrite {
        tool: tool.name.clone(),
        args,
        changed,
    })
}

/// The argument path a rewrite targets: a literal path, or `@type` for the one argument of the
/// call that the tool mapping types so (`@sql`, `@shell`, `@path`, `@url`).
fn resolve_target(
    target: &str,
    tool: &str,
    args: &Value,
    mappings: &ToolMappings,
) -> Result<String, String> {
    let Some(type_name) = target.strip_prefix('@') else {
        return Ok(target.to_owned());
    };
    let wanted = ArgType::parse(type_name)?;
    let candidates: Vec<&String> = mappings
        .lookup(tool)
        .map(|m| {
            m.args
                .iter()
                .filter(|(path, ty)| {
                    same_kind(*ty, wanted)
                        && path.split('.').try_fold(args, |v, k| v.get(k)).is_some()
                })
                .map(|(path, _)| path)
                .collect()
        })
        .unwrap_or_default();
    match candidates.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!(
            "tool {tool} has no argument of type {type_name} to rewrite"
        )),
        _ => Err(format!(
            "tool {tool} has several {type_name} arguments; name the one to rewrite"
        )),
    }
}

fn same_kind(a: ArgType, b: ArgType) -> bool {
    std::mem::discriminant(&a) == std::mem::discriminant(&b)
}

/// Sets the value at a dotted path, creating objects along the way.
fn set_path(target: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let mut cur = target;
    let mut parts = path.split('.').peekable();
    while let Some(key) = parts.next() {
        if cur.is_null() {
            *cur = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = cur else {
            return Err(format!(
                "cannot set `{path}`: `{key}` is inside a non-object"
            ));
        };
        if parts.peek().is_none() {
            map.insert(key.to_owned(), value);
            return Ok(());
        }
        cur = map.entry(key.to_owned()).or_insert(Value::Null);
    }
    Ok(())
}

fn trace_rule(rule: &Rule, verdict: &Verdict, scope: &cel::Context<'_, '_>) -> RuleTrace {
    let read = match (&rule.condition, verdict) {
        (Some(c), Verdict::Matched | Verdict::NotMatched | Verdict::Failed(_)) => c
            .read_probes()
            .iter()
            .map(|p| (p.path.clone(), p.value(scope)))
            .collect(),
        _ => Vec::new(),
    };
    RuleTrace {
        id: rule.id.clone(),
        source: format!("{}:{}", rule.file, rule.line),
        outcome: rule.outcome,
        skipped: match verdict {
            Verdict::Skipped(why) => Some(why.explain(rule)),
            _ => None,
        },
        matched: matches!(verdict, Verdict::Matched),
        error: match verdict {
            Verdict::Failed(e) => Some(e.clone()),
            _ => None,
        },
        when: rule.condition.as_ref().map(|c| c.source().to_owned()),
        read,
    }
}

impl Explanation {
    /// A human-readable trace: the decision, then every rule with what it read.
    pub fn render_text(&self) -> String {
        use std::fmt::Write as _;
        let d = &self.decision;
        let mut out = String::new();
        let _ = writeln!(out, "decision: {}", d.outcome);
        if !d.rules.is_empty() {
            let _ = writeln!(out, "rules:    {}", d.rules.join(", "));
        }
        let _ = writeln!(out, "reason:   {}", d.reason);
        if !d.constraints.is_empty() {
            let _ = writeln!(
                out,
                "constraints: {}",
                serde_json::to_string(&d.constraints).unwrap_or_default()
            );
        }
        for a in &d.approvals {
            let _ = writeln!(
                out,
                "approval: {} needs {} of [{}], valid {} ms, on timeout {}",
                a.rule,
                a.spec.quorum,
                a.spec.approvers.join(", "),
                a.spec.ttl_ms,
                a.spec.on_timeout
            );
        }
        if let Some(r) = &d.rewrite {
            let _ = writeln!(out, "rewrite:  {} {}", r.tool, r.args);
        }
        let _ = writeln!(out, "bundle:   {}", d.bundle);
        let _ = writeln!(out, "\nrules evaluated (matches first):");
        let order = |t: &RuleTrace| match (t.error.is_some(), t.matched, t.skipped.is_some()) {
            (true, _, _) => 0,
            (_, true, _) => 1,
            (_, _, false) => 2,
            _ => 3,
        };
        let mut traces: Vec<&RuleTrace> = self.rules.iter().collect();
        traces.sort_by_key(|t| order(t));
        for t in traces {
            let mark = if t.error.is_some() {
                "ERROR  "
            } else if t.matched {
                "MATCH  "
            } else if t.skipped.is_some() {
                "skip   "
            } else {
                "no     "
            };
            let _ = writeln!(out, "  {mark}{} ({}) → {}", t.id, t.source, t.outcome);
            if let Some(why) = &t.skipped {
                let _ = writeln!(out, "         {why}");
                continue;
            }
            if let Some(w) = &t.when {
                let _ = writeln!(out, "         when: {w}");
            }
            for (path, value) in &t.read {
                let _ = writeln!(out, "         {path} = {value}");
            }
            if let Some(e) = &t.error {
                let _ = writeln!(out, "         error: {e}");
            }
        }
        out
    }
}
