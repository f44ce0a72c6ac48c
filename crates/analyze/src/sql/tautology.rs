//! WHERE clauses that are always true (`true`, `1`, `1=1`, `'a'='a'`, `x = x`, `... OR 1=1`):
//! they filter nothing, so a statement carrying one counts as having no WHERE.
//!
//! Works on the parsed expression only; comparing a column with itself is treated as true even
//! though SQL NULL semantics would skip rows where it is NULL, since the intent is "every row".

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value};

/// Whether `expr` holds for every row.
pub(crate) fn is_tautology(expr: &Expr) -> bool {
    match expr {
        Expr::Nested(inner) => is_tautology(inner),
        Expr::Value(value) => truthy(&value.value),
        Expr::IsNotNull(inner) => literal(inner).is_some_and(|v| !matches!(v, Value::Null)),
        Expr::IsTrue(inner) => is_tautology(inner),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => is_contradiction(expr),
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::Or => is_tautology(left) || is_tautology(right),
            BinaryOperator::And => is_tautology(left) && is_tautology(right),
            _ => comparison_holds(left, op, right),
        },
        _ => false,
    }
}

/// Whether `expr` holds for no row (`false`, `0`, `1=0`).
fn is_contradiction(expr: &Expr) -> bool {
    match expr {
        Expr::Nested(inner) => is_contradiction(inner),
        Expr::Value(value) => falsy(&value.value),
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::Or => is_contradiction(left) && is_contradiction(right),
            BinaryOperator::And => is_contradiction(left) || is_contradiction(right),
            BinaryOperator::Eq => literal_order(left, right).is_some_and(|o| o.is_ne()),
            _ => false,
        },
        _ => false,
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Boolean(b) => *b,
        Value::Number(n, _) => number(n).is_some_and(|n| n != 0.0),
        _ => false,
    }
}

fn falsy(value: &Value) -> bool {
    match value {
        Value::Boolean(b) => !*b,
        Value::Number(n, _) => number(n) == Some(0.0),
        _ => false,
    }
}

fn number(text: &impl ToString) -> Option<f64> {
    text.to_string().parse().ok()
}

fn literal(expr: &Expr) -> Option<&Value> {
    match expr {
        Expr::Nested(inner) => literal(inner),
        Expr::Value(value) => Some(&value.value),
        _ => None,
    }
}

/// Order of two literals of the same type (numbers numerically, strings and booleans as text).
fn literal_order(left: &Expr, right: &Expr) -> Option<std::cmp::Ordering> {
    match (literal(left)?, literal(right)?) {
        (Value::Number(a, _), Value::Number(b, _)) => number(a)?.partial_cmp(&number(b)?),
        (Value::SingleQuotedString(a), Value::SingleQuotedString(b)) => Some(a.cmp(b)),
        (Value::Boolean(a), Value::Boolean(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// A comparison between two literals that evaluates to true, or `x = x` / `x <= x` / `x >= x`
/// for the same expression on both sides.
fn comparison_holds(left: &Expr, op: &BinaryOperator, right: &Expr) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    if let Some(order) = literal_order(left, right) {
        return match op {
            BinaryOperator::Eq => order == Equal,
            BinaryOperator::NotEq => order != Equal,
            BinaryOperator::Lt => order == Less,
            BinaryOperator::LtEq => order != Greater,
            BinaryOperator::Gt => order == Greater,
            BinaryOperator::GtEq => order != Less,
            _ => false,
        };
    }
    matches!(
        op,
        BinaryOperator::Eq | BinaryOperator::LtEq | BinaryOperator::GtEq
    ) && left.to_string() == right.to_string()
        && !contains_call(left)
}

/// Function calls may differ between evaluations (`random() = random()`).
fn contains_call(expr: &Expr) -> bool {
    expr.to_string().contains('(')
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use sqlparser::ast::{SetExpr, Statement};
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    use super::is_tautology;

    fn where_of(condition: &str) -> bool {
        let sql = format!("SELECT * FROM t WHERE {condition}");
        let statements = Parser::parse_sql(&PostgreSqlDialect {}, &sql).unwrap();
        let Statement::Query(query) = &statements[0] else {
            panic!("not a SELECT")
        };
        let SetExpr::Select(select) = query.body.as_ref() else {
            panic!("not a SELECT")
        };
        is_tautology(select.selection.as_ref().unwrap())
    }

    #[test]
    fn always_true_conditions() {
        for condition in [
            "true",
            "1",
            "1=1",
            "(1 = 1)",
            "'a'='a'",
            "id = id",
            "t.id >= t.id",
            "id = 7 OR 1=1",
            "2 > 1",
            "1 <> 2",
            "NOT false",
            "NOT (1 = 0)",
            "1 IS NOT NULL",
            "true AND 1=1",
        ] {
            assert!(where_of(condition), "{condition}");
        }
    }

    #[test]
    fn real_filters_are_not_tautologies() {
        for condition in [
            "id = 7",
            "false",
            "0",
            "1 = 2",
            "id = 7 AND 1=1",
            "a = b",
            "random() = random()",
            "name = 'a'",
            "id IS NOT NULL",
            "id <> id",
        ] {
            assert!(!where_of(condition), "{condition}");
        }
    }
}
