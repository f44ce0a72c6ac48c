//! A native evaluator for the condition shapes most rules are written in, so that deciding an
//! action does not pay CEL's interpretation overhead for every rule.
//!
//! It covers fact paths, literals, `!`, `&&`, `||`, `==`, `!=`, `in [literals]`, `has(a.b)` and
//! `a.?b.orValue(literal)`, read straight from the JSON facts. It answers only when it is certain
//! its answer is CEL's: anything else (a missing key, a type it does not compare, a function call)
//! yields [`Unsure`], and the caller evaluates the condition with CEL instead. `&&` and `||`
//! follow CEL's commutative rules: `false && x` is false and `true || x` is true whatever `x` is.

use cel::IdedExpr;
use std::cmp::Ordering;

use cel::common::ast::{Expr, LiteralValue};
use serde_json::Value;

/// A condition compiled for native evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fast {
    Lit(Lit),
    /// A fact path: root, then fields.
    Path(Vec<String>),
    /// `has(path)`.
    Has(Vec<String>),
    /// `path.?field.orValue(default)`.
    OrValue(Vec<String>, Lit),
    Not(Box<Fast>),
    And(Box<Fast>, Box<Fast>),
    Or(Box<Fast>, Box<Fast>),
    Eq(Box<Fast>, Box<Fast>),
    Ne(Box<Fast>, Box<Fast>),
    /// `<`, `<=`, `>`, `>=` between numbers of the same type.
    Cmp(Ordering, bool, Box<Fast>, Box<Fast>),
    In(Box<Fast>, Vec<Lit>),
    /// `s.startsWith(lit)`, `s.endsWith(lit)`, `s.contains(lit)` on strings.
    StrTest(StrTest, Box<Fast>, String),
    /// A sub-expression only CEL evaluates: always [`Unsure`], but `false && x` and `true || x`
    /// still decide natively.
    Opaque,
}

/// A string test the fast path performs natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrTest {
    StartsWith,
    EndsWith,
    Contains,
}

/// A literal the fast path compares.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Bool(bool),
    Str(String),
    Int(i64),
    Double(f64),
    Null,
}

/// The fast path cannot tell what CEL would answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsure;

