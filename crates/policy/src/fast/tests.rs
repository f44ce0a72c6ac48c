//! The fast path agrees with CEL whenever it answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
use serde_json::json;

use crate::condition::{Condition, json_to_cel, with_scope};
use crate::facts::default_value;

const CONDITIONS: &[&str] = &[
    "shell.destructive",
    "!shell.destructive",
    "agent.labels.?env.orValue(\"\") == \"production\" && shell.mutates",
    "agent.labels.env == \"production\"",
    "agent.labels.env != \"production\" || sql.writes",
    "has(agent.labels.env)",
    "agent.tenant == \"acme\" && agent.team in [\"a\", \"b\", \"payments\"]",
    "tool.name in [\"bash\", \"Bash\"]",
    "tool.args.count == 3",
    "tool.args.count == \"3\"",
    "tool.args.flag || tool.args.missing",
    "tool.args.missing || tool.args.flag",
    "tool.args.missing && false",
    "tool.args.nested.deep == 1",
    "request.max_tokens == 0",
    "sql.kind == \"select\" && !sql.has_limit",
    "url.private || url.loopback",
    "tool.args == 1",
    "null == tool.args.nothing",
    "true",
    "agent.labels.?team.orValue(\"none\") == \"none\"",
    "agent.tenant == \"nobody\" && tool.name.startsWith(\"ba\") && size(tool.name) > 1",
    "tool.name.startsWith(\"ba\") || path.touches(\"/etc\")",
    "tool.name.endsWith(\"sh\") && tool.name.contains(\"as\")",
    "tool.args.count.startsWith(\"3\")",
    "size(tool.name) > 100 || agent.id == \"a\"",
    "request.max_tokens > 10 && request.max_tokens <= 800",
    "request.projected_cost_usd < 1.0",
    "request.projected_cost_usd >= 0.002",
    "request.projected_cost_usd < 1",
    "tool.args.count < 5",
    "tool.args.count >= 3.0",
    // Comprehensions over list facts.
    "sql.kinds.exists(k, k == \"drop\" || k == \"truncate\")",
    "sql.kinds.exists(k, k in [\"drop\", \"truncate\"]) || (sql.writes && !sql.has_where)",
    "!sql.has_where && sql.kinds.exists(k, k != \"select\")",
    "sql.writes && sql.kinds.size() > 0 && sql.kinds.all(k, k == \"select\")",
    "sql.kinds.exists_one(k, k == \"select\")",
    "sql.tables.all(t, t.startsWith(\"public.\"))",
    "url.present && url.schemes.exists(s, !(s in [\"http\", \"https\"]))",
    "url.present && !url.opaque && url.schemes.all(s, s in [\"http\", \"https\"])",
    "history.exists(h, h.secret_in_result)",
    "history.exists(h, h.tool == \"read_file\" && h.paths.exists(p, p.startsWith(\"/etc\")))",
    "history.all(h, h.args.n > 1)",
    "history.exists(h, h.args.n > 1)",
    "history.exists_one(h, h.args.n == 2)",
    "history.exists(agent, agent.tool == \"fetch\")",
    "tool.args.list.exists(x, x == 1)",
    "tool.args.list.all(x, x == 1)",
    "tool.args.list.exists(x, x.missing)",
    "tool.args.list.exists_one(x, x == 1 || x == \"a\")",
    "tool.args.exists(k, k == \"count\")",
    "tool.args.count.exists(k, k == 1)",
    "sql.kinds.map(k, k == \"drop\").exists(x, x)",
    "sql.kinds.filter(k, k == \"drop\").size() == 0",
    // Sizes, regexes and path functions.
    "size(tool.name) == 4",
    "tool.name.size() < 5",
    "size(tool.args) >= 2",
    "size(history) == 0",
    "size(tool.args.count) == 1",
    "size(\"héllo\") == 5",
    "tool.name.matches(\"^[a-z]+$\")",
    "matches(tool.name, \"sh$\")",
    "tool.args.count.matches(\"3\")",
    "path.paths.exists(p, p.matches('(^|/)[.](ssh|aws)(/|$)'))",
    "path.touches(\"/etc\") || path.touches(\"~/.ssh\")",
    "path.within(\"/work\")",
    "path.within(\"~\")",
    "path.paths.exists(p, (p.startsWith(\"/\") || p.startsWith(\"~\")) && !within(p, agent.labels.workspace))",
    "path.paths.all(p, within(p, \"/work\"))",
    "tool.args.path.touches(\"/etc\")",
    "url.touches(\"/etc\")",
    // List and map literals as ranges and `in` operands, and literal indexes.
    "[[\"a\", 1], [\"d\", 2]].exists(p, p[0] == agent.id && p[1] == 1)",
    "[[\"a\", \"x\"], [\"e\", \"y\"]].exists(p, p[0] == agent.id && p[1] == tool.name)",
    "[\"bash\", \"query\"].exists(n, tool.name == n)",
    "[1, 2, 3].all(x, x > 0)",
    "[1, 3].exists_one(x, x == tool.args.count)",
    "[].exists(x, x == 1)",
    "[null].exists(x, x == tool.args.nothing)",
    "[0.002, 1.5].exists(x, x == request.projected_cost_usd)",
    "[1.0].exists(x, x == 1.0)",
    "[[1]].exists(x, x[1] == 1)",
    "[[1]].exists(x, x[-1] == 1)",
    "[[1]].exists(x, x[0] == 1)",
    "[{\"k\": \"a\"}].exists(x, x[\"k\"] == agent.id)",
    "[{\"k\": \"a\"}].exists(x, x[\"z\"] == agent.id)",
    "{\"a\": 1, \"b\": 2}[\"a\"] == 1",
    "{\"a\": 1}[\"z\"] == 1",
    "{\"a\": [1, 2]}[\"a\"].exists(x, x == 2)",
    "{\"bash\": \"shell\"}[tool.name] == \"shell\"",
    "[1, 2][0] == 1 && [1, 2][1] == 2",
    "[1, 2][2] == 1",
    "[1, 2][\"a\"] == 1",
    "{\"a\": 1}[0] == 1",
    "\"bash\" in {\"bash\": 1, \"sh\": 2}",
    "tool.name in {\"bash\": 1, \"sh\": 2}",
    "1 in {\"a\": 1}",
    "tool.name in [\"a\", [\"b\"]]",
    "[\"x\", \"a\"] == [\"x\", agent.id]",
    "\"count\" in tool.args",
    "1 in tool.args.list",
    "\"a\" in tool.args.list",
    "tool.args.list[0] == 1",
    "tool.args.list[5] == 1",
    "tool.args.nested[\"deep\"] == 1",
    "tool.args[\"count\"] == 3",
    "history.exists(h, h.args[\"n\"] == 2)",
    "history.exists(h, h[\"args\"][\"n\"] == 3)",
    "[[\"x\", \"y\"]].exists(p, p[0] in [\"x\"] && p[1] in {\"y\": true})",
];

