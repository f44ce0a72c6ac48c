//! Facts: what conditions can read about an action.
//!
//! Facts are computed once per action, and the analyzers run only on the arguments the tool
//! mappings type. Every fact root has a default value (held by each thread's root CEL context), so
//! a rule that reads `shell.destructive` on an action without a shell argument reads `false`
//! rather than failing.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};
use warden_analyze::{path, secrets, shell, sql, url};

use crate::action::{Action, ActionKind};
use crate::profiles::{ArgType, Mapping, ToolMappings, patch_paths};

mod build;
mod needs;

use build::{agent_facts, shell_json, sql_json, tool_facts};
pub(crate) use needs::FactNeeds;

/// A fact root and the function producing its default value (also its schema for load checks).
pub(crate) type FactRoot = (&'static str, fn() -> Value);

/// Every fact root, in the order explanations list them.
pub(crate) const DEFAULT_FACTS: &[FactRoot] = &[
    ("action", || json!({ "kind": "" })),
    (
        "agent",
        || json!({ "id": "", "tenant": "", "team": "", "labels": {}, "home": "" }),
    ),
    (
        "tool",
        || json!({ "name": "", "args": {}, "server": "", "annotations": {}, "definition_changed": false }),
    ),
    ("request", || {
        json!({
            "model": "", "provider": "", "input_tokens": 0, "max_tokens": 0,
            "projected_cost_usd": 0.0, "stream": false, "tools": [], "changed_tools": []
        })
    }),
    (
        "egress",
        || json!({ "url": "", "method": "", "address": "" }),
    ),
    ("shell", || {
        with_present(to_json(&shell::ShellFacts::default()), false)
    }),
    ("sql", || {
        let mut v = with_present(to_json(&sql::SqlFacts::default()), false);
        insert(&mut v, "text", json!(""));
        insert(&mut v, "dialect", json!("generic"));
        v
    }),
    ("path", || path_summary(&[], false)),
    ("url", || {
        let mut v = with_present(to_json(&url::UrlFacts::default()), false);
        insert(&mut v, "hosts", json!([]));
        insert(&mut v, "schemes", json!([]));
        v
    }),
    ("secrets", || secrets_summary(&[])),
    ("history", || json!([])),
    (
        "authzen",
        || json!({ "subject": {}, "resource": {}, "action": {}, "context": {} }),
    ),
    ("context", || json!({})),
];

/// Fact roots and fields whose keys are free-form (not checked at load).
pub(crate) const FREE_FORM_FIELDS: &[&str] = &[
    "authzen",
    "context",
    "history",
    "agent.labels",
    "tool.args",
    "tool.annotations",
];

/// The facts of one action: the roots that differ from their defaults.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Fact root → value.
    pub roots: Vec<(&'static str, Value)>,
    /// The agent's home directory, for `~` in path functions.
    pub home: Option<String>,
}

impl Facts {
    /// The value of a root, if the action sets it.
    pub fn get(&self, root: &str) -> Option<&Value> {
        self.roots.iter().find(|(r, _)| *r == root).map(|(_, v)| v)
    }

    /// Whether the action sets `root` (rather than leaving its default).
    pub fn sets(&self, root: &str) -> bool {
        self.roots.iter().any(|(r, _)| *r == root)
    }

    /// The value of a root: the action's, or the default.
    pub fn value(&self, root: &str) -> Option<&Value> {
        self.get(root).or_else(|| default_value(root))
    }
}

/// Computes the facts of `action` with the bundle's tool mappings.
pub fn compute(action: &Action, mappings: &ToolMappings) -> Facts {
    compute_with(action, mappings, &FactNeeds::all())
}

/// Computes the facts of `action`, building only the analyzer fields in `needs` (every other
/// fact is built in full).
pub(crate) fn compute_with(action: &Action, mappings: &ToolMappings, needs: &FactNeeds) -> Facts {
    let home = action.agent.home.clone().filter(|h| !h.is_empty());
    let mut roots: Vec<(&'static str, Value)> = vec![
        ("action", json!({ "kind": action.kind.as_str() })),
        ("agent", agent_facts(&action.agent)),
    ];
    let mut scan = SecretScan::default();

    if let Some(tool) = &action.tool {
        roots.push(("tool", tool_facts(tool)));
        scan.value(&mut String::from("tool.args"), &tool.args);
        if let Some(mapping) = mappings.lookup(&tool.name) {
            typed_facts(&tool.args, mapping, home.as_deref(), needs, &mut roots);
        }
    }
    if let Some(request) = &action.request {
        let mut v = to_json(request);
        if let Value::Object(m) = &mut v {
            m.remove("text");
        }
        roots.push(("request", v));
        scan.text("request.text", &request.text);
    }
    if let Some(egress) = &action.egress {
        roots.push(("egress", to_json(egress)));
        let facts = url::analyze(&egress.url);
        let mut v = to_json(&facts);
        insert(&mut v, "hosts", json!([facts.host]));
        insert(&mut v, "schemes", json!([facts.scheme]));
        roots.push(("url", with_present(v, true)));
    }
    if let Some(authzen) = &action.authzen {
        let mut v = default_value("authzen").cloned().unwrap_or_default();
        if let (Value::Object(dst), Value::Object(src)) = (&mut v, authzen) {
            for (k, val) in src {
                dst.insert(k.clone(), val.clone());
            }
        }
        roots.push(("authzen", v));
    }
    if !action.history.is_empty() {
        roots.push(("history", history_facts(action, mappings, home.as_deref())));
    }
    if !action.context.is_empty() {
        roots.push(("context", to_json(&action.context)));
    }
    if action.kind == ActionKind::Egress {
        scan.text(
            "egress.url",
            action.egress.as_ref().map_or("", |e| e.url.as_str()),
        );
    }
    if !scan.found.is_empty() {
        roots.push(("secrets", secrets_summary(&scan.found)));
    }
    Facts { roots, home }
}

/// The default value of every fact root, built once.
static DEFAULT_VALUES: LazyLock<Vec<(&'static str, Value)>> =
    LazyLock::new(|| DEFAULT_FACTS.iter().map(|(r, f)| (*r, f())).collect());

/// The default value of a fact root, shared.
pub(crate) fn default_value(root: &str) -> Option<&'static Value> {
    DEFAULT_VALUES
        .iter()
        .find(|(r, _)| *r == root)
        .map(|(_, v)| v)
}

/// Runs the analyzers on the typed arguments of a tool call.
fn typed_facts(
    args: &Value,
    mapping: &Mapping,
    home: Option<&str>,
    needs: &FactNeeds,
    roots: &mut Vec<(&'static str, Value)>,
) {
    let mut scripts: Vec<String> = Vec::new();
    let mut shell_opaque = false;
    let mut sql_texts: Vec<String> = Vec::new();
    let mut sql_dialect = None;
    let mut sql_opaque = false;
    let mut paths: Vec<String> = Vec::new();
    let mut paths_opaque = false;
    let mut urls: Vec<String> = Vec::new();
    let mut urls_opaque = false;

    for (name, ty) in &mapping.args {
        let Some(value) = arg(args, name) else {
            continue;
        };
        match ty {
            ArgType::Shell => match shell_text(value) {
                Some(s) => scripts.push(s),
                None => shell_opaque = true,
            },
            ArgType::Sql(dialect) => match value {
                Value::String(s) => {
                    sql_texts.push(s.clone());
                    sql_dialect.get_or_insert(*dialect);
                }
                _ => sql_opaque = true,
            },
            ArgType::Path => match strings(value) {
                Some(list) => paths.extend(list),
                None => paths_opaque = true,
            },
            ArgType::Url => match strings(value) {
                Some(list) => urls.extend(list),
                None => urls_opaque = true,
            },
            ArgType::Patch => match value {
                Value::String(s) => paths.extend(patch_paths(s)),
                _ => paths_opaque = true,
            },
        }
    }

    if !scripts.is_empty() || shell_opaque {
        let mut facts = shell_json(shell::analyze(&scripts.join("\n")), &needs.shell);
        if shell_opaque && needs.shell.wants("opaque") {
            insert(&mut facts, "opaque", json!(true));
        }
        roots.push(("shell", with_present(facts, true)));
    }
    if !sql_texts.is_empty() || sql_opaque {
        let dialect = sql_dialect.unwrap_or_default();
        let text = sql_texts.join(";\n");
        let mut facts = sql_json(sql::analyze(&text, dialect), &needs.sql);
        if sql_opaque && needs.sql.wants("opaque") {
            insert(&mut facts, "opaque", json!(true));
        }
        if needs.sql.wants("text") {
            insert(&mut facts, "text", Value::String(text));
        }
        if needs.sql.wants("dialect") {
            insert(&mut facts, "dialect", json!(dialect_name(dialect)));
        }
        roots.push(("sql", with_present(facts, true)));
    }
    if !paths.is_empty() || paths_opaque {
        let analyzed: Vec<path::PathFacts> = paths.iter().map(|p| path::analyze(p, home)).collect();
        roots.push(("path", path_summary(&analyzed, paths_opaque)));
    }
    if !urls.is_empty() || urls_opaque {
        let mut merged = Value::Null;
        let each: Vec<url::UrlFacts> = urls.iter().map(|u| url::analyze(u)).collect();
        for facts in &each {
            merge(&mut merged, to_json(facts));
        }
        if merged.is_null() {
            merged = to_json(&url::UrlFacts::default());
        }
        if urls_opaque {
            insert(&mut merged, "opaque", json!(true));
        }
        let hosts: Vec<&str> = each.iter().map(|u| u.host.as_str()).collect();
        let schemes: Vec<&str> = each.iter().map(|u| u.scheme.as_str()).collect();
        insert(&mut merged, "hosts", json!(hosts));
        insert(&mut merged, "schemes", json!(schemes));
        roots.push(("url", with_present(merged, true)));
    }
}

fn dialect_name(d: sql::SqlDialect) -> &'static str {
    match d {
        sql::SqlDialect::Generic => "generic",
        sql::SqlDialect::Postgres => "postgres",
        sql::SqlDialect::MySql => "mysql",
    }
}

/// The summary of every path a call touches.
fn path_summary(paths: &[path::PathFacts], opaque: bool) -> Value {
    let mut merged = to_json(&path::PathFacts::default());
    let mut first = true;
    for p in paths {
        if first {
            merged = to_json(p);
            first = false;
        } else {
            merge(&mut merged, to_json(p));
        }
    }
    if opaque || paths.iter().any(|p| p.opaque) {
        insert(&mut merged, "opaque", json!(true));
    }
    let list: Vec<&str> = paths.iter().map(|p| p.normalized.as_str()).collect();
    insert(&mut merged, "paths", json!(list));
    with_present(merged, !paths.is_empty() || opaque)
}

/// The value at a dotted argument path.
fn arg<'a>(args: &'a Value, name: &str) -> Option<&'a Value> {
    name.split('.').try_fold(args, |v, key| v.get(key))
}

