// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Warehouse forms that the parser reads but DataFusion does not plan, rewritten on the
//! syntax tree into forms it does, with the warehouse's meaning:
//!
//! - Snowflake's `x LIKE ANY ('a%', 'b%')` (and `ILIKE ANY`, `NOT LIKE ANY`): true when
//!   `x` matches (or, negated, fails to match) any one of the patterns, as an `OR` of
//!   single `LIKE`s.
//! - Snowflake's and Oracle's `MINUS` is `EXCEPT`.
//! - `EXTRACT(DAYOFWEEK FROM t)` and `EXTRACT(DAYOFYEAR FROM t)` are DataFusion's `DOW`
//!   and `DOY` (Sunday is 0, as in Snowflake's default).
//!
//! [`visit_statement`] also carries the other tree rewrites (`FLATTEN`) into every
//! statement that holds a query.

use std::ops::ControlFlow;

use datafusion_sql::parser::{CopyToSource, Statement as DFStatement};
use datafusion_sql::sqlparser::ast::{
    BinaryOperator, DateTimeField, Expr, Query, SetExpr, SetOperator, VisitMut, VisitorMut,
};

/// Runs `visitor` over the query parts of `statement` (a query, `COPY (query) TO`, and
/// the statement an `EXPLAIN` explains).
pub(crate) fn visit_statement<V: VisitorMut<Break = ()>>(
    statement: &mut DFStatement,
    visitor: &mut V,
) {
    let _ = match statement {
        DFStatement::Statement(inner) => inner.visit(visitor),
        DFStatement::CopyTo(copy) => match &mut copy.source {
            CopyToSource::Query(query) => query.visit(visitor),
            CopyToSource::Relation(_) => ControlFlow::Continue(()),
        },
        DFStatement::Explain(explain) => {
            visit_statement(&mut explain.statement, visitor);
            ControlFlow::Continue(())
        }
        _ => ControlFlow::Continue(()),
    };
}

/// Rewrites the forms of the module doc in `statement`.
pub(crate) fn rewrite_warehouse_forms(statement: &mut DFStatement) {
    visit_statement(statement, &mut WarehouseForms);
}

struct WarehouseForms;

impl VisitorMut for WarehouseForms {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        minus_as_except(&mut query.body);
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Like { any: true, .. } | Expr::ILike { any: true, .. } => {
                *expr = like_any(std::mem::replace(
                    expr,
                    Expr::value(datafusion_sql::sqlparser::ast::Value::Null),
                ));
            }
            Expr::Extract { field, .. } => {
                if matches!(field, DateTimeField::DayOfWeek) {
                    *field = DateTimeField::Dow;
                } else if matches!(field, DateTimeField::DayOfYear) {
                    *field = DateTimeField::Doy;
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

fn minus_as_except(body: &mut SetExpr) {
    if let SetExpr::SetOperation {
        op, left, right, ..
    } = body
    {
        if *op == SetOperator::Minus {
            *op = SetOperator::Except;
        }
        minus_as_except(left);
        minus_as_except(right);
    }
}

/// `x [NOT] [I]LIKE ANY (p1, p2, ..)` as `(x [NOT] [I]LIKE p1 OR x [NOT] [I]LIKE p2 ..)`.
fn like_any(expr: Expr) -> Expr {
    let (negated, subject, pattern, escape_char, case_insensitive) = match expr {
        Expr::Like {
            negated,
            expr,
            pattern,
            escape_char,
            ..
        } => (negated, expr, pattern, escape_char, false),
        Expr::ILike {
            negated,
            expr,
            pattern,
            escape_char,
            ..
        } => (negated, expr, pattern, escape_char, true),
        other => return other,
    };
    let patterns = match *pattern {
        Expr::Tuple(patterns) => patterns,
        Expr::Nested(single) => vec![*single],
        single => vec![single],
    };
    let one = |pattern: Expr| {
        let (expr, pattern, escape_char) =
            (subject.clone(), Box::new(pattern), escape_char.clone());
        if case_insensitive {
            Expr::ILike {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            }
        } else {
            Expr::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            }
        }
    };
    let combined = patterns
        .into_iter()
        .map(one)
        .reduce(|left, right| Expr::BinaryOp {
            left: Box::new(left),
            op: BinaryOperator::Or,
            right: Box::new(right),
        });
    match combined {
        Some(combined) => Expr::Nested(Box::new(combined)),
        // `LIKE ANY ()` matches nothing.
        None => Expr::value(datafusion_sql::sqlparser::ast::Value::Boolean(false)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn warehouse_forms_become_datafusion_forms() {
        let rewritten = |sql: &str| crate::parser::parse_statement(sql).unwrap().to_string();
        assert_eq!(
            rewritten("SELECT * FROM t WHERE x LIKE ANY ('a%', 'b%') AND y NOT ILIKE ANY ('c%')"),
            "SELECT * FROM t WHERE (x LIKE 'a%' OR x LIKE 'b%') AND (y NOT ILIKE 'c%')"
        );
        assert_eq!(
            rewritten("SELECT a FROM t MINUS SELECT a FROM u"),
            "SELECT a FROM t EXCEPT SELECT a FROM u"
        );
        assert_eq!(
            rewritten("SELECT EXTRACT(DAYOFWEEK FROM t), EXTRACT(dayofyear FROM t) FROM x"),
            "SELECT EXTRACT(DOW FROM t), EXTRACT(DOY FROM t) FROM x"
        );
    }
}
