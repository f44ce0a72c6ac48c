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
    ] {
        assert!(Condition::compile(src).unwrap().fast().is_some(), "{src}");
    }
    for src in [
        "sql.kinds.map(k, k == \"x\").size() > 0",
        "tool.name.matches(tool.args.pattern)",
        "int(tool.args.count) > 3",
    ] {
        assert!(Condition::compile(src).unwrap().fast().is_none(), "{src}");
    }
}