fn actions() -> Vec<serde_json::Value> {
    vec![
        json!({"kind": "tool_call", "agent": {"id": "a"}, "tool": {"name": "bash", "args": {"command": "rm -rf /"}}}),
        json!({"kind": "tool_call", "agent": {"id": "a", "tenant": "acme", "team": "payments", "labels": {"env": "production"}},
               "tool": {"name": "query", "args": {"sql": "SELECT * FROM t", "count": 3, "flag": true, "nested": {"deep": 1}}}}),
        json!({"kind": "tool_call", "agent": {"id": "b", "labels": {"env": "dev", "team": "x"}},
               "tool": {"name": "fetch", "args": {"url": "http://127.0.0.1/", "count": "3", "flag": false, "nested": 5}}}),
        json!({"kind": "llm_request", "agent": {"id": "c"}, "request": {"model": "m", "max_tokens": 0}}),
        json!({"kind": "llm_request", "agent": {"id": "c"}, "request": {"model": "m", "max_tokens": 800, "projected_cost_usd": 0.002}}),
        json!({"kind": "tool_call", "agent": {"id": "d"}, "tool": {"name": "query", "args": {"sql": "DROP TABLE a; SELECT 1; DELETE FROM b", "list": [1, "a", {"k": 1}]}}}),
        json!({"kind": "tool_call", "agent": {"id": "d"}, "tool": {"name": "query", "args": {"sql": "UPDATE public.a SET x = 1", "list": [1, 1]}}}),
        json!({"kind": "tool_call", "agent": {"id": "e", "home": "/home/e", "labels": {"workspace": "/work"}},
               "tool": {"name": "read_multiple_files", "args": {"paths": ["/work/a", "~/.ssh/id_rsa", "/etc/passwd"]}},
               "history": [{"tool": "read_file", "args": {"path": "/etc/shadow", "n": 2}, "result": "root:x"},
                           {"tool": "fetch", "args": {"url": "https://x.example/", "n": 3}, "result": "AKIAIOSFODNN7EXAMPLE"}]}),
        json!({"kind": "tool_call", "agent": {"id": "e", "labels": {"workspace": "/work"}},
               "tool": {"name": "read_file", "args": {"path": "/work/src/lib.rs"}},
               "history": [{"tool": "fetch", "args": {"url": "http://x.example/"}}]}),
        json!({"kind": "tool_call", "agent": {"id": "f"}, "tool": {"name": "fetch", "args": {"url": ["https://a.example/", "gopher://b.example/"]}}}),
    ]
}

