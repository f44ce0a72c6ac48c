//! Bundles: a directory's YAML files, validated into rules, tool mappings and a default.
//!
//! Loading is pure: the caller reads the files and passes their names and text. Every problem
//! found is reported with its file, line and field, and a bundle with any problem is refused as a
//! whole (the gateway then keeps the last good bundle in force).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_saphyr::{Location, Spanned};
use sha2::{Digest, Sha256};

use crate::Outcome;
use crate::action::ActionKind;
use crate::condition::Condition;
use crate::error::{BundleError, Diagnostic};
use crate::facts::FactNeeds;
use crate::index::RuleIndex;
use crate::profiles::{ArgType, Mapping, ToolMappings};
use crate::raw::{RawConstraints, RawPolicyFile, RawRule, parse_duration_ms};

/// One policy file's name (relative to the bundle directory) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The file name, relative to the bundle directory (`shell.yaml`).
    pub name: String,
    /// The file's text.
    pub text: String,
}

/// Largest policy file accepted.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Most rules a bundle may hold.
pub const MAX_RULES: usize = 10_000;

/// A validated policy bundle, ready to evaluate. Cheap to share across threads behind an `Arc`.
#[derive(Debug)]
pub struct Bundle {
    pub(crate) digest: String,
    pub(crate) rules: Vec<Rule>,
    pub(crate) default: Outcome,
    pub(crate) mappings: ToolMappings,
    pub(crate) files: Vec<String>,
    /// Which rules can match which actions.
    pub(crate) index: RuleIndex,
    /// The analyzer facts the rules read (the others are not built when deciding).
    pub(crate) needs: FactNeeds,
}

/// One validated rule.
#[derive(Debug)]
pub struct Rule {
    /// Unique id within the bundle.
    pub id: String,
    /// What the rule is for.
    pub description: Option<String>,
    /// The file it is defined in and the line of its `id`.
    pub file: String,
    /// 1-based line of the rule's `id`.
    pub line: u64,
    /// Action kinds it applies to (all when `None`).
    pub kinds: Option<Vec<ActionKind>>,
    /// Tool-name patterns it applies to (all when `None`).
    pub tools: Option<Vec<String>>,
    /// The condition (always true when `None`).
    pub condition: Option<Condition>,
    /// The outcome when it matches.
    pub outcome: Outcome,
    /// Why, in words for the agent and the auditor.
    pub reason: String,
    /// For `require_approval`: who may approve, how many, for how long.
    pub approval: Option<ApprovalSpec>,
    /// Constraints applied when the action is released.
    pub constraints: Constraints,
    /// For `remediate`: argument path → expression giving its new value.
    pub rewrite: Vec<(String, Condition)>,
    /// The condition's result when the action leaves every fact it reads at its default,
    /// computed once at load.
    pub(crate) default_verdict: Option<Result<bool, String>>,
}

/// What an approval needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalSpec {
    /// Approver groups, any of which may approve (empty: any approver).
    pub approvers: Vec<String>,
    /// Distinct approvals needed.
    pub quorum: u32,
    /// How long a granted approval stays valid for the identical action, in milliseconds.
    pub ttl_ms: u64,
    /// The outcome when nobody decides in time (`deny` or `allow`).
    pub on_timeout: Outcome,
}

/// Constraints a released action runs under.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Constraints {
    /// Spending limit for this one action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    /// Time limit for the action, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The action may only read.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

impl Constraints {
    /// Whether no constraint is set.
    pub fn is_empty(&self) -> bool {
        self.max_cost_usd.is_none() && self.timeout_ms.is_none() && !self.read_only
    }

    /// The tighter of two sets of constraints.
    pub fn tighten(&mut self, other: &Constraints) {
        self.max_cost_usd = min_opt(self.max_cost_usd, other.max_cost_usd, f64::min);
        self.timeout_ms = min_opt(self.timeout_ms, other.timeout_ms, u64::min);
        self.read_only |= other.read_only;
    }
}

