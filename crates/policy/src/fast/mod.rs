//! A native evaluator for the condition shapes most rules are written in, so that deciding an
//! action does not pay CEL's interpretation overhead for every rule.
//!
//! It covers fact paths, literals, `!`, `&&`, `||`, `==`, `!=`, `<`, `<=`, `>`, `>=`,
//! `in [literals]`, `in` a list or map (a fact or a constant literal), `has(a.b)`,
//! `a.?b.orValue(literal)`, `size`, `startsWith`, `endsWith`, `contains`, `matches` with a literal
//! pattern, Warden's `touches` and `within`, constant list and map literals (`[["a", 1]]`,
//! `{"k": "v"}`), indexing with a literal (`x[0]`, `x["k"]`), and the `exists`, `all` and
//! `exists_one` macros over lists (facts or constant literals), read straight from the JSON facts. It
//! answers only when it is certain its answer is CEL's: anything else (a missing key, a type it
//! does not compare, a function it does not know) yields [`Unsure`](eval::Unsure), and the caller evaluates the
//! condition with CEL instead. `&&` and `||` follow CEL's commutative rules: `false && x` is false
//! and `true || x` is true whatever `x` is.
//!
//! Compilation lives here, evaluation in `eval`. Depends on the CEL AST only; never on a CEL
//! context.

mod eval;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::sync::Arc;

use cel::IdedExpr;
use cel::common::ast::{ComprehensionExpr, EntryExpr, Expr, ListExpr, LiteralValue, MapExpr};
use serde_json::Value;

/// A condition compiled for native evaluation.
#[derive(Debug, Clone)]
pub(crate) enum Fast {
    Lit(Lit),
    /// A fact path or a path under a comprehension variable.
    Path(Path),
    /// `has(path)`: the path's last field is the one tested.
    Has(Path),
    /// `path.?field.orValue(default)`: the path's last field is the optional one.
    OrValue(Path, Lit),
    Not(Box<Fast>),
    And(Box<Fast>, Box<Fast>),
    Or(Box<Fast>, Box<Fast>),
    Eq(Box<Fast>, Box<Fast>),
    Ne(Box<Fast>, Box<Fast>),
    /// `<`, `<=`, `>`, `>=` between numbers of the same type.
    Cmp(Ordering, bool, Box<Fast>, Box<Fast>),
    In(Box<Fast>, Vec<Lit>),
    /// `x in coll` where `coll` is not a flat list of literals: a list (element equality) or a
    /// map (key membership), read from the facts or a constant literal.
    Member(Box<Fast>, Box<Fast>),
    /// A list or map literal whose elements are all constants, held as the JSON value the facts
    /// would hold for it (string keys only).
    Const(Value),
    /// `x[0]` or `x["key"]`: a literal index into a list or map.
    Index(Box<Fast>, Lit),
    /// `s.startsWith(lit)`, `s.endsWith(lit)`, `s.contains(lit)` on strings.
    StrTest(StrTest, Box<Fast>, String),
    /// `s.matches(lit)` or `matches(s, lit)`, with the pattern compiled as the CEL function does.
    Matches(Box<Fast>, Arc<regex::Regex>),
    /// `size(x)` or `x.size()` of a string, list or map.
    Size(Box<Fast>),
    /// `x.touches(dir)` / `x.within(dir)` and their global forms.
    PathTest(PathTest, Box<Fast>, Box<Fast>),
    /// `list.exists(v, p)`, `list.all(v, p)`, `list.exists_one(v, p)`: the range, then the
    /// predicate, which reads the element as the innermost local.
    Quantified(Quantifier, Box<Fast>, Box<Fast>),
    /// A sub-expression only CEL evaluates: always [`Unsure`](eval::Unsure), but `false && x` and `true || x`
    /// still decide natively.
    Opaque,
}

/// Where a path starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Root {
    /// A fact root (`shell`).
    Fact(String),
    /// A comprehension variable, by nesting depth (0 is the outermost).
    Local(usize),
}

/// A root and the fields read below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    pub(crate) root: Root,
    pub(crate) fields: Vec<String>,
}

/// A string test the fast path performs natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrTest {
    StartsWith,
    EndsWith,
    Contains,
}

/// Warden's path functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathTest {
    /// At least one path is the directory or inside it.
    Touches,
    /// There is a path, and every path is the directory or inside it.
    Within,
}

/// A comprehension macro the fast path evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quantifier {
    Exists,
    All,
    ExistsOne,
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

/// The name CEL's macros give their accumulator.
const ACCUMULATOR: &str = "@result";

