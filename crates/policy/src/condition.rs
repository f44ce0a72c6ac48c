//! CEL conditions: compilation, load-time checks, and the functions Warden adds to CEL.
//!
//! A [`Condition`] is compiled once when a bundle loads and shared across threads. Each thread
//! keeps one root CEL context holding the functions and the default value of every fact; an
//! evaluation opens a child scope and binds only the facts the action actually has.
//!
//! Functions added to CEL:
//! - `s.matches(re)` / `matches(s, re)`: RE2-style regex match, each pattern compiled once per
//!   thread (the stock implementation recompiles on every call).
//! - `path.within(dir)`: every path the call touches is `dir` or inside it (false when none).
//! - `path.touches(dir)`: at least one path the call touches is `dir` or inside it.
//! - `within(p, dir)`: one normalized path against a directory (for `history` and comprehensions).
//! - `sql.with_limit(n)`: the call's single SELECT rewritten to return at most `n` rows.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr, LiteralValue};
use cel::extractors::This;
use cel::objects::{Key, Map};
use cel::{Context, Env, ExecutionError, IdedExpr, Program, Value};

use crate::facts::{DEFAULT_FACTS, FREE_FORM_FIELDS};
use crate::fast::Fast;

/// A compiled CEL expression with the fact paths it reads.
#[derive(Debug)]
pub struct Condition {
    source: String,
    program: Program,
    reads: Vec<String>,
    roots: Vec<&'static str>,
    fast: Option<Fast>,
    sql_limit: Option<i64>,
}

/// A fact path a condition reads, with its compiled accessor (for explanations).
#[derive(Debug)]
pub(crate) struct ReadProbe {
    pub path: String,
    pub program: Program,
}

impl Condition {
    /// Compiles `source` and checks every identifier and fact field it names.
    pub fn compile(source: &str) -> Result<Condition, String> {
        if source.len() > MAX_CONDITION_BYTES {
            return Err(format!(
                "condition is {} bytes; the limit is {MAX_CONDITION_BYTES}",
                source.len()
            ));
        }
        let depth = nesting_depth(source);
        if depth > MAX_DEPTH {
            return Err(format!(
                "expression nests {depth} levels deep; the limit is {MAX_DEPTH}"
            ));
        }
        let program = COMPILER
            .with(|env| env.compile(source))
            .map_err(|e| one_line(&e.to_string()))?;
        let mut checker = Checker::default();
        checker.walk(program.expression(), 0);
        if let Some(problem) = checker.problems.into_iter().next() {
            return Err(problem);
        }
        let mut reads: Vec<String> = checker.reads;
        reads.sort();
        reads.dedup();
        let mut roots: Vec<&'static str> = DEFAULT_FACTS
            .iter()
            .map(|(root, _)| *root)
            .filter(|root| reads.iter().any(|r| r.split('.').next() == Some(*root)))
            .collect();
        if checker.uses_home && !roots.contains(&"agent") {
            // `~` in path functions expands to the agent's home.
            roots.push("agent");
        }
        let fast = Fast::compile(program.expression());
        let sql_limit = sql_limit_of(program.expression());
        Ok(Condition {
            source: source.to_owned(),
            program,
            reads,
            roots,
            fast,
            sql_limit,
        })
    }

    /// The CEL source as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The fact paths the condition reads (`shell.destructive`, `agent.labels.env`).
    pub fn reads(&self) -> &[String] {
        &self.reads
    }

    /// The fact roots the condition depends on.
    pub(crate) fn roots(&self) -> &[&'static str] {
        &self.roots
    }

    /// The compiled expression.
    pub(crate) fn expression(&self) -> &IdedExpr {
        self.program.expression()
    }

    /// The native form of the condition, when it has one.
    pub(crate) fn fast(&self) -> Option<&Fast> {
        self.fast.as_ref()
    }

    /// For the expression `sql.with_limit(n)` with a literal `n`: `n` (the engine computes that
    /// rewrite natively, see [`sql_limit_json`]).
    pub(crate) fn sql_limit(&self) -> Option<i64> {
        self.sql_limit
    }

