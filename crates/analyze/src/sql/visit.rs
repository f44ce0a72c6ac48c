//! One pass over a statement's AST collecting tables, functions, nested statements and the
//! query-level features (`SELECT INTO`, row locks) that the classifier turns into facts.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, ObjectName, Query, Select, Statement, Visit, Visitor};

/// What the walk found.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// Relations referenced, lower-cased, in first-seen order.
    pub tables: Vec<String>,
    /// Functions called, lower-cased.
    pub functions: Vec<String>,
    /// Names introduced by CTEs (not real tables).
    pub cte_names: Vec<String>,
    /// Every statement visited, the top-level one included (kind, has WHERE when update/delete).
    pub statements: Vec<(&'static str, Option<bool>)>,
    /// A `SELECT ... INTO target` was found (target given).
    pub select_into: Vec<String>,
    /// Row locks (`FOR UPDATE`, `FOR SHARE`) were requested.
    pub locks: bool,
    /// WHERE clauses that are always true, as written (they count as no WHERE).
    pub always_true: Vec<String>,
}

impl Visitor for Collected {
    type Break = ();

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        push_unique(&mut self.tables, relation.to_string().to_lowercase());
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Function(function) = expr {
            push_unique(
                &mut self.functions,
                function.name.to_string().to_lowercase(),
            );
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        let selection = match statement {
            Statement::Update(update) => Some(update.selection.as_ref()),
            Statement::Delete(delete) => Some(delete.selection.as_ref()),
            _ => None,
        };
        let filtered = selection.map(|condition| self.filters(condition));
        self.statements
            .push((super::classify::kind_of(statement), filtered));
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                push_unique(&mut self.cte_names, cte.alias.name.value.to_lowercase());
            }
        }
        if !query.locks.is_empty() {
            self.locks = true;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        if let Some(into) = &select.into {
            self.select_into.push(into.to_string());
        }
        ControlFlow::Continue(())
    }
}

impl Collected {
    /// Whether a WHERE condition filters rows; records an always-true one.
    pub(crate) fn filters(&mut self, condition: Option<&Expr>) -> bool {
        match condition {
            Some(expr) if super::tautology::is_tautology(expr) => {
                self.always_true.push(expr.to_string());
                false
            }
            Some(_) => true,
            None => false,
        }
    }
}

/// Walks `statement`.
pub(crate) fn collect(statement: &Statement) -> Collected {
    let mut collected = Collected::default();
    let _ = statement.visit(&mut collected);
    collected
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}
