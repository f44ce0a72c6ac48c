//! Row bounds on SELECT queries: detecting them and rewriting a query to return at most N rows.

use sqlparser::ast::{Expr, LimitClause, Query, SetExpr, Statement, TopQuantity, Value};

use super::{MAX_SQL_BYTES, SqlDialect, SqlError};

/// Whether the top-level query carries LIMIT, FETCH FIRST or TOP.
pub(crate) fn has_row_bound(query: &Query) -> bool {
    let limit = match &query.limit_clause {
        Some(LimitClause::LimitOffset { limit, .. }) => limit.is_some(),
        Some(LimitClause::OffsetCommaLimit { .. }) => true,
        None => false,
    };
    let top = matches!(query.body.as_ref(), SetExpr::Select(select) if select.top.is_some());
    limit || query.fetch.is_some() || top
}

/// Rewrites a single SELECT so its top-level query returns at most `limit` rows: adds a LIMIT,
/// or lowers a larger literal one. A non-literal bound (`LIMIT $1`) is kept and the query wrapped
/// in `SELECT * FROM (...) AS limited LIMIT n`. Anything other than one read-only SELECT is an error.
pub fn with_limit(sql: &str, dialect: SqlDialect, limit: u64) -> Result<String, SqlError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(SqlError::TooLarge(sql.len(), MAX_SQL_BYTES));
    }
    let mut statements = match super::take_last_parse(sql, dialect) {
        Some(statements) => statements,
        None => std::panic::catch_unwind(|| super::parse(sql, dialect))
            .map_err(|_| SqlError::Parse("the SQL parser failed on this input".to_owned()))?
            .map_err(|e| SqlError::Parse(e.to_string()))?,
    };
    let count = statements.len();
    let statement = match statements.as_mut_slice() {
        [] => return Err(SqlError::Empty),
        [statement] => statement,
        _ => return Err(SqlError::MultipleStatements(count)),
    };
    let facts = super::parsed_facts(sql, dialect, std::slice::from_ref(statement));
    if facts.kind != "select" || facts.writes {
        return Err(SqlError::NotASelect(facts.kind));
    }
    let Statement::Query(query) = statement else {
        return Err(SqlError::NotASelect(facts.kind));
    };
    if limit_query(query, limit) {
        Ok(statement.to_string())
    } else {
        Ok(format!(
            "SELECT * FROM ({statement}) AS limited LIMIT {limit}"
        ))
    }
}

/// Applies the cap in place; returns false when an existing bound is not a literal.
fn limit_query(query: &mut Query, cap: u64) -> bool {
    if let SetExpr::Select(select) = query.body.as_mut()
        && let Some(top) = &mut select.top
    {
        return match &mut top.quantity {
            Some(TopQuantity::Constant(n)) if !top.percent => {
                *n = (*n).min(cap);
                true
            }
            _ => false,
        };
    }
    if let Some(fetch) = &mut query.fetch {
        return !fetch.percent && fetch.quantity.as_mut().is_some_and(|q| lower(q, cap));
    }
    match &mut query.limit_clause {
        Some(LimitClause::LimitOffset {
            limit: Some(expr), ..
        }) => lower(expr, cap),
        Some(LimitClause::LimitOffset { limit, .. }) => {
            *limit = Some(number(cap));
            true
        }
        Some(LimitClause::OffsetCommaLimit { limit, .. }) => lower(limit, cap),
        None => {
            query.limit_clause = Some(LimitClause::LimitOffset {
                limit: Some(number(cap)),
                offset: None,
                limit_by: Vec::new(),
            });
            true
        }
    }
}

/// Lowers a literal numeric bound to `cap`; false when the bound is not a literal integer.
fn lower(expr: &mut Expr, cap: u64) -> bool {
    let current = match expr {
        Expr::Value(value) => match &value.value {
            Value::Number(text, _) => text.parse::<u64>().ok(),
            _ => None,
        },
        _ => None,
    };
    match current {
        Some(n) if n <= cap => true,
        Some(_) => {
            *expr = number(cap);
            true
        }
        None => false,
    }
}

fn number(n: u64) -> Expr {
    Expr::value(Value::Number(n.to_string(), false))
}
