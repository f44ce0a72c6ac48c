//! `warden.yaml`: every shipped example loads, bad files get located errors, and the committed
//! JSON Schema matches the types.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use warden_gateway::config::{self, Config, ConfigError, ProviderKind};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn problems(text: &str) -> Vec<String> {
    match Config::parse("warden.yaml", text, Path::new("/etc/warden")) {
        Ok(c) => panic!("unexpectedly valid: {c:?}"),
        Err(ConfigError::Invalid(list)) => list.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn every_example_config_loads() {
    let mut loaded = 0;
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let is_config = path.extension().is_some_and(|e| e == "yaml")
            && std::fs::read_to_string(&path)
                .unwrap()
                .contains("\npolicy:");
        if is_config {
            Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            loaded += 1;
        }
    }
    assert!(loaded >= 1);
}

#[test]
fn example_values_are_converted() {
    let c = Config::load(&repo().join("examples/warden.yaml")).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.providers["openai"].kind, ProviderKind::Openai);
    assert_eq!(c.providers["anthropic"].api_key_env, "ANTHROPIC_API_KEY");
    assert_eq!(c.agents["billing-bot"].labels["env"], "production");
    assert_eq!(c.limits.max_body_bytes, 8 << 20);
    assert_eq!(c.limits.upstream_timeout_ms, 120_000);
    assert_eq!(c.ledger.checkpoint_interval_ms, 1000);
    assert!(c.bundle.ends_with("policies/baseline"));
    assert!(c.bundle.is_dir(), "{}", c.bundle.display());
}

#[test]
fn defaults_for_a_minimal_file() {
    let c = Config::parse(
        "w.yaml",
        "policy: { bundle: policies }\n",
        Path::new("/srv"),
    )
    .unwrap();
    assert_eq!(c.bundle, Path::new("/srv/policies"));
    assert_eq!(c.data_dir, Path::new("/srv/warden-data"));
    assert_eq!(c.admin_listen.to_string(), "127.0.0.1:8081");
    assert!(c.reload);
    assert!(c.providers.is_empty());
}

#[test]
fn unknown_fields_are_located() {
    let p = problems("policy: { bundle: p }\nprovders: {}\n");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("warden.yaml:2:"), "{p:?}");
    assert!(p[0].contains("provders"), "{p:?}");
}

#[test]
fn semantic_errors_name_line_and_field() {
    let p = problems(
        "policy: { bundle: p }
listen: { agents: '127.0.0.1:9000', admin: 'nonsense' }
providers:
  openai:
    kind: openai
    base_url: api.openai.com
    api_key_env: sk-live-123
limits: { max_body: 8 mb, upstream_timeout: forever }
",
    );
    let has = |s: &str| p.iter().any(|m| m.contains(s));
    assert!(
        has("warden.yaml:2:") && has("listen.admin: `nonsense` is not an address"),
        "{p:#?}"
    );
    assert!(
        has("warden.yaml:5:") && has("providers.openai.base_url"),
        "{p:#?}"
    );
    assert!(
        has("providers.openai.api_key_env: must be the name of an environment variable"),
        "{p:#?}"
    );
    assert!(has("limits.max_body: `8 mb` is not a size"), "{p:#?}");
    assert!(has("limits.upstream_timeout"), "{p:#?}");
}

#[test]
fn budgets_are_converted_to_micro_dollars_with_overridden_prices() {
    let c = Config::load(&repo().join("examples/warden.yaml")).unwrap();
    let b = c.budgets.expect("the example has budgets");
    assert_eq!(b.limits.len(), 3);
    assert_eq!(b.limits[0].kind, warden_budget::ScopeKind::Run);
    assert_eq!(b.limits[0].id, None);
    assert_eq!(b.limits[1].id.as_deref(), Some("billing-bot"));
    assert_eq!(b.limits[1].window, warden_budget::Window::Day);
    assert_eq!(b.limits[1].limit, warden_budget::Micros(20_000_000));
    assert_eq!(b.reservation_ttl_ms, 600_000);
    assert_eq!(b.unpriced, config::Unpriced::Refuse);
    assert!(b.prices.lookup("gpt-4o-mini").is_some());

    let c = Config::parse(
        "w.yaml",
        "policy: { bundle: p }\nbudgets:\n  prices: { gpt-4o: { input: 1, output: 2 }, local: { input: 0, output: 0 } }\n  unpriced_models: allow\n",
        Path::new("/srv"),
    )
    .unwrap();
    let b = c.budgets.unwrap();
    let (_, price) = b.prices.lookup("gpt-4o-2024-08-06").unwrap();
    assert_eq!(price.input, warden_budget::Micros(1_000_000));
    assert_eq!(price.cached_input, price.input);
    assert!(b.prices.lookup("local").is_some());
    assert_eq!(b.unpriced, config::Unpriced::Allow);
    assert!(b.limits.is_empty());
}

#[test]
fn budget_errors_name_the_field() {
    let p = problems(
        "policy: { bundle: p }
budgets:
  limits:
    - { scope: user, window: day, usd: 1 }
    - { scope: agent, window: week, usd: 1 }
    - { scope: agent, window: day, usd: -5 }
  prices: { m: { input: 1, output: 1, max_output_tokens: 0 } }
  reservation_ttl: soon
",
    );
    let has = |s: &str| p.iter().any(|m| m.contains(s));
    assert!(
        has("budgets.limits[0].scope: `user` is not a scope"),
        "{p:#?}"
    );
    assert!(
        has("budgets.limits[1].window: `week` is not a budget window"),
        "{p:#?}"
    );
    assert!(has("budgets.limits[2].usd"), "{p:#?}");
    assert!(
        has("budgets.prices.m: model `m`: max_output_tokens"),
        "{p:#?}"
    );
    assert!(
        has("budgets.reservation_ttl: `soon` is not a duration"),
        "{p:#?}"
    );
}

#[test]
fn listeners_must_differ() {
    let p = problems(
        "policy: { bundle: p }\nlisten: { agents: '127.0.0.1:8080', admin: '127.0.0.1:8080' }\n",
    );
    assert!(
        p[0].contains("listen.admin: the admin listener must differ"),
        "{p:?}"
    );
}

#[test]
fn hostile_yaml_is_an_error_not_a_crash() {
    for text in [
        "",
        "policy: [",
        &format!("policy: {}{}", "[".repeat(50_000), "]".repeat(50_000)),
        "a: &a [*a]\n",
        "policy: { bundle: p }\nagents: { x: { labels: { env: [1] } } }\n",
    ] {
        assert!(Config::parse("w.yaml", text, Path::new(".")).is_err());
    }
}

#[test]
fn committed_schema_matches_the_types() {
    let path = repo().join("docs/warden.schema.json");
    let generated = serde_json::to_string_pretty(&config::json_schema()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/warden.schema.json is stale; regenerate with UPDATE_SCHEMA=1 cargo test -p warden-gateway --test config"
    );
    let v: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert!(v["properties"]["providers"].is_object());
}
