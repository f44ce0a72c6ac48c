//! Decision latency of the policy engine.
//!
//! Times, per action, a 100-rule bundle deciding (a) plain tool calls whose arguments no analyzer
//! reads and (b) shell and SQL tool calls, analysis included. Prints p50, p99 and p99.9 from
//! per-call timings, and, as the reference measured in the same run, the cost of only parsing the
//! same action from JSON (which any enforcement point pays before deciding). For shell and SQL
//! calls it also times the analyzer alone on the same argument, so that the engine's own share
//! (facts, rules, decision) is the difference between the two lines.
//!
//! Run: `cargo bench -p warden-policy --bench evaluate`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use warden_analyze::sql::SqlDialect;
use warden_analyze::{shell, sql};
use warden_policy::{Action, Bundle, Outcome, SourceFile};

const WARMUP: usize = 2_000;
const ITERATIONS: usize = 20_000;

fn main() {
    let bundle = hundred_rule_bundle();
    assert_eq!(bundle.rules().len(), 100);
    println!(
        "bundle: {} rules, version {}",
        bundle.rules().len(),
        bundle.digest()
    );
    println!(
        "{:<44} {:>9} {:>9} {:>9} {:>10}",
        "case", "p50 µs", "p99 µs", "p99.9 µs", "vs parse"
    );
    let cases = [
        (
            "plain: unmapped tool, prod agent",
            r#"{"kind":"tool_call","agent":{"id":"billing-bot","tenant":"acme","team":"payments","labels":{"env":"production"}},"tool":{"name":"get_weather","args":{"city":"Oslo","units":"metric"}}}"#,
            Outcome::Deny,
        ),
        (
            "plain: allowed helper tool",
            r#"{"kind":"tool_call","agent":{"id":"dev-bot","labels":{"env":"dev"}},"tool":{"name":"TodoWrite","args":{"todos":[{"content":"write tests","status":"pending"}]}}}"#,
            Outcome::Allow,
        ),
        (
            "plain: llm request",
            r#"{"kind":"llm_request","agent":{"id":"dev-bot","labels":{"env":"dev"}},"request":{"model":"gpt-4.1-mini","provider":"openai","input_tokens":1200,"max_tokens":800,"projected_cost_usd":0.002}}"#,
            Outcome::Allow,
        ),
        (
            "shell: benign (git status && cargo test)",
            r#"{"kind":"tool_call","agent":{"id":"dev-bot","labels":{"env":"dev"}},"tool":{"name":"bash","args":{"command":"git status && cargo test --workspace 2>&1 | tail -n 20"}}}"#,
            Outcome::Allow,
        ),
        (
            "shell: obfuscated destructive",
            r#"{"kind":"tool_call","agent":{"id":"dev-bot","labels":{"env":"dev"}},"tool":{"name":"bash","args":{"command":"cd /tmp && sudo env X=1 bash -c \"'r'm -rf /var/lib/postgresql\""}}}"#,
            Outcome::Deny,
        ),
        (
            "sql: select with join and limit",
            r#"{"kind":"tool_call","agent":{"id":"dev-bot","labels":{"env":"dev"}},"tool":{"name":"query","args":{"sql":"SELECT u.id, u.email, count(o.id) FROM users u JOIN orders o ON o.user_id = u.id WHERE u.created_at > now() - interval '7 days' GROUP BY u.id, u.email ORDER BY 3 DESC LIMIT 50"}}}"#,
            Outcome::Allow,
        ),
        (
            "sql: write hidden in CTE",
            r#"{"kind":"tool_call","agent":{"id":"dev-bot","labels":{"env":"production"}},"tool":{"name":"query","args":{"sql":"WITH gone AS (DELETE FROM sessions RETURNING id) SELECT count(*) FROM gone"}}}"#,
            Outcome::Deny,
        ),
    ];
    for (name, json, expected) in cases {
        let action = Action::from_json(json).expect("bench action parses");
        let decided = bundle.evaluate(&action).outcome;
        assert_eq!(
            decided, expected,
            "{name}: the bench bundle decided {decided}"
        );
        let parse = time(|| {
            black_box(Action::from_json(black_box(json)).ok());
        });
        let eval = time(|| {
            black_box(bundle.evaluate(black_box(&action)));
        });
        println!(
            "{:<44} {:>9.2} {:>9.2} {:>9.2} {:>9.1}x",
            name,
            micros(eval.p50),
            micros(eval.p99),
            micros(eval.p999),
            eval.p50.as_secs_f64() / parse.p50.as_secs_f64()
        );
        if let Some(analysis) = analysis_alone(&action) {
            println!(
                "{:<44} {:>9.2} {:>9.2} {:>9.2}",
                "  of which the analyzer alone",
                micros(analysis.p50),
                micros(analysis.p99),
                micros(analysis.p999),
            );
        }
    }
}

