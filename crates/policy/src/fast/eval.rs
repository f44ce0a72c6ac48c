//! Native evaluation of a compiled [`Fast`] condition over the JSON facts.
//!
//! Every value is borrowed from the facts or the compiled condition; nothing is converted to CEL.
//! Whatever the evaluator cannot be sure of is [`Unsure`].

use std::cmp::Ordering;

use serde_json::Value;

use super::{Fast, Lit, PathTest, Quantifier, Root, StrTest};

/// The fast path cannot tell what CEL would answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsure;

/// A value the fast path computed, borrowed from the facts or the compiled condition.
#[derive(Debug, Clone, Copy)]
enum Val<'a> {
    Json(&'a Value),
    Lit(&'a Lit),
    Bool(bool),
    Int(i64),
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

/// What an evaluation reads: the fact roots, the agent's home for `~`, and the comprehension
/// variables bound so far (outermost first).
struct Env<'a, L> {
    lookup: &'a L,
    home: Option<&'a str>,
    locals: Vec<&'a Value>,
}

impl Fast {
    /// Evaluates to a boolean, or [`Unsure`]. `home` is the directory `~` expands to in path
    /// functions, as for CEL.
    pub(crate) fn eval_bool<'a, L>(
        &'a self,
        lookup: &'a L,
        home: Option<&'a str>,
    ) -> Result<bool, Unsure>
    where
        L: Fn(&str) -> Option<&'a Value>,
    {
        let mut env = Env {
            lookup,
            home,
            locals: Vec::new(),
        };
        self.truth(&mut env)
    }

    fn truth<'a, L>(&'a self, env: &mut Env<'a, L>) -> Result<bool, Unsure>
    where
        L: Fn(&str) -> Option<&'a Value>,
    {
        match self.eval(env)? {
            Val::Json(Value::Bool(b)) | Val::Lit(Lit::Bool(b)) => Ok(*b),
            Val::Bool(b) => Ok(b),
            _ => Err(Unsure),
        }
    }

    fn eval<'a, L>(&'a self, env: &mut Env<'a, L>) -> Result<Val<'a>, Unsure>
    where
        L: Fn(&str) -> Option<&'a Value>,
    {
        match self {
            Fast::Lit(l) => Ok(Val::Lit(l)),
            Fast::Path(path) => resolve(&path.root, &path.fields, env).map(Val::Json),
            Fast::Has(path) => {
                let (field, parent) = path.fields.split_last().ok_or(Unsure)?;
                match resolve(&path.root, parent, env)? {
                    Value::Object(map) => Ok(Val::Bool(map.contains_key(field))),
                    _ => Err(Unsure),
                }
            }
            Fast::OrValue(path, default) => {
                let (field, parent) = path.fields.split_last().ok_or(Unsure)?;
                match resolve(&path.root, parent, env)? {
                    Value::Object(map) => Ok(map.get(field).map_or(Val::Lit(default), Val::Json)),
                    _ => Err(Unsure),
                }
            }
            Fast::Not(a) => Ok(Val::Bool(!a.truth(env)?)),
            Fast::And(a, b) => {
                let x = a.truth(env);
                if x == Ok(false) {
                    return Ok(Val::Bool(false));
                }
                match (x, b.truth(env)) {
                    (_, Ok(false)) => Ok(Val::Bool(false)),
                    (Ok(true), Ok(true)) => Ok(Val::Bool(true)),
                    _ => Err(Unsure),
                }
            }
            Fast::Or(a, b) => {
                let x = a.truth(env);
                if x == Ok(true) {
                    return Ok(Val::Bool(true));
                }
                match (x, b.truth(env)) {
                    (_, Ok(true)) => Ok(Val::Bool(true)),
                    (Ok(false), Ok(false)) => Ok(Val::Bool(false)),
                    _ => Err(Unsure),
                }
            }
            Fast::Eq(a, b) => Ok(Val::Bool(equal(a.eval(env)?, b.eval(env)?)?)),
            Fast::Ne(a, b) => Ok(Val::Bool(!equal(a.eval(env)?, b.eval(env)?)?)),
            Fast::Opaque => Err(Unsure),
            Fast::Cmp(ordering, or_equal, a, b) => {
                let found = match (scalar(a.eval(env)?)?, scalar(b.eval(env)?)?) {
                    (Scalar::Int(x), Scalar::Int(y)) => x.cmp(&y),
                    (Scalar::Double(x), Scalar::Double(y)) => x.partial_cmp(&y).ok_or(Unsure)?,
                    _ => return Err(Unsure),
                };
                Ok(Val::Bool(
                    found == *ordering || (*or_equal && found == Ordering::Equal),
                ))
            }
            Fast::StrTest(test, target, needle) => {
                let s = string(target.eval(env)?)?;
                Ok(Val::Bool(match test {
                    StrTest::StartsWith => s.starts_with(needle.as_str()),
                    StrTest::EndsWith => s.ends_with(needle.as_str()),
                    StrTest::Contains => s.contains(needle.as_str()),
                }))
            }
            Fast::Matches(text, regex) => Ok(Val::Bool(regex.is_match(string(text.eval(env)?)?))),
            Fast::Size(x) => size(x.eval(env)?).map(Val::Int),
            Fast::PathTest(test, target, dir) => {
                let target = target.eval(env)?;
                let dir = string(dir.eval(env)?)?;
                path_test(*test, target, dir, env.home).map(Val::Bool)
            }
            Fast::In(a, list) => {
                let v = scalar(a.eval(env)?)?;
                let mut found = false;
                for item in list {
                    found |= same(v, scalar(Val::Lit(item))?)?;
                }
                Ok(Val::Bool(found))
            }
            Fast::Member(a, collection) => {
                let v = scalar(a.eval(env)?)?;
                member(v, collection.eval(env)?).map(Val::Bool)
            }
            Fast::Const(value) => Ok(Val::Json(value)),
            Fast::Index(x, index) => element(x.eval(env)?, index).map(Val::Json),
            Fast::Quantified(quantifier, range, predicate) => {
                let Val::Json(Value::Array(items)) = range.eval(env)? else {
                    return Err(Unsure);
                };
                quantify(*quantifier, items, predicate, env).map(Val::Bool)
            }
        }
    }
}