/// Compiles expressions, tracking the comprehension variables in scope.
#[derive(Default)]
struct Compiler {
    locals: Vec<String>,
}

impl Fast {
    /// Compiles the shapes the fast path understands; `None` when none of the condition is.
    pub(crate) fn compile(expr: &IdedExpr) -> Option<Fast> {
        match Compiler::default().node(expr) {
            Fast::Opaque => None,
            fast => Some(fast),
        }
    }
}

impl Compiler {
    /// Compiles one node; anything not understood becomes [`Fast::Opaque`].
    fn node(&mut self, expr: &IdedExpr) -> Fast {
        self.shape(expr).unwrap_or(Fast::Opaque)
    }

    fn boxed(&mut self, expr: &IdedExpr) -> Option<Box<Fast>> {
        self.shape(expr).map(Box::new)
    }

    fn shape(&mut self, expr: &IdedExpr) -> Option<Fast> {
        Some(match &expr.expr {
            Expr::Literal(l) => Fast::Lit(literal(l)?),
            Expr::Select(s) if s.test => {
                let mut path = self.path(&s.operand)?;
                path.fields.push(s.field.clone());
                Fast::Has(path)
            }
            Expr::Ident(_) | Expr::Select(_) => Fast::Path(self.path(expr)?),
            Expr::Comprehension(c) => self.quantified(c)?,
            Expr::List(_) | Expr::Map(_) => Fast::Const(constant(expr)?),
            Expr::Call(call) => {
                let target = call.target.as_deref();
                match (call.func_name.as_str(), target, call.args.as_slice()) {
                    ("!_", None, [a]) => Fast::Not(self.boxed(a)?),
                    ("_&&_", None, [a, b]) => {
                        Fast::And(Box::new(self.node(a)), Box::new(self.node(b)))
                    }
                    ("_||_", None, [a, b]) => {
                        Fast::Or(Box::new(self.node(a)), Box::new(self.node(b)))
                    }
                    ("_==_", None, [a, b]) => Fast::Eq(self.boxed(a)?, self.boxed(b)?),
                    ("_!=_", None, [a, b]) => Fast::Ne(self.boxed(a)?, self.boxed(b)?),
                    (op @ ("_<_" | "_<=_" | "_>_" | "_>=_"), None, [a, b]) => {
                        let (ordering, or_equal) = match op {
                            "_<_" => (Ordering::Less, false),
                            "_<=_" => (Ordering::Less, true),
                            "_>_" => (Ordering::Greater, false),
                            _ => (Ordering::Greater, true),
                        };
                        Fast::Cmp(ordering, or_equal, self.boxed(a)?, self.boxed(b)?)
                    }
                    (name @ ("startsWith" | "endsWith" | "contains"), Some(target), [arg]) => {
                        let test = match name {
                            "startsWith" => StrTest::StartsWith,
                            "endsWith" => StrTest::EndsWith,
                            _ => StrTest::Contains,
                        };
                        Fast::StrTest(test, self.boxed(target)?, string_literal(arg)?.to_owned())
                    }
                    ("matches", Some(text), [pattern]) | ("matches", None, [text, pattern]) => {
                        let regex = crate::condition::compile_regex(string_literal(pattern)?);
                        Fast::Matches(self.boxed(text)?, regex.ok()?)
                    }
                    ("size", Some(x), []) | ("size", None, [x]) => Fast::Size(self.boxed(x)?),
                    (name @ ("touches" | "within"), Some(x), [dir])
                    | (name @ ("touches" | "within"), None, [x, dir]) => {
                        let test = if name == "touches" {
                            PathTest::Touches
                        } else {
                            PathTest::Within
                        };
                        Fast::PathTest(test, self.boxed(x)?, self.boxed(dir)?)
                    }
                    ("@in", None, [a, list_expr]) => match &list_expr.expr {
                        Expr::List(list) if list.optional_indices.is_empty() => Fast::In(
                            self.boxed(a)?,
                            list.elements
                                .iter()
                                .map(|e| match &e.expr {
                                    Expr::Literal(l) => literal(l),
                                    _ => None,
                                })
                                .collect::<Option<Vec<_>>>()?,
                        ),
                        _ => Fast::Member(self.boxed(a)?, self.boxed(list_expr)?),
                    },
                    ("_[_]", None, [x, index]) => {
                        Fast::Index(self.boxed(x)?, index_literal(index)?)
                    }
                    ("orValue", Some(target), [default]) => self.or_value(target, default)?,
                    _ => return None,
                }
            }
            _ => return None,
        })
    }

