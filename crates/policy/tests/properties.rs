//! Property tests: loading, compiling and evaluating never panic, whatever the input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use warden_policy::{Action, Bundle, Condition, SourceFile};

fn baseline_like() -> Bundle {
    Bundle::load(&[SourceFile {
        name: "p.yaml".into(),
        text: r#"
rules:
  - id: d
    when: shell.destructive || sql.writes || url.private || path.touches("/etc") || secrets.found
    decision: deny
  - id: r
    when: sql.kind == "select" && !sql.has_limit
    decision: remediate
    rewrite: { "@sql": "sql.with_limit(10)" }
  - id: a
    when: agent.labels.?env.orValue("") == "prod" && tool.name.matches("^[a-z_]+$")
    decision: require_approval
default: allow
"#
        .into(),
    }])
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn loading_arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = Bundle::load(&[SourceFile { name: "x.yaml".into(), text }]);
    }

    #[test]
    fn loading_yaml_shaped_text_never_panics(
        lines in proptest::collection::vec("(rules|tools|default|  - id|    when|    decision|    rewrite|  - match|    args|cases)?:? ?[\\[\\]{}&*!|>'\"a-z0-9_. -]{0,30}", 0..20)
    ) {
        let _ = Bundle::load(&[SourceFile { name: "x.yaml".into(), text: lines.join("\n") }]);
    }

    #[test]
    fn compiling_arbitrary_conditions_never_panics(src in "\\PC{0,200}") {
        let _ = Condition::compile(&src);
    }

    #[test]
    fn compiling_operator_soup_never_panics(src in "[a-z.()\\[\\]{}!&|=<>+*/%?:,'\" 0-9-]{0,120}") {
        let _ = Condition::compile(&src);
    }

    #[test]
    fn evaluating_arbitrary_arguments_never_panics_and_always_decides(
        tool in prop_oneof!["bash", "query", "read_file", "fetch", "Bash", "apply_patch", "shell", "[a-z]{1,8}"],
        arg in "\\PC{0,200}",
        key in prop_oneof!["command", "sql", "path", "url", "input", "[a-z]{1,5}"],
    ) {
        let bundle = baseline_like();
        let action: Action = serde_json::from_value(serde_json::json!({
            "kind": "tool_call",
            "agent": {"id": "p", "labels": {"env": "prod"}},
            "tool": {"name": tool, "args": {key: arg}}
        })).unwrap();
        let d = bundle.evaluate(&action);
        prop_assert_eq!(d.bundle.as_str(), bundle.digest());
        if d.outcome == warden_policy::Outcome::Remediate {
            prop_assert!(d.rewrite.is_some());
        }
    }
}