fn min_opt<T>(a: Option<T>, b: Option<T>, min: fn(T, T) -> T) -> Option<T> {
    match (a, b) {
        (Some(x), Some(y)) => Some(min(x, y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Default approval lifetime when a rule names none.
const DEFAULT_APPROVAL_TTL_MS: u64 = 15 * 60 * 1000;
/// Largest quorum a rule may ask for.
const MAX_QUORUM: u32 = 16;

impl Bundle {
    /// Validates a bundle from its files. Files are considered in name order, so the result does
    /// not depend on the order given.
    pub fn load(files: &[SourceFile]) -> Result<Bundle, BundleError> {
        if files.is_empty() {
            return Err(BundleError::Empty);
        }
        let mut sorted: Vec<&SourceFile> = files.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));

        let mut problems = Vec::new();
        let mut canonical = BTreeMap::new();
        let mut rules: Vec<Rule> = Vec::new();
        let mut mappings = ToolMappings::builtin();
        let mut default: Option<(Outcome, String, u64)> = None;
        let mut seen_ids: HashMap<String, (String, u64)> = HashMap::new();

        for file in sorted {
            let mut at = Locator::new(&file.name, &mut problems);
            if file.text.len() > MAX_FILE_BYTES {
                at.file(format!(
                    "file is {} bytes; the limit is {MAX_FILE_BYTES}",
                    file.text.len()
                ));
                continue;
            }
            if file.text.trim().is_empty() {
                at.file("file is empty".into());
                continue;
            }
            let raw: RawPolicyFile = match serde_saphyr::from_str(&file.text) {
                Ok(raw) => raw,
                Err(e) => {
                    at.yaml(&e);
                    continue;
                }
            };
            match serde_saphyr::from_str::<serde_json::Value>(&file.text) {
                Ok(value) => {
                    canonical.insert(file.name.clone(), value);
                }
                Err(e) => at.yaml(&e),
            }

            for (i, mapping) in raw.tools.iter().enumerate() {
                if let Some(m) = convert_mapping(&mapping.value, &mut at, i, mapping.referenced) {
                    mappings.insert(&mapping.value.names, m);
                }
            }
            if let Some(d) = raw.default {
                let line = d.referenced.line();
                if let Some((_, other_file, other_line)) = &default {
                    at.at(
                        d.referenced,
                        "default",
                        format!("the default is already set in {other_file}:{other_line}"),
                    );
                } else {
                    default = Some((d.value, file.name.clone(), line));
                }
            }
            for (i, raw_rule) in raw.rules.into_iter().enumerate() {
                let id_loc = raw_rule.id.referenced;
                if let Some(rule) = convert_rule(raw_rule, i, &mut at) {
                    if let Some((f, l)) = seen_ids.get(&rule.id) {
                        at.at(
                            id_loc,
                            &format!("rules[{i}].id"),
                            format!("duplicate rule id `{}` (first defined at {f}:{l})", rule.id),
                        );
                    } else {
                        seen_ids.insert(rule.id.clone(), (rule.file.clone(), rule.line));
                        rules.push(rule);
                    }
                }
            }
        }
        if rules.len() > MAX_RULES {
            problems.push(Diagnostic {
                file: String::new(),
                line: 0,
                column: 0,
                field: "rules".into(),
                message: format!("{} rules; the limit is {MAX_RULES}", rules.len()),
            });
        }
        if !problems.is_empty() {
            return Err(BundleError::Invalid(problems));
        }
        let files: Vec<String> = canonical.keys().cloned().collect();
        let digest = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(
                serde_json::Value::Object(canonical.into_iter().collect()).to_string()
            ))
        );
        let index = RuleIndex::build(&rules);
        let needs = FactNeeds::from_reads(
            rules
                .iter()
                .flat_map(|r| r.condition.iter().chain(r.rewrite.iter().map(|(_, e)| e)))
                .flat_map(|c| c.reads().iter().map(String::as_str)),
        );
        Ok(Bundle {
            digest,
            index,
            needs,
            rules,
            default: default.map_or(Outcome::Deny, |(o, _, _)| o),
            mappings,
            files,
        })
    }

    /// The bundle's version: SHA-256 over the canonical JSON of its parsed files, so comments and
    /// formatting do not change it.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The rules, in file-name order and then file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The outcome when no rule matches (`deny` unless a file sets `default`).
    pub fn default_outcome(&self) -> Outcome {
        self.default
    }

    /// The policy files the bundle was built from.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// The tool mappings in force (built-in profiles plus the bundle's).
    pub fn mappings(&self) -> &ToolMappings {
        &self.mappings
    }
}

/// Collects located problems for one file.
struct Locator<'a> {
    file: &'a str,
    problems: &'a mut Vec<Diagnostic>,
}

impl<'a> Locator<'a> {
    fn new(file: &'a str, problems: &'a mut Vec<Diagnostic>) -> Self {
        Locator { file, problems }
    }

    fn file(&mut self, message: String) {
        self.push(0, 0, String::new(), message);
    }

    fn at(&mut self, loc: Location, field: &str, message: String) {
        self.push(loc.line(), loc.column(), field.to_owned(), message);
    }

