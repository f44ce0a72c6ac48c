//! Which tools an agent is shown: `tools/list` hides a tool the policy denies whatever its
//! arguments.
//!
//! The decision is made without arguments, from the `mcp_call` action an agent's call of the tool
//! would be (agent, server, tool name, annotations; arguments `{}`), and the facts each rule's
//! condition reads. A fact is *argument-independent* when it cannot change with the call's
//! arguments: `agent.*`, `action.*`, `tool.name`, `tool.server`, `tool.annotations`,
//! `tool.definition_changed`, `context.*`. Everything else (`tool.args`, the analyzers' `shell`,
//! `sql`, `path`, `url`, `secrets`, and `history`) may.
//!
//! A tool is hidden when evaluating that action gives `deny` and either
//! - a deciding deny rule reads only argument-independent facts (it would match any arguments), or
//! - no rule matched (the bundle default is `deny`) and no rule that applies to the tool and
//!   could release it reads an argument-dependent fact (those that apply were evaluated, did not
//!   match, and cannot match with other arguments).
//!
//! Otherwise the tool is shown, and each call is still judged with its arguments; showing a tool
//! some arguments of which are denied is the conservative direction (a call is never released
//! because a tool was listed).

use warden_policy::{Action, Bundle, Outcome, Rule, glob_match};

/// Fact paths (and prefixes) that do not depend on a call's arguments.
const INDEPENDENT: [&str; 7] = [
    "agent",
    "action",
    "tool.name",
    "tool.server",
    "tool.annotations",
    "tool.definition_changed",
    "context",
];

fn independent_path(path: &str) -> bool {
    INDEPENDENT.iter().any(|p| {
        path == *p
            || path
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    })
}

/// Whether a rule's condition reads only argument-independent facts (or it has none).
fn argument_independent(rule: &Rule) -> bool {
    rule.condition
        .as_ref()
        .is_none_or(|c| c.reads().iter().all(|p| independent_path(p)))
}

fn applies(rule: &Rule, action: &Action) -> bool {
    let kind_ok = rule
        .kinds
        .as_ref()
        .is_none_or(|kinds| kinds.contains(&action.kind));
    let name = action.tool.as_ref().map_or("", |t| t.name.as_str());
    let tool_ok = rule
        .tools
        .as_ref()
        .is_none_or(|patterns| patterns.iter().any(|p| glob_match(p, name)));
    kind_ok && tool_ok
}

/// Whether the policy denies `action`'s tool for every possible argument (see the module docs).
/// `action` should be the `mcp_call` without arguments.
pub fn denied_for_every_argument(bundle: &Bundle, action: &Action) -> bool {
    let decision = bundle.evaluate(action);
    if decision.outcome != Outcome::Deny {
        return false;
    }
    let rules = bundle.rules();
    if decision.defaulted {
        return !rules.iter().any(|rule| {
            rule.outcome != Outcome::Deny && applies(rule, action) && !argument_independent(rule)
        });
    }
    decision.rules.iter().any(|id| {
        rules
            .iter()
            .find(|r| &r.id == id)
            .is_some_and(argument_independent)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use warden_policy::{ActionKind, SourceFile, Tool};

    fn bundle(text: &str) -> Bundle {
        Bundle::load(&[SourceFile {
            name: "b.yaml".into(),
            text: text.into(),
        }])
        .unwrap()
    }

    fn call(name: &str) -> Action {
        Action {
            kind: ActionKind::McpCall,
            agent: warden_policy::Agent {
                id: "a".into(),
                ..Default::default()
            },
            tool: Some(Tool {
                name: name.into(),
                args: serde_json::json!({}),
                server: "files".into(),
                ..Tool::default()
            }),
            request: None,
            egress: None,
            authzen: None,
            history: Vec::new(),
            context: Default::default(),
        }
    }

    const BUNDLE: &str = r#"
rules:
  - id: no-delete
    tools: [delete_file]
    decision: deny
    reason: never
  - id: no-admin-for-bots
    when: tool.name == "admin" && agent.id == "a"
    decision: deny
    reason: not for this agent
  - id: reads
    tools: [read_file]
    decision: allow
    reason: ok
  - id: writes-in-tmp
    tools: [write_file]
    when: path.all_within("/tmp")
    decision: allow
    reason: tmp only
  - id: no-etc
    tools: [cat]
    when: tool.args.path == "/etc/shadow"
    decision: deny
    reason: no
  - id: cat-ok
    tools: [cat]
    decision: allow
    reason: ok
default: deny
"#;

    #[test]
    fn argument_independent_denials_hide_the_tool() {
        let b = bundle(BUNDLE);
        assert!(denied_for_every_argument(&b, &call("delete_file")));
        assert!(denied_for_every_argument(&b, &call("admin")));
    }

    #[test]
    fn the_default_hides_tools_no_rule_could_release() {
        let b = bundle(BUNDLE);
        assert!(denied_for_every_argument(&b, &call("unknown_tool")));
    }

    #[test]
    fn tools_some_arguments_release_are_shown() {
        let b = bundle(BUNDLE);
        assert!(!denied_for_every_argument(&b, &call("read_file")));
        // Denied with `{}` (no path within /tmp), released with other arguments.
        assert!(!denied_for_every_argument(&b, &call("write_file")));
        // Allowed with `{}`, denied only for one path.
        assert!(!denied_for_every_argument(&b, &call("cat")));
    }

    #[test]
    fn independence_is_by_path_prefix() {
        assert!(independent_path("agent.labels.env"));
        assert!(independent_path("tool.name"));
        assert!(!independent_path("tool.args.path"));
        assert!(!independent_path("tool"));
        assert!(!independent_path("tool.names"));
        assert!(!independent_path("shell.destructive"));
    }
}
