// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `x BETWEEN low AND high` evaluates `x` once per row, also when `x` calls a volatile
//! function: `random() BETWEEN 0.25 AND 0.75` holds for half of the rows, as in a
//! warehouse.
//!
//! DataFusion's simplifier writes `BETWEEN` as `x >= low AND x <= high`, which draws a
//! volatile `x` twice: the condition above then held for 56% of rows (0.75 x 0.75).
//! [`VolatileBetweenOnce`] is an analyzer rule, run after type coercion, that writes such
//! a `BETWEEN` as one call of `knit_between(x, low, high)` (`NOT` of it for `NOT
//! BETWEEN`), which the simplifier leaves whole. A `BETWEEN` whose `x` is not volatile
//! stays as it is, for the simplifier and the scans' pruning.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::error::Result;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{Between, Expr, LogicalPlan, ScalarUDF};
use datafusion::optimizer::AnalyzerRule;

use crate::expr_rewrite::rewrite_expressions;
use crate::functions::between_once::BetweenOnce;

/// Writes `BETWEEN`s of volatile values as one function call (see the module doc).
#[derive(Debug)]
pub(crate) struct VolatileBetweenOnce {
    function: Arc<ScalarUDF>,
}

impl Default for VolatileBetweenOnce {
    fn default() -> Self {
        Self {
            function: Arc::new(ScalarUDF::from(BetweenOnce::new())),
        }
    }
}

impl AnalyzerRule for VolatileBetweenOnce {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, |expr, _| self.once(expr))
    }

    fn name(&self) -> &str {
        "knit_volatile_between_once"
    }
}

impl VolatileBetweenOnce {
    /// `expr`, as a call if it is a `BETWEEN` of a volatile value.
    fn once(&self, expr: Expr) -> Transformed<Expr> {
        match expr {
            Expr::Between(Between {
                expr,
                negated,
                low,
                high,
            }) if expr.is_volatile() => {
                let call = Expr::ScalarFunction(ScalarFunction::new_udf(
                    Arc::clone(&self.function),
                    vec![*expr, *low, *high],
                ));
                Transformed::yes(if negated {
                    Expr::Not(Box::new(call))
                } else {
                    call
                })
            }
            other => Transformed::no(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{col, lit};
    use datafusion::prelude::random;

    use super::*;

    #[test]
    fn volatile_values_are_compared_once() {
        let rule = VolatileBetweenOnce::default();
        let between = random().between(lit(0.25), lit(0.75));
        let rewritten = rule.once(between);
        assert!(rewritten.transformed);
        assert_eq!(
            rewritten.data.to_string(),
            "knit_between(random(), Float64(0.25), Float64(0.75))"
        );
        let rewritten = rule.once(random().not_between(lit(0.25), lit(0.75)));
        assert_eq!(
            rewritten.data.to_string(),
            "NOT knit_between(random(), Float64(0.25), Float64(0.75))"
        );
        let stays = col("x").between(random(), lit(0.75));
        let rewritten = rule.once(stays.clone());
        assert!(!rewritten.transformed);
        assert_eq!(rewritten.data, stays);
    }
}
