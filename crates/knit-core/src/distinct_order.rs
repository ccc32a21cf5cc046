// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Arrays of distinct values come out sorted, as PostgreSQL's do.
//!
//! `array_agg(DISTINCT x)` without an `ORDER BY` lists its values in no set order:
//! DataFusion's come in the order of its hash set, which changes with the order rows
//! arrive in, so two runs over the same rows (or a refresh and a full run) could write
//! one customer's list two ways. PostgreSQL, pb's warehouse in the oracle, sorts the
//! values to find the distinct ones and lists them in that order (`{11,12,13}`);
//! Snowflake leaves the order open, so sorted is one of its answers too.
//! [`SortedDistinctArrays`] gives such a call the `ORDER BY` of its value, ascending with
//! NULLs last, as PostgreSQL sorts. DataFusion sorts a distinct array itself, asking
//! nothing of the rows' order, so the call can share a `GROUP BY` with aggregates
//! ordered otherwise. `string_agg(DISTINCT x, ',')` (`listagg`) is left as it is: its
//! `ORDER BY` is an order the rows must come in, and two of them ordered by different
//! values cannot share one `GROUP BY` in DataFusion 55.

use datafusion::common::DFSchema;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan, SortExpr};
use datafusion::optimizer::AnalyzerRule;

use crate::expr_rewrite::rewrite_expressions;

/// Orders the arrays of distinct values (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct SortedDistinctArrays;

impl AnalyzerRule for SortedDistinctArrays {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, sorted)
    }

    fn name(&self) -> &str {
        "knit_sorted_distinct_arrays"
    }
}

/// `expr`, ordered by its value if it is an `array_agg` of distinct values in no order.
fn sorted(expr: Expr, _schema: &DFSchema) -> Transformed<Expr> {
    let Expr::AggregateFunction(mut aggregate) = expr else {
        return Transformed::no(expr);
    };
    let params = &mut aggregate.params;
    let is_array = aggregate.func.name() == "array_agg";
    match params.args.first() {
        Some(value) if is_array && params.distinct && params.order_by.is_empty() => {
            params.order_by = vec![SortExpr::new(value.clone(), true, false)];
            Transformed::yes(Expr::AggregateFunction(aggregate))
        }
        _ => Transformed::no(Expr::AggregateFunction(aggregate)),
    }
}