    /// Evaluates the condition in `scope`; a non-boolean result is an error.
    pub(crate) fn eval_bool(&self, scope: &Context<'_, '_>) -> Result<bool, String> {
        match self.program.execute(scope) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!(
                "condition must be a boolean, got {}",
                other.type_of()
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Evaluates the expression in `scope` and returns its value as JSON.
    pub(crate) fn eval_json(&self, scope: &Context<'_, '_>) -> Result<serde_json::Value, String> {
        let value = self.program.execute(scope).map_err(|e| e.to_string())?;
        cel_to_json(&value)
    }

    /// Compiles an accessor for each fact path read, for explanations.
    pub(crate) fn read_probes(&self) -> Vec<ReadProbe> {
        self.reads
            .iter()
            .filter_map(|path| {
                COMPILER
                    .with(|env| env.compile(path))
                    .ok()
                    .map(|program| ReadProbe {
                        path: path.clone(),
                        program,
                    })
            })
            .collect()
    }
}

impl ReadProbe {
    /// The value of the path in `scope`, or the error reading it.
    pub(crate) fn value(&self, scope: &Context<'_, '_>) -> serde_json::Value {
        match self.program.execute(scope) {
            Ok(v) => cel_to_json(&v).unwrap_or(serde_json::Value::Null),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        }
    }
}

/// The longest condition accepted; a policy is written by people, not generated megabytes.
const MAX_CONDITION_BYTES: usize = 16 * 1024;
/// Deepest expression nesting accepted, so that hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// How deeply brackets and prefix operators nest in `source`, measured before parsing so that
/// the parser's recursion stays bounded.
fn nesting_depth(source: &str) -> usize {
    let mut depth: usize = 0;
    let mut max: usize = 0;
    let mut prefix_run: usize = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in source.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c == '!' || c == '-' {
            prefix_run += 1;
        } else if !c.is_whitespace() {
            prefix_run = 0;
        }
        max = max.max(depth + prefix_run);
    }
    max
}

fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Walks a compiled expression to find unknown identifiers and unknown fields of fact roots.
#[derive(Default)]
struct Checker {
    scope: Vec<String>,
    problems: Vec<String>,
    reads: Vec<String>,
    uses_home: bool,
}

impl Checker {
    fn walk(&mut self, expr: &IdedExpr, depth: usize) {
        if depth > MAX_DEPTH {
            self.problems
                .push(format!("expression nests deeper than {MAX_DEPTH} levels"));
            return;
        }
        match &expr.expr {
            Expr::Ident(name) => self.ident(name),
            Expr::Select(select) => {
                if let Some(chain) = select_chain(expr) {
                    self.fact_path(&chain);
                } else {
                    self.walk(&select.operand, depth + 1);
                }
            }
            Expr::Call(call) if self.is_with_limit_on_sql(call) => {
                // `sql.with_limit(n)` reads the SQL text and its dialect, not every SQL fact.
                self.reads.push("sql.text".to_owned());
                self.reads.push("sql.dialect".to_owned());
                for arg in &call.args {
                    self.walk(arg, depth + 1);
                }
            }
            Expr::Call(call) => {
                // `~` expands to the agent's home: a path function whose paths all come from
                // literals depends on the agent even when it reads no fact.
                let literal_only = call
                    .target
                    .iter()
                    .map(|t| t.as_ref())
                    .chain(call.args.iter())
                    .all(|e| !mentions_fact(e, &self.scope));
                if matches!(call.func_name.as_str(), "within" | "touches") && literal_only {
                    self.uses_home = true;
                }
                if call.func_name == "matches"
                    && let Some(Expr::Literal(LiteralValue::String(pattern))) =
                        call.args.last().map(|a| &a.expr)
                    && let Err(e) = check_regex(pattern.inner())
                {
                    self.problems
                        .push(format!("invalid regex in matches(): {e}"));
                }
                if let Some(target) = &call.target {
                    self.walk(target, depth + 1);
                }
                for arg in &call.args {
                    self.walk(arg, depth + 1);
                }
            }
            Expr::Comprehension(c) => {
                self.walk(&c.iter_range, depth + 1);
                self.walk(&c.accu_init, depth + 1);
                let before = self.scope.len();
                self.scope.push(c.iter_var.clone());
                if let Some(v) = &c.iter_var2 {
                    self.scope.push(v.clone());
                }
                self.scope.push(c.accu_var.clone());
                self.walk(&c.loop_cond, depth + 1);
                self.walk(&c.loop_step, depth + 1);
                self.walk(&c.result, depth + 1);
                self.scope.truncate(before);
            }
            Expr::List(list) => {
                for e in &list.elements {
                    self.walk(e, depth + 1);
                }
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    match &entry.expr {
                        EntryExpr::MapEntry(m) => {
                            self.walk(&m.key, depth + 1);
                            self.walk(&m.value, depth + 1);
                        }
                        EntryExpr::StructField(f) => self.walk(&f.value, depth + 1),
                    }
                }
            }
            Expr::Struct(s) => {
                self.problems.push(format!(
                    "message literals (`{}{{…}}`) are not supported",
                    s.type_name
                ));
            }
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }

