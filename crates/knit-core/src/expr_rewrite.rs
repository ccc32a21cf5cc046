// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Rewriting every expression of a logical plan, as Knit's analyzer rules do: each
//! node's expressions bottom-up, subqueries included, with the names a node shows kept
//! as written (so that `SELECT x::int` is still the column `x`).

use datafusion::common::DFSchema;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::error::Result;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Expr, LogicalPlan};

/// `plan` with each of its expressions (and each one's parts) passed through `rewrite`,
/// which is also given the schema the expression reads. The rewrite keeps each
/// expression's type.
pub(crate) fn rewrite_expressions(
    plan: LogicalPlan,
    rewrite: impl Fn(Expr, &DFSchema) -> Transformed<Expr>,
) -> Result<LogicalPlan> {
    rewrite_each_node(plan, rewrite, false)
}

/// [`rewrite_expressions`] for a rewrite that may change types: once a node changes,
/// every node after it in the walk (its ancestors among them) derives its schema again.
pub(crate) fn rewrite_expression_types(
    plan: LogicalPlan,
    rewrite: impl Fn(Expr, &DFSchema) -> Transformed<Expr>,
) -> Result<LogicalPlan> {
    rewrite_each_node(plan, rewrite, true)
}

fn rewrite_each_node(
    plan: LogicalPlan,
    rewrite: impl Fn(Expr, &DFSchema) -> Transformed<Expr>,
    types_change: bool,
) -> Result<LogicalPlan> {
    let mut changed = false;
    plan.transform_up_with_subqueries(|plan| {
        // Expressions read the columns of the node's inputs (a scan's, its own).
        let schema = if plan.inputs().is_empty() {
            plan.schema().as_ref().clone()
        } else {
            merge_schema(&plan.inputs())
        };
        let names = NamePreserver::new(&plan);
        let plan = plan.map_expressions(|expr| {
            let saved = names.save(&expr);
            let rewritten = expr.transform_up(|e| Ok(rewrite(e, &schema)))?;
            Ok(if rewritten.transformed {
                rewritten.update_data(|e| saved.restore(e))
            } else {
                rewritten
            })
        })?;
        changed |= plan.transformed;
        if types_change && changed {
            plan.map_data(LogicalPlan::recompute_schema)
        } else {
            Ok(plan)
        }
    })
    .data()
}
