// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Integer arithmetic that fails on overflow, as PostgreSQL's does, instead of wrapping
//! around as DataFusion's does by default (`9223372036854775807 + 1` would be a large
//! negative number: a silent wrong answer in a var or a cohort).
//!
//! [`CheckedArithmetic`] is a physical optimizer rule, run last: it marks every `+`,
//! `-` and `*` of the plan's projections and filters as checked, so that an overflow
//! fails the query with arrow's "Arithmetic overflow" error (the error report says how
//! to widen the values). Aggregates' sums are checked by the `sum` Knit registers
//! ([`crate::functions`]). Arithmetic on literals alone is folded by DataFusion while
//! planning, before this rule, and stays unchecked.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::error::Result;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};

/// Marks the arithmetic of projections and filters as checked (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct CheckedArithmetic;

/// `expr` with each `+`, `-` and `*` checked.
fn checked(expr: &Arc<dyn PhysicalExpr>) -> Result<Arc<dyn PhysicalExpr>> {
    Arc::clone(expr)
        .transform_up(|e| {
            let Some(binary) = e.downcast_ref::<BinaryExpr>() else {
                return Ok(Transformed::no(e));
            };
            if !matches!(
                binary.op(),
                Operator::Plus | Operator::Minus | Operator::Multiply
            ) {
                return Ok(Transformed::no(e));
            }
            let checked = BinaryExpr::new(
                Arc::clone(binary.left()),
                *binary.op(),
                Arc::clone(binary.right()),
            )
            .with_fail_on_overflow(true);
            Ok(Transformed::yes(Arc::new(checked) as Arc<dyn PhysicalExpr>))
        })
        .data()
}

/// True when `expr` has arithmetic to check.
fn has_arithmetic(expr: &Arc<dyn PhysicalExpr>) -> bool {
    let mut found = false;
    let _ = expr.apply(|e| {
        if let Some(binary) = e.downcast_ref::<BinaryExpr>()
            && matches!(
                binary.op(),
                Operator::Plus | Operator::Minus | Operator::Multiply
            )
        {
            found = true;
        }
        Ok(if found {
            datafusion::common::tree_node::TreeNodeRecursion::Stop
        } else {
            datafusion::common::tree_node::TreeNodeRecursion::Continue
        })
    });
    found
}

impl PhysicalOptimizerRule for CheckedArithmetic {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if let Some(projection) = node.downcast_ref::<ProjectionExec>()
                && projection.expr().iter().any(|p| has_arithmetic(&p.expr))
            {
                let exprs = projection
                    .expr()
                    .iter()
                    .map(|p| Ok(ProjectionExpr::new(checked(&p.expr)?, p.alias.clone())))
                    .collect::<Result<Vec<_>>>()?;
                let rebuilt = ProjectionExec::try_new(exprs, Arc::clone(projection.input()))?;
                return Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>));
            }
            if let Some(filter) = node.downcast_ref::<FilterExec>()
                && has_arithmetic(filter.predicate())
            {
                let rebuilt = FilterExecBuilder::from(filter)
                    .with_predicate(checked(filter.predicate())?)
                    .build()?;
                return Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>));
            }
            Ok(Transformed::no(node))
        })
        .data()
    }

    fn name(&self) -> &str {
        "checked_arithmetic"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
