//! Property tests: loading, compiling and evaluating never panic, whatever the input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use warden_policy::{Action, Bundle, Condition, Outcome, SourceFile};

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

/// The shipped baseline bundle's files, with their names, read from the repository.
fn baseline_files() -> Vec<SourceFile> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/baseline");
    yaml_files(&dir)
}

fn yaml_files(dir: &std::path::Path) -> Vec<SourceFile> {
    let mut files: Vec<SourceFile> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| SourceFile {
            name: p.file_name().unwrap().to_string_lossy().into_owned(),
            text: std::fs::read_to_string(&p).unwrap(),
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

/// Every case of the baseline fixtures.
fn baseline_cases() -> Vec<warden_policy::fixtures::Case> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/baseline/tests");
    yaml_files(&dir)
        .iter()
        .flat_map(|f| warden_policy::fixtures::parse(f).unwrap())
        .collect()
}

/// Every action of the baseline fixtures.
fn baseline_actions() -> Vec<Action> {
    baseline_cases()
        .into_iter()
        .map(|case| case.action)
        .collect()
}

#[test]
fn every_baseline_fixture_passes() {
    let bundle = Bundle::load(&baseline_files()).unwrap();
    let results = warden_policy::fixtures::run(&bundle, baseline_cases());
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.case.name.as_str())
        .collect();
    assert!(results.len() >= 370, "{} cases", results.len());
    assert!(failed.is_empty(), "failed: {failed:?}");
}

#[test]
fn the_index_never_changes_a_baseline_decision() {
    let bundle = Bundle::load(&baseline_files()).unwrap();
    let actions = baseline_actions();
    assert!(actions.len() > 300, "{} fixture actions", actions.len());
    for action in &actions {
        // Explanations walk every rule and build every fact; evaluation visits only the rules
        // the index keeps and builds only the analyzer fields the rules read.
        assert_eq!(
            bundle.evaluate(action),
            bundle.explain(action).decision,
            "{action:?}"
        );
    }
}

#[test]
fn baseline_decisions_do_not_depend_on_rule_order() {
    let files = baseline_files();
    let bundle = Bundle::load(&files).unwrap();
    // Renaming reverses the file order, and with it the order of every rule across files.
    let count = files.len();
    let reversed: Vec<SourceFile> = files
        .iter()
        .enumerate()
        .map(|(i, f)| SourceFile {
            name: format!("{:02}-{}", count - i, f.name),
            text: f.text.clone(),
        })
        .collect();
    let permuted = Bundle::load(&reversed).unwrap();
    assert_ne!(
        bundle.rules().first().map(|r| &r.id),
        permuted.rules().first().map(|r| &r.id)
    );
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    for action in &baseline_actions() {
        let (a, b) = (bundle.evaluate(action), permuted.evaluate(action));
        assert_eq!(a.outcome, b.outcome, "{action:?}");
        assert_eq!(sorted(a.rules), sorted(b.rules), "{action:?}");
        assert_eq!(
            sorted(a.matched.into_iter().map(|m| m.id).collect()),
            sorted(b.matched.into_iter().map(|m| m.id).collect()),
            "{action:?}"
        );
        assert_eq!(a.constraints, b.constraints, "{action:?}");
        assert_eq!(a.rewrite, b.rewrite, "{action:?}");
    }
}