    /// `sql.with_limit(…)` on the `sql` fact itself (not on a comprehension variable).
    fn is_with_limit_on_sql(&self, call: &cel::common::ast::CallExpr) -> bool {
        call.func_name == "with_limit"
            && matches!(
                call.target.as_deref().map(|t| &t.expr),
                Some(Expr::Ident(name)) if name == "sql" && !self.scope.iter().any(|s| s == "sql")
            )
    }

    fn ident(&mut self, name: &str) {
        if self.scope.iter().any(|s| s == name) {
            return;
        }
        if DEFAULT_FACTS.iter().any(|(root, _)| *root == name) {
            self.reads.push(name.to_owned());
            return;
        }
        let roots: Vec<&str> = DEFAULT_FACTS.iter().map(|(r, _)| *r).collect();
        self.problems.push(format!(
            "unknown name `{name}` (facts are: {})",
            roots.join(", ")
        ));
    }

    /// `root.field.sub…`: the root must be a fact and its first field one the fact has.
    fn fact_path(&mut self, chain: &[&str]) {
        let Some((root, fields)) = chain.split_first() else {
            return;
        };
        if self.scope.iter().any(|s| s == root) {
            return;
        }
        let Some((_, schema)) = DEFAULT_FACTS.iter().find(|(r, _)| r == root) else {
            self.ident(root);
            return;
        };
        let Some(first) = fields.first() else {
            self.reads.push((*root).to_owned());
            return;
        };
        match schema() {
            serde_json::Value::Object(known) if !FREE_FORM_FIELDS.contains(root) => {
                if !known.contains_key(*first) {
                    let mut names: Vec<&String> = known.keys().collect();
                    names.sort();
                    let names: Vec<&str> = names.into_iter().map(String::as_str).collect();
                    self.problems.push(format!(
                        "unknown field `{root}.{first}` (`{root}` has: {})",
                        names.join(", ")
                    ));
                    return;
                }
                let free = FREE_FORM_FIELDS.contains(&format!("{root}.{first}").as_str());
                let depth = if free { 3 } else { 2 };
                self.reads.push(
                    chain
                        .iter()
                        .take(depth)
                        .copied()
                        .collect::<Vec<_>>()
                        .join("."),
                );
            }
            _ => self
                .reads
                .push(chain.iter().take(2).copied().collect::<Vec<_>>().join(".")),
        }
    }
}

/// Whether an expression reads a fact root or a comprehension variable.
fn mentions_fact(expr: &IdedExpr, scope: &[String]) -> bool {
    match &expr.expr {
        Expr::Ident(name) => {
            scope.iter().any(|s| s == name) || DEFAULT_FACTS.iter().any(|(r, _)| r == name)
        }
        Expr::Select(s) => mentions_fact(&s.operand, scope),
        Expr::Call(c) => {
            c.target.as_ref().is_some_and(|t| mentions_fact(t, scope))
                || c.args.iter().any(|a| mentions_fact(a, scope))
        }
        Expr::List(l) => l.elements.iter().any(|e| mentions_fact(e, scope)),
        Expr::Literal(_) => false,
        _ => true,
    }
}

/// `a.b.c` as `["a", "b", "c"]` when the select chain ends in a plain identifier (no calls, no
/// `has()` tests).
fn select_chain(expr: &IdedExpr) -> Option<Vec<&str>> {
    let mut fields = Vec::new();
    let mut cur = expr;
    loop {
        match &cur.expr {
            Expr::Select(s) => {
                fields.push(s.field.as_str());
                cur = &s.operand;
            }
            Expr::Ident(name) => {
                fields.push(name.as_str());
                fields.reverse();
                return Some(fields);
            }
            _ => return None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Per-thread root context.

thread_local! {
    /// The standard environment with optional syntax (`a.?b`, `orValue`), for compiling.
    static COMPILER: Env = Env::stdlib();
    static ROOT: Context<'static, 'static> = root_context();
    static REGEXES: RefCell<HashMap<String, Arc<regex::Regex>>> = RefCell::new(HashMap::new());
    static HOME: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Most regexes kept per thread before the cache is emptied.
const REGEX_CACHE_LIMIT: usize = 512;
/// Compiled-size limit of a pattern, so a hostile pattern cannot take unbounded memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn root_context() -> Context<'static, 'static> {
    let mut ctx = Context::default();
    // Registration only fails on a name clash with the standard library, which the names below
    // do not have; a clash would surface as an undeclared function at evaluation (fail closed).
    let _ = ctx.add_function("matches", matches);
    let _ = ctx.add_function("within", within_fn);
    let _ = ctx.add_function("touches", touches_fn);
    let _ = ctx.add_function("with_limit", with_limit_fn);
    for (root, default) in DEFAULT_FACTS.iter() {
        ctx.add_variable_from_value(*root, json_to_cel(&default()));
    }
    ctx
}

/// Runs `f` with a fresh child scope of this thread's root context, with `home` as the directory
/// `~` expands to in path functions.
pub(crate) fn with_scope<R>(
    home: Option<&str>,
    f: impl FnOnce(&mut Context<'_, 'static>) -> R,
) -> R {
    HOME.with(|h| *h.borrow_mut() = home.map(str::to_owned));
    ROOT.with(|root| {
        let mut scope = root.new_inner_scope();
        f(&mut scope)
    })
}

/// Checks that a literal regex pattern compiles (used at load time).
pub(crate) fn check_regex(pattern: &str) -> Result<(), String> {
    compile_regex(pattern).map(|_| ())
}

/// A regex compiled as `matches` compiles it (cached per thread, size-limited).
pub(crate) fn compile_regex(pattern: &str) -> Result<Arc<regex::Regex>, String> {
    REGEXES.with(|cache| {
        if let Some(re) = cache.borrow().get(pattern) {
            return Ok(Arc::clone(re));
        }
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| one_line(&e.to_string()))?;
        let re = Arc::new(re);
        let mut cache = cache.borrow_mut();
        if cache.len() >= REGEX_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), Arc::clone(&re));
        Ok(re)
    })
}

fn matches(This(text): This<Arc<String>>, pattern: Arc<String>) -> Result<bool, ExecutionError> {
    let re = compile_regex(&pattern)
        .map_err(|e| ExecutionError::function_error("matches", format!("invalid regex: {e}")))?;
    Ok(re.is_match(&text))
}

fn home() -> Option<String> {
    HOME.with(|h| h.borrow().clone())
}

fn paths_of(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.to_string()],
        Value::Map(map) => match map_get(map, "paths") {
            Some(Value::List(list)) => list
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn within_fn(This(target): This<Value>, dir: Arc<String>) -> bool {
    let paths = paths_of(&target);
    let home = home();
    !paths.is_empty()
        && paths
            .iter()
            .all(|p| warden_analyze::path::within(p, &dir, home.as_deref()))
}

fn touches_fn(This(target): This<Value>, dir: Arc<String>) -> bool {
    let home = home();
    paths_of(&target)
        .iter()
        .any(|p| warden_analyze::path::within(p, &dir, home.as_deref()))
}

fn with_limit_fn(This(target): This<Value>, limit: i64) -> Result<Value, ExecutionError> {
    let err = |m: String| ExecutionError::function_error("with_limit", m);
    let Value::Map(map) = &target else {
        return Err(err("with_limit is called on `sql`".into()));
    };
    let field = |key: &str| match map_get(map, key) {
        Some(Value::String(s)) => Some(s.as_str().to_owned()),
        _ => None,
    };
    limited_sql(field("text").as_deref(), field("dialect").as_deref(), limit)
        .map(|sql| Value::String(Arc::new(sql)))
        .map_err(err)
}

/// `sql.with_limit(n)` from the JSON `sql` fact, without CEL: the same result, and on failure the
/// same error text, as evaluating the expression with CEL.
pub(crate) fn sql_limit_json(
    sql: Option<&serde_json::Value>,
    limit: i64,
) -> Result<serde_json::Value, String> {
    let err = |m: String| ExecutionError::function_error("with_limit", m).to_string();
    let Some(serde_json::Value::Object(map)) = sql else {
        return Err(err("with_limit is called on `sql`".into()));
    };
    let field = |key: &str| map.get(key).and_then(serde_json::Value::as_str);
    limited_sql(field("text"), field("dialect"), limit)
        .map(serde_json::Value::String)
        .map_err(err)
}

/// The SQL `text` limited to `limit` rows; the error names what is wrong.
fn limited_sql(text: Option<&str>, dialect: Option<&str>, limit: i64) -> Result<String, String> {
    let text = text.ok_or("the call has no SQL argument")?;
    let dialect = dialect
        .map(|d| d.parse().unwrap_or_default())
        .unwrap_or_default();
    let limit = u64::try_from(limit).map_err(|_| "limit must not be negative")?;
    warden_analyze::sql::with_limit(text, dialect, limit).map_err(|e| e.to_string())
}

/// `n` when `expr` is `sql.with_limit(n)` with a literal integer `n`.
fn sql_limit_of(expr: &IdedExpr) -> Option<i64> {
    let Expr::Call(call) = &expr.expr else {
        return None;
    };
    let target = call.target.as_deref()?;
    match (&target.expr, call.func_name.as_str(), call.args.as_slice()) {
        (Expr::Ident(root), "with_limit", [limit]) if root == "sql" => match &limit.expr {
            Expr::Literal(LiteralValue::Int(n)) => Some(**n),
            _ => None,
        },
        _ => None,
    }
}

fn map_get<'a>(map: &'a Map, key: &str) -> Option<&'a Value> {
    map.map.get(&Key::String(Arc::new(key.to_owned())))
}