    /// `path.?field.orValue(default)` with a literal default.
    fn or_value(&mut self, target: &IdedExpr, default: &IdedExpr) -> Option<Fast> {
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
        let mut path = self.path(operand)?;
        path.fields.push(string_literal(field)?.to_owned());
        Some(Fast::OrValue(path, literal(d)?))
    }

    /// The `exists`, `all` and `exists_one` macros as CEL expands them (an accumulator named
    /// `@result` starting at `false`, `true` or `0`); `map` and `filter` are left to CEL.
    fn quantified(&mut self, c: &ComprehensionExpr) -> Option<Fast> {
        if c.accu_var != ACCUMULATOR || c.iter_var2.is_some() {
            return None;
        }
        let Expr::Call(step) = &c.loop_step.expr else {
            return None;
        };
        let init = match &c.accu_init.expr {
            Expr::Literal(l) => literal(l)?,
            _ => return None,
        };
        let (quantifier, predicate) = match (init, step.func_name.as_str(), step.args.as_slice()) {
            (Lit::Bool(false), "_||_", [accu, p]) if is_accumulator(accu) => {
                (Quantifier::Exists, p)
            }
            (Lit::Bool(true), "_&&_", [accu, p]) if is_accumulator(accu) => (Quantifier::All, p),
            (Lit::Int(0), "_?_:_", [p, _, _]) => (Quantifier::ExistsOne, p),
            _ => return None,
        };
        let range = self.boxed(&c.iter_range)?;
        self.locals.push(c.iter_var.clone());
        let predicate = self.node(predicate);
        self.locals.pop();
        Some(Fast::Quantified(quantifier, range, Box::new(predicate)))
    }

    /// A select chain from an identifier: a fact root or a comprehension variable.
    fn path(&self, expr: &IdedExpr) -> Option<Path> {
        match &expr.expr {
            Expr::Ident(name) => {
                let root = match self.locals.iter().rposition(|l| l == name) {
                    Some(depth) => Root::Local(depth),
                    None => Root::Fact(name.clone()),
                };
                Some(Path {
                    root,
                    fields: Vec::new(),
                })
            }
            Expr::Select(s) if !s.test => {
                let mut p = self.path(&s.operand)?;
                p.fields.push(s.field.clone());
                Some(p)
            }
            _ => None,
        }
    }
}

fn is_accumulator(expr: &IdedExpr) -> bool {
    matches!(&expr.expr, Expr::Ident(name) if name == ACCUMULATOR)
}

fn string_literal(expr: &IdedExpr) -> Option<&str> {
    match &expr.expr {
        Expr::Literal(LiteralValue::String(s)) => Some(s.inner()),
        _ => None,
    }
}

/// A literal list index (`int`) or map key (`string`).
fn index_literal(expr: &IdedExpr) -> Option<Lit> {
    match &expr.expr {
        Expr::Literal(l @ (LiteralValue::Int(_) | LiteralValue::String(_))) => literal(l),
        _ => None,
    }
}

/// A literal, or a list or map literal built of constants only, as the JSON value that
/// `json_to_cel` turns into the same CEL value: `int` stays an integer, `double` a float (finite
/// only), map keys are strings. Anything else (`uint`, bytes, optional entries, duplicate keys,
/// a non-constant element) is left to CEL.
fn constant(expr: &IdedExpr) -> Option<Value> {
    match &expr.expr {
        Expr::Literal(l) => match literal(l)? {
            Lit::Bool(b) => Some(Value::Bool(b)),
            Lit::Str(s) => Some(Value::String(s)),
            Lit::Int(i) => Some(Value::from(i)),
            Lit::Double(d) => serde_json::Number::from_f64(d).map(Value::Number),
            Lit::Null => Some(Value::Null),
        },
        Expr::List(list) => constant_list(list),
        Expr::Map(map) => constant_map(map),
        _ => None,
    }
}

fn constant_list(list: &ListExpr) -> Option<Value> {
    if !list.optional_indices.is_empty() {
        return None;
    }
    let items = list.elements.iter().map(constant).collect::<Option<_>>()?;
    Some(Value::Array(items))
}

fn constant_map(map: &MapExpr) -> Option<Value> {
    let mut object = serde_json::Map::new();
    for entry in &map.entries {
        let EntryExpr::MapEntry(entry) = &entry.expr else {
            return None;
        };
        if entry.optional {
            return None;
        }
        let key = string_literal(&entry.key)?.to_owned();
        let value = constant(&entry.value)?;
        if object.insert(key, value).is_some() {
            return None;
        }
    }
    Some(Value::Object(object))
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