/// A value the fast path computed, borrowed from the facts or the compiled condition.
#[derive(Debug, Clone, Copy)]
enum Val<'a> {
    Json(&'a Value),
    Lit(&'a Lit),
    Bool(bool),
}

/// A scalar as compared for equality.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scalar<'a> {
    Bool(bool),
    Str(&'a str),
    Int(i64),
    Double(f64),
    Null,
}

impl Fast {
    /// Compiles the shapes the fast path understands; `None` when none of the condition is.
    pub(crate) fn compile(expr: &IdedExpr) -> Option<Fast> {
        match Fast::node(expr) {
            Fast::Opaque => None,
            fast => Some(fast),
        }
    }

    /// Compiles one node; anything not understood becomes [`Fast::Opaque`].
    fn node(expr: &IdedExpr) -> Fast {
        Fast::shape(expr).unwrap_or(Fast::Opaque)
    }

    fn shape(expr: &IdedExpr) -> Option<Fast> {
        Some(match &expr.expr {
            Expr::Literal(l) => Fast::Lit(literal(l)?),
            Expr::Ident(_) | Expr::Select(_) => {
                if let Expr::Select(s) = &expr.expr
                    && s.test
                {
                    let mut path = path_of(&s.operand)?;
                    path.push(s.field.clone());
                    return Some(Fast::Has(path));
                }
                Fast::Path(path_of(expr)?)
            }
            Expr::Call(call) => {
                let args = &call.args;
                match (call.func_name.as_str(), &call.target, args.as_slice()) {
                    ("!_", None, [a]) => Fast::Not(Box::new(Fast::shape(a)?)),
                    ("_&&_", None, [a, b]) => {
                        Fast::And(Box::new(Fast::node(a)), Box::new(Fast::node(b)))
                    }
                    ("_||_", None, [a, b]) => {
                        Fast::Or(Box::new(Fast::node(a)), Box::new(Fast::node(b)))
                    }
                    ("_==_", None, [a, b]) => {
                        Fast::Eq(Box::new(Fast::shape(a)?), Box::new(Fast::shape(b)?))
                    }
                    ("_!=_", None, [a, b]) => {
                        Fast::Ne(Box::new(Fast::shape(a)?), Box::new(Fast::shape(b)?))
                    }
                    (op @ ("_<_" | "_<=_" | "_>_" | "_>=_"), None, [a, b]) => {
                        let (ordering, or_equal) = match op {
                            "_<_" => (Ordering::Less, false),
                            "_<=_" => (Ordering::Less, true),
                            "_>_" => (Ordering::Greater, false),
                            _ => (Ordering::Greater, true),
                        };
                        Fast::Cmp(
                            ordering,
                            or_equal,
                            Box::new(Fast::shape(a)?),
                            Box::new(Fast::shape(b)?),
                        )
                    }
                    (name @ ("startsWith" | "endsWith" | "contains"), Some(target), [arg]) => {
                        let Expr::Literal(LiteralValue::String(needle)) = &arg.expr else {
                            return None;
                        };
                        let test = match name {
                            "startsWith" => StrTest::StartsWith,
                            "endsWith" => StrTest::EndsWith,
                            _ => StrTest::Contains,
                        };
                        Fast::StrTest(
                            test,
                            Box::new(Fast::shape(target)?),
                            needle.inner().to_owned(),
                        )
                    }
                    ("@in", None, [a, list_expr]) => match &list_expr.expr {
                        Expr::List(list) if list.optional_indices.is_empty() => Fast::In(
                            Box::new(Fast::shape(a)?),
                            list.elements
                                .iter()
                                .map(|e| match &e.expr {
                                    Expr::Literal(l) => literal(l),
                                    _ => None,
                                })
                                .collect::<Option<Vec<_>>>()?,
                        ),
                        _ => return None,
                    },
                    ("orValue", Some(target), [default]) => {
                        let Expr::Call(opt) = &target.expr else {
                            return None;
                        };
                        let (Expr::Literal(d), "_?._", None, [operand, field]) = (
                            &default.expr,
                            opt.func_name.as_str(),
                            &opt.target,
                            opt.args.as_slice(),
                        ) else {
                            return None;
                        };
                        let Expr::Literal(LiteralValue::String(field)) = &field.expr else {
                            return None;
                        };
                        let mut path = path_of(operand)?;
                        path.push(field.inner().to_owned());
                        Fast::OrValue(path, literal(d)?)
                    }
                    _ => return None,
                }
            }
            _ => return None,
        })
    }

    /// Evaluates to a boolean, or [`Unsure`].
    pub(crate) fn eval_bool<'a>(
        &'a self,
        lookup: &impl Fn(&str) -> Option<&'a Value>,
    ) -> Result<bool, Unsure> {
        match self.eval(lookup)? {
            Val::Json(Value::Bool(b)) | Val::Lit(Lit::Bool(b)) => Ok(*b),
            Val::Bool(b) => Ok(b),
            _ => Err(Unsure),
        }
    }

    fn eval<'a>(&'a self, lookup: &impl Fn(&str) -> Option<&'a Value>) -> Result<Val<'a>, Unsure> {
        match self {
            Fast::Lit(l) => Ok(Val::Lit(l)),
            Fast::Path(path) => resolve(path, lookup).map(Val::Json),
            Fast::Has(path) => {
                let (field, parent) = path.split_last().ok_or(Unsure)?;
                match resolve(parent, lookup)? {
                    Value::Object(map) => Ok(Val::Bool(map.contains_key(field))),
                    _ => Err(Unsure),
                }
            }
            Fast::OrValue(path, default) => {
                let (field, parent) = path.split_last().ok_or(Unsure)?;
                match resolve(parent, lookup)? {
                    Value::Object(map) => Ok(map.get(field).map_or(Val::Lit(default), Val::Json)),
                    _ => Err(Unsure),
                }
            }
            Fast::Not(a) => Ok(Val::Bool(!a.eval_bool(lookup)?)),
            Fast::And(a, b) => {
                let x = a.eval_bool(lookup);
                if x == Ok(false) {
                    return Ok(Val::Bool(false));
                }
                match (x, b.eval_bool(lookup)) {
                    (_, Ok(false)) => Ok(Val::Bool(false)),
                    (Ok(true), Ok(true)) => Ok(Val::Bool(true)),
                    _ => Err(Unsure),
                }
            }
            Fast::Or(a, b) => {
                let x = a.eval_bool(lookup);
                if x == Ok(true) {
                    return Ok(Val::Bool(true));
                }
                match (x, b.eval_bool(lookup)) {
                    (_, Ok(true)) => Ok(Val::Bool(true)),
                    (Ok(false), Ok(false)) => Ok(Val::Bool(false)),
                    _ => Err(Unsure),
                }
            }
            Fast::Eq(a, b) => Ok(Val::Bool(equal(a.eval(lookup)?, b.eval(lookup)?)?)),
            Fast::Ne(a, b) => Ok(Val::Bool(!equal(a.eval(lookup)?, b.eval(lookup)?)?)),
            Fast::Opaque => Err(Unsure),
            Fast::Cmp(ordering, or_equal, a, b) => {
                let found = match (scalar(a.eval(lookup)?)?, scalar(b.eval(lookup)?)?) {
                    (Scalar::Int(x), Scalar::Int(y)) => x.cmp(&y),
                    (Scalar::Double(x), Scalar::Double(y)) => x.partial_cmp(&y).ok_or(Unsure)?,
                    _ => return Err(Unsure),
                };
                Ok(Val::Bool(
                    found == *ordering || (*or_equal && found == Ordering::Equal),
                ))
            }
            Fast::StrTest(test, target, needle) => match scalar(target.eval(lookup)?)? {
                Scalar::Str(s) => Ok(Val::Bool(match test {
                    StrTest::StartsWith => s.starts_with(needle.as_str()),
                    StrTest::EndsWith => s.ends_with(needle.as_str()),
                    StrTest::Contains => s.contains(needle.as_str()),
                })),
                _ => Err(Unsure),
            },
            Fast::In(a, list) => {
                let v = scalar(a.eval(lookup)?)?;
                let mut found = false;
                for item in list {
                    found |= same(v, scalar(Val::Lit(item))?)?;
                }
                Ok(Val::Bool(found))
            }
        }
    }
}