// ---------------------------------------------------------------------------------------------
// JSON <-> CEL.

/// Converts JSON into a CEL value; integers become `int` where they fit so that comparisons with
/// integer literals work.
pub(crate) fn json_to_cel(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(json_to_cel).collect()))
        }
        serde_json::Value::Object(fields) => {
            let map: HashMap<Key, Value> = fields
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                .collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

/// Converts a CEL value back to JSON (for rewrites and explanations).
pub(crate) fn cel_to_json(value: &Value) -> Result<serde_json::Value, String> {
    Ok(match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::UInt(u) => serde_json::Value::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::Bytes(b) => serde_json::Value::String(String::from_utf8_lossy(b).into_owned()),
        Value::List(items) => serde_json::Value::Array(
            items
                .iter()
                .map(cel_to_json)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Value::Map(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map.map.iter() {
                let key = match k {
                    Key::String(s) => s.to_string(),
                    Key::Int(i) => i.to_string(),
                    Key::Uint(u) => u.to_string(),
                    Key::Bool(b) => b.to_string(),
                };
                out.insert(key, cel_to_json(v)?);
            }
            serde_json::Value::Object(out)
        }
        other => return Err(format!("a {} value cannot be used here", other.type_of())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(source: &str) -> Result<bool, String> {
        let c = Condition::compile(source)?;
        with_scope(None, |scope| c.eval_bool(scope))
    }

    #[test]
    fn defaults_make_absent_facts_false() {
        assert_eq!(eval("shell.destructive"), Ok(false));
        assert_eq!(eval("sql.writes || url.private"), Ok(false));
        assert_eq!(eval("size(history) == 0"), Ok(true));
    }

    #[test]
    fn unknown_names_and_fields_are_load_errors() {
        let e = Condition::compile("shell.destructiv").unwrap_err();
        assert!(e.contains("unknown field `shell.destructiv`"), "{e}");
        let e = Condition::compile("shel.destructive").unwrap_err();
        assert!(e.contains("unknown name `shel`"), "{e}");
        let e = Condition::compile("bogus == 1").unwrap_err();
        assert!(e.contains("unknown name `bogus`"), "{e}");
        // Free-form maps accept any key; comprehension variables are in scope.
        assert!(Condition::compile("agent.labels.env == 'prod'").is_ok());
        assert!(Condition::compile("tool.args.anything == 1").is_ok());
        assert!(Condition::compile("history.exists(h, h.tool == 'read_file')").is_ok());
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(Condition::compile("shell.destructive &&").is_err());
        assert!(Condition::compile("(((").is_err());
    }

    #[test]
    fn reads_are_collected() {
        let c =
            Condition::compile("agent.labels.env == 'p' && (shell.mutates || sql.writes)").unwrap();
        assert_eq!(
            c.reads(),
            ["agent.labels.env", "shell.mutates", "sql.writes"]
        );
    }

    #[test]
    fn with_limit_reads_the_text_and_dialect() {
        let c = Condition::compile("sql.with_limit(100)").unwrap();
        assert_eq!(c.reads(), ["sql.dialect", "sql.text"]);
        assert_eq!(c.roots(), ["sql"]);
        // On anything other than the `sql` fact, the target is read as usual.
        let c = Condition::compile("[sql].map(s, s.with_limit(1))").unwrap();
        assert_eq!(c.reads(), ["sql"]);
    }

    #[test]
    fn native_with_limit_is_cels() {
        let facts = [
            serde_json::json!({"text": "SELECT * FROM t", "dialect": "postgres"}),
            serde_json::json!({"text": "SELECT a FROM t LIMIT 5000", "dialect": "mysql"}),
            serde_json::json!({"text": "SELECT 1; SELECT 2", "dialect": "generic"}),
            serde_json::json!({"text": "DELETE FROM t"}),
            serde_json::json!({"text": "not sql (", "dialect": "bogus"}),
            serde_json::json!({"text": 42}),
            serde_json::json!({}),
        ];
        for limit in [100, 0, -5] {
            let c = Condition::compile(&format!("sql.with_limit({limit})")).unwrap();
            for sql in &facts {
                let by_cel = with_scope(None, |scope| {
                    scope.add_variable_from_value("sql", json_to_cel(sql));
                    c.eval_json(scope)
                });
                assert_eq!(sql_limit_json(Some(sql), limit), by_cel, "{sql} {limit}");
            }
        }
        assert_eq!(
            Condition::compile("sql.with_limit(7)").unwrap().sql_limit(),
            Some(7)
        );
        assert_eq!(
            Condition::compile("sql.with_limit(1 + 1)")
                .unwrap()
                .sql_limit(),
            None
        );
        assert_eq!(Condition::compile("sql.text").unwrap().sql_limit(), None);
    }

    #[test]
    fn literal_regexes_are_checked_at_load() {
        let e = Condition::compile("tool.name.matches('(unclosed')").unwrap_err();
        assert!(e.contains("invalid regex"), "{e}");
    }

    #[test]
    fn matches_uses_real_regexes() {
        assert_eq!(eval("'abc123'.matches('^[a-z]+[0-9]+$')"), Ok(true));
        assert_eq!(eval("matches('abc', '^b')"), Ok(false));
        assert!(eval("'abc'.matches('(')").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}true{}", "(".repeat(2000), ")".repeat(2000));
        assert!(Condition::compile(&deep).is_err());
    }

    #[test]
    fn json_round_trip() {
        let j = serde_json::json!({"a": [1, -2, 2.5, "x", true, null], "b": {"c": 18446744073709551615u64}});
        assert_eq!(cel_to_json(&json_to_cel(&j)).unwrap(), j);
    }
}