    fn yaml(&mut self, e: &serde_saphyr::Error) {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        let message = e.without_snippet().to_string();
        let message = message.lines().next().unwrap_or("invalid YAML").to_owned();
        self.push(line, column, String::new(), message);
    }

    fn push(&mut self, line: u64, column: u64, field: String, message: String) {
        self.problems.push(Diagnostic {
            file: self.file.to_owned(),
            line,
            column,
            field,
            message,
        });
    }
}

fn convert_mapping(
    raw: &crate::raw::RawToolMapping,
    at: &mut Locator<'_>,
    index: usize,
    loc: Location,
) -> Option<Mapping> {
    let field = format!("tools[{index}]");
    if raw.names.is_empty() || raw.names.iter().any(|n| n.trim().is_empty()) {
        at.at(
            loc,
            &format!("{field}.match"),
            "tool names must be non-empty".into(),
        );
        return None;
    }
    let mut args = Vec::new();
    let mut ok = true;
    for (name, ty) in &raw.args {
        match ArgType::parse(ty) {
            Ok(t) => args.push((name.clone(), t)),
            Err(e) => {
                at.at(loc, &format!("{field}.args.{name}"), e);
                ok = false;
            }
        }
    }
    ok.then_some(Mapping { args })
}

fn convert_rule(raw: RawRule, index: usize, at: &mut Locator<'_>) -> Option<Rule> {
    let before = at.problems.len();
    let field = |name: &str| format!("rules[{index}].{name}");
    let id = raw.id.value.trim().to_owned();
    let valid_id = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if !valid_id {
        at.at(
            raw.id.referenced,
            &field("id"),
            format!(
                "rule id `{id}` must be 1-128 characters of letters, digits, `-`, `_`, `.`, `/`"
            ),
        );
    }
    let rule_field = |name: &str| format!("rule `{id}` {name}");

    let kinds = raw.kinds.as_ref().map(|k| {
        k.value
            .iter()
            .filter_map(|name| {
                let parsed = serde_json::from_value::<ActionKind>(serde_json::Value::String(
                    name.clone(),
                ));
                if parsed.is_err() {
                    at.at(
                        k.referenced,
                        &rule_field("kinds"),
                        format!("unknown action kind `{name}` (tool_call, llm_request, mcp_call, egress, authzen)"),
                    );
                }
                parsed.ok()
            })
            .collect::<Vec<_>>()
    });

    let condition = raw
        .when
        .as_ref()
        .and_then(|w| compile_at(w, &rule_field("when"), at));

    let outcome = raw.decision.value;
    let decision_loc = raw.decision.referenced;
    let only_for = |at: &mut Locator<'_>, present: bool, name: &str, wanted: &str| {
        if present {
            at.at(
                decision_loc,
                &rule_field(name),
                format!("`{name}` applies only to decision {wanted}, not {outcome}"),
            );
        }
    };

    let approval = if outcome == Outcome::RequireApproval {
        approval_spec(&raw, &rule_field, at)
    } else {
        only_for(at, raw.approvers.is_some(), "approvers", "require_approval");
        only_for(at, raw.quorum.is_some(), "quorum", "require_approval");
        only_for(
            at,
            raw.approval_ttl.is_some(),
            "approval_ttl",
            "require_approval",
        );
        only_for(
            at,
            raw.on_timeout.is_some(),
            "on_timeout",
            "require_approval",
        );
        None
    };

    let constraints = match &raw.constraints {
        Some(c) if matches!(outcome, Outcome::Allow | Outcome::Deny) => {
            only_for(
                at,
                true,
                "constraints",
                "allow_with_constraints, remediate or require_approval",
            );
            let _ = c;
            Constraints::default()
        }
        Some(c) => constraints(&c.value, c.referenced, &rule_field("constraints"), at),
        None => {
            if outcome == Outcome::AllowWithConstraints {
                at.at(
                    decision_loc,
                    &rule_field("constraints"),
                    "decision allow_with_constraints needs `constraints`".into(),
                );
            }
            Constraints::default()
        }
    };
    if outcome == Outcome::AllowWithConstraints
        && constraints.is_empty()
        && raw.constraints.is_some()
    {
        at.at(
            decision_loc,
            &rule_field("constraints"),
            "`constraints` names no constraint (max_cost_usd, timeout, read_only)".into(),
        );
    }

    let rewrite = match (&raw.rewrite, outcome) {
        (Some(r), Outcome::Remediate) if !r.value.is_empty() => r
            .value
            .iter()
            .filter_map(|(arg, expr)| {
                if let Some(ty) = arg.strip_prefix('@')
                    && let Err(e) = ArgType::parse(ty)
                {
                    at.at(r.referenced, &rule_field(&format!("rewrite.{arg}")), e);
                    return None;
                }
                let spanned = Spanned::new(expr.clone(), r.referenced, r.defined);
                compile_at(&spanned, &rule_field(&format!("rewrite.{arg}")), at)
                    .map(|c| (arg.clone(), c))
            })
            .collect(),
        (_, Outcome::Remediate) => {
            at.at(
                decision_loc,
                &rule_field("rewrite"),
                "decision remediate needs a non-empty `rewrite` (argument: expression)".into(),
            );
            Vec::new()
        }
        (r, _) => {
            only_for(at, r.is_some(), "rewrite", "remediate");
            Vec::new()
        }
    };

    if at.problems.len() > before {
        return None;
    }
    let reason = raw
        .reason
        .clone()
        .or_else(|| raw.description.clone())
        .map(|r| r.trim().to_owned())
        .unwrap_or_else(|| format!("matched rule {id}"));
    let default_verdict = condition
        .as_ref()
        .map(|c| crate::condition::with_scope(None, |scope| c.eval_bool(scope)));
    Some(Rule {
        default_verdict,
        file: at.file.to_owned(),
        line: raw.id.referenced.line(),
        id,
        description: raw.description,
        kinds,
        tools: raw.tools,
        condition,
        outcome,
        reason,
        approval,
        constraints,
        rewrite,
    })
}