/// A shell argument as one script: a string as is, an argv array quoted and joined.
fn shell_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let words: Option<Vec<String>> =
                items.iter().map(|i| i.as_str().map(shell_quote)).collect();
            words.map(|w| w.join(" "))
        }
        _ => None,
    }
}

fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./=:@%+,-".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A string or an array of strings.
fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

/// Facts about the earlier calls of the conversation: the tool, its arguments and result, and the
/// paths and hosts its typed arguments name.
fn history_facts(action: &Action, mappings: &ToolMappings, home: Option<&str>) -> Value {
    let entries: Vec<Value> = action
        .history
        .iter()
        .map(|h| {
            let mut paths: Vec<String> = Vec::new();
            let mut hosts: Vec<String> = Vec::new();
            if let Some(mapping) = mappings.lookup(&h.tool) {
                for (name, ty) in &mapping.args {
                    let Some(value) = arg(&h.args, name) else {
                        continue;
                    };
                    match ty {
                        ArgType::Path => {
                            for p in strings(value).unwrap_or_default() {
                                paths.push(path::analyze(&p, home).normalized);
                            }
                        }
                        ArgType::Patch => {
                            for p in value.as_str().map(patch_paths).unwrap_or_default() {
                                paths.push(path::analyze(&p, home).normalized);
                            }
                        }
                        ArgType::Url => {
                            for u in strings(value).unwrap_or_default() {
                                hosts.push(url::analyze(&u).host);
                            }
                        }
                        ArgType::Shell | ArgType::Sql(_) => {}
                    }
                }
            }
            let result = h.result.clone().unwrap_or_default();
            let secret_in_result = !secrets::scan(truncate(&result, HISTORY_SCAN_BYTES)).is_empty();
            json!({
                "tool": h.tool,
                "args": h.args,
                "result": result,
                "paths": paths,
                "hosts": hosts,
                "secret_in_result": secret_in_result,
            })
        })
        .collect();
    Value::Array(entries)
}

