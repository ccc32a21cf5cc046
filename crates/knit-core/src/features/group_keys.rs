// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! What keeps two vars of one input out of one `GROUP BY`: the arguments of their
//! `DISTINCT` aggregates, and the orderings their aggregates require of their rows.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    DuplicateTreatment, Expr, FunctionArgumentClause, FunctionArguments, visit_expressions,
};

/// The arguments of the `DISTINCT` aggregates of an expression, other than the
/// `count(DISTINCT x)` that the composer rewrites to Knit's own (`sum(DISTINCT x)`).
///
/// DataFusion computes a `GROUP BY` whose aggregates are all `DISTINCT` over one
/// argument (besides plain sum, min and max) by grouping on that argument first. Any
/// other mix falls back to a hash set per group and entity, several times slower and
/// taking many times the memory it reports to the pool. So vars with such aggregates
/// aggregate in a `GROUP BY` of their own per distinct argument, apart from the other
/// vars of their input.
pub(super) fn distinct_arguments(expr: &Expr) -> Option<String> {
    let mut found = BTreeSet::new();
    let _ = visit_expressions(expr, |e| {
        if let Expr::Function(function) = e
            && let FunctionArguments::List(list) = &function.args
            && list.duplicate_treatment == Some(DuplicateTreatment::Distinct)
        {
            let args: Vec<String> = list.args.iter().map(ToString::to_string).collect();
            found.insert(args.join(", "));
        }
        ControlFlow::<()>::Continue(())
    });
    (!found.is_empty()).then(|| found.into_iter().collect::<Vec<_>>().join("; "))
}

/// Aggregates that read their rows in any order and sort them themselves, so that two
/// of them ordered differently share a `GROUP BY`.
const SELF_ORDERING: [&str; 3] = ["first_value", "last_value", "array_agg"];

/// The orderings the aggregates of an expression require of their rows
/// (`string_agg(x, ',' ORDER BY t)`, `listagg(x) WITHIN GROUP (ORDER BY t)`).
///
/// DataFusion feeds one `GROUP BY`'s rows to its aggregates in one order, and refuses
/// ("Conflicting ordering requirements in aggregate functions") aggregates that require
/// two. So vars that require different orderings aggregate apart; a var that requires
/// none goes with any.
pub(super) fn hard_orderings(expr: &Expr) -> Option<String> {
    let mut found = BTreeSet::new();
    let _ = visit_expressions(expr, |e| {
        if let Expr::Function(function) = e {
            let name = function.name.to_string();
            if SELF_ORDERING.iter().any(|n| name.eq_ignore_ascii_case(n)) {
                return ControlFlow::<()>::Continue(());
            }
            let mut order_by: Vec<String> = function
                .within_group
                .iter()
                .map(ToString::to_string)
                .collect();
            if let FunctionArguments::List(list) = &function.args {
                for clause in &list.clauses {
                    if let FunctionArgumentClause::OrderBy(items) = clause {
                        order_by.extend(items.iter().map(ToString::to_string));
                    }
                }
            }
            if !order_by.is_empty() {
                found.insert(order_by.join(", "));
            }
        }
        ControlFlow::<()>::Continue(())
    });
    (!found.is_empty()).then(|| found.into_iter().collect::<Vec<_>>().join("; "))
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn parsed(sql: &str) -> Expr {
        Parser::new(&GenericDialect {})
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_expr())
            .unwrap()
    }

    #[test]
    fn distinct_arguments_name_each_distinct_aggregate() {
        let args = |sql: &str| distinct_arguments(&parsed(sql));
        assert_eq!(args("count(*) + sum(x)"), None);
        assert_eq!(args("count(DISTINCT a)").as_deref(), Some("a"));
        assert_eq!(
            args("sum(DISTINCT CAST(ts AS DATE)) * 2 + avg(DISTINCT a)").as_deref(),
            Some("CAST(ts AS DATE); a")
        );
    }

    #[test]
    fn hard_orderings_name_what_string_aggregates_are_ordered_by() {
        let orderings = |sql: &str| hard_orderings(&parsed(sql));
        assert_eq!(orderings("count(*) + max(x)"), None);
        assert_eq!(
            orderings("string_agg(a, ',' ORDER BY t DESC)").as_deref(),
            Some("t DESC")
        );
        assert_eq!(
            orderings("listagg(a, ',') WITHIN GROUP (ORDER BY a, t)").as_deref(),
            Some("a, t")
        );
        // The aggregates that order their own rows require nothing.
        assert_eq!(
            orderings(
                "first_value(a ORDER BY t) || LAST_VALUE(b ORDER BY u) || array_agg(c ORDER BY c)"
            ),
            None
        );
    }
}