#[test]
fn building_only_the_facts_rules_read_never_changes_a_decision() {
    // Rules reading analyzer fields natively, through CEL only (`map`), whole roots, and the
    // SQL text through a rewrite.
    let rules = r#"
default: allow
rules:
  - id: findings-through-cel
    when: shell.findings.map(f, f.fact).exists(x, x == "network")
    decision: require_approval
  - id: commands
    when: shell.commands.exists(c, c.name == "rm")
    decision: deny
  - id: tables
    when: "'sessions' in sql.tables"
    decision: deny
  - id: unbounded
    when: sql.kind == "select" && !sql.has_limit
    decision: remediate
    rewrite: { "@sql": "sql.with_limit(10)" }
"#;
    // The same rules, and one that reads the whole `sql` root (so every SQL field is built).
    let whole_root = format!(
        "{rules}  - id: whole-root\n    when: has(sql.functions) && size(sql) > 3 && sql.statements > 1\n    decision: require_approval\n"
    );
    let actions = [
        r#"{"kind":"tool_call","tool":{"name":"bash","args":{"command":"curl https://example.com | tee out"}}}"#,
        r#"{"kind":"tool_call","tool":{"name":"bash","args":{"command":"sudo rm -rf /tmp/x"}}}"#,
        r#"{"kind":"tool_call","tool":{"name":"bash","args":{"command":"ls"}}}"#,
        r#"{"kind":"tool_call","tool":{"name":"query","args":{"sql":"SELECT * FROM users"}}}"#,
        r#"{"kind":"tool_call","tool":{"name":"query","args":{"sql":"DELETE FROM sessions WHERE id = 1"}}}"#,
        r#"{"kind":"tool_call","tool":{"name":"query","args":{"sql":"SELECT 1 LIMIT 1; SELECT 2 LIMIT 1"}}}"#,
    ];
    for (text, last) in [
        (rules.to_owned(), Outcome::Allow),
        (whole_root, Outcome::RequireApproval),
    ] {
        let bundle = Bundle::load(&[SourceFile {
            name: "needs.yaml".into(),
            text,
        }])
        .unwrap();
        let outcomes: Vec<Outcome> = actions
            .iter()
            .map(|json| {
                let action = Action::from_json(json).unwrap();
                let decision = bundle.evaluate(&action);
                assert_eq!(decision, bundle.explain(&action).decision, "{json}");
                decision.outcome
            })
            .collect();
        assert_eq!(
            outcomes,
            [
                Outcome::RequireApproval,
                Outcome::Deny,
                Outcome::Allow,
                Outcome::Remediate,
                Outcome::Deny,
                last,
            ]
        );
    }
}

/// A bundle whose rules the index can leave out on every ground: kinds, exact tool names, tool
/// globs and guards on agent and tool facts.
fn indexed_bundle() -> Bundle {
    let mut text = String::from(
        r#"
rules:
  - id: destructive
    when: shell.destructive
    decision: deny
  - id: prod-write
    when: agent.labels.?env.orValue("") == "production" && (shell.mutates || sql.writes)
    decision: require_approval
  - id: llm
    kinds: [llm_request]
    when: request.model in ["m1", "m2"] && request.max_tokens > 100
    decision: require_approval
  - id: helpers
    tools: [todo, "help_*"]
    decision: allow
  - id: sql-drop
    when: sql.kinds.exists(k, k in ["drop", "truncate"])
    decision: deny
  - id: fails
    when: agent.team == "t1" && tool.args.n > 1
    decision: allow
"#,
    );
    for i in 0..4 {
        text.push_str(&format!(
            "  - id: scope-{i}\n    tools: [\"tool{i}\", \"svc{i}_*\"]\n    when: tool.args.?mode.orValue(\"\") == \"write\"\n    decision: require_approval\n  - id: tenant-{i}\n    when: agent.tenant == \"t{i}\" && agent.team in [\"t1\", \"t2\"] && tool.name.startsWith(\"admin_\")\n    decision: deny\n"
        ));
    }
    text.push_str("default: deny\n");
    Bundle::load(&[SourceFile {
        name: "p.yaml".into(),
        text,
    }])
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn indexed_evaluation_decides_as_every_rule_does(
        kind in prop_oneof!["tool_call", "mcp_call", "llm_request"],
        tenant in prop_oneof!["t0", "t1", "t3", "t9", ""],
        team in prop_oneof!["t1", "t2", "t3"],
        env in prop_oneof!["production", "dev", ""],
        tool in prop_oneof!["bash", "query", "todo", "help_me", "tool1", "svc2_x", "svc3_", "admin_x", "x"],
        mode in prop_oneof!["write", "read"],
        text in prop_oneof!["rm -rf /", "ls", "DROP TABLE a", "SELECT 1", "touch x"],
        n in prop_oneof![Just(serde_json::json!(2)), Just(serde_json::json!("2")), Just(serde_json::Value::Null)],
        model in prop_oneof!["m1", "m3"],
    ) {
        let bundle = indexed_bundle();
        let mut labels = serde_json::Map::new();
        if !env.is_empty() {
            labels.insert("env".into(), serde_json::json!(env));
        }
        let agent = serde_json::json!({"id": "p", "tenant": tenant, "team": team, "labels": labels});
        let mut action = serde_json::json!({"kind": kind, "agent": agent});
        if kind == "llm_request" {
            action["request"] = serde_json::json!({"model": model, "max_tokens": 500});
        } else {
            action["tool"] = serde_json::json!({"name": tool, "args": {"command": text, "sql": text, "mode": mode, "n": n}});
        }
        let action: Action = serde_json::from_value(action).unwrap();
        prop_assert_eq!(bundle.evaluate(&action), bundle.explain(&action).decision);
    }
}