/// Equality where both sides have the same simple type; anything else is left to CEL.
fn equal(a: Val<'_>, b: Val<'_>) -> Result<bool, Unsure> {
    same(scalar(a)?, scalar(b)?)
}

fn same(a: Scalar<'_>, b: Scalar<'_>) -> Result<bool, Unsure> {
    match (a, b) {
        (Scalar::Bool(x), Scalar::Bool(y)) => Ok(x == y),
        (Scalar::Str(x), Scalar::Str(y)) => Ok(x == y),
        (Scalar::Int(x), Scalar::Int(y)) => Ok(x == y),
        (Scalar::Double(x), Scalar::Double(y)) => Ok(x == y),
        (Scalar::Null, Scalar::Null) => Ok(true),
        _ => Err(Unsure),
    }
}

fn scalar(v: Val<'_>) -> Result<Scalar<'_>, Unsure> {
    Ok(match v {
        Val::Lit(Lit::Bool(b)) => Scalar::Bool(*b),
        Val::Lit(Lit::Str(s)) => Scalar::Str(s),
        Val::Lit(Lit::Int(i)) => Scalar::Int(*i),
        Val::Lit(Lit::Double(d)) => Scalar::Double(*d),
        Val::Lit(Lit::Null) => Scalar::Null,
        Val::Json(Value::Bool(b)) => Scalar::Bool(*b),
        Val::Json(Value::String(s)) => Scalar::Str(s),
        // As `json_to_cel` converts: i64 → int, other integers → uint, the rest → double.
        Val::Json(Value::Number(n)) => match (n.as_i64(), n.is_f64(), n.as_f64()) {
            (Some(i), _, _) => Scalar::Int(i),
            (None, true, Some(d)) => Scalar::Double(d),
            _ => return Err(Unsure),
        },
        Val::Json(Value::Null) => Scalar::Null,
        Val::Json(_) => return Err(Unsure),
        Val::Bool(b) => Scalar::Bool(b),
    })
}

fn resolve<'a>(
    path: &[String],
    lookup: &impl Fn(&str) -> Option<&'a Value>,
) -> Result<&'a Value, Unsure> {
    let (root, fields) = path.split_first().ok_or(Unsure)?;
    let mut cur = lookup(root).ok_or(Unsure)?;
    for f in fields {
        cur = match cur {
            Value::Object(map) => map.get(f).ok_or(Unsure)?,
            _ => return Err(Unsure),
        };
    }
    Ok(cur)
}

fn path_of(expr: &IdedExpr) -> Option<Vec<String>> {
    match &expr.expr {
        Expr::Ident(name) => Some(vec![name.clone()]),
        Expr::Select(s) if !s.test => {
            let mut p = path_of(&s.operand)?;
            p.push(s.field.clone());
            Some(p)
        }
        _ => None,
    }
}

fn literal(l: &LiteralValue) -> Option<Lit> {
    Some(match l {
        LiteralValue::Boolean(b) => Lit::Bool(**b),
        LiteralValue::String(s) => Lit::Str(s.inner().to_owned()),
        LiteralValue::Int(i) => Lit::Int(**i),
        LiteralValue::Double(d) => Lit::Double(**d),
        LiteralValue::Null => Lit::Null,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
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
                let cel = with_scope(None, |scope| {
                    for (root, value) in &facts.roots {
                        scope.add_variable_from_value(*root, json_to_cel(value));
                    }
                    condition.eval_bool(scope)
                });
                let Some(fast) = condition.fast() else {
                    continue;
                };
                let lookup = |root: &str| facts.get(root).or_else(|| default_value(root));
                if let Ok(native) = fast.eval_bool(&lookup) {
                    answered += 1;
                    assert_eq!(Ok(native), cel, "{src} on {:?}", action.tool);
                }
            }
        }
        assert!(
            answered > 40,
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
        ] {
            assert!(Condition::compile(src).unwrap().fast().is_some(), "{src}");
        }
        for src in [
            "path.touches(\"/etc\")",
            "history.exists(h, h.tool == \"x\")",
            "size(tool.name) > 3",
        ] {
            assert!(Condition::compile(src).unwrap().fast().is_none(), "{src}");
        }
    }
}
