// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A `CASE` whose conditions call a volatile function (`random()`) evaluates each
//! condition once per row, and is nullable whenever a branch gives NULL.
//!
//! pb projects write `case when RANDOM() > 0.99 then NULL when d <= 7 then TRUE else
//! FALSE end` (RudderStack's own feature tests do). DataFusion mistreats such a searched
//! `CASE` twice:
//! - its simplifier rewrites a boolean `CASE` into `AND`s and `OR`s that repeat each
//!   condition, so `random()` is drawn twice for one row and the row can come out
//!   `false` where no branch gives it;
//! - a physical `CASE` decides whether it can be NULL by evaluating each condition whose
//!   branch can be NULL once, on a row without columns: one draw of `random() > 0.99`
//!   says the branch is never taken, the column is declared NOT NULL, and the query
//!   fails on the NULLs it does give ("declared as non-nullable but contains null
//!   values"), or when a later pass draws again ("schema field unallowed change").
//!
//! Neither touches a `CASE` with an operand. [`VolatileCaseOnce`] is an analyzer rule,
//! run after type coercion, that writes every searched `CASE` with a volatile condition
//! as `CASE c1 WHEN TRUE THEN r1 ELSE CASE c2 WHEN TRUE THEN r2 ELSE ... END END`: a
//! condition that is NULL or false falls through to the next, as in the searched form,
//! each condition is evaluated once, and each branch counts as reachable.

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::error::Result;
use datafusion::logical_expr::{Case, Expr, LogicalPlan, lit};
use datafusion::optimizer::AnalyzerRule;

use crate::expr_rewrite::rewrite_expressions;

/// Writes searched `CASE`s with volatile conditions with operands (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct VolatileCaseOnce;

impl AnalyzerRule for VolatileCaseOnce {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, |expr, _| with_operands(expr))
    }

    fn name(&self) -> &str {
        "knit_volatile_case_once"
    }
}

/// `expr`, written with operands if it is a searched `CASE` with a volatile condition.
fn with_operands(expr: Expr) -> Transformed<Expr> {
    let Expr::Case(case) = expr else {
        return Transformed::no(expr);
    };
    if case.expr.is_some()
        || !case
            .when_then_expr
            .iter()
            .any(|(when, _)| when.is_volatile())
    {
        return Transformed::no(Expr::Case(case));
    }
    // From the last condition back, each one's CASE is the ELSE of the one before.
    let mut whens = case.when_then_expr;
    let Some((when, then)) = whens.pop() else {
        return Transformed::no(Expr::Case(Case::new(None, whens, case.else_expr)));
    };
    let mut rewritten = Expr::Case(Case::new(
        Some(when),
        vec![(Box::new(lit(true)), then)],
        case.else_expr,
    ));
    for (when, then) in whens.into_iter().rev() {
        rewritten = Expr::Case(Case::new(
            Some(when),
            vec![(Box::new(lit(true)), then)],
            Some(Box::new(rewritten)),
        ));
    }
    Transformed::yes(rewritten)
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{col, when};
    use datafusion::prelude::random;

    use super::*;

    #[test]
    fn volatile_conditions_get_operands_and_keep_their_order() {
        let case = when(random().gt(lit(0.99)), lit(true))
            .when(col("d").lt_eq(lit(7)), lit(false))
            .otherwise(lit(true))
            .unwrap_or_else(|e| panic!("{e}"));
        let rewritten = with_operands(case);
        assert!(rewritten.transformed);
        assert_eq!(
            rewritten.data.to_string(),
            "CASE random() > Float64(0.99) WHEN Boolean(true) THEN Boolean(true) ELSE \
             CASE d <= Int32(7) WHEN Boolean(true) THEN Boolean(false) ELSE Boolean(true) END END"
        );
    }

    #[test]
    fn other_cases_stay() {
        let case = when(col("d").lt_eq(lit(7)), random())
            .end()
            .unwrap_or_else(|e| panic!("{e}"));
        let rewritten = with_operands(case.clone());
        assert!(!rewritten.transformed);
        assert_eq!(rewritten.data, case);
    }
}