fn compile_at(source: &Spanned<String>, field: &str, at: &mut Locator<'_>) -> Option<Condition> {
    match Condition::compile(&source.value) {
        Ok(c) => Some(c),
        Err(e) => {
            at.at(source.referenced, field, format!("invalid CEL: {e}"));
            None
        }
    }
}

fn approval_spec(
    raw: &RawRule,
    rule_field: &dyn Fn(&str) -> String,
    at: &mut Locator<'_>,
) -> Option<ApprovalSpec> {
    let approvers: Vec<String> = raw.approvers.clone().unwrap_or_default();
    if approvers.iter().any(|a| a.trim().is_empty()) {
        at.at(
            raw.decision.referenced,
            &rule_field("approvers"),
            "approver groups must be non-empty".into(),
        );
    }
    let quorum = match &raw.quorum {
        Some(q) if q.value == 0 || q.value > MAX_QUORUM => {
            at.at(
                q.referenced,
                &rule_field("quorum"),
                format!("quorum must be 1 to {MAX_QUORUM}"),
            );
            1
        }
        Some(q) => q.value,
        None => 1,
    };
    let ttl_ms = match &raw.approval_ttl {
        Some(t) => match parse_duration_ms(&t.value) {
            Ok(ms) if ms > 0 => ms,
            Ok(_) => {
                at.at(
                    t.referenced,
                    &rule_field("approval_ttl"),
                    "approval_ttl must be positive".into(),
                );
                0
            }
            Err(e) => {
                at.at(t.referenced, &rule_field("approval_ttl"), e);
                0
            }
        },
        None => DEFAULT_APPROVAL_TTL_MS,
    };
    let on_timeout = match &raw.on_timeout {
        Some(o) if !matches!(o.value, Outcome::Deny | Outcome::Allow) => {
            at.at(
                o.referenced,
                &rule_field("on_timeout"),
                "on_timeout must be deny or allow".into(),
            );
            Outcome::Deny
        }
        Some(o) => o.value,
        None => Outcome::Deny,
    };
    Some(ApprovalSpec {
        approvers,
        quorum,
        ttl_ms,
        on_timeout,
    })
}

fn constraints(
    raw: &RawConstraints,
    loc: Location,
    field: &str,
    at: &mut Locator<'_>,
) -> Constraints {
    let mut out = Constraints {
        read_only: raw.read_only.unwrap_or(false),
        ..Constraints::default()
    };
    if let Some(cost) = raw.max_cost_usd {
        if cost.is_finite() && cost >= 0.0 {
            out.max_cost_usd = Some(cost);
        } else {
            at.at(
                loc,
                &format!("{field}.max_cost_usd"),
                "max_cost_usd must be a non-negative number".into(),
            );
        }
    }
    if let Some(t) = &raw.timeout {
        match parse_duration_ms(t) {
            Ok(ms) if ms > 0 => out.timeout_ms = Some(ms),
            Ok(_) => at.at(
                loc,
                &format!("{field}.timeout"),
                "timeout must be positive".into(),
            ),
            Err(e) => at.at(loc, &format!("{field}.timeout"), e),
        }
    }
    out
}