/// `v in collection`: equal to an element of a list (every element must be comparable with `v`),
/// or a key of a map.
fn member(v: Scalar<'_>, collection: Val<'_>) -> Result<bool, Unsure> {
    match collection {
        Val::Json(Value::Array(items)) => {
            let mut found = false;
            for item in items {
                found |= same(v, scalar(Val::Json(item))?)?;
            }
            Ok(found)
        }
        Val::Json(Value::Object(map)) => match v {
            Scalar::Str(key) => Ok(map.contains_key(key)),
            _ => Err(Unsure),
        },
        _ => Err(Unsure),
    }
}

/// `x[i]` of a list or `x["k"]` of a map. An index out of range, a negative index or a missing
/// key is an error in CEL: the fast path leaves it to CEL to raise.
fn element<'a>(x: Val<'a>, index: &Lit) -> Result<&'a Value, Unsure> {
    match (x, index) {
        (Val::Json(Value::Array(items)), Lit::Int(i)) => usize::try_from(*i)
            .ok()
            .and_then(|i| items.get(i))
            .ok_or(Unsure),
        (Val::Json(Value::Object(map)), Lit::Str(key)) => map.get(key).ok_or(Unsure),
        _ => Err(Unsure),
    }
}

/// `exists`, `all` or `exists_one` over a list. Elements are visited in order and the first one
/// the fast path is unsure of makes the whole answer unsure, unless the answer was already
/// settled: CEL visits the same elements, in the same order, and agrees on each one before.
fn quantify<'a, L>(
    quantifier: Quantifier,
    items: &'a [Value],
    predicate: &'a Fast,
    env: &mut Env<'a, L>,
) -> Result<bool, Unsure>
where
    L: Fn(&str) -> Option<&'a Value>,
{
    let mut count: usize = 0;
    for item in items {
        env.locals.push(item);
        let holds = predicate.truth(env);
        env.locals.pop();
        match (quantifier, holds?) {
            (Quantifier::Exists, true) => return Ok(true),
            (Quantifier::All, false) => return Ok(false),
            (Quantifier::ExistsOne, true) => count += 1,
            _ => {}
        }
    }
    Ok(match quantifier {
        Quantifier::Exists => false,
        Quantifier::All => true,
        Quantifier::ExistsOne => count == 1,
    })
}

/// `touches` / `within` as the CEL functions compute them: the paths are a string itself, or the
/// string elements of a map's `paths` list; anything else has no paths.
fn path_test(
    test: PathTest,
    target: Val<'_>,
    dir: &str,
    home: Option<&str>,
) -> Result<bool, Unsure> {
    let inside = |p: &str| warden_analyze::path::within(p, dir, home);
    let (single, list): (Option<&str>, &[Value]) = match target {
        Val::Json(Value::String(s)) => (Some(s.as_str()), &[]),
        Val::Lit(Lit::Str(s)) => (Some(s.as_str()), &[]),
        Val::Json(Value::Object(map)) => match map.get("paths") {
            Some(Value::Array(items)) => (None, items.as_slice()),
            _ => (None, &[]),
        },
        // Other values are converted to CEL values that are not strings or maps.
        Val::Json(_) | Val::Lit(_) | Val::Bool(_) | Val::Int(_) => (None, &[]),
    };
    let mut paths = single
        .into_iter()
        .chain(list.iter().filter_map(Value::as_str));
    Ok(match test {
        PathTest::Touches => paths.any(inside),
        PathTest::Within => {
            let mut any = false;
            for p in paths {
                if !inside(p) {
                    return Ok(false);
                }
                any = true;
            }
            any
        }
    })
}

/// `size` of a string (in code points), list or map.
fn size(v: Val<'_>) -> Result<i64, Unsure> {
    let n = match v {
        Val::Json(Value::String(s)) | Val::Lit(Lit::Str(s)) => s.chars().count(),
        Val::Json(Value::Array(items)) => items.len(),
        Val::Json(Value::Object(map)) => map.len(),
        _ => return Err(Unsure),
    };
    i64::try_from(n).map_err(|_| Unsure)
}

fn string(v: Val<'_>) -> Result<&str, Unsure> {
    match scalar(v)? {
        Scalar::Str(s) => Ok(s),
        _ => Err(Unsure),
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
        Val::Int(i) => Scalar::Int(i),
    })
}

fn resolve<'a, L>(root: &Root, fields: &[String], env: &Env<'a, L>) -> Result<&'a Value, Unsure>
where
    L: Fn(&str) -> Option<&'a Value>,
{
    let mut cur = match root {
        Root::Fact(name) => (env.lookup)(name).ok_or(Unsure)?,
        Root::Local(depth) => *env.locals.get(*depth).ok_or(Unsure)?,
    };
    for f in fields {
        cur = match cur {
            Value::Object(map) => map.get(f).ok_or(Unsure)?,
            _ => return Err(Unsure),
        };
    }
    Ok(cur)
}