#[test]
fn fast_path_agrees_with_cel_whenever_it_answers() {
    let mappings = crate::ToolMappings::builtin();
    let mut answered = 0;
    for src in CONDITIONS {
        let condition = Condition::compile(src).unwrap();
        for action in actions() {
            let action: crate::Action = serde_json::from_value(action).unwrap();
            let facts = crate::facts::compute(&action, &mappings);
            let cel = with_scope(facts.home.as_deref(), |scope| {
                for (root, value) in &facts.roots {
                    scope.add_variable_from_value(*root, json_to_cel(value));
                }
                condition.eval_bool(scope)
            });
            let Some(fast) = condition.fast() else {
                continue;
            };
            let lookup = |root: &str| facts.get(root).or_else(|| default_value(root));
            if let Ok(native) = fast.eval_bool(&lookup, facts.home.as_deref()) {
                answered += 1;
                assert_eq!(Ok(native), cel, "{src} on {:?}", action.tool);
            }
        }
    }
    assert!(
        answered > 250,
        "the fast path answered only {answered} times"
    );
}

#[test]
fn common_shapes_compile_natively() {
    for src in [
        "shell.destructive",
        "agent.labels.?env.orValue(\"\") == \"production\" && (shell.mutates || sql.writes)",
        "sql.kind == \"select\" && !sql.has_limit",
        "tool.name in [\"a\", \"b\"] && has(tool.args.mode)",
        "path.touches(\"/etc\")",
        "history.exists(h, h.tool == \"x\")",
        "sql.kinds.all(k, k == \"select\") && sql.kinds.exists_one(k, k == \"select\")",
        "size(tool.name) > 3 && tool.name.matches(\"^a\")",
        "[[\"id1\", \"mail1\"], [\"id2\", \"mail2\"]].exists(editor, editor[0] == authzen.subject.id && editor[1] == authzen.resource.properties.ownerID)",
        "tool.name in {\"bash\": 1} && tool.args[\"mode\"] == \"write\"",
    ] {
        assert!(Condition::compile(src).unwrap().fast().is_some(), "{src}");
    }
    for src in [
        "sql.kinds.map(k, k == \"x\").size() > 0",
        "tool.name.matches(tool.args.pattern)",
        "int(tool.args.count) > 3",
        "[1u].exists(x, x == tool.args.count)",
        "[tool.name].exists(x, x == \"a\")",
        "tool.args.list[tool.args.count] == 1",
    ] {
        assert!(Condition::compile(src).unwrap().fast().is_none(), "{src}");
    }
}

/// The AuthZEN interop example bundle and its fixtures, read from the repository.
fn authzen_interop() -> (crate::Bundle, Vec<crate::fixtures::Case>) {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/authzen-interop");
    let read = |path: std::path::PathBuf| crate::SourceFile {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        text: std::fs::read_to_string(&path).unwrap(),
    };
    let yaml_in = |dir: std::path::PathBuf| {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .map(read)
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        files
    };
    let bundle = crate::Bundle::load(&yaml_in(dir.clone())).unwrap();
    let cases: Vec<_> = yaml_in(dir.join("tests"))
        .iter()
        .flat_map(|file| crate::fixtures::parse(file).unwrap())
        .collect();
    assert!(!cases.is_empty(), "no AuthZEN interop fixtures");
    (bundle, cases)
}

#[test]
fn authzen_interop_conditions_are_decided_natively_as_cel_decides_them() {
    let (bundle, cases) = authzen_interop();
    let mappings = crate::ToolMappings::builtin();
    for rule in bundle.rules() {
        let Some(condition) = &rule.condition else {
            continue;
        };
        let fast = condition
            .fast()
            .unwrap_or_else(|| panic!("{} does not compile natively", rule.id));
        for case in &cases {
            let facts = crate::facts::compute(&case.action, &mappings);
            let cel = with_scope(facts.home.as_deref(), |scope| {
                for (root, value) in &facts.roots {
                    scope.add_variable_from_value(*root, json_to_cel(value));
                }
                condition.eval_bool(scope)
            });
            let lookup = |root: &str| facts.get(root).or_else(|| default_value(root));
            let native = fast.eval_bool(&lookup, facts.home.as_deref());
            assert_eq!(
                native.ok(),
                Some(cel.clone().unwrap()),
                "{} on {}",
                rule.id,
                case.name
            );
        }
    }
}

#[test]
fn authzen_interop_fixtures_pass() {
    let (bundle, cases) = authzen_interop();
    let count = cases.len();
    let failed: Vec<String> = crate::fixtures::run(&bundle, cases)
        .into_iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{} → {}", r.case.name, r.outcome))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {count} failed: {failed:?}",
        failed.len()
    );
}