/// How much of each earlier result is scanned for secrets.
const HISTORY_SCAN_BYTES: usize = 64 * 1024;

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// Secrets found in an action, by field; the secret text itself is never kept.
#[derive(Default)]
struct SecretScan {
    found: Vec<(String, String)>,
}

impl SecretScan {
    fn text(&mut self, field: &str, text: &str) {
        for d in secrets::scan(text) {
            self.found.push((d.kind, field.to_owned()));
        }
    }

    /// Scans every string in `value`; `field` is its path, extended in place for nested values
    /// so that clean arguments cost no allocation per field.
    fn value(&mut self, field: &mut String, value: &Value) {
        use std::fmt::Write as _;
        match value {
            Value::String(s) => self.text(field, s),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = field.len();
                    let _ = write!(field, "[{i}]");
                    self.value(field, item);
                    field.truncate(len);
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    let len = field.len();
                    field.push('.');
                    field.push_str(k);
                    self.value(field, v);
                    field.truncate(len);
                }
            }
            _ => {}
        }
    }
}

fn secrets_summary(found: &[(String, String)]) -> Value {
    let mut kinds: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let detections: Vec<Value> = found
        .iter()
        .map(|(kind, field)| json!({ "kind": kind, "field": field }))
        .collect();
    json!({
        "found": !found.is_empty(),
        "count": found.len(),
        "kinds": kinds,
        "detections": detections,
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn insert(target: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = target {
        map.insert(key.to_owned(), value);
    }
}

fn with_present(mut facts: Value, present: bool) -> Value {
    if !facts.is_object() {
        facts = Value::Object(Map::new());
    }
    insert(&mut facts, "present", json!(present));
    facts
}

/// Merges the facts of another argument: flags are or-ed, lists concatenated, the rest kept from
/// the first.
fn merge(acc: &mut Value, next: Value) {
    match (acc, next) {
        (acc @ Value::Null, next) => *acc = next,
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(Value::Bool(x)) => *x = *x || v.as_bool().unwrap_or(false),
                    Some(Value::Array(x)) => {
                        if let Value::Array(more) = v {
                            x.extend(more);
                        }
                    }
                    Some(_) => {}
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(json: &str) -> Facts {
        let action = Action::from_json(json).unwrap();
        compute(&action, &ToolMappings::builtin())
    }

    #[test]
    fn shell_argv_arrays_are_quoted() {
        assert_eq!(
            shell_text(&json!(["bash", "-lc", "rm -rf /tmp/x"])).unwrap(),
            "bash -lc 'rm -rf /tmp/x'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert!(shell_text(&json!(["ok", 1])).is_none());
    }

    #[test]
    fn untyped_shell_argument_is_opaque() {
        let f = facts(r#"{"kind":"tool_call","tool":{"name":"bash","args":{"command":42}}}"#);
        let shell = f.get("shell").unwrap();
        assert_eq!(shell["opaque"], json!(true));
        assert_eq!(shell["present"], json!(true));
    }

    #[test]
    fn secrets_are_located_not_copied() {
        let key = "AKIAIOSFODNN7EXAMPLE";
        let f = facts(&format!(
            r#"{{"kind":"tool_call","tool":{{"name":"bash","args":{{"command":"echo {key}"}}}}}}"#
        ));
        let s = f.get("secrets").unwrap();
        assert_eq!(s["found"], json!(true));
        assert_eq!(s["detections"][0]["field"], json!("tool.args.command"));
        assert!(!s.to_string().contains(key));
    }

    #[test]
    fn paths_from_several_arguments() {
        let f = facts(
            r#"{"kind":"tool_call","tool":{"name":"move_file","args":{"source":"/work/a","destination":"/work/../etc/passwd"}}}"#,
        );
        assert_eq!(
            f.get("path").unwrap()["paths"],
            json!(["/work/a", "/etc/passwd"])
        );
    }

    #[test]
    fn every_url_scheme_is_a_fact() {
        let f = facts(
            r#"{"kind":"tool_call","tool":{"name":"fetch","args":{"url":["https://example.com/","gopher://evil.example:70/x"]}}}"#,
        );
        let url = f.get("url").unwrap();
        assert_eq!(url["schemes"], json!(["https", "gopher"]));
        assert_eq!(url["hosts"], json!(["example.com", "evil.example"]));
    }

    #[test]
    fn defaults_cover_every_root() {
        for (root, default) in DEFAULT_FACTS {
            assert!(!default().is_null(), "{root}");
        }
    }
}
