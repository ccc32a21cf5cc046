// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Aggregate calls that DataFusion would name alike.
//!
//! DataFusion names a cast after what it casts, so `min(ts)` and `min(CAST(ts AS DATE))`
//! are both `min(ts)`, and one `GROUP BY` computing both fails with "Schema contains
//! duplicate unqualified field name" (apache/datafusion#18975). Vars of one input share
//! a `GROUP BY`; two vars whose aggregates would collide so are given separate ones.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Expr, ObjectName, visit_expressions, visit_expressions_mut};

/// An aggregate call as DataFusion names it (casts left out) and as it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AggregateCall {
    named: String,
    written: String,
}

/// The aggregate calls (not window calls) of `expr`.
pub(super) fn aggregate_calls(
    expr: &Expr,
    is_aggregate: impl Fn(&ObjectName) -> bool,
) -> Vec<AggregateCall> {
    let mut calls = Vec::new();
    let _ = visit_expressions(expr, |e| {
        if let Expr::Function(function) = e
            && function.over.is_none()
            && is_aggregate(&function.name)
        {
            calls.push(AggregateCall {
                named: without_casts(e).to_string().to_lowercase(),
                written: e.to_string().to_lowercase(),
            });
        }
        ControlFlow::<()>::Continue(())
    });
    calls
}

/// Whether some call of `a` and some call of `b` would have the same name in one
/// aggregate though they compute different things.
pub(super) fn collide(a: &[AggregateCall], b: &[AggregateCall]) -> bool {
    a.iter().any(|x| {
        b.iter()
            .any(|y| x.named == y.named && x.written != y.written)
    })
}

/// `expr` with each cast replaced by what it casts.
fn without_casts(expr: &Expr) -> Expr {
    let mut expr = expr.clone();
    let _ = visit_expressions_mut(&mut expr, |e| {
        while let Expr::Cast { expr: inner, .. } = e {
            *e = (**inner).clone();
        }
        ControlFlow::<()>::Continue(())
    });
    expr
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn calls(sql: &str) -> Vec<AggregateCall> {
        let expr = Parser::new(&GenericDialect {})
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_expr())
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        aggregate_calls(&expr, |name| {
            ["min", "max", "sum"].contains(&name.to_string().to_lowercase().as_str())
        })
    }

    #[test]
    fn casts_inside_aggregates_collide() {
        let plain = calls("datediff(day, date(min(ts)), date('2024-01-01'))");
        let cast = calls("min(ts::date)");
        assert!(collide(&plain, &cast));
        assert!(collide(&calls("max(CAST(a AS INT))"), &calls("max(a) + 1")));
        // The same call twice is one aggregate; other columns or functions differ.
        assert!(!collide(&plain, &calls("MIN(ts) - 1")));
        assert!(!collide(&cast, &calls("min(other::date)")));
        assert!(!collide(&cast, &calls("max(ts)")));
        // A cast outside the aggregate is no part of its name.
        assert!(!collide(&calls("CAST(min(ts) AS DATE)"), &calls("min(ts)")));
        // Window calls are not aggregates of the GROUP BY.
        assert!(calls("min(ts::date) OVER (PARTITION BY k)").is_empty());
    }
}