/// The analyzer's own time on the action's shell or SQL argument (as the built-in profiles map
/// `bash` and `query`), measured the same way, so the engine's share can be read off.
fn analysis_alone(action: &Action) -> Option<Percentiles> {
    let tool = action.tool.as_ref()?;
    let text = |key: &str| {
        tool.args
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    match tool.name.as_str() {
        "bash" => {
            let script = text("command")?;
            Some(time(|| {
                black_box(shell::analyze(black_box(&script)));
            }))
        }
        "query" => {
            let sql_text = text("sql")?;
            Some(time(|| {
                black_box(sql::analyze(black_box(&sql_text), SqlDialect::Postgres));
            }))
        }
        _ => None,
    }
}

struct Percentiles {
    p50: Duration,
    p99: Duration,
    p999: Duration,
}

fn time(mut f: impl FnMut()) -> Percentiles {
    for _ in 0..WARMUP {
        f();
    }
    let mut samples: Vec<Duration> = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let start = Instant::now();
        f();
        samples.push(start.elapsed());
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A realistic 100-rule bundle: 20 core safety rules over analyzer facts, 40 rules scoped to
/// specific tools, and 40 rules over agent and request attributes.
fn hundred_rule_bundle() -> Bundle {
    let mut rules = String::from(
        r#"
rules:
  - id: no-destructive-shell
    when: shell.destructive
    decision: deny
  - id: shell-privileged
    when: shell.privileged || shell.opaque
    decision: require_approval
  - id: prod-shell-mutation
    when: agent.labels.?env.orValue("") == "production" && shell.mutates
    decision: require_approval
  - id: shell-ok
    when: shell.present
    decision: allow
  - id: sql-destructive
    when: sql.kinds.exists(k, k in ["drop", "truncate"]) || (sql.writes && !sql.has_where)
    decision: deny
  - id: sql-privileged
    when: sql.privileged
    decision: deny
  - id: prod-sql-write
    when: agent.labels.?env.orValue("") == "production" && sql.writes
    decision: deny
  - id: unbounded-select
    when: sql.kind == "select" && !sql.has_limit
    decision: remediate
    rewrite: { "@sql": "sql.with_limit(1000)" }
  - id: sql-reads
    when: sql.present && !sql.writes && !sql.opaque
    decision: allow
  - id: credential-paths
    when: path.touches("~/.ssh") || path.touches("~/.aws") || path.touches("/etc/shadow")
    decision: deny
  - id: path-escape
    when: path.escapes || path.opaque
    decision: deny
  - id: files-ok
    when: path.present
    decision: allow
  - id: url-internal
    when: url.private || url.loopback || url.link_local || url.metadata
    decision: deny
  - id: url-ok
    when: url.present && url.scheme in ["http", "https"]
    decision: allow
  - id: secrets-in-args
    when: secrets.found
    decision: deny
  - id: exfiltration
    when: (shell.network || url.present) && history.exists(h, h.secret_in_result)
    decision: deny
  - id: changed-tool
    when: tool.definition_changed
    decision: deny
  - id: helper-tools
    tools: [TodoWrite, WebSearch, Task]
    decision: allow
  - id: llm-ok
    kinds: [llm_request]
    when: request.projected_cost_usd < 1.0
    decision: allow
  - id: llm-expensive
    kinds: [llm_request]
    when: request.projected_cost_usd >= 1.0
    decision: require_approval
"#,
    );
    for i in 0..40 {
        rules.push_str(&format!(
            "  - id: tool-scope-{i}\n    tools: [\"internal_tool_{i}\", \"svc{i}_*\"]\n    when: tool.args.?mode.orValue(\"\") == \"write\"\n    decision: require_approval\n"
        ));
    }
    for i in 0..40 {
        rules.push_str(&format!(
            "  - id: tenant-rule-{i}\n    when: agent.tenant == \"tenant-{i}\" && agent.team in [\"team-a\", \"team-b\"] && tool.name.startsWith(\"admin_\")\n    decision: deny\n"
        ));
    }
    rules.push_str("default: deny\n");
    match Bundle::load(&[SourceFile {
        name: "bench.yaml".into(),
        text: rules,
    }]) {
        Ok(b) => b,
        Err(e) => panic!("bench bundle: {e}"),
    }
}
